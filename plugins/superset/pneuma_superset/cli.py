"""`pneuma-superset init|create-admin|import|export|check|serve`: the Meltano utility `superset-bi`.

Meltano exports the utility's settings as environment variables (see `settings.py`) and points
SUPERSET_CONFIG_PATH at analyze/superset/superset_config.py, which reads the same variables.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pneuma_superset import assets
from pneuma_superset.checks import check_port_free, check_warehouse
from pneuma_superset.settings import Settings, SupersetError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from flask import Flask

BIN_DIR = Path(sys.executable).parent
T = TypeVar("T")
# One process, threads for concurrent chart queries: the charts of a dashboard load in parallel,
# and the queries themselves run in PostgreSQL. Superset's long chart URLs need unlimited lines.
GUNICORN_OPTIONS = (
    "--workers=1",
    "--threads=8",
    "--timeout=120",
    "--limit-request-line=0",
    "--limit-request-field_size=0",
)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _in_app(work: Callable[[Flask], T]) -> T:
    """Run `work(app)` inside a Superset application context."""
    from superset.app import create_app  # noqa: PLC0415 - importing Superset reads the config

    app = create_app()
    with app.app_context():
        return work(app)


def init(settings: Settings) -> None:
    """Create or upgrade the metadata DB and Superset's roles, then the admin user."""
    _in_app(lambda _app: _init(settings))


def _init(settings: Settings) -> None:
    # `superset db upgrade` and `superset init` in this one process: each Superset start costs
    # ~20 s of CPU, so `serve` boots the application once to set up and import.
    from flask_migrate import upgrade  # noqa: PLC0415
    from superset import appbuilder, db, security_manager  # noqa: PLC0415

    upgrade()
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    db.session.commit()
    _create_admin(settings)


def _create_admin(settings: Settings) -> None:
    from superset import security_manager  # noqa: PLC0415

    user = security_manager.find_user(username=settings.admin_user)
    if user is None:
        security_manager.add_user(
            settings.admin_user,
            "Superset",
            "Admin",
            f"{settings.admin_user}@localhost",
            security_manager.find_role("Admin"),
            password=settings.admin_password,
        )
        _say(f"Created the admin user {settings.admin_user!r}")
    else:
        security_manager.reset_password(user.id, settings.admin_password)


def import_assets(settings: Settings) -> None:
    """Import the committed bundle, overwriting the objects it holds (matched by UUID)."""
    _in_app(lambda _app: _import(settings))


def _import(settings: Settings) -> None:
    from flask import g  # noqa: PLC0415
    from superset import security_manager  # noqa: PLC0415
    from superset.commands.chart.importers.v1 import ImportChartsCommand  # noqa: PLC0415
    from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand  # noqa: PLC0415
    from superset.commands.database.importers.v1 import ImportDatabasesCommand  # noqa: PLC0415
    from superset.commands.dataset.importers.v1 import ImportDatasetsCommand  # noqa: PLC0415
    from superset.commands.exceptions import CommandInvalidError  # noqa: PLC0415

    bundle, passwords = assets.bundle_for_import(settings.assets_dir, settings)
    g.user = security_manager.find_user(username=settings.admin_user)
    # A dashboard import overwrites only the dashboards, never the charts, datasets and
    # connection it brings along; so each kind is imported by its own command, overwriting.
    commands = {
        "databases": ImportDatabasesCommand,
        "datasets": ImportDatasetsCommand,
        "charts": ImportChartsCommand,
        "dashboards": ImportDashboardsCommand,
    }
    for section, command in commands.items():
        contents = assets.bundle_of_type(bundle, command.dao.model_cls.__name__)
        try:
            command(contents, overwrite=True, passwords=passwords).run()
        except CommandInvalidError as error:
            msg = (
                f"Import of {settings.assets_dir} failed ({section}): {error.normalized_messages()}"
            )
            raise SupersetError(msg) from None
    counts = dict.fromkeys(assets.SECTIONS, 0)
    for name in bundle:
        section = name.split("/", 1)[0]
        if section in counts:
            counts[section] += 1
    _say(
        f"Imported {settings.assets_dir}: "
        + ", ".join(f"{count} {section}" for section, count in counts.items())
    )


def export_assets(settings: Settings) -> None:
    """Write every dashboard (with its charts, datasets, connection) back to the assets folder."""

    def work(_app: Flask) -> list[tuple[str, str]]:
        from flask import g  # noqa: PLC0415
        from superset import db, security_manager  # noqa: PLC0415
        from superset.commands.dashboard.export import ExportDashboardsCommand  # noqa: PLC0415
        from superset.models.dashboard import Dashboard  # noqa: PLC0415

        g.user = security_manager.find_user(username=settings.admin_user)
        ids = [id_ for (id_,) in db.session.query(Dashboard.id).order_by(Dashboard.id)]
        return [(name, content()) for name, content in ExportDashboardsCommand(ids).run()]

    bundle = assets.normalise_export(_in_app(work))
    assets.write_bundle(settings.assets_dir, bundle)
    _say(f"Exported {len(bundle)} files to {settings.assets_dir}: review them with `git diff`")


def check(settings: Settings, *, port: bool) -> None:
    """The warehouse answers the reader, who can read every dataset; the port is free."""
    check_warehouse(settings, assets.read_bundle(settings.assets_dir))
    _say(
        f"Warehouse {settings.warehouse_address}, database {settings.warehouse_database!r}: "
        f"every dataset readable as {settings.reader_user!r}"
    )
    if port:
        check_port_free(settings)


def serve(settings: Settings) -> None:
    """Check, initialise, import, then replace this process with gunicorn serving the UI."""
    check_port_free(settings)
    check(settings, port=False)

    def set_up(_app: Flask) -> None:
        _init(settings)
        _import(settings)

    _in_app(set_up)
    _say(f"Superset: {settings.url}  (health: {settings.url}/health)")
    _say(
        f"  log in as {settings.admin_user!r}; password in {settings.home / 'admin_password'}"
        if not os.environ.get("SUPERSET_ADMIN_PASSWORD")
        else f"  log in as {settings.admin_user!r} with SUPERSET_ADMIN_PASSWORD"
    )
    gunicorn = str(BIN_DIR / "gunicorn")
    os.execv(  # noqa: S606 - the server takes this process over, so signals reach it directly
        gunicorn,
        [
            gunicorn,
            f"--bind={settings.host}:{settings.port}",
            *GUNICORN_OPTIONS,
            "superset.app:create_app()",
        ],
    )


COMMANDS: dict[str, Callable[[Settings], None]] = {
    "init": init,
    "create-admin": lambda settings: _in_app(lambda _app: _create_admin(settings)),
    "import": import_assets,
    "export": export_assets,
    "check": lambda settings: check(settings, port=False),
    "serve": serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit non-zero with a one-line reason on failure."""
    parser = argparse.ArgumentParser(prog="pneuma-superset", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](Settings.from_env())
    except (SupersetError, FileNotFoundError) as error:
        sys.stderr.write(f"pneuma-superset {args.command}: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
