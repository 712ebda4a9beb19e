{#- Planner statistics of the raw tables that hold one row per recording or per
    vehicle. They grow by a few rows a load, below autovacuum's analyze
    threshold (50 rows + 10 %), so without this the planner keeps its guess for
    an empty table (~240 rows) and misjudges every join to the recordings.
    The trajectories table is left to autovacuum: sampling its arrays costs. -#}
{% macro analyze_small_sources() -%}
    analyze {{ source('pneuma', 'recordings') }};
    analyze {{ source('pneuma', 'vehicles') }}
{%- endmacro %}
