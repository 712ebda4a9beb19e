"""Virtual detectors end to end: known straight drives across known detectors at known speeds.

The files are written here, in the pNEUMA layout: each vehicle drives straight legs at a constant
speed, one position every 0.04 s. The expected crossings are computed here too, from the legs
themselves (where a leg's continuous path meets a detector segment, and when, at that leg's
speed), never from the written positions or from the warehouse; so are the counts per bin, the
speeds, the headways and the travel times. The detectors live in a copy of `transform/` whose
seed the test writes, so the project's own seed is never touched.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import shutil
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import yaml

if TYPE_CHECKING:
    from conftest import MeltanoProject

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_VARS = yaml.safe_load((PROJECT_ROOT / "transform" / "dbt_project.yml").read_text())["vars"]
FRAME_S = 0.04
HEADER = "track_id; type; traveled_d; avg_speed; lat; lon; speed; lon_acc; lat_acc; time\n"
# a point of the study area, and metres per degree there on the warehouse's sphere
ORIGIN = (37.975, 23.735)
M_PER_DEG_LAT = math.pi / 180 * float(DBT_VARS["earth_radius_m"])
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(ORIGIN[0]))
# positions are written with 6 decimals (~0.09 m): a crossing found between two of them is off
# the continuous path's by at most that over the speed
TIME_TOLERANCE_S = 0.01
LENGTH_TOLERANCE_M = 0.15
RECORDINGS = ("20181024_d1_0830_0900", "20181024_d2_0830_0900")


def at(x_m: float, y_m: float) -> tuple[float, float]:
    """(lat, lon) x metres east and y metres north of ORIGIN, on the files' 6-decimal grid."""
    return round(ORIGIN[0] + y_m / M_PER_DEG_LAT, 6), round(ORIGIN[1] + x_m / M_PER_DEG_LON, 6)


def plane(point: tuple[float, float]) -> tuple[float, float]:
    """(east, north) metres from ORIGIN of a (lat, lon): an affine map, so lines stay lines."""
    return (point[1] - ORIGIN[1]) * M_PER_DEG_LON, (point[0] - ORIGIN[0]) * M_PER_DEG_LAT


@dataclass(frozen=True)
class Detector:
    """A row of the seed: a straight segment from start to end, (lat, lon)."""

    detector_id: str
    start: tuple[float, float]
    end: tuple[float, float]


@dataclass(frozen=True)
class Leg:
    """A straight stretch driven at a constant speed."""

    start: tuple[float, float]
    end: tuple[float, float]
    speed_kmh: float

    @property
    def length_m(self) -> float:
        """Length in metres (in the plane about ORIGIN)."""
        (x1, y1), (x2, y2) = plane(self.start), plane(self.end)
        return math.hypot(x2 - x1, y2 - y1)

    @property
    def duration_s(self) -> float:
        """Seconds it takes at its speed."""
        return self.length_m / (self.speed_kmh / 3.6)


@dataclass(frozen=True)
class Drive:
    """A vehicle of a recording: its legs, one after the other, from a start time."""

    recording_id: str
    track_id: int
    vehicle_type: str
    start_time_s: float
    legs: tuple[Leg, ...]

    def positions(self) -> list[tuple[float, float, float, float]]:
        """(lat, lon, speed km/h, time s) every frame, from the first leg's start to the end."""
        total_s = sum(leg.duration_s for leg in self.legs)
        rows = []
        for frame in range(int(total_s / FRAME_S) + 1):
            elapsed_s = frame * FRAME_S
            for leg in self.legs:
                if elapsed_s <= leg.duration_s or leg is self.legs[-1]:
                    share = min(elapsed_s / leg.duration_s, 1.0)
                    lat = leg.start[0] + share * (leg.end[0] - leg.start[0])
                    lon = leg.start[1] + share * (leg.end[1] - leg.start[1])
                    rows.append((lat, lon, leg.speed_kmh, self.start_time_s + frame * FRAME_S))
                    break
                elapsed_s -= leg.duration_s
        return rows


@dataclass(frozen=True)
class Crossing:
    """Where and when a drive's continuous path crosses a detector."""

    detector_id: str
    recording_id: str
    track_id: int
    vehicle_type: str
    direction: int
    time_s: float
    speed_kmh: float
    path_distance_m: float  # from the drive's start, along its legs


