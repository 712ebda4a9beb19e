{#- The read-only role of BI tools (PNEUMA_READER_USER, created by `postgres ensure`)
    may enter the marts' schema; dbt's `grants` config then gives it select on each
    published model. Once per run, before any model: as a post-hook of every model,
    two threads granting on the same schema row deadlocked. -#}
{% macro grant_reader_usage_on_marts() -%}
    {%- set marts_schema = adapter.quote(target.schema ~ '_marts') -%}
    create schema if not exists {{ marts_schema }};
    grant usage on schema {{ marts_schema }}
        to {{ adapter.quote(env_var('PNEUMA_READER_USER', 'pneuma_reader')) }}
{%- endmacro %}
