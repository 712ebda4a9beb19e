"""The DAG generator: the DAG files parse, one DAG per Meltano schedule, tasks in job order.

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

if TYPE_CHECKING:
    from airflow.sdk import DAG

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = PROJECT_ROOT / "orchestrate" / "dags"
MELTANO_YML = PROJECT_ROOT / "meltano.yml"
EXPORT_SCRIPT = PROJECT_ROOT / "orchestrate" / "export_schedules.py"
INCREMENTAL_JOB = "pneuma-elt"
FULL_REFRESH_JOB = "pneuma-elt-full-refresh"


def _meltano_yml() -> dict[str, Any]:
    return yaml.safe_load(MELTANO_YML.read_text(encoding="utf-8"))


def _expected_steps(job: str) -> list[str]:
    """The steps of a job as meltano.yml lists them (lists of blocks joined by spaces)."""
    tasks = next(entry["tasks"] for entry in _meltano_yml()["jobs"] if entry["name"] == job)
    return [task if isinstance(task, str) else " ".join(task) for task in tasks]


def _schedule_for(job: str) -> dict[str, Any]:
    return next(entry for entry in _meltano_yml()["schedules"] if entry["job"] == job)


def _tasks_in_chain_order(dag: DAG) -> list[Any]:
    """Walk the DAG from its only root along the only downstream edge of each task."""
    (task,) = dag.roots
    ordered = [task]
    while task.downstream_task_ids:
        (next_id,) = task.downstream_task_ids
        task = dag.get_task(next_id)
        ordered.append(task)
    assert len(ordered) == len(dag.tasks), "every task is on the one chain"
    return ordered


def _fill_dagbag(monkeypatch: pytest.MonkeyPatch, cache: Path) -> DagBag:
    """Parse the DAG folder as the DAG processor would, with the schedule cache at `cache`."""
    monkeypatch.setenv("MELTANO_PROJECT_ROOT", str(PROJECT_ROOT))
    monkeypatch.setenv("PNEUMA_SCHEDULES_CACHE", str(cache))
    return DagBag(dag_folder=DAGS_DIR)


@pytest.fixture
def dagbag_from_meltano_yml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> DagBag:
    """DAGs built from meltano.yml itself (no cache file)."""
    return _fill_dagbag(monkeypatch, tmp_path / "no-cache.json")


def test_dag_files_import_without_errors(dagbag_from_meltano_yml: DagBag) -> None:
    """Every file in orchestrate/dags parses, as the DAG processor would parse it."""
    assert dagbag_from_meltano_yml.import_errors == {}
    assert dagbag_from_meltano_yml.dags


def test_one_dag_per_meltano_schedule(dagbag_from_meltano_yml: DagBag) -> None:
    """Each schedule in meltano.yml becomes exactly one DAG, named meltano_<schedule>."""
    schedule_names = [entry["name"] for entry in _meltano_yml()["schedules"]]
    assert sorted(dagbag_from_meltano_yml.dag_ids) == sorted(
        f"meltano_{name}" for name in schedule_names
    )


def test_tasks_run_the_job_steps_in_job_order(dagbag_from_meltano_yml: DagBag) -> None:
    """One task per job step, chained in the job's order, each a `meltano run <step>`."""
    for entry in _meltano_yml()["schedules"]:
        dag = dagbag_from_meltano_yml.dags[f"meltano_{entry['name']}"]
        steps = _expected_steps(entry["job"])
        tasks = _tasks_in_chain_order(dag)
        assert [task.bash_command.split(" run ", 1)[1] for task in tasks] == steps
        assert [task.task_id.split("_", 2)[1] for task in tasks] == [
            str(number) for number in range(1, len(steps) + 1)
        ]
        for task in tasks:
            assert task.bash_command.startswith(f"exec {PROJECT_ROOT}/.meltano/run/bin run ")
            assert Path(task.cwd) == PROJECT_ROOT
            assert task.append_env is True


def test_incremental_dag_runs_on_its_cron_interval(dagbag_from_meltano_yml: DagBag) -> None:
    """The incremental pneuma-elt schedule is a cron DAG the scheduler triggers."""
    schedule = _schedule_for(INCREMENTAL_JOB)
    dag = dagbag_from_meltano_yml.dags[f"meltano_{schedule['name']}"]
    assert len(schedule["interval"].split()) == 5, "a cron expression"
    assert dag.schedule == schedule["interval"]
    assert dag.timetable.expression == schedule["interval"]
    assert dag.timetable.can_be_scheduled
    assert "scheduled" in dag.tags
    assert f"job:{INCREMENTAL_JOB}" in dag.tags


