"""Benchmark the load: PostgreSQL COPY ceiling vs `meltano run tap-pneuma target-postgres`.

In one run, on one generated pNEUMA file (default 2 M positions) and one embedded PostgreSQL 18:

(a) the ceiling: the file's positions, flattened beforehand to CSV (one row per position), are
    loaded with `COPY ... FROM STDIN (FORMAT csv)` into a fresh, empty table;
(b) `meltano run tap-pneuma target-postgres` of the same file into a fresh database, with the
    target configured as in meltano.yml (variant `project`) or as a tuning variant says.

Prints positions/s of each and the ratio b/a, and writes JSON. `--variants all` measures every
tuning step of target-postgres in the same run; `--profile` also runs the tap and the target
separately over a captured Singer stream and profiles the target with cProfile.

    python benchmarks/bench_load.py                          # 2 M positions, project config
    python benchmarks/bench_load.py --variants all --profile
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common import (
    BIN,
    EL_COMMAND,
    PASSWORD,
    RESULTS_DIR,
    ROOT,
    WORK_ROOT,
    count_positions,
    dump_config,
    fresh_database,
    generate,
    loaded_positions,
    machine_info,
    measured,
    meltano_env,
)
from common import copy_ceiling as timed_copy
from pneuma_postgres.server import scratch_server

if TYPE_CHECKING:
    from pneuma_postgres.server import ServerConfig

WORK_DIR = WORK_ROOT / "bench_load"
DEFAULT_OUT = RESULTS_DIR / "bench_load.json"
TARGET_RATIO = 0.15

# Each variant is the environment that overrides meltano.yml's target-postgres config (Meltano
# reads TARGET_POSTGRES_<SETTING> and TAP_PNEUMA_<SETTING> above meltano.yml). The steps add one
# change at a time, from the SDK's defaults to the project's configuration.
_SDK_DEFAULTS = {
    "PNEUMA_TARGET_ACCELERATE": "false",  # the stock target-postgres code paths
    "TARGET_POSTGRES_USE_COPY": "false",
    "TARGET_POSTGRES_BATCH_SIZE_ROWS": "10000",
    "TARGET_POSTGRES_VALIDATE_RECORDS": "true",
    "TARGET_POSTGRES_ADD_RECORD_METADATA": "true",
}
_COPY = {**_SDK_DEFAULTS, "TARGET_POSTGRES_USE_COPY": "true"}
_NO_VALIDATION = {**_COPY, "TARGET_POSTGRES_VALIDATE_RECORDS": "false"}
_BATCH_200 = {**_NO_VALIDATION, "TARGET_POSTGRES_BATCH_SIZE_ROWS": "200"}
VARIANTS: dict[str, dict[str, str]] = {
    "1-sdk-defaults": _SDK_DEFAULTS,
    "2-use-copy": _COPY,
    "3-no-validation": _NO_VALIDATION,
    "3b-no-validation-insert": {**_NO_VALIDATION, "TARGET_POSTGRES_USE_COPY": "false"},
    "4-batch-200": _BATCH_200,
    "5-trajectories-append": {
        **_BATCH_200,
        "TAP_PNEUMA_STREAM_MAPS": json.dumps({"trajectories": {"__key_properties__": []}}),
    },
    "6-no-metadata": {
        **_BATCH_200,
        "TARGET_POSTGRES_ADD_RECORD_METADATA": "false",
        "TARGET_POSTGRES_ACTIVATE_VERSION": "false",
    },
    "7-accelerated": {**_BATCH_200, "PNEUMA_TARGET_ACCELERATE": "true"},
    "project": {},
}


@dataclass
class LoadResult:
    """One load of the file: the ceiling or a Meltano run."""

    name: str
    positions: int
    wall_s: float
    positions_per_s: float
    peak_rss_mib: float | None = None
    ratio_to_copy: float | None = None
    env: dict[str, str] = field(default_factory=dict)


def copy_ceiling(server: ServerConfig, file: Path, positions: int) -> LoadResult:
    """(a) COPY the flattened positions into a fresh table; the time of the COPY alone."""
    wall_s, peak_mib = timed_copy(fresh_database(server, "bench_copy"), file, positions)
    return LoadResult("copy-ceiling", positions, wall_s, positions / wall_s, peak_mib)


def meltano_load(
    server: ServerConfig, name: str, overrides: dict[str, str], file: Path, positions: int
) -> LoadResult:
    """(b) `meltano run tap-pneuma target-postgres` into a fresh database."""
    config = fresh_database(server, f"bench_{name.replace('-', '_')}")
    run_dir = WORK_DIR / "runs" / name
    env = meltano_env(config, [str(file)], run_dir)
    env.update(overrides)
    wall_s, peak = measured(EL_COMMAND, env, run_dir / "run.log")
    loaded = loaded_positions(config)
    if loaded != positions:
        msg = f"{name}: loaded {loaded} positions, the file holds {positions}"
        raise RuntimeError(msg)
    return LoadResult(f"meltano:{name}", positions, wall_s, positions / wall_s, peak, env=overrides)


def _timed(command: list[str], stdin: Path | None, stdout: Path | None) -> float:
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(stdin.open()) if stdin else subprocess.DEVNULL
        sink = stack.enter_context(stdout.open("w")) if stdout else subprocess.DEVNULL
        start = time.perf_counter()
        subprocess.run(command, stdin=source, stdout=sink, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start


def summarise_collapsed(collapsed: Path, report: Path, top: int = 30) -> list[tuple[str, float]]:
    """Self and inclusive time shares per function from py-spy's collapsed stacks."""
    self_counts: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [
            frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1] for frame in stack.split(";")
        ]
        total += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    by_self = sorted(self_counts.items(), key=lambda item: -item[1])[:top]
    by_inclusive = sorted(inclusive.items(), key=lambda item: -item[1])[: top * 2]
    with report.open("w") as out:
        out.write(f"py-spy samples: {total} (all threads)\n\nself time share\n")
        out.writelines(f"{count / total:7.1%}  {frame}\n" for frame, count in by_self)
        out.write("\ninclusive time share\n")
        out.writelines(f"{count / total:7.1%}  {frame}\n" for frame, count in by_inclusive)
    return [(frame, count / total) for frame, count in by_self]


