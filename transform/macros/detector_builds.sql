{#- Per-recording incremental builds of the detector models.

    A detector model's rows of a recording depend on the recording's points
    and on the detectors (the seed virtual_detectors). Each detector model
    keeps, in a companion table <model>__recording_builds, the version of both
    that it last built for each recording: the points' source_modified_at and
    an md5 of the detectors' geometry. A run rebuilds the recordings whose
    versions differ: the changed recordings, or every recording once a
    detector is added, moved or removed, without touching the points. A
    recording that yields no rows (no detector in its area) is recorded too,
    so it is not read again until it changes: the recordings of a drone far
    from every detector cost nothing on hourly runs. -#}

{% macro detector_builds_relation() -%}
    {{ this.schema }}.{{ this.identifier }}__recording_builds
{%- endmacro %}

{% macro detectors_version() -%}
    {#- md5 of the detectors' ids and end points; a renamed detector keeps its
        version (its name is in no detector model). -#}
    (
        select md5(coalesce(string_agg(
            concat_ws(' ', detector_id, start_lat, start_lon, end_lat, end_lon),
            ';' order by detector_id
        ), ''))
        from {{ ref('virtual_detectors') }}
    )
{%- endmacro %}

{% macro points_version(recording_id) -%}
    {#- The version of a recording's points: one index probe. -#}
    (
        select points.source_modified_at
        from {{ ref('fct_trajectory_points') }} as points
        where points.recording_id = {{ recording_id }}
        limit 1
    )
{%- endmacro %}

{% macro detector_changed_recordings_query() -%}
    {#- The recordings whose points or detectors differ from the versions
        this model last built (all of them when it has no build table yet). -#}
    {#- Asked of the database, not of dbt's relation cache: the hooks create
        the table behind the cache's back. -#}
    {%- set builds_exist = execute and run_query(
        "select to_regclass('" ~ detector_builds_relation() ~ "') is not null"
    ).columns[0].values()[0] -%}
    select recordings.recording_id
    from {{ ref('dim_recordings') }} as recordings
    {%- if builds_exist %}
    left join {{ detector_builds_relation() }} as built
        on recordings.recording_id = built.recording_id
    where
        built.recording_id is null
        or built.detectors_version <> {{ detectors_version() }}
        or built.source_modified_at is distinct from {{ points_version('recordings.recording_id') }}
    {%- endif %}
    order by recordings.recording_id
{%- endmacro %}

{% macro detector_recording_changed() -%}
    {#- SQL condition on recording_id: on an incremental run the changed
        recordings, inlined as literals (so that PostgreSQL narrows the points
        by their index and partitions); a full build keeps everything. -#}
    {%- if not is_incremental() -%}
        true
    {%- elif not execute -%}
        false
    {%- else -%}
        {%- set recording_ids = run_query(detector_changed_recordings_query()).columns[0].values() -%}
        {%- do log(this.identifier ~ ": rebuilding " ~ (recording_ids | length)
            ~ " recording(s) " ~ (recording_ids | join(', ')), info=true) -%}
        {%- if recording_ids | length == 0 -%}
            false
        {%- else -%}
            {%- set quoted = [] -%}
            {%- for recording_id in recording_ids -%}
                {%- do quoted.append(dbt.string_literal(recording_id)) -%}
            {%- endfor -%}
            recording_id in ({{ quoted | join(', ') }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro detector_begin_build() -%}
    {#- Pre-hook: the build table exists; a full build forgets it, an
        incremental one deletes the rows of the recordings it will rebuild
        (also those that will now yield no rows). -#}
    create table if not exists {{ detector_builds_relation() }} (
        recording_id text primary key,
        source_modified_at timestamptz,
        detectors_version text not null,
        dbt_invocation_id text not null
    );
    {% if is_incremental() -%}
    delete from {{ this }}
    where recording_id in ({{ detector_changed_recordings_query() }})
    {%- else -%}
    truncate {{ detector_builds_relation() }}
    {%- endif %}
{%- endmacro %}

{% macro detector_record_build() -%}
    {#- Post-hook: the versions of the recordings this run built (the rows
        are in; the build table is not updated yet, so the query still names
        them). The points' version is the one the model read: dbt built the
        points before this model. -#}
    insert into {{ detector_builds_relation() }} as built
        (recording_id, source_modified_at, detectors_version, dbt_invocation_id)
    select
        changed.recording_id,
        {{ points_version('changed.recording_id') }},
        {{ detectors_version() }},
        {{ dbt.string_literal(invocation_id) }}
    from ({{ detector_changed_recordings_query() }}) as changed
    on conflict (recording_id) do update set
        source_modified_at = excluded.source_modified_at,
        detectors_version = excluded.detectors_version,
        dbt_invocation_id = excluded.dbt_invocation_id
{%- endmacro %}
