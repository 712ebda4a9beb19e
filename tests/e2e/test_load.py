"""`meltano run tap-pneuma target-postgres` into a real embedded PostgreSQL 18.

Expected counts come from reading the generated files here, independently of the tap.
"""

from __future__ import annotations

import gzip
import os
import time
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from raw_tables import BATCHED_AT_SQL, EL, LATEST_COUNTS_SQL, expected

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import MeltanoProject

STATS_FLUSH_S = 10  # backends report their statistics when they end, within a second or so
ARRAY_COLUMNS = ("lat", "lon", "speed_kmh", "lon_acc_ms2", "lat_acc_ms2", "time_s")


def test_raw_tables_hold_exactly_what_the_files_hold(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    paths = generate_files(tmp_path / "in", "--files", "2", "--vehicles", "7", "--seed", "3")
    paths += generate_files(
        tmp_path / "in", "--files", "1", "--vehicles", "4", "--first-index", "5", "--gzip"
    )
    meltano_project.files = [str(tmp_path / "in")]

    meltano_project.run_ok(*EL)

    want = expected([*paths[:2], _gunzip(paths[2], tmp_path)])
    assert meltano_project.query(LATEST_COUNTS_SQL) == want
    total_rows = meltano_project.query(
        "select (select count(*) from tap_pneuma.recordings),"
        " (select count(*) from tap_pneuma.vehicles),"
        " (select coalesce(sum(cardinality(time_s)), 0) from tap_pneuma.trajectories)"
    )
    assert total_rows == [(3, sum(w[1] for w in want), sum(w[2] for w in want))]
    # every array of a trajectory is as long as the others and as the vehicle says
    mismatched = meltano_project.query(
        "select count(*) from tap_pneuma.trajectories as t"
        " join tap_pneuma.vehicles as v using (recording_id, track_id)"
        " where cardinality(t.lat) <> v.n_points or cardinality(t.lon) <> v.n_points"
        " or cardinality(t.speed_kmh) <> v.n_points or cardinality(t.lat_acc_ms2) <> v.n_points"
    )
    assert mismatched == [(0,)]
    # each new row written once: the upsert updated nothing (a dead tuple per vehicle otherwise)
    assert _writes(meltano_project, total_rows[0][1]) == (total_rows[0][1], 0)
    # values arrive exactly as written in the file (NUMERIC compares by value: 595.040000 = 595.04)
    fields = [value.strip() for value in _second_line(paths[0]).rstrip().rstrip(";").split(";")]
    stored = meltano_project.query(
        "select lat::text[], lon::text[], speed_kmh::text[], lon_acc_ms2::text[],"
        " lat_acc_ms2::text[], time_s::text[] from tap_pneuma.trajectories"
        " where recording_id = %s and track_id = %s",
        [paths[0].name.split(".")[0], int(fields[0])],
    )
    for offset, column in enumerate(stored[0]):
        assert [Decimal(value) for value in column] == [
            Decimal(value) for value in fields[4 + offset :: 6]
        ]


def test_second_run_loads_nothing_and_duplicates_nothing(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    paths = generate_files(tmp_path / "in", "--files", "2", "--vehicles", "5")
    meltano_project.files = [str(tmp_path / "in")]
    meltano_project.run_ok(*EL)
    first = meltano_project.query(BATCHED_AT_SQL)

    meltano_project.run_ok(*EL)

    assert meltano_project.query(BATCHED_AT_SQL) == first
    assert meltano_project.query(LATEST_COUNTS_SQL) == expected(paths)


def test_changed_file_replaces_its_recording_only(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    paths = generate_files(tmp_path / "in", "--files", "2", "--vehicles", "6")
    meltano_project.files = [str(tmp_path / "in")]
    meltano_project.run_ok(*EL)
    before = {row[0]: row[1:] for row in meltano_project.query(BATCHED_AT_SQL)}

    # Rewrite the first file with fewer, different vehicles under the same name.
    changed = paths[0]
    replacement = generate_files(tmp_path / "new", "--files", "1", "--vehicles", "3", "--seed", "9")
    changed.write_bytes(replacement[0].read_bytes())
    stat = changed.stat()
    os.utime(changed, (stat.st_atime + 60, stat.st_mtime + 60))

    meltano_project.run_ok(*EL)

    assert meltano_project.query(LATEST_COUNTS_SQL) == expected(paths)
    after = {row[0]: row[1:] for row in meltano_project.query(BATCHED_AT_SQL)}
    changed_id = changed.name.split(".")[0]
    unchanged_id = paths[1].name.split(".")[0]
    assert after[unchanged_id] == before[unchanged_id]
    assert after[changed_id][0] > before[changed_id][0]
    n_vehicles = meltano_project.query(
        "select n_vehicles from tap_pneuma.recordings where recording_id = %s", [changed_id]
    )
    assert n_vehicles == [(3,)]


def test_new_file_adds_only_itself(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
) -> None:
    paths = generate_files(tmp_path / "in", "--files", "2", "--vehicles", "5")
    meltano_project.files = [str(tmp_path / "in" / "*.csv")]
    meltano_project.run_ok(*EL)
    before = meltano_project.query(BATCHED_AT_SQL)

    paths += generate_files(
        tmp_path / "in", "--files", "1", "--vehicles", "4", "--first-index", "7"
    )
    meltano_project.run_ok(*EL)

    after = meltano_project.query(BATCHED_AT_SQL)
    new_id = paths[2].name.split(".")[0]
    assert [row for row in after if row[0] != new_id] == before
    assert meltano_project.query(LATEST_COUNTS_SQL) == expected(paths)


@pytest.mark.parametrize("accelerate", ["true", "false"])
def test_real_sample_lands_as_float_arrays_exactly_as_written(
    samples_dir: Path, meltano_project: MeltanoProject, accelerate: str
) -> None:
    sample = samples_dir / "sample.csv"
    meltano_project.files = [str(sample)]
    meltano_project.extra_env["PNEUMA_TARGET_ACCELERATE"] = accelerate

    meltano_project.run_ok(*EL)

    # float8[]: the warehouse expands the arrays without a cast
    assert meltano_project.query(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = 'tap_pneuma.trajectories'::regclass and attname = any(%s)"
        " order by attname",
        [list(ARRAY_COLUMNS)],
    ) == [(name, "double precision[]") for name in sorted(ARRAY_COLUMNS)]
    columns = ", ".join(f"{name}::text[]" for name in ARRAY_COLUMNS)
    stored = {
        row[0]: row[1:]
        for row in meltano_project.query(
            f"select track_id, {columns} from tap_pneuma.trajectories"  # noqa: S608 - fixed names
        )
    }
    with sample.open(encoding="ascii") as handle:
        next(handle)  # header
        rows = [
            [value.strip() for value in line.rstrip().rstrip(";").split(";")] for line in handle
        ]
    assert sorted(stored) == sorted(int(fields[0]) for fields in rows)
    for fields in rows:
        for offset, texts in enumerate(stored[int(fields[0])]):
            written = fields[4 + offset :: 6]
            # PostgreSQL prints a double's shortest repr: the file's number, digit for digit
            # (but for trailing zeros, which Decimal equality ignores)
            assert [Decimal(text) for text in texts] == [Decimal(text) for text in written]


def _writes(meltano_project: MeltanoProject, inserted: int) -> tuple[int, int]:
    """(inserts, updates) of tap_pneuma.trajectories, once the loader's statistics are flushed."""
    deadline = time.monotonic() + STATS_FLUSH_S
    while True:
        ((inserts, updates),) = meltano_project.query(
            "select n_tup_ins, n_tup_upd from pg_stat_user_tables"
            " where relid = 'tap_pneuma.trajectories'::regclass"
        )
        if inserts >= inserted or time.monotonic() > deadline:
            return inserts, updates
        time.sleep(0.2)


def _gunzip(path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "plain" / path.name.removesuffix(".gz")
    out.parent.mkdir(exist_ok=True)
    with gzip.open(path, "rb") as source:
        out.write_bytes(source.read())
    return out


def _second_line(path: Path) -> str:
    with path.open(encoding="ascii") as handle:
        next(handle)
        return next(handle)
