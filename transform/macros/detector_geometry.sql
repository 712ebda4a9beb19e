{#- Geometry of virtual detectors, in a plane of metres: the equirectangular
    projection about the grid origin (grid_cell.sql), whose scale error over
    pNEUMA's 2 km is below 0.1 %. The projection is affine in (lat, lon), so
    which side of a detector a position lies on, and where along a step the
    detector is crossed, are exactly those of straight lines in degrees; only
    the prefilter's margins are metric. -#}

{% macro detector_x_m(lon) -%}
    (({{ lon }} - {{ var('grid_origin_lon') }}) * {{ metres_per_degree_lon() }})
{%- endmacro %}

{% macro detector_y_m(lat) -%}
    (({{ lat }} - {{ var('grid_origin_lat') }}) * {{ metres_per_degree_lat() }})
{%- endmacro %}

{% macro detector_cell(coordinate_m) -%}
    {#- Prefilter cell (side var detector_search_margin_m) of a projected
        coordinate: steps are matched to detectors by a hash join on cells. -#}
    floor(({{ coordinate_m }}) / {{ var('detector_search_margin_m') }})::integer
{%- endmacro %}

{% macro side_of_detector(detector, x_m, y_m) -%}
    {#- Cross product (end - start) x (position - start), m²: positive on the
        left of the detector seen from its start towards its end, negative on
        its right, zero on its line. -#}
    (({{ detector }}.end_x_m - {{ detector }}.start_x_m) * ({{ y_m }} - {{ detector }}.start_y_m)
        - ({{ detector }}.end_y_m - {{ detector }}.start_y_m) * ({{ x_m }} - {{ detector }}.start_x_m))
{%- endmacro %}

{% macro interpolated_at_crossing(step, column) -%}
    {#- A step's value at its crossing: linear between the previous position's
        value (previous_<column>) and the position's, at step_fraction. -#}
    ({{ step }}.previous_{{ column }} + {{ step }}.step_fraction
        * ({{ step }}.{{ column }} - {{ step }}.previous_{{ column }}))
{%- endmacro %}
