"""The parser and file reader on every kind of bad input and on the format's variants."""

from __future__ import annotations

import gzip
import zipfile
from typing import TYPE_CHECKING

import pytest

from tap_pneuma.files import SourceFile, parse_recording_name, recording_id_from_name, resolve_files
from tap_pneuma.parsing import (
    LAYOUTS,
    FileFormatError,
    InvalidRowError,
    Layout,
    PneumaFormatError,
    RecordingParser,
    parse_wide_row,
)

if TYPE_CHECKING:
    from pathlib import Path

HEADER = b"track_id; type; traveled_d; avg_speed; lat; lon; speed; lon_acc; lat_acc; time\n"
EARLY_HEADER = (
    b"track_id; type; traveled_distance; avg_speed; lat; lon; speed; tan_accel; lat_accel; time\n"
)
ROW_1 = (
    b"1; Car; 12.50; 30.123456; 37.980001; 23.730001; 30.0000; 0.1000; -0.2000; 0.000000; "
    b"37.980002; 23.730002; 30.5000; 0.2000; -0.1000; 0.040000; \n"
)
ROW_2 = (
    b"2; Medium Vehicle; 0.00; 0.000000; 37.981000; 23.731000; 0.0000; 0.0000; 0.0000; 4.000000; \n"
)
CURRENT = LAYOUTS[Layout.CURRENT]


def parse_lines(lines: list[bytes], **kwargs: object) -> tuple[RecordingParser, list]:
    parser = RecordingParser("test.csv", **kwargs)  # type: ignore[arg-type]
    return parser, list(parser.rows(lines))


def read_file(path: Path, **kwargs: object) -> tuple[RecordingParser, list]:
    (source,) = resolve_files([str(path)])
    parser = RecordingParser(source.uri, **kwargs)  # type: ignore[arg-type]
    return parser, list(parser.rows(source.iter_lines()))


def test_parses_a_row_with_trailing_separator_into_parallel_arrays() -> None:
    row = parse_wide_row(ROW_1, spec=CURRENT, source="f", line_number=2)
    assert (row.track_id, row.vehicle_type) == (1, "Car")
    assert (row.traveled_distance_m, row.avg_speed_kmh) == (12.5, 30.123456)
    assert row.lat == [37.980001, 37.980002]
    assert row.lon == [23.730001, 23.730002]
    assert row.speed_kmh == [30.0, 30.5]
    assert row.lon_acc_ms2 == [0.1, 0.2]
    assert row.lat_acc_ms2 == [-0.2, -0.1]
    assert row.time_s == [0.0, 0.04]


def test_type_names_with_a_space_pass_through() -> None:
    _, rows = parse_lines([HEADER, ROW_2])
    assert rows[0].vehicle_type == "Medium Vehicle"
    assert rows[0].speed_kmh == [0.0]


def test_row_without_positions_is_a_vehicle_with_no_points() -> None:
    _, rows = parse_lines([HEADER, b"3; Bus; 0.00; 0.000000; \n"])
    assert rows[0].track_id == 3
    assert rows[0].n_points == 0


def test_crlf_line_ends_are_accepted() -> None:
    lines = [HEADER.replace(b"\n", b"\r\n"), ROW_1.replace(b"\n", b"\r\n")]
    parser, rows = parse_lines(lines)
    assert parser.layout is Layout.CURRENT
    assert rows[0].time_s == [0.0, 0.04]


def test_utf8_bom_before_the_header_is_ignored() -> None:
    parser, rows = parse_lines([b"\xef\xbb\xbf" + HEADER, ROW_1])
    assert parser.layout is Layout.CURRENT
    assert len(rows) == 1


def test_early_variant_times_are_converted_from_ms_to_seconds() -> None:
    row = ROW_1.replace(b"0.000000; ", b"0.0000; ").replace(b"0.040000; ", b"40.0000; ")
    parser, rows = parse_lines([EARLY_HEADER, row])
    assert parser.layout is Layout.EARLY
    assert rows[0].time_s == [0.0, 0.04]


def test_blank_lines_are_ignored_and_counts_are_kept() -> None:
    parser, rows = parse_lines([HEADER, ROW_1, b"\n", ROW_2, b"\r\n"])
    assert [row.track_id for row in rows] == [1, 2]
    assert (parser.n_vehicles, parser.n_points, parser.n_invalid_rows) == (2, 3, 0)


def test_empty_file_is_rejected() -> None:
    with pytest.raises(FileFormatError, match=r"test\.csv: file is empty"):
        parse_lines([])


