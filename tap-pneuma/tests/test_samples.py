"""The real pNEUMA samples beside the repository, read end to end through the tap."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from sync_runner import run_sync

if TYPE_CHECKING:
    from pathlib import Path


def test_current_sample_gives_20_vehicles_and_60765_positions(samples_dir: Path) -> None:
    result = run_sync({"files": [str(samples_dir / "sample.csv")]})
    (recording,) = result.records["recordings"]
    vehicles = result.records["vehicles"]
    trajectories = result.records["trajectories"]

    assert recording["recording_id"] == "sample"
    assert recording["recorded_on"] is None
    assert recording["drone"] is None
    assert recording["layout"] == "current"
    assert (recording["n_vehicles"], recording["n_points"]) == (20, 60_765)
    assert recording["n_invalid_rows"] == 0
    assert recording["file_size_bytes"] == 3_526_701

    assert [v["track_id"] for v in vehicles] == list(range(1, 21))
    assert Counter(v["vehicle_type"] for v in vehicles) == {
        "Motorcycle": 8,
        "Taxi": 6,
        "Car": 4,
        "Bus": 1,
        "Heavy Vehicle": 1,
    }
    assert sum(v["n_points"] for v in vehicles) == 60_765
    assert sum(len(t["time_s"]) for t in trajectories) == 60_765
    assert max(len(t["time_s"]) for t in trajectories) == 19_006
    assert max(v["last_time_s"] for v in vehicles) == pytest.approx(760.2)

    first = trajectories[0]
    assert first["time_s"][:3] == [0.0, 0.04, 0.08]
    assert first["lat"][0] == 37.983176
    assert first["lon"][0] == 23.730476
    assert first["speed_kmh"][0] == 26.3733
    assert first["lon_acc_ms2"][0] == -0.1076
    assert first["lat_acc_ms2"][0] == 0.1255
    assert vehicles[0]["traveled_distance_m"] == 347.33
    assert vehicles[0]["avg_speed_kmh"] == 30.349228
    for trajectory in trajectories:
        lengths = {
            len(trajectory[key])
            for key in ("time_s", "lat", "lon", "speed_kmh", "lon_acc_ms2", "lat_acc_ms2")
        }
        assert len(lengths) == 1
        assert all(37.9 < lat < 38.0 for lat in trajectory["lat"])


def test_early_sample_gives_4_vehicles_with_times_in_seconds(samples_dir: Path) -> None:
    result = run_sync({"files": [str(samples_dir / "pneuma_sample_dataset_4_entries.csv")]})
    (recording,) = result.records["recordings"]
    trajectories = result.records["trajectories"]
    vehicles = result.records["vehicles"]

    assert recording["recording_id"] == "pneuma_sample_dataset_4_entries"
    assert recording["layout"] == "early"
    assert recording["n_vehicles"] == 4
    assert [v["vehicle_type"] for v in vehicles] == [
        "Motorcycle",
        "Car",
        "Medium Vehicle",
        "Motorcycle",
    ]
    assert all(806 <= v["n_points"] <= 2_486 for v in vehicles)
    for trajectory in trajectories:
        times = trajectory["time_s"]
        # the file counts milliseconds (0, 40, 80, ...): the tap emits seconds
        assert times[:3] == [0.0, 0.04, 0.08]
        assert all(later > earlier for earlier, later in itertools.pairwise(times))
        assert times[-1] < 120.0
