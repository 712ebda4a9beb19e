{% macro changed_recordings_query() -%}
    {#- The recordings whose current version is not the one stored in {{ this }}.
        Delete+insert by recording keeps one version per recording in a table,
        so one stored row (an index probe) tells which version it holds. A
        recording with no rows in {{ this }} (e.g. no stops) counts as changed. -#}
    select recordings.recording_id
    from {{ ref('stg_pneuma__recordings') }} as recordings
    where recordings.source_modified_at is distinct from (
        select stored.source_modified_at
        from {{ this }} as stored
        where stored.recording_id = recordings.recording_id
        limit 1
    )
    order by recordings.recording_id
{%- endmacro %}

{% macro changed_recordings_list() -%}
    {#- Run once per model and inlined as literals: a literal list is pushed
        down through the views to the raw rows before the arrays are expanded,
        an IN (subquery) would be joined after expanding every recording. -#}
    {%- if not execute -%}
        {{ return("null") }}
    {%- endif -%}
    {%- set recording_ids = run_query(changed_recordings_query()).columns[0].values() -%}
    {%- do log(this.identifier ~ ": rebuilding " ~ (recording_ids | length)
        ~ " changed recording(s) " ~ (recording_ids | join(', ')), info=true) -%}
    {%- if recording_ids | length == 0 -%}
        {{ return("null") }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for recording_id in recording_ids -%}
        {%- do quoted.append(dbt.string_literal(recording_id)) -%}
    {%- endfor -%}
    {{ return(quoted | join(', ')) }}
{%- endmacro %}

{% macro where_recording_changed() -%}
    {#- On an incremental run, keep only the changed recordings; a full build
        (first run, --full-refresh) keeps everything. -#}
    {%- if is_incremental() -%}
    where recording_id in ({{ changed_recordings_list() }})
    {%- endif -%}
{%- endmacro %}

{% macro delete_changed_recordings() -%}
    {#- delete+insert only deletes the recordings that bring new rows: a new
        version with no rows left in a model (a recording that lost its last
        stop) would keep its stale ones without this pre-hook. -#}
    {%- if is_incremental() -%}
    delete from {{ this }} where recording_id in ({{ changed_recordings_query() }})
    {%- endif -%}
{%- endmacro %}
