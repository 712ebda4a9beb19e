{#- An equirectangular projection around the grid origin: over pNEUMA's 2 km
    its scale error is below 0.1 %, far less than a cell. -#}

{% macro metres_per_degree_lat() -%}
    (pi() / 180 * {{ var('earth_radius_m') }})
{%- endmacro %}

{% macro metres_per_degree_lon() -%}
    (pi() / 180 * {{ var('earth_radius_m') }} * cos(radians({{ var('grid_origin_lat') }})))
{%- endmacro %}

{% macro grid_cell_x(lon) -%}
    floor(
        ({{ lon }} - {{ var('grid_origin_lon') }}) * {{ metres_per_degree_lon() }}
        / {{ var('grid_cell_size_m') }}
    )::integer
{%- endmacro %}

{% macro grid_cell_y(lat) -%}
    floor(
        ({{ lat }} - {{ var('grid_origin_lat') }}) * {{ metres_per_degree_lat() }}
        / {{ var('grid_cell_size_m') }}
    )::integer
{%- endmacro %}

{% macro grid_cell_center_lon(cell_x) -%}
    ({{ var('grid_origin_lon') }}
        + ({{ cell_x }} + 0.5) * {{ var('grid_cell_size_m') }} / {{ metres_per_degree_lon() }})
{%- endmacro %}

{% macro grid_cell_center_lat(cell_y) -%}
    ({{ var('grid_origin_lat') }}
        + ({{ cell_y }} + 0.5) * {{ var('grid_cell_size_m') }} / {{ metres_per_degree_lat() }})
{%- endmacro %}
