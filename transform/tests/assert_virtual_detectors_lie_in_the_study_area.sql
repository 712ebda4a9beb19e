-- Both ends of every detector lie in the study_area_* box of dbt_project.yml
-- (a detector elsewhere could count nothing of pNEUMA's district).
{{ audit_within_study_area(ref('virtual_detectors'), 'start_lat', 'start_lon') }}
union all
{{ audit_within_study_area(ref('virtual_detectors'), 'end_lat', 'end_lon') }}
