-- The six arrays of a vehicle are parallel: unnest would pad a short one with
-- nulls. Checked on every raw version (cardinality needs no cast to float).
select
    recording_id,
    track_id,
    _sdc_modified_at,
    cardinality(time_s) as n_time,
    cardinality(lat) as n_lat,
    cardinality(lon) as n_lon,
    cardinality(speed_kmh) as n_speed,
    cardinality(lon_acc_ms2) as n_lon_acc,
    cardinality(lat_acc_ms2) as n_lat_acc
from {{ source('pneuma', 'trajectories') }}
where
    coalesce(cardinality(time_s), 0) = 0
    or cardinality(lat) is distinct from cardinality(time_s)
    or cardinality(lon) is distinct from cardinality(time_s)
    or cardinality(speed_kmh) is distinct from cardinality(time_s)
    or cardinality(lon_acc_ms2) is distinct from cardinality(time_s)
    or cardinality(lat_acc_ms2) is distinct from cardinality(time_s)
