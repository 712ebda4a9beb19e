-- depends_on: {{ ref('virtual_detectors') }} (pre-hook, audits)
-- Partitioned by recording (dbt_project.yml): built one recording at a time.

with

crossings as (

    select * from {{ ref('fct_detector_crossings') }}

),

recordings as (

    select * from {{ ref('stg_pneuma__recordings') }}

),

bins as (

    select
        detector_id,
        recording_key,
        recording_id,
        floor(time_s / {{ var('time_bin_s') }})::integer as time_bin_index,
        direction,
        vehicle_type,
        count(*)::integer as vehicles,
        avg(speed_kmh) as time_mean_speed_kmh,
        -- the harmonic mean; a crossing at speed 0 makes it 0 (its limit)
        case
            when min(speed_kmh) > 0 then count(*) / sum(1.0 / nullif(speed_kmh, 0))
            else 0.0
        end as space_mean_speed_kmh,
        -- the mean of the gaps between consecutive crossings telescopes to
        -- (last - first) / (n - 1)
        case
            when count(*) > 1 then (max(time_s) - min(time_s)) / (count(*) - 1)
        end as mean_headway_s,
        min(crossed_at) as first_crossed_at,
        max(crossed_at) as last_crossed_at
    from crossings
    group by detector_id, recording_key, recording_id, time_bin_index, direction, vehicle_type

),

final as (

    select
        ---------- ids
        bins.detector_id,
        bins.recording_key,
        bins.recording_id,
        bins.time_bin_index,
        bins.direction,

        ---------- strings
        bins.vehicle_type,

        ---------- numerics
        bins.vehicles,
        bins.vehicles * 3600.0::double precision / {{ var('time_bin_s') }} as flow_veh_per_h,
        bins.time_mean_speed_kmh,
        bins.space_mean_speed_kmh,
        bins.mean_headway_s,

        ---------- timestamps
        recordings.timeline_origin_at
        + bins.time_bin_index * {{ var('time_bin_s') }} * interval '1 second'
            as bin_start_at,
        recordings.timeline_origin_at
        + (bins.time_bin_index + 1) * {{ var('time_bin_s') }} * interval '1 second'
            as bin_end_at,
        bins.first_crossed_at,
        bins.last_crossed_at

    from bins
    inner join recordings
        on bins.recording_id = recordings.recording_id

)

select * from final
