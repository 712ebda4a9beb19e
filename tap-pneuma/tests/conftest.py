"""Shared fixtures: the real samples, generated files, and an in-process tap runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tap_pneuma.synthetic import GeneratedFile, generate_files

REPO_ROOT = Path(__file__).resolve().parents[2]
# the real samples live beside the repository and are never copied into it
SAMPLES_DIR = Path(
    os.environ.get("PNEUMA_SAMPLES_DIR", REPO_ROOT.parent / "shared" / "data" / "pneuma-samples")
)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Directory of the real pNEUMA samples (``PNEUMA_SAMPLES_DIR`` overrides it)."""
    if not (SAMPLES_DIR / "sample.csv").is_file():
        pytest.fail(
            f"real pNEUMA samples not found in {SAMPLES_DIR}; set PNEUMA_SAMPLES_DIR",
            pytrace=False,
        )
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small generated recordings (current layout), shared read-only by tests."""
    out_dir = tmp_path_factory.mktemp("generated")
    generate_files(out_dir, n_files=2, vehicles_per_file=6, seed=7)
    return out_dir


@pytest.fixture(scope="session")
def generated_files(generated_dir: Path) -> list[Path]:
    """The generated recordings, sorted."""
    return sorted(generated_dir.glob("*.csv"))


@pytest.fixture
def small_recording(tmp_path: Path) -> GeneratedFile:
    """One freshly generated recording of 4 vehicles in a private directory."""
    return generate_files(tmp_path / "data", vehicles_per_file=4, seed=3)[0]
