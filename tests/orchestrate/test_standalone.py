"""`meltano invoke airflow:standalone` (orchestrate/standalone.py): the UI, the login, and Ctrl-C.

Runs in the Airflow plugin's venv (`meltano invoke airflow:test_standalone`), with an Airflow home
and free ports of its own, so it neither sees nor disturbs an Airflow the developer runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from collections.abc import Callable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WRAPPER = PROJECT_ROOT / "orchestrate" / "standalone.py"
READY_TIMEOUT_S = 240
STOP_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(url: str, *, token: str | None = None, body: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - a local http URL built above
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def _processes_of(airflow_home: Path) -> list[int]:
    """PIDs of the processes (Airflow's components and workers) running with this AIRFLOW_HOME."""
    marker = f"AIRFLOW_HOME={airflow_home}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def test_standalone_serves_the_ui_with_the_generated_login_and_stops_on_ctrl_c(
    tmp_path: Path, isolated_airflow_env: Callable[[Path], dict[str, str]]
) -> None:
    """Log in as admin with the password from the documented file, see the DAGs, then Ctrl-C."""
    home = tmp_path / "airflow"
    api_port = _free_port()
    env = {
        **isolated_airflow_env(home),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
    }
    base_url = f"http://127.0.0.1:{api_port}"
    # Its own session stands for the terminal's foreground process group that Ctrl-C signals.
    with (tmp_path / "standalone.log").open("w") as log:
        wrapper = subprocess.Popen(
            [sys.executable, str(WRAPPER)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        dag_ids: set[str] = set()
        expected = {
            f"meltano_{entry['name']}"
            for entry in yaml.safe_load((PROJECT_ROOT / "meltano.yml").read_text())["schedules"]
        }
        while dag_ids != expected:
            assert wrapper.poll() is None, (tmp_path / "standalone.log").read_text()[-4000:]
            assert time.monotonic() < deadline, (tmp_path / "standalone.log").read_text()[-4000:]
            time.sleep(3)
            try:
                password = json.loads((home / "passwords.json").read_text())["admin"]
                token = _request(
                    f"{base_url}/auth/token", body={"username": "admin", "password": password}
                )["access_token"]
                dags = _request(f"{base_url}/api/v2/dags", token=token)["dags"]
            except (OSError, ValueError, KeyError):
                continue  # not up yet
            dag_ids = {dag["dag_id"] for dag in dags}
        with urllib.request.urlopen(f"{base_url}/", timeout=10) as page:  # noqa: S310
            assert page.status == 200
            assert b"Airflow" in page.read()
    finally:
        os.killpg(wrapper.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _processes_of(home) and time.monotonic() < deadline:
            time.sleep(1)
        left = _processes_of(home)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert left == [], "Airflow processes outlived Ctrl-C"
    assert wrapper.wait(timeout=5) == 0
    # Nothing listens on the UI's port any more (SO_REUSEADDR: closed connections do not count).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", api_port))
        probe.listen()
