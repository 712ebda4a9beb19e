"""The Celery profile (orchestrate/cluster.py): start, one DAG run on two workers, stop.

Runs in the Airflow plugin's venv (`meltano invoke airflow:test_celery`). The profile runs as a
user would run it, with free ports and a sandboxed PostgreSQL: Redis, the metadata and Meltano
system databases on PostgreSQL, API server, scheduler, DAG processor and two Celery workers of
one slot each. The DAG run loads four files, two at a time, and must leave exact raw counts;
Ctrl-C must then stop every process the profile started.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline_sandbox import (
    PROJECT_ROOT,
    dag_id_of,
    free_port,
    generate,
    make_sandbox,
    task_states,
)

if TYPE_CHECKING:
    from collections.abc import Callable

AIRFLOW = Path(sys.executable).with_name("airflow")
PROFILE = PROJECT_ROOT / "orchestrate" / "cluster.py"
READY_TIMEOUT_S = 420
RUN_TIMEOUT_S = 900
STOP_TIMEOUT_S = 120
LOAD_TASK = "step_2_tap-pneuma_target-postgres"
# a Celery worker's log lines for one task: "<time> ... [<id>] Executing workload in Celery: ..."
# and "<time> ... Task execute_workload[<id>] succeeded in ..."
_EXECUTING = re.compile(r"(?P<at>\S+) .*\[(?P<id>[0-9a-f-]{36})\] Executing workload in Celery:")
_SUCCEEDED = re.compile(r"(?P<at>\S+) .*Task execute_workload\[(?P<id>[0-9a-f-]{36})\] succeeded")


def _processes_with(marker: bytes) -> list[int]:
    """PIDs of processes whose environment holds `marker` (e.g. AIRFLOW_HOME=...)."""
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    return pids


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _profile_env(env_file: Path) -> dict[str, str]:
    """The environment the profile wrote for the airflow CLI."""
    env = {}
    for line in env_file.read_text(encoding="utf-8").splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    return env


def _load_workloads(worker_log: Path) -> list[tuple[datetime, datetime]]:
    """When a Celery worker executed each load: from "Executing workload" to its "succeeded"."""
    started: dict[str, datetime] = {}
    spans = []
    for line in worker_log.read_text(errors="replace").splitlines():
        if match := _EXECUTING.match(line):
            if f"task_id={LOAD_TASK}/" in line:
                started[match["id"]] = datetime.fromisoformat(match["at"])
        elif (match := _SUCCEEDED.match(line)) and match["id"] in started:
            spans.append((started.pop(match["id"]), datetime.fromisoformat(match["at"])))
    return spans


def _dag_run_state(conn: str, dag_id: str) -> str | None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(conn.replace("postgresql+psycopg2://", "postgresql://")) as metadata:
        row = metadata.execute(
            "select state from dag_run where dag_id = %s order by id desc limit 1", (dag_id,)
        ).fetchone()
    return row[0] if row else None


def test_celery_profile_runs_a_dag_on_two_workers_and_stops_everything(
    tmp_path: Path, isolated_airflow_env: Callable[[Path], dict[str, str]]
) -> None:
    """Start the profile, load four files over two workers, Ctrl-C, nothing left running.

    The manual (full refresh) DAG is run: unpausing the hourly one would also start a run.
    """
    home = tmp_path / "airflow"
    box = make_sandbox(tmp_path, isolated_airflow_env(home), tag="celery")
    generated = generate(tmp_path / "data", n_files=4, first_index=0)
    api_port, redis_port, log_port = free_port(), free_port(), free_port()
    env = {
        **box.env,
        "AIRFLOW__API__PORT": str(api_port),
        "PNEUMA_REDIS_PORT": str(redis_port),
        "PNEUMA_CELERY_LOG_PORT": str(log_port),
        "TAP_PNEUMA_FILES": json.dumps([str(tmp_path / "data")]),
        "PNEUMA_AIRFLOW_PARALLEL_LOADS": "2",
    }
    # The loads' state goes to Meltano's system DB, which the profile puts on PostgreSQL.
    del env["MELTANO_STATE_BACKEND_URI"]
    output = tmp_path / "profile.log"
    with output.open("wb") as log:
        profile = subprocess.Popen(
            [sys.executable, str(PROFILE), "--executor", "celery"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while b"cluster: ready" not in output.read_bytes():
            assert profile.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(2)
        airflow_env = {**env, **_profile_env(home / "cluster.env")}
        dag_id = dag_id_of("pneuma-elt-full-refresh")
        conn = airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        for command in (
            ["dags", "reserialize"],
            ["dags", "unpause", dag_id],
            ["dags", "trigger", dag_id],
        ):
            subprocess.run(
                [str(AIRFLOW), *command], env=airflow_env, capture_output=True, check=True
            )
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (state := _dag_run_state(conn, dag_id)) not in {"success", "failed"}:
            assert profile.poll() is None, output.read_text()
            assert time.monotonic() < deadline, f"dag run still {state}"
            time.sleep(5)
        tasks = task_states(conn, dag_id)
        described = {f"{k[0]}[{k[1]}]": (v.state, v.label) for k, v in tasks.items()}
        assert state == "success", described
        assert box.raw_counts(generated.recording_ids) == {
            rid: (1, generated.vehicles[rid], generated.positions[rid])
            for rid in generated.recording_ids
        }
        assert box.mart_positions(generated.recording_ids) == generated.positions
        assert sum(task_id == LOAD_TASK for task_id, _ in tasks) == 4
        # Fanned out: each worker ran loads, and at some moment both ran one. Read from the
        # workers' own logs: the tasks' start and end in the metadata DB cover only the task's
        # code, so on a fast machine two tiny loads can miss each other by the seconds a worker
        # takes to finish one task process and start the next.
        spans = {
            worker: _load_workloads(home / "cluster" / f"{worker}.log")
            for worker in ("worker1", "worker2")
        }
        assert all(spans.values()), f"a worker ran no load: {spans}"
        assert any(
            start_1 < end_2 and start_2 < end_1
            for start_1, end_1 in spans["worker1"]
            for start_2, end_2 in spans["worker2"]
        ), f"the two workers never ran loads at the same time: {spans}"
        with box.connect("meltano") as meltano_db:
            state_ids = [row[0] for row in meltano_db.execute("select state_id from state")]
        suffix = env["MELTANO_RUN_STATE_ID_SUFFIX"]
        assert sorted(state_id.rsplit(":", 1)[1] for state_id in state_ids) == sorted(
            f"{suffix}.{rid}" for rid in generated.recording_ids
        ), "one state per shard, in Meltano's system DB on PostgreSQL"
    finally:
        profile.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            returncode = profile.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            subprocess.run(["kill", "-9", f"-{profile.pid}"], check=False)
            pytest.fail(f"the profile did not stop:\n{output.read_text()}")
        box.stop()
    assert returncode == 0, output.read_text()
    assert _processes_with(f"AIRFLOW_HOME={home}".encode()) == []
    for port in (api_port, redis_port, int(box.env["PNEUMA_PG_PORT"])):
        assert not _listening(port), f"port {port} still open"
