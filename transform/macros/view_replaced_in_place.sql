{#- materialized='view' on PostgreSQL: the view is replaced in place.

    dbt's default creates a new view, renames the old one away and drops it
    CASCADE, which drops every view built on it: the public
    analytics_marts.fct_trajectory_points and dim_recordings read staging's
    views, so they vanished at the start of every build until dbt recreated
    them near its end, and after a crash in between they stayed missing.
    CREATE OR REPLACE VIEW keeps the view's identity, so the views on it stay.
    It refuses a change of the existing columns (a rename, a new type, a
    dropped column: SQLSTATE 42P16); only then is the old view dropped
    CASCADE, and this same run recreates the dependent models after it. -#}
{% materialization view, adapter='postgres' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- if existing is not none and not existing.is_view -%}
        {% do adapter.drop_relation(existing) %}
    {%- endif -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% call statement('main') -%}
        do $replace_view$
        begin
            create or replace view {{ target_relation }} as {{ sql }};
        exception when invalid_table_definition then
            drop view {{ target_relation }} cascade;
            create view {{ target_relation }} as {{ sql }};
        end
        $replace_view$
    {%- endcall %}

    {% do apply_grants(target_relation, config.get('grants'), should_revoke=True) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
