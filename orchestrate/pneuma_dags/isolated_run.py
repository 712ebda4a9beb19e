"""Run `meltano run` so that several can run at once in one project directory.

Meltano writes each run's catalog, state and config files under `<sys dir>/run/<plugin>/` with
fixed names (`tap.properties.json`, `state.json`), so two runs in one project would read each
other's files. Each run here gets a system directory of its own (MELTANO_SYS_DIR_ROOT): fresh
`run/` and `logs/` folders, and symlinks to everything else of the project's `.meltano` (the
installed plugins' venvs). Meltano's system database, which holds the state, stays the
project's: MELTANO_DATABASE_URI is pinned to it unless already set (PostgreSQL under Celery).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from pneuma_dags.project import MELTANO_EXECUTABLE, PROJECT_ROOT

log = logging.getLogger(__name__)

# Task logs are read in the UI, not on a terminal: no colour escape codes from Meltano or dbt.
PLAIN_OUTPUT_ENV = {"NO_COLOR": "1", "DBT_USE_COLORS": "false"}
PRIVATE_ENTRIES = frozenset({"run", "logs", "tasks"})
# Our plugins start their error message with their own name ("tap-pneuma: <file>: line 7: ...").
_PLUGIN_MESSAGE = re.compile(r"\s(?P<plugin>[a-z][\w-]*)\s+(?P<message>(?P=plugin): .*\S)\s*$")
_EXCEPTION = re.compile(r"\b\w*(?:Error|Exception)\b: .*\S")
_MELTANO_ERROR = re.compile(r"\[error\s*\]\s+meltano\s+(?P<message>.*\S)")


class MeltanoRunError(RuntimeError):
    """A `meltano` command failed; the message's first line is what went wrong, and where."""


@dataclass(frozen=True)
class Outcome:
    """Exit code and the last lines of a finished `meltano` command."""

    returncode: int
    tail: tuple[str, ...]


def project_sys_dir() -> Path:
    """The project's own `.meltano` directory."""
    return Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or PROJECT_ROOT / ".meltano")


def first_error_line(lines: list[str] | tuple[str, ...]) -> str:
    """The line that says what failed: a plugin's own message, an exception, Meltano's error."""
    for pattern, group in ((_PLUGIN_MESSAGE, "message"), (_EXCEPTION, 0), (_MELTANO_ERROR, 1)):
        for line in lines:
            if match := pattern.search(line):
                return match.group(group)
    return next((line.strip() for line in reversed(lines) if line.strip()), "no output")


def _private_sys_dir(shared: Path, label: str) -> Path:
    """A system directory for one run: its own run/ and logs/, the rest linked to `shared`."""
    tasks = shared / "tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=tasks))
    for entry in shared.iterdir():
        if entry.name not in PRIVATE_ENTRIES and entry.name != "meltano.db":
            (private / entry.name).symlink_to(entry.resolve())
    return private


def run_meltano(
    args: list[str], *, label: str, env: dict[str, str] | None = None, tail_lines: int = 400
) -> Outcome:
    """Run `meltano <args>` in a system directory of its own, streaming its output to the log."""
    env = {**(os.environ if env is None else env), **PLAIN_OUTPUT_ENV}
    shared = Path(env.get("MELTANO_SYS_DIR_ROOT") or project_sys_dir()).resolve()
    env.setdefault("MELTANO_DATABASE_URI", f"sqlite:///{shared / 'meltano.db'}")
    private = _private_sys_dir(shared, re.sub(r"[^A-Za-z0-9_.-]+", "_", label))
    env["MELTANO_SYS_DIR_ROOT"] = str(private)
    tail: deque[str] = deque(maxlen=tail_lines)
    try:
        with subprocess.Popen(
            [MELTANO_EXECUTABLE, *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
            for line in process.stdout:
                log.info("%s", line.rstrip("\n"))
                tail.append(line.rstrip("\n"))
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return Outcome(returncode=process.returncode, tail=tuple(tail))


def run_extract_load(
    step: str, shard_id: str, files: list[str], env: dict[str, str] | None = None
) -> None:
    """`meltano run --state-id-suffix <shard> <step>` on the shard's files only.

    Raises MeltanoRunError whose message names the shard and its files and gives the first error
    line, e.g. `20181024_d1_0830_0900 (/data/20181024_d1_0830_0900.csv): tap-pneuma: ...`.
    """
    env = dict(os.environ if env is None else env)
    tap = step.split(maxsplit=1)[0]
    # A suffix already set (tests isolate their state that way) stays in front of the shard's.
    base = env.pop("MELTANO_RUN_STATE_ID_SUFFIX", "")
    suffix = f"{base}.{shard_id}" if base else shard_id
    env[f"{tap.upper().replace('-', '_')}_FILES"] = json.dumps(files)
    outcome = run_meltano(
        ["run", "--state-id-suffix", suffix, *step.split()], label=shard_id, env=env
    )
    if outcome.returncode != 0:
        msg = f"{shard_id} ({', '.join(files)}): {first_error_line(outcome.tail)}"
        raise MeltanoRunError(msg)


def run_step(step: str, env: dict[str, str] | None = None) -> None:
    """`meltano run <step>` for a step that is not fanned out (ensure, dbt build, ...)."""
    outcome = run_meltano(
        ["run", *step.split()], label=step.split(maxsplit=1)[0].replace(":", "_"), env=env
    )
    if outcome.returncode != 0:
        msg = f"meltano run {step}: {first_error_line(outcome.tail)}"
        raise MeltanoRunError(msg)
