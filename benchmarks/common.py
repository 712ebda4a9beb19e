"""What every benchmark shares: paths, the machine, generated data, Meltano runs, the ceiling.

One place for each of these facts, so that the stage benchmarks (`bench_*.py`) measure the same
thing the same way: a Meltano run into a scratch database with private state, wall time and
peak RSS of a command, the COPY ceiling of flattened positions, and the three typical queries.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pneuma_postgres.server import ServerConfig

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
WORK_ROOT = BENCH_DIR / ".work"
BIN = ROOT / ".venv" / "bin"
MELTANO = BIN / "meltano"
DBT = ROOT / ".meltano" / "utilities" / "dbt-postgres" / "venv" / "bin" / "dbt"
TRANSFORM_DIR = ROOT / "transform"
PASSWORD = "bench"  # noqa: S105 - throwaway local server
PNEUMA_POSITIONS = 1_000_000_000  # the whole dataset, ~10^9 positions
EL_COMMAND = (str(MELTANO), "run", "tap-pneuma", "target-postgres")
BUILD_COMMAND = (str(MELTANO), "invoke", "dbt-postgres:build")
# `dbt build` as the jobs run it (meltano.yml's dbt-postgres:build and :full_refresh), for the
# benchmarks that call dbt directly on a copy of transform/: the unit tests on fixed inputs stay
# out, or their fixed cost would count as the models'
DBT_BUILD_ARGS = ("build", "--exclude-resource-type", "unit_test")


def machine_info() -> dict[str, Any]:
    """The machine a result was measured on; the load average says how noisy it was."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def generate(
    data_dir: Path, *, files: int, positions_per_file: int, seed: int, first_index: int = 0
) -> list[Path]:
    """Deterministic pNEUMA files from `pneuma-generate`, written once and then reused.

    Reused only when written with the same arguments: the file names come from the first
    index, so a batch of another scenario (e.g. `--full`'s "one more") with as many files would
    otherwise pass for this one, under the names of recordings loaded already.
    """
    arguments = {
        "files": files,
        "positions_per_file": positions_per_file,
        "seed": seed,
        "first_index": first_index,
    }
    manifest = data_dir / "generated.json"
    if manifest.is_file() and json.loads(manifest.read_text()) == arguments:
        return sorted(data_dir.glob("*.csv"))
    # written aside and renamed when complete: an interrupted run leaves no truncated file
    partial = data_dir.with_name(data_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(
        [
            str(BIN / "pneuma-generate"),
            str(partial),
            "--files",
            str(files),
            "--positions",
            str(positions_per_file),
            "--seed",
            str(seed),
            "--first-index",
            str(first_index),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (partial / "generated.json").write_text(json.dumps(arguments))
    shutil.rmtree(data_dir, ignore_errors=True)
    partial.rename(data_dir)
    return sorted(data_dir.glob("*.csv"))


def count_positions(path: Path) -> int:
    """Positions of a plain pNEUMA file: six values per position after four fixed fields."""
    with path.open(encoding="ascii") as rows:
        next(rows)  # header
        return sum((len(line.rstrip().rstrip(";").split(";")) - 4) // 6 for line in rows)


def fresh_database(server: ServerConfig, name: str) -> ServerConfig:
    """An empty database `name` on `server` (dropped first if it exists)."""
    with server.connect(database="postgres") as connection:
        identifier = sql.Identifier(name)
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(identifier))
        connection.execute(sql.SQL("create database {}").format(identifier))
    return replace(server, database=name)


def meltano_env(config: ServerConfig, files: list[str], run_dir: Path) -> dict[str, str]:
    """Environment of Meltano runs into `config`, with state and run records in `run_dir`.

    The installed plugins of the project's `.meltano` are shared through symlinks; the state
    store and the system database are private, so a benchmark never races a developer's run.
    `run_dir` is emptied: each call starts with no state (a fresh warehouse's Meltano).
    """
    installed = ROOT / ".meltano"
    sys_dir = WORK_ROOT / "meltano-sys"
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


# Runs a command and reports its wall time and the peak RSS of its largest descendant.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:])
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
sys.stderr.write("@@MEASURE@@" + json.dumps({"code": code, "wall_s": wall, "peak_mib": peak}))
"""


def measured(command: Sequence[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run `command` (output to `log`); wall seconds and peak RSS MiB; fail with its log."""
    log.parent.mkdir(parents=True, exist_ok=True)
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
    text, _, report_json = result.stderr.rpartition("@@MEASURE@@")
    report = json.loads(report_json)
    if report["code"] != 0:
        with log.open("a") as out:
            out.write(text)
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        msg = f"{' '.join(command[:4])} failed (exit {report['code']}); {log}:\n{tail}"
        raise RuntimeError(msg)
    return report["wall_s"], round(report["peak_mib"], 1)


def run_checked(command: Sequence[str], env: dict[str, str], log: Path) -> float:
    """Wall seconds of `command` (output to `log`); fail loudly with the log's tail."""
    return measured(command, env, log)[0]


def dump_config(plugin: str, env: dict[str, str], path: Path) -> Path:
    """The config file Meltano would hand `plugin` (`meltano invoke --dump=config`)."""
    dumped = subprocess.run(
        [str(MELTANO), "invoke", "--dump=config", plugin],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path.write_text(dumped)
    return path


def loaded_positions(config: ServerConfig) -> int:
    """Positions in the raw trajectories table."""
    with config.connect() as connection:
        row = connection.execute(
            "select coalesce(sum(cardinality(time_s)), 0) from tap_pneuma.trajectories"
        ).fetchone()
    return int(row[0]) if row else 0


# -- the COPY ceiling ------------------------------------------------------------------------


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


def flattened_path(source: Path) -> Path:
    """Where the flattened copy of `source` is kept: never beside it, where a tap would read it."""
    name = "__".join(source.resolve().relative_to(WORK_ROOT.resolve()).parts)
    return WORK_ROOT / "flattened" / f"{name.removesuffix('.csv')}.positions.csv"


def copy_ceiling(config: ServerConfig, source: Path, positions: int) -> tuple[float, float | None]:
    """COPY the positions of `source`, flattened beforehand, into a fresh table.

    Returns the wall seconds of the COPY alone and the server backend's peak RSS.
    """
    csv_path = flattened_path(source)
    if not csv_path.exists():
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        flatten_to_csv(source, csv_path)
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
        connection.execute("drop table positions_copy")
        connection.commit()
    if loaded != (positions,):
        msg = f"COPY loaded {loaded}, expected {positions}"
        raise RuntimeError(msg)
    return wall_s, peak_mib


# -- the three typical queries on the marts ----------------------------------------------------

M_PER_DEG_LAT = 111_195.0
BOX_HALF_SIDE_M = 50.0
QUERY_WINDOW_S = 300
TYPICAL_QUERIES = {
    "one vehicle's path": """
        select frame_index, observed_at, lat, lon, speed_kmh, heading_deg
        from analytics_marts.fct_trajectory_points
        where recording_id = %(recording_id)s and track_id = %(track_id)s
        order by frame_index
    """,
    "100 m box over 5 minutes": """
        select recording_id, track_id, observed_at, lat, lon, speed_kmh
        from analytics_marts.fct_trajectory_points
        where lat between %(min_lat)s and %(max_lat)s
            and lon between %(min_lon)s and %(max_lon)s
            and observed_at >= %(from_at)s and observed_at < %(to_at)s
    """,
    "traffic grid of one recording": """
        select *
        from analytics_marts.agg_traffic_grid
        where recording_id = %(recording_id)s
        order by time_bin_index, cell_x, cell_y, vehicle_type
    """,
}


def query_parameters(config: ServerConfig, recording_id: str | None = None) -> dict[str, dict]:
    """Realistic arguments: the longest path, its recording's grid and busiest cell and bin.

    `recording_id` pins the recording (so that a growing warehouse asks the same questions);
    by default the one holding the longest path.
    """
    with config.connect() as connection:
        recording_id, track_id = connection.execute(
            "select recording_id, track_id from analytics_marts.fct_vehicle_trips"
            " where recording_id = coalesce(%s, recording_id)"
            " order by n_positions desc, track_id limit 1",
            (recording_id,),
        ).fetchone()
        center_lat, center_lon, bin_start_at = connection.execute(
            "select cell_center_lat, cell_center_lon, bin_start_at"
            " from analytics_marts.agg_traffic_grid where recording_id = %s"
            " group by 1, 2, 3 order by sum(n_positions) desc, 3 limit 1",
            (recording_id,),
        ).fetchone()
    half_lat = BOX_HALF_SIDE_M / M_PER_DEG_LAT
    half_lon = half_lat / math.cos(math.radians(center_lat))
    return {
        "one vehicle's path": {"recording_id": recording_id, "track_id": track_id},
        "100 m box over 5 minutes": {
            "min_lat": center_lat - half_lat,
            "max_lat": center_lat + half_lat,
            "min_lon": center_lon - half_lon,
            "max_lon": center_lon + half_lon,
            "from_at": bin_start_at,
            "to_at": bin_start_at + timedelta(seconds=QUERY_WINDOW_S),
        },
        "traffic grid of one recording": {"recording_id": recording_id},
    }


def query_timings(
    config: ServerConfig, repeat: int, parameters: dict[str, dict] | None = None
) -> list[dict[str, Any]]:
    """Median wall time of each typical query after one warm-up run, its rows and plan."""
    parameters = parameters or query_parameters(config)
    timings = []
    with config.connect() as connection:
        for name, statement in TYPICAL_QUERIES.items():
            params = parameters[name]
            rows = len(connection.execute(statement, params).fetchall())
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                connection.execute(statement, params).fetchall()
                runs.append(time.perf_counter() - started)
            plan = connection.execute(f"explain (format json) {statement}", params).fetchone()[0]
            timings.append(
                {
                    "name": name,
                    "wall_s": round(statistics.median(runs), 4),
                    "rows": rows,
                    "plan": ", ".join(sorted(set(plan_access(plan[0]["Plan"])))),
                }
            )
    return timings


def plan_access(node: dict[str, Any]) -> list[str]:
    """How a plan reads its tables: scan types with their index or relation names."""
    found = []
    if "Scan" in node["Node Type"]:
        found.append(f"{node['Node Type']} {node.get('Index Name') or node.get('Relation Name')}")
    for child in node.get("Plans", []):
        found += plan_access(child)
    return found
