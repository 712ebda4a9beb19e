"""tap-pneuma as published: `make dist`, the wheel alone in a fresh venv, and the Hub definition.

Nothing here reaches a package index: uv runs offline from its cache, which `make install` has
filled with every dependency of the tap, and finds the built wheel through UV_FIND_LINKS.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from tap_pneuma import synthetic

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TAP_DIR = PROJECT_ROOT / "tap-pneuma"
BIN_DIR = PROJECT_ROOT / ".venv" / "bin"
UV = BIN_DIR / "uv"
TIMEOUT_S = 600
STREAMS = ["recordings", "trajectories", "vehicles"]
VEHICLES = 3  # generated in one recording
EXPECTED_RECORDS = {"recordings": 1, "trajectories": VEHICLES, "vehicles": VEHICLES}


@dataclass
class Dist:
    """What `make dist` built."""

    directory: Path
    sdist: Path
    wheel: Path
    version: str
    output: str


def offline_env(**extra: str) -> dict[str, str]:
    """This environment without the project's venv and Meltano settings, uv offline."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MELTANO_", "TAP_PNEUMA_", "UV_")) and key != "VIRTUAL_ENV"
    }
    env |= {"UV_OFFLINE": "1", "NO_COLOR": "1"}
    return env | extra


def run(*args: str | Path | int, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command offline and return its standard output; fail the test when it fails."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=offline_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    command = " ".join(map(str, args))
    assert result.returncode == 0, (
        f"{command} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """`make dist` into a directory of the test's own."""
    directory = tmp_path_factory.mktemp("dist")
    output = run(
        "make", "--no-print-directory", "-C", PROJECT_ROOT, "dist", f"TAP_DIST={directory}"
    )
    (sdist,) = directory.glob("*.tar.gz")
    (wheel,) = directory.glob("*.whl")
    version = wheel.name.split("-")[1]
    return Dist(directory, sdist, wheel, version, output)


def test_make_dist_builds_an_sdist_and_a_wheel_that_pass_twine_check_strict(dist: Dist) -> None:
    assert dist.sdist.name == f"tap_pneuma-{dist.version}.tar.gz"
    # a warning or an error of `twine check --strict` fails `make dist`, hence the fixture
    assert "twine check --strict" in dist.output
    assert dist.output.count("PASSED") == 2
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"tap_pneuma-{dist.version}.dist-info/METADATA").decode()
        entry_points = wheel.read(f"tap_pneuma-{dist.version}.dist-info/entry_points.txt")
    assert {"tap_pneuma/tap.py", "tap_pneuma/py.typed"} <= names
    assert not [name for name in names if name.startswith("tests/")]
    assert "Description-Content-Type: text/markdown" in metadata
    assert "Requires-Dist: singer-sdk[msgspec]" in metadata
    assert b"tap-pneuma = tap_pneuma.tap:TapPneuma.cli" in entry_points
    with tarfile.open(dist.sdist) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "tap_pneuma/tap.py",
    } <= members
    assert {"hub/tap-pneuma.yml", "build-constraints.txt", "tests/test_core.py"} <= members
    assert not [name for name in members if name.startswith(("dist/", ".venv/", "data/"))]


def test_the_wheel_alone_in_a_fresh_venv_discovers_and_syncs(dist: Dist, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(UV, "venv", "--quiet", "--python", BIN_DIR / "python", venv)
    run(UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", dist.wheel)
    freeze = run(UV, "pip", "freeze", "--quiet", "--python", venv / "bin" / "python").lower()
    installed = dict(re.split(" @ |==", line, maxsplit=1) for line in freeze.splitlines())
    assert installed["tap-pneuma"].startswith(f"file://{dist.directory}/tap_pneuma-".lower())
    assert {"singer-sdk", "msgspec"} <= installed.keys()
    assert not {"pytest", "meltano"} & installed.keys()  # nothing but what it needs

    about = json.loads(run(venv / "bin" / "tap-pneuma", "--about", "--format=json"))
    assert about["name"] == "tap-pneuma"
    assert about["version"] == dist.version
    run(venv / "bin" / "pneuma-generate", tmp_path / "data", "--files", "1", "--vehicles", VEHICLES)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"files": [str(tmp_path / "data")]}))
    catalog = json.loads(run(venv / "bin" / "tap-pneuma", "--config", config, "--discover"))
    assert sorted(stream["tap_stream_id"] for stream in catalog["streams"]) == STREAMS
    messages = sync_messages(run(venv / "bin" / "tap-pneuma", "--config", config))
    assert records_per_stream(messages) == EXPECTED_RECORDS
    assert messages[-1]["type"] == "STATE"


