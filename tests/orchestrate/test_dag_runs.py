"""`airflow dags test` of the generated DAGs: the real pipeline into the embedded PostgreSQL.

Runs in the Airflow plugin's venv (`meltano invoke airflow:test_dag_runs`). Each run is isolated
from the developer's own project state: a throwaway Airflow home and metadata DB, a database of
its own on the embedded server (dropped afterwards), its own Meltano state backend and state ID,
and its own dbt target folder. The pipeline itself is the project's: meltano.yml, the installed
plugins, `postgres:ensure`, tap-pneuma, target-postgres and the dbt project.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
import yaml

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
INCREMENTAL_JOB = "pneuma-elt"
DAG_RUN_TIMEOUT_S = 900
VEHICLES_PER_FILE = 6
PNEUMA_POSTGRES = (
    PROJECT_ROOT / ".meltano" / "utilities" / "postgres" / "venv" / "bin" / "pneuma-postgres"
)
TEST_PASSWORD = "pneuma-airflow-test"  # noqa: S105 - throwaway password of a throwaway local server


def _incremental_dag_id() -> str:
    project = yaml.safe_load((PROJECT_ROOT / "meltano.yml").read_text(encoding="utf-8"))
    schedule = next(entry for entry in project["schedules"] if entry["job"] == INCREMENTAL_JOB)
    return f"meltano_{schedule['name']}"


def _pneuma_generate() -> Path:
    """The tap's data generator, from the project's .venv or the tap's plugin venv."""
    for candidate in (
        PROJECT_ROOT / ".venv" / "bin" / "pneuma-generate",
        PROJECT_ROOT
        / ".meltano"
        / "extractors"
        / "tap-pneuma"
        / "venv"
        / "bin"
        / "pneuma-generate",
    ):
        if candidate.is_file():
            return candidate
    msg = "pneuma-generate not found: run `make install`"
    raise FileNotFoundError(msg)


@dataclass(frozen=True)
class Generated:
    """What pneuma-generate wrote: one line per file, `path<TAB>N vehicles<TAB>M positions`."""

    recording_ids: tuple[str, ...]
    n_vehicles: int
    n_positions: int


