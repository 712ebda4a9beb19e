"""`make bench-scale`: one warehouse grown recording by recording, as a traffic department would.

In one run, on one embedded PostgreSQL 18 and generated pNEUMA files of ~2.5 M positions each
(148 MB, the size of a real file), one warehouse goes through these steps:

1. `initial`: N files into an empty warehouse;
2. `no-op small`: the same command again, nothing changed;
3. `more`: M more files;
4. `one more`: one more file (the issue's "+1 into a warehouse of >= 25 M");
5. `no-op large`: nothing changed;
6. `crash`: one more file loaded, then `kill -9` of the server during `dbt build`, a restart,
   a check that the marts hold what was published before, and the rebuild (timed).

Each step times the load (`meltano run tap-pneuma target-postgres`) and `dbt build` (`meltano
invoke dbt-postgres:build`) separately and measures the whole warehouse's size on disk
(`pg_total_relation_size` of every table: raw, marts, indexes, TOAST) per position. The three
typical queries run after `initial` and after `one more`. In the same run, for the ratios: the
PostgreSQL COPY ceiling (one file's positions, flattened to CSV beforehand) and the `one more`
file alone into an empty warehouse. Writes benchmarks/results/scale.{json,md,png}.

Only Meltano commands and the published marts are used, so it runs against whatever transform/
is checked out.

    python benchmarks/bench_scale.py                    # 1 file, +2, +1, no-op, crash (~12 min)
    python benchmarks/bench_scale.py --full             # the issue's: 2 files, +8, +1 (scale-full/)
    python benchmarks/bench_scale.py --files 1 --more 1 --positions 500000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import (
    BUILD_COMMAND,
    EL_COMMAND,
    PASSWORD,
    PNEUMA_POSITIONS,
    RESULTS_DIR,
    ROOT,
    WORK_ROOT,
    copy_ceiling,
    count_positions,
    fresh_database,
    generate,
    loaded_positions,
    machine_info,
    measured,
    meltano_env,
    query_parameters,
    query_timings,
)
from pneuma_postgres.server import EmbeddedServer, scratch_server

if TYPE_CHECKING:
    from pneuma_postgres.server import ServerConfig

WORK_DIR = WORK_ROOT / "bench_scale"
POSITIONS_PER_FILE = 2_500_000  # a real pNEUMA file: ~2.5 M positions, 148 MB
QUERY_REPEAT = 7
# dbt prints this when it starts the per-position mart: the moment to pull the plug
CRASH_MARKER = "fct_trajectory_points"
CRASH_DELAY_S = 3.0
CRASH_FALLBACK = 0.6  # without the marker: kill at this share of the last build's time
CRASH_TIMEOUT_S = 1800
KILL_TIMEOUT_S = 60

# Every table of the warehouse with its indexes and TOAST; partitions are tables themselves.
SIZE_SQL = """
select n.nspname, sum(pg_total_relation_size(c.oid))::bigint
from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('r', 'm')
    and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
group by 1 order by 1
"""
PUBLISHED_SQL = """
select recording_id, count(*) from analytics_marts.fct_trajectory_points
group by 1 order by 1
"""

TARGETS = {
    "el_ratio_to_copy": (">=", 0.4),
    "build_ratio_to_copy": (">=", 0.5),
    "one_more_into_large_vs_empty": ("<=", 1.2),
    "noop_large_vs_small": ("<=", 1.2),
    "path_query_large_vs_small": ("<=", 1.5),
    "grid_query_large_vs_small": ("<=", 1.5),
    "box_query_large_vs_small_per_row": ("<=", 1.5),
    "bytes_per_position": ("<=", 130),
    "projected_hours_1e9": ("<=", 2.0),
}


@dataclass
class Step:
    """One step of the warehouse's growth."""

    name: str
    files_added: int
    positions_added: int
    warehouse_positions: int = 0
    el_s: float | None = None
    build_s: float | None = None
    el_peak_mib: float | None = None
    build_peak_mib: float | None = None
    warehouse_bytes: int = 0
    bytes_by_schema: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def total_s(self) -> float:
        """Load and build together."""
        return (self.el_s or 0) + (self.build_s or 0)

    def row(self) -> dict[str, Any]:
        """The step with its derived rates."""
        per_position = self.warehouse_bytes / self.warehouse_positions
        return {
            **asdict(self),
            "el_positions_per_s": rate(self.positions_added, self.el_s),
            "build_positions_per_s": rate(self.positions_added, self.build_s),
            "bytes_per_position": round(per_position, 1) if self.warehouse_positions else None,
        }


