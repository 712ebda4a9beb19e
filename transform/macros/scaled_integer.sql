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

{% macro code_of_rounded(expression, decimals, range_fits_integer=true) -%}
    {#- The integer code of a value rounded by round_float(expression,
        decimals): round(value * 10^decimals) is the very integer that
        round_float divided, so the code is exact by construction. The
        expression is computed once (twice when its range may exceed an
        integer code), where scaled_integer names it five times and
        PostgreSQL computes every one: for the haversine and the bearing,
        the costliest expressions of the positions, 1.4 s of server CPU a
        recording of 2.5 M positions. range_fits_integer=false: values
        above the largest code / 10^decimals become inexact_code(), which
        the audits reject. The expression must be finite and not
        negative. -#}
    {%- if range_fits_integer -%}
    (round(({{ expression }}) * 1e{{ decimals }}::double precision)::integer)
    {%- else -%}
    (case
        when ({{ expression }}) <= {{ 2147483647 / 10 ** decimals }}
            then round(({{ expression }}) * 1e{{ decimals }}::double precision)::integer
        when ({{ expression }}) is not null then {{ inexact_code() }}
    end)
    {%- endif -%}
{%- endmacro %}

{% macro inexact_code() -%}
    (-2147483648)
{%- endmacro %}

{% macro from_scaled_integer(code, decimals) -%}
    ({{ code }}::double precision / 1e{{ decimals }}::double precision)
{%- endmacro %}
