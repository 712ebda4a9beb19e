"""The DAG generator: the DAG files parse, one DAG per schedule, loads mapped over input shards.

Runs in the Airflow plugin's venv: `meltano invoke airflow:test_dags`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = PROJECT_ROOT / "orchestrate" / "dags"
sys.path.insert(0, str(DAGS_DIR.parent))

from pneuma_dags.isolated_run import first_error_line  # noqa: E402
from pneuma_dags.shards import expand, shard_files  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import DAG

MELTANO_YML = PROJECT_ROOT / "meltano.yml"
AIRFLOW = Path(sys.executable).with_name("airflow")


def _meltano_yml() -> dict[str, Any]:
    return yaml.safe_load(MELTANO_YML.read_text(encoding="utf-8"))


def _steps(job: str) -> list[str]:
    tasks = next(entry["tasks"] for entry in _meltano_yml()["jobs"] if entry["name"] == job)
    return [task if isinstance(task, str) else " ".join(task) for task in tasks]


def _fill_dagbag(monkeypatch: pytest.MonkeyPatch, **env: str) -> DagBag:
    """Parse the DAG folder as the DAG processor would, with `env` set."""
    monkeypatch.setenv("MELTANO_PROJECT_ROOT", str(PROJECT_ROOT))
    for name in ("PNEUMA_ALERT_EMAILS", "AIRFLOW_CONN_APPRISE_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return DagBag(dag_folder=DAGS_DIR)


@pytest.fixture
def dagbag(monkeypatch: pytest.MonkeyPatch) -> DagBag:
    """The DAGs as parsed with no alerting configured."""
    return _fill_dagbag(monkeypatch, PNEUMA_AIRFLOW_PARALLEL_LOADS="3")


def _in_order(dag: DAG) -> list[Any]:
    """The tasks along the DAG's one chain, from its only root."""
    (current,) = dag.roots
    ordered = [current]
    while current.downstream_task_ids:
        (next_id,) = current.downstream_task_ids
        current = dag.get_task(next_id)
        ordered.append(current)
    assert len(ordered) == len(dag.tasks), "every task is on the one chain"
    return ordered


def test_dag_files_import_without_errors(dagbag: DagBag) -> None:
    """Every file in orchestrate/dags parses, and the only DAG file is the generator."""
    assert dagbag.import_errors == {}
    assert {Path(dag.fileloc).name for dag in dagbag.dags.values()} == {"meltano_schedules.py"}


def test_one_dag_per_meltano_schedule(dagbag: DagBag) -> None:
    """Each schedule in meltano.yml becomes exactly one DAG, named meltano_<schedule>."""
    names = [entry["name"] for entry in _meltano_yml()["schedules"]]
    assert sorted(dagbag.dag_ids) == sorted(f"meltano_{name}" for name in names)


def test_the_load_step_is_mapped_over_inputs_listed_at_run_time(dagbag: DagBag) -> None:
    """Ensure -> list inputs -> one mapped load per shard (bounded) -> dbt build, per job."""
    for entry in _meltano_yml()["schedules"]:
        dag = dagbag.dags[f"meltano_{entry['name']}"]
        steps = _steps(entry["job"])
        assert steps[1] == "tap-pneuma target-postgres"
        tasks = _in_order(dag)
        assert [task.task_id for task in tasks] == [
            "step_1_postgres_ensure",
            "step_2_list_inputs",
            "step_2_tap-pneuma_target-postgres",
            "step_3_" + steps[2].replace(":", "_"),
        ]
        ensure, listing, load, build = tasks
        assert not getattr(listing, "is_mapped", False)
        assert load.is_mapped
        assert load.max_active_tis_per_dagrun == 3
        assert load.map_index_template == "{{ shard_id }}"
        (expanded,) = load.op_kwargs_expand_input.value.values()
        assert expanded.operator is listing, "mapped over the listing task's output"
        assert load.partial_kwargs["op_kwargs"]["schedule_env"] == (entry.get("env") or {})
        assert build.trigger_rule == "all_success", "the build waits for every shard"
        for task in (ensure, listing, build):
            assert task.op_kwargs["schedule_env"] == (entry.get("env") or {})


def test_schedules_and_run_policy(dagbag: DagBag) -> None:
    """Cron or manual from meltano.yml; retries, one active run, no catchup, docs."""
    for entry in _meltano_yml()["schedules"]:
        dag = dagbag.dags[f"meltano_{entry['name']}"]
        if entry["interval"] == "@manual":
            assert dag.schedule is None
            assert not dag.timetable.can_be_scheduled
            assert "manual" in dag.tags
        else:
            assert dag.timetable.expression == entry["interval"]
            assert "scheduled" in dag.tags
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert dag.start_date.tzinfo is not None
        assert dag.doc_md.startswith(f"# Meltano schedule `{entry['name']}`")
        assert all(task.retries >= 1 for task in dag.tasks if task.task_id != "step_2_list_inputs")


