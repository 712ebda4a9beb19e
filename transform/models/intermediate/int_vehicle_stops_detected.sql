with

points as (

    select * from {{ ref('int_trajectory_points_expanded') }}

),

slow_points as (

    select
        recording_id,
        track_id,
        frame_index,
        time_s,
        lat,
        lon
    from points
    where speed_kmh < {{ var('stop_speed_threshold_kmh') }}

),

islands as (

    -- gaps and islands: consecutive slow frames share frame_index - rank
    select
        *,
        frame_index - row_number() over (
            partition by recording_id, track_id order by frame_index
        ) as island_id
    from slow_points

),

stops as (

    select
        recording_id,
        track_id,
        min(frame_index) as start_frame_index,
        max(frame_index) as end_frame_index,
        count(*)::integer as n_positions,
        min(time_s) as start_time_s,
        max(time_s) as end_time_s,
        {{ round_float('max(time_s) - min(time_s)', 3) }} as duration_s,
        avg(lat) as lat,
        avg(lon) as lon
    from islands
    group by recording_id, track_id, island_id

),

long_enough as (

    select * from stops
    where duration_s >= {{ var('stop_min_duration_s') }}

)

select * from long_enough
