"""The three streams of the tap: recordings, vehicles and trajectories."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_pneuma.client import SDC_META_FILEPATH, SDC_META_MODIFIED_AT, PneumaFileStream
from tap_pneuma.files import parse_recording_name

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_pneuma.files import SourceFile

_META_PROPERTIES = (
    th.Property(
        SDC_META_FILEPATH,
        th.StringType,
        required=True,
        description="URI of the file read; zip members as `zip://<member>::<archive>`.",
    ),
    th.Property(
        SDC_META_MODIFIED_AT,
        th.DateTimeType,
        required=True,
        description="Modification time of the file (UTC); the bookmark of its partition.",
    ),
)
_RECORDING_ID = th.Property(
    "recording_id",
    th.StringType,
    required=True,
    description="File name without extensions, e.g. `20181024_d1_0830_0900` (`sample`).",
)
_TRACK_ID = th.Property(
    "track_id",
    th.IntegerType,
    required=True,
    description="Vehicle id; unique only within one recording.",
)


class RecordingsStream(PneumaFileStream):
    """One record per file: what its name says and what its content holds."""

    name = "recordings"
    sync_rank = 2
    primary_keys = ("recording_id",)
    schema = th.PropertiesList(
        _RECORDING_ID,
        th.Property("source_uri", th.StringType, required=True, description="URI of the file."),
        th.Property(
            "recorded_on",
            th.DateType,
            description="Recording date from the file name (null if the name has no date).",
        ),
        th.Property("drone", th.IntegerType, description="Drone number from the file name."),
        th.Property(
            "window_start",
            th.StringType,
            description="Start of the time window from the name, `HH:MM:SS` Europe/Athens.",
        ),
        th.Property(
            "window_end",
            th.StringType,
            description="End of the time window from the name, `HH:MM:SS` Europe/Athens.",
        ),
        th.Property("file_size_bytes", th.IntegerType, required=True, description="Bytes."),
        th.Property(
            "file_modified_at", th.DateTimeType, required=True, description="File mtime, UTC."
        ),
        th.Property(
            "layout",
            th.StringType,
            required=True,
            allowed_values=["current", "early"],
            description="Header variant: `current`, or `early` (time in ms, converted to s).",
        ),
        th.Property("n_vehicles", th.IntegerType, required=True, description="Vehicles read."),
        th.Property("n_points", th.IntegerType, required=True, description="Positions read."),
        th.Property(
            "n_invalid_rows",
            th.IntegerType,
            required=True,
            description="Rows skipped as invalid (`on_invalid_row: skip`); 0 otherwise.",
        ),
        *_META_PROPERTIES,
    ).to_dict()

    @override
    def records_for(self, source: SourceFile) -> Iterable[dict[str, Any]]:
        scan = self.scan(source)
        name = parse_recording_name(source.recording_id)
        yield {
            "recording_id": source.recording_id,
            "source_uri": source.uri,
            "recorded_on": name.recorded_on,
            "drone": name.drone,
            "window_start": name.window_start,
            "window_end": name.window_end,
            "file_size_bytes": source.size_bytes,
            "file_modified_at": source.modified_at_iso,
            "layout": scan.layout,
            "n_vehicles": len(scan.vehicles),
            "n_points": scan.n_points,
            "n_invalid_rows": scan.n_invalid_rows,
        }


class VehiclesStream(PneumaFileStream):
    """One record per vehicle of a file: the row's fixed fields and a summary of its positions."""

    name = "vehicles"
    sync_rank = 1
    primary_keys = ("recording_id", "track_id")
    schema = th.PropertiesList(
        _RECORDING_ID,
        _TRACK_ID,
        th.Property(
            "vehicle_type",
            th.StringType,
            required=True,
            description="Car, Taxi, Bus, Medium Vehicle, Heavy Vehicle or Motorcycle, as written.",
        ),
        th.Property("traveled_distance_m", th.NumberType, description="Metres, from the file."),
        th.Property("avg_speed_kmh", th.NumberType, description="km/h, from the file."),
        th.Property("n_points", th.IntegerType, required=True, description="Positions."),
        th.Property("first_time_s", th.NumberType, description="Time of the first position, s."),
        th.Property("last_time_s", th.NumberType, description="Time of the last position, s."),
        *_META_PROPERTIES,
    ).to_dict()

    @override
    def records_for(self, source: SourceFile) -> Iterator[dict[str, Any]]:
        # copies: the scan's dicts stay clean for a later stream or test
        for vehicle in self.scan(source).vehicles:
            yield dict(vehicle)


# SQL targets that know this hint store the arrays as float8[]: no cast before expanding them.
FLOAT_ARRAY_SQL_DATATYPE = "double precision[]"


class FloatArrayType(th.ArrayType[th.NumberType]):
    """An array of numbers that fit a double exactly: the parser reads them as Python floats."""

    @property
    @override
    def type_dict(self) -> dict[str, Any]:
        return {**super().type_dict, "x-sql-datatype": FLOAT_ARRAY_SQL_DATATYPE}


def _number_array(name: str, description: str) -> th.Property:
    return th.Property(name, FloatArrayType(th.NumberType), required=True, description=description)


class TrajectoriesStream(PneumaFileStream):
    """One record per vehicle: its positions (every 0.04 s) as six parallel arrays."""

    name = "trajectories"
    # first for each file: its pass leaves the summaries that vehicles and recordings emit
    sync_rank = 0
    primary_keys = ("recording_id", "track_id")
    schema = th.PropertiesList(
        _RECORDING_ID,
        _TRACK_ID,
        _number_array("time_s", "Seconds since the recording's video started (early ms / 1000)."),
        _number_array("lat", "Latitude, WGS-84 degrees."),
        _number_array("lon", "Longitude, WGS-84 degrees."),
        _number_array("speed_kmh", "Speed, km/h."),
        _number_array("lon_acc_ms2", "Longitudinal (tangential) acceleration, m/s²."),
        _number_array("lat_acc_ms2", "Lateral acceleration, m/s²."),
        *_META_PROPERTIES,
    ).to_dict()

    @override
    def records_for(self, source: SourceFile) -> Iterator[dict[str, Any]]:
        recording_id = source.recording_id
        for row in self.scan_rows(source):
            yield {
                "recording_id": recording_id,
                "track_id": row.track_id,
                "time_s": row.time_s,
                "lat": row.lat,
                "lon": row.lon,
                "speed_kmh": row.speed_kmh,
                "lon_acc_ms2": row.lon_acc_ms2,
                "lat_acc_ms2": row.lat_acc_ms2,
            }
