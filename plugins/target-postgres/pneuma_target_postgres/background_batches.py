"""A sink loads one batch while the target reads the next.

singer-sdk drains a full sink on the thread that reads stdin: the target stops reading for as
long as the database takes to COPY and merge the batch, and the tap and Meltano, their pipes
full, stop with it. Here a sink hands each batch to a loader thread of its own and goes back to
reading; before it hands over the next batch it waits for the one in flight, so at most one
batch per sink is loading and a sink's batches commit in order.

What Singer promises stays: a full drain (end of stream, schema change, record age) returns
once its batches committed, so the STATE message it writes follows only committed records; a
schema change and an ACTIVATE_VERSION wait for the batches before them. A batch that fails raises
its own error at the next wait, before any later STATE: what was committed stays, and the run
fails as it did when the batch loaded on the reading thread.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.sinks import Sink


class LoadsInBackground(BatchSink):
    """A sink whose `process_batch` runs on a loader thread; mix in before the real sink."""

    _loader: ThreadPoolExecutor | None = None
    _in_flight: Future[None] | None = None

    def process_batch(self, context: dict) -> None:
        """Wait for the batch in flight, then start loading this one and return."""
        self.wait_for_batch()
        if self._loader is None:
            self._loader = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"load-{self.stream_name}"
            )
        self._in_flight = self._loader.submit(super().process_batch, context)

    def wait_for_batch(self) -> None:
        """Return once the batch in flight, if any, has committed; raise its error if it failed."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def activate_version(self, new_version: int) -> None:
        """Apply ACTIVATE_VERSION after the batches read before it."""
        self.wait_for_batch()
        super().activate_version(new_version)

    def clean_up(self) -> None:
        """Finish the batch in flight, then clean up as the sink does."""
        try:
            self.wait_for_batch()
        finally:
            if self._loader is not None:
                self._loader.shutdown()
        super().clean_up()


class WaitsForBatches(Target):
    """A target whose batches load in flight only while it reads RECORD and STATE messages."""

    def _drain_all(self, sink_list: Iterable[Sink], parallelism: int) -> None:
        """Return once the drained sinks' batches committed.

        `drain_all` writes the STATE message right after this, so a state only ever follows
        committed batches (at the end of the stream, on a schema change, at the record age).
        """
        sinks = list(sink_list)
        super()._drain_all(sinks, parallelism)
        _wait_for_batches(sinks)

    def _process_schema_message(self, message_dict: dict) -> None:
        """A new schema may alter a table that a batch in flight is writing: wait first."""
        _wait_for_batches([*self._sinks_to_clear, *self._sinks_active.values()])
        super()._process_schema_message(message_dict)


def _wait_for_batches(sinks: Iterable[Sink]) -> None:
    for sink in sinks:
        if isinstance(sink, LoadsInBackground):
            sink.wait_for_batch()
