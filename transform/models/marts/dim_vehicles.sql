with

vehicles as (

    select * from {{ ref('stg_pneuma__vehicles') }}

),

recordings as (

    select * from {{ ref('stg_pneuma__recordings') }}

),

vehicle_types as (

    select * from {{ ref('vehicle_types') }}

),

final as (

    select
        ---------- ids
        vehicles.vehicle_id,
        vehicles.recording_id,
        vehicles.track_id,

        ---------- strings
        vehicles.vehicle_type,

        ---------- numerics
        vehicle_types.length_m,
        vehicle_types.width_m,
        vehicles.n_points as n_positions,
        vehicles.traveled_distance_m,
        vehicles.avg_speed_kmh,
        vehicles.first_time_s,
        vehicles.last_time_s,
        {{ round_float('vehicles.last_time_s - vehicles.first_time_s', 3) }} as duration_s,

        ---------- timestamps
        recordings.timeline_origin_at + vehicles.first_time_s * interval '1 second'
            as first_seen_at,
        recordings.timeline_origin_at + vehicles.last_time_s * interval '1 second'
            as last_seen_at

    from vehicles
    inner join recordings
        on vehicles.recording_id = recordings.recording_id
    left join vehicle_types
        on vehicles.vehicle_type = vehicle_types.vehicle_type

)

select * from final
