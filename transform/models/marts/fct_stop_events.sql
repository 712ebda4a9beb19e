-- Partitioned by recording; published with the points (built after them, and
-- only for a recording whose points are published).
-- On the two point shards themselves, not on the view over them: one level
-- earlier in dbt's queue (it runs the lowest depth first, then by name), so the
-- chain stops -> trips starts before the grid and the crossings, not after.
-- depends_on: {{ ref('fct_trajectory_points_packed') }}
-- depends_on: {{ ref('fct_trajectory_points_packed__shard_1') }}
-- depends_on: {{ ref('stg_pneuma__vehicles') }} (audits)

with

stops as (

    select * from {{ ref('int_vehicle_stops_detected') }}

),

recordings as (

    select * from {{ ref('stg_pneuma__recordings') }}

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
        recordings.timeline_origin_at + stops.end_time_s * interval '1 second' as ended_at

    from stops
    inner join recordings
        on stops.recording_id = recordings.recording_id

)

select * from final
