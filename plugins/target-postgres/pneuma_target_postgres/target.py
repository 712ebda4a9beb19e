"""MeltanoLabs target-postgres 0.8.1 with one type hint and five accelerations (bench_load.py).

The type: a property whose JSON schema carries `"x-sql-datatype": "double precision[]"` (the
tap's number arrays) becomes a `double precision[]` column instead of `numeric[]`, so the
warehouse expands it without a cast. Always on: the raw tables have one type whatever the mode.

A `trajectories` record carries six arrays of thousands of numbers. Profiling the stock target
(benchmarks/bench_load.py --profile) shows three costs dominating:

1. the SDK's reader parses every JSON number into a `Decimal` with the stdlib decoder;
2. psycopg's generic `ListDumper` formats arrays for COPY in Python, several µs per element;
3. the upsert inserts the new rows, then updates every row of the batch, the new ones too:
   each new vehicle's arrays are written twice and leave a dead tuple behind.

Here JSON is decoded by msgspec with numbers as `float` (lossless for numbers of up to 15
significant digits: the shortest repr gives back the digits the tap wrote; pNEUMA values have at
most 10), and the upsert updates the rows that already existed before it inserts the new ones
(the same end state). With the first two costs gone, the server's parsing of every number of the
COPY text (float8in) was half of its work: a batch whose columns all have a plain type goes by
binary COPY (binary_copy.py), each double as its 8 bytes. Other batches go as text, their flat
lists of numbers formatted as PostgreSQL array text in one msgspec call (shortest round-trip
digits, 15x faster than `repr` of the list). And each batch loads on a thread of the sink's own
while the target reads the next (background_batches.py).
Everything else (settings, schema handling, COPY, metadata columns) is the stock target's code.
`PNEUMA_TARGET_ACCELERATE=false` runs the stock code paths, for comparison.
"""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

import msgspec.json
import psycopg
import sqlalchemy
from psycopg.types.array import BaseListDumper, ListDumper
from singer_sdk.contrib.msgspec import MsgSpecReader, dec_hook
from singer_sdk.singerlib.exceptions import InvalidInputLine
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION
from target_postgres.connector import PostgresConnector
from target_postgres.sinks import PostgresSink
from target_postgres.target import TargetPostgres

from pneuma_target_postgres.background_batches import LoadsInBackground, WaitsForBatches
from pneuma_target_postgres.binary_copy import NotBinaryEncodable, encode_rows

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from psycopg.abc import Buffer, DumperKey
    from psycopg.adapt import PyFormat
    from singer_sdk.sql.connector import JSONSchemaToSQL

logger = logging.getLogger(__name__)

