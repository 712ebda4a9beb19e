{% macro scaled_integer(expression, decimals) -%}
    {#- An exact integer code of a value written with at most `decimals`
        decimals (lat/lon 6, speed and accelerations 4 in pNEUMA files): k such
        that k / 10^decimals, a correctly rounded float8 division, gives back
        the very float8 that was stored. A value with more decimals, or too
        large for an integer, becomes the sentinel inexact_code(), which the
        audits reject, so an inexact value is never published. -#}
    (case
        when ({{ expression }}) is null then null
        when abs({{ expression }}) * 1e{{ decimals }}::double precision < 2147483647
            and round(({{ expression }}) * 1e{{ decimals }}::double precision)
                / 1e{{ decimals }}::double precision = ({{ expression }})
            then round(({{ expression }}) * 1e{{ decimals }}::double precision)::integer
        else {{ inexact_code() }}
    end)
{%- endmacro %}

{% macro inexact_code() -%}
    (-2147483648)
{%- endmacro %}

{% macro from_scaled_integer(code, decimals) -%}
    ({{ code }}::double precision / 1e{{ decimals }}::double precision)
{%- endmacro %}
