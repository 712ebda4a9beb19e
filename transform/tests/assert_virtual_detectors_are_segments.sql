-- A detector is a segment: its start and end differ (a point would cross nothing).
select detector_id, start_lat, start_lon, end_lat, end_lon
from {{ ref('virtual_detectors') }}
where start_lat = end_lat and start_lon = end_lon
