"""Deterministic generator of realistic pNEUMA-layout files (console script ``pneuma-generate``).

The real data may not be redistributed, so tests, demos and benchmarks use these files. Vehicles
of the six pNEUMA types drive along a few straight roads of the Athens study area
(37.97-37.99 N, 23.72-23.74 E), speed up to a type-dependent desired speed, brake for red
signals and wait there with speed exactly 0; some vehicles are parked for the whole recording.
One row per vehicle, one position every 0.04 s, each row ending with ``"; "``, as in the
published files. The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tap_pneuma.parsing import LAYOUTS, Layout

if TYPE_CHECKING:
    from collections.abc import Sequence

FRAME_S = 0.04
RECORDING_S = 840.0  # a pNEUMA file covers about 14 minutes of footage
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(37.98))
PARKED_EVERY = 25  # every 25th vehicle is parked: 4 %, and every file of 25+ vehicles has one
SIGNAL_CYCLE_S = 90.0
SIGNAL_RED_S = 40.0
DATES = ("20181024", "20181029", "20181030", "20181101")
FIRST_WINDOW_MIN = {"20181024": 8 * 60 + 30}
DEFAULT_FIRST_WINDOW_MIN = 8 * 60


@dataclass(frozen=True)
class Road:
    """A straight road between two points, with signals at fractions of its length."""

    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    signals_at: tuple[float, ...]

    @property
    def length_m(self) -> float:
        """Length in metres (equirectangular; fine at this scale)."""
        dlat_m = (self.end[0] - self.start[0]) * M_PER_DEG_LAT
        dlon_m = (self.end[1] - self.start[1]) * M_PER_DEG_LON
        return math.hypot(dlat_m, dlon_m)


# Roads roughly following real avenues of the study area (lat, lon).
ROADS = (
    Road("Alexandras Ave", (37.98930, 23.72250), (37.98720, 23.73950), (0.22, 0.48, 0.77)),
    Road("Panepistimiou St", (37.98270, 23.73550), (37.97620, 23.72630), (0.3, 0.62)),
    Road("Patision St", (37.97830, 23.72880), (37.98950, 23.73210), (0.25, 0.55, 0.85)),
    Road("Akadimias St", (37.98110, 23.73820), (37.97720, 23.72980), (0.4, 0.7)),
    Road("Stadiou St", (37.97570, 23.73470), (37.98060, 23.72700), (0.35, 0.65)),
)

# type: (share of vehicles, desired speed km/h, max acceleration m/s², comfortable braking m/s²)
VEHICLE_TYPES = {
    "Car": (0.36, 34.0, 2.2, 2.8),
    "Taxi": (0.26, 32.0, 2.0, 2.8),
    "Motorcycle": (0.24, 40.0, 3.0, 3.5),
    "Medium Vehicle": (0.07, 28.0, 1.4, 2.2),
    "Bus": (0.04, 24.0, 1.1, 1.8),
    "Heavy Vehicle": (0.03, 24.0, 0.9, 1.8),
}


@dataclass(frozen=True)
class GeneratedFile:
    """A written file and what it holds (for tests and benchmarks)."""

    path: Path
    n_vehicles: int
    n_points: int


def recording_file_name(index: int) -> str:
    """Name of the ``index``-th file: drones d1..d10, then the next 30-minute window, date."""
    drone = index % 10 + 1
    window = index // 10
    date = DATES[(window // 6) % len(DATES)]
    start_min = FIRST_WINDOW_MIN.get(date, DEFAULT_FIRST_WINDOW_MIN) + 30 * (window % 6)
    end_min = start_min + 30
    start, end = divmod(start_min, 60), divmod(end_min, 60)
    return f"{date}_d{drone}_{start[0]:02d}{start[1]:02d}_{end[0]:02d}{end[1]:02d}.csv"


def _pick_type(rng: random.Random) -> str:
    draw = rng.random()
    for vehicle_type, (share, *_rest) in VEHICLE_TYPES.items():
        draw -= share
        if draw < 0:
            return vehicle_type
    return "Car"


def _signal_is_red(signal_index: int, time_s: float) -> bool:
    offset_s = signal_index * 23.0
    return (time_s + offset_s) % SIGNAL_CYCLE_S < SIGNAL_RED_S


def _format_row(
    track_id: int,
    vehicle_type: str,
    positions: list[tuple[float, float, float, float, float, float]],
    *,
    early: bool,
) -> str:
    traveled_m = 0.0
    for before, after in itertools.pairwise(positions):
        traveled_m += math.hypot(
            (after[0] - before[0]) * M_PER_DEG_LAT, (after[1] - before[1]) * M_PER_DEG_LON
        )
    avg_speed_kmh = sum(p[2] for p in positions) / len(positions) if positions else 0.0
    head = f"{track_id}; {vehicle_type}; {traveled_m:.2f}; {avg_speed_kmh:.6f}; "
    if early:
        group = "%.6f; %.6f; %.4f; %.4f; %.4f; %.4f; "
        body = "".join(
            [
                group % (lat, lon, v, a_lon, a_lat, t * 1000.0)
                for lat, lon, v, a_lon, a_lat, t in positions
            ]
        )
    else:
        group = "%.6f; %.6f; %.4f; %.4f; %.4f; %.6f; "
        body = "".join([group % position for position in positions])
    return head + body


def _drive(
    rng: random.Random, vehicle_type: str, recording_s: float, *, parked: bool
) -> list[tuple[float, float, float, float, float, float]]:
    """Positions (lat, lon, speed km/h, lon acc, lat acc, time s) of one vehicle."""
    road_index = rng.randrange(len(ROADS))
    road = ROADS[road_index]
    length_m = road.length_m
    forward = rng.random() < 0.5
    start, end = (road.start, road.end) if forward else (road.end, road.start)
    signals = sorted((f if forward else 1.0 - f) * length_m for f in road.signals_at)
    # drive on the right: a small offset to the right of the direction of travel
    unit_lat = (end[0] - start[0]) / length_m
    unit_lon = (end[1] - start[1]) / length_m
    lane_m = rng.uniform(1.5, 5.0)
    offset_lat = -unit_lon * M_PER_DEG_LON / M_PER_DEG_LAT * lane_m
    offset_lon = unit_lat * M_PER_DEG_LAT / M_PER_DEG_LON * lane_m
    start_frame = rng.randrange(int(recording_s / FRAME_S * 0.85))
    last_frame = int(recording_s / FRAME_S)

    if parked:
        # parked: one place, speed exactly 0 for a long stretch of the recording
        s_m = rng.uniform(0.05, 0.95) * length_m
        lat = start[0] + unit_lat * s_m + offset_lat * 1.8
        lon = start[1] + unit_lon * s_m + offset_lon * 1.8
        n_frames = min(last_frame - start_frame, rng.randint(1500, 6000))
        return [(lat, lon, 0.0, 0.0, 0.0, (start_frame + i) * FRAME_S) for i in range(n_frames)]

    _share, desired_kmh, max_acc, comfort_brake = VEHICLE_TYPES[vehicle_type]
    desired_ms = desired_kmh / 3.6 * rng.uniform(0.75, 1.2)
    s_m = rng.uniform(0.0, 0.3) * length_m
    speed_ms = desired_ms * rng.uniform(0.4, 1.0)
    positions = []
    frame = start_frame
    wobble_phase = rng.uniform(0, math.tau)
    while s_m < length_m and frame <= last_frame:
        time_s = frame * FRAME_S
        next_stop_m = None
        for index, signal_m in enumerate(signals):
            if signal_m - s_m > -0.5 and _signal_is_red(road_index * 7 + index, time_s):
                next_stop_m = signal_m - s_m - 2.0
                break
            if signal_m > s_m:
                break
        if next_stop_m is not None and next_stop_m < speed_ms**2 / (2 * comfort_brake) + 8.0:
            if next_stop_m <= 0.3 or speed_ms < 0.3:
                acc = -speed_ms / FRAME_S
            else:
                acc = max(-(speed_ms**2) / (2 * next_stop_m), -3 * comfort_brake)
        else:
            acc = min(max_acc, (desired_ms - speed_ms) / 1.5)
        speed_ms = max(0.0, speed_ms + acc * FRAME_S)
        if speed_ms < 0.05:
            # waiting at a red signal: the published files hold long runs of exact zeros
            speed_ms = 0.0
        s_m += speed_ms * FRAME_S
        lateral = 0.15 * math.sin(wobble_phase + frame * 0.05)
        lat = start[0] + unit_lat * s_m + offset_lat * (1 + lateral / lane_m)
        lon = start[1] + unit_lon * s_m + offset_lon * (1 + lateral / lane_m)
        lat_acc = 0.0 if speed_ms == 0.0 else rng.gauss(0.0, 0.15)
        positions.append((lat, lon, speed_ms * 3.6, acc if speed_ms else 0.0, lat_acc, time_s))
        frame += 1
    return positions


def write_recording(
    out: TextIO,
    *,
    rng: random.Random,
    n_vehicles: int | None,
    target_points: int | None,
    layout: Layout,
) -> tuple[int, int]:
    """Write one file's header and vehicle rows; return (vehicles, positions) written."""
    early = layout is Layout.EARLY
    out.write("; ".join(LAYOUTS[layout].field_names) + "\n")
    n_written = n_points = 0
    while True:
        if n_vehicles is not None and n_written >= n_vehicles:
            break
        if n_vehicles is None and target_points is not None and n_points >= target_points:
            break
        vehicle_type = _pick_type(rng)
        parked = n_written % PARKED_EVERY == PARKED_EVERY - 1
        positions = _drive(rng, vehicle_type, RECORDING_S, parked=parked)
        if len(positions) < 2:
            continue
        n_written += 1
        n_points += len(positions)
        out.write(_format_row(n_written, vehicle_type, positions, early=early) + "\n")
        if target_points is not None and n_vehicles is not None and n_points >= target_points:
            break
    return n_written, n_points


