"""Benchmark the warehouse: `dbt build`, the expansion of positions, and queries on the marts.

In one run, on generated pNEUMA files (default 4 recordings, 2.2 M positions in all) loaded with
`meltano run tap-pneuma target-postgres` into a fresh embedded PostgreSQL 18:

1. `dbt build --full-refresh` of the whole project (every model, seed, data and unit test),
   with each model's own time from dbt's run_results.json;
2. `dbt build` again with nothing changed, then after one recording changed (its raw rows get a
   newer `_sdc_modified_at`, as a re-extracted file would): the incremental marts rebuild only it;
3. the expansion of positions alone (`int_trajectory_points_expanded`, then with the step values
   of `int_trajectory_points_measured`) written to a table, in positions/s, against a baseline
   measured in the same run: the textbook SQL, unnest in FROM with ordinality and lag() windows;
4. three typical queries on the marts, median of several runs: one vehicle's path, all positions
   in a 100 m box over 5 minutes, the traffic grid of one recording (with the plan's index use).

Prints a table and writes JSON.

    python benchmarks/bench_transform.py
    python benchmarks/bench_transform.py --files 2 --positions-per-file 1000000 --repeat 9
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import (
    DBT,
    DBT_BUILD_ARGS,
    EL_COMMAND,
    PASSWORD,
    RESULTS_DIR,
    ROOT,
    TRANSFORM_DIR,
    WORK_ROOT,
    fresh_database,
    generate,
    loaded_positions,
    machine_info,
    meltano_env,
    query_timings,
    run_checked,
)
from pneuma_postgres.server import scratch_server

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pneuma_postgres.server import ServerConfig

WORK_DIR = WORK_ROOT / "bench_transform"
DEFAULT_OUT = RESULTS_DIR / "bench_transform.json"
DATABASE = "bench_transform"

# The textbook expansion the project's models replace: unnest in FROM with ordinality, and the
# previous position from lag() windows over every position (same output as the measured model).
BASELINE_EXPANSION_SQL = """
select
    trajectories.recording_id,
    trajectories.track_id,
    (positions.frame_number - 1)::integer as frame_index,
    positions.time_s, positions.lat, positions.lon, positions.speed_kmh,
    positions.lon_acc_ms2, positions.lat_acc_ms2,
    positions.time_s - lag(positions.time_s) over vehicle as step_time_s,
    2 * 6371008.8 * asin(sqrt(
        power(sin(radians(positions.lat - lag(positions.lat) over vehicle) / 2), 2)
        + cos(radians(lag(positions.lat) over vehicle)) * cos(radians(positions.lat))
        * power(sin(radians(positions.lon - lag(positions.lon) over vehicle) / 2), 2)
    )) as step_distance_m
from analytics_staging.stg_pneuma__trajectories as trajectories
cross join lateral unnest(
    trajectories.time_s, trajectories.lat, trajectories.lon, trajectories.speed_kmh,
    trajectories.lon_acc_ms2, trajectories.lat_acc_ms2
) with ordinality as positions (
    time_s, lat, lon, speed_kmh, lon_acc_ms2, lat_acc_ms2, frame_number
)
window vehicle as (
    partition by trajectories.recording_id, trajectories.track_id
    order by positions.frame_number
)
"""


@dataclass
class Timing:
    """One measured step."""

    name: str
    wall_s: float
    positions: int | None = None
    positions_per_s: float | None = None
    rows: int | None = None
    note: str = ""


def dbt(
    args: Sequence[str], env: dict[str, str], log: Path, project_dir: Path = TRANSFORM_DIR
) -> tuple[float, dict[str, float]]:
    """`dbt <args>` on the project (or a copy); wall seconds and each model's own execution time."""
    target_path = WORK_DIR / "dbt-target"
    wall_s = run_checked(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(TRANSFORM_DIR / "profiles" / "postgres"),
            "--target",
            "dev",
            "--target-path",
            str(target_path),
            "--log-path",
            str(WORK_DIR / "dbt-logs"),
        ],
        env,
        log,
    )
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    model_times = {
        result["unique_id"].split(".")[-1]: round(result["execution_time"], 2)
        for result in results
        if result["unique_id"].startswith("model.")
    }
    return wall_s, model_times


def timed_sql(config: ServerConfig, statement: str, params: dict[str, Any] | None = None) -> float:
    """Wall seconds of one statement on a fresh connection."""
    with config.connect() as connection:
        started = time.perf_counter()
        connection.execute(statement, params)
        return time.perf_counter() - started


