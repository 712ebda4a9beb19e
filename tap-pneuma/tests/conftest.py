"""Shared fixtures: the real samples, generated files, and an in-process tap runner."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from real_samples import samples_dir

from tap_pneuma.synthetic import GeneratedFile, generate_files

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["samples_dir"]  # a fixture: pytest finds it by its name in the conftest


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
