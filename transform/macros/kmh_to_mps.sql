{% macro kmh_to_mps(speed_kmh) -%}
    ({{ speed_kmh }} / 3.6)
{%- endmacro %}
