"""A naive pNEUMA tap: one Singer record per position, singer-sdk defaults everywhere.

The baseline that `bench_tap.py` (and the load benchmark, piping it into target-postgres)
compares tap-pneuma with. It reuses tap-pneuma's file resolution and parser, so the only
difference is the shape of the stream: one small record per position instead of one record of
parallel arrays per vehicle, with the SDK's default JSON writer and recursive type conformance.

Run: ``python benchmarks/naive_tap.py --config config.json`` (same ``files`` setting).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from tap_pneuma.files import resolve_files
from tap_pneuma.parsing import RecordingParser

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context


class PositionsStream(Stream):
    """One record per position of every vehicle of every file."""

    name = "positions"
    primary_keys = ("recording_id", "track_id", "frame")
    schema = th.PropertiesList(
        th.Property("recording_id", th.StringType, required=True),
        th.Property("track_id", th.IntegerType, required=True),
        th.Property("frame", th.IntegerType, required=True),
        th.Property("vehicle_type", th.StringType),
        th.Property("time_s", th.NumberType),
        th.Property("lat", th.NumberType),
        th.Property("lon", th.NumberType),
        th.Property("speed_kmh", th.NumberType),
        th.Property("lon_acc_ms2", th.NumberType),
        th.Property("lat_acc_ms2", th.NumberType),
    ).to_dict()

    @override
    def get_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        for source in resolve_files(self.config["files"]):
            recording_id = source.recording_id
            parser = RecordingParser(source.uri)
            for row in parser.rows(source.iter_lines()):
                for frame, values in enumerate(
                    zip(
                        row.time_s,
                        row.lat,
                        row.lon,
                        row.speed_kmh,
                        row.lon_acc_ms2,
                        row.lat_acc_ms2,
                        strict=True,
                    )
                ):
                    yield {
                        "recording_id": recording_id,
                        "track_id": row.track_id,
                        "frame": frame,
                        "vehicle_type": row.vehicle_type,
                        "time_s": values[0],
                        "lat": values[1],
                        "lon": values[2],
                        "speed_kmh": values[3],
                        "lon_acc_ms2": values[4],
                        "lat_acc_ms2": values[5],
                    }


class TapNaivePositions(Tap):
    """Baseline tap: pNEUMA files as one record per position."""

    name = "tap-naive-positions"
    config_jsonschema = th.PropertiesList(
        th.Property("files", th.ArrayType(th.StringType), required=True),
    ).to_dict()

    @override
    def discover_streams(self) -> list[Stream]:
        return [PositionsStream(self)]


if __name__ == "__main__":
    TapNaivePositions.cli()
