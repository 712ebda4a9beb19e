{% macro audit_points_reconcile_with_raw_arrays(relation) -%}
    {#- The new partition holds exactly the positions of the recording's raw
        arrays: per vehicle of its current version, as many rows as array
        elements, computed from the source itself rather than through staging,
        with the frames exactly 0 .. n - 1, each once. That last part compares a
        fingerprint of the frames, the sum of a 64-bit hash of each, with the
        same sum over 0 .. n - 1: a duplicated or missing frame changes it
        (unless hashes collide, ~2^-64), in one hash aggregate over the vehicles
        instead of one over every (track_id, frame_index), 10x the cost. -#}
    with

    raw_trajectories as (

        select
            raw_rows.track_id::integer as track_id,
            cardinality(raw_rows.time_s)::bigint as n_positions,
            (
                select sum(hashint4extended(frame_index, 0))
                -- in a select list: no tuplestore, unlike in FROM
                from (
                    select generate_series(0, cardinality(raw_rows.time_s) - 1) as frame_index
                ) as frames
            ) as frame_fingerprint
        from {{ source('pneuma', 'trajectories') }} as raw_rows
        where
            raw_rows.recording_id = current_setting('pneuma.recording_id')
            and raw_rows._sdc_modified_at = (
                select max(versions._sdc_modified_at)
                from {{ source('pneuma', 'trajectories') }} as versions
                where versions.recording_id = current_setting('pneuma.recording_id')
            )

    ),

    partition_points as (

        select
            track_id,
            count(*) as n_positions,
            min(frame_index) as first_frame,
            max(frame_index) + 1 as frame_span,
            sum(hashint4extended(frame_index, 0)) as frame_fingerprint
        from {{ relation }}
        group by track_id

    )

    select
        coalesce(raw_trajectories.track_id, partition_points.track_id) as track_id,
        raw_trajectories.n_positions as raw_positions,
        partition_points.n_positions as partition_positions
    from raw_trajectories
    full outer join partition_points
        on raw_trajectories.track_id = partition_points.track_id
    where
        raw_trajectories.n_positions is distinct from partition_points.n_positions
        or partition_points.first_frame is distinct from 0
        or partition_points.frame_span is distinct from raw_trajectories.n_positions
        or partition_points.frame_fingerprint is distinct from raw_trajectories.frame_fingerprint
{%- endmacro %}
