-- Partitioned by recording: built for one recording at a time. Every input is
-- filtered on that recording, and the positions are aggregated before any join,
-- so the plan cannot multiply them by a misestimated join.

with

points as (

    select * from {{ ref('fct_trajectory_points') }}
    where recording_key = {{ current_recording_key() }}

),

vehicles as (

    select * from {{ ref('dim_vehicles') }}
    where recording_id = {{ current_recording_id() }}

),

recordings as (

    select * from {{ ref('stg_pneuma__recordings') }}
    where recording_id = {{ current_recording_id() }}

),

binned as (

    -- a step (previous position -> this one) counts in the cell and bin of
    -- its end; at 25 fps a step is under 1 m, far below a cell
    select
        recording_key,
        track_id,
        floor(time_s / {{ var('time_bin_s') }})::integer as time_bin_index,
        {{ grid_cell_x('lon') }} as cell_x,
        {{ grid_cell_y('lat') }} as cell_y,
        speed_kmh,
        coalesce(step_distance_m, 0) as step_distance_m,
        coalesce(step_time_s, 0) as step_time_s
    from points

),

vehicle_cells as materialized (

    -- one row per vehicle, cell and bin: counting these rows gives the
    -- vehicles with hash aggregations instead of a count(distinct) that
    -- sorts every position; the type joins the few aggregated rows.
    -- Materialized: computed once, whatever the plan joins it to
    select
        binned.recording_key,
        binned.time_bin_index,
        binned.cell_x,
        binned.cell_y,
        binned.track_id,
        count(*) as n_positions,
        sum(binned.speed_kmh) as sum_speed_kmh,
        sum(binned.step_distance_m) as total_distance_m,
        sum(binned.step_time_s) as total_time_s
    from binned
    group by
        binned.recording_key,
        binned.time_bin_index,
        binned.cell_x,
        binned.cell_y,
        binned.track_id

),

typed_vehicle_cells as (

    select
        vehicle_cells.*,
        vehicles.vehicle_type
    from vehicle_cells
    inner join vehicles
        on vehicle_cells.track_id = vehicles.track_id

),

cells as (

    select
        recording_key,
        time_bin_index,
        cell_x,
        cell_y,
        vehicle_type,
        count(*)::integer as n_vehicles,
        sum(n_positions)::integer as n_positions,
        sum(sum_speed_kmh) / sum(n_positions) as mean_speed_kmh,
        sum(total_distance_m) as total_distance_m,
        sum(total_time_s) as total_time_s
    from typed_vehicle_cells
    group by recording_key, time_bin_index, cell_x, cell_y, vehicle_type

),

final as (

    select
        ---------- ids
        cells.recording_key,
        recordings.recording_id,
        cells.time_bin_index,
        cells.cell_x,
        cells.cell_y,
        cells.cell_x || ':' || cells.cell_y as cell_id,

        ---------- strings
        cells.vehicle_type,

        ---------- numerics
        {{ grid_cell_center_lat('cells.cell_y') }} as cell_center_lat,
        {{ grid_cell_center_lon('cells.cell_x') }} as cell_center_lon,
        cells.n_vehicles,
        cells.n_positions,
        cells.mean_speed_kmh,
        cells.total_distance_m,
        cells.total_time_s,
        -- Edie's generalised definitions over the cell (length L = cell side)
        -- and the bin (duration T): q = sum of distances / (L T),
        -- k = sum of times / (L T), v = q / k
        {{ round_float(
            'cells.total_distance_m * 3600.0 / ('
            ~ var('grid_cell_size_m') ~ ' * ' ~ var('time_bin_s') ~ ')', 3
        ) }} as flow_veh_per_h,
        {{ round_float(
            'cells.total_time_s * 1000.0 / ('
            ~ var('grid_cell_size_m') ~ ' * ' ~ var('time_bin_s') ~ ')', 3
        ) }} as density_veh_per_km,
        case
            when cells.total_time_s > 0
                then {{ round_float('cells.total_distance_m / cells.total_time_s * 3.6', 3) }}
        end as space_mean_speed_kmh,

        ---------- timestamps
        recordings.timeline_origin_at
        + cells.time_bin_index * {{ var('time_bin_s') }} * interval '1 second'
            as bin_start_at,
        recordings.timeline_origin_at
        + (cells.time_bin_index + 1) * {{ var('time_bin_s') }} * interval '1 second'
            as bin_end_at

    from cells
    cross join recordings

)

select * from final
