{% macro initial_bearing_deg(lat1, lon1, lat2, lon2) -%}
    {#- Degrees clockwise from north, in [0, 360). atan2d of the negated
        arguments is the bearing minus 180, in (-180, 180], so one atan2d
        gives it: a case on the sign of atan2d(y, x) evaluated it twice, and
        it is the costliest expression of the positions (~0.5 s a recording
        of 2.5 M). atan2 of two zeros is 0, a fake "north": an unmoved vehicle
        has no heading. -#}
    case
        when {{ lat1 }} = {{ lat2 }} and {{ lon1 }} = {{ lon2 }} then null
        else 180 + atan2d(
            -(sin(radians({{ lon2 }} - {{ lon1 }})) * cos(radians({{ lat2 }}))),
            -(cos(radians({{ lat1 }})) * sin(radians({{ lat2 }}))
            - sin(radians({{ lat1 }})) * cos(radians({{ lat2 }}))
            * cos(radians({{ lon2 }} - {{ lon1 }})))
        )
    end
{%- endmacro %}
