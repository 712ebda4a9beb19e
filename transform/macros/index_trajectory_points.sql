{% macro index_trajectory_points() -%}
    {#- Post-hook of fct_trajectory_points. On a fresh table (first run, full
        refresh) it builds the indexes in bulk; PostgreSQL names them, so no
        name clashes with the replaced table's indexes. On every run it
        summarises the block ranges that new rows filled (BRIN does not do so
        by itself) and refreshes the statistics.
        - a vehicle's path: unique btree (recording, track, frame);
        - an area and a time range: one BRIN over lat, lon and observed_at.
          The table is stored vehicle by vehicle, frame by frame, so 4 pages
          (~200 positions, a few seconds of one vehicle) span a few metres and
          seconds: the ranges are tight, and inserting costs next to nothing
          (a btree on lat, lon took 5 times longer to maintain, see
          benchmarks/bench_transform.py);
        - the rows of one run: BRIN on dbt_invocation_id (rows_written_by_this_run). -#}
    {%- set relation = this.schema ~ '.' ~ this.identifier -%}
    do $$
    declare
        brin_index regclass;
    begin
        if not exists (
            select 1 from pg_index where indrelid = '{{ relation }}'::regclass
        ) then
            create unique index on {{ relation }} (recording_id, track_id, frame_index);
            create index on {{ relation }} using brin (lat, lon, observed_at)
                with (pages_per_range = 4);
            -- the data tests read only the rows of this run
            create index on {{ relation }} using brin (dbt_invocation_id);
        end if;
        for brin_index in
            select index_list.indexrelid::regclass
            from pg_index as index_list
            inner join pg_class as index_class on index_list.indexrelid = index_class.oid
            inner join pg_am as access_method on index_class.relam = access_method.oid
            where index_list.indrelid = '{{ relation }}'::regclass
                and access_method.amname = 'brin'
        loop
            perform brin_summarize_new_values(brin_index);
        end loop;
    end
    $$;
    analyze {{ relation }}
{%- endmacro %}
