-- depends_on: {{ ref('stg_pneuma__vehicles') }}, {{ ref('stg_pneuma__recordings') }} (audits)
-- Partitioned by recording: built for one recording at a time, filtered on
-- recording_key, so only that recording's partitions are read.

with

points as (

    select * from {{ ref('fct_trajectory_points') }}
    where recording_key = {{ current_recording_key() }}

),

stop_events as (

    select * from {{ ref('fct_stop_events') }}
    where recording_key = {{ current_recording_key() }}

),

vehicles as (

    select * from {{ ref('dim_vehicles') }}

),


trip_measures as (

    select
        recording_key,
        recording_id,
        track_id,
        count(*)::integer as n_positions,
        min(frame_index) as first_frame_index,
        max(frame_index) as last_frame_index,
        coalesce(sum(step_distance_m), 0) as path_length_m,
        min(time_s) as start_time_s,
        max(time_s) as end_time_s,
        avg(speed_kmh) as mean_speed_kmh,
        max(speed_kmh) as max_speed_kmh,
        percentile_cont(0.85) within group (order by speed_kmh) as p85_speed_kmh,
        min(lon_acc_ms2) as hardest_braking_ms2,
        min(observed_at) as entered_at,
        max(observed_at) as exited_at,
        -- the first and the last position in the same single pass: arrays
        -- compare element by element, so the least [frame, lat, lon] is the
        -- entry (frame_index is an integer, exact as a double)
        min(array[frame_index::double precision, lat, lon]) as entry_position,
        max(array[frame_index::double precision, lat, lon]) as exit_position
    from points
    group by recording_key, recording_id, track_id

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
        trip_measures.recording_id,
        trip_measures.track_id,

        ---------- strings
        vehicles.vehicle_type,

        ---------- numerics
        trip_measures.n_positions,
        {{ round_float('trip_measures.path_length_m', 3) }} as path_length_m,
        {{ round_float('trip_measures.end_time_s - trip_measures.start_time_s', 3) }}
            as duration_s,
        trip_measures.mean_speed_kmh,
        -- path length over duration: the speed a travel-time study would report
        case
            when trip_measures.end_time_s > trip_measures.start_time_s
                then trip_measures.path_length_m
                    / (trip_measures.end_time_s - trip_measures.start_time_s) * 3.6
        end as travel_speed_kmh,
        trip_measures.max_speed_kmh,
        trip_measures.p85_speed_kmh,
        trip_measures.hardest_braking_ms2,
        coalesce(stop_totals.n_stops, 0) as n_stops,
        coalesce(stop_totals.total_stop_time_s, 0) as total_stop_time_s,
        trip_measures.entry_position[2] as entry_lat,
        trip_measures.entry_position[3] as entry_lon,
        trip_measures.exit_position[2] as exit_lat,
        trip_measures.exit_position[3] as exit_lon,

        ---------- timestamps
        trip_measures.entered_at,
        trip_measures.exited_at

    from trip_measures
    inner join vehicles
        on trip_measures.recording_id = vehicles.recording_id
        and trip_measures.track_id = vehicles.track_id
    left join stop_totals
        on trip_measures.recording_key = stop_totals.recording_key
        and trip_measures.track_id = stop_totals.track_id

)

select * from final
