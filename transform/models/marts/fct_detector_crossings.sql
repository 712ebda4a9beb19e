-- for the materialization and the audits:
-- depends_on: {{ ref('stg_pneuma__vehicles') }}
-- depends_on: {{ ref('stg_pneuma__recordings') }}
-- depends_on: {{ ref('stg_pneuma__trajectories') }}
-- Partitioned by recording (dbt_project.yml): built one recording at a time.

{#- A step (the segment from a vehicle's previous position to a position)
    crosses a detector when it reaches or passes the detector's line from one
    side, at a point of the detector (end points included). A step that
    starts on the line counts only as the vehicle's first: so a path that
    touches the line at one position, or runs along it, counts once. -#}
{%- set margin_m = var('detector_search_margin_m') %}
{#- a step: its end position and its previous one, both also projected -#}
{%- set step_columns = [
    'detector_id', 'recording_key', 'recording_id', 'track_id', 'frame_index', 'time_s',
    'lat', 'lon', 'speed_kmh', 'observed_at', 'x_m', 'y_m',
    'previous_frame_index', 'previous_time_s', 'previous_lat', 'previous_lon',
    'previous_speed_kmh', 'previous_observed_at', 'previous_x_m', 'previous_y_m',
] %}


with

detectors as (

    select
        detector_id,
        {{ detector_x_m('start_lon') }} as start_x_m,
        {{ detector_y_m('start_lat') }} as start_y_m,
        {{ detector_x_m('end_lon') }} as end_x_m,
        {{ detector_y_m('end_lat') }} as end_y_m
    from {{ ref('virtual_detectors') }}

),

detector_cells as (

    -- the cells within one margin of a detector's bounding box: a crossing
    -- step no longer than the margin has both its positions in them. One
    -- series per detector (cells numbered row by row), not one per axis: the
    -- planner assumes 1000 rows a series, and a million per detector would
    -- make it sort every position rather than hash these few cells
    select
        boxes.detector_id,
        boxes.min_cell_x + cell_number % boxes.n_cells_x as cell_x,
        boxes.min_cell_y + cell_number / boxes.n_cells_x as cell_y
    from (
        select
            detector_id,
            {{ detector_cell('least(start_x_m, end_x_m) - ' ~ margin_m) }} as min_cell_x,
            {{ detector_cell('least(start_y_m, end_y_m) - ' ~ margin_m) }} as min_cell_y,
            {{ detector_cell('greatest(start_x_m, end_x_m) + ' ~ margin_m) }}
            - {{ detector_cell('least(start_x_m, end_x_m) - ' ~ margin_m) }} + 1 as n_cells_x,
            {{ detector_cell('greatest(start_y_m, end_y_m) + ' ~ margin_m) }}
            - {{ detector_cell('least(start_y_m, end_y_m) - ' ~ margin_m) }} + 1 as n_cells_y
        from detectors
    ) as boxes
    cross join lateral generate_series(0, boxes.n_cells_x * boxes.n_cells_y - 1) as cell_number

),

points as (

    -- this recording's points only: the filter of the materialization
    -- cannot reach them through the window and the union below
    select
        recording_key,
        recording_id,
        track_id,
        frame_index,
        time_s,
        lat,
        lon,
        speed_kmh,
        step_distance_m,
        observed_at,
        {{ detector_x_m('lon') }} as x_m,
        {{ detector_y_m('lat') }} as y_m
    from {{ ref('fct_trajectory_points') }}
    where recording_key = {{ current_recording_key() }}

),

cell_detectors as (

    -- one row per cell: unique keys tell the planner that hashing the cells
    -- (not sorting or hashing the points) is the cheap side of the join
    select
        cell_x,
        cell_y,
        array_agg(detector_id order by detector_id) as detector_ids
    from detector_cells
    group by cell_x, cell_y

),

candidates as materialized (

    -- The spatial prefilter, in one pass over the points (materialised: the
    -- near and the long steps both read it): each position's cell probes the
    -- hash of the detectors' cells (a few hundred) and keeps the positions
    -- near a detector, once per detector; the ends of the rare steps longer
    -- than half the margin (tracking gaps) come along with a null detector.
    -- Half: step_distance_m is haversine, the cells are projected.
    select
        points.*,
        unnest(coalesce(cell_detectors.detector_ids, array[null::text])) as detector_id
    from points
    left join cell_detectors
        on {{ detector_cell('points.x_m') }} = cell_detectors.cell_x
        and {{ detector_cell('points.y_m') }} = cell_detectors.cell_y
    where
        cell_detectors.cell_x is not null
        or points.step_distance_m > {{ margin_m }} / 2.0

),

near_steps as (

    -- steps of at most half the margin that end near a detector: both of
    -- their positions are candidates of that detector, consecutive frames
    select
        detector_id,
        recording_key,
        recording_id,
        track_id,
        frame_index,
        time_s,
        lat,
        lon,
        speed_kmh,
        observed_at,
        x_m,
        y_m,
        step_distance_m,
        lag(frame_index) over vehicle_near_detector as previous_frame_index,
        lag(time_s) over vehicle_near_detector as previous_time_s,
        lag(lat) over vehicle_near_detector as previous_lat,
        lag(lon) over vehicle_near_detector as previous_lon,
        lag(speed_kmh) over vehicle_near_detector as previous_speed_kmh,
        lag(observed_at) over vehicle_near_detector as previous_observed_at,
        lag(x_m) over vehicle_near_detector as previous_x_m,
        lag(y_m) over vehicle_near_detector as previous_y_m
    from candidates
    where detector_id is not null
    window vehicle_near_detector as (
        partition by detector_id, recording_key, track_id order by frame_index
    )

),

long_step_ends as (

    select distinct on (recording_key, track_id, frame_index)
        recording_key,
        recording_id,
        track_id,
        frame_index,
        time_s,
        lat,
        lon,
        speed_kmh,
        observed_at,
        x_m,
        y_m
    from candidates
    where step_distance_m > {{ margin_m }} / 2.0
    order by recording_key, track_id, frame_index

),

long_steps as (

    -- a long step against every detector its bounding box overlaps (its
    -- start: a probe of the partition's BRIN on the partition key)
    select
        detectors.detector_id,
        long_step_ends.*,
        previous.frame_index as previous_frame_index,
        previous.time_s as previous_time_s,
        previous.lat as previous_lat,
        previous.lon as previous_lon,
        previous.speed_kmh as previous_speed_kmh,
        previous.observed_at as previous_observed_at,
        {{ detector_x_m('previous.lon') }} as previous_x_m,
        {{ detector_y_m('previous.lat') }} as previous_y_m
    from long_step_ends
    inner join {{ ref('fct_trajectory_points') }} as previous
        -- the key repeated: the planner does not carry it over to here
        on previous.recording_key = {{ current_recording_key() }}
        and long_step_ends.recording_key = previous.recording_key
        and long_step_ends.track_id = previous.track_id
        and long_step_ends.frame_index - 1 = previous.frame_index
    inner join detectors
        on greatest({{ detector_x_m('previous.lon') }}, long_step_ends.x_m)
        >= least(detectors.start_x_m, detectors.end_x_m)
        and least({{ detector_x_m('previous.lon') }}, long_step_ends.x_m)
        <= greatest(detectors.start_x_m, detectors.end_x_m)
        and greatest({{ detector_y_m('previous.lat') }}, long_step_ends.y_m)
        >= least(detectors.start_y_m, detectors.end_y_m)
        and least({{ detector_y_m('previous.lat') }}, long_step_ends.y_m)
        <= greatest(detectors.start_y_m, detectors.end_y_m)

),

steps as (

    select {{ step_columns | join(', ') }}
    from near_steps
    where
        previous_frame_index = frame_index - 1
        and step_distance_m <= {{ margin_m }} / 2.0

    union all

    select {{ step_columns | join(', ') }}
    from long_steps

),

sides as (

    select
        steps.*,
        detectors.start_x_m,
        detectors.start_y_m,
        detectors.end_x_m,
        detectors.end_y_m,
        {{ side_of_detector('detectors', 'steps.previous_x_m', 'steps.previous_y_m') }}
            as previous_side,
        {{ side_of_detector('detectors', 'steps.x_m', 'steps.y_m') }} as side
    from steps
    inner join detectors
        on steps.detector_id = detectors.detector_id

),

line_crossings as (

    -- the steps that reach or pass the line, and where: a fraction of the
    -- step from its start (0 for a first position on the line)
    select
        sides.*,
        -- +1 from the left to the right (a first position on the line:
        -- towards the right)
        case
            when sides.previous_side > 0 or (sides.previous_side = 0 and sides.side < 0) then 1
            else -1
        end as direction,
        case
            when sides.previous_side = 0 then 0.0
            else sides.previous_side / (sides.previous_side - sides.side)
        end as step_fraction
    from sides
    where
        (
            sides.previous_side != 0
            and (sides.side = 0 or sign(sides.side) != sign(sides.previous_side))
        )
        or (sides.previous_side = 0 and sides.side != 0 and sides.previous_frame_index = 0)

),

detector_crossings as (

    -- ... on the detector itself: the crossing point's position along it,
    -- from 0 at its start to 1 at its end
    select *
    from line_crossings
    where
        (
            (previous_x_m + step_fraction * (x_m - previous_x_m) - start_x_m)
            * (end_x_m - start_x_m)
            + (previous_y_m + step_fraction * (y_m - previous_y_m) - start_y_m)
            * (end_y_m - start_y_m)
        )
        / nullif(power(end_x_m - start_x_m, 2) + power(end_y_m - start_y_m, 2), 0)
        between 0 and 1

),

vehicles as (

    select * from {{ ref('dim_vehicles') }}

),

final as (

    select
        ---------- ids
        detector_crossings.detector_id,
        detector_crossings.recording_key,
        detector_crossings.recording_id,
        detector_crossings.track_id,
        detector_crossings.frame_index,

        ---------- strings
        vehicles.vehicle_type,

        ---------- numerics
        detector_crossings.direction,
        -- rounded to the microsecond (as crossed_at), 1e-4 km/h and ~1 cm:
        -- finer than the files' positions and speeds
        {{ round_float('detector_crossings.step_fraction', 6) }} as step_fraction,
        {{ round_float(interpolated_at_crossing('detector_crossings', 'time_s'), 6) }} as time_s,
        {{ round_float(interpolated_at_crossing('detector_crossings', 'speed_kmh'), 4) }}
            as speed_kmh,
        {{ round_float(interpolated_at_crossing('detector_crossings', 'lat'), 7) }} as lat,
        {{ round_float(interpolated_at_crossing('detector_crossings', 'lon'), 7) }} as lon,

        ---------- timestamps
        {{ interpolated_at_crossing('detector_crossings', 'observed_at') }} as crossed_at

    from detector_crossings
    inner join vehicles
        on detector_crossings.recording_id = vehicles.recording_id
        and detector_crossings.track_id = vehicles.track_id

)

select * from final
