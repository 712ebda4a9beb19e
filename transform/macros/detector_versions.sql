{#- The detector marts hold, per recording, results of two inputs: the
    recording's points and the detectors (seed virtual_detectors). The
    materialization partitioned_by_recording rebuilds a recording when its
    points change; this pre-hook makes it rebuild every recording when the
    detectors do. <schema>_storage.detector_versions keeps, per detector
    model, an md5 of the detectors it was built with; when it differs, the
    model's rows of recording_publications are deleted (the recordings look
    never published, so every one is rebuilt, from the points already held)
    and the new md5 recorded, in the transaction that the materialization
    commits before it builds. A crash afterwards leaves the recordings
    unpublished in the log, so the next run still rebuilds them. -#}

{% macro detectors_version() -%}
    {#- md5 of the detectors' ids and end points; renaming a detector
        changes nothing (its name is in no detector mart). -#}
    (
        select md5(coalesce(string_agg(
            concat_ws(' ', detector_id, start_lat, start_lon, end_lat, end_lon),
            ';' order by detector_id
        ), ''))
        from {{ ref('virtual_detectors') }}
    )
{%- endmacro %}

{% macro rebuild_all_recordings_when_detectors_change() -%}
    {%- set versions = storage_relation('detector_versions') -%}
    {%- set model_name = sql_text_literal(this.identifier) -%}
    create table if not exists {{ versions }} (
        model_name text primary key,
        detectors_version text not null
    );
    delete from {{ storage_relation('recording_publications') }}
    where
        model_name = {{ model_name }}
        and not exists (
            select 1 from {{ versions }}
            where model_name = {{ model_name }} and detectors_version = {{ detectors_version() }}
        );
    insert into {{ versions }} (model_name, detectors_version)
    values ({{ model_name }}, {{ detectors_version() }})
    on conflict (model_name) do update set detectors_version = excluded.detectors_version
{%- endmacro %}
