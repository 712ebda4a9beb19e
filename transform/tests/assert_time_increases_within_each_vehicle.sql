-- Each position of a vehicle comes strictly after the one before it; only a
-- vehicle's first position has no step. Rows of this run only (test_all_rows: all).
select
    recording_id,
    track_id,
    frame_index,
    time_s,
    step_time_s
from {{ ref('fct_trajectory_points') }}
where
    {{ rows_written_by_this_run() }}
    and ((frame_index = 0) != (step_time_s is null) or step_time_s <= 0)
