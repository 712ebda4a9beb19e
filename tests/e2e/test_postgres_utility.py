"""The `postgres` utility through Meltano: embedded lifecycle, prod's reachability check."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import psycopg
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import MeltanoProject


def test_start_status_stop_a_fresh_embedded_server(
    meltano_project: MeltanoProject, tmp_path: Path, unused_port: Callable[[], int]
) -> None:
    port = unused_port()
    data_dir = tmp_path / "pgdata"
    meltano_project.config = replace(
        meltano_project.config,
        port=port,
        data_dir=data_dir,
        database="fresh",
        password="s3cret",  # noqa: S106
    )
    try:
        started = meltano_project.run_ok("invoke", "postgres", "start")
        assert f"Started embedded PostgreSQL on 127.0.0.1:{port}" in started
        assert (data_dir / "PG_VERSION").read_text().strip() == "18"

        status = meltano_project.run_ok("invoke", "postgres", "status")
        url = f"postgresql://postgres:s3cret@127.0.0.1:{port}/fresh"
        assert url in status
        with psycopg.connect(url) as connection:
            assert connection.execute("select current_database()").fetchone() == ("fresh",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"postgresql://postgres:wrong@127.0.0.1:{port}/fresh")

        again = meltano_project.run_ok("invoke", "postgres:ensure")
        assert f"Already running: embedded PostgreSQL on 127.0.0.1:{port}" in again
    finally:
        stopped = meltano_project.run("invoke", "postgres", "stop")
    assert "Stopped embedded PostgreSQL" in stopped.stdout
    after = meltano_project.run("invoke", "postgres", "status")
    assert after.returncode != 0
    assert "not running" in after.stdout


def test_ensure_with_wrong_password_fails_clearly(meltano_project: MeltanoProject) -> None:
    meltano_project.extra_env = {"PNEUMA_PG_PASSWORD": "wrong"}

    result = meltano_project.run("invoke", "postgres:ensure")

    assert result.returncode != 0
    address = f"127.0.0.1:{meltano_project.config.port}"
    assert f"Cannot connect to PostgreSQL at {address}" in result.stdout
    assert "password authentication failed" in result.stdout


def test_prod_ensure_checks_the_external_server_and_starts_nothing(
    meltano_project: MeltanoProject, tmp_path: Path, unused_port: Callable[[], int]
) -> None:
    # In prod nothing embedded starts: a data dir that does not exist must stay absent.
    never_created = tmp_path / "must-not-exist"
    meltano_project.config = replace(meltano_project.config, data_dir=never_created)

    reachable = meltano_project.run_ok("--environment", "prod", "invoke", "postgres:ensure")
    assert "External PostgreSQL 18" in reachable

    port = unused_port()
    meltano_project.extra_env = {"PNEUMA_PG_PORT": str(port)}
    unreachable = meltano_project.run("--environment", "prod", "invoke", "postgres:ensure")
    assert unreachable.returncode != 0
    assert f"Cannot connect to PostgreSQL at 127.0.0.1:{port}" in unreachable.stdout
    assert not never_created.exists()


def test_prod_refuses_to_run_without_connection_variables(
    meltano_project: MeltanoProject,
) -> None:
    meltano_project.unset_env = ("PNEUMA_PG_HOST",)

    result = meltano_project.run("--environment", "prod", "invoke", "postgres:ensure")

    assert result.returncode != 0
    assert "Environment variable 'PNEUMA_PG_HOST' referenced but not set" in result.stdout