def cross(origin: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - origin[0]) * (b[1] - origin[1]) - (a[1] - origin[1]) * (b[0] - origin[0])


def expected_crossings(drives: list[Drive], detectors: list[Detector]) -> list[Crossing]:
    """Where each leg's straight path meets a detector segment (a textbook segment intersection)."""
    found = []
    for drive in drives:
        leg_start_s, leg_start_m = drive.start_time_s, 0.0
        for leg in drive.legs:
            p, q = plane(leg.start), plane(leg.end)
            for detector in detectors:
                a, b = plane(detector.start), plane(detector.end)
                denominator = cross((0, 0), (q[0] - p[0], q[1] - p[1]), (b[0] - a[0], b[1] - a[1]))
                if denominator == 0:
                    continue  # parallel
                along_leg = cross(p, a, b) / denominator
                along_detector = cross(p, a, q) / denominator
                if 0 <= along_leg <= 1 and 0 <= along_detector <= 1:
                    # seen from the detector's start towards its end, the leg starts on its left
                    direction = 1 if cross(a, b, p) > 0 else -1
                    found.append(
                        Crossing(
                            detector.detector_id,
                            drive.recording_id,
                            drive.track_id,
                            drive.vehicle_type,
                            direction,
                            leg_start_s + along_leg * leg.duration_s,
                            leg.speed_kmh,
                            leg_start_m + along_leg * leg.length_m,
                        )
                    )
            leg_start_s += leg.duration_s
            leg_start_m += leg.length_m
    return found


