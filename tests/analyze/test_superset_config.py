"""Bad configuration stops `superset-bi:serve` with one sentence naming the cause and the fix.

Each case fails before Superset starts, so these need no warehouse and no running Superset.
"""

from __future__ import annotations

import socket
import subprocess
from typing import TYPE_CHECKING

from superset_server import PROJECT_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from conftest import MeltanoProject

import pytest
from conftest import MELTANO, MELTANO_TIMEOUT_S


@pytest.fixture
def serve(meltano_project: MeltanoProject, tmp_path: Path) -> Callable[..., str]:
    """`serve(**env)`: run `superset-bi:serve`, expect it to fail, return what it said."""

    def run(**overrides: str) -> str:
        env = {**meltano_project.env(), "SUPERSET_HOME": str(tmp_path / "home"), **overrides}
        result = subprocess.run(
            [str(MELTANO), "invoke", "superset-bi:serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=MELTANO_TIMEOUT_S,
            check=False,
        )
        assert result.returncode != 0, result.stdout[-3000:]
        return result.stdout

    return run


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_unreachable_warehouse_is_named(
    serve: Callable[..., str], unused_port: Callable[[], int]
) -> None:
    port = unused_port()
    said = serve(PNEUMA_PG_PORT=str(port), SUPERSET_PORT=str(unused_port()))
    assert f"Cannot reach the warehouse at 127.0.0.1:{port}" in said
    assert "make run" in said


def test_missing_reader_role_is_named(
    serve: Callable[..., str], unused_port: Callable[[], int]
) -> None:
    said = serve(PNEUMA_READER_USER="nobody_reads", SUPERSET_PORT=str(unused_port()))
    assert "refused the read-only role 'nobody_reads'" in said
    assert "postgres:ensure" in said


def test_taken_port_is_named(serve: Callable[..., str], listening_port: int) -> None:
    said = serve(SUPERSET_PORT=str(listening_port))
    assert f"Cannot serve Superset on 127.0.0.1:{listening_port}: the port is taken" in said
