"""Where the real pNEUMA samples are: one setting for the tap's tests and the warehouse's.

`PNEUMA_SAMPLES_DIR` names their directory; the default is `../shared/data/pneuma-samples` beside
the repository (tests read them there, nothing copies them into it). Without them, the tests that
need them are skipped with a reason that says how to get them, except under `CI=true`: there the
absence is a failure, so CI never passes by silently skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SAMPLES_DIR = REPO_ROOT.parent / "shared" / "data" / "pneuma-samples"
# file name -> where it is published (both are real pNEUMA output, public on GitHub)
SAMPLE_FILES = {
    "sample.csv": "data/sample.csv in github.com/natyrix/traffic-data-warehouse",
    "pneuma_sample_dataset_4_entries.csv": (
        "pneuma_sample_dataset/pneuma_sample_dataset_4_entries.csv "
        "in github.com/kubikade/pneuma_dataset"
    ),
}


def configured_samples_dir() -> Path:
    """The directory `PNEUMA_SAMPLES_DIR` names, or the default beside the repository."""
    return Path(os.environ.get("PNEUMA_SAMPLES_DIR") or DEFAULT_SAMPLES_DIR)


def require_samples() -> Path:
    """The samples' directory; skips the calling test without them (fails it under CI=true)."""
    directory = configured_samples_dir()
    missing = [name for name in SAMPLE_FILES if not (directory / name).is_file()]
    if not missing:
        return directory
    sources = "; ".join(f"{name}: {SAMPLE_FILES[name]}" for name in missing)
    reason = (
        f"real pNEUMA samples missing in {directory}: {', '.join(missing)}. "
        f"Get them ({sources}) and set PNEUMA_SAMPLES_DIR to their directory"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the samples are required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Directory of the real pNEUMA samples (see the module docstring)."""
    return require_samples()