def _generate(out_dir: Path, *, n_files: int, first_index: int) -> Generated:
    completed = subprocess.run(
        [
            str(_pneuma_generate()),
            str(out_dir),
            f"--files={n_files}",
            f"--vehicles={VEHICLES_PER_FILE}",
            f"--first-index={first_index}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("\t") for line in completed.stdout.splitlines()]
    return Generated(
        recording_ids=tuple(Path(path).name.split(".")[0] for path, _, _ in rows),
        n_vehicles=sum(int(vehicles.split()[0]) for _, vehicles, _ in rows),
        n_positions=sum(int(positions.split()[0]) for _, _, positions in rows),
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Sandbox:
    """Environment and paths of one isolated `airflow dags test` setup."""

    env: dict[str, str]
    work_dir: Path
    metadata_db: Path

    def connect(self) -> psycopg.Connection:
        """Connect to this sandbox's warehouse database."""
        return psycopg.connect(
            host=self.env["PNEUMA_PG_HOST"],
            port=self.env["PNEUMA_PG_PORT"],
            user=self.env["PNEUMA_PG_USER"],
            password=self.env["PNEUMA_PG_PASSWORD"],
            dbname=self.env["PNEUMA_PG_DATABASE"],
            autocommit=True,
        )


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
    isolated_airflow_env: Callable[[Path], dict[str, str]],
) -> Iterator[Sandbox]:
    """An Airflow home, metadata DB, PostgreSQL server and Meltano state of the tests' own."""
    work_dir = tmp_path_factory.mktemp("dag-runs")
    airflow_home = work_dir / "airflow"
    metadata_db = airflow_home / "airflow.db"
    tag = f"airflow_test_{os.getpid()}"
    env = {
        **isolated_airflow_env(airflow_home),
        # Settings of the postgres, target-postgres and dbt-postgres plugins (meltano.yml).
        "PNEUMA_PG_EMBEDDED": "true",
        "PNEUMA_PG_DATA_DIR": str(work_dir / "postgres"),
        "PNEUMA_PG_HOST": "127.0.0.1",
        "PNEUMA_PG_PORT": str(_free_port()),
        "PNEUMA_PG_USER": "postgres",
        "PNEUMA_PG_PASSWORD": TEST_PASSWORD,
        "PNEUMA_PG_DATABASE": "pneuma",
        "MELTANO_STATE_BACKEND_URI": (work_dir / "state").as_uri(),
        "MELTANO_RUN_STATE_ID_SUFFIX": tag,
        "DBT_TARGET_PATH": str(work_dir / "dbt-target"),
        "DBT_LOG_PATH": str(work_dir / "dbt-logs"),
        # A failed step is retried once (the DAG's policy); a second, not five minutes, later.
        "PNEUMA_AIRFLOW_TASK_RETRY_DELAY_S": "1",
    }
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, check=True)
    # Meltano keeps a plugin's catalog and state in .meltano/run/<plugin>, one per project: two
    # of these test sessions at once in one checkout would read each other's state. Take turns.
    with (PROJECT_ROOT / ".meltano" / "dag-run-tests.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield Sandbox(env=env, work_dir=work_dir, metadata_db=metadata_db)
    subprocess.run([str(PNEUMA_POSTGRES), "stop"], env=env, capture_output=True, check=True)
    shutil.rmtree(work_dir / "postgres")


@dataclass(frozen=True)
class DagRun:
    """The outcome of one `airflow dags test`: exit code, output and task states."""

    returncode: int
    output: str
    task_states: dict[str, tuple[str, int]]  # task_id -> (state, try_number)


def _dags_test(sandbox: Sandbox, files: list[Path], run_number: int) -> DagRun:
    dag_id = _incremental_dag_id()
    env = {**sandbox.env, "TAP_PNEUMA_FILES": json.dumps([str(path) for path in files])}
    log_file = sandbox.work_dir / f"dags-test-{run_number}.log"
    with log_file.open("w", encoding="utf-8") as log:
        completed = subprocess.run(
            [str(AIRFLOW), "dags", "test", dag_id],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=DAG_RUN_TIMEOUT_S,
            check=False,
        )
    with sqlite3.connect(sandbox.metadata_db) as metadata:
        run_id = metadata.execute(
            "select run_id from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)
        ).fetchone()[0]
        states = metadata.execute(
            "select task_id, state, try_number from task_instance where dag_id = ? and run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    return DagRun(
        returncode=completed.returncode,
        output=log_file.read_text(encoding="utf-8"),
        task_states={task_id: (state, try_number) for task_id, state, try_number in states},
    )


def _describe(run: DagRun) -> str:
    return f"exit {run.returncode}, tasks {run.task_states}\n{run.output[-6000:]}"


@pytest.fixture(scope="module")
def first_load(sandbox: Sandbox) -> tuple[Path, Generated, DagRun]:
    """One DAG run over two freshly generated recordings."""
    data_dir = sandbox.work_dir / "data"
    generated = _generate(data_dir, n_files=2, first_index=0)
    return data_dir, generated, _dags_test(sandbox, [data_dir], run_number=1)


def test_incremental_dag_loads_generated_files_into_the_warehouse(
    sandbox: Sandbox, first_load: tuple[Path, Generated, DagRun]
) -> None:
    """Every step succeeds, and raw tables and marts hold exactly the generated data."""
    _, generated, run = first_load
    assert run.returncode == 0, _describe(run)
    assert run.task_states, _describe(run)
    # Success on a retry counts: retrying is the DAG's policy for transient failures.
    assert all(state == "success" for state, _ in run.task_states.values()), _describe(run)
    ids = list(generated.recording_ids)
    with sandbox.connect() as connection:
        raw = connection.execute(
            """
            select
                (select count(*) from tap_pneuma.recordings where recording_id = any(%(ids)s)),
                (select sum(n_points) from tap_pneuma.recordings where recording_id = any(%(ids)s)),
                (select count(*) from tap_pneuma.vehicles where recording_id = any(%(ids)s)),
                (select sum(cardinality(time_s)) from tap_pneuma.trajectories
                 where recording_id = any(%(ids)s))
            """,
            {"ids": ids},
        ).fetchone()
        marts = connection.execute(
            """
            select
                (select count(*) from analytics_marts.dim_vehicles
                 where recording_id = any(%(ids)s)),
                (select count(*) from analytics_marts.fct_trajectory_points
                 where recording_id = any(%(ids)s))
            """,
            {"ids": ids},
        ).fetchone()
    assert raw == (2, generated.n_positions, generated.n_vehicles, generated.n_positions)
    assert marts == (generated.n_vehicles, generated.n_positions)


def test_next_incremental_run_reads_only_the_new_file(
    sandbox: Sandbox, first_load: tuple[Path, Generated, DagRun]
) -> None:
    """Thanks to the tap's state, a file dropped next to loaded ones is the only one re-read."""
    data_dir, first, first_run = first_load
    assert first_run.returncode == 0, _describe(first_run)
    extracted_at_sql = (
        "select recording_id, _sdc_extracted_at from tap_pneuma.recordings order by recording_id"
    )
    with sandbox.connect() as connection:
        before = dict(connection.execute(extracted_at_sql).fetchall())
    added = _generate(data_dir, n_files=1, first_index=2)
    run = _dags_test(sandbox, [data_dir], run_number=2)
    assert run.returncode == 0, _describe(run)
    with sandbox.connect() as connection:
        after = dict(connection.execute(extracted_at_sql).fetchall())
        n_points = connection.execute(
            "select count(*) from analytics_marts.fct_trajectory_points"
        ).fetchone()[0]
    assert set(after) == set(first.recording_ids) | set(added.recording_ids)
    assert {key: after[key] for key in before} == before, "loaded files were not re-extracted"
    assert n_points == first.n_positions + added.n_positions


def test_broken_job_fails_the_dag_run_with_the_taps_message(sandbox: Sandbox) -> None:
    """A missing input file fails the tap's step (after its retry) and stops the run there."""
    missing = sandbox.work_dir / "not-downloaded" / "20181024_d9_0830_0900.csv"
    run = _dags_test(sandbox, [missing], run_number=3)
    assert run.returncode != 0, _describe(run)
    assert "DagRun failed" in run.output
    steps = sorted(run.task_states)
    assert run.task_states[steps[0]][0] == "success", _describe(run)
    assert steps[1].startswith("step_2_tap-pneuma"), steps
    assert run.task_states[steps[1]] == ("failed", 2), _describe(run)
    assert all(run.task_states[step][0] == "upstream_failed" for step in steps[2:])
    # The tap's own message, naming the file, is in the log of the step's last try. (Only the last
    # try is checked: an earlier one may have failed for another reason, which retries are for.)
    last_try = run.output.rsplit(f"[DAG TEST] starting task_id={steps[1]} ", 1)[1]
    last_try = last_try.split(f"[DAG TEST] end task task_id={steps[1]} ", 1)[0]
    assert f"tap-pneuma: {missing}: file not found" in last_try, _describe(run)
    assert "non-zero exit code 1" in last_try
