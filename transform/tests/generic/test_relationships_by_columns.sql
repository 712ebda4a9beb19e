{% test relationships_by_columns(model, columns, to, to_columns) %}

-- rows of the child whose composite key has no parent row; {{ model }} may be
-- an aliased subquery (a `where` config), hence the CTE
with child as (

    select * from {{ model }}

)

select child.*
from child
where not exists (
    select 1
    from {{ to }} as parent
    where
        {% for column in columns -%}
        parent.{{ to_columns[loop.index0] }} = child.{{ column }}
        {{- ' and' if not loop.last }}
        {% endfor %}
)

{% endtest %}
