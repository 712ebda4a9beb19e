"""`airflow dags test` of the incremental DAG: the real pipeline, fanned out per recording.

Runs in the Airflow plugin's venv (`meltano invoke airflow:test_dag_runs`), in a sandbox
(pipeline_sandbox.py). `dags test` runs the mapped loads one after another; loads running at
the same time under a real scheduler, with exact raw counts, are test_celery_profile.py's. A
broken file fails its own shard only, the dbt build waits, and one alert reaches a real SMTP
server and a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller
from pipeline_sandbox import (
    Generated,
    Sandbox,
    TaskState,
    free_port,
    generate,
    incremental_dag_id,
    make_sandbox,
    task_states,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

AIRFLOW = Path(sys.executable).with_name("airflow")
DAG_RUN_TIMEOUT_S = 1800  # generous: a busy 2-core machine runs these many times slower
LOAD_TASK = "step_2_tap-pneuma_target-postgres"
DBT_TASK = "step_3_dbt-postgres_build"


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
    isolated_airflow_env: Callable[[Path], dict[str, str]],
) -> Iterator[Sandbox]:
    """A sandboxed pipeline with a migrated SQLite metadata DB."""
    work_dir = tmp_path_factory.mktemp("dag-runs")
    box = make_sandbox(work_dir, isolated_airflow_env(work_dir / "airflow"), tag="dags_test")
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=box.env, capture_output=True, check=True)
    yield box
    box.stop()


@dataclass(frozen=True)
class DagRun:
    """The outcome of one `airflow dags test`: exit code, output and task states."""

    returncode: int
    output: str
    tasks: dict[tuple[str, int], TaskState]

    def describe(self) -> str:
        """For assertion messages."""
        states = {
            f"{k[0]}[{k[1]}]": (v.state, v.try_number, v.label) for k, v in self.tasks.items()
        }
        return f"exit {self.returncode}, tasks {states}\n{self.output[-6000:]}"

    def loads(self) -> dict[str, TaskState]:
        """The mapped extract-load tasks by shard."""
        return {
            state.label: state for (task_id, _), state in self.tasks.items() if task_id == LOAD_TASK
        }


def _dags_test(sandbox: Sandbox, files: list[Path], name: str, **extra_env: str) -> DagRun:
    env = {
        **sandbox.env,
        "TAP_PNEUMA_FILES": json.dumps([str(path) for path in files]),
        **extra_env,
    }
    log_file = sandbox.work_dir / f"dags-test-{name}.log"
    with log_file.open("w", encoding="utf-8") as log:
        completed = subprocess.run(
            [str(AIRFLOW), "dags", "test", incremental_dag_id()],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=DAG_RUN_TIMEOUT_S,
            check=False,
        )
    return DagRun(
        returncode=completed.returncode,
        output=log_file.read_text(encoding="utf-8"),
        tasks=task_states(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], incremental_dag_id()),
    )


@pytest.fixture(scope="module")
def first_load(sandbox: Sandbox) -> tuple[Path, Generated, DagRun]:
    """One DAG run over a folder of two freshly generated recordings."""
    data_dir = sandbox.work_dir / "data"
    generated = generate(data_dir, n_files=2, first_index=0)
    return data_dir, generated, _dags_test(sandbox, [data_dir], "first")


def test_one_load_per_recording_then_one_build(
    sandbox: Sandbox, first_load: tuple[Path, Generated, DagRun]
) -> None:
    """The folder is listed at run time, each file is one mapped load, then the marts build."""
    _, generated, run = first_load
    assert run.returncode == 0, run.describe()
    assert all(state.state == "success" for state in run.tasks.values()), run.describe()
    assert sorted(run.loads()) == sorted(generated.recording_ids), run.describe()
    counts = sandbox.raw_counts(generated.recording_ids)
    assert counts == {
        rid: (1, generated.vehicles[rid], generated.positions[rid])
        for rid in generated.recording_ids
    }
    assert sandbox.mart_positions(generated.recording_ids) == generated.positions


class _Inbox:
    """Messages a real SMTP server (aiosmtpd) on 127.0.0.1 received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, _server: object, _session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[int, _Inbox]]:
    """A real SMTP server on a free port of 127.0.0.1."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """A real HTTP server on a free port of 127.0.0.1 that keeps the JSON bodies posted to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()  # shutdown() stops serving; this closes the listening socket


