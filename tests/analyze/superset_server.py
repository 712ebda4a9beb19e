"""A warehouse built from demo data and a Superset served on it, for tests/analyze.

The fixtures are imported by the test modules (pytest reads conftest.py only from the root here,
whose module name `conftest` a second one would shadow).

Superset runs as `make dashboards` runs it (`meltano invoke superset-bi:serve`), with a fresh
metadata database in a temporary SUPERSET_HOME, on a free port, against a scratch database of the
session's embedded PostgreSQL; it connects as the read-only role.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from conftest import MELTANO, MELTANO_TIMEOUT_S, PROJECT_ROOT, MeltanoProject, _generate_files
from pneuma_postgres.server import ServerConfig, free_loopback_port
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ASSETS_DIR = PROJECT_ROOT / "analyze" / "superset" / "assets"
SUPERSET_VENV = PROJECT_ROOT / ".meltano" / "utilities" / "superset-bi" / "venv"
ADMIN_PASSWORD = "pneuma-test-admin"  # noqa: S105 - a throwaway local server's
START_TIMEOUT_S = 600
# Small but every mart gets rows: 2 recordings of 12 vehicles (~60 k positions).
DEMO_OPTIONS = ("--files", "2", "--vehicles", "12")


@dataclass
class Superset:
    """A running Superset and how to reach it."""

    url: str
    home: Path
    env: dict[str, str]
    output: Path

    def invoke(self, command: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`meltano invoke superset-bi:<command>` with this server's settings (and overrides)."""
        return subprocess.run(
            [str(MELTANO), "invoke", f"superset-bi:{command}"],
            cwd=PROJECT_ROOT,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=MELTANO_TIMEOUT_S,
            check=False,
        )

    def api_token(self) -> str:
        """An access token of the admin user (Superset's REST API login)."""
        body = json.dumps(
            {"username": "admin", "password": ADMIN_PASSWORD, "provider": "db", "refresh": False}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - a loopback URL
            f"{self.url}/api/v1/security/login",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.load(response)["access_token"]

    def api_get(self, path: str) -> dict:
        """GET a REST API resource as the admin."""
        request = urllib.request.Request(  # noqa: S310 - a loopback URL
            f"{self.url}{path}", headers={"Authorization": f"Bearer {self.api_token()}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.load(response)


@pytest.fixture(scope="module")
def warehouse(
    pg_server: ServerConfig, tmp_path_factory: pytest.TempPathFactory, meltano_sys_dir: Path
) -> MeltanoProject:
    """`meltano run pneuma-elt` of a small demo set, in a database of its own."""
    config = ServerConfig(**{**pg_server.__dict__, "database": "t_analyze_warehouse"})
    with pg_server.connect(database="postgres") as connection:
        name = sql.Identifier(config.database)
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        connection.execute(sql.SQL("create database {}").format(name))
    work = tmp_path_factory.mktemp("analyze")
    state_dir = work / "state"
    state_dir.mkdir()
    files = _generate_files(work / "demo", *DEMO_OPTIONS)
    project = MeltanoProject(
        config=config,
        state_dir=state_dir,
        sys_dir=meltano_sys_dir,
        files=[str(path) for path in files],
        extra_env={},
    )
    project.run_ok("run", "pneuma-elt")
    return project


def _wait_healthy(url: str, process: subprocess.Popen, output: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Superset exited with {process.returncode}:\n{output.read_text()[-6000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:  # noqa: S310
                if response.read().strip() == b"OK":
                    return
        except OSError:
            pass
        time.sleep(2)
    pytest.fail(f"Superset did not answer /health in {START_TIMEOUT_S} s:\n{output.read_text()}")


@pytest.fixture(scope="module")
def superset(
    warehouse: MeltanoProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Superset]:
    """`superset-bi:serve` on the warehouse: checks, a fresh metadata DB, the import, gunicorn."""
    home = tmp_path_factory.mktemp("superset-home")
    port = free_loopback_port()
    env = {
        **warehouse.env(),
        "SUPERSET_HOME": str(home),
        "SUPERSET_METADATA_DB_URI": f"sqlite:///{home / 'superset.db'}",
        "SUPERSET_PORT": str(port),
        "SUPERSET_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    output = home / "serve.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            [str(MELTANO), "invoke", "superset-bi:serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped whole below
        )
    server = Superset(url=f"http://127.0.0.1:{port}", home=home, env=env, output=output)
    try:
        _wait_healthy(server.url, process, output)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
