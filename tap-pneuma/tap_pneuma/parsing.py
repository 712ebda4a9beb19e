"""Pure functions that turn the lines of a pNEUMA file into typed rows.

A pNEUMA file has a header line and then one very long line per vehicle:
4 fixed fields (track_id, type, traveled_d, avg_speed) followed by one group of 6 values
(lat, lon, speed, lon_acc, lat_acc, time) per video frame, separated by ``"; "``; every data
line ends with ``"; "``. Nothing here opens files: callers feed lines as ``bytes``.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

SEPARATOR = b"; "
UTF8_BOM = b"\xef\xbb\xbf"
FIXED_FIELD_COUNT = 4
GROUP_SIZE = 6
MS_PER_S = 1000.0
MAX_SHOWN_CHARS = 200
# Python's float() also accepts "1_0", "nan" and "inf"; the error path uses this strict form.
_SEMICOLON_TO_COMMA = bytes.maketrans(b";", b",")
_decode_float_array = msgspec.json.Decoder(list[float]).decode
_STRICT_NUMBER = re.compile(rb"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


class Layout(str, enum.Enum):
    """The two published header variants."""

    CURRENT = "current"
    EARLY = "early"


@dataclass(frozen=True)
class LayoutSpec:
    """Field names of one header variant and the unit of its time column."""

    layout: Layout
    field_names: tuple[str, ...]
    time_divisor: float | None

    @property
    def fixed_names(self) -> tuple[str, ...]:
        """Names of the 4 per-vehicle fields."""
        return self.field_names[:FIXED_FIELD_COUNT]

    @property
    def group_names(self) -> tuple[str, ...]:
        """Names of the 6 per-position fields."""
        return self.field_names[FIXED_FIELD_COUNT:]


LAYOUTS = {
    Layout.CURRENT: LayoutSpec(
        Layout.CURRENT,
        (
            "track_id",
            "type",
            "traveled_d",
            "avg_speed",
            "lat",
            "lon",
            "speed",
            "lon_acc",
            "lat_acc",
            "time",
        ),
        time_divisor=None,
    ),
    # The pre-release sample dataset counts time in milliseconds.
    Layout.EARLY: LayoutSpec(
        Layout.EARLY,
        (
            "track_id",
            "type",
            "traveled_distance",
            "avg_speed",
            "lat",
            "lon",
            "speed",
            "tan_accel",
            "lat_accel",
            "time",
        ),
        time_divisor=MS_PER_S,
    ),
}


class PneumaFormatError(ValueError):
    """A defect in a pNEUMA file, located by source, line and (when known) field."""

    def __init__(
        self,
        source: str,
        line_number: int | None,
        problem: str,
        field: str | None = None,
    ) -> None:
        """Build the error; ``str(error)`` is the one-line message shown to users."""
        self.source = source
        self.line_number = line_number
        self.field = field
        self.problem = problem
        location = source if line_number is None else f"{source}:{line_number}"
        where = f"{location}: field {field}" if field else location
        super().__init__(f"{where}: {problem}")


class InvalidRowError(PneumaFormatError):
    """One vehicle row is invalid; the rest of the file may still be read (skippable)."""


class FileFormatError(PneumaFormatError):
    """The file as a whole cannot be trusted (never skipped)."""


@dataclass(slots=True)
class WideRow:
    """One vehicle: its fixed fields and its positions as parallel lists, times in seconds."""

    track_id: int
    vehicle_type: str
    traveled_distance_m: float
    avg_speed_kmh: float
    time_s: list[float]
    lat: list[float]
    lon: list[float]
    speed_kmh: list[float]
    lon_acc_ms2: list[float]
    lat_acc_ms2: list[float]

    @property
    def n_points(self) -> int:
        """Number of positions."""
        return len(self.time_s)


def strip_line_end(line: bytes) -> bytes:
    """Remove LF or CRLF."""
    if line.endswith(b"\n"):
        line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
    return line


def detect_layout(header_line: bytes, *, source: str) -> LayoutSpec:
    """Recognise the header (current or early variant), tolerating a BOM, CRLF and spacing.

    Raises:
        FileFormatError: empty file or a header of neither variant.
    """
    if not header_line:
        raise FileFormatError(source, None, "file is empty (0 bytes); expected a pNEUMA header")
    header = strip_line_end(header_line.removeprefix(UTF8_BOM))
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        raise FileFormatError(source, 1, "header is not ASCII text") from None
    names = tuple(name.strip().lower() for name in text.rstrip("; ").split(";"))
    for spec in LAYOUTS.values():
        if names == spec.field_names:
            return spec
    expected = " | ".join("; ".join(spec.field_names) for spec in LAYOUTS.values())
    shown = text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."
    msg = f"wrong header {shown!r}; expected one of: {expected}"
    raise FileFormatError(source, 1, msg)


def field_name(column: int, spec: LayoutSpec) -> str:
    """Human name of a 0-based column, e.g. ``'speed' of position 17 (column 107)``."""
    if column < FIXED_FIELD_COUNT:
        return f"{spec.field_names[column]!r} (column {column + 1})"
    group, offset = divmod(column - FIXED_FIELD_COUNT, GROUP_SIZE)
    return f"{spec.group_names[offset]!r} of position {group + 1} (column {column + 1})"


def _raise_for_bad_fields(
    fields: list[bytes], *, spec: LayoutSpec, source: str, line_number: int
) -> None:
    """Slow path: raise for a wrong value count or the first value that is not a number."""
    n_fields = len(fields)
    if n_fields < FIXED_FIELD_COUNT or (n_fields - FIXED_FIELD_COUNT) % GROUP_SIZE:
        msg = f"expected 4 + 6k values, got {n_fields}"
        raise InvalidRowError(source, line_number, msg)
    for column in range(2, n_fields):
        raw = fields[column]
        if not _STRICT_NUMBER.fullmatch(raw) or not math.isfinite(float(raw)):
            shown = raw[:40].decode("ascii", "replace")
            raise InvalidRowError(
                source, line_number, f"{shown!r} is not a number", field_name(column, spec)
            )


def _position_values(
    positions: bytes, *, spec: LayoutSpec, source: str, line_number: int, body: bytes
) -> list[float]:
    """All 6k position values of a row, as floats, in file order."""
    # "a; b; c" -> "[a, b, c]" is a JSON array: msgspec parses it several times faster than
    # float() per value, and rejects NaN, infinity and "1_0", which float() accepts
    try:
        return _decode_float_array(b"[" + positions.translate(_SEMICOLON_TO_COMMA) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    fields = body.split(SEPARATOR)
    fields.pop()
    _raise_for_bad_fields(fields, spec=spec, source=source, line_number=line_number)
    # plain numbers that JSON spells differently (".5", "+1", "1.")
    return list(map(float, fields[FIXED_FIELD_COUNT:]))


def parse_wide_row(line: bytes, *, spec: LayoutSpec, source: str, line_number: int) -> WideRow:
    """Parse one vehicle line (with or without its line end) into a `WideRow`.

    Raises:
        FileFormatError: the line does not end with the ``"; "`` separator, i.e. the row was
            broken across lines (a damaged copy) or the file is truncated.
        InvalidRowError: wrong value count or a value that is not a number.
    """
    body = strip_line_end(line)
    # every complete data row ends with "; "; a row cut mid-number does not
    if not body.endswith(SEPARATOR):
        tail = body[-30:].decode("ascii", "replace")
        msg = (
            f"row does not end with the '; ' separator (ends with {tail!r}): it is broken "
            "across lines (a damaged copy, e.g. a spreadsheet round trip) or the file is "
            "truncated"
        )
        raise FileFormatError(source, line_number, msg)
    head = body.split(SEPARATOR, FIXED_FIELD_COUNT)
    if len(head) <= FIXED_FIELD_COUNT:
        msg = f"expected 4 + 6k values, got {len(head) - 1}"
        raise InvalidRowError(source, line_number, msg)
    try:
        track_id = int(head[0])
    except ValueError:
        shown = head[0][:40].decode("ascii", "replace")
        raise InvalidRowError(
            source, line_number, f"{shown!r} is not an integer", field_name(0, spec)
        ) from None
    vehicle_type = head[1].decode("ascii", "replace").strip()
    if not any(char.isalpha() for char in vehicle_type):
        raise InvalidRowError(
            source, line_number, f"{vehicle_type!r} is not a vehicle type", field_name(1, spec)
        )
    for column in (2, 3):
        raw = head[column]
        if not _STRICT_NUMBER.fullmatch(raw) or not math.isfinite(float(raw)):
            shown = raw[:40].decode("ascii", "replace")
            msg = f"{shown!r} is not a number"
            raise InvalidRowError(source, line_number, msg, field_name(column, spec))
    positions = head[FIXED_FIELD_COUNT][: -len(SEPARATOR)]
    values = (
        _position_values(positions, spec=spec, source=source, line_number=line_number, body=body)
        if positions
        else []
    )
    if len(values) % GROUP_SIZE:
        msg = f"expected 4 + 6k values, got {FIXED_FIELD_COUNT + len(values)}"
        raise InvalidRowError(source, line_number, msg)
    time_raw = values[5::6]
    return WideRow(
        track_id=track_id,
        vehicle_type=vehicle_type,
        traveled_distance_m=float(head[2]),
        avg_speed_kmh=float(head[3]),
        time_s=(
            time_raw
            if spec.time_divisor is None
            else list(map(operator.truediv, time_raw, repeat(spec.time_divisor)))
        ),
        lat=values[0::6],
        lon=values[1::6],
        speed_kmh=values[2::6],
        lon_acc_ms2=values[3::6],
        lat_acc_ms2=values[4::6],
    )


class RecordingParser:
    """Parses the lines of one file in order; knows its layout and counts after the pass.

    Usage: ``parser = RecordingParser(source); for row in parser.rows(lines): ...``.
    """

    def __init__(
        self,
        source: str,
        *,
        skip_invalid_rows: bool = False,
        on_skipped_row: Callable[[InvalidRowError], None] | None = None,
    ) -> None:
        """Prepare a pass over the file named ``source`` (used in messages)."""
        self.source = source
        self.skip_invalid_rows = skip_invalid_rows
        self.on_skipped_row = on_skipped_row
        self.spec: LayoutSpec | None = None
        self.n_vehicles = 0
        self.n_points = 0
        self.n_invalid_rows = 0

    @property
    def layout(self) -> Layout:
        """Header variant, known once the first line was read."""
        if self.spec is None:
            msg = "layout is known only after the header was read"
            raise RuntimeError(msg)
        return self.spec.layout

    def rows(self, lines: Iterable[bytes]) -> Iterator[WideRow]:
        """Yield the valid vehicle rows of ``lines`` (header included) in file order."""
        line_iter = iter(lines)
        self.spec = spec = detect_layout(next(line_iter, b""), source=self.source)
        for line_number, line in enumerate(line_iter, start=2):
            if not line or line.isspace():
                continue
            try:
                row = parse_wide_row(line, spec=spec, source=self.source, line_number=line_number)
            except InvalidRowError as error:
                if not self.skip_invalid_rows:
                    raise
                self.n_invalid_rows += 1
                if self.on_skipped_row is not None:
                    self.on_skipped_row(error)
                continue
            self.n_vehicles += 1
            self.n_points += len(row.time_s)
            yield row
