with

source as (

    {{ select_current_version(source('pneuma', 'trajectories')) }}

),

renamed as (

    select
        ---------- ids
        recording_id::text as recording_id,
        track_id::integer as track_id,

        ---------- strings
        _sdc_path::text as source_path,

        ---------- numerics: parallel arrays, one element per position
        cardinality(time_s) as n_positions,
        time_s::double precision[] as time_s,
        lat::double precision[] as lat,
        lon::double precision[] as lon,
        speed_kmh::double precision[] as speed_kmh,
        lon_acc_ms2::double precision[] as lon_acc_ms2,
        lat_acc_ms2::double precision[] as lat_acc_ms2,

        ---------- timestamps
        {{ to_utc_timestamptz('_sdc_modified_at') }} as source_modified_at,

        ---------- loader metadata
        {{ loader_metadata_columns(source('pneuma', 'trajectories')) }}

    from source

)

select * from renamed
