"""The read-only role of BI tools (Superset connects as it): it may read the marts, nothing else.

`ensure` creates or updates it. Its privileges on the marts come from dbt's `grants` config
(transform/dbt_project.yml), which grants `select` on every published model as it builds it;
this module gives it only the right to log in. Reading the raw schema or the intermediate views,
writing and creating objects fail for lack of privileges, and every transaction of the role is
read-only besides (default_transaction_read_only), so even a grant made by mistake cannot let
it write.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from pneuma_postgres.errors import PostgresError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pneuma_postgres.server import ServerConfig

DEFAULT_READER_USER = "pneuma_reader"
# A dashboard query that runs longer is a mistake, not a report: stop it before it loads the server.
READER_STATEMENT_TIMEOUT = "120s"


@dataclass(frozen=True)
class ReaderConfig:
    """Name and password of the read-only role; from PNEUMA_READER_* variables."""

    user: str
    password: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReaderConfig:
        """PNEUMA_READER_PASSWORD, else the password kept in PNEUMA_READER_PASSWORD_FILE.

        In dev the file is .meltano/postgres/reader_password, generated on first use; prod sets
        PNEUMA_READER_PASSWORD (Meltano's strict mode stops a run where it is unset).

        Raises:
            PostgresError: Neither a password nor a file to keep one in is configured.
        """
        env = os.environ if env is None else env
        user = env.get("PNEUMA_READER_USER") or DEFAULT_READER_USER
        password = env.get("PNEUMA_READER_PASSWORD") or ""
        if not password:
            file_name = env.get("PNEUMA_READER_PASSWORD_FILE")
            if not file_name:
                msg = (
                    f"no password for the read-only role {user!r}: set PNEUMA_READER_PASSWORD "
                    "or PNEUMA_READER_PASSWORD_FILE"
                )
                raise PostgresError(msg)
            password = generated_password(Path(file_name))
        return cls(user=user, password=password)


def generated_password(path: Path) -> str:
    """The password kept in `path` (mode 0600), generated when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def ensure_reader_role(config: ServerConfig, reader: ReaderConfig) -> bool:
    """Create the read-only role, or bring an existing one to the configured password and limits.

    Returns:
        True if the role was created.

    Raises:
        PostgresError: The configured user may not create or alter roles.
    """
    role = sql.Identifier(reader.user)
    with config.connect() as connection:
        exists = connection.execute(
            "select 1 from pg_roles where rolname = %s", [reader.user]
        ).fetchone()
        try:
            if not exists:
                connection.execute(sql.SQL("create role {}").format(role))
            # DDL takes no bound parameters: the password goes in as a quoted literal.
            connection.execute(
                sql.SQL(
                    "alter role {} with login nosuperuser nocreatedb nocreaterole noinherit"
                    " noreplication nobypassrls password {}"
                ).format(role, sql.Literal(reader.password))
            )
            connection.execute(
                sql.SQL("alter role {} set default_transaction_read_only = on").format(role)
            )
            connection.execute(
                sql.SQL("alter role {} set statement_timeout = {}").format(
                    role, sql.Literal(READER_STATEMENT_TIMEOUT)
                )
            )
            connection.execute(
                sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(config.database), role
                )
            )
        except psycopg.Error as error:
            msg = (
                f"Cannot set up the read-only role {reader.user!r} on {config.address} as "
                f"{config.user!r}: {' '.join(str(error).split())}"
            )
            raise PostgresError(msg) from None
    return not exists
