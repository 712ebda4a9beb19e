{% macro select_current_version(source_relation) -%}
    {#- A recording re-extracted from a changed file arrives with a newer
        _sdc_modified_at; only its latest version counts, which also drops the
        vehicles that vanished from the file. The join touches narrow columns
        only, so the wide array rows are read once. -#}
    select source_rows.*
    from {{ source_relation }} as source_rows
    inner join (
        select
            recording_id,
            max(_sdc_modified_at) as latest_modified_at
        from {{ source_relation }}
        group by recording_id
    ) as latest_versions
        on source_rows.recording_id = latest_versions.recording_id
        and source_rows._sdc_modified_at = latest_versions.latest_modified_at
{%- endmacro %}
