{% macro initial_bearing_deg(lat1, lon1, lat2, lon2) -%}
    {#- atan2 of two zeros is 0, a fake "north": an unmoved vehicle has no heading -#}
    {%- set signed_deg -%}
        atan2d(
            sin(radians({{ lon2 }} - {{ lon1 }})) * cos(radians({{ lat2 }})),
            cos(radians({{ lat1 }})) * sin(radians({{ lat2 }}))
            - sin(radians({{ lat1 }})) * cos(radians({{ lat2 }}))
            * cos(radians({{ lon2 }} - {{ lon1 }}))
        )
    {%- endset -%}
    case
        when {{ lat1 }} = {{ lat2 }} and {{ lon1 }} = {{ lon2 }} then null
        when {{ signed_deg }} < 0 then {{ signed_deg }} + 360
        else {{ signed_deg }}
    end
{%- endmacro %}
