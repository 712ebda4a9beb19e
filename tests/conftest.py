"""Shared fixtures: a real embedded PostgreSQL 18 for the session, a scratch database per test.

Nothing here mocks the database: the server is the one `meltano invoke postgres start` runs
(plugins/postgres), started on a free port with a data directory of its own, so tests never touch
the developer's `.meltano/postgres` server or its data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pneuma_postgres.server import ServerConfig, free_loopback_port, scratch_server
from psycopg import sql
from real_samples import samples_dir  # noqa: F401 - the fixture, one setting for both suites

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = PROJECT_ROOT / ".venv" / "bin"
MELTANO = BIN_DIR / "meltano"
PNEUMA_GENERATE = BIN_DIR / "pneuma-generate"
MELTANO_TIMEOUT_S = 900
TEST_PASSWORD = "pneuma-test"  # noqa: S105 - throwaway password of a throwaway local server


@pytest.fixture
def unused_port() -> Callable[[], int]:
    """`unused_port()` returns a loopback TCP port that nothing listens on."""
    return free_loopback_port


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerConfig]:
    """An embedded PostgreSQL 18 on a free port, deleted after the session."""
    with scratch_server(tmp_path_factory.mktemp("postgres") / "data", TEST_PASSWORD) as config:
        yield config


def _database_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", node_name.lower())[:40]
    digest = hashlib.sha1(node_name.encode()).hexdigest()[:8]  # noqa: S324 - a name, not security
    return f"t_{slug}_{digest}"


@pytest.fixture
def scratch_db(pg_server: ServerConfig, request: pytest.FixtureRequest) -> ServerConfig:
    """A fresh, empty database on the session's server, named after the test."""
    database = _database_name(request.node.name)
    with pg_server.connect(database="postgres") as connection:
        connection.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
        )
        connection.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    return replace(pg_server, database=database)


@pytest.fixture(scope="session")
def meltano_sys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private `.meltano` for test runs that shares the installed plugins of the project's.

    Meltano writes each run's catalog, config and system database under its sys dir; with a
    private one, tests never race a developer's `make run` (or another test session) for them.
    """
    installed = PROJECT_ROOT / ".meltano"
    sys_dir = tmp_path_factory.mktemp("meltano-sys")
    for plugin_type in ("extractors", "loaders", "utilities"):
        (sys_dir / plugin_type).symlink_to(installed / plugin_type, target_is_directory=True)
    return sys_dir


@dataclass
class MeltanoProject:
    """Runs this repository's Meltano project against a test's database and state directory."""

    config: ServerConfig
    state_dir: Path
    sys_dir: Path
    files: list[str]
    extra_env: dict[str, str]
    unset_env: tuple[str, ...] = ()

    def env(self) -> dict[str, str]:
        """The environment of a run: PNEUMA_PG_* of the scratch database, a private state store."""
        env = dict(os.environ)
        env.update(
            {
                "PNEUMA_PG_HOST": self.config.host,
                "PNEUMA_PG_PORT": str(self.config.port),
                "PNEUMA_PG_USER": self.config.user,
                "PNEUMA_PG_PASSWORD": self.config.password,
                "PNEUMA_PG_DATABASE": self.config.database,
                "PNEUMA_PG_DATA_DIR": str(self.config.data_dir),
                # the read-only role keeps the password scratch_server gave it
                "PNEUMA_READER_PASSWORD": self.config.password,
                "MELTANO_STATE_BACKEND_URI": self.state_dir.as_uri(),
                "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
                # Own system database per test: run records of other runs must not make Meltano
                # refuse with "another pipeline is already running".
                "MELTANO_DATABASE_URI": f"sqlite:///{self.state_dir / 'meltano.db'}",
                "TAP_PNEUMA_FILES": json.dumps(self.files),
                "NO_COLOR": "1",
            }
        )
        env.update(self.extra_env)
        for name in self.unset_env:
            env.pop(name, None)
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`meltano <args>` in the project root; stdout and stderr merged into `.stdout`."""
        return subprocess.run(
            [str(MELTANO), *args],
            cwd=PROJECT_ROOT,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=MELTANO_TIMEOUT_S,
            check=False,
        )

    def run_ok(self, *args: str) -> str:
        """Run and fail the test with Meltano's output if the run fails."""
        result = self.run(*args)
        assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{result.stdout[-6000:]}"
        return result.stdout

    def query(self, statement: str, params: Sequence[object] = ()) -> list[tuple]:
        """Rows of one query on the test's database."""
        with self.config.connect() as connection:
            return connection.execute(statement, params).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def meltano_project(
    scratch_db: ServerConfig, tmp_path: Path, meltano_sys_dir: Path
) -> MeltanoProject:
    """The Meltano project pointed at a scratch database, with its own state store."""
    state_dir = tmp_path / "meltano-state"
    state_dir.mkdir()
    return MeltanoProject(
        config=scratch_db, state_dir=state_dir, sys_dir=meltano_sys_dir, files=[], extra_env={}
    )


def _generate_files(out_dir: Path, *args: str) -> list[Path]:
    result = subprocess.run(
        [str(PNEUMA_GENERATE), str(out_dir), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return [Path(line.split("\t")[0]) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def generate_files() -> Callable[..., list[Path]]:
    """`generate_files(out_dir, *pneuma_generate_args)` writes synthetic pNEUMA files."""
    return _generate_files