def expansion_timings(config: ServerConfig, positions: int) -> list[Timing]:
    """Expansion alone, with step values, and the textbook baseline, each written to a table."""
    candidates = {
        "expansion only (int_trajectory_points_expanded)": (
            "select * from analytics_intermediate.int_trajectory_points_expanded"
        ),
        "expansion + step values (int_trajectory_points_measured)": (
            "select * from analytics_intermediate.int_trajectory_points_measured"
        ),
        "baseline: unnest in FROM + lag() windows": BASELINE_EXPANSION_SQL,
    }
    timings = []
    for name, select in candidates.items():
        timed_sql(config, "drop table if exists bench_expansion")
        wall_s = timed_sql(config, f"create unlogged table bench_expansion as {select}")
        timings.append(Timing(name, round(wall_s, 2), positions, round(positions / wall_s)))
    timed_sql(config, "drop table if exists bench_expansion")
    return timings


def change_one_recording(config: ServerConfig) -> str:
    """Give one recording's raw rows a newer version, as a re-extracted changed file would."""
    with config.connect() as connection:
        (recording_id,) = connection.execute(
            "select min(recording_id) from tap_pneuma.recordings"
        ).fetchone()
        for table in ("recordings", "vehicles", "trajectories"):
            connection.execute(
                f"update tap_pneuma.{table}"  # noqa: S608 - fixed table names
                " set _sdc_modified_at = _sdc_modified_at + interval '1 second'"
                " where recording_id = %s",
                (recording_id,),
            )
    return recording_id


def main() -> int:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--positions-per-file", type=int, default=550_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=7, help="runs per query (median)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    # the machine is shared: the load average says how noisy the timings are
    load_average_before = os.getloadavg()
    data_dir = WORK_DIR / f"data-{args.files}x{args.positions_per_file}-{args.seed}"
    n_files = len(
        generate(
            data_dir, files=args.files, positions_per_file=args.positions_per_file, seed=args.seed
        )
    )
    timings: list[Timing] = []
    with scratch_server(WORK_DIR / "pgdata", PASSWORD) as server:
        config = fresh_database(server, DATABASE)
        env = meltano_env(config, [str(data_dir)], WORK_DIR / "meltano-run")
        load_s = run_checked(
            EL_COMMAND,
            env,
            WORK_DIR / "load.log",
        )
        positions = loaded_positions(config)
        timings.append(
            Timing(
                "load (meltano run tap-pneuma target-postgres)",
                round(load_s, 2),
                positions,
                round(positions / load_s),
            )
        )

        full_s, model_times = dbt(
            [*DBT_BUILD_ARGS, "--full-refresh"], env, WORK_DIR / "build-full.log"
        )
        timings.append(
            Timing(
                "dbt build --full-refresh (whole project, data tests included)",
                round(full_s, 2),
                positions,
                round(positions / full_s),
            )
        )
        noop_s, _ = dbt(DBT_BUILD_ARGS, env, WORK_DIR / "build-noop.log")
        timings.append(Timing("dbt build, nothing changed", round(noop_s, 2)))
        changed = change_one_recording(config)
        one_s, one_model_times = dbt(DBT_BUILD_ARGS, env, WORK_DIR / "build-one.log")
        timings.append(
            Timing(f"dbt build, 1 of {n_files} recordings changed", round(one_s, 2), note=changed)
        )

        timings += expansion_timings(config, positions)
        timings += [
            Timing(query["name"], query["wall_s"], rows=query["rows"], note=query["plan"])
            for query in query_timings(config, args.repeat)
        ]

    baseline = next(t for t in timings if t.name.startswith("baseline"))
    measured = next(t for t in timings if "step values" in t.name)
    ratio = baseline.wall_s / measured.wall_s
    for timing in timings:
        rate = f"{timing.positions_per_s:>12,} positions/s" if timing.positions_per_s else ""
        rows = f"{timing.rows:>8,} rows" if timing.rows is not None else ""
        print(f"{timing.name:<62}{timing.wall_s:>9.3f} s {rate}{rows}  {timing.note}")
    print(f"expansion + step values vs baseline: {ratio:.2f}x faster")
    print("models (full refresh), s:", json.dumps(model_times))
    print("models (1 recording changed), s:", json.dumps(one_model_times))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {
                    **machine_info(),
                    "load_average_before": [round(x, 2) for x in load_average_before],
                },
                "files": n_files,
                "positions": positions,
                "timings": [asdict(timing) for timing in timings],
                "expansion_speedup_vs_baseline": round(ratio, 2),
                "model_seconds_full_refresh": model_times,
                "model_seconds_one_recording_changed": one_model_times,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
