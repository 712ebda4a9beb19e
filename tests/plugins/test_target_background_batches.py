"""plugins/target-postgres: batches load on a loader thread, and Singer's promises still hold.

The target runs as Meltano runs it (its command line, Singer messages on stdin) against a real
database, with batches of 2 records so that every stream has batches in flight.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pneuma_target_postgres.target import PneumaPostgresSink, TargetPneumaPostgres
from singer_sdk.target_base import Target

if TYPE_CHECKING:
    from pneuma_postgres.server import ServerConfig

TARGET = Path(sys.executable).parent / "pneuma-target-postgres"
SLOW_BATCH_S = 1.0  # long enough for the reading thread to reach the next state
SCHEMA = {
    "type": "SCHEMA",
    "stream": "items",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "n": {"type": "integer"},
            "v": {
                "type": "array",
                "items": {"type": ["number"]},
                "x-sql-datatype": "double precision[]",
            },
        },
    },
}


def _record(key: int, n: object, v: list[float]) -> dict:
    return {"type": "RECORD", "stream": "items", "record": {"id": key, "n": n, "v": v}}


def _state(bookmark: int) -> dict:
    return {"type": "STATE", "value": {"bookmark": bookmark}}


def _config(db: ServerConfig) -> dict:
    return {
        "host": db.host,
        "port": db.port,
        "user": db.user,
        "password": db.password,
        "database": db.database,
        "default_target_schema": "raw",
        # as meltano.yml configures the loader, but for the batch size
        "use_copy": True,
        "validate_records": False,
        "load_method": "upsert",
        "batch_size_rows": 2,
    }


def _run(db: ServerConfig, tmp_path: Path, messages: list[dict]) -> subprocess.CompletedProcess:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_config(db)))
    return subprocess.run(
        [str(TARGET), "--config", str(config)],
        input="".join(json.dumps(message) + "\n" for message in messages),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _rows(db: ServerConfig) -> list[tuple]:
    with db.connect() as connection:
        return connection.execute("select id, n, v from raw.items order by id").fetchall()


def _states(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_every_batch_commits_in_order_before_the_state(
    scratch_db: ServerConfig, tmp_path: Path
) -> None:
    messages = [SCHEMA]
    for key in range(1, 8):
        messages += [_record(key, key, [key + 0.5, -0.0]), _state(key)]
    # key 1 again, two batches later: the later version wins, so batches committed in order
    messages += [_record(1, 100, [1e-05]), _state(8)]

    run = _run(scratch_db, tmp_path, messages)

    assert run.returncode == 0, run.stderr[-3000:]
    assert _states(run.stdout) == [{"bookmark": 8}]
    assert _rows(scratch_db) == [
        (1, 100, [1e-05]),
        *[(key, key, [key + 0.5, -0.0]) for key in range(2, 8)],
    ]


@pytest.mark.parametrize("bad_key", [5, 7], ids=["a batch before the last", "the last batch"])
def test_a_failing_batch_fails_the_run_keeps_what_committed_and_emits_no_state(
    scratch_db: ServerConfig, tmp_path: Path, bad_key: int
) -> None:
    # batches (1, 2), (3, 4), (5, 6), (7, 8): one holds a value that bigint does not take
    messages = [SCHEMA]
    for key in range(1, 9):
        messages += [_record(key, "not a number" if key == bad_key else key, [1.0]), _state(key)]

    run = _run(scratch_db, tmp_path, messages)

    assert run.returncode != 0
    assert "invalid input syntax for type bigint" in run.stderr, run.stderr[-2000:]
    assert _states(run.stdout) == []  # no bookmark past records that did not land
    assert _rows(scratch_db) == [(key, key, [1.0]) for key in range(1, bad_key)]


def test_a_state_follows_only_committed_batches(
    scratch_db: ServerConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The items' batch (1, 2) loads slowly; a record of another stream then makes the target
    # drain every sink and write the state read after item 2 (a record age of 0 drains after
    # every record). The items' sink has no new records then, only its batch in flight.
    monkeypatch.setattr(TargetPneumaPostgres, "_MAX_RECORD_AGE_IN_MINUTES", 0.0)
    load_batch = PneumaPostgresSink.process_batch

    def slow_load_batch(self: PneumaPostgresSink, context: dict) -> None:
        time.sleep(SLOW_BATCH_S if self.stream_name == "items" else 0)
        load_batch(self, context)

    monkeypatch.setattr(PneumaPostgresSink, "process_batch", slow_load_batch)
    items_at_state: list[tuple[int, int]] = []
    write_state = Target._write_state_message  # noqa: SLF001 - the SDK's one writer of states

    def counting_write_state(self: Target, state: dict) -> None:
        items_at_state.append((state["bookmark"], len(_rows(scratch_db))))
        write_state(self, state)

    monkeypatch.setattr(Target, "_write_state_message", counting_write_state)
    others = {**SCHEMA, "stream": "others"}
    messages = [SCHEMA, others, _record(1, 1, [1.0]), _record(2, 2, [2.0]), _state(2)]
    messages += [{**_record(1, 1, [1.0]), "stream": "others"}]
    target = TargetPneumaPostgres(config=_config(scratch_db))

    target.listen(io.StringIO("".join(json.dumps(message) + "\n" for message in messages)))

    # each time the state of item 2 went out (after the other stream's record, at the end),
    # items 1 and 2 were in the table
    assert items_at_state == [(2, 2), (2, 2)]
