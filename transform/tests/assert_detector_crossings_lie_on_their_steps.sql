-- A crossing lies on its step: its time, speed and position between those of
-- the step's two positions (frame_index - 1 and frame_index). Crossings
-- written by this run only (test_all_rows: all).
select
    crossings.detector_id,
    crossings.recording_id,
    crossings.track_id,
    crossings.frame_index,
    crossings.time_s,
    previous.time_s as previous_time_s,
    points.time_s as point_time_s
from {{ ref('fct_detector_crossings') }} as crossings
left join {{ ref('fct_trajectory_points') }} as points
    on crossings.recording_id = points.recording_id
    and crossings.track_id = points.track_id
    and crossings.frame_index = points.frame_index
left join {{ ref('fct_trajectory_points') }} as previous
    on crossings.recording_id = previous.recording_id
    and crossings.track_id = previous.track_id
    and crossings.frame_index - 1 = previous.frame_index
where
    {{ rows_written_by_this_run('crossings') }}
    and (
        points.frame_index is null
        or previous.frame_index is null
        -- the stored values are rounded to 1e-6 s, 1e-4 km/h and 1e-7 degree
        or crossings.time_s not between previous.time_s - 1e-6 and points.time_s + 1e-6
        or crossings.speed_kmh not between least(previous.speed_kmh, points.speed_kmh) - 1e-4
            and greatest(previous.speed_kmh, points.speed_kmh) + 1e-4
        or crossings.lat not between least(previous.lat, points.lat) - 1e-7
            and greatest(previous.lat, points.lat) + 1e-7
        or crossings.lon not between least(previous.lon, points.lon) - 1e-7
            and greatest(previous.lon, points.lon) + 1e-7
    )
