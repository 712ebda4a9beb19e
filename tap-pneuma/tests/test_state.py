"""Incremental runs: one partition per file, bookmarked by size and modification time."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

import pytest
from sync_runner import MessageCollector, run_sync

from tap_pneuma import client
from tap_pneuma.parsing import PneumaFormatError, RecordingParser
from tap_pneuma.synthetic import generate_files

if TYPE_CHECKING:
    from pathlib import Path

    from tap_pneuma.synthetic import GeneratedFile

STREAMS = ("recordings", "vehicles", "trajectories")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    generate_files(tmp_path / "data", n_files=2, vehicles_per_file=4, seed=21)
    return tmp_path / "data"


def record_count(records: dict[str, list[dict[str, Any]]]) -> int:
    return sum(len(rows) for rows in records.values())


def test_every_record_carries_path_and_modified_at(data_dir: Path) -> None:
    result = run_sync({"files": [str(data_dir)]})
    assert set(result.records) == set(STREAMS)
    for records in result.records.values():
        for record in records:
            assert record["_sdc_path"].startswith(str(data_dir))
            assert record["_sdc_modified_at"].endswith("+00:00")


def test_second_run_with_first_run_state_emits_no_records(data_dir: Path) -> None:
    first = run_sync({"files": [str(data_dir)]})
    assert record_count(first.records) == 2 + 8 + 8
    second = run_sync({"files": [str(data_dir)]}, state=first.state)
    assert second.records == {}
    assert second.state == first.state


def test_touching_a_file_re_emits_it_whole(data_dir: Path) -> None:
    first = run_sync({"files": [str(data_dir)]})
    touched = sorted(data_dir.glob("*.csv"))[1]
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    second = run_sync({"files": [str(data_dir)]}, state=first.state)
    assert {r["recording_id"] for r in second.records["recordings"]} == {touched.stem}
    assert len(second.records["vehicles"]) == 4
    assert len(second.records["trajectories"]) == 4
    old_version = {r["_sdc_modified_at"] for r in first.records["recordings"]}
    assert second.records["recordings"][0]["_sdc_modified_at"] not in old_version
    third = run_sync({"files": [str(data_dir)]}, state=second.state)
    assert third.records == {}


def test_content_change_with_the_same_mtime_is_re_read(data_dir: Path) -> None:
    first = run_sync({"files": [str(data_dir)]})
    changed = min(data_dir.glob("*.csv"))
    stat = changed.stat()
    generate_files(data_dir, vehicles_per_file=2, seed=99)  # rewrites the first file name
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = run_sync({"files": [str(data_dir)]}, state=first.state)
    assert [r["n_vehicles"] for r in second.records["recordings"]] == [2]


def test_a_new_file_is_the_only_one_read(data_dir: Path) -> None:
    first = run_sync({"files": [str(data_dir)]})
    (new,) = generate_files(data_dir, vehicles_per_file=3, seed=5, first_index=7)
    second = run_sync({"files": [str(data_dir)]}, state=first.state)
    assert [r["recording_id"] for r in second.records["recordings"]] == [new.path.stem]
    assert {r["recording_id"] for r in second.records["trajectories"]} == {new.path.stem}
    assert len(second.records["vehicles"]) == 3


def test_each_file_is_parsed_once_for_all_three_streams(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[str] = []

    class CountingParser(RecordingParser):
        def rows(self, lines):  # noqa: ANN001, ANN202
            passes.append(self.source)
            return super().rows(lines)

    monkeypatch.setattr(client, "RecordingParser", CountingParser)
    result = run_sync({"files": [str(data_dir)]})
    assert len(result.records["recordings"]) == 2
    assert sorted(passes) == sorted(str(p.absolute()) for p in data_dir.glob("*.csv"))


def _catalog_without(stream_name: str, config: dict[str, Any]) -> dict[str, Any]:
    from tap_pneuma.tap import TapPneuma  # noqa: PLC0415

    catalog = TapPneuma(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] != stream_name
    return catalog


def test_vehicles_and_recordings_work_with_trajectories_deselected(data_dir: Path) -> None:
    config = {"files": [str(data_dir)]}
    full = run_sync(config)
    partial = run_sync(config, catalog=_catalog_without("trajectories", config))
    assert set(partial.records) == {"recordings", "vehicles"}
    assert partial.records["vehicles"] == full.records["vehicles"]
    assert partial.records["recordings"] == full.records["recordings"]
    assert "trajectories" not in partial.state["bookmarks"]


def test_skip_mode_counts_invalid_rows_in_the_recording(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = min(data_dir.glob("*.csv"))
    lines = path.read_bytes().split(b"\n")
    fields = lines[2].split(b"; ")
    fields[4] = b"abc"  # line 3: a value that is not a number
    lines[2] = b"; ".join(fields)
    fields = lines[3].split(b"; ")
    del fields[-2]  # line 4: one value short of 4 + 6k
    lines[3] = b"; ".join(fields)
    path.write_bytes(b"\n".join(lines))
    result = run_sync({"files": [str(path)], "on_invalid_row": "skip"})
    (recording,) = result.records["recordings"]
    assert (recording["n_invalid_rows"], recording["n_vehicles"]) == (2, 2)
    assert len(result.records["trajectories"]) == 2
    assert [v["track_id"] for v in result.records["vehicles"]] == [1, 4]
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Skipping")]
    assert len(skipped) == 2
    assert skipped[0].startswith(f"Skipping invalid row {path.absolute()}:3: field 'lat'")
    assert skipped[1].startswith(f"Skipping invalid row {path.absolute()}:4: expected 4 + 6k")
    message = r"0900\.csv:3: field 'lat' of position 1 \(column 5\): 'abc' is not a number"
    with pytest.raises(PneumaFormatError, match=message):
        run_sync({"files": [str(path)]})


def test_a_bad_file_leaves_the_files_before_it_complete(data_dir: Path, tmp_path: Path) -> None:
    bad: GeneratedFile = generate_files(data_dir, vehicles_per_file=3, seed=8, first_index=5)[0]
    content = bad.path.read_bytes()
    bad.path.write_bytes(content[: len(content) * 2 // 3])  # cut mid-row
    collector = MessageCollector()
    with pytest.raises(PneumaFormatError, match=r"0900\.csv:\d+: row does not end with"):
        run_sync({"files": [str(data_dir)]}, collector=collector)
    recordings = [
        m["record"]["recording_id"]
        for m in collector.messages
        if m["type"] == "RECORD" and m["stream"] == "recordings"
    ]
    good = sorted(p.stem for p in data_dir.glob("*.csv") if p != bad.path)
    # the recordings record is the last of a file: it is only there for complete files
    assert recordings == good
    states = [m["value"] for m in collector.messages if m["type"] == "STATE"]
    bookmarked = {
        partition["context"]["_sdc_path"]
        for partition in states[-1]["bookmarks"]["recordings"]["partitions"]
    }
    assert str(bad.path.absolute()) not in bookmarked
    shutil.rmtree(tmp_path / "data")
