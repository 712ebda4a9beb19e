"""Benchmark the virtual detectors: what the three detector models add to a full `dbt build`.

In one run, on the benchmark recordings of bench_transform.py (default 4 generated recordings,
2.2 M positions) loaded into a fresh embedded PostgreSQL 18, with a copy of `transform/` whose
seed holds 20 detectors across the generator's roads (4 on each of its 5 roads):

1. `dbt build --full-refresh` as the jobs run it (unit tests apart) without the detector models
   (`--exclude virtual_detectors+`: the seed, the three models and their tests), then with them,
   alternately, `--repeat` times each: the overhead is the ratio of the medians;
2. `dbt build` with nothing changed, after one recording changed (the detector models rebuild
   only it) and after a detector moved (they rebuild every recording, the points untouched);
3. how much the spatial prefilter keeps: steps x detectors against the candidate positions.

Prints a table and writes benchmarks/results/detectors.{json,md}.

    python benchmarks/bench_detectors.py
    python benchmarks/bench_detectors.py --files 2 --positions-per-file 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import shutil
import statistics
import sys
from typing import TYPE_CHECKING

import bench_transform
from bench_transform import change_one_recording
from common import (
    DBT_BUILD_ARGS,
    EL_COMMAND,
    PASSWORD,
    RESULTS_DIR,
    TRANSFORM_DIR,
    WORK_ROOT,
    fresh_database,
    generate,
    loaded_positions,
    meltano_env,
    run_checked,
)
from pneuma_postgres.server import scratch_server
from tap_pneuma.synthetic import M_PER_DEG_LAT, M_PER_DEG_LON, ROADS

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pneuma_postgres.server import ServerConfig

WORK_DIR = WORK_ROOT / "bench_detectors"
RESULTS = RESULTS_DIR
DATABASE = "bench_detectors"
DETECTOR_MODELS = ("fct_detector_crossings", "agg_detector_flow", "fct_detector_travel_times")
FRACTIONS = (0.2, 0.4, 0.6, 0.8)  # along each road
HALF_WIDTH_M = 12.0  # the generator's lanes lie within 5.2 m of the centre line
MAX_OVERHEAD = 0.25  # the budget


def benchmark_detectors() -> list[list[str | float]]:
    """20 detectors: one across each road of the generator at each of FRACTIONS."""
    rows = []
    for road in ROADS:
        (lat1, lon1), (lat2, lon2) = road.start, road.end
        east, north = (lon2 - lon1) * M_PER_DEG_LON, (lat2 - lat1) * M_PER_DEG_LAT
        length = math.hypot(east, north)
        # the unit vector to the left of the road, in degrees per metre
        left_lat, left_lon = east / length / M_PER_DEG_LAT, -north / length / M_PER_DEG_LON
        for fraction in FRACTIONS:
            lat, lon = lat1 + fraction * (lat2 - lat1), lon1 + fraction * (lon2 - lon1)
            slug = re.sub(r"\W+", "_", road.name.lower()).strip("_")
            rows.append(
                [
                    f"{slug}_{round(fraction * 100)}",
                    f"{road.name} at {fraction:.0%}",
                    round(lat + HALF_WIDTH_M * left_lat, 6),
                    round(lon + HALF_WIDTH_M * left_lon, 6),
                    round(lat - HALF_WIDTH_M * left_lat, 6),
                    round(lon - HALF_WIDTH_M * left_lon, 6),
                ]
            )
    return rows


def write_seed(transform_dir: Path, rows: list[list[str | float]]) -> None:
    """The seed of the benchmark's copy of transform/."""
    with (transform_dir / "seeds" / "virtual_detectors.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["detector_id", "name", "start_lat", "start_lon", "end_lat", "end_lon"])
        writer.writerows(rows)


def dbt(
    args: Sequence[str], project_dir: Path, env: dict[str, str], log: Path
) -> tuple[float, dict[str, float], str]:
    """`dbt <args>` on the benchmark's project: wall seconds, model times and dbt's output."""
    wall_s, model_times = bench_transform.dbt(args, env, log, project_dir=project_dir)
    return round(wall_s, 2), model_times, log.read_text()


def rebuilt_recordings(output: str) -> dict[str, int]:
    """How many recordings each detector model said it rebuilt."""
    found = re.findall(r"(\w+): building (\d+) recording", output)
    return {model: int(count) for model, count in found if model in DETECTOR_MODELS}


def prefilter_counts(config: ServerConfig, n_detectors: int) -> dict[str, int]:
    """Steps x detectors (what a search without a prefilter compares) against what it keeps."""
    with config.connect() as connection:
        (steps,) = connection.execute(
            "select count(*) from analytics_marts.fct_trajectory_points"
            " where step_distance_m is not null"
        ).fetchone()
        (crossings,) = connection.execute(
            "select count(*) from analytics_marts.fct_detector_crossings"
        ).fetchone()
    return {
        "steps": steps,
        "detectors": n_detectors,
        "steps_x_detectors": steps * n_detectors,
        "crossings": crossings,
    }


def candidate_positions(config: ServerConfig, project_dir: Path, env: dict[str, str]) -> int:
    """Positions the cell join keeps, from the compiled model's own candidates CTE."""
    dbt(
        ["compile", "--select", "fct_detector_crossings", "--full-refresh"],
        project_dir,
        env,
        WORK_DIR / "compile.log",
    )
    compiled_dir = bench_transform.WORK_DIR / "dbt-target" / "compiled"
    compiled = next(compiled_dir.rglob("fct_detector_crossings.sql"))
    sql = compiled.read_text()
    head = sql[: sql.index("near_steps as (")].rstrip().rstrip(",")
    # the model reads one recording at a time (current_setting('pneuma.recording_key'))
    count = 0
    with config.connect() as connection:
        keys = connection.execute("select recording_key from analytics_storage.recording_keys")
        for (recording_key,) in keys.fetchall():
            connection.execute(
                "select set_config('pneuma.recording_key', %s, false)", (str(recording_key),)
            )
            (n,) = connection.execute(f"{head}\nselect count(*) from candidates").fetchone()
            count += n
    return count


def move_one_detector(project_dir: Path, rows: list[list[str | float]]) -> None:
    """Move the first detector 10 m north, as a user editing the seed would."""
    moved = [list(row) for row in rows]
    moved[0][2] = round(float(moved[0][2]) + 10 / M_PER_DEG_LAT, 6)
    moved[0][4] = round(float(moved[0][4]) + 10 / M_PER_DEG_LAT, 6)
    write_seed(project_dir, moved)


def write_markdown(result: dict, path: Path) -> None:
    """The results as the README shows them."""
    full = result["full_refresh"]
    lines = [
        (
            f"# Virtual detectors benchmark ({result['positions']:,} positions, "
            f"{result['files']} recordings, {result['detectors']} detectors)"
        ),
        "",
        "| step | wall s |",
        "|---|--:|",
        (
            f"| `dbt build --full-refresh` without the detector models (median) | "
            f"{full['without_detectors_s']:.1f} |"
        ),
        f"| `dbt build --full-refresh` with them (median) | {full['with_detectors_s']:.1f} |",
        f"| overhead of the detector models | {full['overhead']:.1%} (budget {MAX_OVERHEAD:.0%}) |",
        "",
        "| detector models' own time, s | crossings | flow | travel times |",
        "|---|--:|--:|--:|",
    ]
    for name, times in result["model_seconds"].items():
        row = " | ".join(f"{times.get(model, 0):.2f}" for model in DETECTOR_MODELS)
        lines.append(f"| {name} | {row} |")
    counts = result["prefilter"]
    lines += [
        "",
        (
            f"Prefilter: {counts['steps']:,} steps x {counts['detectors']} detectors = "
            f"{counts['steps_x_detectors']:,} pairs without it; the cell join keeps "
            f"{counts['candidate_positions']:,} positions "
            f"({counts['candidate_positions'] / counts['steps_x_detectors']:.3%} of the pairs) "
            f"for {counts['crossings']:,} crossings."
        ),
        "",
        (
            f"Load average {result['machine']['load_average_before']} before, "
            f"{result['machine']['load_average_after']} after (2 cores, shared)."
        ),
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> int:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--positions-per-file", type=int, default=550_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=4, help="full builds of each kind")
    args = parser.parse_args()

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    load_average_before = os.getloadavg()
    # the recordings of bench_transform.py, generated once for both
    data_dir = bench_transform.WORK_DIR / f"data-{args.files}x{args.positions_per_file}-{args.seed}"
    n_files = len(
        generate(
            data_dir, files=args.files, positions_per_file=args.positions_per_file, seed=args.seed
        )
    )
    project_dir = WORK_DIR / "transform"
    shutil.rmtree(project_dir, ignore_errors=True)
    shutil.copytree(TRANSFORM_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    detectors = benchmark_detectors()
    write_seed(project_dir, detectors)

    with scratch_server(WORK_DIR / "pgdata", PASSWORD) as server:
        config = fresh_database(server, DATABASE)
        env = meltano_env(config, [str(data_dir)], WORK_DIR / "meltano-run")
        run_checked(EL_COMMAND, env, WORK_DIR / "load.log")
        positions = loaded_positions(config)

        without, with_detectors, model_seconds = [], [], {}
        for attempt in range(args.repeat):
            wall_s, _, _ = dbt(
                [*DBT_BUILD_ARGS, "--full-refresh", "--exclude", "virtual_detectors+"],
                project_dir,
                env,
                WORK_DIR / f"build-without-{attempt}.log",
            )
            without.append(wall_s)
            wall_s, model_times, _ = dbt(
                [*DBT_BUILD_ARGS, "--full-refresh"],
                project_dir,
                env,
                WORK_DIR / f"build-with-{attempt}.log",
            )
            with_detectors.append(wall_s)
            model_seconds["full refresh"] = model_times
        without_s, with_s = statistics.median(without), statistics.median(with_detectors)

        incremental = {}
        for name, prepare in (
            ("nothing changed", lambda: None),
            (f"1 of {n_files} recordings changed", lambda: change_one_recording(config)),
            ("a detector moved", lambda: move_one_detector(project_dir, detectors)),
        ):
            prepare()
            wall_s, model_times, output = dbt(
                DBT_BUILD_ARGS, project_dir, env, WORK_DIR / f"build-{name.replace(' ', '-')}.log"
            )
            model_seconds[name] = model_times
            incremental[name] = {"wall_s": wall_s, "rebuilt": rebuilt_recordings(output)}

        counts = prefilter_counts(config, len(detectors))
        counts["candidate_positions"] = candidate_positions(config, project_dir, env)

    result = {
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_average_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "files": n_files,
        "positions": positions,
        "detectors": len(detectors),
        "full_refresh": {
            "without_detectors_runs_s": without,
            "with_detectors_runs_s": with_detectors,
            "without_detectors_s": without_s,
            "with_detectors_s": with_s,
            "overhead": round(with_s / without_s - 1, 4),
        },
        "incremental": incremental,
        "model_seconds": {
            name: {model: times.get(model, 0.0) for model in DETECTOR_MODELS}
            for name, times in model_seconds.items()
        },
        "prefilter": counts,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "detectors.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, RESULTS / "detectors.md")
    print((RESULTS / "detectors.md").read_text())
    print(json.dumps(incremental, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
