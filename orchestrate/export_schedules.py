"""Cache `meltano schedule list --format=json` in orchestrate/schedules.json for the DAG generator.

The DAG generator (`orchestrate/dags/meltano_schedules.py`) reads this file instead of running
Meltano at parse time. Run it after changing schedules or jobs in meltano.yml:

    meltano invoke airflow:export_schedules     # or: make orchestrate/schedules.json

Standard library only, so it runs in the Airflow plugin's venv and in the project's .venv alike.
"""

# ruff: noqa: INP001  (a script run by path, not part of a package)

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[1])
CACHE = Path(
    os.environ.get("PNEUMA_SCHEDULES_CACHE") or PROJECT_ROOT / "orchestrate" / "schedules.json",
)


def meltano_executable() -> str:
    """Return the Meltano to run: $PNEUMA_MELTANO_EXECUTABLE, .venv's, or Meltano's own link."""
    candidates = [
        os.environ.get("PNEUMA_MELTANO_EXECUTABLE"),
        PROJECT_ROOT / ".venv" / "bin" / "meltano",
        PROJECT_ROOT / ".meltano" / "run" / "bin",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    tried = ", ".join(str(candidate) for candidate in candidates if candidate)
    msg = f"no Meltano found (tried {tried}); run `make install`"
    raise FileNotFoundError(msg)


def export_schedules() -> Path:
    """Write the schedule list to the cache atomically, so a DAG parse never sees half a file."""
    completed = subprocess.run(
        [meltano_executable(), "schedule", "list", "--format=json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        msg = f"meltano schedule list failed ({completed.returncode}):\n{completed.stderr}"
        raise RuntimeError(msg)
    schedules = json.loads(completed.stdout)  # fails loudly on anything but Meltano's JSON
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w",
        dir=CACHE.parent,
        prefix=".schedules-",
        suffix=".json",
        delete=False,
        encoding="utf-8",
    ) as temporary:
        json.dump(schedules, temporary, indent=2, sort_keys=True)
        temporary.write("\n")
    Path(temporary.name).replace(CACHE)
    return CACHE


if __name__ == "__main__":
    try:
        written = export_schedules()
    except (OSError, RuntimeError, ValueError) as error:
        sys.stderr.write(f"export_schedules: {error}\n")
        sys.exit(1)
    count = sum(len(entries) for entries in json.loads(written.read_text())["schedules"].values())
    sys.stderr.write(f"export_schedules: wrote {count} schedule(s) to {written}\n")
