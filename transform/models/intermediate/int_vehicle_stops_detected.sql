with

points as (

    select * from {{ ref('int_trajectory_points_expanded') }}

),

run_boundaries as (

    -- Gaps and islands without sorting every position: an island (a run of
    -- slow frames) starts where the previous frame was not slow and ends
    -- where the next one is not; only these few boundary rows go on.
    select
        recording_id,
        track_id,
        frame_index,
        time_s,
        lat,
        lon,
        coalesce(previous_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
            as is_run_start,
        coalesce(next_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
            as is_run_end
    from points
    where
        speed_kmh < {{ var('stop_speed_threshold_kmh') }}
        and (
            coalesce(previous_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
            or coalesce(next_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
        )

),

run_starts as (

    select
        *,
        row_number() over (
            partition by recording_id, track_id order by frame_index
        ) as run_number
    from run_boundaries
    where is_run_start

),

run_ends as (

    select
        *,
        row_number() over (
            partition by recording_id, track_id order by frame_index
        ) as run_number
    from run_boundaries
    where is_run_end

),

runs as (

    -- the n-th start of a vehicle pairs with its n-th end
    select
        run_starts.recording_id,
        run_starts.track_id,
        run_starts.frame_index as start_frame_index,
        run_ends.frame_index as end_frame_index,
        (run_ends.frame_index - run_starts.frame_index + 1)::integer as n_positions,
        run_starts.time_s as start_time_s,
        run_ends.time_s as end_time_s,
        {{ round_float('run_ends.time_s - run_starts.time_s', 3) }} as duration_s,
        run_starts.lat,
        run_starts.lon
    from run_starts
    inner join run_ends
        on run_starts.recording_id = run_ends.recording_id
        and run_starts.track_id = run_ends.track_id
        and run_starts.run_number = run_ends.run_number

),

stops as (

    select * from runs
    where duration_s >= {{ var('stop_min_duration_s') }}

)

select * from stops
