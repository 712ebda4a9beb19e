"""singer-sdk's standard tap tests, on generated files (plain and gzip)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from singer_sdk.testing import get_tap_test_class

from tap_pneuma.synthetic import generate_files
from tap_pneuma.tap import TapPneuma

if TYPE_CHECKING:
    from collections.abc import Iterator

# generated at import time: the SDK builds its test classes from a config fixed at collection
_DATA_DIR = tempfile.TemporaryDirectory(prefix="tap-pneuma-core-")
_DATA_PATH = Path(_DATA_DIR.name)
generate_files(_DATA_PATH, n_files=2, vehicles_per_file=5, seed=11)
generate_files(_DATA_PATH, n_files=1, vehicles_per_file=3, seed=12, first_index=2, compress=True)

TestTapPneuma = get_tap_test_class(
    tap_class=TapPneuma,
    config={"files": [_DATA_DIR.name]},
)


@pytest.fixture(scope="module", autouse=True)
def _remove_generated_files() -> Iterator[None]:
    """Delete the generated files after this module's tests (at exit when none of them ran)."""
    yield
    _DATA_DIR.cleanup()
