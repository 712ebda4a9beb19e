"""One Airflow DAG per Meltano schedule; each step of the schedule's job is one `meltano run` task.

The schedules come from a cached export of `meltano schedule list --format=json`
(`orchestrate/schedules.json`, written by `make orchestrate/schedules.json` or
`meltano invoke airflow:export_schedules`). When the cache is missing or older than `meltano.yml`,
they are read from `meltano.yml` itself with `yaml.safe_load`. Meltano is never run here: the DAG
processor re-imports this file every few seconds, so parsing must stay cheap and side-effect free.

Each task runs `meltano run <step>` from the project root, so a failed run shows which step failed
and its task log holds Meltano's output, including the failing plugin's own error message.
"""

# ruff: noqa: INP001  (Airflow imports DAG files by path; this folder is not a package)

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import pendulum
import yaml
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, chain

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(
    os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[2],
).resolve()
MELTANO_YML = PROJECT_ROOT / "meltano.yml"
SCHEDULES_CACHE = Path(
    os.environ.get("PNEUMA_SCHEDULES_CACHE") or PROJECT_ROOT / "orchestrate" / "schedules.json",
)
# Meltano keeps this symlink to the executable that last ran in the project, so the tasks use
# the same Meltano as the person who installed the project, whatever venv Airflow runs in.
MELTANO_EXECUTABLE = os.environ.get("PNEUMA_MELTANO_EXECUTABLE") or str(
    PROJECT_ROOT / ".meltano" / "run" / "bin",
)
# Meltano intervals that have no cron equivalent: such schedules are triggered by hand only.
MANUAL_INTERVALS = frozenset({"@once", "@manual", "@none"})
TASK_RETRIES = int(os.environ.get("PNEUMA_AIRFLOW_TASK_RETRIES", "1"))
TASK_RETRY_DELAY = pendulum.duration(
    seconds=int(os.environ.get("PNEUMA_AIRFLOW_TASK_RETRY_DELAY_S", "300")),
)
START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")
# Task logs are read in the UI, not on a terminal: no colour escape codes from Meltano or dbt.
PLAIN_OUTPUT_ENV = {"NO_COLOR": "1", "DBT_USE_COLORS": "false"}


def _job_steps(tasks: list[Any]) -> list[str]:
    """Flatten a Meltano job's task list into `meltano run` arguments, one string per step.

    A job's tasks are strings ("tap-pneuma target-postgres") or lists of block names
    (["tap-pneuma", "target-postgres"]); both run as one `meltano run` invocation.
    """
    return [task if isinstance(task, str) else " ".join(task) for task in tasks]


def _cron(interval: str | None) -> str | None:
    """Return the Airflow schedule for a Meltano interval (None: only triggered by hand)."""
    if interval is None or interval.strip().lower() in MANUAL_INTERVALS:
        return None
    return interval


def schedules_from_cache(cache: Path) -> list[dict[str, Any]]:
    """Read the schedules exported by `meltano schedule list --format=json`."""
    exported = json.loads(cache.read_text(encoding="utf-8"))["schedules"]
    schedules = [
        {
            "name": entry["name"],
            "schedule": _cron(entry["interval"]),
            "interval": entry["interval"],
            "env": entry.get("env") or {},
            "job": entry["job"]["name"],
            "steps": _job_steps(entry["job"]["tasks"]),
        }
        for entry in exported.get("job", [])
    ]
    # Legacy extractor/loader schedules have no job: Meltano runs them whole, as one step.
    schedules.extend(
        {
            "name": entry["name"],
            "schedule": _cron(entry["interval"]),
            "interval": entry["interval"],
            "env": entry.get("env") or {},
            "job": None,
            "steps": [],
        }
        for entry in exported.get("elt", [])
    )
    return schedules


def _project_files(meltano_yml: Path) -> list[dict[str, Any]]:
    """Load meltano.yml and the files its `include_paths` name."""
    project = yaml.safe_load(meltano_yml.read_text(encoding="utf-8")) or {}
    documents = [project]
    for pattern in project.get("include_paths", []):
        documents.extend(
            yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for path in sorted(meltano_yml.parent.glob(pattern))
        )
    return documents


