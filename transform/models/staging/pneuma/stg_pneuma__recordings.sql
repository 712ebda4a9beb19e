with

source as (

    {{ select_current_version(source('pneuma', 'recordings')) }}

),

renamed as (

    select
        ---------- ids
        recording_id::text as recording_id,

        ---------- strings
        source_uri::text as source_uri,
        layout::text as layout,
        _sdc_path::text as source_path,

        ---------- numerics
        drone::integer as drone,
        file_size_bytes::bigint as file_size_bytes,
        n_vehicles::integer as n_vehicles,
        n_points::bigint as n_points,
        n_invalid_rows::bigint as n_invalid_rows,

        ---------- dates and local times of day
        recorded_on::date as recorded_on,
        window_start::time as window_start_local,
        window_end::time as window_end_local,

        ---------- timestamps
        (recorded_on::date + window_start::time)
        at time zone '{{ var("local_time_zone") }}' as recording_start_at,
        (recorded_on::date + window_end::time)
        at time zone '{{ var("local_time_zone") }}' as recording_end_at,
        -- time_s = 0 of the recording: its nominal start, or, for a file
        -- outside the naming scheme (e.g. sample.csv), the Unix epoch
        coalesce(
            (recorded_on::date + window_start::time) at time zone '{{ var("local_time_zone") }}',
            timestamptz '1970-01-01 00:00:00+00'
        ) as timeline_origin_at,
        {{ to_utc_timestamptz('file_modified_at') }} as file_modified_at,
        {{ to_utc_timestamptz('_sdc_modified_at') }} as source_modified_at,

        ---------- loader metadata
        {{ loader_metadata_columns(source('pneuma', 'recordings')) }}

    from source

)

select * from renamed
