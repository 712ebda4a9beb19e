"""The embedded PostgreSQL of the pneuma-warehouse project, as a Meltano utility."""
