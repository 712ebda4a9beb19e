"""The Meltano definitions of the tap say what `tap-pneuma --about` says, setting by setting.

Three files declare the plugin to Meltano: the Hub definition (hub/tap-pneuma.yml), this
directory's dev project (meltano.yml) and the warehouse's project (../meltano.yml). The tap's
settings schema is the one source; each definition must match it in names, kinds, labels,
descriptions, defaults, options, `sensitive`, the required settings and the capabilities.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

TAP_DIR = Path(__file__).resolve().parents[1]
HUB_FILE = TAP_DIR / "hub" / "tap-pneuma.yml"
DEFINITIONS = {
    "hub": HUB_FILE,
    "tap dev project": TAP_DIR / "meltano.yml",
    "warehouse project": TAP_DIR.parent / "meltano.yml",
}
# JSON Schema type -> Meltano setting kind (a string with allowed values is `options`)
KINDS = {"array": "array", "object": "object", "boolean": "boolean", "integer": "integer"}
KINDS |= {"number": "decimal", "string": "string"}


@pytest.fixture(scope="module")
def about() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tap_pneuma", "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout)


def meltano_setting(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The Meltano setting that the tap's JSON schema of one setting implies."""
    json_type = schema.get("type", "string")
    if isinstance(json_type, list):
        json_type = next(t for t in json_type if t != "null")
    setting: dict[str, Any] = {"name": name, "kind": KINDS[json_type], "label": schema["title"]}
    if "enum" in schema:
        setting["kind"] = "options"
        setting["options"] = [{"label": v.capitalize(), "value": v} for v in schema["enum"]]
    if "default" in schema:
        setting["value"] = schema["default"]
    if schema.get("secret"):
        setting["sensitive"] = True
    setting["description"] = schema["description"]
    return setting


def plugin_definition(path: Path) -> dict[str, Any]:
    """The tap-pneuma extractor of a Hub file or a project's meltano.yml."""
    document = yaml.safe_load(path.read_text())
    if path == HUB_FILE:
        return document
    (plugin,) = [p for p in document["plugins"]["extractors"] if p["name"] == "tap-pneuma"]
    return plugin


@pytest.mark.parametrize("definition", DEFINITIONS, ids=str)
def test_settings_match_about(definition: str, about: dict[str, Any]) -> None:
    plugin = plugin_definition(DEFINITIONS[definition])
    expected = [meltano_setting(n, s) for n, s in about["settings"]["properties"].items()]
    assert plugin["settings"] == expected
    assert plugin["settings_group_validation"] == [about["settings"]["required"]]
    assert plugin["capabilities"] == about["capabilities"]
    assert plugin["executable"] == about["name"]


def test_hub_definition_installs_the_published_package() -> None:
    hub = plugin_definition(HUB_FILE)
    assert hub["pip_url"] == "tap-pneuma"
    assert hub["namespace"] == "tap_pneuma"
