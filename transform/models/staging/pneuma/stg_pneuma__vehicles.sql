with

source as (

    {{ select_current_version(source('pneuma', 'vehicles')) }}

),

renamed as (

    select
        ---------- ids
        recording_id::text as recording_id,
        track_id::integer as track_id,
        recording_id::text || '/' || track_id::text as vehicle_id,

        ---------- strings
        trim(vehicle_type::text) as vehicle_type,
        _sdc_path::text as source_path,

        ---------- numerics
        traveled_distance_m::double precision as traveled_distance_m,
        avg_speed_kmh::double precision as avg_speed_kmh,
        n_points::integer as n_points,
        first_time_s::double precision as first_time_s,
        last_time_s::double precision as last_time_s,

        ---------- timestamps
        {{ to_utc_timestamptz('_sdc_modified_at') }} as source_modified_at,

        ---------- loader metadata
        {{ loader_metadata_columns(source('pneuma', 'vehicles')) }}

    from source

)

select * from renamed