def test_meltano_adds_the_tap_from_the_hub_definition_and_runs_it(
    dist: Dist, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "meltano.yml").write_text(
        yaml.safe_dump(
            {
                "project_id": "tap-pneuma-hub-test",
                "send_anonymous_usage_stats": False,
                "default_environment": "test",
                "environments": [{"name": "test"}],
                "venv": {"backend": "uv"},
            }
        )
    )
    hub_definition = TAP_DIR / "hub" / "tap-pneuma.yml"
    # `pip_url: tap-pneuma` resolves to the built wheel, as it would to the release on PyPI
    env = offline_env(UV_FIND_LINKS=str(dist.directory), PATH=f"{BIN_DIR}:{os.environ['PATH']}")
    meltano = [BIN_DIR / "meltano", "--no-environment"]
    add = ["add", "--plugin-type", "extractor", "tap-pneuma", "--from-ref", hub_definition]
    run(*meltano, *add, cwd=project, env=env)

    plugin = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]["extractors"][0]
    assert plugin["pip_url"] == "tap-pneuma"
    assert plugin["settings"] == yaml.safe_load(hub_definition.read_text())["settings"]
    plugin_venv = project / ".meltano" / "extractors" / "tap-pneuma" / "venv"
    (dist_info,) = plugin_venv.glob("lib/python*/site-packages/tap_pneuma-*.dist-info")
    assert dist_info.name == f"tap_pneuma-{dist.version}.dist-info"  # the wheel, from find-links

    synthetic.generate_files(tmp_path / "data", vehicles_per_file=VEHICLES)
    env["TAP_PNEUMA_FILES"] = json.dumps([str(tmp_path / "data")])
    messages = sync_messages(run(*meltano, "invoke", "tap-pneuma", cwd=project, env=env))
    assert records_per_stream(messages) == EXPECTED_RECORDS


def make_dist(*args: str) -> subprocess.CompletedProcess[str]:
    """`make dist` with the given variables, output merged."""
    return subprocess.run(
        ["make", "-C", str(PROJECT_ROOT), "--no-print-directory", "dist", *args],
        env=offline_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_a_release_takes_its_version_from_its_tag_and_needs_a_changelog_entry(
    tmp_path: Path,
) -> None:
    repository = tmp_path / "repository"
    source = repository / "tap-pneuma"
    shutil.copytree(
        TAP_DIR, source, ignore=shutil.ignore_patterns("dist", ".*", "__pycache__", "data")
    )
    git = ["git", "-C", repository, "-c", "user.name=test", "-c", "user.email=test@localhost"]
    run(*git, "init", "--quiet")
    run(*git, "add", "--all")
    run(*git, "commit", "--quiet", "--message", "tap-pneuma 1.4.0, without its changelog entry")
    run(*git, "tag", "tap-pneuma-v1.4.0")
    run(*git, "tag", "v9.0.0")  # a tag of the warehouse, not of the tap
    out_dir = tmp_path / "dist"

    refused = make_dist(f"TAP_SRC={source}", f"TAP_DIST={out_dir}")
    assert refused.returncode != 0
    assert f"{source}/CHANGELOG.md: no '## [1.4.0]' entry for release 1.4.0" in refused.stdout
    assert not out_dir.exists()

    changelog = source / "CHANGELOG.md"
    entry = "## [Unreleased]\n\n## [1.4.1] - 2026-12-01\n"
    changelog.write_text(changelog.read_text().replace("## [Unreleased]\n", entry, 1))
    run(*git, "commit", "--quiet", "--all", "--message", "tap-pneuma 1.4.1")
    run(*git, "tag", "tap-pneuma-v1.4.1")
    released = make_dist(f"TAP_SRC={source}", f"TAP_DIST={out_dir}")
    assert released.returncode == 0, released.stdout[-6000:]
    assert sorted(path.name for path in out_dir.glob("tap_pneuma-*")) == [
        "tap_pneuma-1.4.1-py3-none-any.whl",
        "tap_pneuma-1.4.1.tar.gz",
    ]


def sync_messages(stdout: str) -> list[dict]:
    """The Singer messages of a tap's standard output."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def records_per_stream(messages: list[dict]) -> dict[str, int]:
    """How many RECORD messages each stream emitted."""
    counts: dict[str, int] = {}
    for message in messages:
        if message["type"] == "RECORD":
            counts[message["stream"]] = counts.get(message["stream"], 0) + 1
    return counts