def rate(positions: int, seconds: float | None) -> int | None:
    """Positions per second, when there were positions to process."""
    return round(positions / seconds) if positions and seconds else None


class Warehouse:
    """One growing warehouse: its database, its Meltano state and the files it was given."""

    def __init__(self, server: ServerConfig, name: str) -> None:
        """A fresh database `name` on `server`, with no Meltano state and no files yet."""
        self.server = server
        self.config = fresh_database(server, name)
        self.run_dir = WORK_DIR / "runs" / name
        self.env = meltano_env(self.config, [], self.run_dir)
        self.inputs: list[str] = []

    def add(self, data_dir: Path) -> None:
        """Point the tap at one more directory of files."""
        self.inputs.append(str(data_dir))
        self.env["TAP_PNEUMA_FILES"] = json.dumps(self.inputs)

    def step(self, step: Step) -> Step:
        """Load, build and measure the warehouse."""
        step.el_s, step.el_peak_mib = measured(
            EL_COMMAND, self.env, self.run_dir / f"{step.name}-el.log"
        )
        step.build_s, step.build_peak_mib = measured(
            BUILD_COMMAND, self.env, self.run_dir / f"{step.name}-build.log"
        )
        return self.measure_size(step)

    def measure_size(self, step: Step) -> Step:
        """The warehouse's positions and bytes on disk after `step`."""
        with self.config.connect() as connection:
            connection.execute("checkpoint")  # count what was written, not what is in flight
            step.bytes_by_schema = dict(connection.execute(SIZE_SQL).fetchall())
        step.warehouse_bytes = sum(step.bytes_by_schema.values())
        step.warehouse_positions = loaded_positions(self.config)
        return step

    def published(self) -> dict[str, int]:
        """Positions per recording in the published per-position mart."""
        with self.config.connect() as connection:
            return dict(connection.execute(PUBLISHED_SQL).fetchall())


def kill_server(data_dir: Path) -> int:
    """`kill -9` of the postmaster and every server process under it; the postmaster's pid."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    children = [
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if _parent_pid(stat) == postmaster
    ]
    for pid in (postmaster, *children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    # until init reaps it, the killed postmaster's pid answers kill(pid, 0): pg_ctl status calls
    # it running, and a new postmaster refuses its lock file
    deadline = time.monotonic() + KILL_TIMEOUT_S
    while Path(f"/proc/{postmaster}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return postmaster


def _parent_pid(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def crash_during_build(warehouse: Warehouse, step: Step, fallback_s: float) -> dict[str, Any]:
    """Kill the server during `dbt build`, restart it, check the marts, rebuild (timed)."""
    before = warehouse.published()
    step.el_s, step.el_peak_mib = measured(
        EL_COMMAND, warehouse.env, warehouse.run_dir / "crash-el.log"
    )
    log = warehouse.run_dir / "crash-build-killed.log"
    with log.open("w") as out:
        build = subprocess.Popen(
            BUILD_COMMAND, env=warehouse.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    started = time.perf_counter()
    while build.poll() is None and time.perf_counter() - started < fallback_s:
        if any("START" in line and CRASH_MARKER in line for line in log.read_text().splitlines()):
            time.sleep(CRASH_DELAY_S)
            break
        time.sleep(0.2)
    killed_after_s = time.perf_counter() - started
    finished_before_kill = build.poll() is not None
    kill_server(warehouse.server.data_dir)
    build.wait(timeout=CRASH_TIMEOUT_S)
    EmbeddedServer(warehouse.server).start()  # crash recovery replays the WAL

    after = warehouse.published()
    lost = {
        recording: (positions, after.get(recording, 0))
        for recording, positions in before.items()
        if after.get(recording, 0) != positions
    }
    step.build_s, step.build_peak_mib = measured(
        BUILD_COMMAND, warehouse.env, warehouse.run_dir / "crash-rebuild.log"
    )
    warehouse.measure_size(step)
    rebuilt = warehouse.published()
    complete = sum(rebuilt.values()) == step.warehouse_positions
    step.note = (
        f"killed {killed_after_s:.0f} s into dbt build; published before: {len(before)}"
        f" recordings, changed by the crash: {len(lost)}; complete after rebuild: {complete}"
    )
    return {
        "killed_after_s": round(killed_after_s, 1),
        "build_had_finished_before_kill": finished_before_kill,
        "published_recordings_before": len(before),
        "published_positions_before": sum(before.values()),
        "published_positions_after_restart": sum(after.values()),
        "recordings_changed_by_crash": {k: list(v) for k, v in lost.items()},
        "marts_intact_after_restart": not lost,
        "rebuild_s": step.build_s,
        "complete_after_rebuild": complete,
    }


def ceiling(server: ServerConfig, file: Path) -> dict[str, Any]:
    """COPY ceiling of one file's positions into a fresh table."""
    positions = count_positions(file)
    wall_s, peak_mib = copy_ceiling(fresh_database(server, "bench_copy"), file, positions)
    return {
        "positions": positions,
        "wall_s": round(wall_s, 2),
        "positions_per_s": round(positions / wall_s),
        "peak_rss_mib": peak_mib,
    }


