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


def test_rerun_rebuilds_only_the_changed_recording(
    loaded: tuple[MeltanoProject, list[Path]],
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    project, paths = loaded
    # xmin is the transaction that wrote a row: unchanged rows keep theirs
    xmin_sql = (
        "select recording_id, min(xmin::text::bigint), max(xmin::text::bigint), count(*)"
        " from analytics_marts.fct_trajectory_points group by 1 order by 1"
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


def test_data_tests_check_only_the_rows_this_run_wrote(
    loaded: tuple[MeltanoProject, list[Path]],
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    project, paths = loaded
    speed_test = "within_range_fct_trajectory_points_speed_kmh"
    unchanged_id = paths[1].name.split(".")[0]
    # an old row goes bad behind dbt's back: no run writes it again
    project.query(
        "update analytics_marts.fct_trajectory_points set speed_kmh = 999"
        " where recording_id = %s and track_id = 1 and frame_index = 0 returning 1",
        (unchanged_id,),
    )
    written_by = "select distinct dbt_invocation_id from analytics_marts.fct_trajectory_points"
    (first_run,) = project.query(written_by)

    # nothing changed: the run writes no rows, so its tests (the reconciliation with the raw
    # arrays included) check none and pass
    project.run_ok(*ELT)
    assert project.query(written_by) == [first_run]

    # test_all_rows tests the whole tables and finds the old row
    result = project.run("invoke", "dbt-postgres:build", "--vars", "{test_all_rows: true}")
    assert result.returncode != 0
    assert f"FAIL 1 {speed_test}" in result.stdout
    # and so does a plain `dbt test`: it writes nothing, so it tests everything
    result = project.run("invoke", "dbt-postgres", "test", "--select", "fct_trajectory_points")
    assert result.returncode != 0
    assert f"FAIL 1 {speed_test}" in result.stdout

    # a changed recording with a bad position: rebuilt in this run, so its rows are tested;
    # exactly one failing row, the new one (the old bad row is still not tested)
    changed = paths[0]
    (replacement,) = generate_files(
        tmp_path / "other", "--files", "1", "--vehicles", "5", "--seed", "9"
    )
    header, first_row, *other_rows = replacement.read_text(encoding="ascii").splitlines(
        keepends=True
    )
    fields = first_row.split("; ")
    fields[FIXED_FIELDS + 2] = "999.0000"  # the first position's speed, km/h
    changed.write_text("".join([header, "; ".join(fields), *other_rows]), encoding="ascii")
    stat = changed.stat()
    os.utime(changed, (stat.st_atime + 60, stat.st_mtime + 60))

    result = project.run(*ELT)

    assert result.returncode != 0
    assert f"FAIL 1 {speed_test}" in result.stdout
    changed_id = changed.name.split(".")[0]
    runs = dict(
        project.query(
            "select recording_id, min(dbt_invocation_id)"
            " from analytics_marts.fct_trajectory_points group by 1"
        )
    )
    assert runs[unchanged_id] == first_run[0]
    assert runs[changed_id] != first_run[0]
    assert project.query(
        "select count(*) from analytics_marts.fct_trajectory_points where speed_kmh > %s",
        (DBT_VARS["max_speed_kmh"],),
    ) == [(2,)]


def test_failing_data_test_stops_downstream_models_and_fails_the_job(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    (path,) = generate_files(tmp_path / "in", "--files", "1", "--vehicles", "3", "--seed", "4")
    header, first_row, *other_rows = path.read_text(encoding="ascii").splitlines(keepends=True)
    fields = first_row.split("; ")
    fields[FIXED_FIELDS + 2] = "999.0000"  # the first position's speed, km/h
    path.write_text("".join([header, "; ".join(fields), *other_rows]), encoding="ascii")
    meltano_project.files = [str(path)]

    result = meltano_project.run(*ELT)

    assert result.returncode != 0
    assert "within_range_fct_trajectory_points_speed_kmh" in result.stdout
    built = meltano_project.query(
        "select to_regclass('analytics_marts.fct_trajectory_points') is not null,"
        " to_regclass('analytics_marts.fct_vehicle_trips') is not null,"
        " to_regclass('analytics_marts.agg_traffic_grid') is not null"
    )
    assert built == [(True, False, False)]


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
