-- A view, so that it always shows the publication state of the last run, even
-- of a run that failed half-way. It depends on every partitioned mart so that
-- its tests (every recording published) run after them.
-- depends_on: {{ ref('fct_trajectory_points') }} (the points and their shards)
-- depends_on: {{ ref('fct_stop_events') }}
-- depends_on: {{ ref('fct_vehicle_trips') }}
-- depends_on: {{ ref('agg_traffic_grid') }}
-- depends_on: {{ ref('fct_detector_crossings') }}
-- depends_on: {{ ref('agg_detector_flow') }}
-- depends_on: {{ ref('fct_detector_travel_times') }}

{%- set partitioned_marts = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
        and node.config.materialized == 'partitioned_by_recording' -%}
        {%- do partitioned_marts.append(publication_name(node)) if publication_name(node) not in partitioned_marts -%}
    {%- endfor -%}
{%- endif %}

with

recordings as (

    select * from {{ ref('stg_pneuma__recordings') }}

),

vehicles as (

    select * from {{ ref('stg_pneuma__vehicles') }}

),

recording_keys as (

    select * from {{ source('recording_storage', 'recording_keys') }}

),

publications as (

    select * from {{ source('recording_storage', 'recording_publications') }}

),

vehicle_counts as (

    select
        recording_id,
        count(*)::integer as n_vehicles
    from vehicles
    group by recording_id

),

recording_quality as (

    -- the current version's outcome in every partitioned mart
    select
        publications.recording_key,
        count(*) filter (
            where publications.published_version = recordings.source_modified_at
        ) as n_marts_published,
        count(*) filter (
            where publications.quality_status = 'quarantined'
            and publications.attempted_version = recordings.source_modified_at
        ) as n_marts_quarantined,
        coalesce(jsonb_agg(
            findings.finding || jsonb_build_object('model', publications.model_name)
            order by publications.model_name
        ) filter (where findings.finding is not null), '[]') as failed_audits,
        max(publications.published_version) filter (
            where publications.model_name = 'fct_trajectory_points_packed'
        ) as published_version,
        max(publications.n_rows) filter (
            where publications.model_name = 'fct_trajectory_points_packed'
        ) as n_positions
    from publications
    inner join recording_keys
        on publications.recording_key = recording_keys.recording_key
    inner join recordings
        on recording_keys.recording_id = recordings.recording_id
    left join lateral jsonb_array_elements(
        case
            when publications.attempted_version = recordings.source_modified_at
                then publications.failed_audits
            else '[]'
        end
    ) as findings (finding) on true
    group by publications.recording_key

),

final as (

    select
        ---------- ids
        recordings.recording_id,
        recording_keys.recording_key,

        ---------- strings
        recordings.source_uri,
        recordings.layout,
        -- published: every partitioned mart holds the current version;
        -- quarantined: an audit failed on it (the marts keep the previous
        -- version, if any; failed_audits says which); pending: not built yet
        case
            when coalesce(recording_quality.n_marts_quarantined, 0) > 0 then 'quarantined'
            when recording_quality.n_marts_published = {{ partitioned_marts | length }}
                then 'published'
            else 'pending'
        end as quality_status,
        coalesce(recording_quality.failed_audits, '[]') as failed_audits,

        ---------- numerics
        recordings.drone,
        coalesce(vehicle_counts.n_vehicles, 0) as n_vehicles,
        coalesce(recording_quality.n_positions, 0) as n_positions,
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
        recordings.timeline_origin_at,
        recordings.file_modified_at,
        recordings.source_modified_at,
        recording_quality.published_version

    from recordings
    left join recording_keys
        on recordings.recording_id = recording_keys.recording_id
    left join vehicle_counts
        on recordings.recording_id = vehicle_counts.recording_id
    left join recording_quality
        on recording_keys.recording_key = recording_quality.recording_key

)

select * from final