def test_wrong_header_is_rejected_with_line_1() -> None:
    with pytest.raises(FileFormatError, match=r"test\.csv:1: wrong header 'id,type,lat'"):
        parse_lines([b"id,type,lat\n", ROW_1])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            b"1; Car; 12.50; 30.1; 37.98; 23.73; 30.0; 0.1; -0.2; \n",
            r"expected 4 \+ 6k values, got 9",
        ),
        (b"1; Car; 12.50; \n", r"expected 4 \+ 6k values, got 3"),
        (
            b"1; Car; 12.50; 30.1; 37.98; 23.73; 3O.0; 0.1; -0.2; 0.0; \n",
            r"test\.csv:3: field 'speed' of position 1 \(column 7\): '3O\.0' is not a number",
        ),
        (
            (
                b"1; Car; 12.50; 30.1; 37.98; 23.73; 30.0; 0.1; -0.2; 0.0; "
                b"37.98; nan; 1; 1; 1; 0.04; \n"
            ),
            r"test\.csv:3: field 'lon' of position 2 \(column 12\): 'nan' is not a number",
        ),
        (
            b"1; Car; 12.50; 30.1; 37.98; 23.73; 30.0; 0.1; -0.2; 1_0; \n",
            r"field 'time' of position 1 \(column 10\): '1_0' is not a number",
        ),
        (
            b"1; Car; 12.50; 30.1; 37.98; ; 30.0; 0.1; -0.2; 0.0; \n",
            r"field 'lon' of position 1 \(column 6\): '' is not a number",
        ),
        (b"x; Car; 12.50; 30.1; \n", r"field 'track_id' \(column 1\): 'x' is not an integer"),
        (b"1; 12.5; 12.50; 30.1; \n", r"field 'type' \(column 2\): '12.5' is not a vehicle type"),
        (b"1; Car; abc; 30.1; \n", r"field 'traveled_d' \(column 3\): 'abc' is not a number"),
    ],
)
def test_invalid_rows_fail_naming_file_line_and_field(row: bytes, message: str) -> None:
    with pytest.raises(InvalidRowError, match=message):
        parse_lines([HEADER, ROW_1, row])


def test_invalid_row_message_names_file_and_line() -> None:
    with pytest.raises(InvalidRowError) as caught:
        parse_lines([HEADER, ROW_1, ROW_2, b"3; Car; 1.0; 2.0; 37.9; \n"])
    assert caught.value.source == "test.csv"
    assert caught.value.line_number == 4
    assert str(caught.value) == "test.csv:4: expected 4 + 6k values, got 5"


def test_skip_mode_skips_counts_and_reports_invalid_rows() -> None:
    skipped: list[PneumaFormatError] = []
    bad = b"9; Car; 1.0; 2.0; 37.9; x; 1; 1; 1; 0; \n"
    parser, rows = parse_lines(
        [HEADER, ROW_1, bad, ROW_2], skip_invalid_rows=True, on_skipped_row=skipped.append
    )
    assert [row.track_id for row in rows] == [1, 2]
    assert parser.n_invalid_rows == 1
    assert parser.n_vehicles == 2
    assert [str(error) for error in skipped] == [
        "test.csv:3: field 'lon' of position 1 (column 6): 'x' is not a number"
    ]


def test_row_broken_across_lines_fails_even_in_skip_mode() -> None:
    # a spreadsheet round trip breaks long rows mid-number
    broken = [ROW_1[:70] + b"\n", ROW_1[70:]]
    with pytest.raises(FileFormatError, match=r"test\.csv:2: row does not end with the '; '"):
        parse_lines([HEADER, *broken, ROW_2], skip_invalid_rows=True)


def test_damaged_copy_broken_every_32_kb_is_rejected(small_recording_path: Path) -> None:
    data = small_recording_path.read_bytes()
    header_end = data.index(b"\n") + 1
    body = data[header_end:]
    damaged = data[:header_end] + b"\n".join(
        body[i : i + 32_767] for i in range(0, len(body), 32_767)
    )
    small_recording_path.write_bytes(damaged)
    with pytest.raises(FileFormatError, match=r":2: row does not end with the '; ' separator"):
        read_file(small_recording_path, skip_invalid_rows=True)


@pytest.fixture
def small_recording_path(tmp_path: Path) -> Path:
    from tap_pneuma.synthetic import generate_files  # noqa: PLC0415

    return generate_files(tmp_path, vehicles_per_file=3, seed=5)[0].path


def test_gzip_file_reads_like_the_plain_one(small_recording_path: Path) -> None:
    gz_path = small_recording_path.with_name(small_recording_path.name + ".gz")
    gz_path.write_bytes(gzip.compress(small_recording_path.read_bytes()))
    _, plain = read_file(small_recording_path)
    _, packed = read_file(gz_path)
    assert packed == plain
    assert recording_id_from_name(gz_path.name) == small_recording_path.stem


def test_truncated_gzip_fails_naming_the_file(small_recording_path: Path) -> None:
    packed = gzip.compress(small_recording_path.read_bytes())
    gz_path = small_recording_path.with_name(small_recording_path.name + ".gz")
    gz_path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(FileFormatError, match=r"\.csv\.gz:\d+: truncated or corrupt gzip"):
        read_file(gz_path)


