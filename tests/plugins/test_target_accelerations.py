"""plugins/target-postgres: float arrays, the number-array dumper and the float reader."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import TYPE_CHECKING

import psycopg
import pytest
from pneuma_target_postgres.target import (
    FLOAT8_ARRAY_OID,
    NUMERIC_ARRAY_OID,
    FloatNumberReader,
    NumberListDumper,
    PneumaPostgresConnector,
    accelerated,
)
from psycopg.adapt import AdaptersMap, PyFormat, Transformer
from singer_sdk.singerlib.exceptions import InvalidInputLine
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from pneuma_postgres.server import ServerConfig


@pytest.fixture
def adapters() -> AdaptersMap:
    mapping = AdaptersMap(psycopg.adapters)
    mapping.register_dumper(list, NumberListDumper)
    return mapping


@pytest.mark.parametrize(
    ("values", "text", "oid"),
    [
        ([1.5, 2, 3.25], b"{1.5,2,3.25}", FLOAT8_ARRAY_OID),
        ([1e-05, 1e16, -0.0], b"{0.00001,1e16,-0.0}", FLOAT8_ARRAY_OID),
        ([math.nan, -math.inf, 1.0], b"{nan,-inf,1.0}", FLOAT8_ARRAY_OID),  # float8in reads these
        ([Decimal("1.10"), 2], b"{1.10,2}", NUMERIC_ARRAY_OID),
    ],
)
def test_flat_number_lists_dump_in_one_pass(
    adapters: AdaptersMap, values: list, text: bytes, oid: int
) -> None:
    dumper = Transformer(adapters).get_dumper(values, PyFormat.TEXT)
    assert dumper.oid == oid
    assert bytes(dumper.dump(values)) == text


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ([None, 1.0], b"{NULL,1.0}"),
        (["a", "b,c"], b'{a,"b,c"}'),
        ([True, False], b"{t,f}"),
        ([[1.0, 2.0]], b"{{1.0,2.0}}"),
    ],
)
def test_other_lists_take_psycopgs_own_path(
    adapters: AdaptersMap, values: list, text: bytes
) -> None:
    dumper = Transformer(adapters).get_dumper(values, PyFormat.TEXT)
    assert getattr(dumper, "number_kind", None) is None  # not the one-pass formatter
    assert bytes(dumper.dump(values)) == text


@pytest.mark.parametrize("column_type", ["double precision[]", "numeric[]"])
def test_copy_round_trips_number_arrays_exactly(scratch_db: ServerConfig, column_type: str) -> None:
    # as the tap writes them; a double's shortest repr (PostgreSQL's float8 output) is the text
    written = "[37.980162, 23.736128, 595.04, 0.0, -0.1076, 1e-05, 12345678.123456, 0.04]"
    values = FloatNumberReader().deserialize_json(json.dumps({"v": json.loads(written)}))["v"]
    with scratch_db.connect() as connection:
        connection.adapters.register_dumper(list, NumberListDumper)
        connection.execute(f"create table arrays (v {column_type})")
        with connection.cursor().copy("copy arrays (v) from stdin") as copy:
            copy.write_row([values])
        stored = connection.execute("select v::text[] from arrays").fetchone()
    assert stored is not None
    # by value (PostgreSQL prints 0.0 as 0, numeric keeps 1e-05 as 0.00001)
    assert [Decimal(text) for text in stored[0]] == [
        Decimal(text) for text in written.strip("[]").split(", ")
    ]


@pytest.mark.parametrize(
    ("schema", "sql_type"),
    [
        (
            {
                "type": "array",
                "items": {"type": ["number"]},
                "x-sql-datatype": "double precision[]",
            },
            "DOUBLE PRECISION[]",
        ),
        ({"type": "array", "items": {"type": ["number"]}}, "DECIMAL[]"),  # numeric[]
        ({"type": "integer"}, "BIGINT"),
    ],
)
def test_the_float_array_hint_maps_to_double_precision(schema: dict, sql_type: str) -> None:
    connector = PneumaPostgresConnector(config={"sqlalchemy_url": "postgresql+psycopg://"})
    assert connector.to_sql_type(schema).compile(dialect=postgresql.dialect()) == sql_type


def test_reader_rejects_a_line_that_is_not_json() -> None:
    with pytest.raises(InvalidInputLine, match="Unable to parse line as JSON"):
        FloatNumberReader().deserialize_json('{"type": "RECORD", ')


def test_accelerations_can_be_turned_off() -> None:
    assert accelerated({})
    assert not accelerated({"PNEUMA_TARGET_ACCELERATE": "false"})
