{#- Audits of the detector marts (partitioned_by_recording): each returns
    the failing rows of one recording's new partition. -#}

{% macro audit_detectors_are_in_the_seed(relation, columns=['detector_id']) -%}
    {#- Every detector named in the columns is a row of virtual_detectors. -#}
    {%- for column in columns %}
    select partition_rows.{{ column }} as detector_id
    from {{ relation }} as partition_rows
    where not exists (
        select 1 from {{ ref('virtual_detectors') }} as detectors
        where detectors.detector_id = partition_rows.{{ column }}
    )
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro audit_detector_crossings_lie_on_their_steps(relation) -%}
    {#- A crossing lies on its step: its time, speed and position between
        those of the step's two positions (frame_index - 1 and frame_index),
        within the rounding of the stored values (1e-6 s, 1e-4 km/h, 1e-7°).
        The recording's positions are read once, only those two frames per
        crossing kept (a join of every crossing to all the points of the
        warehouse hashed them all, twice, for every recording). -#}
    with

    step_frames as (

        select track_id, frame_index from {{ relation }}
        union
        select track_id, frame_index - 1 from {{ relation }}

    ),

    step_positions as (

        select points.track_id, points.frame_index, points.time_s, points.speed_kmh,
            points.lat, points.lon
        from {{ ref('fct_trajectory_points') }} as points
        inner join step_frames
            on points.track_id = step_frames.track_id
            and points.frame_index = step_frames.frame_index
        where points.recording_key = {{ current_recording_key() }}

    )

    select crossings.detector_id, crossings.track_id, crossings.frame_index
    from {{ relation }} as crossings
    left join step_positions as points
        on crossings.track_id = points.track_id
        and crossings.frame_index = points.frame_index
    left join step_positions as previous
        on crossings.track_id = previous.track_id
        and crossings.frame_index - 1 = previous.frame_index
    where
        points.frame_index is null
        or previous.frame_index is null
        or crossings.time_s not between previous.time_s - 1e-6 and points.time_s + 1e-6
        or crossings.speed_kmh not between least(previous.speed_kmh, points.speed_kmh) - 1e-4
            and greatest(previous.speed_kmh, points.speed_kmh) + 1e-4
        or crossings.lat not between least(previous.lat, points.lat) - 1e-7
            and greatest(previous.lat, points.lat) + 1e-7
        or crossings.lon not between least(previous.lon, points.lon) - 1e-7
            and greatest(previous.lon, points.lon) + 1e-7
{%- endmacro %}

{% macro audit_detector_flow_counts_every_crossing(relation) -%}
    {#- Per detector, the flow bins count every crossing of the recording once. -#}
    with

    flow as (
        select detector_id, sum(vehicles) as vehicles
        from {{ relation }}
        group by detector_id
    ),

    crossings as (
        select detector_id, count(*) as vehicles
        from {{ ref('fct_detector_crossings') }}
        where recording_key = {{ current_recording_key() }}
        group by detector_id
    )

    select
        coalesce(flow.detector_id, crossings.detector_id) as detector_id,
        flow.vehicles as flow_vehicles,
        crossings.vehicles as crossings
    from flow
    full outer join crossings
        on flow.detector_id = crossings.detector_id
    where flow.vehicles is distinct from crossings.vehicles
{%- endmacro %}

{% macro audit_detector_travel_times_match_their_crossings(relation) -%}
    {#- Each travel time runs between two crossings of the vehicle at two
        different detectors: departure and arrival are those crossings' times,
        travel_time_s is their difference. -#}
    select legs.track_id, legs.from_detector_id, legs.departed_frame_index
    from {{ relation }} as legs
    left join {{ ref('fct_detector_crossings') }} as departure
        on departure.recording_key = {{ current_recording_key() }}
        and legs.recording_key = departure.recording_key
        and legs.track_id = departure.track_id
        and legs.from_detector_id = departure.detector_id
        and legs.departed_frame_index = departure.frame_index
    left join {{ ref('fct_detector_crossings') }} as arrival
        on arrival.recording_key = {{ current_recording_key() }}
        and legs.recording_key = arrival.recording_key
        and legs.track_id = arrival.track_id
        and legs.to_detector_id = arrival.detector_id
        and legs.arrived_frame_index = arrival.frame_index
    where
        departure.detector_id is null
        or arrival.detector_id is null
        or legs.from_detector_id = legs.to_detector_id
        or legs.travel_time_s <> arrival.time_s - departure.time_s
        or legs.departed_at <> departure.crossed_at
        or legs.arrived_at <> arrival.crossed_at
{%- endmacro %}
