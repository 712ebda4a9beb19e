"""What the raw schema must hold for a set of pNEUMA files, and queries that read it back."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

EL = ("run", "tap-pneuma", "target-postgres")
FIXED_FIELDS = 4
FIELDS_PER_POSITION = 6

# Per recording, only rows of its latest file version (`_sdc_modified_at`) count: computed here
# independently of the warehouse's select_current_version macro, as the tests' oracle.
LATEST_COUNTS_SQL = """
select
    r.recording_id,
    (select count(*) from tap_pneuma.vehicles as v
        where v.recording_id = r.recording_id and v._sdc_modified_at = r._sdc_modified_at),
    (select coalesce(sum(cardinality(t.time_s)), 0) from tap_pneuma.trajectories as t
        where t.recording_id = r.recording_id and t._sdc_modified_at = r._sdc_modified_at)
from tap_pneuma.recordings as r
order by r.recording_id
"""

# When each recording's rows were last written: unchanged means nothing was loaded again.
BATCHED_AT_SQL = """
select recording_id, max(_sdc_batched_at), count(*) from (
    select recording_id, _sdc_batched_at from tap_pneuma.recordings
    union all select recording_id, _sdc_batched_at from tap_pneuma.vehicles
    union all select recording_id, _sdc_batched_at from tap_pneuma.trajectories
) as loaded
group by recording_id order by recording_id
"""


def count_file(path: Path) -> tuple[str, int, int]:
    """(recording_id, vehicles, positions) of a pNEUMA file, by splitting its rows."""
    vehicles = positions = 0
    with path.open(encoding="ascii") as handle:
        next(handle)  # header
        for line in handle:
            fields = line.rstrip().rstrip(";").split(";")
            if len(fields) <= 1:
                continue
            values = len(fields) - FIXED_FIELDS
            assert values % FIELDS_PER_POSITION == 0, f"{path.name}: malformed row"
            vehicles += 1
            positions += values // FIELDS_PER_POSITION
    return path.name.split(".")[0], vehicles, positions


def expected(paths: list[Path]) -> list[tuple[str, int, int]]:
    """What the raw tables must hold for these files, sorted by recording_id."""
    return sorted(count_file(path) for path in paths)
