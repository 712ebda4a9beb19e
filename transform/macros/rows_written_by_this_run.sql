{#- Data tests of the incremental marts check only the rows that the current dbt
    invocation wrote: an hourly run that rebuilt one recording re-tests that
    recording, not the billion unchanged positions. A full refresh writes every
    row, so it tests every row; --vars '{test_all_rows: true}' tests every row
    at any time, and so does a `dbt test` invocation (it writes nothing:
    narrowed, it would test nothing). Each incremental mart stores the writing invocation in
    dbt_invocation_id, indexed with BRIN (a run's rows are appended together),
    so a run that wrote nothing reads only the tiny BRIN index. -#}

{% macro dbt_invocation_id_column() -%}
    {#- The select-list column of every incremental mart. -#}
    {{ dbt.string_literal(invocation_id) }}::text as dbt_invocation_id
{%- endmacro %}

{% macro tests_all_rows() -%}
    {#- Whether this invocation tests every row of the incremental marts. -#}
    {{ return(var('test_all_rows') or flags.WHICH != 'build') }}
{%- endmacro %}

{% macro rows_written_by_this_run(table_alias=none) -%}
    {#- SQL condition: the row was written by this invocation, or true when the
        invocation tests every row (tests_all_rows). For singular tests; generic tests
        get it through get_where_subquery below. -#}
    {%- if tests_all_rows() -%}
        true
    {%- else -%}
        {{ table_alias ~ '.' if table_alias }}dbt_invocation_id = {{ dbt.string_literal(invocation_id) }}
    {%- endif -%}
{%- endmacro %}

{% macro tests_incremental_model(test_node) -%}
    {#- True when the generic test is attached to an incremental model. -#}
    {%- set attached_node = test_node.attached_node -%}
    {%- if not attached_node or attached_node not in graph.nodes -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(graph.nodes[attached_node].config.materialized == 'incremental') }}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {#- Overrides dbt's macro (the documented way to template a test's where at
        run time: a `where` config in YAML is rendered once at parse time, and
        a partially parsed manifest would keep an old invocation_id). The model
        a generic test checks (for relationships: the child) is narrowed to the
        rows this run wrote when it is an incremental mart; a test's own `where`
        config still applies on top. -#}
    {%- set conditions = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute and not tests_all_rows() and tests_incremental_model(model) -%}
        {%- do conditions.append(rows_written_by_this_run()) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}

{% macro summarize_new_brin_ranges() -%}
    {#- Post-hook: BRIN does not summarise the block ranges that new rows fill
        (autosummarize is off); unsummarised ranges match every query, so the
        next run's tests would read the last run's rows again. -#}
    {%- set relation = this.schema ~ '.' ~ this.identifier -%}
    select brin_summarize_new_values(index_list.indexrelid::regclass)
    from pg_index as index_list
    inner join pg_class as index_class on index_list.indexrelid = index_class.oid
    inner join pg_am as access_method on index_class.relam = access_method.oid
    where index_list.indrelid = '{{ relation }}'::regclass
        and access_method.amname = 'brin'
{%- endmacro %}
