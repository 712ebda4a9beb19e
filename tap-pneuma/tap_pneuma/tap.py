"""TapPneuma: settings, streams, and a file-by-file sync."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_pneuma import streams
from tap_pneuma.client import PneumaFileStream, RecordingSources
from tap_pneuma.parsing import PneumaFormatError

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class TapPneuma(Tap):
    """Singer tap for pNEUMA drone trajectory files."""

    name = "tap-pneuma"
    # what is built and tested here; not BATCH or ACTIVATE_VERSION (streams are incremental)
    capabilities: ClassVar[list[Any]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.DISCOVER,
        TapCapabilities.STATE,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
    ]
    # msgspec writes large number arrays several times faster than the default JSON encoder
    message_writer_class = MsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "files",
            th.ArrayType(th.StringType),
            required=True,
            title="Files",
            description=(
                "pNEUMA files to read: local paths, glob patterns (`data/**/*.csv`), "
                "directories, and fsspec URLs (`s3://bucket/pneuma/*.csv.gz`, needs the "
                "`remote` extra and the store's fsspec package). Reads `.csv`, `.csv.gz` and "
                "the CSV members of `.zip` archives (without unpacking them)."
            ),
        ),
        th.Property(
            "on_invalid_row",
            th.StringType,
            default="fail",
            allowed_values=["fail", "skip"],
            title="On invalid row",
            description=(
                "`fail`: stop at the first invalid vehicle row (wrong value count, a value that "
                "is not a number). `skip`: log it with file:line, count it in the recording's "
                "`n_invalid_rows` and go on. File-level defects (missing, empty, wrong header, "
                "row broken across lines, truncated archive) always fail."
            ),
        ),
        th.Property(
            "recursive",
            th.BooleanType,
            default=False,
            title="Recursive",
            description="Also read files in subdirectories of directories listed in `files`.",
        ),
        th.Property(
            "storage_options",
            th.ObjectType(additional_properties=True),
            title="Storage options",
            secret=True,
            description=(
                "Options passed to fsspec for URLs in `files`, e.g. "
                '`{"anon": true}` or credentials for `s3://` (kept secret).'
            ),
        ),
    ).to_dict()

    @override
    def discover_streams(self) -> list[PneumaFileStream]:
        """Return the trajectories, vehicles and recordings streams."""
        sources = RecordingSources(self.config)
        return [
            streams.TrajectoriesStream(self, sources),
            streams.VehiclesStream(self, sources),
            streams.RecordingsStream(self, sources),
        ]

    # final in the SDK, replaced on purpose: the SDK syncs stream by stream, this file by file
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """Sync file by file: all selected streams of one file, then the next file.

        One pass per file serves all three streams, memory holds one file's summaries only,
        and the recordings record and the bookmarks of a file follow its data, so a failure in
        a later file leaves the earlier ones complete.
        """
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        if self.state:
            self._state_writer.write_state(self.state)
        # self.streams is sorted by name; the pass that feeds the others must come first
        selected = sorted(
            (stream for stream in self.streams.values() if stream.selected),
            key=lambda stream: stream.sync_rank,  # type: ignore[attr-defined]
        )
        skipped = [stream.name for stream in self.streams.values() if not stream.selected]
        if skipped:
            self.logger.info("Skipping deselected streams %s", skipped)
        if selected:
            sources = next(iter(self.streams.values())).sources  # type: ignore[attr-defined]
            for partition in sources.partitions:
                for stream in selected:
                    stream.sync(partition)
        for stream in selected:
            stream.finalize_state_progress_markers()
        for stream in self.streams.values():
            stream.log_sync_costs()

    @override
    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; bad input ends it with one clear message and exit status 1."""
        try:
            super().invoke(*args, **kwargs)
        except PneumaFormatError as error:
            cls.logger.error("tap-pneuma: %s", error)  # noqa: TRY400 - the message says it all
            raise click.exceptions.Exit(1) from None


if __name__ == "__main__":
    TapPneuma.cli()