def write_recording(directory: Path, recording_id: str, drives: list[Drive]) -> Path:
    """The pNEUMA-layout file of one recording's drives."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for drive in (d for d in drives if d.recording_id == recording_id):
        positions = drive.positions()
        length_m = sum(leg.length_m for leg in drive.legs)
        mean_kmh = statistics.fmean(speed for _, _, speed, _ in positions)
        body = "".join(
            f"{lat:.6f}; {lon:.6f}; {speed:.4f}; 0.0000; 0.0000; {time_s:.6f}; "
            for lat, lon, speed, time_s in positions
        )
        lines.append(
            f"{drive.track_id}; {drive.vehicle_type}; {length_m:.2f}; {mean_kmh:.6f}; {body}\n"
        )
    path = directory / f"{recording_id}.csv"
    path.write_text("".join(lines), encoding="ascii")
    return path


def write_seed(transform_dir: Path, detectors: list[Detector]) -> None:
    with (transform_dir / "seeds" / "virtual_detectors.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["detector_id", "name", "start_lat", "start_lon", "end_lat", "end_lon"])
        for detector in detectors:
            writer.writerow(
                [detector.detector_id, detector.detector_id, *detector.start, *detector.end]
            )


# Two north-south detectors across an east-west road, drawn in opposite senses, and a diagonal
# one across a north-south road. They span 20 m either side of the roads' centre lines.
WEST = Detector("west", at(-100, -20), at(-100, 20))  # drawn northwards: eastbound is +1
EAST = Detector("east", at(100, 20), at(100, -20))  # drawn southwards: eastbound is -1
DIAGONAL = Detector("diagonal", at(-20, 180), at(20, 220))
DETECTORS = [WEST, EAST, DIAGONAL]

R1, R2 = RECORDINGS
DRIVES = [
    # across west and east, then on: two travel times' worth of crossings
    Drive(R1, 1, "Car", 5.0, (Leg(at(-200, 0), at(200, 0), 36.0),)),
    Drive(R1, 2, "Car", 20.0, (Leg(at(-200, -10), at(200, -10), 45.0),)),
    Drive(R1, 3, "Taxi", 50.0, (Leg(at(200, 10), at(-200, 10), 54.0),)),
    # beside the detectors: 30 m north of the road's centre, past their ends
    Drive(R1, 4, "Motorcycle", 0.0, (Leg(at(-200, 30), at(200, 30), 40.0),)),
    # across the diagonal, northbound
    Drive(R1, 5, "Bus", 100.0, (Leg(at(0, 100), at(0, 300), 28.8),)),
    # beside the diagonal: its line, not the segment, lies on this path
    Drive(R1, 6, "Heavy Vehicle", 90.0, (Leg(at(25, 100), at(25, 300), 25.2),)),
    # parallel to west, 5 m east of it, along its whole length
    Drive(R1, 7, "Medium Vehicle", 30.0, (Leg(at(-95, -40), at(-95, 40), 18.0),)),
    # across west, a U-turn 50 m on, back across west: two crossings, no travel time
    Drive(
        R2,
        1,
        "Car",
        0.0,
        (Leg(at(-150, -5), at(-50, -5), 36.0), Leg(at(-50, -5), at(-150, -5), 30.6)),
    ),
    # across west and east at 72 km/h, in the second minute
    Drive(R2, 2, "Car", 61.0, (Leg(at(-200, -5), at(200, -5), 72.0),)),
]


def recording_start(recording_id: str) -> datetime:
    date, _drone, start, _end = recording_id.split("_")
    local = datetime.strptime(date + start, "%Y%m%d%H%M").replace(
        tzinfo=ZoneInfo(DBT_VARS["local_time_zone"])
    )
    return local.astimezone(UTC)


def check_crossings(project: MeltanoProject, expected: list[Crossing]) -> None:
    rows = project.query(
        "select detector_id, recording_id, track_id, vehicle_type, direction, time_s, speed_kmh,"
        " crossed_at from analytics_marts.fct_detector_crossings"
        " order by recording_id, track_id, time_s"
    )
    expected = sorted(expected, key=lambda c: (c.recording_id, c.track_id, c.time_s))
    assert [row[:5] for row in rows] == [
        (c.detector_id, c.recording_id, c.track_id, c.vehicle_type, c.direction) for c in expected
    ]
    for row, crossing in zip(rows, expected, strict=True):
        _, recording_id, _, _, _, time_s, speed_kmh, crossed_at = row
        assert time_s == pytest.approx(crossing.time_s, abs=TIME_TOLERANCE_S), crossing
        assert speed_kmh == pytest.approx(crossing.speed_kmh, abs=1e-4), crossing
        # both from the same interpolation, each rounded to the microsecond
        nominal = recording_start(recording_id) + timedelta(seconds=time_s)
        assert abs(crossed_at - nominal) <= timedelta(microseconds=2), crossing


def check_flow(project: MeltanoProject, expected: list[Crossing]) -> None:
    bin_s = float(DBT_VARS["time_bin_s"])
    groups: dict[tuple, list[Crossing]] = defaultdict(list)
    for crossing in expected:
        key = (
            crossing.detector_id,
            crossing.recording_id,
            math.floor(crossing.time_s / bin_s),
            crossing.direction,
            crossing.vehicle_type,
        )
        groups[key].append(crossing)
    rows = project.query(
        "select detector_id, recording_id, time_bin_index, direction, vehicle_type, vehicles,"
        " flow_veh_per_h, time_mean_speed_kmh, space_mean_speed_kmh, mean_headway_s"
        " from analytics_marts.agg_detector_flow"
    )
    assert {row[:5] for row in rows} == set(groups)
    for *key, vehicles, flow, time_mean, space_mean, headway in rows:
        group = sorted(groups[tuple(key)], key=lambda c: c.time_s)
        speeds = [c.speed_kmh for c in group]
        assert vehicles == len(group), key
        assert flow == pytest.approx(len(group) * 3600 / bin_s), key
        assert time_mean == pytest.approx(statistics.fmean(speeds), abs=1e-3), key
        assert space_mean == pytest.approx(statistics.harmonic_mean(speeds), abs=1e-3), key
        if len(group) == 1:
            assert headway is None, key
        else:
            gaps = [b.time_s - a.time_s for a, b in itertools.pairwise(group)]
            assert headway == pytest.approx(statistics.fmean(gaps), abs=TIME_TOLERANCE_S), key


def check_travel_times(project: MeltanoProject, expected: list[Crossing]) -> None:
    legs = {}
    by_vehicle = defaultdict(list)
    for crossing in expected:
        by_vehicle[crossing.recording_id, crossing.track_id].append(crossing)
    for crossings in by_vehicle.values():
        ordered = sorted(crossings, key=lambda c: c.time_s)
        for a, b in itertools.pairwise(ordered):
            if a.detector_id != b.detector_id:
                key = (a.recording_id, a.track_id, a.detector_id, b.detector_id)
                legs[key] = (b.time_s - a.time_s, b.path_distance_m - a.path_distance_m)
    rows = project.query(
        "select recording_id, track_id, from_detector_id, to_detector_id, travel_time_s,"
        " path_length_m from analytics_marts.fct_detector_travel_times"
    )
    assert {row[:4] for row in rows} == set(legs)
    for *key, travel_time_s, path_length_m in rows:
        expected_s, expected_m = legs[tuple(key)]
        assert travel_time_s == pytest.approx(expected_s, abs=2 * TIME_TOLERANCE_S), key
        assert path_length_m == pytest.approx(expected_m, abs=LENGTH_TOLERANCE_M), key


def test_detectors_count_known_drives_and_follow_the_seed(
    meltano_project: MeltanoProject, tmp_path: Path
) -> None:
    transform_dir = tmp_path / "transform"
    shutil.copytree(
        PROJECT_ROOT / "transform", transform_dir, ignore=shutil.ignore_patterns("target", "logs")
    )
    write_seed(transform_dir, DETECTORS)
    paths = [write_recording(tmp_path / "in", recording_id, DRIVES) for recording_id in RECORDINGS]
    meltano_project.files = [str(path) for path in paths]
    meltano_project.extra_env["DBT_POSTGRES_PROJECT_DIR"] = str(transform_dir)

    meltano_project.run_ok("run", "pneuma-elt")

    expected = expected_crossings(DRIVES, DETECTORS)
    # the design: every detector crossed, in both directions, twice by one vehicle
    assert {c.detector_id for c in expected} == {"west", "east", "diagonal"}
    assert {c.direction for c in expected} == {1, -1}
    assert not {c.track_id for c in expected if c.recording_id == R1} & {4, 6, 7}
    check_crossings(meltano_project, expected)
    check_flow(meltano_project, expected)
    check_travel_times(meltano_project, expected)

    # one recording changes (a vehicle more): only it is rebuilt in the detector models
    published_before = published_by(meltano_project)
    drives = [*DRIVES, Drive(R2, 3, "Taxi", 200.0, (Leg(at(200, 5), at(-200, 5), 50.4),))]
    changed = write_recording(tmp_path / "in", R2, drives)
    stat = changed.stat()
    os.utime(changed, (stat.st_atime + 60, stat.st_mtime + 60))
    meltano_project.run_ok("run", "pneuma-elt")
    published_after = published_by(meltano_project)
    for model in DETECTOR_MARTS:
        assert published_after[model, R1] == published_before[model, R1], model
        assert published_after[model, R2] != published_before[model, R2], model
    expected = expected_crossings(drives, DETECTORS)
    check_crossings(meltano_project, expected)
    check_travel_times(meltano_project, expected)

    # a detector moved and one added: the next build redoes every recording's detector rows
    # from the points it already holds
    published_before = published_after
    moved = [Detector("west", at(-60, -20), at(-60, 20)), EAST, DIAGONAL]
    added = [*moved, Detector("centre", at(0, 20), at(0, -20))]
    write_seed(transform_dir, added)
    output = meltano_project.run_ok("invoke", "dbt-postgres:build")
    assert "fct_detector_crossings: building 2 recording(s)" in output
    assert "fct_trajectory_points_packed: building 0 recording(s)" in output
    published_after = published_by(meltano_project)
    for (model, recording_id), run in published_after.items():
        if model in DETECTOR_MARTS:
            assert run != published_before[model, recording_id], (model, recording_id)
        else:
            assert run == published_before[model, recording_id], (model, recording_id)
    expected = expected_crossings(drives, added)
    assert {c.detector_id for c in expected} >= {"west", "centre"}
    check_crossings(meltano_project, expected)
    check_flow(meltano_project, expected)
    check_travel_times(meltano_project, expected)

    # nothing changed: no detector mart rebuilds a recording
    output = meltano_project.run_ok("invoke", "dbt-postgres:build")
    for model in DETECTOR_MARTS:
        assert f"{model}: building 0 recording(s)" in output, model
    assert published_by(meltano_project) == published_after


DETECTOR_MARTS = ("fct_detector_crossings", "agg_detector_flow", "fct_detector_travel_times")


def published_by(project: MeltanoProject) -> dict[tuple[str, str], str]:
    """The run that published each (model, recording) of every partitioned mart."""
    rows = project.query(
        "select publications.model_name, recording_keys.recording_id, publications.published_by"
        " from analytics_storage.recording_publications as publications"
        " inner join analytics_storage.recording_keys as recording_keys"
        " on publications.recording_key = recording_keys.recording_key"
    )
    return {(model, recording_id): run for model, recording_id, run in rows}