def test_zip_members_are_read_without_unpacking(small_recording_path: Path) -> None:
    archive = small_recording_path.parent / "pneuma.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as opened:
        opened.write(small_recording_path, "data/" + small_recording_path.name)
        opened.writestr("readme.txt.md", "not a recording")
    (source,) = resolve_files([str(archive)])
    assert source.uri == f"zip://data/{small_recording_path.name}::{archive.absolute()}"
    assert source.recording_id == small_recording_path.stem
    _, from_zip = read_file(archive)
    _, plain = read_file(small_recording_path)
    assert from_zip == plain


def test_truncated_zip_fails_naming_the_archive(small_recording_path: Path) -> None:
    archive = small_recording_path.parent / "pneuma.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as opened:
        opened.write(small_recording_path, small_recording_path.name)
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(FileFormatError, match=r"pneuma\.zip: not a readable zip archive"):
        resolve_files([str(archive)])


def test_corrupt_zip_member_fails_naming_member_and_line(small_recording_path: Path) -> None:
    archive = small_recording_path.parent / "pneuma.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as opened:
        opened.write(small_recording_path, small_recording_path.name)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flips a byte of the member: its CRC no longer matches
    archive.write_bytes(bytes(data))
    with pytest.raises(PneumaFormatError, match=r"zip://.*pneuma\.zip"):
        read_file(archive)


def test_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"missing\.csv: file not found"):
        resolve_files([str(tmp_path / "missing.csv")])


def test_pattern_that_matches_nothing_fails(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"\*\.csv: no file matches this pattern"):
        resolve_files([str(tmp_path / "*.csv")])


def test_two_files_of_one_recording_name_fail_naming_both(tmp_path: Path) -> None:
    # the name is the recording id: the second file would overwrite the first's rows
    for folder in ("monday", "tuesday"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "20181024_d1_0830_0900.csv").write_text("header\n")
    (tmp_path / "tuesday" / "20181024_d1_0830_0900.csv.gz").write_bytes(b"")
    with pytest.raises(
        FileFormatError,
        match=r"tuesday/20181024_d1_0830_0900\.csv: its recording id '20181024_d1_0830_0900'"
        r" .* also that of .*monday/20181024_d1_0830_0900\.csv",
    ):
        resolve_files([str(tmp_path / "monday"), str(tmp_path / "tuesday")])
    with pytest.raises(FileFormatError, match=r"0900\.csv\.gz: its recording id"):
        resolve_files([str(tmp_path / "tuesday")])


def test_zero_byte_file_fails(tmp_path: Path) -> None:
    empty = tmp_path / "20181024_d1_0830_0900.csv"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError, match=r"0900\.csv: file is empty \(0 bytes\)"):
        read_file(empty)


def test_directories_globs_and_recursion(tmp_path: Path) -> None:
    from tap_pneuma.synthetic import generate_files  # noqa: PLC0415

    generate_files(tmp_path, n_files=2, vehicles_per_file=2)
    generate_files(tmp_path / "nested", n_files=1, vehicles_per_file=2, first_index=5)
    (tmp_path / "notes.md").write_text("not data")
    flat = resolve_files([str(tmp_path)])
    deep = resolve_files([str(tmp_path)], recursive=True)
    globbed = resolve_files([str(tmp_path / "**" / "*.csv"), str(tmp_path)])
    assert [s.recording_id for s in flat] == ["20181024_d1_0830_0900", "20181024_d2_0830_0900"]
    assert len(deep) == 3
    assert len(globbed) == 3  # duplicates of the second entry are dropped
    assert all(isinstance(source, SourceFile) for source in deep)


def test_fsspec_urls_are_read(small_recording_path: Path) -> None:
    import fsspec  # noqa: PLC0415 - the optional `remote` extra; a test dependency

    memory = fsspec.filesystem("memory")
    memory.pipe("/pneuma/20181024_d7_0830_0900.csv", small_recording_path.read_bytes())
    (source,) = resolve_files(["memory://pneuma/*.csv"])
    assert source.uri == "memory:///pneuma/20181024_d7_0830_0900.csv"
    _, rows = read_file(small_recording_path)
    parser = RecordingParser(source.uri)
    assert list(parser.rows(source.iter_lines())) == rows


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("20181024_d1_0830_0900", ("2018-10-24", 1, "08:30:00", "09:00:00")),
        ("20181101_d10_1000_1030", ("2018-11-01", 10, "10:00:00", "10:30:00")),
        ("20181029_dX_0800_0830", ("2018-10-29", None, "08:00:00", "08:30:00")),
        ("sample", (None, None, None, None)),
        ("20181399_d1_0830_0900", (None, None, None, None)),
    ],
)
def test_recording_name_scheme(name: str, expected: tuple) -> None:
    parsed = parse_recording_name(name)
    assert (parsed.recorded_on, parsed.drone, parsed.window_start, parsed.window_end) == expected
