"""The Meltano project the DAGs run: where it is, which Meltano runs it, its schedules and jobs.

The schedules are read from `meltano.yml` (and the files its `include_paths` name) with
`yaml.safe_load`: a few milliseconds, and Meltano itself never runs at parse time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(
    os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[2],
).resolve()
MELTANO_YML = PROJECT_ROOT / "meltano.yml"
# Meltano keeps this symlink to the executable that last ran in the project, so the tasks use
# the same Meltano as the person who installed the project, whatever venv Airflow runs in.
MELTANO_EXECUTABLE = os.environ.get("PNEUMA_MELTANO_EXECUTABLE") or str(
    PROJECT_ROOT / ".meltano" / "run" / "bin",
)
# Meltano intervals that have no cron equivalent: such schedules are triggered by hand only.
MANUAL_INTERVALS = frozenset({"@once", "@manual", "@none"})


@dataclass(frozen=True)
class Schedule:
    """One Meltano schedule and the steps of its job (`meltano run` arguments, in order)."""

    name: str
    interval: str | None
    job: str
    steps: tuple[str, ...]
    env: dict[str, str]

    @property
    def cron(self) -> str | None:
        """The Airflow schedule (None: triggered by hand only)."""
        if self.interval is None or self.interval.strip().lower() in MANUAL_INTERVALS:
            return None
        return self.interval


def extract_load_pair(step: str) -> tuple[str, str] | None:
    """`(tap, target)` when a step is one extract-load pair (`tap-x target-y`), else None.

    Only such steps fan out per input shard; anything else (a utility command, a mapper between
    tap and target) runs as one task.
    """
    blocks = step.split()
    if len(blocks) == 2 and blocks[0].startswith("tap-") and blocks[1].startswith("target-"):  # noqa: PLR2004
        return blocks[0], blocks[1]
    return None


def _documents(meltano_yml: Path) -> list[dict[str, Any]]:
    """meltano.yml and the files its `include_paths` name."""
    project = yaml.safe_load(meltano_yml.read_text(encoding="utf-8")) or {}
    documents = [project]
    for pattern in project.get("include_paths", []):
        documents.extend(
            yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for path in sorted(meltano_yml.parent.glob(pattern))
        )
    return documents


def default_environment(meltano_yml: Path = MELTANO_YML) -> str | None:
    """The environment Meltano runs in when MELTANO_ENVIRONMENT is unset."""
    return (yaml.safe_load(meltano_yml.read_text(encoding="utf-8")) or {}).get(
        "default_environment"
    )


def load_schedules(meltano_yml: Path = MELTANO_YML) -> list[Schedule]:
    """Every job schedule of the project; a schedule naming an unknown job is an error."""
    documents = _documents(meltano_yml)
    steps_by_job = {
        job["name"]: tuple(
            task if isinstance(task, str) else " ".join(task) for task in job["tasks"]
        )
        for document in documents
        for job in document.get("jobs") or []
    }
    schedules = []
    for document in documents:
        for entry in document.get("schedules") or []:
            job = entry.get("job")
            if job not in steps_by_job:
                msg = (
                    f"{meltano_yml}: schedule {entry['name']!r} names no job of this project "
                    f"({job!r}); the DAG generator runs job schedules only"
                )
                raise ValueError(msg)
            schedules.append(
                Schedule(
                    name=entry["name"],
                    interval=entry.get("interval"),
                    job=job,
                    steps=steps_by_job[job],
                    env={key: str(value) for key, value in (entry.get("env") or {}).items()},
                ),
            )
    return schedules
