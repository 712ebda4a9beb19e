"""Airflow lives in the airflow plugin's venv, not in the project's .venv.

These tests run there: `meltano test airflow` (or `meltano invoke airflow:test_dags` and
`airflow:test_dag_runs`), which `make test` calls. A plain `pytest` in .venv, which has no Airflow,
leaves this folder to those commands instead of failing on `import airflow`.
"""

from __future__ import annotations

from importlib.util import find_spec

collect_ignore_glob = [] if find_spec("airflow") else ["test_*.py"]
