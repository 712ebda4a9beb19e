-- One query level, not an `expanded` CTE and a final select: a query with
-- set-returning functions is never flattened into the one that reads it, so
-- each level is one more copy of every position (0.8 s a recording of 2.5 M).

with

trajectories as (

    select * from {{ ref('stg_pneuma__trajectories') }}

)

-- Set-returning functions in the select list advance in lockstep, one row per
-- array element, without the tuplestore that unnest(...) in FROM fills (a
-- third faster). The arrays shifted by one frame give each position its
-- predecessor without a window function over millions of rows. Only the columns
-- the positions need: every function here runs for every position, read or not
-- (the stops expand the speeds' neighbours themselves).
select
    recording_id,
    track_id,
    generate_series(0, n_positions - 1) as frame_index,
    unnest(time_s) as time_s,
    unnest(lat) as lat,
    unnest(lon) as lon,
    unnest(speed_kmh) as speed_kmh,
    unnest(lon_acc_ms2) as lon_acc_ms2,
    unnest(lat_acc_ms2) as lat_acc_ms2,
    unnest({{ previous_elements('time_s', 'n_positions') }}) as previous_time_s,
    unnest({{ previous_elements('lat', 'n_positions') }}) as previous_lat,
    unnest({{ previous_elements('lon', 'n_positions') }}) as previous_lon
from trajectories