def ratios(
    steps: dict[str, Step],
    copy: dict[str, Any] | None,
    reference: Step | None,
    queries: dict[str, dict[str, dict[str, Any]]],
) -> dict[str, float | None]:
    """Every target of the issue as a ratio measured in this run (None: not measured yet)."""

    def query_ratio(name: str, *, per_row: bool = False) -> float:
        small, large = queries["small"][name], queries["large"][name]
        ratio = large["wall_s"] / small["wall_s"]
        if per_row:
            ratio /= max(large["rows"], 1) / max(small["rows"], 1)
        return ratio

    def bytes_per_position() -> float:
        grown = max(steps.values(), key=lambda step: step.warehouse_positions)
        return grown.warehouse_bytes / grown.warehouse_positions

    formulas = {
        "el_ratio_to_copy": lambda: (
            rate(steps["initial"].positions_added, steps["initial"].el_s) / copy["positions_per_s"]
        ),
        "build_ratio_to_copy": lambda: (
            rate(steps["initial"].positions_added, steps["initial"].build_s)
            / copy["positions_per_s"]
        ),
        "one_more_into_large_vs_empty": lambda: steps["one more"].total_s / reference.total_s,
        "noop_large_vs_small": lambda: steps["no-op large"].total_s / steps["no-op small"].total_s,
        "path_query_large_vs_small": lambda: query_ratio("one vehicle's path"),
        "grid_query_large_vs_small": lambda: query_ratio("traffic grid of one recording"),
        "box_query_large_vs_small_per_row": lambda: query_ratio(
            "100 m box over 5 minutes", per_row=True
        ),
        "bytes_per_position": bytes_per_position,
        "projected_hours_1e9": lambda: (
            steps["more"].total_s / steps["more"].positions_added * PNEUMA_POSITIONS / 3600
        ),
    }
    measured_ratios: dict[str, float | None] = {}
    for name, formula in formulas.items():
        try:
            measured_ratios[name] = round(formula(), 3)
        except (KeyError, TypeError, ZeroDivisionError, AttributeError, ValueError):
            measured_ratios[name] = None  # a step it needs has not run (or failed)
    return measured_ratios


def verdicts(measured_ratios: dict[str, float | None]) -> dict[str, bool | None]:
    """Whether each ratio meets its target."""
    result: dict[str, bool | None] = {}
    for name, (op, bound) in TARGETS.items():
        value = measured_ratios.get(name)
        result[name] = None if value is None else (value >= bound if op == ">=" else value <= bound)
    return result


