{% macro round_float(expression, decimals) -%}
    {#- float8 round() stays in float8; round(numeric, n) would convert every row -#}
    (round(({{ expression }}) * 1e{{ decimals }}) / 1e{{ decimals }})
{%- endmacro %}
