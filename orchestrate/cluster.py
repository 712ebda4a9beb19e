"""Airflow as separate services on one machine; the Celery profile: `meltano invoke airflow:celery`.

`python orchestrate/cluster.py` (`make airflow-celery`) is the CeleryExecutor profile;
`--executor local` runs the same services with the LocalExecutor and no broker or workers (the
benchmark compares both). Starts, in this order, and stops in reverse at Ctrl-C (or SIGTERM),
killing what is still running STOP_TIMEOUT_S later:

1. the embedded PostgreSQL (`meltano invoke postgres:ensure`; stopped again only if this
   profile started it), with two databases of its own: `airflow` (metadata, Celery results) and
   `meltano` (Meltano's system DB: the loads' state; SQLite locks under many writers), names
   from PNEUMA_AIRFLOW_DATABASE and PNEUMA_MELTANO_DATABASE;
2. Debian's `redis-server` on 127.0.0.1:PNEUMA_REDIS_PORT (6379) as the Celery broker
   (`make redis-server` installs it);
3. `airflow db migrate`, then the API server, the scheduler, the DAG processor and
   PNEUMA_CELERY_WORKERS Celery workers (default 2), each with PNEUMA_CELERY_CONCURRENCY task
   slots (default 1) and its own log server port (PNEUMA_CELERY_LOG_PORT, 8793, and up).

Every component gets the same environment: Celery on Airflow 3.3 needs the workers to share the
API server's JWT secret and to know its execution API URL. The environment is also written to
`$AIRFLOW_HOME/cluster.env` (mode 600) for the `airflow` CLI against this profile. On more
machines, run the same components with the same variables, pointing at shared Redis and
PostgreSQL servers (orchestrate/README.md).
"""

# ruff: noqa: INP001  (a script run by path, not part of a package)

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

PROJECT_ROOT = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[1])
MELTANO = os.environ.get("PNEUMA_MELTANO_EXECUTABLE") or str(PROJECT_ROOT / ".meltano/run/bin")
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
AIRFLOW_DATABASE = os.environ.get("PNEUMA_AIRFLOW_DATABASE", "airflow")
MELTANO_DATABASE = os.environ.get("PNEUMA_MELTANO_DATABASE", "meltano")
ENV_FILE = "cluster.env"
READY_TIMEOUT_S = 300
STOP_TIMEOUT_S = 60


@dataclass
class Component:
    """One process of the profile, in a process group of its own, its output in a log file."""

    name: str
    command: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        """Start the process."""
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        say(f"started {self.name} (pid {self.process.pid}, log {self.log_path})")

    def running(self) -> bool:
        """Whether the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        """Send a signal to the component's whole process group (its children too)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)


def say(message: str) -> None:
    """Progress on stderr, one line each."""
    sys.stderr.write(f"cluster: {message}\n")
    sys.stderr.flush()


def _meltano_json(*args: str) -> dict[str, object]:
    completed = subprocess.run(
        [MELTANO, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout)


def _port_open(port: int) -> bool:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _ensure_postgres(environment: str) -> tuple[dict[str, object], bool]:
    """Start the embedded server if needed; its settings, and whether we started it."""
    postgres = _meltano_json(
        f"--environment={environment}", "config", "--unsafe", "print", "postgres", "--format=json"
    )
    was_running = _port_open(int(postgres["port"]))  # type: ignore[call-overload]
    subprocess.run(
        [MELTANO, f"--environment={environment}", "invoke", "postgres:ensure"],
        cwd=PROJECT_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with psycopg.connect(
        host=str(postgres["host"]),
        port=int(postgres["port"]),  # type: ignore[call-overload]
        user=str(postgres["user"]),
        password=str(postgres["password"]),
        dbname=str(postgres["database"]),
        autocommit=True,
    ) as connection:
        for database in (AIRFLOW_DATABASE, MELTANO_DATABASE):
            if not connection.execute(
                "select 1 from pg_database where datname = %s", (database,)
            ).fetchone():
                connection.execute(f'create database "{database}"')
    return postgres, not was_running and bool(postgres.get("embedded", True))


def profile_env(postgres: dict[str, object], home: Path, executor: str) -> dict[str, str]:
    """The environment every component of the profile shares."""
    user, password = postgres["user"], postgres["password"]
    server = f"{user}:{password}@{postgres['host']}:{postgres['port']}"
    api_port = os.environ.get("AIRFLOW__API__PORT", "8080")
    redis_port = os.environ.get("PNEUMA_REDIS_PORT", "6379")
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": f"{executor.capitalize()}Executor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{server}/{AIRFLOW_DATABASE}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{server}/{AIRFLOW_DATABASE}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get("PNEUMA_CELERY_CONCURRENCY", "1"),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET")
        or secrets.token_urlsafe(32),
        "AIRFLOW__API__PORT": api_port,
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # Airflow's 5 s are short when tasks and the API server share a busy machine.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": os.environ.get(
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "30"
        ),
        "MELTANO_DATABASE_URI": f"postgresql+psycopg2://{server}/{MELTANO_DATABASE}",
    }