def test_no_alert_is_attached_when_none_is_configured(dagbag: DagBag) -> None:
    """Without PNEUMA_ALERT_EMAILS or an Apprise connection no callback exists."""
    for dag in dagbag.dags.values():
        assert all(not task.on_failure_callback for task in dag.tasks)


def test_configured_alerts_are_task_level_notifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    """E-mail and webhook notifiers on every task (task-level: `dags test` calls them too)."""
    dagbag = _fill_dagbag(
        monkeypatch,
        PNEUMA_ALERT_EMAILS="a@example.test,b@example.test",
        AIRFLOW_CONN_APPRISE_DEFAULT='{"conn_type": "apprise", "extra": {"config": {"path": "json://127.0.0.1/x"}}}',
    )
    assert dagbag.import_errors == {}
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            kinds = [type(callback).__name__ for callback in task.on_failure_callback]
            assert kinds == ["SmtpNotifier", "AppriseNotifier"], task.task_id
            assert task.on_failure_callback[0].to == ["a@example.test", "b@example.test"]


def test_parsing_runs_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing the DAG files never runs Meltano (or anything else)."""

    def refuse(*args: object, **_kwargs: object) -> None:
        msg = f"DAG parsing started a process: {args!r}"
        raise AssertionError(msg)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(os, "system", refuse)
    dagbag = _fill_dagbag(monkeypatch)
    assert dagbag.import_errors == {}
    assert dagbag.dags


def test_inputs_expand_like_the_tap_and_unmatched_entries_stay(tmp_path: Path) -> None:
    """Folders and globs to sorted input files; a URL or an entry matching nothing is kept."""
    for name in ("b.csv", "a.csv.gz", "notes.md", "sub/c.zip"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    missing = str(tmp_path / "gone.csv")
    entries = [str(tmp_path), str(tmp_path / "*.csv"), "s3://bucket/x.csv", missing]
    assert expand(entries, recursive=False) == [
        str(tmp_path / "a.csv.gz"),
        str(tmp_path / "b.csv"),
        "s3://bucket/x.csv",
        missing,
    ]
    assert str(tmp_path / "sub" / "c.zip") in expand([str(tmp_path)], recursive=True)


def test_shard_ids_do_not_depend_on_the_other_files() -> None:
    """A shard's id (its state id suffix) stays when files are added: state keeps skipping."""
    files = ["/d/20181024_d1_0830_0900.csv", "/d/20181024_d2_0830_0900.csv.gz"]
    shards = shard_files(files)
    assert [(s.id, s.files) for s in shards] == [
        ("20181024_d1_0830_0900", (files[0],)),
        ("20181024_d2_0830_0900", (files[1],)),
    ]
    more = shard_files([*files, "/d/20181029_d1_0800_0830.zip", "/e/20181024_d1_0830_0900.csv"])
    assert [s.id for s in more][:3] == [s.id for s in shards] + ["20181029_d1_0800_0830"]
    assert more[3].id.startswith("20181024_d1_0830_0900-"), "same name elsewhere: its own shard"
    buckets = {s.id: s.files for s in shard_files([*files, "/d/x.csv"], buckets=2)}
    assert sum(len(f) for f in buckets.values()) == 3
    bigger = {s.id: s.files for s in shard_files([*files, "/d/x.csv", "/d/y.csv"], buckets=2)}
    for bucket, members in buckets.items():
        assert set(members) <= set(bigger[bucket]), "files never move between buckets"


def test_first_error_line_is_the_plugins_own_message() -> None:
    """From Meltano's output, the line that says what failed and where."""
    lines = [
        "2026-01-01T00:00:00Z [info     ] tap-pneuma   tap-pneuma v0.1.1, Meltano SDK v0.54",
        "2026-01-01T00:00:01Z [info     ] tap-pneuma   tap-pneuma: /d/x.csv: line 3: bad lat",
        "2026-01-01T00:00:02Z [error    ] meltano      Extractor failed",
    ]
    assert first_error_line(lines) == "tap-pneuma: /d/x.csv: line 3: bad lat"
    assert first_error_line(lines[2:]) == "Extractor failed"
    assert first_error_line(["psycopg.OperationalError: connection refused"]) == (
        "OperationalError: connection refused"
    )


def test_machine_readable_dags_list_is_clean_json(
    tmp_path: Path, isolated_airflow_env: Callable[[Path], dict[str, str]]
) -> None:
    """`airflow dags list --local -o json` prints JSON and nothing else on stdout.

    Airflow logs a warning when it cannot import graphviz, on stdout, in front of the JSON; the
    plugin's requirements install graphviz's Python package. (`meltano invoke airflow ...` runs
    this same command and adds nothing to stdout; it is not used here because Meltano would
    point Airflow at the developer's own metadata DB, not the test's.)
    """
    env = isolated_airflow_env(tmp_path / "airflow")
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, check=True)
    completed = subprocess.run(
        [str(AIRFLOW), "dags", "list", "--local", "-o", "json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = json.loads(completed.stdout)
    assert sorted(entry["dag_id"] for entry in listed) == sorted(
        f"meltano_{entry['name']}" for entry in _meltano_yml()["schedules"]
    )
