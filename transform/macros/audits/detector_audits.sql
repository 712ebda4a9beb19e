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
        The two positions come from the vehicle's arrays in staging, which the
        stored points reconcile with exactly: elements frame_index and
        frame_index + 1 (arrays count from 1), sliced once per crossing (each
        subscript of a TOASTed array decompresses it again). A scan of the
        recording's 2.5 M positions for its ~1,000 crossings took 0.9 s, this
        0.1 s. -#}
    select crossings.detector_id, crossings.track_id, crossings.frame_index
    from {{ relation }} as crossings
    left join {{ ref('stg_pneuma__trajectories') }} as vehicles
        on vehicles.recording_id = {{ current_recording_id() }}
        and crossings.track_id = vehicles.track_id
    left join lateral (
        select
            vehicles.time_s[crossings.frame_index:crossings.frame_index + 1] as time_s,
            vehicles.speed_kmh[crossings.frame_index:crossings.frame_index + 1] as speed_kmh,
            vehicles.lat[crossings.frame_index:crossings.frame_index + 1] as lat,
            vehicles.lon[crossings.frame_index:crossings.frame_index + 1] as lon
        offset 0  -- one slice of each array per crossing, not one per reference below
    ) as step on true
    where
        vehicles.track_id is null
        or crossings.frame_index < 1
        or cardinality(step.time_s) is distinct from 2
        or crossings.time_s not between step.time_s[1] - 1e-6 and step.time_s[2] + 1e-6
        or crossings.speed_kmh not between least(step.speed_kmh[1], step.speed_kmh[2]) - 1e-4
            and greatest(step.speed_kmh[1], step.speed_kmh[2]) + 1e-4
        or crossings.lat not between least(step.lat[1], step.lat[2]) - 1e-7
            and greatest(step.lat[1], step.lat[2]) + 1e-7
        or crossings.lon not between least(step.lon[1], step.lon[2]) - 1e-7
            and greatest(step.lon[1], step.lon[2]) + 1e-7
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
