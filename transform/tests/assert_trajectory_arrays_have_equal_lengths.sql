-- The six arrays of a vehicle are parallel: unnest would pad a short one with nulls.
select
    recording_id,
    track_id,
    n_positions,
    cardinality(lat) as n_lat,
    cardinality(lon) as n_lon,
    cardinality(speed_kmh) as n_speed,
    cardinality(lon_acc_ms2) as n_lon_acc,
    cardinality(lat_acc_ms2) as n_lat_acc
from {{ ref('stg_pneuma__trajectories') }}
where
    n_positions = 0
    or cardinality(lat) <> n_positions
    or cardinality(lon) <> n_positions
    or cardinality(speed_kmh) <> n_positions
    or cardinality(lon_acc_ms2) <> n_positions
    or cardinality(lat_acc_ms2) <> n_positions
