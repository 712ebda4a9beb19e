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
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pneuma_postgres.server import ServerConfig, scratch_server

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
WORK_DIR = BENCH_DIR / ".work" / "bench_load"
DEFAULT_OUT = BENCH_DIR / "results" / "bench_load.json"
BIN = ROOT / ".venv" / "bin"
PASSWORD = "bench"  # noqa: S105 - throwaway local server
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

# Runs a command and reports its wall time and the peak RSS of its largest descendant.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:])
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
sys.stderr.write("\\n@@MEASURE@@" + json.dumps({"code": code, "wall_s": wall, "peak_mib": peak}))
sys.exit(code)
"""


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


def generate(positions: int, seed: int) -> Path:
    """The benchmark file (generated once per size and seed, then reused)."""
    data_dir = WORK_DIR / f"data-{positions}-{seed}"
    existing = sorted(data_dir.glob("*.csv"))
    if existing:
        return existing[0]
    subprocess.run(
        [
            str(BIN / "pneuma-generate"),
            str(data_dir),
            "--positions",
            str(positions),
            "--seed",
            str(seed),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return min(data_dir.glob("*.csv"))


def flatten_to_csv(source: Path, target: Path) -> int:
    """Write one CSV row per position (as a warehouse table holds them); return the count."""
    recording_id = source.name.split(".")[0]
    positions = 0
    with source.open(encoding="ascii") as rows, target.open("w", newline="") as out:
        writer = csv.writer(out)
        next(rows)
        for line in rows:
            fields = [value.strip() for value in line.rstrip().rstrip(";").split(";")]
            track_id = fields[0]
            values = fields[4:]
            for frame in range(len(values) // 6):
                lat, lon, speed, lon_acc, lat_acc, time_s = values[frame * 6 : frame * 6 + 6]
                writer.writerow(
                    (recording_id, track_id, frame, time_s, lat, lon, speed, lon_acc, lat_acc)
                )
            positions += len(values) // 6
    return positions


def copy_ceiling(config: ServerConfig, csv_path: Path, positions: int) -> LoadResult:
    """(a) COPY the flattened positions into a fresh table; the time of the COPY alone."""
    with config.connect() as connection:
        connection.execute("drop table if exists positions_copy")
        connection.execute(
            "create table positions_copy (recording_id text, track_id bigint, frame_index int,"
            " time_s double precision, lat double precision, lon double precision,"
            " speed_kmh double precision, lon_acc_ms2 double precision,"
            " lat_acc_ms2 double precision)"
        )
    with config.connect() as connection:
        (backend_pid,) = connection.execute("select pg_backend_pid()").fetchone()
        connection.autocommit = False
        start = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy("copy positions_copy from stdin (format csv)") as copy,
            csv_path.open("rb") as data,
        ):
            while block := data.read(1 << 20):
                copy.write(block)
        connection.commit()
        wall_s = time.perf_counter() - start
        loaded = connection.execute("select count(*) from positions_copy").fetchone()
        peak_mib = backend_peak_rss_mib(backend_pid)
    assert loaded == (positions,), f"COPY loaded {loaded}, expected {positions}"  # noqa: S101
    return LoadResult("copy-ceiling", positions, wall_s, positions / wall_s, peak_mib)


def backend_peak_rss_mib(pid: int) -> float | None:
    """Peak RSS (VmHWM) of a server backend process, while its session is open."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # not Linux, or the server runs elsewhere
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _fresh_database(config: ServerConfig, name: str) -> ServerConfig:
    with config.connect(database="postgres") as connection:
        connection.execute(f'drop database if exists "{name}" with (force)')
        connection.execute(f'create database "{name}"')
    return ServerConfig(**{**asdict_config(config), "database": name})


