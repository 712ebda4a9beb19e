-- Every position in its stored form (~90 bytes a row), the rows of the
-- storage model fct_trajectory_points_packed and its shards. Values written
-- with a fixed number of decimals are exact integer codes (scaled_integer;
-- code_of_rounded for the measures int_trajectory_points_measured rounded);
-- lat, lon and observed_at stay float8 and timestamptz so that the BRIN over
-- them answers area and time filters on the published view directly. time_s
-- is not stored: observed_at - the timeline origin gives it back to the
-- microsecond, as exact as the file's 6 decimals. Column order packs the row
-- without alignment holes. One select, no CTEs: PostgreSQL never flattens a
-- view with a WITH into the query that reads it (one more copy of every
-- position).

select
    points.recording_id,
    points.track_id,
    points.frame_index,
    {{ scaled_integer('points.speed_kmh', 4) }} as speed_e4,
    case
        -- observed_at holds microseconds: a time_s with more decimals is not exact
        when round(points.time_s * 1e6::double precision) / 1e6::double precision
            = points.time_s
            then recordings.timeline_origin_at + points.time_s * interval '1 second'
    end as observed_at,
    points.lat,
    points.lon,
    {{ scaled_integer('points.lon_acc_ms2', 4) }} as lon_acc_e4,
    {{ scaled_integer('points.lat_acc_ms2', 4) }} as lat_acc_e4,
    {{ scaled_integer('points.step_time_s', 3) }} as step_time_ms,
    -- a haversine in [0, pi R] (beyond 2147 km, no integer mm) and a
    -- bearing in [0, 360], both of finite numbers (the tap rejects others)
    {{ code_of_rounded('points.step_distance_m', 3, range_fits_integer=false) }}
        as step_distance_mm,
    {{ code_of_rounded('points.heading_deg', 2) }} as heading_cdeg

from {{ ref('int_trajectory_points_measured') }} as points
inner join {{ ref('stg_pneuma__recordings') }} as recordings
    on points.recording_id = recordings.recording_id
