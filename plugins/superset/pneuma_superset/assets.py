"""The dashboards as code: Superset's export bundle, unzipped into analyze/superset/assets.

The layout is exactly what `superset export-dashboards` zips (metadata.yaml, databases/,
datasets/, charts/, dashboards/), so the files can be diffed, reviewed and edited by hand. Only
the database connection differs between machines; the committed file holds the dev address
with Superset's password mask, and `bundle_for_import` puts in the configured one.
"""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from pneuma_superset.settings import Settings

SECTIONS = ("databases", "datasets", "charts", "dashboards")
METADATA_FILE = "metadata.yaml"
# Superset names these files <name>_<id>.yaml
ID_NAMED = {"datasets", "charts", "dashboards"}
# What the committed connection file says, whatever the exporting machine's warehouse is.
COMMITTED_WAREHOUSE_URI = "postgresql+psycopg2://pneuma_reader:XXXXXXXXXX@127.0.0.1:55432/pneuma"


def read_bundle(assets_dir: Path) -> dict[str, str]:
    """Every YAML file of the bundle by its path inside the bundle (`charts/x.yaml` …)."""
    if not (assets_dir / METADATA_FILE).is_file():
        msg = f"{assets_dir} holds no Superset export ({METADATA_FILE} is missing)"
        raise FileNotFoundError(msg)
    files = [assets_dir / METADATA_FILE]
    for section in SECTIONS:
        files += sorted((assets_dir / section).rglob("*.yaml"))
    return {path.relative_to(assets_dir).as_posix(): path.read_text() for path in files}


def database_files(bundle: dict[str, str]) -> list[str]:
    """Paths of the database connections in a bundle."""
    return [name for name in bundle if name.startswith("databases/")]


def bundle_for_import(
    assets_dir: Path, settings: Settings
) -> tuple[dict[str, str], dict[str, str]]:
    """The bundle with this machine's warehouse URI, and the reader's password per connection."""
    bundle = read_bundle(assets_dir)
    passwords = {}
    for name in database_files(bundle):
        config = yaml.safe_load(bundle[name])
        config["sqlalchemy_uri"] = settings.warehouse_uri(masked=True)
        bundle[name] = dump(config)
        passwords[name] = settings.reader_password
    return bundle, passwords


def bundle_of_type(bundle: dict[str, str], model: str) -> dict[str, str]:
    """The bundle as an export of `model` objects: each import command checks metadata's type."""
    metadata = yaml.safe_load(bundle[METADATA_FILE])
    return {**bundle, METADATA_FILE: dump({**metadata, "type": model})}


def normalise_export(files: Iterable[tuple[str, str]]) -> dict[str, str]:
    """An export as it is committed: nothing that depends on the exporting machine.

    Database ids differ between metadata DBs, and the import maps every reference by UUID, so
    ids are left out: from file names (`charts/Speed_12.yaml` -> `charts/Speed.yaml`), from
    chart params (the dataset's and the chart's own id, which the import sets) and from the
    dashboards' layout (chartId 0: the import fills in the new id). Then the dev connection
    address and no export timestamp.
    """
    bundle = {}
    for name, content in files:
        config = yaml.safe_load(content)
        section = name.split("/", 1)[0]
        if section == "databases":
            config["sqlalchemy_uri"] = COMMITTED_WAREHOUSE_URI
        elif section == "charts":
            for key in ("datasource", "slice_id"):
                config["params"].pop(key, None)
        elif section == "dashboards":
            for item in config["position"].values():
                if isinstance(item, dict) and item.get("type") == "CHART":
                    item["meta"]["chartId"] = 0
        elif name == METADATA_FILE:
            config.pop("timestamp", None)  # would change every export
        committed_name = re.sub(r"_\d+\.yaml$", ".yaml", name) if section in ID_NAMED else name
        bundle[committed_name] = dump(config)
    return bundle


def write_bundle(assets_dir: Path, bundle: dict[str, str]) -> None:
    """Replace the bundle in `assets_dir`: files of deleted objects go too."""
    for section in SECTIONS:
        shutil.rmtree(assets_dir / section, ignore_errors=True)
    for name, content in bundle.items():
        path = assets_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def dump(config: dict[str, Any]) -> str:
    """YAML as Superset writes it (keys sorted, block style), so exports diff cleanly."""
    return yaml.safe_dump(config, sort_keys=True, allow_unicode=True)