def asdict_config(config: ServerConfig) -> dict[str, object]:
    """ServerConfig as keyword arguments."""
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def meltano_env(config: ServerConfig, files: list[str], run_dir: Path) -> dict[str, str]:
    """Environment of a Meltano run into `config`, with private state and run directories."""
    installed = ROOT / ".meltano"
    sys_dir = WORK_DIR / "meltano-sys"
    if not sys_dir.exists():
        sys_dir.mkdir(parents=True)
        for plugin_type in ("extractors", "loaders", "utilities"):
            (sys_dir / plugin_type).symlink_to(installed / plugin_type, target_is_directory=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        {
            "PNEUMA_PG_HOST": config.host,
            "PNEUMA_PG_PORT": str(config.port),
            "PNEUMA_PG_USER": config.user,
            "PNEUMA_PG_PASSWORD": config.password,
            "PNEUMA_PG_DATABASE": config.database,
            "PNEUMA_PG_DATA_DIR": str(config.data_dir),
            "TAP_PNEUMA_FILES": json.dumps(files),
            "MELTANO_SYS_DIR_ROOT": str(sys_dir),
            "MELTANO_STATE_BACKEND_URI": (run_dir / "state").as_uri(),
            "MELTANO_DATABASE_URI": f"sqlite:///{run_dir / 'meltano.db'}",
            "NO_COLOR": "1",
        }
    )
    return env


def measured(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run `command` (stdout/stderr to `log`); return wall seconds and peak RSS MiB."""
    with log.open("w") as out:
        result = subprocess.run(
            [sys.executable, "-c", _MEASURE, *command],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    out_text = result.stderr
    report = json.loads(out_text.rsplit("@@MEASURE@@", 1)[1])
    if report["code"] != 0:
        with log.open("a") as out:
            out.write(out_text)
        msg = f"{' '.join(command[:4])} failed (exit {report['code']}); see {log}"
        raise RuntimeError(msg)
    return report["wall_s"], report["peak_mib"]


def loaded_positions(config: ServerConfig) -> int:
    """Positions in the raw trajectories table."""
    with config.connect() as connection:
        row = connection.execute(
            "select coalesce(sum(cardinality(time_s)), 0) from tap_pneuma.trajectories"
        ).fetchone()
    return int(row[0]) if row else 0


def meltano_load(
    server: ServerConfig, name: str, overrides: dict[str, str], file: Path, positions: int
) -> LoadResult:
    """(b) `meltano run tap-pneuma target-postgres` into a fresh database."""
    config = _fresh_database(server, f"bench_{name.replace('-', '_')}")
    run_dir = WORK_DIR / "runs" / name
    env = meltano_env(config, [str(file)], run_dir)
    env.update(overrides)
    wall_s, peak = measured(
        [str(BIN / "meltano"), "run", "tap-pneuma", "target-postgres"], env, run_dir / "run.log"
    )
    loaded = loaded_positions(config)
    if loaded != positions:
        msg = f"{name}: loaded {loaded} positions, the file holds {positions}"
        raise RuntimeError(msg)
    return LoadResult(f"meltano:{name}", positions, wall_s, positions / wall_s, peak, env=overrides)


def _dump_config(plugin: str, env: dict[str, str], path: Path) -> Path:
    """The config file Meltano would hand `plugin` (`meltano invoke --dump=config`)."""
    dumped = subprocess.run(
        [str(BIN / "meltano"), "invoke", "--dump=config", plugin],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path.write_text(dumped)
    return path


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
    config = _fresh_database(server, "bench_profile")
    run_dir = WORK_DIR / "runs" / "profile"
    env = meltano_env(config, [str(file)], run_dir)
    tap_config = _dump_config("tap-pneuma", env, run_dir / "tap-config.json")
    target_config = _dump_config("target-postgres", env, run_dir / "target-config.json")
    tap = [str(ROOT / ".meltano/extractors/tap-pneuma/venv/bin/tap-pneuma")]
    # the executable meltano.yml gives target-postgres; it honours PNEUMA_TARGET_ACCELERATE
    target = [str(ROOT / ".meltano/loaders/target-postgres/venv/bin/pneuma-target-postgres")]
    messages = run_dir / "messages.jsonl"

    tap_s = _timed([*tap, "--config", str(tap_config)], None, messages)
    target_s = _timed([*target, "--config", str(target_config)], messages, None)
    _fresh_database(server, "bench_profile")
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
    file = generate(args.positions, args.seed)
    csv_path = file.with_suffix(".positions.csv")
    positions = flatten_to_csv(file, csv_path)
    with scratch_server(WORK_DIR / "pgdata", PASSWORD) as server:
        copy_database = _fresh_database(server, "bench_copy")
        ceiling = min(
            (copy_ceiling(copy_database, csv_path, positions) for _ in range(args.repeat)),
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
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
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
