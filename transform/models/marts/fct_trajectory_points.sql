-- depends_on: {{ ref('stg_pneuma__recordings') }} (changed_recordings_query)

with

points as (

    select * from {{ ref('int_trajectory_points_measured') }}
    {{ where_recording_changed() }}

),

recordings as (

    select * from {{ ref('dim_recordings') }}

),

final as (

    select
        ---------- ids
        points.recording_id,
        points.track_id,
        points.frame_index,

        ---------- numerics
        points.time_s,
        points.lat,
        points.lon,
        points.speed_kmh,
        points.lon_acc_ms2,
        points.lat_acc_ms2,
        points.step_time_s,
        points.step_distance_m,
        points.heading_deg,

        ---------- timestamps
        recordings.timeline_origin_at + points.time_s * interval '1 second' as observed_at,
        recordings.source_modified_at,

        ---------- audit
        {{ dbt_invocation_id_column() }}

    from points
    inner join recordings
        on points.recording_id = recordings.recording_id

)

select * from final
