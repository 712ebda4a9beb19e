with

recordings as (

    select * from {{ ref('stg_pneuma__recordings') }}

),

vehicles as (

    select * from {{ ref('stg_pneuma__vehicles') }}

),

trajectories as (

    select * from {{ ref('stg_pneuma__trajectories') }}

),

vehicle_counts as (

    select
        recording_id,
        count(*)::integer as n_vehicles
    from vehicles
    group by recording_id

),

position_counts as (

    select
        recording_id,
        sum(n_positions)::bigint as n_positions
    from trajectories
    group by recording_id

),

final as (

    select
        ---------- ids
        recordings.recording_id,

        ---------- strings
        recordings.source_uri,
        recordings.layout,

        ---------- numerics
        recordings.drone,
        coalesce(vehicle_counts.n_vehicles, 0) as n_vehicles,
        coalesce(position_counts.n_positions, 0) as n_positions,
        recordings.n_invalid_rows,
        recordings.file_size_bytes,

        ---------- booleans
        recordings.recording_start_at is not null as has_nominal_start,

        ---------- dates and local times of day
        recordings.recorded_on,
        recordings.window_start_local,
        recordings.window_end_local,

        ---------- timestamps
        recordings.recording_start_at,
        recordings.recording_end_at,
        -- a file outside the naming scheme (e.g. sample.csv) has no start:
        -- its positions are placed on a timeline starting at the Unix epoch
        coalesce(
            recordings.recording_start_at, timestamptz '1970-01-01 00:00:00+00'
        ) as timeline_origin_at,
        recordings.file_modified_at,
        recordings.source_modified_at

    from recordings
    left join vehicle_counts
        on recordings.recording_id = vehicle_counts.recording_id
    left join position_counts
        on recordings.recording_id = position_counts.recording_id

)

select * from final
