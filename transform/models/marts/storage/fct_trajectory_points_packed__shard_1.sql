-- The recordings of odd key of fct_trajectory_points_packed (see there).
-- depends_on: {{ ref('stg_pneuma__recordings') }}, {{ ref('stg_pneuma__vehicles') }} (audits)
-- depends_on: {{ source('pneuma', 'trajectories') }} (audits)

select * from {{ ref('int_trajectory_points_packed') }}
