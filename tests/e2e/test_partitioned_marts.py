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
VISIBLE_POINTS_SQL = (
    "select recording_id, count(*) from analytics_marts.fct_trajectory_points group by 1"
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
    inputs = tmp_path / "in"
    first = generate_files(inputs, "--files", "2", "--vehicles", "15", "--seed", "11")
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
            files=[str(inputs)],
            extra_env={},
        )
        # a warehouse in use: two recordings published, then three more arrive
        project.run_ok("run", "tap-pneuma", "target-postgres")
        project.run_ok("invoke", "dbt-postgres:build")
        published_first = {key for key, _, _ in project.query(PUBLISHED_POINTS_SQL)}
        more = generate_files(
            inputs, "--files", "3", "--vehicles", "15", "--seed", "12", "--first-index", "2"
        )
        expected = {path.name.split(".")[0]: positions_in(path) for path in [*first, *more]}
        project.run_ok("run", "tap-pneuma", "target-postgres")

        # kill -9 of the server once the build has published a new recording, not all
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
            published = project.query(PUBLISHED_POINTS_SQL)
            # readers keep the public view throughout the build (it is replaced in place)
            project.query(VISIBLE_POINTS_SQL)
            if len(published) > len(published_first):
                break
            time.sleep(0.05)
        assert len(published) > len(published_first), "the build ended before the kill"
        server = EmbeddedServer(project.config)
        _kill_server(server)
        build.communicate(timeout=300)
        assert build.returncode != 0
        server.start()

        # the stored partitions hold exactly what the publication log says, each recording whole
        published = project.query(PUBLISHED_POINTS_SQL)
        assert {key for key, _, _ in published} >= published_first
        assert dict(project.query(STORED_POINTS_SQL)) == {
            key: n_rows for key, _, n_rows in published
        }
        # and the public view shows them, exactly as in the files
        visible = dict(project.query(VISIBLE_POINTS_SQL))
        assert len(visible) == len(published)
        assert all(visible[recording_id] == expected[recording_id] for recording_id in visible)
        # no half-written table survived the crash
        assert project.query(
            "select count(*) from pg_class where relname like %s", ("%\\_\\_new",)
        ) == [(0,)]

        # the next build rebuilds only what the killed one had not published
        project.run_ok("invoke", "dbt-postgres:build")
        after = {key: run for key, run, _ in project.query(PUBLISHED_POINTS_SQL)}
        assert all(after[key] == run for key, run, _ in published)
        assert dict(project.query(VISIBLE_POINTS_SQL)) == expected
