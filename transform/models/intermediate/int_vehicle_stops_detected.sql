with

trajectories as (

    select * from {{ ref('stg_pneuma__trajectories') }}

),

speeds as (

    -- Only the speeds with their neighbours, not int_trajectory_points_expanded:
    -- a set-returning function in the select list runs for every output row,
    -- so its ten would cost two and a half times these four. The vehicle's
    -- arrays ride along (unexpanded) for the few boundary rows below.
    select
        recording_id,
        track_id,
        time_s,
        lat,
        lon,
        generate_series(0, n_positions - 1) as frame_index,
        unnest(speed_kmh) as speed_kmh,
        unnest({{ previous_elements('speed_kmh', 'n_positions') }}) as previous_speed_kmh,
        unnest({{ next_elements('speed_kmh', 'n_positions') }}) as next_speed_kmh
    from trajectories

),

run_boundaries as (

    -- Gaps and islands without sorting every position: an island (a run of
    -- slow frames) starts where the previous frame was not slow and ends
    -- where the next one is not; only these few boundary rows go on.
    select
        recording_id,
        track_id,
        frame_index,
        time_s[frame_index + 1] as time_s,
        lat[frame_index + 1] as lat,
        lon[frame_index + 1] as lon,
        coalesce(previous_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
            as is_run_start,
        coalesce(next_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
            as is_run_end
    from speeds
    where
        speed_kmh < {{ var('stop_speed_threshold_kmh') }}
        and (
            coalesce(previous_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
            or coalesce(next_speed_kmh >= {{ var('stop_speed_threshold_kmh') }}, true)
        )

),

runs_paired as (

    -- boundaries alternate start, end, start, end... within a vehicle (a
    -- single slow frame is both): a run ends at its start frame or at the
    -- next boundary. One reference to run_boundaries keeps it inlined, so
    -- a filter on recording_id still reaches the raw rows.
    select
        recording_id,
        track_id,
        is_run_start,
        frame_index as start_frame_index,
        time_s as start_time_s,
        lat,
        lon,
        case
            when is_run_end then frame_index
            else lead(frame_index) over vehicle_boundaries
        end as end_frame_index,
        case
            when is_run_end then time_s
            else lead(time_s) over vehicle_boundaries
        end as end_time_s
    from run_boundaries
    window vehicle_boundaries as (
        partition by recording_id, track_id order by frame_index
    )

),

runs as (

    select
        recording_id,
        track_id,
        start_frame_index,
        end_frame_index,
        (end_frame_index - start_frame_index + 1)::integer as n_positions,
        start_time_s,
        end_time_s,
        {{ round_float('end_time_s - start_time_s', 3) }} as duration_s,
        lat,
        lon
    from runs_paired
    where is_run_start

),

stops as (

    select * from runs
    where duration_s >= {{ var('stop_min_duration_s') }}

)

select * from stops