def schedules_from_meltano_yml(meltano_yml: Path) -> list[dict[str, Any]]:
    """Read the schedules and their jobs straight from meltano.yml (the fallback)."""
    documents = _project_files(meltano_yml)
    steps_by_job = {
        job["name"]: _job_steps(job["tasks"])
        for document in documents
        for job in document.get("jobs") or []
    }
    schedules = []
    for document in documents:
        for entry in document.get("schedules") or []:
            job = entry.get("job")
            if job is not None and job not in steps_by_job:
                msg = f"{meltano_yml}: schedule {entry['name']!r} names unknown job {job!r}"
                raise ValueError(msg)
            schedules.append(
                {
                    "name": entry["name"],
                    "schedule": _cron(entry.get("interval")),
                    "interval": entry.get("interval"),
                    "env": entry.get("env") or {},
                    "job": job,
                    "steps": steps_by_job[job] if job is not None else [],
                },
            )
    return schedules


def load_schedules() -> list[dict[str, Any]]:
    """Return the project's schedules, from the cache when it is at least as new as meltano.yml."""
    if SCHEDULES_CACHE.is_file() and (
        not MELTANO_YML.is_file() or SCHEDULES_CACHE.stat().st_mtime >= MELTANO_YML.stat().st_mtime
    ):
        return schedules_from_cache(SCHEDULES_CACHE)
    if SCHEDULES_CACHE.is_file():
        log.warning("%s is older than %s; reading meltano.yml", SCHEDULES_CACHE, MELTANO_YML)
    return schedules_from_meltano_yml(MELTANO_YML)


def _task_id(number: int, step: str) -> str:
    """Name a task after its position and its blocks: `step_2_dbt-postgres_build`."""
    return f"step_{number}_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", step).strip("_")


def _doc_md(schedule: dict[str, Any]) -> str:
    """Describe the DAG in the UI: where it comes from and what each task runs."""
    cadence = (
        f"on `{schedule['interval']}`" if schedule["schedule"] else "only when triggered by hand"
    )
    lines = [
        f"# Meltano schedule `{schedule['name']}`",
        "",
        (
            f"Runs job `{schedule['job']}` {cadence}; generated from `meltano.yml` by "
            "`orchestrate/dags/meltano_schedules.py`. Each task is one `meltano run` step, in "
            "job order; a failed task's log holds Meltano's and the plugin's error message."
        ),
        "",
    ]
    if schedule["job"] is None:
        lines.append(f"1. `meltano schedule run {schedule['name']}`")
    lines.extend(f"{n}. `meltano run {step}`" for n, step in enumerate(schedule["steps"], 1))
    if schedule["env"]:
        lines += ["", "Environment: " + ", ".join(f"`{key}`" for key in sorted(schedule["env"]))]
    return "\n".join(lines)


def build_dag(schedule: dict[str, Any]) -> DAG:
    """Build the DAG of one Meltano schedule."""
    with DAG(
        dag_id=f"meltano_{schedule['name']}",
        schedule=schedule["schedule"],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={"retries": TASK_RETRIES, "retry_delay": TASK_RETRY_DELAY},
        tags=[
            "meltano",
            f"job:{schedule['job']}" if schedule["job"] else "elt",
            "scheduled" if schedule["schedule"] else "manual",
        ],
        doc_md=_doc_md(schedule),
    ) as dag:
        commands = (
            [f"run {step}" for step in schedule["steps"]]
            if schedule["job"] is not None
            else [f"schedule run {schedule['name']}"]
        )
        steps = schedule["steps"] or [schedule["name"]]
        chain(
            *(
                BashOperator(
                    task_id=_task_id(number, step),
                    bash_command=f"exec {MELTANO_EXECUTABLE} {command}",
                    cwd=str(PROJECT_ROOT),
                    env=PLAIN_OUTPUT_ENV | {key: str(v) for key, v in schedule["env"].items()},
                    append_env=True,
                )
                for number, (step, command) in enumerate(zip(steps, commands, strict=True), 1)
            ),
        )
    return dag


for _schedule in load_schedules():
    globals()[f"meltano_{_schedule['name']}"] = build_dag(_schedule)
