"""Benchmark the fanned-out loads: 1 vs 2 parallel loads (LocalExecutor), and Celery with 2 workers.

In one run, against one scratch embedded PostgreSQL 18, the same generated files (default 8 of
2 M positions each) are loaded by the manual DAG (`meltano_pneuma-elt-full-refresh-manual`)
through a real scheduler (orchestrate/cluster.py), each variant into a fresh warehouse database
with fresh Meltano state:

- `local-1`: LocalExecutor, PNEUMA_AIRFLOW_PARALLEL_LOADS=1 (the baseline: one load at a time);
- `local-2`: LocalExecutor, 2 loads at once;
- `celery-2`: the Celery profile, 2 workers of one slot each, Redis broker.

The load phase is timed from the metadata DB: first extract-load task start to last end (the
dbt build that follows is not part of it and is not waited for). Positions/s is the files'
positions over that; the speed-up is against `local-1` of the same run. What bounds it: one
load of one file, run alone outside Airflow, with the CPU time of Meltano, the tap, the target
and the server's processes over its wall time, i.e. the cores one load keeps busy; the machine's
cores over that is the speed-up that parallel loads can reach at most.

    python benchmarks/bench_airflow.py                       # make bench-airflow
    python benchmarks/bench_airflow.py --files 4 --positions 500000 --variants local-1,local-2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from common import EL_COMMAND, count_positions, fresh_database, generate, meltano_env
from pneuma_postgres.server import ServerConfig, free_loopback_port, scratch_server

ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = ROOT / "benchmarks" / ".work" / "bench_airflow"
RESULTS = ROOT / "benchmarks" / "results"
SEED = 42  # pneuma-generate's default: the files of the results so far
AIRFLOW_PYTHON = ROOT / ".meltano" / "utilities" / "airflow" / "venv" / "bin" / "python"
AIRFLOW = AIRFLOW_PYTHON.with_name("airflow")
CLUSTER = ROOT / "orchestrate" / "cluster.py"
DAG_ID = "meltano_pneuma-elt-full-refresh-manual"
LOAD_TASK = "step_2_tap-pneuma_target-postgres"
PASSWORD = "bench"  # noqa: S105 - throwaway local server
VARIANTS = {"local-1": ("local", 1), "local-2": ("local", 2), "celery-2": ("celery", 2)}
READY_TIMEOUT_S = 600
LOAD_TIMEOUT_S = 7200


@dataclass
class Result:
    """One variant's load phase."""

    variant: str
    executor: str
    parallel_loads: int
    files: int
    positions: int
    load_wall_s: float
    positions_per_s: float
    speedup_vs_1: float | None = None
    load_task_s: tuple[float, ...] = ()


