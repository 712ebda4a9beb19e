"""The Meltano utility `superset-bi`: Superset 6.1 serving the dashboards kept in analyze/."""
