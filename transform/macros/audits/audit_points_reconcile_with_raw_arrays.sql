{% macro audit_points_reconcile_with_raw_arrays(relation) -%}
    {#- The new partition holds exactly the positions of the recording's raw
        arrays: per vehicle of its current version, as many rows as array
        elements, computed from the source itself rather than through staging.
        With unique (track_id, frame_index) (audit_unique), count = n, min = 0
        and max = n - 1 mean the frames are exactly 0 .. n - 1. -#}
    with

    raw_trajectories as (

        select
            raw_rows.track_id::integer as track_id,
            cardinality(raw_rows.time_s)::bigint as n_positions
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
            max(frame_index) + 1 as frame_span
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
{%- endmacro %}
