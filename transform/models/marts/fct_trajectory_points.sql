-- The published positions: fct_trajectory_points_packed decoded into the
-- units of the file. A view, so it costs no storage; filters on lat, lon and
-- observed_at reach the BRIN of each partition, a recording_id (or
-- recording_key) filter reaches only that recording's partition.
-- depends_on: {{ ref('fct_trajectory_points_packed__shard_1') }} (the other half of the partitions)

-- One select, no CTEs: PostgreSQL never flattens a view with a WITH into the
-- query that reads it, and that extra level copies every position of every
-- scan (0.2 s a recording of 2.5 M positions, for each mart built on it).

select
    ---------- ids
    packed.recording_id,
    packed.recording_key,
    packed.track_id,
    packed.frame_index,

    ---------- numerics
    -- date_part, not extract: the same correctly rounded double (the interval
    -- is whole microseconds), without extract's numeric, at half the cost
    date_part('epoch', packed.observed_at - recordings.timeline_origin_at) as time_s,
    packed.lat,
    packed.lon,
    {{ from_scaled_integer('packed.speed_e4', 4) }} as speed_kmh,
    {{ from_scaled_integer('packed.lon_acc_e4', 4) }} as lon_acc_ms2,
    {{ from_scaled_integer('packed.lat_acc_e4', 4) }} as lat_acc_ms2,
    {{ from_scaled_integer('packed.step_time_ms', 3) }} as step_time_s,
    {{ from_scaled_integer('packed.step_distance_mm', 3) }} as step_distance_m,
    {{ from_scaled_integer('packed.heading_cdeg', 2) }} as heading_deg,

    ---------- timestamps
    packed.observed_at,
    packed.source_modified_at,

    ---------- audit
    packed.dbt_invocation_id

from {{ ref('fct_trajectory_points_packed') }} as packed
inner join {{ ref('stg_pneuma__recordings') }} as recordings
    on packed.recording_id = recordings.recording_id
