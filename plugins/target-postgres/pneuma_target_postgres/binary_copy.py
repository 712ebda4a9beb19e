"""COPY in PostgreSQL's binary format, for batches whose columns all have a plain type.

Text COPY makes the server parse every number of every array with float8in: for pNEUMA's
arrays that is half of the server's work in a load (COPY of the raw rows of 5 M positions into
a table: 10.8 s as text, 5.9 s in binary, on the embedded server). In binary format it takes
each double's 8 bytes as they are, and the values stay bit for bit what the reader decoded.

A batch goes this way only when every column has a type `_encoder` knows (those of the raw
tables of tap-pneuma) and every value encodes exactly as text COPY would have stored it; else
`encode_rows` raises `NotBinaryEncodable` before anything is sent, and the caller sends the batch
as text. So the binary path changes how rows travel, never what lands.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import types as sqltypes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import sqlalchemy

# https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no OIDs, no extension
TRAILER = struct.pack(">h", -1)
NULL_FIELD = struct.pack(">i", -1)
FLOAT8_OID = 701
_FIELD_COUNT = struct.Struct(">h")
_LENGTH = struct.Struct(">i")
_ARRAY_HEADER = struct.Struct(">iiIii")  # ndim, has nulls, element type, length, lower bound
_ARRAY_ELEMENT = np.dtype([("length", ">i4"), ("value", ">f8")])
_POSTGRES_EPOCH = datetime(2000, 1, 1)  # noqa: DTZ001 - timestamp's binary form is naive
_MICROSECOND = timedelta(microseconds=1)
# what timestamp's text input reads the same way as datetime.fromisoformat: at most 6 decimals
# (PostgreSQL rounds a 7th, Python truncates it) and an offset that timestamp ignores
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)


class NotBinaryEncodable(ValueError):  # noqa: N818 - a signal to fall back, not a failure
    """A column type or value that binary COPY would not store as text COPY does."""


def _text(value: object) -> bytes:
    if not isinstance(value, str):
        raise NotBinaryEncodable(type(value).__name__)
    return value.encode()  # psycopg's client encoding is UTF-8


def _integer(size_format: str) -> Callable[[object], bytes]:
    packer = struct.Struct(size_format)

    def encode(value: object) -> bytes:
        if type(value) is not int:  # bool is not an integer here
            raise NotBinaryEncodable(type(value).__name__)
        try:
            return packer.pack(value)
        except struct.error as error:  # out of the column's range: let the server say so
            raise NotBinaryEncodable(str(error)) from error

    return encode


def _float8(value: object) -> bytes:
    if type(value) not in {float, int}:
        raise NotBinaryEncodable(type(value).__name__)
    return struct.pack(">d", value)


def _boolean(value: object) -> bytes:
    if type(value) is not bool:
        raise NotBinaryEncodable(type(value).__name__)
    return b"\x01" if value else b"\x00"


def _timestamp(value: object) -> bytes:
    """A `timestamp` (no time zone): like its text input, keep the wall clock, drop the offset."""
    if isinstance(value, str):
        if not _ISO_TIMESTAMP.fullmatch(value):
            raise NotBinaryEncodable(value)
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise NotBinaryEncodable(type(value).__name__)
    return struct.pack(">q", (value.replace(tzinfo=None) - _POSTGRES_EPOCH) // _MICROSECOND)


def _float8_array(value: object) -> bytes:
    """A one-dimensional `double precision[]` without nulls, each element as its 8 bytes.

    numpy converts each element with float(): ints round as float8in rounds their digits, a
    string of digits parses as the server would parse it, a nested list fails. A None would
    become NaN, so a list with one goes as text (where it is NULL). Booleans would store as 1
    and 0; the tap's schema makes these arrays numbers.
    """
    if not isinstance(value, list) or not value or None in value:
        reason = "not a flat list of numbers without nulls"
        raise NotBinaryEncodable(reason)
    elements = np.empty(len(value), dtype=_ARRAY_ELEMENT)
    elements["length"] = 8
    try:
        elements["value"] = np.fromiter(value, dtype=np.float64, count=len(value))
    except (TypeError, ValueError) as error:
        raise NotBinaryEncodable(str(error)) from error
    return _ARRAY_HEADER.pack(1, 0, FLOAT8_OID, len(value), 1) + elements.tobytes()


# most specific first: a BIGINT is also an Integer
_SCALAR_ENCODERS: tuple[tuple[type, Callable[[object], bytes]], ...] = (
    (sqltypes.BigInteger, _integer(">q")),
    (sqltypes.SmallInteger, _integer(">h")),
    (sqltypes.Integer, _integer(">i")),
    (sqltypes.Boolean, _boolean),
    (sqltypes.Double, _float8),  # float8 (postgresql.DOUBLE_PRECISION is one), not REAL
)


def _encoder(column_type: sqltypes.TypeEngine) -> Callable[[object], bytes]:
    """The binary encoder of one column type."""
    if isinstance(column_type, sqltypes.ARRAY):
        one_dimension = column_type.dimensions in {None, 1}
        if isinstance(column_type.item_type, sqltypes.Double) and one_dimension:
            return _float8_array
    elif isinstance(column_type, sqltypes.DateTime):
        if not column_type.timezone:  # timestamptz text without an offset reads the session's zone
            return _timestamp
    elif isinstance(column_type, sqltypes.String):
        if not isinstance(column_type, sqltypes.Enum):
            return _text
    else:
        for kind, encoder in _SCALAR_ENCODERS:
            if isinstance(column_type, kind):
                return encoder
    reason = f"column type {column_type!r}"
    raise NotBinaryEncodable(reason)


def encode_rows(columns: list[sqlalchemy.Column], rows: Iterable[dict[str, Any]]) -> bytes:
    """The whole COPY stream of `rows` (dicts by column name) in binary format.

    Raises:
        NotBinaryEncodable: A column's type or a value has no exact binary form here.
    """
    encoders = [(column.name, _encoder(column.type)) for column in columns]
    field_count = _FIELD_COUNT.pack(len(encoders))
    parts = [SIGNATURE]
    for row in rows:
        parts.append(field_count)
        for name, encode in encoders:
            value = row.get(name)
            if value is None:
                parts.append(NULL_FIELD)
                continue
            field = encode(value)
            parts.append(_LENGTH.pack(len(field)))
            parts.append(field)
    parts.append(TRAILER)
    return b"".join(parts)
