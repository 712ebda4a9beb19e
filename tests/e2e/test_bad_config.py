"""Bad configuration and bad input: the run fails saying what is wrong; loaded data stays put."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raw_tables import BATCHED_AT_SQL, EL, LATEST_COUNTS_SQL, expected

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import MeltanoProject


def _loaded(
    meltano_project: MeltanoProject, tmp_path: Path, generate_files: Callable[..., list[Path]]
) -> list[tuple]:
    generate_files(tmp_path / "in", "--files", "1", "--vehicles", "4")
    meltano_project.files = [str(tmp_path / "in")]
    meltano_project.run_ok(*EL)
    return meltano_project.query(BATCHED_AT_SQL)


def test_unreachable_database_fails_naming_host_and_port(
    meltano_project: MeltanoProject,
    tmp_path: Path,
    generate_files: Callable[..., list[Path]],
    unused_port: Callable[[], int],
) -> None:
    before = _loaded(meltano_project, tmp_path, generate_files)
    generate_files(tmp_path / "in", "--files", "1", "--vehicles", "3", "--first-index", "4")
    port = unused_port()
    meltano_project.extra_env = {"PNEUMA_PG_PORT": str(port)}

    result = meltano_project.run(*EL)

    assert result.returncode != 0
    assert f'connection to server at "127.0.0.1", port {port} failed' in result.stdout
    meltano_project.extra_env = {}
    assert meltano_project.query(BATCHED_AT_SQL) == before


def test_wrong_credentials_fail_and_load_nothing(
    meltano_project: MeltanoProject, tmp_path: Path, generate_files: Callable[..., list[Path]]
) -> None:
    before = _loaded(meltano_project, tmp_path, generate_files)
    generate_files(tmp_path / "in", "--files", "1", "--vehicles", "3", "--first-index", "4")
    meltano_project.extra_env = {"PNEUMA_PG_PASSWORD": "not-the-password"}

    result = meltano_project.run(*EL)

    assert result.returncode != 0
    assert 'password authentication failed for user "postgres"' in result.stdout
    assert f"port {meltano_project.config.port}" in result.stdout
    meltano_project.extra_env = {}
    assert meltano_project.query(BATCHED_AT_SQL) == before


def test_files_matching_nothing_fail_naming_the_pattern(
    meltano_project: MeltanoProject, tmp_path: Path, generate_files: Callable[..., list[Path]]
) -> None:
    before = _loaded(meltano_project, tmp_path, generate_files)
    pattern = str(tmp_path / "elsewhere" / "*.csv")
    meltano_project.files = [pattern]

    result = meltano_project.run(*EL)

    assert result.returncode != 0
    assert pattern in result.stdout
    assert meltano_project.query(BATCHED_AT_SQL) == before


def test_bad_row_fails_naming_file_and_line_and_keeps_loaded_data(
    meltano_project: MeltanoProject, tmp_path: Path, generate_files: Callable[..., list[Path]]
) -> None:
    before = _loaded(meltano_project, tmp_path, generate_files)
    bad = generate_files(tmp_path / "in", "--files", "1", "--vehicles", "3", "--first-index", "4")
    lines = bad[0].read_text(encoding="ascii").splitlines(keepends=True)
    fields = lines[2].split("; ")
    fields[5] = "not-a-number"  # the second position's longitude of the second vehicle
    lines[2] = "; ".join(fields)
    bad[0].write_text("".join(lines), encoding="ascii")

    result = meltano_project.run(*EL)

    assert result.returncode != 0
    assert f"{bad[0].name}:3" in result.stdout, result.stdout[-5000:]
    # Loaded recordings are untouched. Rows of the failing file that reached the target before
    # the failure may be committed, but without its `recordings` row (emitted after a file's
    # data) that recording does not exist for downstream, and the next run reloads it whole.
    bad_id = bad[0].name.split(".")[0]
    after = meltano_project.query(BATCHED_AT_SQL)
    assert [row for row in after if row[0] != bad_id] == before
    assert meltano_project.query(
        "select count(*) from tap_pneuma.recordings where recording_id = %s", [bad_id]
    ) == [(0,)]

    # Repaired, the file loads on the next run: the failed run advanced no state.
    good = generate_files(
        tmp_path / "fixed", "--files", "1", "--vehicles", "3", "--first-index", "4"
    )
    bad[0].write_bytes(good[0].read_bytes())
    meltano_project.run_ok(*EL)
    loaded = sorted(path for path in (tmp_path / "in").iterdir())
    assert meltano_project.query(LATEST_COUNTS_SQL) == expected(loaded)
