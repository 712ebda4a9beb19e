-- Each travel time runs between two crossings of the vehicle, at two
-- different detectors: departure and arrival are those crossings' times and
-- travel_time_s is their difference. Legs written by this run only
-- (test_all_rows: all).
select
    legs.recording_id,
    legs.track_id,
    legs.from_detector_id,
    legs.to_detector_id,
    legs.departed_frame_index,
    legs.travel_time_s,
    arrival.time_s - departure.time_s as crossing_time_difference_s
from {{ ref('fct_detector_travel_times') }} as legs
left join {{ ref('fct_detector_crossings') }} as departure
    on legs.recording_id = departure.recording_id
    and legs.track_id = departure.track_id
    and legs.from_detector_id = departure.detector_id
    and legs.departed_frame_index = departure.frame_index
left join {{ ref('fct_detector_crossings') }} as arrival
    on legs.recording_id = arrival.recording_id
    and legs.track_id = arrival.track_id
    and legs.to_detector_id = arrival.detector_id
    and legs.arrived_frame_index = arrival.frame_index
where
    {{ rows_written_by_this_run('legs') }}
    and (
        departure.detector_id is null
        or arrival.detector_id is null
        or legs.from_detector_id = legs.to_detector_id
        or legs.travel_time_s <> arrival.time_s - departure.time_s
        or legs.departed_at <> departure.crossed_at
        or legs.arrived_at <> arrival.crossed_at
    )
