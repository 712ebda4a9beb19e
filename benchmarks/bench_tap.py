"""Benchmark the tap alone: tap-pneuma vs a naive one-record-per-position tap, same run.

For each size, a deterministic generated pNEUMA file is read by each tap, writing Singer
messages to /dev/null, pinned to one CPU core. Measured per run: wall time, CPU time and peak
RSS of the tap process (``os.wait4``), hence positions/s. Prints a table and writes JSON.

    python benchmarks/bench_tap.py                       # 500k and 2M positions
    python benchmarks/bench_tap.py --sizes 200000 1000000 --out /tmp/bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from tap_pneuma.synthetic import generate_files

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_WORK_DIR = BENCH_DIR / ".work" / "bench_tap"
DEFAULT_OUT = BENCH_DIR / "results" / "bench_tap.json"
TAPS = {
    "tap-pneuma": [sys.executable, "-m", "tap_pneuma"],
    "naive (1 record/position)": [sys.executable, str(BENCH_DIR / "naive_tap.py")],
}


@dataclass
class Measurement:
    """One tap run on one file."""

    tap: str
    positions: int
    vehicles: int
    file_bytes: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    positions_per_s: float
    positions_per_cpu_s: float


def _pin_to_one_core() -> None:
    # the target is "on one core": keep the tap from spreading over the machine's cores
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})


def measure(tap: str, command: list[str], config_path: Path, generated: object) -> Measurement:
    """Run one tap on one config, output to /dev/null; time it and read its peak RSS."""
    with Path(os.devnull).open("wb") as devnull:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--config", str(config_path)],
            stdout=devnull,
            stderr=subprocess.PIPE,
            preexec_fn=_pin_to_one_core,  # noqa: PLW1509 - no threads here
        )
        stderr = process.stderr.read() if process.stderr else b""
        _pid, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        msg = f"{tap} failed:\n{stderr.decode(errors='replace')[-2000:]}"
        raise RuntimeError(msg)
    cpu_s = usage.ru_utime + usage.ru_stime
    positions = generated.n_points  # type: ignore[attr-defined]
    return Measurement(
        tap=tap,
        positions=positions,
        vehicles=generated.n_vehicles,  # type: ignore[attr-defined]
        file_bytes=generated.path.stat().st_size,  # type: ignore[attr-defined]
        wall_s=round(wall_s, 3),
        cpu_s=round(cpu_s, 3),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        positions_per_s=round(positions / wall_s),
        positions_per_cpu_s=round(positions / cpu_s),
    )


def main() -> int:
    """Generate the files, run both taps on each, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[500_000, 2_000_000],
        help="positions per generated file (default: 500000 2000000)",
    )
    parser.add_argument(
        "--naive-max",
        type=int,
        default=None,
        help="skip the naive tap above this many positions (default: never)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    args = parser.parse_args()

    results: list[Measurement] = []
    for size in args.sizes:
        data_dir = args.work_dir / f"positions_{size}_seed_{args.seed}"
        (generated,) = generate_files(
            data_dir, vehicles_per_file=None, positions_per_file=size, seed=args.seed
        )
        config_path = data_dir.parent / f"config_{size}.json"
        config_path.write_text(json.dumps({"files": [str(generated.path)]}))
        for tap, command in TAPS.items():
            if tap != "tap-pneuma" and args.naive_max and size > args.naive_max:
                continue
            result = measure(tap, command, config_path, generated)
            results.append(result)
            sys.stdout.write(f"  measured {tap} on {result.positions:,} positions\n")

    header = (
        f"{'tap':<28}{'positions':>12}{'MB':>8}{'wall s':>9}{'cpu s':>8}"
        f"{'pos/s':>12}{'pos/cpu-s':>12}{'peak RSS MiB':>14}"
    )
    lines = [header, "-" * len(header)]
    lines += [
        f"{r.tap:<28}{r.positions:>12,}{r.file_bytes / 1e6:>8.0f}{r.wall_s:>9.2f}{r.cpu_s:>8.2f}"
        f"{r.positions_per_s:>12,}{r.positions_per_cpu_s:>12,}{r.peak_rss_mib:>14.1f}"
        for r in results
    ]
    ratios = {}
    for size in {r.positions for r in results}:
        by_tap = {r.tap: r for r in results if r.positions == size}
        if len(by_tap) == len(TAPS):
            fast, naive = (by_tap[name] for name in TAPS)
            ratios[str(size)] = round(fast.positions_per_s / naive.positions_per_s, 1)
            lines.append(f"tap-pneuma / naive at {size:,} positions: {ratios[str(size)]}x")
    sys.stdout.write("\n".join(lines) + "\n")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "tap alone, Singer messages to /dev/null, one CPU core",
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(),
                    "load_average_1m": os.getloadavg()[0],
                    "python": platform.python_version(),
                    "singer_sdk": metadata.version("singer-sdk"),
                },
                "results": [asdict(r) for r in results],
                "speedup_vs_naive": ratios,
            },
            indent=2,
        )
        + "\n"
    )
    sys.stdout.write(f"results written to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
