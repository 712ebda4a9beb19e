"""PneumaFileStream: the base of the three streams, one state partition per file.

All three streams come from one pass over each file. The trajectories stream runs that pass and
leaves a `RecordingScan` (the per-vehicle and per-file summaries) behind; the vehicles and
recordings streams that follow it for the same file emit from that scan. A stream that finds no
scan for its file (trajectories deselected, or already bookmarked) makes the pass itself.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import Stream

from tap_pneuma.files import SourceFile, resolve_files
from tap_pneuma.parsing import InvalidRowError, PneumaFormatError, RecordingParser, WideRow

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

SDC_META_FILEPATH = "_sdc_path"
SDC_META_MODIFIED_AT = "_sdc_modified_at"
STATE_FILE_SIZE_KEY = "file_size_bytes"


class _BadInputIsReportedOnce(logging.Filter):
    """Drop the SDK's generic "unhandled error" line for bad input: the CLI reports it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            str(record.msg).startswith("An unhandled error occurred while syncing")
            and isinstance(sys.exc_info()[1], PneumaFormatError)
        )


@dataclass
class RecordingScan:
    """What one complete pass over a file learnt: per-vehicle and per-file summaries."""

    source: SourceFile
    layout: str = ""
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    n_points: int = 0
    n_invalid_rows: int = 0


class RecordingSources:
    """The files a run reads (resolved once, on first use) and the latest completed scan."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        """Keep the tap config; nothing is resolved before a sync needs it."""
        self._config = config
        self._latest_scan: RecordingScan | None = None

    @cached_property
    def files(self) -> dict[str, SourceFile]:
        """Source files by URI, in configured order."""
        sources = resolve_files(
            self._config["files"],
            recursive=self._config.get("recursive", False),
            storage_options=self._config.get("storage_options"),
        )
        return {source.uri: source for source in sources}

    @property
    def partitions(self) -> list[dict[str, str]]:
        """One state partition per file."""
        return [{SDC_META_FILEPATH: uri} for uri in self.files]

    def remember(self, scan: RecordingScan) -> None:
        """Keep only the latest scan: a run goes file by file, so memory stays bounded."""
        self._latest_scan = scan

    def recall(self, source: SourceFile) -> RecordingScan | None:
        """The scan of exactly this file version, if the last pass read it."""
        scan = self._latest_scan
        if scan is not None and scan.source == source:
            return scan
        return None


class PneumaFileStream(Stream):
    """A stream with one partition per pNEUMA file and a bookmark of its size and mtime."""

    replication_key = SDC_META_MODIFIED_AT
    # every record of a partition carries the same _sdc_modified_at; a replaced file may be older
    is_sorted = True
    check_sorted = False
    # the parser already yields ints, floats and str: walking 20,000-element arrays again is waste
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY
    sync_rank = 0
    """Order of the streams within one file in `TapPneuma.sync_all`."""

    def __init__(self, tap: Tap, sources: RecordingSources) -> None:
        """Create the stream over the shared `RecordingSources` of the tap."""
        self.sources = sources
        super().__init__(tap)
        if not any(isinstance(f, _BadInputIsReportedOnce) for f in self.logger.filters):
            self.logger.addFilter(_BadInputIsReportedOnce())

    @property
    @override
    def partitions(self) -> list[dict[str, str]]:
        return self.sources.partitions

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: a bookmark is a file's own mtime, even one in the future."""
        return

    def is_unchanged(self, source: SourceFile, context: Context | None) -> bool:
        """Whether this stream's bookmark holds exactly this file version."""
        state = self.get_context_state(context)
        return (
            state.get("replication_key_value") == source.modified_at_iso
            and state.get(STATE_FILE_SIZE_KEY) == source.size_bytes
        )

    def _bookmark(self, source: SourceFile, context: Context | None) -> None:
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = source.modified_at_iso
        state[STATE_FILE_SIZE_KEY] = source.size_bytes

    def _log_skipped_row(self, error: InvalidRowError) -> None:
        self.logger.warning("Skipping invalid row %s", error)

    def scan_rows(self, source: SourceFile) -> Iterator[WideRow]:
        """Parse ``source`` once, yielding its rows; on completion, remember its `RecordingScan`."""
        parser = RecordingParser(
            source.uri,
            skip_invalid_rows=self.config.get("on_invalid_row", "fail") == "skip",
            on_skipped_row=self._log_skipped_row,
        )
        scan = RecordingScan(source)
        recording_id = source.recording_id
        vehicles = scan.vehicles
        for row in parser.rows(source.iter_lines()):
            time_s = row.time_s
            vehicles.append(
                {
                    "recording_id": recording_id,
                    "track_id": row.track_id,
                    "vehicle_type": row.vehicle_type,
                    "traveled_distance_m": row.traveled_distance_m,
                    "avg_speed_kmh": row.avg_speed_kmh,
                    "n_points": len(time_s),
                    "first_time_s": time_s[0] if time_s else None,
                    "last_time_s": time_s[-1] if time_s else None,
                }
            )
            yield row
        scan.layout = parser.layout.value
        scan.n_points = parser.n_points
        scan.n_invalid_rows = parser.n_invalid_rows
        self.sources.remember(scan)

    def scan(self, source: SourceFile) -> RecordingScan:
        """The scan of ``source``: from the pass just made for another stream, or a new pass."""
        scan = self.sources.recall(source)
        if scan is None:
            for _ in self.scan_rows(source):
                pass
            scan = self.sources.recall(source)
            if scan is None:  # pragma: no cover - scan_rows always remembers a finished pass
                msg = f"{source.uri}: scan did not complete"
                raise RuntimeError(msg)
        return scan

    def records_for(self, source: SourceFile) -> Iterable[dict[str, Any]]:
        """This stream's records for one file, without the ``_sdc_*`` fields."""
        raise NotImplementedError

    @override
    def get_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        if context is None:  # pragma: no cover - partitions always give a context
            msg = "pNEUMA streams are partitioned by file"
            raise ValueError(msg)
        source = self.sources.files[context[SDC_META_FILEPATH]]
        if self.is_unchanged(source, context):
            self.logger.info("Skipping unchanged %s", source.uri)
            return
        meta = {SDC_META_FILEPATH: source.uri, SDC_META_MODIFIED_AT: source.modified_at_iso}
        for record in self.records_for(source):
            record.update(meta)
            yield record
        self._bookmark(source, context)
