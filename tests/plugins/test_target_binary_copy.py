"""plugins/target-postgres: binary COPY stores what text COPY stores, or steps aside."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
import sqlalchemy
from pneuma_target_postgres.binary_copy import NotBinaryEncodable, encode_rows
from pneuma_target_postgres.target import NumberListDumper
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from pneuma_postgres.server import ServerConfig

# the column types of tap-pneuma's raw tables, plus the other plain types the encoder takes
COLUMNS = [
    sqlalchemy.Column("name", sqlalchemy.Text()),
    sqlalchemy.Column("code", sqlalchemy.VARCHAR()),
    sqlalchemy.Column("big", sqlalchemy.BIGINT()),
    sqlalchemy.Column("medium", sqlalchemy.INTEGER()),
    sqlalchemy.Column("small", sqlalchemy.SMALLINT()),
    sqlalchemy.Column("flag", sqlalchemy.BOOLEAN()),
    sqlalchemy.Column("number", postgresql.DOUBLE_PRECISION()),
    sqlalchemy.Column("at", sqlalchemy.TIMESTAMP(timezone=False)),
    sqlalchemy.Column("values", postgresql.ARRAY(postgresql.DOUBLE_PRECISION())),
]
DDL = (
    "(name text, code varchar, big bigint, medium integer, small smallint, flag boolean,"
    ' number double precision, at timestamp, "values" double precision[])'
)
ROWS = [
    {
        "name": "20181024_d1_0830_0900 'quoted'; ü",
        "code": "x",
        "big": 2**62,
        "medium": -(2**31),
        "small": 32767,
        "flag": True,
        "number": -0.0,
        "at": "2026-12-02T11:54:35.904303+00:00",
        "values": [37.980162, 23.736128, 1e-05, 12345678.123456, -0.0, 0, 7],
    },
    {
        "name": "",
        "code": None,
        "big": 0,
        "medium": 1,
        "small": -1,
        "flag": False,
        "number": math.inf,
        "at": "2018-10-24 08:30:00.5+03:00",  # the offset: ignored by timestamp, as in text
        "values": [math.nan, -math.inf, 1.5],
    },
    {
        "name": "naive",
        "code": "y",
        "big": None,
        "medium": None,
        "small": None,
        "flag": None,
        "number": 3,
        "at": datetime(2018, 10, 24, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5))),
        "values": None,
    },
    {"name": "date only", "at": "2018-10-24", "values": [2**70]},
    {"name": "utc", "at": "2018-10-24T06:00:00Z"},
    {"name": "aware", "at": datetime(2018, 10, 24, 6, 0, tzinfo=UTC)},
]


def _stored(connection, table: str) -> list[tuple]:  # noqa: ANN001 - a psycopg connection
    return connection.execute(
        f'select name, code, big, medium, small, flag, number::text, at::text, "values"::text'  # noqa: S608
        f" from {table} order by name"
    ).fetchall()


def test_binary_copy_stores_exactly_what_text_copy_stores(scratch_db: ServerConfig) -> None:
    with scratch_db.connect() as connection:
        connection.execute(f"create table as_text {DDL}")
        connection.execute(f"create table as_binary {DDL}")
        names = [column.name for column in COLUMNS]
        quoted = ", ".join(f'"{name}"' for name in names)
        cursor = connection.cursor()
        cursor.adapters.register_dumper(list, NumberListDumper)
        with cursor.copy(f"copy as_text ({quoted}) from stdin") as copy:
            for row in ROWS:
                copy.write_row([row.get(name) for name in names])
        with connection.cursor().copy(
            f"copy as_binary ({quoted}) from stdin with (format binary)"
        ) as copy:
            copy.write(encode_rows(COLUMNS, ROWS))

        assert _stored(connection, "as_binary") == _stored(connection, "as_text")
        assert len(_stored(connection, "as_binary")) == len(ROWS)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (sqlalchemy.Column("at", sqlalchemy.TIMESTAMP(timezone=False)), "infinity"),
        # 7 decimals: the server rounds them, Python would truncate
        (
            sqlalchemy.Column("at", sqlalchemy.TIMESTAMP(timezone=False)),
            "2018-10-24T08:30:00.1234565",
        ),
        (sqlalchemy.Column("at", sqlalchemy.TIMESTAMP(timezone=True)), "2018-10-24T08:30:00"),
        (sqlalchemy.Column("v", postgresql.ARRAY(postgresql.DOUBLE_PRECISION())), [None, 1.0]),
        (sqlalchemy.Column("v", postgresql.ARRAY(postgresql.DOUBLE_PRECISION())), [[1.0]]),
        (sqlalchemy.Column("v", postgresql.ARRAY(postgresql.DOUBLE_PRECISION())), []),
        (sqlalchemy.Column("v", postgresql.ARRAY(sqlalchemy.Numeric())), [1.5]),
        (sqlalchemy.Column("n", sqlalchemy.Numeric()), 1.5),
        (sqlalchemy.Column("n", sqlalchemy.SMALLINT()), 2**15),
        (sqlalchemy.Column("n", sqlalchemy.BIGINT()), True),
        (sqlalchemy.Column("n", sqlalchemy.BIGINT()), "7"),
        (sqlalchemy.Column("j", postgresql.JSONB()), {"a": 1}),
    ],
)
def test_what_binary_copy_cannot_store_as_text_would_goes_as_text(
    column: sqlalchemy.Column, value: object
) -> None:
    with pytest.raises(NotBinaryEncodable):
        encode_rows([column], [{column.name: value}])
