"""Checks before Superset starts, so a bad configuration fails with one clear sentence.

Superset itself would start anyway and show each chart's database error in the browser; these
checks name the cause (warehouse down, reader role missing, marts not built, port taken) and the
command that fixes it, before anything is served.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import psycopg2
import yaml
from psycopg2 import sql

from pneuma_superset.settings import Settings, SupersetError

if TYPE_CHECKING:
    from collections.abc import Mapping

CONNECT_TIMEOUT_S = 5


def check_port_free(settings: Settings) -> None:
    """Fail when something already listens on Superset's address.

    Raises:
        SupersetError: The port is taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        taken = probe.connect_ex((settings.host, settings.port)) == 0
    if taken:
        msg = (
            f"Cannot serve Superset on {settings.host}:{settings.port}: the port is taken by "
            "another program (a Superset already running? stop it, or set SUPERSET_PORT)"
        )
        raise SupersetError(msg)


def dataset_queries(bundle: Mapping[str, str]) -> list[tuple[str, sql.Composable]]:
    """A query reading no rows per dataset: from its table, or its SQL for a virtual one."""
    queries: list[tuple[str, sql.Composable]] = []
    for name, content in sorted(bundle.items()):
        if not name.startswith("datasets/"):
            continue
        config = yaml.safe_load(content)
        if config.get("sql"):
            label = f"dataset {config['table_name']!r} (SQL)"
            query = sql.SQL("select * from ({}) as dataset limit 0").format(sql.SQL(config["sql"]))
        else:
            label = f"{config['schema']}.{config['table_name']}"
            query = sql.SQL("select * from {}.{} limit 0").format(
                sql.Identifier(config["schema"]), sql.Identifier(config["table_name"])
            )
        queries.append((label, query))
    return queries


def check_warehouse(settings: Settings, bundle: Mapping[str, str]) -> None:
    """Log in as the reader and read every table a dataset names.

    Raises:
        SupersetError: Unreachable, the role missing or refused, or the marts not readable.
    """
    where = (
        f"the warehouse at {settings.warehouse_address} (database {settings.warehouse_database!r})"
    )
    try:
        connection = psycopg2.connect(
            host=settings.warehouse_host,
            port=settings.warehouse_port,
            dbname=settings.warehouse_database,
            user=settings.reader_user,
            password=settings.reader_password,
            connect_timeout=CONNECT_TIMEOUT_S,
        )
    except psycopg2.OperationalError as error:
        reason = " ".join(str(error).split())
        if "password authentication failed" in reason or "role" in reason:
            # PostgreSQL answers a missing role like a wrong password, not to reveal which
            msg = (
                f"{where} refused the read-only role {settings.reader_user!r}: it is missing or "
                f"its password differs ({reason}). `meltano invoke postgres:ensure` creates it "
                "with the configured password."
            )
        else:
            msg = (
                f"Cannot reach {where}: {reason}. Start it with `make run` (or "
                "`meltano invoke postgres start`), or point PNEUMA_PG_HOST/PNEUMA_PG_PORT at it."
            )
        raise SupersetError(msg) from None
    try:
        with connection, connection.cursor() as cursor:
            for label, query in dataset_queries(bundle):
                _check_readable(cursor, settings, label, query)
    finally:
        connection.close()


def _check_readable(
    cursor: psycopg2.extensions.cursor, settings: Settings, label: str, query: sql.Composable
) -> None:
    try:
        cursor.execute(query)
    except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName) as error:
        msg = (
            f"{label} cannot be read in the warehouse at {settings.warehouse_address}: "
            f"{str(error).strip().splitlines()[0]}. Build the marts first (`make run`, or "
            "`meltano run pneuma-elt`)."
        )
        raise SupersetError(msg) from None
    except psycopg2.errors.InsufficientPrivilege as error:
        msg = (
            f"The read-only role {settings.reader_user!r} may not read {label}: "
            f"{str(error).strip().splitlines()[0]}. dbt grants it select on the marts as it "
            "builds them: rebuild them with the role in place (`meltano run pneuma-elt`)."
        )
        raise SupersetError(msg) from None
    finally:
        cursor.connection.rollback()
