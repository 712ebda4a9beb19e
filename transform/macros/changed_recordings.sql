{% macro changed_recordings() -%}
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
{%- endmacro %}

{% macro where_recording_changed() -%}
    {#- On an incremental run, keep only the changed recordings; a full build
        (first run, --full-refresh) keeps everything. -#}
    {%- if is_incremental() -%}
    where recording_id in ({{ changed_recordings() }})
    {%- endif -%}
{%- endmacro %}
