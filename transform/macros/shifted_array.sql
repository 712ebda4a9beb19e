{% macro previous_elements(array, length) -%}
    {#- The array shifted by one frame: element i is the array's element i - 1,
        null for the first. unnest() of it beside unnest(array) gives each
        position its predecessor without a window function. -#}
    array_prepend(null::double precision, {{ array }}[1:{{ length }} - 1])
{%- endmacro %}

{% macro next_elements(array, length) -%}
    {#- The array shifted the other way: element i is the array's element
        i + 1, null for the last. -#}
    array_append({{ array }}[2:{{ length }}], null::double precision)
{%- endmacro %}
