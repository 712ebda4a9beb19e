{% macro to_utc_timestamptz(expression) -%}
    {#- The loader may store a UTC date-time as text (with or without an offset),
        timestamp or timestamptz; a value without an offset is UTC, whatever
        the session's time zone. -#}
    (case
        when {{ expression }} is null then null
        when {{ expression }}::text ~ '\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?)$'
            then {{ expression }}::text::timestamptz
        else ({{ expression }}::text || '+00')::timestamptz
    end)
{%- endmacro %}
