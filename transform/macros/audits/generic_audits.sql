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

{% macro audit_within_study_area(relation, lat_column='lat', lon_column='lon') -%}
    {#- Positions outside the study_area_* box of dbt_project.yml. A warning
        (severity warn in the models' audits): pNEUMA's drones covered one
        district, but a recording filmed elsewhere is not wrong for that. -#}
    select {{ lat_column }}, {{ lon_column }}
    from {{ relation }}
    where
        {{ lat_column }} not between {{ var('study_area_min_lat') }}
            and {{ var('study_area_max_lat') }}
        or {{ lon_column }} not between {{ var('study_area_min_lon') }}
            and {{ var('study_area_max_lon') }}
{%- endmacro %}

{% macro audit_observed_not_before_the_timeline_origin(relation) -%}
    {#- time_s >= 0: no position before the recording's timeline origin. -#}
    select partition_rows.track_id, partition_rows.observed_at
    from {{ relation }} as partition_rows
    inner join {{ ref('stg_pneuma__recordings') }} as recordings
        on recordings.recording_id = current_setting('pneuma.recording_id')
    where partition_rows.observed_at < recordings.timeline_origin_at
{%- endmacro %}
