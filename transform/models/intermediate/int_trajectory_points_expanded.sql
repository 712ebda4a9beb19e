with

trajectories as (

    select * from {{ ref('stg_pneuma__trajectories') }}

),

expanded as (

    -- the arrays shifted by one frame give each position its predecessor
    -- without a window function over millions of rows
    select
        trajectories.recording_id,
        trajectories.track_id,
        (positions.frame_number - 1)::integer as frame_index,
        positions.time_s,
        positions.lat,
        positions.lon,
        positions.speed_kmh,
        positions.lon_acc_ms2,
        positions.lat_acc_ms2,
        positions.previous_time_s,
        positions.previous_lat,
        positions.previous_lon

    from trajectories
    cross join lateral unnest(
        trajectories.time_s,
        trajectories.lat,
        trajectories.lon,
        trajectories.speed_kmh,
        trajectories.lon_acc_ms2,
        trajectories.lat_acc_ms2,
        array_prepend(null::double precision, trajectories.time_s[1:trajectories.n_positions - 1]),
        array_prepend(null::double precision, trajectories.lat[1:trajectories.n_positions - 1]),
        array_prepend(null::double precision, trajectories.lon[1:trajectories.n_positions - 1])
    ) with ordinality as positions (
        time_s,
        lat,
        lon,
        speed_kmh,
        lon_acc_ms2,
        lat_acc_ms2,
        previous_time_s,
        previous_lat,
        previous_lon,
        frame_number
    )

)

select * from expanded
