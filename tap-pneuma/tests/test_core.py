"""singer-sdk's standard tap tests, on generated files (plain and gzip)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from singer_sdk.testing import get_tap_test_class

from tap_pneuma.synthetic import generate_files
from tap_pneuma.tap import TapPneuma

# generated at import time: the SDK builds its test classes from a config fixed at collection
_DATA_DIR = Path(tempfile.mkdtemp(prefix="tap-pneuma-core-"))
generate_files(_DATA_DIR, n_files=2, vehicles_per_file=5, seed=11)
generate_files(_DATA_DIR, n_files=1, vehicles_per_file=3, seed=12, first_index=2, compress=True)

TestTapPneuma = get_tap_test_class(
    tap_class=TapPneuma,
    config={"files": [str(_DATA_DIR)]},
)