def components(env: dict[str, str], logs: Path) -> list[Component]:
    """Redis, the Airflow components and the workers, in start order (Celery only: no Redis)."""
    airflow = [
        Component("api-server", [AIRFLOW, "api-server"], logs / "api-server.log"),
        Component("scheduler", [AIRFLOW, "scheduler"], logs / "scheduler.log"),
        Component("dag-processor", [AIRFLOW, "dag-processor"], logs / "dag-processor.log"),
    ]
    if env["AIRFLOW__CORE__EXECUTOR"] != "CeleryExecutor":
        return airflow
    redis_dir = Path(env["AIRFLOW_HOME"]) / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    redis_port = env["AIRFLOW__CELERY__BROKER_URL"].rsplit(":", 1)[1].split("/")[0]
    redis = shutil.which("redis-server")
    if redis is None:
        msg = "redis-server is not installed: run `make redis-server` (Debian's package)"
        raise FileNotFoundError(msg)
    listed = [
        Component(
            "redis",
            [
                redis,
                "--bind",
                "127.0.0.1",
                "--port",
                redis_port,
                "--dir",
                str(redis_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            logs / "redis.log",
        ),
        *airflow,
    ]
    log_port = int(os.environ.get("PNEUMA_CELERY_LOG_PORT", "8793"))
    listed.extend(
        Component(
            f"worker{number}",
            [
                "env",
                f"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT={log_port + number - 1}",
                AIRFLOW,
                "celery",
                "worker",
                "--celery-hostname",
                f"worker{number}@%h",
            ],
            logs / f"worker{number}.log",
        )
        for number in range(1, int(os.environ.get("PNEUMA_CELERY_WORKERS", "2")) + 1)
    )
    return listed


def _ready(env: dict[str, str], listed: list[Component]) -> bool:
    health = f"{env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health"
    try:
        with urllib.request.urlopen(health, timeout=5) as response:  # noqa: S310 - local URL
            if response.status != 200:  # noqa: PLR2004
                return False
    except OSError:
        return False
    workers = [c for c in listed if c.name.startswith("worker")]
    return all(b" ready." in c.log_path.read_bytes() for c in workers)


def _supervise(listed: list[Component], env: dict[str, str], stop_requested: list[int]) -> None:
    """Migrate, start every component, report ready, then watch them until a stop request."""
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    for component in listed:
        component.start(env)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _ready(env, listed):
        if stop_requested or time.monotonic() > deadline:
            msg = "stopped before ready" if stop_requested else "not ready in time"
            raise RuntimeError(msg)
        if dead := [c.name for c in listed if not c.running()]:
            msg = f"{', '.join(dead)} exited during start-up (see {listed[0].log_path.parent})"
            raise RuntimeError(msg)
        time.sleep(2)
    workers = sum(c.name.startswith("worker") for c in listed)
    say(
        f"ready: {env['AIRFLOW__CORE__EXECUTOR']}, {workers} Celery workers, UI "
        f"{env['AIRFLOW__API__BASE_URL']}; `source {Path(env['AIRFLOW_HOME']) / ENV_FILE}` for "
        "the airflow CLI; Ctrl-C stops everything"
    )
    while not stop_requested:
        if dead := [c.name for c in listed if not c.running()]:
            msg = f"{', '.join(dead)} exited (see {listed[0].log_path.parent})"
            raise RuntimeError(msg)
        time.sleep(1)


def main() -> int:
    """Start the profile, wait for Ctrl-C or SIGTERM, stop everything it started."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=["celery", "local"], default="celery")
    executor = parser.parse_args().executor
    environment = os.environ.get("MELTANO_ENVIRONMENT") or "dev"
    home = Path(os.environ.get("AIRFLOW_HOME") or PROJECT_ROOT / ".meltano/airflow")
    logs = home / "cluster"
    logs.mkdir(parents=True, exist_ok=True)
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        if stop_requested:
            raise KeyboardInterrupt
        stop_requested.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)

    postgres, started_postgres = _ensure_postgres(environment)
    env = profile_env(postgres, home, executor)
    env_file = home / ENV_FILE
    env_file.touch(mode=0o600)
    env_file.write_text(
        "".join(
            f"export {key}={shlex.quote(value)}\n"
            for key, value in sorted(env.items())
            if key.startswith(("AIRFLOW", "MELTANO_DATABASE_URI"))
        ),
        encoding="utf-8",
    )
    listed = components(env, logs)
    for component in listed:
        component.log_path.write_bytes(b"")
    returncode = 0
    try:
        _supervise(listed, env, stop_requested)
    except (RuntimeError, subprocess.CalledProcessError, KeyboardInterrupt) as error:
        if not stop_requested:
            say(f"error: {error}")
            returncode = 1
    finally:
        _stop(listed)
        if started_postgres:
            subprocess.run(
                [MELTANO, f"--environment={environment}", "invoke", "postgres:stop"],
                cwd=PROJECT_ROOT,
                check=False,
                stdout=subprocess.DEVNULL,
            )
        say("stopped")
    return returncode


def _stop(listed: list[Component]) -> None:
    """SIGTERM in reverse start order; SIGKILL to whatever is left after STOP_TIMEOUT_S."""
    for component in reversed(listed):
        component.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while any(c.running() for c in listed) and time.monotonic() < deadline:
        time.sleep(0.5)
    for component in listed:
        component.signal_group(signal.SIGKILL)  # the group: workers' children included
        if component.process is not None:
            component.process.wait()
        if component.log is not None:
            component.log.close()


if __name__ == "__main__":
    sys.exit(main())
