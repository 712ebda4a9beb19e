-- for the pre-hook, the materialization and the audits:
-- depends_on: {{ ref('virtual_detectors') }}
-- depends_on: {{ ref('stg_pneuma__vehicles') }}
-- depends_on: {{ ref('stg_pneuma__recordings') }}
-- Partitioned by recording (dbt_project.yml): built one recording at a time.

with

crossings as (

    -- this recording's only: legs below is read twice, so PostgreSQL
    -- materialises it and the materialization's filter cannot reach here
    select * from {{ ref('fct_detector_crossings') }}
    where recording_key = {{ current_recording_key() }}

),

sequenced as (

    -- each crossing of a vehicle with its next one, in time
    select
        recording_key,
        recording_id,
        track_id,
        vehicle_type,
        detector_id as from_detector_id,
        frame_index as departed_frame_index,
        step_fraction as departed_step_fraction,
        time_s as departed_time_s,
        crossed_at as departed_at,
        lead(detector_id) over vehicle_crossings as to_detector_id,
        lead(frame_index) over vehicle_crossings as arrived_frame_index,
        lead(step_fraction) over vehicle_crossings as arrived_step_fraction,
        lead(time_s) over vehicle_crossings as arrived_time_s,
        lead(crossed_at) over vehicle_crossings as arrived_at
    from crossings
    window vehicle_crossings as (
        partition by recording_key, track_id order by time_s, detector_id
    )

),

legs as (

    -- consecutive crossings of two different detectors (a vehicle that
    -- crosses a detector again before the next one has its leg from the
    -- last of those crossings)
    select * from sequenced
    where to_detector_id != from_detector_id

),

path_lengths as (

    -- the path between the two crossings: the rest of the departure's step,
    -- every step in between, the start of the arrival's (of a single step
    -- when both crossings are in the same one). One pass over this
    -- recording's points, joined on the vehicle (a probe of the points per
    -- leg cost a few milliseconds each)
    select
        legs.track_id,
        legs.from_detector_id,
        legs.departed_frame_index,
        sum(points.step_distance_m * (
            1
            - case
                when points.frame_index = legs.departed_frame_index
                    then legs.departed_step_fraction
                else 0
            end
            - case
                when points.frame_index = legs.arrived_frame_index
                    then 1 - legs.arrived_step_fraction
                else 0
            end
        )) as path_length_m  -- null (no distance) becomes 0 in final
    from legs
    inner join {{ ref('fct_trajectory_points') }} as points
        on legs.track_id = points.track_id
        and points.frame_index between legs.departed_frame_index and legs.arrived_frame_index
    where points.recording_key = {{ current_recording_key() }}
    group by legs.track_id, legs.from_detector_id, legs.departed_frame_index

),

final as (

    select
        ---------- ids
        legs.recording_key,
        legs.recording_id,
        legs.track_id,
        legs.from_detector_id,
        legs.to_detector_id,
        legs.departed_frame_index,
        legs.arrived_frame_index,

        ---------- strings
        legs.vehicle_type,

        ---------- numerics
        legs.arrived_time_s - legs.departed_time_s as travel_time_s,
        {{ round_float('coalesce(path_lengths.path_length_m, 0)', 3) }} as path_length_m,

        ---------- timestamps
        legs.departed_at,
        legs.arrived_at

    from legs
    left join path_lengths
        on legs.track_id = path_lengths.track_id
        and legs.from_detector_id = path_lengths.from_detector_id
        and legs.departed_frame_index = path_lengths.departed_frame_index

)

select * from final
