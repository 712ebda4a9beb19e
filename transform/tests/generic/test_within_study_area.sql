{% test within_study_area(model, lat_column='lat', lon_column='lon') %}

select {{ lat_column }}, {{ lon_column }}
from {{ model }}
where
    {{ lat_column }} not between {{ var('study_area_min_lat') }}
        and {{ var('study_area_max_lat') }}
    or {{ lon_column }} not between {{ var('study_area_min_lon') }}
        and {{ var('study_area_max_lon') }}

{% endtest %}
