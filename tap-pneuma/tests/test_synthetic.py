"""Generated files look like pNEUMA: types, study area, 0.04 s steps, stops with speed 0."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from tap_pneuma.files import resolve_files
from tap_pneuma.parsing import Layout, RecordingParser
from tap_pneuma.synthetic import VEHICLE_TYPES, generate_files, recording_file_name

if TYPE_CHECKING:
    from pathlib import Path


def parsed(path: Path) -> tuple[RecordingParser, list]:
    (source,) = resolve_files([str(path)])
    parser = RecordingParser(source.uri)
    return parser, list(parser.rows(source.iter_lines()))


def test_same_seed_gives_same_bytes(tmp_path: Path) -> None:
    (a,) = generate_files(tmp_path / "a", vehicles_per_file=5, seed=1)
    (b,) = generate_files(tmp_path / "b", vehicles_per_file=5, seed=1)
    assert a.path.read_bytes() == b.path.read_bytes()


def test_positions_are_realistic(tmp_path: Path) -> None:
    (generated,) = generate_files(tmp_path, vehicles_per_file=60, seed=2)
    parser, rows = parsed(generated.path)
    assert (parser.n_vehicles, parser.n_points) == (generated.n_vehicles, generated.n_points)
    assert parser.layout is Layout.CURRENT
    types = Counter(row.vehicle_type for row in rows)
    assert set(types) == set(VEHICLE_TYPES)
    for row in rows:
        assert row.time_s == sorted(row.time_s)
        steps = {round(b - a, 6) for a, b in zip(row.time_s, row.time_s[1:], strict=False)}
        assert steps == {0.04}
        assert all(37.97 <= lat <= 37.99 for lat in row.lat)
        assert all(23.72 <= lon <= 23.74 for lon in row.lon)
        assert all(0.0 <= speed < 80.0 for speed in row.speed_kmh)
    # waiting at red signals and parked vehicles: runs of exact zeros
    moving_then_stopped = [r for r in rows if max(r.speed_kmh) > 10 and 0.0 in r.speed_kmh]
    parked = [r for r in rows if max(r.speed_kmh) == 0.0]
    assert moving_then_stopped
    assert parked
    assert all(r.traveled_distance_m == 0.0 for r in parked)


def test_positions_target_and_early_gzip_variant(tmp_path: Path) -> None:
    (generated,) = generate_files(
        tmp_path,
        vehicles_per_file=None,
        positions_per_file=20_000,
        layout=Layout.EARLY,
        compress=True,
    )
    assert generated.path.name.endswith(".csv.gz")
    assert generated.n_points >= 20_000
    parser, rows = parsed(generated.path)
    assert parser.layout is Layout.EARLY
    assert parser.n_points == generated.n_points
    # written in ms, read back in s
    assert all(
        round(b - a, 6) == 0.04
        for row in rows
        for a, b in zip(row.time_s, row.time_s[1:], strict=False)
    )


def test_file_names_follow_the_pneuma_scheme() -> None:
    assert recording_file_name(0) == "20181024_d1_0830_0900.csv"
    assert recording_file_name(9) == "20181024_d10_0830_0900.csv"
    assert recording_file_name(10) == "20181024_d1_0900_0930.csv"
    assert recording_file_name(60) == "20181029_d1_0800_0830.csv"
