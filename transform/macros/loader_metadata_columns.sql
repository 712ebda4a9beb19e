{% macro loader_metadata_columns(source_relation) -%}
    {#- target-postgres adds these only with add_record_metadata on; a missing
        one becomes a typed null so that the staging columns never change. -#}
    {%- set metadata_types = {
        '_sdc_extracted_at': 'timestamptz',
        '_sdc_received_at': 'timestamptz',
        '_sdc_batched_at': 'timestamptz',
        '_sdc_deleted_at': 'timestamptz',
        '_sdc_sequence': 'bigint',
        '_sdc_table_version': 'bigint',
        '_sdc_sync_started_at': 'bigint',
    } -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(source_relation) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name, sql_type in metadata_types.items() %}
        {% if name not in present -%}
        cast(null as {{ sql_type }}) as {{ name }}
        {%- elif sql_type == 'timestamptz' -%}
        {{ to_utc_timestamptz(name) }} as {{ name }}
        {%- else -%}
        {{ name }}::{{ sql_type }} as {{ name }}
        {%- endif -%}
        {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
