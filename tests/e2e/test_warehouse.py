"""`meltano run pneuma-elt` into a real embedded PostgreSQL 18, then the marts checked.

Expected values are computed here, in Python, from the same generated files: the rows are split
by hand, distances use the haversine formula on the earth radius that `transform/dbt_project.yml`
declares, and stops are found by a plain loop with the thresholds declared there. Nothing is read
back from the warehouse to build an expectation.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import yaml
from raw_tables import PROJECT_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import MeltanoProject

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DBT_VARS = yaml.safe_load((PROJECT_ROOT / "transform" / "dbt_project.yml").read_text())["vars"]
ELT = ("run", "pneuma-elt")
FIXED_FIELDS = 4
FIELDS_PER_POSITION = 6
# File names that break SQL built by pasting text, and names outside ASCII.
ODD_NAMES = (
    "it's; a test",
    "x'); drop table analytics_marts.dim_vehicles; --",
    "Αθήνα πλατεία 1",
)
# the warehouse rounds each step to the millimetre
STEP_ROUNDING_M = 0.0005


@dataclass
class Vehicle:
    """One row of a pNEUMA file, parsed independently of the tap."""

    recording_id: str
    track_id: int
    vehicle_type: str
    time_s: list[float]
    lat: list[float]
    lon: list[float]
    speed_kmh: list[float]


def read_vehicles(path: Path) -> list[Vehicle]:
    """Every vehicle of a generated (current-layout, plain CSV) pNEUMA file."""
    recording_id = path.name.split(".")[0]
    vehicles = []
    with path.open(encoding="ascii") as handle:
        next(handle)  # header
        for line in handle:
            fields = [field.strip() for field in line.rstrip().rstrip(";").split(";")]
            values = [float(value) for value in fields[FIXED_FIELDS:]]
            assert len(values) % FIELDS_PER_POSITION == 0, f"{path.name}: malformed row"
            vehicles.append(
                Vehicle(
                    recording_id=recording_id,
                    track_id=int(fields[0]),
                    vehicle_type=fields[1],
                    lat=values[0::6],
                    lon=values[1::6],
                    speed_kmh=values[2::6],
                    time_s=values[5::6],
                )
            )
    return vehicles


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the sphere the warehouse uses."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * float(DBT_VARS["earth_radius_m"]) * math.asin(math.sqrt(a))


def path_length_m(vehicle: Vehicle) -> float:
    """Sum of the distances between consecutive positions."""
    points = list(zip(vehicle.lat, vehicle.lon, strict=True))
    return sum(haversine_m(*a, *b) for a, b in itertools.pairwise(points))


def stops(vehicle: Vehicle) -> list[tuple[int, int]]:
    """(first, last) frame of each run of slow frames lasting the minimum duration."""
    threshold_kmh = float(DBT_VARS["stop_speed_threshold_kmh"])
    min_duration_s = float(DBT_VARS["stop_min_duration_s"])
    runs, start = [], None
    for frame, speed in enumerate([*vehicle.speed_kmh, math.inf]):
        if speed < threshold_kmh and start is None:
            start = frame
        elif speed >= threshold_kmh and start is not None:
            runs.append((start, frame - 1))
            start = None
    return [
        (first, last)
        for first, last in runs
        if round(vehicle.time_s[last] - vehicle.time_s[first], 3) >= min_duration_s
    ]


def recording_start(recording_id: str) -> datetime:
    """The window start in the file name (YYYYMMDD_dN_HHMM_HHMM), Europe/Athens."""
    date, _drone, start, _end = recording_id.split("_")
    local = datetime.strptime(date + start, "%Y%m%d%H%M").replace(
        tzinfo=ZoneInfo(DBT_VARS["local_time_zone"])
    )
    return local.astimezone(UTC)


@pytest.fixture
def loaded(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> tuple[MeltanoProject, list[Path]]:
    """Two generated recordings, run through the whole pipeline once."""
    paths = generate_files(tmp_path / "in", "--files", "2", "--vehicles", "12", "--seed", "8")
    meltano_project.files = [str(tmp_path / "in")]
    meltano_project.run_ok(*ELT)
    return meltano_project, paths


def test_marts_match_the_files(loaded: tuple[MeltanoProject, list[Path]]) -> None:
    project, paths = loaded
    vehicles = [vehicle for path in paths for vehicle in read_vehicles(path)]

    by_type = Counter(vehicle.vehicle_type for vehicle in vehicles)
    assert dict(
        project.query("select vehicle_type, count(*) from analytics_marts.dim_vehicles group by 1")
    ) == dict(by_type)

    positions = Counter()
    for vehicle in vehicles:
        positions[vehicle.recording_id] += len(vehicle.time_s)
    assert dict(
        project.query("select recording_id, n_positions from analytics_marts.dim_recordings")
    ) == dict(positions)
    assert dict(
        project.query(
            "select recording_id, count(*) from analytics_marts.fct_trajectory_points group by 1"
        )
    ) == dict(positions)

    trips = {
        (recording_id, track_id): (length_m, n_positions)
        for recording_id, track_id, length_m, n_positions in project.query(
            "select recording_id, track_id, path_length_m, n_positions"
            " from analytics_marts.fct_vehicle_trips"
        )
    }
    assert len(trips) == len(vehicles)
    for vehicle in vehicles:
        length_m, n_positions = trips[vehicle.recording_id, vehicle.track_id]
        assert n_positions == len(vehicle.time_s)
        assert length_m == pytest.approx(
            path_length_m(vehicle), abs=STEP_ROUNDING_M * len(vehicle.time_s) + 1e-6
        )


def test_one_vehicles_stops_and_timestamps(loaded: tuple[MeltanoProject, list[Path]]) -> None:
    project, paths = loaded
    vehicles = [vehicle for path in paths for vehicle in read_vehicles(path)]
    # the generator's vehicles wait at red signals: pick the one with the most stops
    vehicle = max(vehicles, key=lambda candidate: len(stops(candidate)))
    expected = stops(vehicle)
    assert expected, "the generated files should hold at least one stop"

    rows = project.query(
        "select start_frame_index, end_frame_index, started_at, ended_at"
        " from analytics_marts.fct_stop_events where recording_id = %s and track_id = %s"
        " order by stop_number",
        (vehicle.recording_id, vehicle.track_id),
    )
    assert [(first, last) for first, last, _, _ in rows] == expected
    start = recording_start(vehicle.recording_id)
    for (first, last), (_, _, started_at, ended_at) in zip(expected, rows, strict=True):
        assert started_at == start + timedelta(seconds=vehicle.time_s[first])
        assert ended_at == start + timedelta(seconds=vehicle.time_s[last])

    n_stops, total_stop_time_s = project.query(
        "select n_stops, total_stop_time_s from analytics_marts.fct_vehicle_trips"
        " where recording_id = %s and track_id = %s",
        (vehicle.recording_id, vehicle.track_id),
    )[0]
    assert n_stops == len(expected)
    assert total_stop_time_s == pytest.approx(
        sum(vehicle.time_s[last] - vehicle.time_s[first] for first, last in expected), abs=1e-3
    )


def test_traffic_grid_accounts_for_every_position_and_second(
    loaded: tuple[MeltanoProject, list[Path]],
) -> None:
    project, paths = loaded
    vehicles = [vehicle for path in paths for vehicle in read_vehicles(path)]
    positions, seconds = Counter(), Counter()
    for vehicle in vehicles:
        positions[vehicle.recording_id, vehicle.vehicle_type] += len(vehicle.time_s)
        key = (vehicle.recording_id, vehicle.vehicle_type)
        seconds[key] += vehicle.time_s[-1] - vehicle.time_s[0]

    rows = project.query(
        "select recording_id, vehicle_type, sum(n_positions), sum(total_time_s)"
        " from analytics_marts.agg_traffic_grid group by 1, 2"
    )
    assert {(r, t): n for r, t, n, _ in rows} == dict(positions)
    for recording_id, vehicle_type, _, total_time_s in rows:
        assert total_time_s == pytest.approx(seconds[recording_id, vehicle_type], abs=1e-3)


def defined_unit_tests() -> set[str]:
    """The names of the unit tests written in the dbt project's yml files."""
    return {
        unit_test["name"]
        for path in (PROJECT_ROOT / "transform" / "models").rglob("*.yml")
        for unit_test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    }


