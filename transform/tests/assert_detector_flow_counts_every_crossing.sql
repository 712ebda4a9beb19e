-- Per recording and detector, the flow bins count every crossing once.
-- Recordings written by this run only (test_all_rows: all).
with

flow as (

    select recording_id, detector_id, sum(vehicles) as vehicles
    from {{ ref('agg_detector_flow') }}
    where {{ rows_written_by_this_run() }}
    group by recording_id, detector_id

),

crossings as (

    select recording_id, detector_id, count(*) as vehicles
    from {{ ref('fct_detector_crossings') }}
    where recording_id in (
        select recording_id from {{ ref('agg_detector_flow') }}
        where {{ rows_written_by_this_run() }}
    )
    group by recording_id, detector_id

)

select
    coalesce(flow.recording_id, crossings.recording_id) as recording_id,
    coalesce(flow.detector_id, crossings.detector_id) as detector_id,
    flow.vehicles as flow_vehicles,
    crossings.vehicles as crossings
from flow
full outer join crossings
    on flow.recording_id = crossings.recording_id
    and flow.detector_id = crossings.detector_id
where flow.vehicles is distinct from crossings.vehicles
