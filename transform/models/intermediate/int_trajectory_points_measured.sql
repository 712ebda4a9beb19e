-- One select, no CTEs: PostgreSQL never flattens a view with a WITH into the
-- query that reads it, and that extra level copies every position.

select
    recording_id,
    track_id,
    frame_index,
    time_s,
    lat,
    lon,
    speed_kmh,
    lon_acc_ms2,
    lat_acc_ms2,
    -- rounded to ms, mm and 0.01 degree: finer than the files' 6-decimal positions
    {{ round_float('time_s - previous_time_s', 3) }} as step_time_s,
    {{ round_float(haversine_distance_m('previous_lat', 'previous_lon', 'lat', 'lon'), 3) }}
        as step_distance_m,
    {{ round_float(initial_bearing_deg('previous_lat', 'previous_lon', 'lat', 'lon'), 2) }}
        as heading_deg

from {{ ref('int_trajectory_points_expanded') }}
