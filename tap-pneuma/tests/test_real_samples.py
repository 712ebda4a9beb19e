"""Without the real samples, exactly the tests that read them skip, and under CI=true they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from real_samples import DEFAULT_SAMPLES_DIR, SAMPLE_FILES, configured_samples_dir

if TYPE_CHECKING:
    import pytest

TESTS_DIR = Path(__file__).resolve().parent
# a suite like test_samples.py, without the tap's imports that take seconds under load
SUITE = {
    "conftest.py": "from real_samples import samples_dir  # noqa: F401\n",
    "test_suite.py": (
        "def test_reads_a_sample(samples_dir):\n"
        "    assert (samples_dir / 'sample.csv').is_file()\n\n"
        "def test_needs_no_sample():\n"
        "    pass\n"
    ),
}


def run_suite(tmp_path: Path, samples_dir: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    """Run SUITE in a pytest of its own, reading the samples from `samples_dir`."""
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    for name, text in SUITE.items():
        (suite_dir / name).write_text(text)
    # its own session: none of the outer one's options (a shared --basetemp would be wiped)
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env["PNEUMA_SAMPLES_DIR"] = str(samples_dir)
    env["PYTHONPATH"] = str(TESTS_DIR)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-rsE", "--rootdir", str(suite_dir)),
            *("-p", "no:cacheprovider", "-p", "no:singer_testing", str(suite_dir)),
        ],
        cwd=suite_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_default_is_beside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PNEUMA_SAMPLES_DIR", raising=False)
    repository = Path(__file__).resolve().parents[2]
    assert (repository / "tap-pneuma" / "pyproject.toml").is_file()
    assert configured_samples_dir() == repository.parent / "shared" / "data" / "pneuma-samples"
    assert configured_samples_dir() == DEFAULT_SAMPLES_DIR
    monkeypatch.setenv("PNEUMA_SAMPLES_DIR", "/data/samples")
    assert configured_samples_dir() == Path("/data/samples")


def test_missing_samples_skip_only_their_tests_saying_how_to_get_them(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "sample.csv").write_text("only one of the two\n")
    result = run_suite(tmp_path, samples, ci=False)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 passed, 1 skipped in ")
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skips) == 1
    for line in skips:
        assert "test_suite.py" in line
        assert f"missing in {samples}: pneuma_sample_dataset_4_entries.csv." in line
        assert SAMPLE_FILES["pneuma_sample_dataset_4_entries.csv"] in line
        assert "set PNEUMA_SAMPLES_DIR" in line


def test_missing_samples_fail_under_ci(tmp_path: Path) -> None:
    result = run_suite(tmp_path, tmp_path / "nowhere", ci=True)
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 passed, 1 error in ")
    assert "ERROR test_suite.py::test_reads_a_sample - Failed: real pNEUMA samples" in result.stdout
    assert "CI=true: the samples are required" in result.stdout
