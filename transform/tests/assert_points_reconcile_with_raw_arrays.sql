-- The points fact holds exactly the positions of the raw arrays: per vehicle of
-- each recording's current version, as many rows as array elements, computed
-- here from the source itself rather than through staging. With the unique
-- index on (recording_id, track_id, frame_index), count = n, min = 0 and
-- max = n - 1 mean the frames are exactly 0 .. n - 1.
-- Checked: the recordings whose points this run wrote, plus any raw recording
-- with no points at all (an index probe each); test_all_rows or `dbt test`: all.
with

checked_recordings as (

    select distinct recording_id
    from {{ ref('fct_trajectory_points') }}
    where {{ rows_written_by_this_run() }}
    union
    select raw_recordings.recording_id::text
    from {{ source('pneuma', 'recordings') }} as raw_recordings
    where
        not exists (
            select 1
            from {{ ref('fct_trajectory_points') }} as stored_points
            where stored_points.recording_id = raw_recordings.recording_id::text
        )

),

raw_trajectories as (

    select
        raw_rows.recording_id::text as recording_id,
        raw_rows.track_id::integer as track_id,
        cardinality(raw_rows.time_s)::bigint as n_positions
    from {{ source('pneuma', 'trajectories') }} as raw_rows
    where
        raw_rows._sdc_modified_at = (
            select max(versions._sdc_modified_at) as latest_modified_at
            from {{ source('pneuma', 'trajectories') }} as versions
            where versions.recording_id = raw_rows.recording_id
        )
        -- constant-folded by the planner: true skips checked_recordings entirely
        and (
            {{ tests_all_rows() }}
            or raw_rows.recording_id::text in (
                select checked_recordings.recording_id from checked_recordings
            )
        )

),

fact_points as (

    select
        recording_id,
        track_id,
        count(*) as n_positions,
        min(frame_index) as first_frame,
        max(frame_index) + 1 as frame_span
    from {{ ref('fct_trajectory_points') }}
    where {{ rows_written_by_this_run() }}
    group by recording_id, track_id

)

select
    coalesce(raw_trajectories.recording_id, fact_points.recording_id) as recording_id,
    coalesce(raw_trajectories.track_id, fact_points.track_id) as track_id,
    raw_trajectories.n_positions as raw_positions,
    fact_points.n_positions as fact_positions,
    fact_points.first_frame,
    fact_points.frame_span
from raw_trajectories
full outer join fact_points
    on raw_trajectories.recording_id = fact_points.recording_id
    and raw_trajectories.track_id = fact_points.track_id
where
    raw_trajectories.n_positions is distinct from fact_points.n_positions
    or fact_points.first_frame is distinct from 0
    or fact_points.frame_span is distinct from raw_trajectories.n_positions