def test_full_refresh_dag_runs_only_when_triggered_by_hand(
    dagbag_from_meltano_yml: DagBag,
) -> None:
    """The full refresh DAG has no schedule and runs Meltano with the schedule's env."""
    schedule = _schedule_for(FULL_REFRESH_JOB)
    dag = dagbag_from_meltano_yml.dags[f"meltano_{schedule['name']}"]
    assert schedule["interval"] == "@manual"
    assert dag.schedule is None
    assert not dag.timetable.can_be_scheduled
    assert "manual" in dag.tags
    for task in dag.tasks:
        assert schedule["env"], "the schedule's env makes Meltano ignore the tap's state"
        assert task.env.items() >= {key: str(v) for key, v in schedule["env"].items()}.items()


def test_every_dag_retries_and_never_overlaps_or_catches_up(
    dagbag_from_meltano_yml: DagBag,
) -> None:
    """Run policy: retries, one active run, no catchup, an aware start date, docs."""
    for dag in dagbag_from_meltano_yml.dags.values():
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert dag.start_date.tzinfo is not None
        assert "meltano" in dag.tags
        assert dag.doc_md.startswith("# Meltano schedule")
        for task in dag.tasks:
            assert task.retries >= 1
            assert f"meltano run {task.bash_command.split(' run ', 1)[1]}" in dag.doc_md


def test_parsing_runs_no_subprocess(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Parsing the DAG files never runs Meltano (or anything else)."""

    def refuse(*args: object, **_kwargs: object) -> None:
        msg = f"DAG parsing started a process: {args!r}"
        raise AssertionError(msg)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(os, "system", refuse)
    dagbag = _fill_dagbag(monkeypatch, tmp_path / "no-cache.json")
    assert dagbag.import_errors == {}
    assert dagbag.dags


def _meltano_export(schedules: list[dict[str, Any]]) -> dict[str, Any]:
    """The shape `meltano schedule list --format=json` prints."""
    return {"schedules": {"job": schedules, "elt": []}}


def test_fresh_cache_is_read_instead_of_meltano_yml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A cache newer than meltano.yml is the source of the DAGs."""
    cache = tmp_path / "schedules.json"
    exported = {
        "name": "only-in-cache-daily",
        "interval": "0 4 * * *",
        "cron_interval": "0 4 * * *",
        "env": {},
        "job": {"name": "only-in-cache", "tasks": ["tap-a target-b", ["dbt-c:run"]]},
    }
    cache.write_text(json.dumps(_meltano_export([exported])), encoding="utf-8")
    dagbag = _fill_dagbag(monkeypatch, cache)
    assert dagbag.import_errors == {}
    assert list(dagbag.dag_ids) == ["meltano_only-in-cache-daily"]
    tasks = _tasks_in_chain_order(dagbag.dags["meltano_only-in-cache-daily"])
    assert [task.task_id for task in tasks] == ["step_1_tap-a_target-b", "step_2_dbt-c_run"]


def test_cache_older_than_meltano_yml_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A cache older than meltano.yml is stale: the DAGs come from meltano.yml."""
    cache = tmp_path / "schedules.json"
    cache.write_text(json.dumps(_meltano_export([])), encoding="utf-8")
    before_meltano_yml_s = MELTANO_YML.stat().st_mtime - 60
    os.utime(cache, (before_meltano_yml_s, before_meltano_yml_s))
    dagbag = _fill_dagbag(monkeypatch, cache)
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) == len(_meltano_yml()["schedules"])


def test_meltanos_own_export_gives_the_same_dags_as_meltano_yml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dagbag_from_meltano_yml: DagBag
) -> None:
    """The fallback reads meltano.yml as Meltano does: both sources give the same DAGs."""
    cache = tmp_path / "schedules.json"
    completed = subprocess.run(
        [sys.executable, str(EXPORT_SCRIPT)],
        env={**os.environ, "PNEUMA_SCHEDULES_CACHE": str(cache)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    dagbag_from_cache = _fill_dagbag(monkeypatch, cache)
    assert dagbag_from_cache.import_errors == {}

    def described(dagbag: DagBag) -> dict[str, tuple[str | None, list[str], list[dict[str, str]]]]:
        return {
            dag_id: (
                dag.schedule,
                [task.bash_command for task in _tasks_in_chain_order(dag)],
                [task.env for task in dag.tasks],
            )
            for dag_id, dag in dagbag.dags.items()
        }

    assert described(dagbag_from_cache) == described(dagbag_from_meltano_yml)
