"""The input of one DAG run, listed at run time and cut into shards, one extract-load task each.

The tap's `files` setting (paths, globs, directories, fsspec URLs) is read from Meltano when the
run starts, never at parse time. Local entries are expanded here the way the tap expands them;
a shard is one file (its recording id names it) or, with `PNEUMA_AIRFLOW_SHARDS=N`, one of N
stable buckets of files. Shard ids never depend on which other files exist, so each shard's
Meltano state (`--state-id-suffix <shard>`) keeps skipping the files it already loaded. URLs, and
entries that match nothing, are shards of their own: the tap reads or rejects them with its own
message, in a task that names them.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from pneuma_dags.project import MELTANO_EXECUTABLE, PROJECT_ROOT, default_environment

INPUT_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".zip")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GLOB_MAGIC = re.compile(r"[*?[]")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Shard:
    """One extract-load task's input: its id (state id suffix, task label) and its files."""

    id: str
    files: tuple[str, ...]

    def to_xcom(self) -> dict[str, object]:
        """What the listing task hands to the mapped tasks (JSON)."""
        return {"id": self.id, "files": list(self.files)}


def configured_input(tap: str, env: dict[str, str]) -> tuple[list[str], bool]:
    """The tap's `files` and `recursive` settings as Meltano resolves them in this environment."""
    environment = env.get("MELTANO_ENVIRONMENT") or default_environment()
    command = [MELTANO_EXECUTABLE, "config", "print", tap, "--format=json"]
    if environment:
        command[1:1] = [f"--environment={environment}"]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        msg = f"`meltano config print {tap}` failed:\n{completed.stderr[-2000:]}"
        raise RuntimeError(msg)
    config = json.loads(completed.stdout)
    files = config.get("files") or []
    if isinstance(files, str):  # a plain path in the environment, as the Makefile accepts
        files = [entry for entry in files.split(",") if entry]
    return [str(entry) for entry in files], bool(config.get("recursive"))


def _is_input(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(INPUT_SUFFIXES)


def expand(entries: list[str], *, recursive: bool) -> list[str]:
    """Local entries to the input files they name, sorted; anything else unchanged."""
    found: list[str] = []
    for entry in entries:
        if _URL.match(entry) and not entry.startswith("file://"):
            found.append(entry)
            continue
        local = entry.removeprefix("file://")
        if _GLOB_MAGIC.search(local):
            matches = [Path(match) for match in sorted(glob.glob(local, recursive=True))]  # noqa: PTH207
        else:
            matches = [Path(local)]
        files: list[Path] = []
        for match in matches:
            if match.is_dir():
                pattern = "**/*" if recursive else "*"
                files.extend(sorted(path for path in match.glob(pattern) if _is_input(path)))
            elif match.is_file():
                files.append(match)
        # Nothing found: the tap, given the entry itself, fails with its own message naming it.
        found.extend([str(path.resolve()) for path in files] or [entry])
    return list(dict.fromkeys(found))


def recording_id(file: str) -> str:
    """The tap's recording id of a file: its name without directory and extensions."""
    name = file.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".zip", ".csv", ".txt"):
        name = name.removesuffix(suffix).removesuffix(suffix.upper())
    return _UNSAFE.sub("_", name).strip("_") or "input"


def shard_files(files: list[str], buckets: int = 0) -> list[Shard]:
    """One shard per file (buckets=0), or files spread over `buckets` stable buckets."""
    if buckets > 0:
        grouped: dict[str, list[str]] = {}
        for file in files:
            bucket = zlib.crc32(recording_id(file).encode()) % buckets
            grouped.setdefault(f"bucket-{bucket:03d}-of-{buckets:03d}", []).append(file)
        return [Shard(id=key, files=tuple(grouped[key])) for key in sorted(grouped)]
    shards: list[Shard] = []
    seen: set[str] = set()
    for file in files:
        shard_id = recording_id(file)
        if shard_id in seen:  # the same name in two folders: tell them apart, stably
            shard_id = f"{shard_id}-{zlib.crc32(file.encode()):08x}"
        seen.add(shard_id)
        shards.append(Shard(id=shard_id, files=(file,)))
    return shards


def list_shards(tap: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    """The shards of this run, as JSON for the mapped extract-load tasks."""
    env = dict(os.environ if env is None else env)
    entries, recursive = configured_input(tap, env)
    buckets = int(env.get("PNEUMA_AIRFLOW_SHARDS") or 0)
    return [shard.to_xcom() for shard in shard_files(expand(entries, recursive=recursive), buckets)]
