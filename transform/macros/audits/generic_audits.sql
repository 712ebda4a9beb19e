{#- Audits for any partitioned_by_recording model: each returns the failing
    rows of one recording's new partition (see the materialization). -#}

{% macro audit_unique(relation, columns) -%}
    {#- The columns are unique within the recording (so, with the partition
        key, in the mart). -#}
    select {{ columns | join(', ') }}, count(*) as n_rows
    from {{ relation }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{%- endmacro %}

{% macro audit_tracks_are_vehicles(relation) -%}
    {#- Every track_id of the partition is a vehicle of the recording's current version. -#}
    select distinct partition_rows.track_id
    from {{ relation }} as partition_rows
    where not exists (
        select 1
        from {{ ref('stg_pneuma__vehicles') }} as vehicles
        where
            vehicles.recording_id = current_setting('pneuma.recording_id')
            and vehicles.track_id = partition_rows.track_id
    )
{%- endmacro %}

{% macro within_study_area(lat_column='lat', lon_column='lon') -%}
    {#- A row condition: the position lies in the study_area_* box of
        dbt_project.yml. A warning in the models' audits (severity warn):
        pNEUMA's drones covered one district, but a recording filmed
        elsewhere is not wrong for that. -#}
    ({{ lat_column }} between {{ var('study_area_min_lat') }} and {{ var('study_area_max_lat') }}
        and {{ lon_column }} between {{ var('study_area_min_lon') }} and {{ var('study_area_max_lon') }})
{%- endmacro %}

{% macro audit_within_study_area(relation, lat_column='lat', lon_column='lon') -%}
    {#- The rows of a relation outside the study area (within_study_area). -#}
    select {{ lat_column }}, {{ lon_column }}
    from {{ relation }}
    where not {{ within_study_area(lat_column, lon_column) }}
{%- endmacro %}

{% macro observed_not_before_the_timeline_origin() -%}
    {#- A row condition: time_s >= 0, no position before the recording's
        timeline origin (read once: an uncorrelated subquery). A null
        observed_at fails time_s_exact_to_the_microsecond instead. -#}
    coalesce(observed_at >= (
        select recordings.timeline_origin_at
        from {{ ref('stg_pneuma__recordings') }} as recordings
        where recordings.recording_id = {{ current_recording_id() }}
    ), true)
{%- endmacro %}
