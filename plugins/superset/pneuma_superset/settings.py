"""The utility's settings, as Meltano exports them (see the `superset-bi` entry of meltano.yml)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from collections.abc import Mapping


class SupersetError(RuntimeError):
    """A problem with the configuration or the warehouse, worded for whoever starts Superset."""


def generated_secret(path: Path) -> str:
    """The secret kept in `path` (mode 0600), generated when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    """Where Superset keeps its state and how it reaches the warehouse."""

    home: Path
    assets_dir: Path
    host: str
    port: int
    admin_user: str
    admin_password: str
    warehouse_host: str
    warehouse_port: int
    warehouse_database: str
    reader_user: str
    reader_password_from_env: str
    reader_password_file: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; generate the admin password into SUPERSET_HOME when unset.

        Raises:
            SupersetError: A setting is missing or not a number where one is needed.
        """
        env = os.environ if env is None else env
        home = Path(env.get("SUPERSET_HOME") or Path.home() / ".superset")
        assets = env.get("PNEUMA_SUPERSET_ASSETS")
        if not assets:
            msg = "PNEUMA_SUPERSET_ASSETS is not set: run through `meltano invoke superset-bi:…`"
            raise SupersetError(msg)
        return cls(
            home=home,
            assets_dir=Path(assets),
            host=env.get("SUPERSET_HOST") or "127.0.0.1",
            port=_port(env, "SUPERSET_PORT", "8088"),
            admin_user=env.get("SUPERSET_ADMIN_USER") or "admin",
            admin_password=env.get("SUPERSET_ADMIN_PASSWORD")
            or generated_secret(home / "admin_password"),
            warehouse_host=env.get("PNEUMA_PG_HOST") or "127.0.0.1",
            warehouse_port=_port(env, "PNEUMA_PG_PORT", "55432"),
            warehouse_database=env.get("PNEUMA_PG_DATABASE") or "pneuma",
            reader_user=env.get("PNEUMA_READER_USER") or "pneuma_reader",
            reader_password_from_env=env.get("PNEUMA_READER_PASSWORD") or "",
            reader_password_file=Path(env.get("PNEUMA_READER_PASSWORD_FILE") or ""),
        )

    @property
    def reader_password(self) -> str:
        """PNEUMA_READER_PASSWORD, else the password `postgres:ensure` generated into its file.

        Raises:
            SupersetError: Neither is there.
        """
        if self.reader_password_from_env:
            return self.reader_password_from_env
        if not self.reader_password_file.is_file():
            msg = (
                f"No password for the read-only role {self.reader_user!r}: "
                f"{self.reader_password_file} does not exist and PNEUMA_READER_PASSWORD is "
                "unset. `meltano invoke postgres:ensure` creates the role and its password "
                "(`make run` does too)."
            )
            raise SupersetError(msg)
        return self.reader_password_file.read_text().strip()

    @property
    def url(self) -> str:
        """The UI's address."""
        return f"http://{self.host}:{self.port}"

    @property
    def warehouse_address(self) -> str:
        """`host:port` of the warehouse, as messages name it."""
        return f"{self.warehouse_host}:{self.warehouse_port}"

    def warehouse_uri(self, *, masked: bool = True) -> str:
        """SQLAlchemy URI of the warehouse as the reader; Superset's mask for the password."""
        return URL.create(
            "postgresql+psycopg2",
            username=self.reader_user,
            password="XXXXXXXXXX" if masked else self.reader_password,
            host=self.warehouse_host,
            port=self.warehouse_port,
            database=self.warehouse_database,
        ).render_as_string(hide_password=False)


def _port(env: Mapping[str, str], name: str, default: str) -> int:
    text = env.get(name) or default
    try:
        return int(text)
    except ValueError:
        msg = f"{name} must be a port number, got {text!r}"
        raise SupersetError(msg) from None