def profile_stages(server: ServerConfig, file: Path, positions: int) -> dict[str, object]:
    """Tap alone, target alone on the captured stream, and a py-spy profile of the target.

    The target drains batches in worker threads (joblib), which cProfile does not see; py-spy
    samples every thread.
    """
    config = fresh_database(server, "bench_profile")
    run_dir = WORK_DIR / "runs" / "profile"
    env = meltano_env(config, [str(file)], run_dir)
    tap_config = dump_config("tap-pneuma", env, run_dir / "tap-config.json")
    target_config = dump_config("target-postgres", env, run_dir / "target-config.json")
    tap = [str(ROOT / ".meltano/extractors/tap-pneuma/venv/bin/tap-pneuma")]
    # the executable meltano.yml gives target-postgres; it honours PNEUMA_TARGET_ACCELERATE
    target = [str(ROOT / ".meltano/loaders/target-postgres/venv/bin/pneuma-target-postgres")]
    messages = run_dir / "messages.jsonl"

    tap_s = _timed([*tap, "--config", str(tap_config)], None, messages)
    target_s = _timed([*target, "--config", str(target_config)], messages, None)
    fresh_database(server, "bench_profile")
    collapsed = run_dir / "target.collapsed.txt"
    _timed(
        [
            str(BIN / "py-spy"),
            "record",
            "--format",
            "raw",
            "--rate",
            "100",
            "--output",
            str(collapsed),
            "--",
            *target,
            "--config",
            str(target_config),
        ],
        messages,
        None,
    )
    report = run_dir / "target-profile.txt"
    hottest = summarise_collapsed(collapsed, report)
    return {
        "tap_alone_s": tap_s,
        "tap_alone_positions_per_s": positions / tap_s,
        "target_alone_s": target_s,
        "target_alone_positions_per_s": positions / target_s,
        "messages_bytes": messages.stat().st_size,
        "target_profile": str(report.relative_to(ROOT)),
        "target_hottest_self": hottest[:10],
    }


def main() -> int:
    """Run the benchmark; exit 1 if the project's ratio is below the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--variants", nargs="+", default=["project"], help=f"of {', '.join(VARIANTS)}, or all"
    )
    parser.add_argument("--profile", action="store_true", help="profile tap and target stages")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement; the fastest counts (noise)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    names = list(VARIANTS) if args.variants == ["all"] else args.variants

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    (file,) = generate(
        WORK_DIR / f"data-{args.positions}-{args.seed}",
        files=1,
        positions_per_file=args.positions,
        seed=args.seed,
    )
    positions = count_positions(file)
    with scratch_server(WORK_DIR / "pgdata", PASSWORD) as server:
        ceiling = min(
            (copy_ceiling(server, file, positions) for _ in range(args.repeat)),
            key=lambda result: result.wall_s,
        )
        print(f"{file.name}: {positions:,} positions, {file.stat().st_size / 2**20:.0f} MiB")
        print(
            f"(a) COPY ceiling          {ceiling.positions_per_s:>12,.0f} positions/s "
            f"({ceiling.wall_s:.1f} s)"
        )
        results = [ceiling]
        for name in names:
            result = min(
                (
                    meltano_load(server, name, VARIANTS[name], file, positions)
                    for _ in range(args.repeat)
                ),
                key=lambda result: result.wall_s,
            )
            result.ratio_to_copy = result.positions_per_s / ceiling.positions_per_s
            results.append(result)
            print(
                f"(b) meltano {name:<22}{result.positions_per_s:>10,.0f} positions/s "
                f"({result.wall_s:.1f} s, peak RSS {result.peak_rss_mib:.0f} MiB) "
                f"b/a = {result.ratio_to_copy:.3f}"
            )
        stages = profile_stages(server, file, positions) if args.profile else None
        if stages:
            print(f"tap alone    {stages['tap_alone_positions_per_s']:>12,.0f} positions/s")
            print(
                f"target alone {stages['target_alone_positions_per_s']:>12,.0f} positions/s "
                f"(profile: {stages['target_profile']})"
            )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "bench_load",
                "file": file.name,
                "positions": positions,
                "file_bytes": file.stat().st_size,
                "machine": machine_info(),
                "results": [asdict(result) for result in results],
                "stages": stages,
                "target_ratio": TARGET_RATIO,
                "repeat": args.repeat,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {args.out}")
    project = next((r for r in results if r.name == "meltano:project"), None)
    return 1 if project and (project.ratio_to_copy or 0) < TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
