"""The `tap-pneuma` and `pneuma-generate` commands as users run them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from tap_pneuma.synthetic import generate_files, main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def run_tap(config: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "tap_pneuma", "--config", str(config_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_missing_file_exits_1_with_one_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "20181024_d1_0830_0900.csv"
    result = run_tap({"files": [str(missing)]}, tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert errors[0].endswith(f"tap-pneuma: {missing}: file not found")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_value_exits_1_naming_file_line_and_field(tmp_path: Path) -> None:
    (generated,) = generate_files(tmp_path, vehicles_per_file=3, seed=4)
    lines = generated.path.read_bytes().split(b"\n")
    fields = lines[2].split(b"; ")
    fields[6 + 6 * 10] = b"fast"  # speed of position 11 on line 3
    lines[2] = b"; ".join(fields)
    generated.path.write_bytes(b"\n".join(lines))
    result = run_tap({"files": [str(generated.path)]}, tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert errors[0].endswith(
        f"tap-pneuma: {generated.path}:3: field 'speed' of position 11 (column 67): "
        "'fast' is not a number"
    )
    assert "Traceback" not in result.stderr


def test_good_run_writes_singer_messages(tmp_path: Path) -> None:
    generate_files(tmp_path / "data", vehicles_per_file=2, seed=4)
    result = run_tap({"files": [str(tmp_path / "data")]}, tmp_path)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    records = [m for m in messages if m["type"] == "RECORD"]
    assert [m["stream"] for m in records] == ["trajectories"] * 2 + ["vehicles"] * 2 + [
        "recordings"
    ]
    assert messages[-1]["type"] == "STATE"


def test_generator_is_deterministic_and_names_files_by_the_scheme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--files", "2", "--vehicles", "3", "--seed", "9"]
    assert main([str(tmp_path / "a"), *args]) == 0
    assert main([str(tmp_path / "again"), *args]) == 0
    assert main([str(tmp_path / "b"), *args, "--gzip"]) == 0
    assert main([str(tmp_path / "c"), *args, "--seed", "10"]) == 0
    printed = capsys.readouterr().out
    assert "20181024_d1_0830_0900.csv\t3 vehicles" in printed
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["20181024_d1_0830_0900.csv", "20181024_d2_0830_0900.csv"]
    for name in names:
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()
    first = (tmp_path / "a" / names[0]).read_bytes()
    import gzip  # noqa: PLC0415

    assert gzip.decompress((tmp_path / "b" / (names[0] + ".gz")).read_bytes()) == first
    assert (tmp_path / "c" / names[0]).read_bytes() != first