def test_unit_tests_run_apart_from_the_builds(loaded: tuple[MeltanoProject, list[Path]]) -> None:
    """The jobs' builds run no unit test; `dbt-postgres:unit_test` runs every one, and all pass."""
    project, _ = loaded
    build = project.run_ok("invoke", "dbt-postgres:build")
    assert "START unit_test" not in build
    unit_tests = project.run_ok("invoke", "dbt-postgres:unit_test")
    passed = set(re.findall(r"PASS \w+::(\w+)", unit_tests))
    assert passed, f"no unit test passed:\n{unit_tests[-3000:]}"
    assert passed == defined_unit_tests()


def test_rerun_rebuilds_only_the_changed_recording(
    loaded: tuple[MeltanoProject, list[Path]],
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    project, paths = loaded
    # xmin is the transaction that wrote a row: unchanged partitions keep theirs
    xmin_sql = (
        "select recording_id, min(points.xmin::text::bigint), max(points.xmin::text::bigint),"
        " count(*) from analytics_storage.fct_trajectory_points_packed__by_recording as points"
        " inner join analytics_storage.recording_keys using (recording_key) group by 1 order by 1"
    )
    before = {row[0]: row[1:] for row in project.query(xmin_sql)}

    # the same file name with other content (another seed) and a newer modification time
    changed = paths[0]
    replacement = generate_files(
        tmp_path / "other", "--files", "1", "--vehicles", "5", "--seed", "9"
    )
    changed.write_bytes(replacement[0].read_bytes())
    stat = changed.stat()
    os.utime(changed, (stat.st_atime + 60, stat.st_mtime + 60))
    project.run_ok(*ELT)

    after = {row[0]: row[1:] for row in project.query(xmin_sql)}
    unchanged_id = paths[1].name.split(".")[0]
    changed_id = changed.name.split(".")[0]
    assert after[unchanged_id] == before[unchanged_id]
    assert after[changed_id][0] > before[changed_id][1]
    new_vehicles = read_vehicles(changed)
    assert after[changed_id][2] == sum(len(vehicle.time_s) for vehicle in new_vehicles)
    assert project.query(
        "select count(*) from analytics_marts.fct_vehicle_trips where recording_id = %s",
        (changed_id,),
    ) == [(len(new_vehicles),)]
    assert project.query(
        "select count(*) from analytics_marts.fct_stop_events where recording_id = %s"
        " and track_id > %s",
        (changed_id, len(new_vehicles)),
    ) == [(0,)]


def test_both_shards_replace_their_published_points_at_once(
    loaded: tuple[MeltanoProject, list[Path]],
) -> None:
    """A full refresh rebuilds one recording in each shard of the points, on dbt's two threads.

    Each replaces a published partition of the one storage (the case in which two shards that
    locked the parent while writing deadlocked); the marts still hold exactly the files.
    """
    project, paths = loaded
    output = project.run_ok("invoke", "dbt-postgres:full_refresh")
    assert "fct_trajectory_points_packed: building 1 recording(s)" in output
    assert "fct_trajectory_points_packed__shard_1: building 1 recording(s)" in output
    positions = {path.name.split(".")[0]: positions_in(path) for path in paths}
    visible = project.query(
        "select recording_id, count(*) from analytics_marts.fct_trajectory_points group by 1"
    )
    assert dict(visible) == positions
    assert project.query(
        "select model_name, count(*) from analytics_storage.recording_publications"
        " where starts_with(model_name, 'fct_trajectory_points') and quality_status = 'published'"
        " group by 1"
    ) == [("fct_trajectory_points_packed", 2)]
    assert {
        status
        for (status,) in project.query("select quality_status from analytics_marts.dim_recordings")
    } == {"published"}


def with_bad_speed(source: Path, target: Path) -> Path:
    """`target` with the rows of `source`, its first position's speed impossible (999 km/h)."""
    header, first_row, *other_rows = source.read_text(encoding="ascii").splitlines(keepends=True)
    fields = first_row.split("; ")
    fields[FIXED_FIELDS + 2] = "999.0000"
    target.write_text("".join([header, "; ".join(fields), *other_rows]), encoding="ascii")
    return target


def positions_in(path: Path) -> int:
    return sum(len(vehicle.time_s) for vehicle in read_vehicles(path))


def test_a_failing_recording_is_quarantined_and_the_others_published(
    loaded: tuple[MeltanoProject, list[Path]],
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    project, paths = loaded
    changed, unchanged = paths
    changed_id, unchanged_id = (path.name.split(".")[0] for path in paths)
    published_before = positions_in(changed)
    # a new version of one recording with an impossible speed, and a new good recording
    (replacement,) = generate_files(
        tmp_path / "other", "--files", "1", "--vehicles", "5", "--seed", "9"
    )
    with_bad_speed(replacement, changed)
    stat = changed.stat()
    os.utime(changed, (stat.st_atime + 60, stat.st_mtime + 60))
    # new recordings with names that break SQL built by pasting text, one with a position
    # outside the study area (a warning: published)
    added_dir = tmp_path / "added"
    added_dir.mkdir()
    added = {}
    generated = generate_files(tmp_path / "gen", "--files", "3", "--vehicles", "2", "--seed", "3")
    for name, path in zip(ODD_NAMES, generated, strict=True):
        added[name] = (path.read_bytes(), positions_in(path))
        (added_dir / f"{name}.csv").write_bytes(added[name][0])
    outside_area = added_dir / f"{ODD_NAMES[0]}.csv"
    header, first_row, *other_rows = outside_area.read_text(encoding="utf-8").splitlines(
        keepends=True
    )
    fields = first_row.split("; ")
    fields[FIXED_FIELDS] = "38.100000"  # the first position's latitude, 11 km north
    outside_area.write_text("".join([header, "; ".join(fields), *other_rows]), encoding="utf-8")
    project.files = [str(changed.parent), str(added_dir)]

    result = project.run(*ELT)

    # the run fails, naming the recording and the audit
    assert result.returncode != 0
    assert (
        f'QUARANTINED recording "{changed_id}" in fct_trajectory_points_packed: failed audits'
        " speed_kmh_within_0_and_max_speed_kmh (1 rows, error)"
    ) in result.stdout
    assert "FAIL 1 assert_every_recording_is_published" in result.stdout
    status = {
        recording_id: (quality_status, failed_audits)
        for recording_id, quality_status, failed_audits in project.query(
            "select recording_id, quality_status, failed_audits from analytics_marts.dim_recordings"
        )
    }
    assert status[unchanged_id] == ("published", [])
    for name in ODD_NAMES[1:]:
        assert status[name] == ("published", [])
    assert status[ODD_NAMES[0]][0] == "published"
    assert [finding["audit"] for finding in status[ODD_NAMES[0]][1]] == ["within_study_area"]
    assert f'"{ODD_NAMES[0]}" in fct_trajectory_points_packed with warnings' in result.stdout
    assert status[changed_id] == (
        "quarantined",
        [
            {
                "audit": "speed_kmh_within_0_and_max_speed_kmh",
                "failing_rows": 1,
                "severity": "error",
                "model": "fct_trajectory_points_packed",
            }
        ],
    )
    # the earlier version of the quarantined recording stays published in every mart
    counts = dict(
        project.query(
            "select recording_id, count(*) from analytics_marts.fct_trajectory_points group by 1"
        )
    )
    assert counts == {
        changed_id: published_before,
        unchanged_id: positions_in(unchanged),
        **{name: n_positions for name, (_, n_positions) in added.items()},
    }
    trips = dict(
        project.query(
            "select recording_id, count(*) from analytics_marts.fct_vehicle_trips group by 1"
        )
    )
    assert trips == {changed_id: 12, unchanged_id: 12, **dict.fromkeys(ODD_NAMES, 2)}
    assert project.query(
        "select count(*) from analytics_marts.fct_trajectory_points where speed_kmh > %s",
        (DBT_VARS["max_speed_kmh"],),
    ) == [(0,)]

    # unchanged input: the quarantined version is not rebuilt, the run still says why it fails
    result = project.run(*ELT)
    assert result.returncode != 0
    assert "fct_trajectory_points_packed: building 0 recording(s)" in result.stdout
    assert "FAIL 1 assert_every_recording_is_published" in result.stdout


def test_a_new_recording_failing_an_audit_is_not_published(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    (path,) = generate_files(tmp_path / "in", "--files", "1", "--vehicles", "3", "--seed", "4")
    with_bad_speed(path, path)
    meltano_project.files = [str(path)]

    result = meltano_project.run(*ELT)

    assert result.returncode != 0
    assert "speed_kmh_within_0_and_max_speed_kmh" in result.stdout
    # the marts exist, empty of the recording; dim_recordings says why
    assert meltano_project.query(
        "select (select count(*) from analytics_marts.fct_trajectory_points),"
        " (select count(*) from analytics_marts.fct_vehicle_trips),"
        " (select count(*) from analytics_marts.agg_traffic_grid),"
        " (select quality_status from analytics_marts.dim_recordings)"
    ) == [(0, 0, 0, "quarantined")]


def test_real_sample_builds_on_the_epoch_timeline(
    samples_dir: Path, meltano_project: MeltanoProject
) -> None:
    sample = samples_dir / "sample.csv"
    vehicles = read_vehicles(sample)
    meltano_project.files = [str(sample)]

    # every data test passes on real data, or the circuit breaker fails the run
    meltano_project.run_ok(*ELT)

    assert meltano_project.query(
        "select recording_id, has_nominal_start, recording_start_at, timeline_origin_at,"
        " n_vehicles, n_positions from analytics_marts.dim_recordings"
    ) == [("sample", False, None, EPOCH, len(vehicles), sum(len(v.time_s) for v in vehicles))]
    assert dict(
        meltano_project.query(
            "select vehicle_type, count(*) from analytics_marts.dim_vehicles group by 1"
        )
    ) == dict(Counter(vehicle.vehicle_type for vehicle in vehicles))
    trips = dict(
        meltano_project.query(
            "select track_id, path_length_m from analytics_marts.fct_vehicle_trips"
        )
    )
    for vehicle in vehicles:
        assert trips[vehicle.track_id] == pytest.approx(
            path_length_m(vehicle), abs=STEP_ROUNDING_M * len(vehicle.time_s) + 1e-6
        )
    first_seen = min(min(vehicle.time_s) for vehicle in vehicles)
    assert meltano_project.query(
        "select min(observed_at) from analytics_marts.fct_trajectory_points"
    ) == [(EPOCH + timedelta(seconds=first_seen),)]
