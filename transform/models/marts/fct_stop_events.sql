-- depends_on: {{ ref('stg_pneuma__recordings') }} (changed_recordings_query)

with

stops as (

    select * from {{ ref('int_vehicle_stops_detected') }}
    {{ where_recording_changed() }}

),

recordings as (

    select * from {{ ref('dim_recordings') }}

),

final as (

    select
        ---------- ids
        stops.recording_id,
        stops.track_id,
        stops.recording_id || '/' || stops.track_id::text as vehicle_id,
        stops.start_frame_index,
        stops.end_frame_index,

        ---------- numerics
        row_number() over (
            partition by stops.recording_id, stops.track_id
            order by stops.start_frame_index
        )::integer as stop_number,
        stops.n_positions,
        stops.start_time_s,
        stops.end_time_s,
        stops.duration_s,
        stops.lat,
        stops.lon,

        ---------- timestamps
        recordings.timeline_origin_at + stops.start_time_s * interval '1 second' as started_at,
        recordings.timeline_origin_at + stops.end_time_s * interval '1 second' as ended_at,
        recordings.source_modified_at,

        ---------- audit
        {{ dbt_invocation_id_column() }}

    from stops
    inner join recordings
        on stops.recording_id = recordings.recording_id

)

select * from final
