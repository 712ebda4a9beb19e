"""`make bench`: every stage of the pipeline at several input sizes, in one run.

For each size, one generated pNEUMA file (deterministic, `tap_pneuma.synthetic`) goes through:

- tap alone: `tap-pneuma` writing Singer messages to /dev/null, on one core (`bench_tap`);
- COPY ceiling: the same positions, flattened to CSV beforehand, `COPY`-ed into a fresh table of
  the same embedded PostgreSQL 18 (`bench_load`); memory is the server backend's peak RSS;
- tap -> target-postgres: `meltano run tap-pneuma target-postgres` into a fresh database;
- dbt build: `meltano invoke dbt-postgres:build` of the whole warehouse on what was just loaded
  (every model and data test).

On the smallest size only, the naive baseline: a tap emitting one Singer record per position
(`naive_tap.py`) piped into the same target-postgres. Positions/s are input positions over wall
seconds; peak memory is the largest process's peak RSS. Writes JSON, CSV, a PNG plot and a
Markdown table (for the README) to benchmarks/results/, and projects the time to load the whole
pNEUMA dataset (~10^9 positions) from the rates measured on the largest size.

    python benchmarks/bench_pipeline.py                       # 0.5 M, 2 M and 5 M positions
    python benchmarks/bench_pipeline.py --sizes 200000 1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench_load import meltano_load
from bench_tap import TAPS, measure
from common import (
    BENCH_DIR,
    BUILD_COMMAND,
    PASSWORD,
    PNEUMA_POSITIONS,
    RESULTS_DIR,
    ROOT,
    WORK_ROOT,
    copy_ceiling,
    dump_config,
    fresh_database,
    machine_info,
    measured,
    meltano_env,
)
from pneuma_postgres.server import ServerConfig, scratch_server
from tap_pneuma.synthetic import generate_files

WORK_DIR = WORK_ROOT / "bench_pipeline"
DEFAULT_SIZES = (500_000, 2_000_000, 5_000_000)
STAGES = ("tap alone", "COPY ceiling", "tap -> target-postgres", "dbt build")
NAIVE_STAGE = "naive tap -> target-postgres"
# The naive stream has one small record per position: give it the SDK's default batch size
# rather than the project's 200 records, which is sized for one-vehicle trajectory records.
NAIVE_TARGET_ENV = {"TARGET_POSTGRES_BATCH_SIZE_ROWS": "10000"}


@dataclass
class StageResult:
    """One stage on one input size."""

    stage: str
    positions: int
    wall_s: float
    positions_per_s: float
    peak_rss_mib: float | None
    ratio_to_copy: float | None = None


def _result(stage: str, positions: int, wall_s: float, peak_mib: float | None) -> StageResult:
    return StageResult(stage, positions, round(wall_s, 3), round(positions / wall_s), peak_mib)


def tap_alone(file: object, work_dir: Path) -> StageResult:
    """tap-pneuma to /dev/null on one core."""
    config_path = work_dir / "tap-config.json"
    config_path.write_text(json.dumps({"files": [str(file.path)]}))  # type: ignore[attr-defined]
    measurement = measure("tap-pneuma", TAPS["tap-pneuma"], config_path, file)
    return _result("tap alone", measurement.positions, measurement.wall_s, measurement.peak_rss_mib)


def ceiling(server: ServerConfig, file: Path, positions: int) -> StageResult:
    """COPY of the flattened positions into a fresh table."""
    wall_s, peak_mib = copy_ceiling(fresh_database(server, "bench_copy"), file, positions)
    return _result("COPY ceiling", positions, wall_s, peak_mib)


def load_and_build(server: ServerConfig, file: Path, positions: int) -> list[StageResult]:
    """`meltano run tap-pneuma target-postgres`, then dbt build on the loaded database."""
    name = f"pipeline_{positions}"
    loaded = meltano_load(server, name, {}, file, positions)
    database = replace(server, database=f"bench_{name}")
    run_dir = WORK_DIR / "runs" / f"dbt-{positions}"
    env = meltano_env(database, [str(file)], run_dir)
    build_s, build_peak = measured(BUILD_COMMAND, env, run_dir / "dbt.log")
    return [
        _result("tap -> target-postgres", positions, loaded.wall_s, loaded.peak_rss_mib),
        _result("dbt build", positions, build_s, build_peak),
    ]


def naive_load(server: ServerConfig, file: Path, positions: int) -> StageResult:
    """The naive one-record-per-position tap piped into the same target-postgres."""
    database = fresh_database(server, "bench_naive")
    run_dir = WORK_DIR / "runs" / "naive"
    env = {**meltano_env(database, [str(file)], run_dir), **NAIVE_TARGET_ENV}
    target_config = dump_config("target-postgres", env, run_dir / "target-config.json")
    tap_config = run_dir / "tap-config.json"
    tap_config.write_text(json.dumps({"files": [str(file)]}))
    target = ROOT / ".meltano/loaders/target-postgres/venv/bin/pneuma-target-postgres"
    pipeline = (
        f"set -o pipefail; {sys.executable} {BENCH_DIR / 'naive_tap.py'} --config {tap_config}"
        f" | {target} --config {target_config}"
    )
    wall_s, peak = measured(["bash", "-c", pipeline], env, run_dir / "naive.log")
    with database.connect() as connection:
        (loaded,) = connection.execute("select count(*) from tap_pneuma.positions").fetchone()
    if loaded != positions:
        msg = f"naive load wrote {loaded} positions, the file holds {positions}"
        raise RuntimeError(msg)
    return _result(NAIVE_STAGE, positions, wall_s, peak)


def with_ratios(results: list[StageResult]) -> list[StageResult]:
    """Each stage's rate over the COPY ceiling's at the same size."""
    ceilings = {r.positions: r.positions_per_s for r in results if r.stage == "COPY ceiling"}
    for result in results:
        if result.stage != "COPY ceiling" and result.positions in ceilings:
            result.ratio_to_copy = round(result.positions_per_s / ceilings[result.positions], 3)
    return results


def projection(results: list[StageResult]) -> dict[str, float]:
    """Hours to take ~10^9 positions through each stage at the largest size's measured rate."""
    largest = max(r.positions for r in results)
    hours = {
        r.stage: round(PNEUMA_POSITIONS / r.positions_per_s / 3600, 2)
        for r in results
        if r.positions == largest
    }
    hours["pipeline (load + dbt build)"] = round(
        hours["tap -> target-postgres"] + hours["dbt build"], 2
    )
    return hours


