"""Helpers of `meltano_schedules.py`: the project's schedules, input shards, isolated runs, alerts.

Each module has one job and needs nothing but the standard library, PyYAML and Airflow's own
providers, so the DAG file stays cheap to parse.
"""
