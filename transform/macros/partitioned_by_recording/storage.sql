{#- The storage behind the partitioned marts (materialization
    partitioned_by_recording), in schema <target schema>_storage:
    - recording_keys: one integer key per recording id, assigned once and never
      reused (so no --full-refresh can renumber published partitions);
    - recording_publications: per model and recording, the version that is
      published (in the marts) and the outcome of the last attempt (published
      or quarantined, with the failing audits). It is updated in the same
      transaction that swaps a partition in, so after a crash it says exactly
      what the marts hold.
    Created by on-run-start, before any model is looked up. -#}

{% macro storage_schema() -%}
    {{ return(target.schema ~ '_storage') }}
{%- endmacro %}

{% macro storage_relation(identifier) -%}
    {{ return(api.Relation.create(
        database=target.database, schema=storage_schema(), identifier=identifier, type='table'
    )) }}
{%- endmacro %}

{% macro sql_text_literal(value) -%}
    {#- A PostgreSQL string literal of a value that the project itself holds
        (a model name, an invocation id), never of one read from a file: those
        stay in tables and reach statements through joins or current_setting().
        Doubling quotes is complete quoting under standard_conforming_strings,
        which the statement below requires. -#}
    {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{% macro create_recording_storage() -%}
    {%- set keys = storage_relation('recording_keys') -%}
    {%- set publications = storage_relation('recording_publications') -%}
    do $$
    begin
        if current_setting('standard_conforming_strings') <> 'on' then
            raise exception 'pneuma_warehouse needs standard_conforming_strings = on';
        end if;
    end
    $$;
    create schema if not exists {{ adapter.quote(storage_schema()) }};
    create table if not exists {{ keys }} (
        recording_key integer generated always as identity primary key,
        recording_id text not null unique
    );
    create table if not exists {{ publications }} (
        model_name text not null,
        recording_key integer not null references {{ keys }} (recording_key),
        -- what the marts hold: the source version, the run and the row count
        published_version timestamptz,
        published_by text,
        published_at timestamptz,
        n_rows bigint,
        -- the last attempt, successful or not
        attempted_version timestamptz not null,
        attempted_by text not null,
        attempted_at timestamptz not null,
        quality_status text not null check (quality_status in ('published', 'quarantined')),
        failed_audits jsonb not null default '[]',
        primary key (model_name, recording_key)
    )
{%- endmacro %}

{% macro current_recording_key() -%}
    {#- The key of the recording that partitioned_by_recording is building.
        The materialization filters each model's rows on it already; a model
        repeats the filter where that filter cannot reach by itself (inside a
        CTE referenced twice, which PostgreSQL materialises). Each recording's
        block replaces this text with the key itself, a constant (see
        build_recording_partition); elsewhere (the shape query, unit tests'
        overrides) it reads the session setting. -#}
    current_setting('pneuma.recording_key')::integer
{%- endmacro %}

{% macro current_recording_id() -%}
    {#- The id of the recording being built (see current_recording_key). -#}
    current_setting('pneuma.recording_id')
{%- endmacro %}