def markdown_table(results: list[StageResult], hours: dict[str, float]) -> str:
    """The README's performance table."""
    lines = [
        "| stage | positions | wall s | positions/s | ratio to COPY | peak RSS MiB |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        ratio = f"{r.ratio_to_copy:.2f}" if r.ratio_to_copy is not None else "1.00"
        peak = f"{r.peak_rss_mib:,.0f}" if r.peak_rss_mib is not None else "n/a"
        lines.append(
            f"| {r.stage} | {r.positions:,} | {r.wall_s:,.1f} | {r.positions_per_s:,} | "
            f"{ratio} | {peak} |"
        )
    lines += ["", "| projected for 10^9 positions | hours |", "|---|--:|"]
    lines += [f"| {stage} | {value:,.1f} |" for stage, value in hours.items()]
    return "\n".join(lines) + "\n"


def plot(results: list[StageResult], path: Path) -> None:
    """Positions/s and peak RSS against input size, one line per stage."""
    import matplotlib as mpl  # noqa: PLC0415 - only the benchmark needs it

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (speed, memory) = plt.subplots(1, 2, figsize=(12, 4.5))
    for color, stage in enumerate((*STAGES, NAIVE_STAGE)):
        points = sorted((r for r in results if r.stage == stage), key=lambda r: r.positions)
        if not points:
            continue
        style = {"marker": "o", "linestyle": "-" if len(points) > 1 else "", "color": f"C{color}"}
        sizes = [r.positions / 1e6 for r in points]
        speed.plot(sizes, [r.positions_per_s for r in points], label=stage, **style)
        peaks = [(s, r.peak_rss_mib) for s, r in zip(sizes, points, strict=True) if r.peak_rss_mib]
        if peaks:
            memory.plot(*zip(*peaks, strict=True), label=stage, **style)
    speed.set(
        xlabel="input size (million positions)",
        ylabel="positions/s",
        yscale="log",
        title="Throughput per stage",
    )
    memory.set(
        xlabel="input size (million positions)",
        ylabel="peak RSS (MiB)",
        title="Peak memory per stage",
    )
    for axes in (speed, memory):
        axes.grid(visible=True, which="both", alpha=0.3)
    speed.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    """Run every stage at every size; write results, plot and table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="positions per generated file",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    results: list[StageResult] = []
    started = time.perf_counter()
    with scratch_server(WORK_DIR / "pgdata", PASSWORD) as server:
        for size in sorted(args.sizes):
            data_dir = WORK_DIR / f"data-{size}-{args.seed}"
            (generated,) = generate_files(
                data_dir, vehicles_per_file=None, positions_per_file=size, seed=args.seed
            )
            positions = generated.n_points
            print(f"{positions:,} positions ({generated.path.stat().st_size / 2**20:.0f} MiB)")
            results.append(tap_alone(generated, data_dir))
            results.append(ceiling(server, generated.path, positions))
            results += load_and_build(server, generated.path, positions)
            if size == min(args.sizes):
                results.append(naive_load(server, generated.path, positions))
            for result in results[-5:]:
                if result.positions == positions:
                    print(f"  {result.stage:<32}{result.positions_per_s:>12,} positions/s")

    with_ratios(results)
    hours = projection(results)
    table = markdown_table(results, hours)
    print(table)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "bench_pipeline",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": round(time.perf_counter() - started),
        "machine": machine_info(),
        "results": [asdict(r) for r in results],
        "projected_hours_for_1e9_positions": hours,
    }
    (args.out_dir / "pipeline.json").write_text(json.dumps(report, indent=2) + "\n")
    with (args.out_dir / "pipeline.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(asdict(results[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in results)
    (args.out_dir / "pipeline.md").write_text(table)
    plot(results, args.out_dir / "pipeline.png")
    print(f"wrote {args.out_dir}/pipeline.{{json,csv,md,png}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
