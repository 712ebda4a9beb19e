"""What the DAG-run tests share: a sandboxed pipeline, generated files, raw counts, task states.

A sandbox is isolated from the developer's own project state: a throwaway Airflow home, an
embedded PostgreSQL on a free port (its data deleted afterwards), its own Meltano state and state
ID suffix, its own dbt target folder. The pipeline itself is the project's: meltano.yml, the
installed plugins, the DAG file, tap-pneuma, target-postgres and the dbt project.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PNEUMA_POSTGRES = (
    PROJECT_ROOT / ".meltano" / "utilities" / "postgres" / "venv" / "bin" / "pneuma-postgres"
)
TEST_PASSWORD = "pneuma-airflow-test"  # noqa: S105 - throwaway password of a throwaway local server


def dag_id_of(job: str) -> str:
    """The DAG of the schedule that runs `job`."""
    project = yaml.safe_load((PROJECT_ROOT / "meltano.yml").read_text(encoding="utf-8"))
    schedule = next(entry for entry in project["schedules"] if entry["job"] == job)
    return f"meltano_{schedule['name']}"


def incremental_dag_id() -> str:
    """The DAG of the incremental job (hourly)."""
    return dag_id_of("pneuma-elt")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pneuma_generate() -> Path:
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
    """What pneuma-generate wrote: per recording id, its vehicles and positions."""

    paths: tuple[Path, ...]
    vehicles: dict[str, int]
    positions: dict[str, int]

    @property
    def recording_ids(self) -> list[str]:
        """The recordings, in file order."""
        return list(self.vehicles)


def generate(out_dir: Path, *, n_files: int, first_index: int, vehicles: int = 6) -> Generated:
    """Write `n_files` deterministic pNEUMA-layout files (`path<TAB>N vehicles<TAB>M positions`)."""
    completed = subprocess.run(
        [
            str(_pneuma_generate()),
            str(out_dir),
            f"--files={n_files}",
            f"--vehicles={vehicles}",
            f"--first-index={first_index}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("\t") for line in completed.stdout.splitlines()]
    ids = [Path(path).name.split(".")[0] for path, _, _ in rows]
    return Generated(
        paths=tuple(Path(path) for path, _, _ in rows),
        vehicles={rid: int(v.split()[0]) for rid, (_, v, _) in zip(ids, rows, strict=True)},
        positions={rid: int(p.split()[0]) for rid, (_, _, p) in zip(ids, rows, strict=True)},
    )


@dataclass(frozen=True)
class Sandbox:
    """Environment and paths of one isolated pipeline."""

    env: dict[str, str]
    work_dir: Path

    def connect(self, dbname: str | None = None) -> psycopg.Connection:
        """Connect to this sandbox's warehouse database (or another one on its server)."""
        return psycopg.connect(
            host=self.env["PNEUMA_PG_HOST"],
            port=self.env["PNEUMA_PG_PORT"],
            user=self.env["PNEUMA_PG_USER"],
            password=self.env["PNEUMA_PG_PASSWORD"],
            dbname=dbname or self.env["PNEUMA_PG_DATABASE"],
            autocommit=True,
        )

    def raw_counts(self, ids: list[str]) -> dict[str, tuple[int, int, int]]:
        """Per recording: recordings rows, vehicles rows, positions in trajectories."""
        with self.connect() as connection:
            rows = connection.execute(
                """
                select r.recording_id, count(distinct r.recording_id),
                    (select count(*) from tap_pneuma.vehicles v
                     where v.recording_id = r.recording_id),
                    (select coalesce(sum(cardinality(t.time_s)), 0) from tap_pneuma.trajectories t
                     where t.recording_id = r.recording_id)
                from tap_pneuma.recordings r where r.recording_id = any(%s)
                group by r.recording_id
                """,
                (ids,),
            ).fetchall()
        return {rid: (n, vehicles, positions) for rid, n, vehicles, positions in rows}

    def mart_positions(self, ids: list[str]) -> dict[str, int]:
        """Per recording: its positions in fct_trajectory_points (none before the first build)."""
        with self.connect() as connection:
            exists = connection.execute(
                "select to_regclass('analytics_marts.fct_trajectory_points')"
            ).fetchone()[0]
            if exists is None:
                return {}
            rows = connection.execute(
                "select recording_id, count(*) from analytics_marts.fct_trajectory_points "
                "where recording_id = any(%s) group by recording_id",
                (ids,),
            ).fetchall()
        return dict(rows)

    def stop(self) -> None:
        """Stop the sandbox's server and delete its data."""
        subprocess.run(
            [str(PNEUMA_POSTGRES), "stop"], env=self.env, capture_output=True, check=False
        )
        shutil.rmtree(self.work_dir / "postgres", ignore_errors=True)


def make_sandbox(work_dir: Path, airflow_env: dict[str, str], tag: str) -> Sandbox:
    """A sandbox in `work_dir` on top of an isolated Airflow environment."""
    env = {
        **airflow_env,
        # Settings of the postgres, target-postgres and dbt-postgres plugins (meltano.yml).
        "PNEUMA_PG_EMBEDDED": "true",
        "PNEUMA_PG_DATA_DIR": str(work_dir / "postgres"),
        "PNEUMA_PG_HOST": "127.0.0.1",
        "PNEUMA_PG_PORT": str(free_port()),
        "PNEUMA_PG_USER": "postgres",
        "PNEUMA_PG_PASSWORD": TEST_PASSWORD,
        "PNEUMA_PG_DATABASE": "pneuma",
        "MELTANO_STATE_BACKEND_URI": (work_dir / "state").as_uri(),
        "MELTANO_RUN_STATE_ID_SUFFIX": f"{tag}_{os.getpid()}",
        "DBT_TARGET_PATH": str(work_dir / "dbt-target"),
        "DBT_LOG_PATH": str(work_dir / "dbt-logs"),
        # A failed step is retried once (the DAG's policy); a second, not five minutes, later.
        "PNEUMA_AIRFLOW_TASK_RETRY_DELAY_S": "1",
    }
    return Sandbox(env=env, work_dir=work_dir)


@dataclass(frozen=True)
class TaskState:
    """One task instance of a DAG run."""

    state: str | None
    try_number: int
    label: str | None  # a mapped task's rendered map index: its shard
    start_date: Any
    end_date: Any
    hostname: str | None


def task_states(
    sql_alchemy_conn: str, dag_id: str, run_id: str | None = None
) -> dict[tuple[str, int], TaskState]:
    """(task_id, map_index) -> state of the last (or the named) run of a DAG."""
    query_run = "select run_id from dag_run where dag_id = {p} order by id desc limit 1"
    query = (
        "select task_id, map_index, state, try_number, rendered_map_index, start_date, end_date,"
        " hostname from task_instance where dag_id = {p} and run_id = {p}"
    )
    if sql_alchemy_conn.startswith("sqlite:///"):
        with sqlite3.connect(sql_alchemy_conn.removeprefix("sqlite:///")) as metadata:
            run_id = run_id or metadata.execute(query_run.format(p="?"), (dag_id,)).fetchone()[0]
            rows = metadata.execute(query.format(p="?"), (dag_id, run_id)).fetchall()
    else:
        url = sql_alchemy_conn.replace("postgresql+psycopg2://", "postgresql://")
        with psycopg.connect(url) as metadata:
            run_id = run_id or metadata.execute(query_run.format(p="%s"), (dag_id,)).fetchone()[0]
            rows = metadata.execute(query.format(p="%s"), (dag_id, run_id)).fetchall()
    return {(row[0], row[1]): TaskState(*row[2:]) for row in rows}