def number(value: float | None, digits: int = 1) -> str:
    """A table cell: the value with thousands separators, or empty."""
    return "" if value is None else f"{value:,.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    """The results page the README points at."""
    steps = report["steps"]
    lines = [
        f"# bench-scale: one warehouse grown file by file ({report['scenario']})",
        "",
        *(
            []
            if report["complete"]
            else [
                "**Incomplete run**: the steps below are all that had run when this was written.",
                "",
            ]
        ),
        (
            f"Measured {report['measured_at']} in {report['duration_s'] / 60:.0f} min on"
            f" {report['machine']['cpus']} cores ({report['machine']['platform']}; load average"
            f" {report['machine']['load_average'][0]} at the end); files of"
            f" {report['positions_per_file']:,} positions; code at {report['git']}."
        ),
        "",
        (
            "| step | files | positions added | warehouse positions | EL s | EL positions/s |"
            " dbt build s | build positions/s | bytes/position |"
        ),
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    lines += [
        f"| {step['name']} | {step['files_added']} | {step['positions_added']:,} |"
        f" {step['warehouse_positions']:,} | {number(step['el_s'])} |"
        f" {number(step['el_positions_per_s'], 0)} | {number(step['build_s'])} |"
        f" {number(step['build_positions_per_s'], 0)} | {number(step['bytes_per_position'])} |"
        for step in steps
    ]
    if steps:
        largest = max(steps, key=lambda step: step["warehouse_positions"])
        by_schema = ", ".join(
            f"{schema} {size / largest['warehouse_positions']:.1f}"
            for schema, size in largest["bytes_by_schema"].items()
        )
        lines += ["", f"Bytes per position by schema at {largest['name']}: {by_schema}."]
    copy = report["copy_ceiling"] or {}
    reference = report["one_more_into_empty"] or {}
    lines += [
        "",
        (
            f"COPY ceiling: {copy.get('positions_per_s', 0):,} positions/s"
            f" ({copy.get('positions', 0):,} positions in {copy.get('wall_s')} s). The `one more`"
            f" file alone into an empty warehouse: EL {number(reference.get('el_s'))} s,"
            f" dbt build {number(reference.get('build_s'))} s."
        ),
        "",
        "| query | rows small | ms small | rows large | ms large |",
        "|---|--:|--:|--:|--:|",
    ]
    for name, small in report["queries"].get("small", {}).items():
        large = report["queries"].get("large", {}).get(name, {})
        lines.append(
            f"| {name} | {small['rows']:,} | {small['wall_s'] * 1000:.0f} |"
            f" {number(large.get('rows'), 0)} | {number(large.get('wall_s', 0) * 1000, 0)} |"
        )
    crash = report["crash"] or {"error": "not run yet"}
    lines += [
        "",
        f"Crash step: {crash['error']}"
        if "error" in crash
        else (
            f"Crash: `kill -9` of the server {crash['killed_after_s']} s into `dbt build`; marts"
            f" intact after the restart: **{crash['marts_intact_after_restart']}**"
            f" ({crash['published_positions_before']:,} published positions before,"
            f" {crash['published_positions_after_restart']:,} after); rebuild"
            f" {crash['rebuild_s']:.1f} s; complete after it: {crash['complete_after_rebuild']}."
        ),
        "",
        "| target | measured | goal | met |",
        "|---|--:|--:|:-:|",
    ]
    for name, (op, bound) in TARGETS.items():
        value = report["ratios"][name]
        met = {True: "yes", False: "**no**", None: "n/a"}[report["targets_met"][name]]
        lines.append(f"| {name.replace('_', ' ')} | {value} | {op} {bound} | {met} |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Seconds of EL and dbt build per step, and bytes per position, against warehouse size."""
    import matplotlib as mpl  # noqa: PLC0415 - only the benchmark needs it

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    steps = report["steps"]
    names = [step["name"] for step in steps]
    figure, (seconds, size) = plt.subplots(1, 2, figsize=(12, 4.5))
    el = [step["el_s"] or 0 for step in steps]
    seconds.bar(names, el, label="EL (meltano run tap-pneuma target-postgres)")
    seconds.bar(names, [step["build_s"] or 0 for step in steps], bottom=el, label="dbt build")
    seconds.set(ylabel="seconds", title="Time per step")
    seconds.tick_params(axis="x", rotation=30)
    seconds.legend(fontsize="small")
    size.plot(
        [step["warehouse_positions"] / 1e6 for step in steps],
        [step["bytes_per_position"] for step in steps],
        marker="o",
    )
    size.axhline(TARGETS["bytes_per_position"][1], color="C3", linestyle="--", label="target")
    size.set(
        xlabel="warehouse (million positions)",
        ylabel="bytes per position",
        title="Warehouse size (raw + marts + indexes)",
    )
    size.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def git_revision() -> str:
    """The commit of the checkout the warehouse was built from (and whether it was dirty)."""
    revision = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return revision.stdout.strip() or "unknown"


