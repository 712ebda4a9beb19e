"""`pneuma-postgres start|stop|status|ensure|summary|url`: the Meltano utility `postgres`.

Meltano exports the plugin's settings as PNEUMA_PG_* variables; this command reads only those.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from psycopg import sql

from pneuma_postgres.reader import ReaderConfig, ensure_reader_role
from pneuma_postgres.server import (
    EmbeddedServer,
    PostgresError,
    ServerConfig,
    check_reachable,
    ensure_database,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _connection_help(config: ServerConfig, server: EmbeddedServer | None) -> str:
    # The embedded server is local and its password is the dev default, so the URL is printed
    # whole for copy and paste; an external server's password is never printed.
    url = config.url(show_password=server is not None)
    lines = [f"  url:  {url}"]
    if server is not None:
        lines.append(f"  psql: {server.bin_dir / 'psql'} '{url}'")
        lines.append(f"  data: {server.data_dir} (log: {server.log_file})")
    return "\n".join(lines)


def _start(config: ServerConfig) -> None:
    server = EmbeddedServer(config)
    started = server.start()
    created = ensure_database(config)
    verb = "Started" if started else "Already running:"
    _say(f"{verb} embedded PostgreSQL on {config.address}")
    if created:
        _say(f"Created database {config.database!r}")
    _ensure_reader(config)
    _say(_connection_help(config, server))


def _ensure_reader(config: ServerConfig) -> None:
    reader = ReaderConfig.from_env()
    if ensure_reader_role(config, reader):
        _say(f"Created the read-only role {reader.user!r} (it reads the marts only)")


def _stop(config: ServerConfig) -> None:
    server = EmbeddedServer(config)
    if server.stop():
        _say(f"Stopped embedded PostgreSQL ({server.data_dir})")
    else:
        _say(f"Embedded PostgreSQL was not running ({server.data_dir})")


def _status(config: ServerConfig) -> int:
    if not config.embedded:
        version = check_reachable(config)
        _say(f"External PostgreSQL {version} reachable at {config.address}")
        _say(_connection_help(config, None))
        return 0
    server = EmbeddedServer(config)
    if not server.is_running():
        _say(f"Embedded PostgreSQL is not running ({server.data_dir}); start it with:")
        _say("  meltano invoke postgres start")
        return 3  # pg_ctl's exit status for "not running"
    version = check_reachable(config)
    _say(f"Embedded PostgreSQL {version} running on {config.address}")
    _say(_connection_help(config, server))
    return 0


def _ensure(config: ServerConfig) -> None:
    if config.embedded:
        _start(config)
        return
    # prod: nothing embedded starts; the pipeline must not begin against a server it cannot use.
    version = check_reachable(config)
    _say(f"External PostgreSQL {version} at {config.address}, database {config.database!r}: OK")
    _ensure_reader(config)


# The summary reads the warehouse's public interface, the marts, and never re-derives their
# rules (e.g. which version of a recording is current) from the raw schema.
RECORDINGS_MART = ("analytics_marts", "dim_recordings")

HOLDS_SQL = sql.SQL("""
select
    count(*) as recordings,
    coalesce(sum(n_vehicles), 0) as vehicles,
    coalesce(sum(n_positions), 0) as positions
from {}
""").format(sql.Identifier(*RECORDINGS_MART))

SCHEMAS_SQL = """
select table_schema, count(*) from information_schema.tables
where table_schema not in ('pg_catalog', 'information_schema')
group by table_schema order by table_schema
"""


def _summary(config: ServerConfig) -> None:
    mart = ".".join(RECORDINGS_MART)
    with config.connect() as connection:
        built = connection.execute("select to_regclass(%s) is not null", [mart]).fetchone()
        if not built or not built[0]:
            msg = (
                f"nothing built yet: no {mart} in {config.database!r} "
                "(meltano run pneuma-elt builds it)"
            )
            raise PostgresError(msg)
        row = connection.execute(HOLDS_SQL).fetchone()
        schemas = connection.execute(SCHEMAS_SQL).fetchall()
    recordings, vehicles, positions = row or (0, 0, 0)
    _say(
        f"The warehouse holds {recordings:,} recordings, {vehicles:,} vehicles, "
        f"{positions:,} positions ({mart}) in PostgreSQL {config.address}, "
        f"database {config.database!r}"
    )
    _say("Schemas: " + ", ".join(f"{name} ({count} tables)" for name, count in schemas))
    server = EmbeddedServer(config) if config.embedded else None
    _say("Connect with psql or a BI tool:")
    _say(_connection_help(config, server))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit non-zero with a one-line reason on failure."""
    parser = argparse.ArgumentParser(prog="pneuma-postgres", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "ensure", "summary", "url"])
    args = parser.parse_args(argv)
    try:
        config = ServerConfig.from_env()
        if args.command in {"start", "stop"} and not config.embedded:
            msg = (
                f"`{args.command}` manages the embedded server, which is disabled here "
                f"(PNEUMA_PG_EMBEDDED=false); the configured server is {config.address}"
            )
            raise PostgresError(msg)  # noqa: TRY301
        if args.command == "start":
            _start(config)
        elif args.command == "stop":
            _stop(config)
        elif args.command == "status":
            return _status(config)
        elif args.command == "ensure":
            _ensure(config)
        elif args.command == "summary":
            _summary(config)
        else:
            _say(config.url(show_password=config.embedded))
    except PostgresError as error:
        sys.stderr.write(f"pneuma-postgres {args.command}: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
