{% macro audit_raw_arrays_have_equal_lengths(relation) -%}
    {#- The six arrays of each vehicle of the recording are parallel: unnest
        would pad a short one with nulls. Read from the raw rows of this
        recording only (every raw version of it). -#}
    select
        track_id,
        _sdc_modified_at
    from {{ source('pneuma', 'trajectories') }}
    where
        recording_id = current_setting('pneuma.recording_id')
        and (
            coalesce(cardinality(time_s), 0) = 0
            or cardinality(lat) is distinct from cardinality(time_s)
            or cardinality(lon) is distinct from cardinality(time_s)
            or cardinality(speed_kmh) is distinct from cardinality(time_s)
            or cardinality(lon_acc_ms2) is distinct from cardinality(time_s)
            or cardinality(lat_acc_ms2) is distinct from cardinality(time_s)
        )
{%- endmacro %}