def main() -> int:  # noqa: PLR0915 - one straight scenario, step after step
    """Grow one warehouse, measure every step, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1, help="files into the empty warehouse")
    parser.add_argument("--more", type=int, default=2, help="files of the `more` step")
    parser.add_argument("--positions", type=int, default=POSITIONS_PER_FILE, help="per file")
    parser.add_argument(
        "--full",
        action="store_true",
        help="the issue's: --files 2 --more 8, results in benchmarks/results/scale-full/",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out-dir", type=Path)
    args = parser.parse_args()
    if args.full:
        args.files, args.more = 2, 8
    # the quick default and the scenario each keep their own results
    args.out_dir = args.out_dir or (RESULTS_DIR / "scale-full" if args.full else RESULTS_DIR)
    scenario = f"{args.files} files, +{args.more}, +1, no-op, crash"

    started = time.perf_counter()
    revision = git_revision()  # the code that runs: taken before anything can change it
    batches = {
        name: generate(
            WORK_DIR / f"data-{args.positions}-{args.seed}" / name,
            files=count,
            positions_per_file=args.positions,
            seed=args.seed + offset,
            first_index=offset,
        )
        for name, count, offset in (
            ("initial", args.files, 0),
            ("more", args.more, args.files),
            ("one more", 1, args.files + args.more),
            ("crash", 1, args.files + args.more + 1),
        )
    }
    print(f"{scenario}: files ready in {time.perf_counter() - started:.0f} s", flush=True)

    steps: dict[str, Step] = {}
    queries: dict[str, dict[str, dict[str, Any]]] = {}
    copy: dict[str, Any] | None = None
    reference: Step | None = None
    crash: dict[str, Any] | None = None

    def write_results(*, complete: bool) -> None:
        measured_ratios = ratios(steps, copy, reference, queries)
        report = {
            "benchmark": "bench_scale",
            "scenario": scenario,
            "complete": complete,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "duration_s": round(time.perf_counter() - started),
            "git": revision,
            "machine": machine_info(),
            "positions_per_file": args.positions,
            "copy_ceiling": copy,
            "one_more_into_empty": reference.row() if reference else None,
            "steps": [step.row() for step in steps.values()],
            "queries": queries,
            "crash": crash,
            "ratios": measured_ratios,
            "targets": {name: f"{op} {bound}" for name, (op, bound) in TARGETS.items()},
            "targets_met": verdicts(measured_ratios),
        }
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "scale.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (args.out_dir / "scale.md").write_text(markdown(report))
        if steps:
            plot(report, args.out_dir / "scale.png")

    def report_step(step: Step) -> None:
        steps[step.name] = step
        row = step.row()
        write_results(complete=False)  # a run that breaks later keeps what it measured
        print(
            f"  {step.name:<12} +{step.positions_added:>11,} positions -> "
            f"{step.warehouse_positions:>11,}: EL {step.el_s or 0:6.1f} s,"
            f" dbt build {step.build_s or 0:6.1f} s, {row['bytes_per_position']} bytes/position"
            f" {step.note}",
            flush=True,
        )

    def positions_of(name: str) -> int:
        return sum(count_positions(path) for path in batches[name])

    with scratch_server(WORK_DIR / "pgdata", PASSWORD) as server:
        copy = ceiling(server, batches["one more"][0])
        print(f"  COPY ceiling: {copy['positions_per_s']:,} positions/s", flush=True)

        reference_warehouse = Warehouse(server, "scale_reference")
        reference_warehouse.add(batches["one more"][0].parent)
        reference = reference_warehouse.step(
            Step("one more into empty", 1, positions_of("one more"))
        )
        print(f"  reference: the `one more` file into an empty warehouse {reference.total_s:.1f} s")
        with server.connect(database="postgres") as connection:
            connection.execute("drop database scale_reference with (force)")

        warehouse = Warehouse(server, "scale")
        warehouse.add(batches["initial"][0].parent)
        report_step(warehouse.step(Step("initial", args.files, positions_of("initial"))))
        pinned = query_parameters(warehouse.config)
        queries["small"] = {
            q["name"]: q for q in query_timings(warehouse.config, QUERY_REPEAT, pinned)
        }
        report_step(warehouse.step(Step("no-op small", 0, 0)))
        warehouse.add(batches["more"][0].parent)
        report_step(warehouse.step(Step("more", args.more, positions_of("more"))))
        warehouse.add(batches["one more"][0].parent)
        report_step(warehouse.step(Step("one more", 1, positions_of("one more"))))
        queries["large"] = {
            q["name"]: q for q in query_timings(warehouse.config, QUERY_REPEAT, pinned)
        }
        report_step(warehouse.step(Step("no-op large", 0, 0)))
        warehouse.add(batches["crash"][0].parent)
        crash_step = Step("crash", 1, positions_of("crash"))
        try:
            crash = crash_during_build(
                warehouse, crash_step, fallback_s=CRASH_FALLBACK * (steps["one more"].build_s or 60)
            )
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            # the numbers of the steps before still count; the page says what went wrong
            crash = {"error": str(error)[-2000:]}
            print(f"  crash step failed: {error}", flush=True)
        else:
            report_step(crash_step)

    write_results(complete=True)
    print((args.out_dir / "scale.md").read_text())
    print(f"wrote {args.out_dir}/scale.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
