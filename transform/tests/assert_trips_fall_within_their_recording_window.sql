-- A file covers part of the time window in its name: every trip of a recording
-- with a window is seen inside that window (Europe/Athens local time). Trips
-- written by this run only (test_all_rows: all).
select
    trips.recording_id,
    trips.track_id,
    trips.entered_at,
    trips.exited_at,
    recordings.recording_start_at,
    recordings.recording_end_at
from {{ ref('fct_vehicle_trips') }} as trips
inner join {{ ref('dim_recordings') }} as recordings
    on trips.recording_id = recordings.recording_id
where
    {{ rows_written_by_this_run('trips') }}
    and recordings.has_nominal_start
    and (
        trips.entered_at < recordings.recording_start_at
        or trips.exited_at > recordings.recording_end_at
    )
