"""The partitioned marts after a crash of the server during `dbt build`.

Expected values come from the files (test_warehouse.read_vehicles), never from the warehouse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from conftest import MELTANO, PROJECT_ROOT, TEST_PASSWORD, MeltanoProject
from pneuma_postgres.server import EmbeddedServer, scratch_server
from test_warehouse import positions_in

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

PUBLISHED_POINTS_SQL = (
    "select recording_key, published_by, n_rows"
    " from analytics_storage.recording_publications"
    " where model_name = 'fct_trajectory_points_packed' and quality_status = 'published'"
)
STORED_POINTS_SQL = (
    "select recording_key, count(*)"
    " from analytics_storage.fct_trajectory_points_packed__by_recording group by 1"
)


def _kill_server(server: EmbeddedServer) -> None:
    """Send SIGKILL to the postmaster, then wait until it and its backends are gone."""
    pid = int((server.data_dir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while server.is_running() and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_crash_during_the_build_keeps_what_was_published(
    tmp_path: Path,
    meltano_sys_dir: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    paths = generate_files(tmp_path / "in", "--files", "3", "--vehicles", "15", "--seed", "11")
    expected = {path.name.split(".")[0]: positions_in(path) for path in paths}
    with scratch_server(tmp_path / "crash-data", TEST_PASSWORD) as server_config:
        with server_config.connect() as connection:
            connection.autocommit = True
            connection.execute("create database pneuma_crash")
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        project = MeltanoProject(
            config=replace(server_config, database="pneuma_crash"),
            state_dir=state_dir,
            sys_dir=meltano_sys_dir,
            files=[str(tmp_path / "in")],
            extra_env={},
        )
        project.run_ok("run", "tap-pneuma", "target-postgres")

        # kill -9 of the server once the build has published some recordings, not all
        build = subprocess.Popen(
            [str(MELTANO), "invoke", "dbt-postgres:build"],
            cwd=PROJECT_ROOT,
            env=project.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 600
        published: list[tuple] = []
        while time.monotonic() < deadline and build.poll() is None:
            try:
                published = project.query(PUBLISHED_POINTS_SQL)
            except Exception:  # noqa: BLE001 - the storage tables do not exist yet
                published = []
            if published:
                break
            time.sleep(0.05)
        assert published, "the build published nothing before it ended"
        server = EmbeddedServer(project.config)
        _kill_server(server)
        build.communicate(timeout=300)
        assert build.returncode != 0
        server.start()

        # the marts hold exactly what the publication log says, each recording whole
        published = project.query(PUBLISHED_POINTS_SQL)
        assert dict(project.query(STORED_POINTS_SQL)) == {
            key: n_rows for key, _, n_rows in published
        }
        # (the published view of the points: the killed first build may not have made the
        # decoding view analytics_marts.fct_trajectory_points yet)
        stored = dict(
            project.query(
                "select recording_id, count(*) from analytics_storage.fct_trajectory_points_packed"
                " group by 1"
            )
        )
        assert all(stored[recording_id] == expected[recording_id] for recording_id in stored)
        # no half-written table survived the crash
        assert project.query(
            "select count(*) from pg_class where relname like %s", ("%\\_\\_new",)
        ) == [(0,)]

        # the next build rebuilds only what the killed one had not published
        project.run_ok("invoke", "dbt-postgres:build")
        after = {key: run for key, run, _ in project.query(PUBLISHED_POINTS_SQL)}
        assert all(after[key] == run for key, run, _ in published)
        assert (
            dict(
                project.query(
                    "select recording_id, count(*) from analytics_marts.fct_trajectory_points"
                    " group by 1"
                )
            )
            == expected
        )
