{#- materialized='partitioned_by_recording': a mart stored one partition per
    recording, built, audited and published recording by recording.

    The model's SQL selects the rows of ALL recordings, with a text column
    `recording_id` (or an integer `recording_key`, when it reads another
    partitioned mart). The materialization builds one changed recording at a
    time, in one transaction each:
      1. write: the rows of that recording (the model's SQL filtered on
         current_setting('pneuma.recording_id'), a stable expression that
         PostgreSQL pushes down to the raw rows, or on the recording's key,
         bound as a constant; where the filter cannot reach, e.g. into a CTE
         read twice, the model adds
         `where recording_key = {{ current_recording_key() }}`) into a
         new table beside the published partition, with the model's `indexes`;
      2. audit: the model's `meta.audits` on that new table only;
      3. publish: drop the old partition, attach the new one, and record the
         published version in <schema>_storage.recording_publications; or, if
         an audit failed, drop the new table and record the recording as
         quarantined with its failing audits (the old partition stays).
    A crash rolls the transaction back: the marts hold what was published.

    Storage: <target schema>_storage.<model>__by_recording is the LOGGED parent, list
    partitioned on recording_key (an integer from recording_keys), with one
    partition <model>__r<key> per recording; the model's columns except
    recording_id follow recording_key. The relation the model publishes
    ({{ this }}) is a view: recording_id, the stored columns, and per
    recording source_modified_at and dbt_invocation_id from the publication log
    (left joins on unique keys, which PostgreSQL removes when unused).

    Shards: a model with `meta.recording_shard: {of: <a model>, index: k}`,
    the same SQL, audits and indexes, builds part of that model's recordings
    into its storage and publication log, at the same time on another dbt
    thread: dbt runs nodes, not what a node does, in parallel. With n - 1 such
    shards, each node (the model itself is index 0) builds the recordings
    whose key % n is its index. Only the model named by `of` publishes the
    view; the shards share its name in recording_publications. Their
    setup (parent, keys, view) takes turns under an advisory lock, and a
    recording's transaction locks the parent only to swap its partition in.

    Which recordings are built: those whose current version (staging's
    source_modified_at) is not the published one, except a version already
    quarantined (retried by --full-refresh or a new file version), and only
    once every partitioned mart this model reads has published that version.
    --full-refresh rebuilds every recording (and recreates the parent if the
    model's columns changed; without it a change of columns fails the model).

    Audits, in the model's yml under config.meta.audits, each with a `name`:
      - row_condition: SQL that every row satisfies (all row conditions are
        checked together, in one scan of the new partition), or row_macro
        (+ args): a macro returning such a condition;
      - macro (+ args): a macro called with the new partition's relation and
        the args, returning the failing rows (e.g. audit_unique);
      - severity: error (default: a failure quarantines the recording) or warn
        (logged and recorded in recording_publications.failed_audits, published).
    Rows of the new partition are the stored columns (recording_key, not
    recording_id); current_setting('pneuma.recording_id') is the recording. -#}

{% materialization partitioned_by_recording, adapter='postgres' %}
    {%- set model_name = publication_name(model) -%}
    {%- set publishes_view = model_name == this.identifier -%}
    {#- the nodes that build this storage: the model and its shards -#}
    {%- set builders = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
        and publication_name(node) == model_name -%}
        {%- do builders.append(node.name) -%}
    {%- endfor -%}
    {%- set shard_count = builders | length -%}
    {%- set shard_index = (((config.get('meta') or {}).get('recording_shard') or {}).get('index') or 0) | int -%}
    {%- if shard_index >= shard_count -%}
        {{ exceptions.raise_compiler_error(this.identifier ~ ": recording_shard index " ~ shard_index
            ~ ", but " ~ shard_count ~ " nodes build " ~ model_name ~ " (" ~ (builders | join(', '))
            ~ "): indexes 0 to " ~ (shard_count - 1)) }}
    {%- endif -%}
    {%- set parent = storage_relation(model_name ~ '__by_recording') -%}
    {%- set keys = storage_relation('recording_keys') -%}
    {%- set publications = storage_relation('recording_publications') -%}
    {%- set recordings = ref('stg_pneuma__recordings') -%}
    {%- set full_refresh = should_full_refresh() -%}
    {%- set audits = (config.get('meta') or {}).get('audits', []) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {#- which column says the recording, and the stored columns -#}
    {%- set model_columns = get_columns_in_query(sql) -%}
    {%- set filter_column = 'recording_key' if 'recording_key' in model_columns else 'recording_id' -%}
    {%- if filter_column == 'recording_id' and 'recording_id' not in model_columns -%}
        {{ exceptions.raise_compiler_error(model_name ~ ": a partitioned_by_recording model selects recording_id or recording_key") }}
    {%- endif -%}
    {%- set stored_columns = [] -%}
    {%- for column in model_columns if column not in ('recording_id', 'recording_key') -%}
        {%- do stored_columns.append(column) -%}
    {%- endfor -%}
    {%- set recording_filter -%}
        {%- if filter_column == 'recording_key' -%}
        model_rows.recording_key = {{ current_recording_key() }}
        {%- else -%}
        model_rows.recording_id = current_setting('pneuma.recording_id')
        {%- endif -%}
    {%- endset -%}
    {%- set select_rows -%}
        select
            {{ current_recording_key() }} as recording_key
            {%- for column in stored_columns %},
            model_rows.{{ adapter.quote(column) }}
            {%- endfor %}
        from (
            {{ sql }}
        ) as model_rows
        where {{ recording_filter }}
    {%- endset -%}

    {#- the parent: created from the model's shape, recreated on a full refresh that changes it -#}
    {%- call statement('shape') -%}
        -- the shards of one storage take turns until the commit after the view
        select pg_advisory_xact_lock(hashtext({{ sql_text_literal(parent) }}));
        select set_config('pneuma.recording_key', '0', false), set_config('pneuma.recording_id', '', false);
        drop table if exists pg_temp.partition_shape;
        create temporary table partition_shape as {{ select_rows }} limit 0
    {%- endcall -%}
    {%- set shape_sql -%}
        select coalesce(string_agg(
            attname || ' ' || format_type(atttypid, atttypmod), ', ' order by attnum
        ), '')
        from pg_attribute
        where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
    {%- endset -%}
    {%- set new_shape = run_query(shape_sql | replace('%s', "'pg_temp.partition_shape'")).columns[0].values()[0] -%}
    {%- set old_shape = run_query(shape_sql | replace('%s', sql_text_literal(parent.include(database=false)))).columns[0].values()[0] -%}
    {%- if old_shape != new_shape -%}
        {%- if old_shape and not full_refresh -%}
            {{ exceptions.raise_compiler_error(
                model_name ~ ": the model's columns changed (stored: " ~ old_shape ~ "; now: "
                ~ new_shape ~ "). Rebuild it with `meltano invoke dbt-postgres:full_refresh`."
            ) }}
        {%- endif -%}
        {%- call statement('create_parent') -%}
            drop table if exists {{ parent }} cascade;
            delete from {{ publications }} where model_name = {{ sql_text_literal(model_name) }};
            create table {{ parent }} (like pg_temp.partition_shape)
                partition by list (recording_key);
            alter table {{ parent }} alter column recording_key set not null
        {%- endcall -%}
    {%- endif -%}
    {#- new recordings get their keys; the planner then needs to know them: with
        the default guess for an unanalyzed table (~1,300 keys) it expected ~800
        of a recording's million positions and sorted them on disk -#}
    {%- call statement('keys') -%}
        do $assign_keys$
        declare
            n_new bigint;
        begin
            insert into {{ keys }} (recording_id)
            select recording_id from {{ recordings }}
            on conflict (recording_id) do nothing;
            get diagnostics n_new = row_count;
            if n_new > 0 then
                analyze {{ keys }};
            end if;
        end
        $assign_keys$
    {%- endcall -%}

    {#- the published view (a table of the former incremental design is replaced) -#}
    {%- if publishes_view -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- if existing is not none and not existing.is_view -%}
        {% do adapter.drop_relation(existing) %}
    {%- endif -%}
    {%- call statement('publish_view') -%}
        create or replace view {{ this }} as
        select
            recording_keys.recording_id,
            stored.*,
            published.published_version as source_modified_at,
            published.published_by as dbt_invocation_id
        from {{ parent }} as stored
        left join {{ keys }} as recording_keys
            on stored.recording_key = recording_keys.recording_key
        left join {{ publications }} as published
            on published.model_name = {{ sql_text_literal(model_name) }}
            and stored.recording_key = published.recording_key
    {%- endcall -%}
    {%- do apply_grants(this, config.get('grants'), should_revoke=True) -%}
    {%- endif -%}
    {{ adapter.commit() }}

    {#- the recordings to build -#}
    {%- set upstream_models = partitioned_ancestors(model) -%}
    {%- set to_build_sql -%}
        select recording_keys.recording_key, recording_keys.recording_id
        from {{ recordings }} as recordings
        inner join {{ keys }} as recording_keys
            on recordings.recording_id = recording_keys.recording_id
        left join {{ publications }} as mine
            on mine.model_name = {{ sql_text_literal(model_name) }}
            and mine.recording_key = recording_keys.recording_key
        where
            {% if full_refresh -%}
            true
            {%- else -%}
            mine.published_version is distinct from recordings.source_modified_at
            and (mine.quality_status is distinct from 'quarantined'
                or mine.attempted_version is distinct from recordings.source_modified_at)
            {%- endif %}
            {%- if shard_count > 1 %}
            and recording_keys.recording_key % {{ shard_count }} = {{ shard_index }}
            {%- endif %}
            {%- for upstream in upstream_models %}
            and exists (
                select 1 from {{ publications }} as upstream
                where upstream.model_name = {{ sql_text_literal(upstream) }}
                    and upstream.recording_key = recording_keys.recording_key
                    and upstream.published_version = recordings.source_modified_at
            )
            {%- endfor %}
        order by recording_keys.recording_key
    {%- endset -%}
    {%- set to_build = run_query(to_build_sql) -%}
    {%- do log(this.identifier ~ ": building " ~ (to_build.rows | length) ~ " recording(s)", info=true) -%}

    {%- set quarantined = [] -%}
    {%- for recording_key, recording_id in to_build.rows -%}
        {%- do build_recording_partition(
            model_name, parent, recording_key | int, recording_id, select_rows, audits, quarantined
        ) -%}
    {%- endfor -%}

    {#- every recording committed its own transaction; the shape served them all -#}
    {%- call statement('drop_shape') -%}
        drop table if exists pg_temp.partition_shape
    {%- endcall -%}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {%- set message = this.identifier ~ ": " ~ ((to_build.rows | length) - (quarantined | length))
        ~ " published, " ~ (quarantined | length) ~ " quarantined" -%}
    {%- call noop_statement('main', message) -%}{%- endcall -%}
    {{ return({'relations': [this] if publishes_view else []}) }}
{% endmaterialization %}


{% macro build_recording_partition(model_name, parent, recording_key, recording_id, select_rows, audits, quarantined) -%}
    {#- Write, audit and publish one recording in ONE statement (a plpgsql
        block), so that it is one transaction whatever the connection's
        transaction mode: a crash or error leaves the published partition and
        the log as they were. recording_key is an integer (| int), the only
        value of the recording that enters the SQL text; the recording id is
        read from recording_keys into current_setting('pneuma.recording_id').
        The block binds the key as a constant wherever the models and audits
        say current_recording_key(): PostgreSQL evaluates current_setting()
        for every row it filters or returns (0.75 s a scan of 2.5 M
        positions), a constant once, and prunes the other partitions while
        planning. -#}
    {%- set keys = storage_relation('recording_keys') -%}
    {%- set publications = storage_relation('recording_publications') -%}
    {%- set partition = storage_relation(model_name ~ '__r' ~ recording_key) -%}
    {%- set staged = storage_relation(model_name ~ '__r' ~ recording_key ~ '__new') -%}
    {#- row audits: a row_condition, or a row_macro that returns one -#}
    {%- set row_audits = [] -%}
    {%- for audit in audits if audit['row_condition'] is defined or audit['row_macro'] is defined -%}
        {%- do row_audits.append({
            'name': audit['name'],
            'severity': audit.get('severity', 'error'),
            'row_condition': audit['row_condition'] if audit['row_condition'] is defined
                else context[audit['row_macro']](**audit.get('args', {})),
        }) -%}
    {%- endfor -%}
    {%- set macro_audits = audits | selectattr('macro', 'defined') | list -%}
    {%- set write_audit_publish -%}
    do $write_audit_publish$
    declare
        findings jsonb := '[]';
        failing bigint;
        source_version timestamptz;
        n_rows bigint;
        is_published boolean;
        {%- for row_audit in row_audits %}
        row_finding_{{ loop.index0 }} jsonb;
        {%- endfor %}
    begin
        -- (the key's setting too, for SQL that reads it without current_recording_key())
        perform
            set_config('pneuma.recording_key', recording_key::text, true),
            set_config('pneuma.recording_id', recording_id, true)
        from {{ keys }}
        where recording_key = {{ recording_key }};
        -- every scan from the first row: a scan of a large table that joins one
        -- already running elsewhere starts mid-table, and float sums in another
        -- order differ in the last bit (a rebuild of 2 unchanged recordings of
        -- 2.5 M positions changed 2 to 4 trips and up to 2,783 grid rows so)
        perform set_config('synchronize_seqscans', 'off', true);
        select recordings.source_modified_at into source_version
        from {{ ref('stg_pneuma__recordings') }} as recordings
        where recordings.recording_id = current_setting('pneuma.recording_id');

        -- write: a new table beside the published partition, shaped like the
        -- parent without locking it (the shape check made them equal): a lock
        -- on the parent, held to the commit, would make the DROP of a replaced
        -- partition in another shard's transaction wait for this one, and two
        -- such shards deadlock. Analyzed below, before its audits, and never
        -- written again once published: autovacuum would analyze it a second
        -- time after the commit (0.4 s of a core for 2.5 M positions)
        drop table if exists {{ staged }};
        create table {{ staged }} (like pg_temp.partition_shape)
            with (autovacuum_analyze_threshold = 2147483647);
        alter table {{ staged }} alter column recording_key set not null;
        -- the partition constraint, so that ATTACH needs no validating scan
        alter table {{ staged }} add constraint {{ adapter.quote(staged.identifier ~ '_key') }}
            check (recording_key = {{ recording_key }});
        insert into {{ staged }} {{ select_rows }};
        get diagnostics n_rows = row_count;
        {% for index in config.get('indexes') or [] -%}
        -- named, not left to PostgreSQL: its name from the table's truncated to 63
        -- characters is the same in two shards at once, and one fails on it
        create index {{ adapter.quote(staged.identifier ~ '_i' ~ loop.index0) }} on {{ staged }}
            using {{ index.get('type', 'btree') }} ({{ index['columns'] | join(', ') }})
            {%- if index.get('type') == 'brin' %} with (pages_per_range = {{ (config.get('meta') or {}).get('brin_pages_per_range', 4) | int }}){% endif %};
        {% endfor -%}
        analyze {{ staged }};

        -- audit: row conditions in one scan, then each macro audit
        {% for audit in row_audits -%}
        {%- if loop.first %}
        select
            {%- for row_audit in row_audits %}
            jsonb_build_object('audit', {{ sql_text_literal(row_audit['name']) }},
                'severity', {{ sql_text_literal(row_audit.get('severity', 'error')) }},
                'failing_rows', count(*) filter (where ({{ row_audit['row_condition'] }}) is not true))
                {{- ',' if not loop.last }}
            {%- endfor %}
        into {% for row_audit in row_audits %}row_finding_{{ loop.index0 }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ staged }};
        {%- endif %}
        {%- endfor %}
        {% for row_audit in row_audits -%}
        findings := findings || row_finding_{{ loop.index0 }};
        {% endfor -%}
        {% for audit in macro_audits -%}
        select count(*) into failing
        from ({{ context[audit['macro']](staged, **audit.get('args', {})) }}) as failing_rows;
        findings := findings || jsonb_build_object('audit', {{ sql_text_literal(audit['name']) }},
            'severity', {{ sql_text_literal(audit.get('severity', 'error')) }}, 'failing_rows', failing);
        {% endfor -%}
        findings := coalesce((
            select jsonb_agg(finding) from jsonb_array_elements(findings) as found (finding)
            where (finding ->> 'failing_rows')::bigint > 0
        ), '[]');

        is_published := not exists (
            select 1 from jsonb_array_elements(findings) as found (finding)
            where finding ->> 'severity' = 'error'
        );
        if is_published then
            -- publish: swap the new partition in
            drop table if exists {{ partition }};
            alter table {{ staged }} rename to {{ adapter.quote(partition.identifier) }};
            {% for index in config.get('indexes') or [] -%}
            alter index {{ storage_relation(staged.identifier ~ '_i' ~ loop.index0) }}
                rename to {{ adapter.quote(partition.identifier ~ '_i' ~ loop.index0) }};
            {% endfor -%}
            alter table {{ parent }} attach partition {{ partition }}
                for values in ({{ recording_key }});
        else
            -- quarantine: the published partition, if any, stays
            drop table {{ staged }};
        end if;
        insert into {{ publications }} as publication (
            model_name, recording_key, published_version, published_by, published_at,
            n_rows, attempted_version, attempted_by, attempted_at, quality_status,
            failed_audits
        )
        -- published_*: this attempt's if it published, else (on conflict) the former ones
        values (
            {{ sql_text_literal(model_name) }}, {{ recording_key }},
            {%- for value in ['source_version', sql_text_literal(invocation_id), 'now()', 'n_rows'] %}
            case when is_published then {{ value }} end,
            {%- endfor %}
            source_version, {{ sql_text_literal(invocation_id) }}, now(),
            case when is_published then 'published' else 'quarantined' end, findings
        )
        on conflict (model_name, recording_key) do update set
            {%- for column in ['published_version', 'published_by', 'published_at', 'n_rows'] %}
            {{ column }} = case
                when is_published then excluded.{{ column }} else publication.{{ column }}
            end,
            {%- endfor %}
            attempted_version = excluded.attempted_version,
            attempted_by = excluded.attempted_by,
            attempted_at = excluded.attempted_at,
            quality_status = excluded.quality_status,
            failed_audits = excluded.failed_audits;
    end
    $write_audit_publish$
    {%- endset -%}
    {%- call statement('write_audit_publish') -%}
        {{ write_audit_publish | replace(current_recording_key() | trim, recording_key | string) }}
    {%- endcall -%}
    {{ adapter.commit() }}

    {#- report what the block decided -#}
    {%- set outcome_sql -%}
        select quality_status, failed_audits::text
        from {{ publications }}
        where model_name = {{ sql_text_literal(model_name) }} and recording_key = {{ recording_key }}
    {%- endset -%}
    {%- set outcome = run_query(outcome_sql).rows[0] -%}
    {%- set described = [] -%}
    {%- for finding in fromjson(outcome[1]) -%}
        {%- do described.append(finding['audit'] ~ ' (' ~ finding['failing_rows'] ~ ' rows, '
            ~ finding['severity'] ~ ')') -%}
    {%- endfor -%}
    {%- if outcome[0] == 'quarantined' -%}
        {%- do quarantined.append(recording_id) -%}
        {%- do log("QUARANTINED recording \"" ~ recording_id ~ "\" in " ~ model_name
            ~ ": failed audits " ~ (described | join(', '))
            ~ "; its previously published version, if any, stays", info=true) -%}
    {%- elif described -%}
        {%- do log("published recording \"" ~ recording_id ~ "\" in " ~ model_name
            ~ " with warnings: " ~ (described | join(', ')), info=true) -%}
    {%- endif -%}
{%- endmacro %}


{% macro partitioned_ancestors(node) -%}
    {#- The partitioned marts a model reads, directly or through views. -#}
    {%- set found = [] -%}
    {%- set queue = node.depends_on.nodes | list -%}
    {%- for node_id in queue if node_id in graph.nodes -%}
        {%- set upstream = graph.nodes[node_id] -%}
        {%- if upstream.config.materialized == 'partitioned_by_recording' -%}
            {%- do found.append(publication_name(upstream)) if publication_name(upstream) not in found -%}
        {%- elif upstream.config.materialized in ('view', 'ephemeral') -%}
            {%- do queue.extend(upstream.depends_on.nodes) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{% macro publication_name(node) -%}
    {#- The name a partitioned mart publishes under (its storage, its rows in
        recording_publications): its own, or for a shard the model it is of. -#}
    {{ return(((node.config.meta or {}).get('recording_shard') or {}).get('of') or node.alias or node.name) }}
{%- endmacro %}
