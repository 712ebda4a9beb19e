-- The positions as stored (materialization partitioned_by_recording): the
-- recordings of even key. fct_trajectory_points_packed__shard_1 builds the
-- odd ones into the same storage at the same time, so that both cores write.
-- depends_on: {{ ref('stg_pneuma__recordings') }}, {{ ref('stg_pneuma__vehicles') }} (audits)
-- depends_on: {{ source('pneuma', 'trajectories') }} (audits)

select * from {{ ref('int_trajectory_points_packed') }}