def generate_files(
    out_dir: Path,
    *,
    n_files: int = 1,
    vehicles_per_file: int | None = 50,
    positions_per_file: int | None = None,
    seed: int = 42,
    layout: Layout = Layout.CURRENT,
    compress: bool = False,
    first_index: int = 0,
) -> list[GeneratedFile]:
    """Write ``n_files`` recordings into ``out_dir`` and describe them.

    With ``positions_per_file`` set and ``vehicles_per_file`` None, vehicles are added until the
    file holds at least that many positions; with both set, whichever is reached first stops.
    """
    if vehicles_per_file is None and positions_per_file is None:
        msg = "give vehicles_per_file, positions_per_file, or both"
        raise ValueError(msg)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(first_index, first_index + n_files):
        rng = random.Random(f"{seed}:{index}")  # noqa: S311 - synthetic data, not security
        path = out_dir / (recording_file_name(index) + (".gz" if compress else ""))
        # mtime=0 keeps gzip output byte-identical between runs
        with (
            gzip.GzipFile(path, "wb", mtime=0) if compress else path.open("wb") as binary,
            io.TextIOWrapper(binary, encoding="ascii", newline="\n") as out,
        ):
            n_vehicles, n_points = write_recording(
                out,
                rng=rng,
                n_vehicles=vehicles_per_file,
                target_points=positions_per_file,
                layout=layout,
            )
        written.append(GeneratedFile(path, n_vehicles, n_points))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point of ``pneuma-generate``."""
    parser = argparse.ArgumentParser(
        prog="pneuma-generate",
        description="Write deterministic, realistic pNEUMA-layout files "
        "(YYYYMMDD_dN_HHMM_HHMM.csv).",
    )
    parser.add_argument("out_dir", type=Path, help="directory to write into (created if missing)")
    parser.add_argument("--files", type=int, default=1, help="number of files (default 1)")
    parser.add_argument(
        "--vehicles",
        type=int,
        default=None,
        help="vehicles per file (default 50 unless --positions)",
    )
    parser.add_argument(
        "--positions",
        type=int,
        default=None,
        help="add vehicles until a file holds this many positions",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--early", action="store_true", help="early 'sample dataset' header, time in ms"
    )
    parser.add_argument("--gzip", action="store_true", help="write .csv.gz")
    parser.add_argument(
        "--first-index", type=int, default=0, help="index of the first file name (default 0)"
    )
    args = parser.parse_args(argv)
    vehicles = args.vehicles if args.vehicles is not None or args.positions else 50
    for generated in generate_files(
        args.out_dir,
        n_files=args.files,
        vehicles_per_file=vehicles,
        positions_per_file=args.positions,
        seed=args.seed,
        layout=Layout.EARLY if args.early else Layout.CURRENT,
        compress=args.gzip,
        first_index=args.first_index,
    ):
        sys.stdout.write(
            f"{generated.path}\t{generated.n_vehicles} vehicles\t{generated.n_points} positions\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