def _server_cpu_s(data_dir: Path) -> float:
    """CPU seconds of the postmaster, its live processes and the ones it has reaped."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if postmaster in {int(stat.parent.name), int(fields[1])}:
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def cores_of_one_load(server: ServerConfig, file: Path) -> dict[str, float]:
    """Load one file alone (no Airflow) and measure the cores it keeps busy."""
    config = fresh_database(server, "bench_one_load")
    env = meltano_env(config, [str(file)], WORK_DIR / "one-load")
    server_before, client_before = _server_cpu_s(server.data_dir), os.times()
    started = time.perf_counter()
    subprocess.run(EL_COMMAND, env=env, cwd=ROOT, capture_output=True, check=True)
    wall = time.perf_counter() - started
    client_after = os.times()
    client = (client_after.children_user - client_before.children_user) + (
        client_after.children_system - client_before.children_system
    )
    server_s = _server_cpu_s(server.data_dir) - server_before
    cores = (client + server_s) / wall
    return {
        "wall_s": round(wall, 1),
        "client_cpu_s": round(client, 1),
        "server_cpu_s": round(server_s, 1),
        "cores_busy": round(cores, 2),
        "speedup_bound": round((os.cpu_count() or 1) / cores, 2),
    }


def _airflow(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(AIRFLOW), *args], env=env, capture_output=True, check=True)


def _load_tasks(metadata_url: str) -> list[tuple[str, object, object]]:
    with psycopg.connect(metadata_url) as metadata:
        return metadata.execute(
            "select state, start_date, end_date from task_instance where dag_id = %s "
            "and task_id = %s",
            (DAG_ID, LOAD_TASK),
        ).fetchall()


def run_variant(
    name: str, server: ServerConfig, data_dir: Path, files: int, positions: int
) -> Result:
    """Start the services, trigger the DAG, wait for the loads, stop the services."""
    executor, parallel = VARIANTS[name]
    home = WORK_DIR / name / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    tag = name.replace("-", "_")
    env = {
        **os.environ,
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "orchestrate" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__API__PORT": str(free_loopback_port()),
        "PNEUMA_REDIS_PORT": str(free_loopback_port()),
        "PNEUMA_CELERY_LOG_PORT": str(free_loopback_port()),
        "PNEUMA_CELERY_WORKERS": "2",
        "PNEUMA_AIRFLOW_PARALLEL_LOADS": str(parallel),
        "PNEUMA_AIRFLOW_TASK_RETRIES": "0",
        "PNEUMA_PG_EMBEDDED": "true",
        "PNEUMA_PG_DATA_DIR": str(server.data_dir),
        "PNEUMA_PG_HOST": server.host,
        "PNEUMA_PG_PORT": str(server.port),
        "PNEUMA_PG_USER": server.user,
        "PNEUMA_PG_PASSWORD": server.password,
        "PNEUMA_PG_DATABASE": f"bench_{tag}",
        "PNEUMA_AIRFLOW_DATABASE": f"airflow_{tag}",
        "PNEUMA_MELTANO_DATABASE": f"meltano_{tag}",
        "TAP_PNEUMA_FILES": json.dumps([str(data_dir)]),
        "DBT_TARGET_PATH": str(WORK_DIR / name / "dbt-target"),
        "DBT_LOG_PATH": str(WORK_DIR / name / "dbt-logs"),
    }
    log_path = WORK_DIR / name / "cluster.log"
    with log_path.open("wb") as log:
        cluster = subprocess.Popen(
            [str(AIRFLOW_PYTHON), str(CLUSTER), "--executor", executor],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while b"cluster: ready" not in log_path.read_bytes():
            if cluster.poll() is not None or time.monotonic() > deadline:
                msg = f"{name}: services did not start:\n{log_path.read_text()[-3000:]}"
                raise RuntimeError(msg)
            time.sleep(2)
        server_url = f"postgresql://{server.user}:{server.password}@{server.host}:{server.port}"
        airflow_env = {
            **env,
            "AIRFLOW__CORE__EXECUTOR": f"{executor.capitalize()}Executor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                f"postgresql+psycopg2://{server_url.removeprefix('postgresql://')}/airflow_{tag}"
            ),
        }
        for command in (
            ("dags", "reserialize"),
            ("dags", "unpause", DAG_ID),
            ("dags", "trigger", DAG_ID),
        ):
            _airflow(airflow_env, *command)
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while True:
            tasks = _load_tasks(f"{server_url}/airflow_{tag}")
            if len(tasks) == files and all(t[0] in {"success", "failed"} for t in tasks):
                break
            if cluster.poll() is not None or time.monotonic() > deadline:
                msg = f"{name}: loads did not finish:\n{log_path.read_text()[-3000:]}"
                raise RuntimeError(msg)
            time.sleep(3)
    finally:
        cluster.send_signal(signal.SIGINT)
        cluster.wait(timeout=180)
    if failed := [t for t in tasks if t[0] != "success"]:
        msg = f"{name}: {len(failed)} loads failed; see {home / 'logs'}"
        raise RuntimeError(msg)
    wall = (max(t[2] for t in tasks) - min(t[1] for t in tasks)).total_seconds()
    return Result(
        variant=name,
        executor=executor,
        parallel_loads=parallel,
        files=files,
        positions=positions,
        load_wall_s=round(wall, 1),
        positions_per_s=round(positions / wall),
        load_task_s=tuple(round((t[2] - t[1]).total_seconds(), 1) for t in tasks),
    )


def _markdown(
    results: list[Result], machine: dict[str, object], one_load: dict[str, float] | None
) -> str:
    lines = [
        "# Airflow fan-out benchmark (`make bench-airflow`)",
        "",
        (
            f"{machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}; load "
            f"average {machine['load_before']} before, {machine['load_after']} after "
            "(other work on the machine counts against every variant alike)."
        ),
        "",
        (
            "| variant | executor | parallel loads | files | positions | load wall s "
            "| positions/s | speed-up vs 1 | mean task s |"
        ),
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    lines.extend(
        f"| {r.variant} | {r.executor} | {r.parallel_loads} | {r.files} | {r.positions:,} | "
        f"{r.load_wall_s} | {r.positions_per_s:,} | "
        f"{'' if r.speedup_vs_1 is None else f'{r.speedup_vs_1:.2f}x'} | "
        f"{sum(r.load_task_s) / len(r.load_task_s):.1f} |"
        for r in results
    )
    if one_load:
        lines += [
            "",
            (
                f"What bounds the speed-up: one load of one file alone (no Airflow) took "
                f"{one_load['wall_s']} s and {one_load['client_cpu_s']} s of CPU in Meltano, the "
                f"tap and the target plus {one_load['server_cpu_s']} s in PostgreSQL: "
                f"{one_load['cores_busy']} cores busy, so {machine['cpus']} cores allow at most "
                f"{one_load['speedup_bound']}x, before Airflow's own processes (scheduler, API "
                "server, DAG processor, a supervisor per task) take their share."
            ),
        ]
    return "\n".join(lines) + "\n"


def _write(
    out: Path,
    results: list[Result],
    machine: dict[str, object],
    one_load: dict[str, float] | None = None,
) -> None:
    machine["load_after"] = round(os.getloadavg()[0], 1)
    baseline = next((r for r in results if r.variant == "local-1"), None)
    for result in results:
        if baseline is not None:
            result.speedup_vs_1 = round(baseline.load_wall_s / result.load_wall_s, 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine,
        "results": [asdict(r) for r in results],
        "one_load_alone": one_load,
    }
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(_markdown(results, machine, one_load))


def main() -> int:
    """Run the variants and write benchmarks/results/airflow.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--positions", type=int, default=2_000_000, help="per file")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=RESULTS / "airflow.json")
    args = parser.parse_args()
    data_dir = WORK_DIR / "data"
    files = generate(data_dir, files=args.files, positions_per_file=args.positions, seed=SEED)
    total = sum(map(count_positions, files))
    machine = {
        "cpus": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "load_before": round(os.getloadavg()[0], 1),
    }
    results: list[Result] = []
    with scratch_server(WORK_DIR / "postgres", PASSWORD) as server:
        for name in args.variants.split(","):
            sys.stderr.write(f"bench_airflow: {name} ...\n")
            results.append(run_variant(name, server, data_dir, args.files, total))
            sys.stderr.write(f"bench_airflow: {results[-1]}\n")
            _write(args.out, results, machine)  # after each variant: a later failure keeps it
        one_load = cores_of_one_load(server, min(data_dir.glob("*.csv")))
        _write(args.out, results, machine, one_load)
    sys.stdout.write(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