ACCELERATE_ENV = "PNEUMA_TARGET_ACCELERATE"
_JSON_TYPES = frozenset({float, int})  # whose JSON list is array text but for the brackets
_NUMBER_TYPES = frozenset({float, int, Decimal})
NUMERIC_ARRAY_OID = 1231  # pg_type.oid of numeric[], fixed in every PostgreSQL
FLOAT8_ARRAY_OID = 1022  # pg_type.oid of double precision[]
FLOAT8_ARRAY_SQL_DATATYPE = "double precision[]"  # the `x-sql-datatype` the tap writes
_decoder = msgspec.json.Decoder(dec_hook=dec_hook)
_encoder = msgspec.json.Encoder()


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

    Float lists dump as `double precision[]`, lists with Decimals as `numeric[]` (COPY text is
    parsed by the column's type either way); lists holding anything else (None, strings, nested
    lists, booleans) take psycopg's own path.
    """

    number_kind: type | None = None

    def get_key(self, obj: list[Any], format: PyFormat) -> DumperKey:  # noqa: A002
        """One key per kind of flat number list, so one upgraded dumper serves them all."""
        if kind := _number_kind(obj):
            return (self.cls, _NumberListKey, kind)
        return super().get_key(obj, format)

    def upgrade(self, obj: list[Any], format: PyFormat) -> BaseListDumper:  # noqa: A002
        """A one-pass dumper when `obj` is a flat list of numbers."""
        if not (kind := _number_kind(obj)):
            return super().upgrade(obj, format)
        dumper = type(self)(self.cls, self._tx)
        dumper.oid = FLOAT8_ARRAY_OID if kind is float else NUMERIC_ARRAY_OID
        dumper.number_kind = kind
        return dumper

    def dump(self, obj: list[Any]) -> Buffer | None:
        """Format `obj` as PostgreSQL array text."""
        if self.number_kind is float:
            text = _encoder.encode(obj)  # `[1.5,2,1e16]`: shortest round-trip digits
            if b"null" not in text:  # JSON has no NaN or infinity: msgspec writes them as null
                return b"{" + text[1:-1] + b"}"
            return super().dump(obj)
        if self.number_kind is Decimal:
            return ("{" + ",".join(map(str, obj)) + "}").encode()
        return super().dump(obj)


def _number_kind(obj: list[Any]) -> type | None:
    """The kind of a flat number list: float (floats, ints), Decimal (some Decimals), else None."""
    if not obj:
        return None
    types = set(map(type, obj))  # bool is its own type, so booleans are not numbers here
    if types <= _JSON_TYPES:
        return float
    if types <= _NUMBER_TYPES:
        return Decimal
    return None


class PneumaPostgresConnector(PostgresConnector):
    """The stock connector, plus the `double precision[]` type hint."""

    @cached_property
    def jsonschema_to_sql(self) -> JSONSchemaToSQL:
        """The stock mapping from JSON schema to SQL types, plus the float array hint."""
        to_sql = super().jsonschema_to_sql
        to_sql.register_sql_datatype_handler(
            FLOAT8_ARRAY_SQL_DATATYPE, lambda _schema: ARRAY(DOUBLE_PRECISION())
        )
        return to_sql


class PneumaPostgresSink(PostgresSink):
    """The stock sink on the connector above (type hint only, stock upsert)."""

    connector_class = PneumaPostgresConnector


class AcceleratedSink(LoadsInBackground, PneumaPostgresSink):
    """The accelerated sink: a batch loads while the target reads on, by binary COPY, one write.

    Binary COPY where it is exact (else text), and an upsert that writes each row once.
    """

    _copy_table: sqlalchemy.Table | None = None

    def bulk_insert_records(  # type: ignore[override]
        self,
        table: sqlalchemy.Table,
        schema: dict,
        records: Iterable[dict[str, Any]],
        primary_keys: Sequence[str],
        connection: sqlalchemy.engine.Connection,
    ) -> int | None:
        """The stock bulk insert, noting the table it copies into for `_do_copy`."""
        self._copy_table = table
        try:
            return super().bulk_insert_records(table, schema, records, primary_keys, connection)
        finally:
            self._copy_table = None

    def _do_copy(
        self,
        connection: sqlalchemy.engine.Connection,
        copy_statement: str,
        columns: list[sqlalchemy.Column],
        data_to_copy: list[dict[str, Any]],
    ) -> None:
        """Send the batch in binary format when every value has an exact binary form, else as text.

        The binary encoders follow the types of the table being copied into (the temp table is
        a copy of the real one), not the types the schema would give a new column.
        """
        if self._copy_table is not None:
            table_columns = [self._copy_table.columns[column.name] for column in columns]
            try:
                stream = encode_rows(table_columns, data_to_copy)
            except NotBinaryEncodable as reason:
                logger.debug("text COPY for %s: %s", self._copy_table.name, reason)
            else:
                with connection.connection.cursor().copy(
                    f"{copy_statement} WITH (FORMAT binary)"
                ) as copy:
                    copy.write(stream)
                return
        super()._do_copy(connection, copy_statement, columns, data_to_copy)

    def upsert(
        self,
        from_table: sqlalchemy.Table,
        to_table: sqlalchemy.Table,
        schema: dict,
        join_keys: Sequence[str],
        connection: sqlalchemy.engine.Connection,
    ) -> int | None:
        """Merge the batch's temp table into the table, touching each row once.

        The stock upsert inserts the new keys first and then updates every key of the batch,
        rewriting the rows it has just inserted. Updating first reaches only the rows that were
        already there; the insert then adds the keys that are still missing.
        """
        if self.append_only or not join_keys:
            return super().upsert(from_table, to_table, schema, join_keys, connection)
        matches = sqlalchemy.and_(
            *(from_table.columns[key] == to_table.columns[key] for key in join_keys)
        )
        connection.execute(
            sqlalchemy.update(to_table)
            .where(matches)
            .values(
                {to_table.columns[name]: from_table.columns[name] for name in schema["properties"]}
            )
        )
        missing = sqlalchemy.select(from_table.columns).where(~sqlalchemy.exists().where(matches))
        connection.execute(
            sqlalchemy.insert(to_table).from_select(names=from_table.columns, select=missing)
        )
        return None


class StockTargetPostgres(TargetPostgres):
    """The stock target, reader and upsert included, on the connector with the type hint."""

    default_sink_class = PneumaPostgresSink


class TargetPneumaPostgres(WaitsForBatches, TargetPostgres):
    """The accelerated target: msgspec reader, batches in background, binary COPY, one write."""

    message_reader_class = FloatNumberReader
    default_sink_class = AcceleratedSink


def accelerated(environ: dict[str, str] | None = None) -> bool:
    """Whether to use the accelerations (default yes)."""
    value = (environ if environ is not None else os.environ).get(ACCELERATE_ENV, "true")
    return value.strip().lower() not in {"0", "false", "no", "off"}


def cli() -> None:
    """Entry point `pneuma-target-postgres`: the target-postgres command line."""
    if not accelerated():
        StockTargetPostgres.cli()
        return
    # Registered on the global adapters map before the target opens any connection.
    psycopg.adapters.register_dumper(list, NumberListDumper)
    TargetPneumaPostgres.cli()
