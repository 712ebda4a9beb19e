"""MeltanoLabs target-postgres 0.8.1, unchanged, with two accelerations measured in bench_load.py.

A `trajectories` record carries six arrays of thousands of numbers. Profiling the stock target
(benchmarks/bench_load.py --profile) shows two per-number costs dominating:

1. the SDK's reader parses every JSON number into a `Decimal` with the stdlib decoder;
2. psycopg's generic `ListDumper` formats arrays for COPY in Python, several µs per element.

Here JSON is decoded by msgspec with numbers as `float` (lossless for numbers of up to 15
significant digits: `repr` gives back the digits the tap wrote; pNEUMA values have at most 10),
and flat lists of numbers are formatted as PostgreSQL array text in one `join`. Everything else
(settings, schema handling, COPY, upserts, metadata columns) is the stock target's code.
`PNEUMA_TARGET_ACCELERATE=false` runs the stock code paths, for comparison.
"""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec.json
import psycopg
from psycopg.types.array import BaseListDumper, ListDumper
from singer_sdk.contrib.msgspec import MsgSpecReader, dec_hook
from singer_sdk.singerlib.exceptions import InvalidInputLine
from target_postgres.target import TargetPostgres

if TYPE_CHECKING:
    from psycopg.abc import Buffer, DumperKey
    from psycopg.adapt import PyFormat

logger = logging.getLogger(__name__)

ACCELERATE_ENV = "PNEUMA_TARGET_ACCELERATE"
_REPR_TYPES = frozenset({float, int})  # whose list repr is valid array text: `[1.5, 2]`
_NUMBER_TYPES = frozenset({float, int, Decimal})
NUMERIC_ARRAY_OID = 1231  # pg_type.oid of numeric[], fixed in every PostgreSQL
_decoder = msgspec.json.Decoder(dec_hook=dec_hook)


class FloatNumberReader(MsgSpecReader):
    """Singer reader decoding JSON with msgspec, numbers as float (see the module docstring)."""

    def deserialize_json(self, line: str) -> dict:
        """Decode one Singer message line.

        Raises:
            InvalidInputLine: The line is not JSON.
        """
        try:
            return _decoder.decode(line)  # type: ignore[no-any-return]
        except msgspec.DecodeError as error:
            msg = f"Unable to parse line as JSON: {line[:200]}"
            raise InvalidInputLine(msg) from error


class _NumberListKey:
    """Marks dumper keys of flat number lists (psycopg's own keys are `(list, element type)`)."""


class NumberListDumper(ListDumper):
    """Text dumper that formats a flat list of numbers as PostgreSQL array text in one pass.

    Such lists dump as `numeric[]` (the raw tables' type for JSON number arrays); lists holding
    anything else (None, strings, nested lists, booleans) take psycopg's own path.
    """

    number_kind: type | None = None

    def get_key(self, obj: list[Any], format: PyFormat) -> DumperKey:  # noqa: A002
        """One key per kind of flat number list, so one upgraded dumper serves them all."""
        if kind := _number_kind(obj):
            return (self.cls, _NumberListKey, kind)
        return super().get_key(obj, format)

    def upgrade(self, obj: list[Any], format: PyFormat) -> BaseListDumper:  # noqa: A002
        """A numeric[] dumper when `obj` is a flat list of numbers."""
        if not (kind := _number_kind(obj)):
            return super().upgrade(obj, format)
        dumper = type(self)(self.cls, self._tx)
        dumper.oid = NUMERIC_ARRAY_OID
        dumper.number_kind = kind
        return dumper

    def dump(self, obj: list[Any]) -> Buffer | None:
        """Format `obj` as PostgreSQL array text."""
        if self.number_kind is float:
            # repr of a float/int list is C code; array input allows the spaces after commas
            return ("{" + repr(obj)[1:-1] + "}").encode()
        if self.number_kind is Decimal:
            return ("{" + ",".join(map(str, obj)) + "}").encode()
        return super().dump(obj)


def _number_kind(obj: list[Any]) -> type | None:
    """The kind of a flat number list: float (floats, ints), Decimal (some Decimals), else None."""
    if not obj:
        return None
    types = set(map(type, obj))  # bool is its own type, so booleans are not numbers here
    if types <= _REPR_TYPES:
        return float
    if types <= _NUMBER_TYPES:
        return Decimal
    return None


class TargetPneumaPostgres(TargetPostgres):
    """The stock target; only the message reader differs (when accelerated)."""

    message_reader_class = FloatNumberReader


def accelerated(environ: dict[str, str] | None = None) -> bool:
    """Whether to use the accelerations (default yes)."""
    value = (environ if environ is not None else os.environ).get(ACCELERATE_ENV, "true")
    return value.strip().lower() not in {"0", "false", "no", "off"}


def cli() -> None:
    """Entry point `pneuma-target-postgres`: the target-postgres command line."""
    if not accelerated():
        TargetPostgres.cli()
        return
    # Registered on the global adapters map before the target opens any connection.
    psycopg.adapters.register_dumper(list, NumberListDumper)
    TargetPneumaPostgres.cli()