def _break_row(path: Path, line_number: int) -> str:
    """Make one value of a data row non-numeric; return the recording id."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[line_number - 1].split("; ")
    fields[5] = "not-a-number"
    lines[line_number - 1] = "; ".join(fields)
    path.write_text("".join(lines), encoding="utf-8")
    return path.name.split(".")[0]


def test_a_bad_file_fails_its_shard_alone_and_alerts_once(
    sandbox: Sandbox,
    first_load: tuple[Path, Generated, DagRun],
    smtp_inbox: tuple[int, _Inbox],
    webhook: tuple[int, list[dict[str, Any]]],
) -> None:
    """Loaded files are skipped, a new one loads, the bad one fails alone, dbt waits, one alert.

    The e-mail and the webhook name the DAG, the task, the recording and the error's first line.
    """
    data_dir, first, first_run = first_load
    assert first_run.returncode == 0, first_run.describe()
    extracted_at_sql = "select recording_id, _sdc_extracted_at from tap_pneuma.recordings"
    with sandbox.connect() as connection:
        extracted_before = dict(connection.execute(extracted_at_sql).fetchall())
        marts_before = connection.execute(
            "select count(*) from analytics_marts.fct_trajectory_points"
        ).fetchone()[0]
    generated = generate(data_dir, n_files=2, first_index=2)
    bad_path = generated.paths[1]
    bad = _break_row(bad_path, line_number=3)
    good = [rid for rid in generated.recording_ids if rid != bad]
    smtp_port, inbox = smtp_inbox
    webhook_port, posts = webhook
    run = _dags_test(
        sandbox,
        [data_dir],
        "with-a-bad-file",
        PNEUMA_ALERT_EMAILS="oncall@example.test, data@example.test",
        AIRFLOW_CONN_SMTP_DEFAULT=json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {"disable_ssl": True, "disable_tls": True},
            }
        ),
        AIRFLOW_CONN_APPRISE_DEFAULT=json.dumps(
            {
                "conn_type": "apprise",
                "extra": {"config": {"path": f"json://127.0.0.1:{webhook_port}/alerts"}},
            }
        ),
    )
    assert run.returncode != 0, run.describe()
    loads = run.loads()
    assert {rid: state.state for rid, state in loads.items()} == {
        **dict.fromkeys([*first.recording_ids, *good], "success"),
        bad: "failed",
    }, run.describe()
    with sandbox.connect() as connection:
        extracted_after = dict(connection.execute(extracted_at_sql).fetchall())
    assert {rid: extracted_after[rid] for rid in first.recording_ids} == extracted_before, (
        "each shard's state skipped its file, loaded by the first run"
    )
    assert loads[bad].try_number == 2, "retried once, alone"
    assert run.tasks[DBT_TASK, -1].state == "upstream_failed", run.describe()
    # The good recordings are loaded; no build ran, so the marts are as the last build left them.
    counts = sandbox.raw_counts(good)
    assert counts == {rid: (1, generated.vehicles[rid], generated.positions[rid]) for rid in good}
    with sandbox.connect() as connection:
        marts_after = connection.execute(
            "select count(*) from analytics_marts.fct_trajectory_points"
        ).fetchone()[0]
    assert marts_after == marts_before
    assert sandbox.mart_positions([*good, bad]) == {}

    error = f"{bad} ({bad_path}): tap-pneuma: {bad_path}:3: field 'lon' of position 1"
    assert len(inbox.messages) == 1, [m["Subject"] for m in inbox.messages]
    (mail,) = inbox.messages
    assert mail["To"] == "oncall@example.test, data@example.test"
    assert mail["Subject"] == f"[pneuma] {incremental_dag_id()} failed: {LOAD_TASK} [{bad}]"
    body = mail.get_body(("html",)).get_content()
    for fact in (incremental_dag_id(), LOAD_TASK, f"<b>Recording</b>: {bad}", error):
        assert fact in body, body
    assert len(posts) == 1, posts
    assert posts[0]["title"] == mail["Subject"]
    assert f"Recording: {bad}\n" in posts[0]["message"]
    assert f"Error: {error}" in posts[0]["message"]
    assert len(posts[0]["message"].splitlines()) == 6, "the error's first line only"
