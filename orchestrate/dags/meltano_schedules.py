"""One Airflow DAG per Meltano schedule, one task per step of its job, loads fanned out per file.

The schedules and jobs are read from `meltano.yml` (pneuma_dags.project); Meltano never runs at
parse time. A step that is one extract-load pair (`tap-pneuma target-postgres`) becomes two tasks:
`list_inputs` lists the tap's input files when the run starts, and the extract-load task is mapped
over them (`.expand`), one `meltano run --state-id-suffix <shard> tap-pneuma target-postgres` per
file (or per bucket of files, PNEUMA_AIRFLOW_SHARDS), up to PNEUMA_AIRFLOW_PARALLEL_LOADS at once,
each in a Meltano system directory of its own (pneuma_dags.isolated_run). Every other step is one
`meltano run <step>` task.

A step runs only when every task before it succeeded (Airflow's all_success): the dbt build waits
until every shard is loaded, so a failed shard leaves the marts as the last successful build left
them, and a retry of that shard alone (or the next run) completes them. A recording is never half
rebuilt: a failed load may have upserted part of a changed file into the raw tables, and no build
runs on those rows until the shard's file is loaded whole.
"""

# ruff: noqa: INP001  (Airflow imports DAG files by path; this folder is not a package)

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, chain, get_current_context, task

# The helpers (orchestrate/pneuma_dags/) live outside the DAG folder, which the DAG processor
# scans for DAG files.
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pneuma_dags.alerts import failure_callbacks
from pneuma_dags.isolated_run import run_extract_load, run_step
from pneuma_dags.project import Schedule, extract_load_pair, load_schedules
from pneuma_dags.shards import list_shards

TASK_RETRIES = int(os.environ.get("PNEUMA_AIRFLOW_TASK_RETRIES", "1"))
TASK_RETRY_DELAY = pendulum.duration(
    seconds=int(os.environ.get("PNEUMA_AIRFLOW_TASK_RETRY_DELAY_S", "300")),
)
# Loads of one run at once: each is a tap and a target process, about one core together.
PARALLEL_LOADS = int(os.environ.get("PNEUMA_AIRFLOW_PARALLEL_LOADS") or os.cpu_count() or 1)
START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


def _task_id(number: int, step: str) -> str:
    """Name a task after its position and its blocks: `step_3_dbt-postgres_build`."""
    return f"step_{number}_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", step).strip("_")


def _env(schedule_env: dict[str, str]) -> dict[str, str]:
    """Airflow's environment when the task runs, with the schedule's `env` on top."""
    return {**os.environ, **schedule_env}


def _doc_md(schedule: Schedule) -> str:
    """Describe the DAG in the UI: where it comes from and what each task runs."""
    cadence = f"on `{schedule.interval}`" if schedule.cron else "only when triggered by hand"
    lines = [
        f"# Meltano schedule `{schedule.name}`",
        "",
        (
            f"Runs job `{schedule.job}` {cadence}; generated from `meltano.yml` by "
            "`orchestrate/dags/meltano_schedules.py`. A step starts when every task before it "
            "succeeded; a failed task's log holds Meltano's and the plugin's error message."
        ),
        "",
    ]
    for number, step in enumerate(schedule.steps, 1):
        if extract_load_pair(step):
            lines.append(
                f"{number}. `meltano run --state-id-suffix <recording> {step}`, one task per "
                f"input file (listed when the run starts), up to {PARALLEL_LOADS} at once",
            )
        else:
            lines.append(f"{number}. `meltano run {step}`")
    if schedule.env:
        lines += ["", "Environment: " + ", ".join(f"`{key}`" for key in sorted(schedule.env))]
    return "\n".join(lines)


def _step_task(schedule: Schedule, number: int, step: str) -> Any:  # noqa: ANN401 - an XComArg
    @task(task_id=_task_id(number, step))
    def meltano_run(schedule_env: dict[str, str]) -> None:
        run_step(step, env=_env(schedule_env))

    return meltano_run(schedule_env=schedule.env)


def _fanned_out_tasks(schedule: Schedule, number: int, step: str) -> tuple[Any, Any]:
    tap, _ = extract_load_pair(step) or (step, "")

    @task(task_id=f"step_{number}_list_inputs", retries=0)
    def list_inputs(schedule_env: dict[str, str]) -> list[dict[str, object]]:
        shards = list_shards(tap, env=_env(schedule_env))
        if not shards:
            msg = f"{tap} has no input files configured"
            raise ValueError(msg)
        return shards

    @task(
        task_id=_task_id(number, step),
        map_index_template="{{ shard_id }}",
        max_active_tis_per_dagrun=PARALLEL_LOADS,
    )
    def extract_load(shard: dict[str, Any], schedule_env: dict[str, str]) -> dict[str, Any]:
        get_current_context()["shard_id"] = shard["id"]  # type: ignore[typeddict-unknown-key]
        run_extract_load(step, shard["id"], list(shard["files"]), env=_env(schedule_env))
        return shard

    listed = list_inputs(schedule_env=schedule.env)
    return listed, extract_load.partial(schedule_env=schedule.env).expand(shard=listed)


def build_dag(schedule: Schedule) -> DAG:
    """Build the DAG of one Meltano schedule."""
    with DAG(
        dag_id=f"meltano_{schedule.name}",
        schedule=schedule.cron,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={
            "retries": TASK_RETRIES,
            "retry_delay": TASK_RETRY_DELAY,
            "on_failure_callback": failure_callbacks(),
        },
        tags=["meltano", f"job:{schedule.job}", "scheduled" if schedule.cron else "manual"],
        doc_md=_doc_md(schedule),
    ) as dag:
        tasks: list[Any] = []
        for number, step in enumerate(schedule.steps, 1):
            if extract_load_pair(step):
                tasks.extend(_fanned_out_tasks(schedule, number, step))
            else:
                tasks.append(_step_task(schedule, number, step))
        chain(*tasks)
    return dag


for _schedule in load_schedules():
    globals()[f"meltano_{_schedule.name}"] = build_dag(_schedule)
