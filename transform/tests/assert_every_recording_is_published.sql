-- The circuit breaker of the partitioned marts: a recording whose audits
-- failed is quarantined (its previous version stays published, all other
-- recordings are published) and this test fails the run, listing it with its
-- failing audits. Runs last: dim_recordings depends on every partitioned mart.
select
    recording_id,
    quality_status,
    failed_audits
from {{ ref('dim_recordings') }}
where quality_status != 'published'
