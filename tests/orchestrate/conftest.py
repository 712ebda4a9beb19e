"""Airflow lives in the airflow plugin's venv, not in the project's .venv.

These tests run there: `meltano test airflow` (or `meltano invoke airflow:test_dags` and
`airflow:test_dag_runs`), which `make test` calls. A plain `pytest` in .venv, which has no Airflow,
leaves this folder to those commands instead of failing on `import airflow`.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

PROJECT_ROOT = Path(__file__).resolve().parents[2]

collect_ignore_glob = [] if find_spec("airflow") else ["test_*.py"]


@pytest.fixture(scope="session")
def isolated_airflow_env() -> Callable[[Path], dict[str, str]]:
    """Build the environment of an Airflow whose home, metadata DB and logs are under `home`.

    The DAGs are the project's; nothing of the developer's own Airflow (.meltano/airflow) is used.
    """

    def build(home: Path) -> dict[str, str]:
        home.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "MELTANO_PROJECT_ROOT": str(PROJECT_ROOT),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "orchestrate" / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        }

    return build
