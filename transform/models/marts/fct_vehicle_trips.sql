-- depends_on: {{ ref('stg_pneuma__vehicles') }}, {{ ref('stg_pneuma__recordings') }} (audits)
-- Partitioned by recording: built for one recording at a time, every input
-- filtered on it. The sums over positions hash-aggregate the points; what a
-- vehicle's raw row holds already (its first and last position and time, its
-- speeds for the 85th percentile) is read from the row's arrays, without a
-- pass or a sort over the positions.

with

points as (

    select * from {{ ref('fct_trajectory_points') }}
    where recording_key = {{ current_recording_key() }}

),

trajectories as (

    select * from {{ ref('stg_pneuma__trajectories') }}
    where recording_id = {{ current_recording_id() }}

),

stop_events as (

    select * from {{ ref('fct_stop_events') }}
    where recording_key = {{ current_recording_key() }}

),

vehicles as (

    select * from {{ ref('dim_vehicles') }}
    where recording_id = {{ current_recording_id() }}

),

trip_measures as (

    select
        recording_key,
        track_id,
        count(*)::integer as n_positions,
        coalesce(sum(step_distance_m), 0) as path_length_m,
        avg(speed_kmh) as mean_speed_kmh,
        max(speed_kmh) as max_speed_kmh,
        min(lon_acc_ms2) as hardest_braking_ms2,
        min(observed_at) as entered_at,
        max(observed_at) as exited_at
    from points
    group by recording_key, track_id

),

trip_ends as (

    -- time increases along a vehicle's arrays (audited on the points), so
    -- the first and last elements are its entry and exit
    select
        track_id,
        time_s[1] as start_time_s,
        time_s[n_positions] as end_time_s,
        lat[1] as entry_lat,
        lon[1] as entry_lon,
        lat[n_positions] as exit_lat,
        lon[n_positions] as exit_lon,
        (
            select percentile_cont(0.85) within group (order by speeds.speed_kmh)
            -- unnest in a select list: no tuplestore, unlike in FROM (a third faster)
            from (select unnest(speed_kmh) as speed_kmh) as speeds
        ) as p85_speed_kmh
    from trajectories

),

stop_totals as (

    select
        recording_key,
        track_id,
        count(*)::integer as n_stops,
        sum(duration_s) as total_stop_time_s
    from stop_events
    group by recording_key, track_id

),

final as (

    select
        ---------- ids
        vehicles.vehicle_id,
        trip_measures.recording_key,
        vehicles.recording_id,
        trip_measures.track_id,

        ---------- strings
        vehicles.vehicle_type,

        ---------- numerics
        trip_measures.n_positions,
        {{ round_float('trip_measures.path_length_m', 3) }} as path_length_m,
        {{ round_float('trip_ends.end_time_s - trip_ends.start_time_s', 3) }} as duration_s,
        trip_measures.mean_speed_kmh,
        -- path length over duration: the speed a travel-time study would report
        case
            when trip_ends.end_time_s > trip_ends.start_time_s
                then trip_measures.path_length_m
                    / (trip_ends.end_time_s - trip_ends.start_time_s) * 3.6
        end as travel_speed_kmh,
        trip_measures.max_speed_kmh,
        trip_ends.p85_speed_kmh,
        trip_measures.hardest_braking_ms2,
        coalesce(stop_totals.n_stops, 0) as n_stops,
        coalesce(stop_totals.total_stop_time_s, 0) as total_stop_time_s,
        trip_ends.entry_lat,
        trip_ends.entry_lon,
        trip_ends.exit_lat,
        trip_ends.exit_lon,

        ---------- timestamps
        trip_measures.entered_at,
        trip_measures.exited_at

    from trip_measures
    inner join vehicles
        on trip_measures.track_id = vehicles.track_id
    inner join trip_ends
        on trip_measures.track_id = trip_ends.track_id
    left join stop_totals
        on trip_measures.recording_key = stop_totals.recording_key
        and trip_measures.track_id = stop_totals.track_id

)

select * from final
