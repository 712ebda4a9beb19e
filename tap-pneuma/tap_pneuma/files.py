"""Find pNEUMA files (paths, globs, directories, zip archives, fsspec URLs) and read their lines.

Each file found becomes a `SourceFile`: its URI (the ``_sdc_path`` of its records), its size and
modification time (the bookmark), and a way to open it as a stream of decompressed bytes. Zip
members are read straight out of the archive and gzip files are decompressed on the fly, never
unpacked to disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import gzip
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from tap_pneuma.parsing import FileFormatError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")
ARCHIVE_SUFFIX = ".zip"
READ_BUFFER_BYTES = 1 << 20
_GLOB_MAGIC = re.compile(r"[*?[]")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# YYYYMMDD_dN_HHMM_HHMM, drone "dX" appears in third-party copies
_RECORDING_NAME = re.compile(r"^(\d{8})_d(\d+|X)_(\d{2})(\d{2})_(\d{2})(\d{2})$", re.IGNORECASE)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class FileResolutionError(FileFormatError):
    """A configured entry names nothing readable (missing file, no match, bad archive)."""

    def __init__(self, source: str, problem: str) -> None:
        """Build the error for the entry ``source``."""
        super().__init__(source, None, problem)


@dataclass(frozen=True)
class RecordingName:
    """What a file name following ``YYYYMMDD_dN_HHMM_HHMM`` says; all None otherwise."""

    recorded_on: str | None = None
    drone: int | None = None
    window_start: str | None = None
    window_end: str | None = None


def recording_id_from_name(name: str) -> str:
    """File name without directory and extensions: ``a/20181024_d1_0830_0900.csv.gz`` -> stem."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    lowered = base.lower()
    for suffix in (".gz", ".csv", ".txt"):
        if lowered.endswith(suffix):
            base = base[: -len(suffix)]
            lowered = lowered[: -len(suffix)]
    return base


def parse_recording_name(recording_id: str) -> RecordingName:
    """Date, drone and local time window from a name following the pNEUMA scheme."""
    match = _RECORDING_NAME.match(recording_id)
    if match is None:
        return RecordingName()
    day, drone, start_h, start_m, end_h, end_m = match.groups()
    try:
        recorded_on = dt.datetime.strptime(day, "%Y%m%d").date().isoformat()  # noqa: DTZ007
        start = dt.time(int(start_h), int(start_m)).isoformat()
        end = dt.time(int(end_h), int(end_m)).isoformat()
    except ValueError:
        return RecordingName()
    return RecordingName(
        recorded_on=recorded_on,
        drone=None if drone.upper() == "X" else int(drone),
        window_start=start,
        window_end=end,
    )


@dataclass(frozen=True)
class SourceFile:
    """One pNEUMA CSV to read: a local file, a remote object, or a member of a zip archive."""

    uri: str
    path: str
    size_bytes: int
    modified_at: dt.datetime
    member: str | None = None
    filesystem: Any = field(default=None, compare=False, repr=False)

    @property
    def recording_id(self) -> str:
        """File name without its extensions, e.g. ``20181024_d1_0830_0900``."""
        return recording_id_from_name(self.member or self.path)

    @property
    def modified_at_iso(self) -> str:
        """Modification time as ISO 8601 UTC with microseconds (the bookmark value)."""
        return self.modified_at.isoformat(timespec="microseconds")

    @property
    def is_gzip(self) -> bool:
        """Whether the CSV itself is gzip-compressed."""
        return (self.member or self.path).lower().endswith(".gz")

    @contextlib.contextmanager
    def open_binary(self) -> Iterator[BinaryIO]:
        """Open the decompressed CSV bytes for reading."""
        with contextlib.ExitStack() as stack:
            try:
                raw: BinaryIO
                if self.filesystem is None:
                    raw = stack.enter_context(open(self.path, "rb", buffering=READ_BUFFER_BYTES))  # noqa: PTH123
                else:
                    raw = stack.enter_context(self.filesystem.open(self.path, "rb"))
                if self.member is not None:
                    archive = stack.enter_context(zipfile.ZipFile(raw))
                    # typeshed says IO[bytes]; it is a ZipExtFile, a buffered stream
                    member = cast("zipfile.ZipExtFile", archive.open(self.member))
                    raw = stack.enter_context(io.BufferedReader(member, READ_BUFFER_BYTES))
                if self.is_gzip:
                    raw = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))  # type: ignore[assignment]
            except FileNotFoundError:
                raise FileResolutionError(self.uri, "file not found") from None
            except (OSError, zipfile.BadZipFile, EOFError) as error:
                raise FileResolutionError(self.uri, f"cannot open: {error}") from None
            yield raw

    def iter_lines(self) -> Iterator[bytes]:
        """Yield the file's lines; a truncated or corrupt gzip/zip raises `FileFormatError`."""
        line_number = 0
        with self.open_binary() as stream:
            try:
                for line_number, line in enumerate(stream, start=1):  # noqa: B007
                    yield line
            except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as error:
                kind = "gzip" if self.is_gzip else "zip member" if self.member else "file"
                msg = f"truncated or corrupt {kind}: {error}"
                raise FileFormatError(self.uri, line_number + 1, msg) from None


def _is_csv_name(name: str) -> bool:
    return name.lower().endswith(CSV_SUFFIXES)


def _is_candidate(name: str) -> bool:
    return _is_csv_name(name) or name.lower().endswith(ARCHIVE_SUFFIX)


def _local_file(path: Path) -> list[SourceFile]:
    stat = path.stat()
    modified_at = _EPOCH + dt.timedelta(microseconds=stat.st_mtime_ns // 1000)
    absolute = str(path.absolute())
    if path.name.lower().endswith(ARCHIVE_SUFFIX):
        with path.open("rb") as archive:
            return _zip_members(archive, absolute, absolute, modified_at, None)
    return [SourceFile(absolute, absolute, stat.st_size, modified_at)]


def _zip_members(
    archive: BinaryIO,
    archive_uri: str,
    path: str,
    modified_at: dt.datetime,
    filesystem: Any,  # noqa: ANN401 - an fsspec filesystem; fsspec is optional
) -> list[SourceFile]:
    try:
        with zipfile.ZipFile(archive) as opened:
            infos = opened.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise FileResolutionError(archive_uri, f"not a readable zip archive: {error}") from None
    members = [
        SourceFile(
            uri=f"zip://{info.filename}::{archive_uri}",
            path=path,
            size_bytes=info.file_size,
            # the archive's own mtime: replacing the archive re-reads its members
            modified_at=modified_at,
            member=info.filename,
            filesystem=filesystem,
        )
        for info in sorted(infos, key=lambda info: info.filename)
        if not info.is_dir()
        and _is_csv_name(info.filename)
        and not info.filename.startswith("__MACOSX/")
    ]
    if not members:
        raise FileResolutionError(archive_uri, "zip archive holds no .csv member")
    return members


def _resolve_local(entry: str, *, recursive: bool) -> list[SourceFile]:
    path = Path(entry).expanduser()
    if _GLOB_MAGIC.search(entry):
        matches = sorted(
            Path(match)
            for match in glob.glob(str(path), recursive=True)  # noqa: PTH207
            if Path(match).is_file() and _is_candidate(match)
        )
        if not matches:
            raise FileResolutionError(entry, "no file matches this pattern")
        return [source for match in matches for source in _local_file(match)]
    if path.is_dir():
        pattern = "**/*" if recursive else "*"
        matches = sorted(p for p in path.glob(pattern) if p.is_file() and _is_candidate(p.name))
        if not matches:
            raise FileResolutionError(entry, "directory holds no .csv, .csv.gz or .zip file")
        return [source for match in matches for source in _local_file(match)]
    if not path.is_file():
        raise FileResolutionError(entry, "file not found")
    return _local_file(path)


def _fsspec_modified_at(info: dict[str, Any]) -> dt.datetime:
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return _EPOCH + dt.timedelta(seconds=float(value))
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return _EPOCH


def _resolve_fsspec(  # noqa: C901, PLR0912 - one branch per kind of URL
    entry: str, *, recursive: bool, storage_options: dict[str, Any]
) -> list[SourceFile]:
    try:
        import fsspec  # noqa: PLC0415 - optional dependency, only for URLs
    except ImportError:
        msg = "reading URLs needs fsspec: pip install 'tap-pneuma[remote]'"
        raise FileResolutionError(entry, msg) from None
    try:
        filesystem, path = fsspec.core.url_to_fs(entry, **storage_options)
        if _GLOB_MAGIC.search(path):
            paths = sorted(filesystem.glob(path))
            problem = "no file matches this pattern"
        elif filesystem.isdir(path):
            paths = sorted(
                filesystem.find(path) if recursive else filesystem.ls(path, detail=False)
            )
            problem = "directory holds no .csv, .csv.gz or .zip file"
        elif filesystem.exists(path):
            paths = [path]
            problem = "file not found"
        else:
            raise FileResolutionError(entry, "file not found")  # noqa: TRY301
        sources: list[SourceFile] = []
        for found in paths:
            if found != path and not _is_candidate(found):
                continue
            info = filesystem.info(found)
            if info.get("type") == "directory":
                continue
            uri = filesystem.unstrip_protocol(found)
            modified_at = _fsspec_modified_at(info)
            if found.lower().endswith(ARCHIVE_SUFFIX):
                with filesystem.open(found, "rb") as archive:
                    sources += _zip_members(archive, uri, found, modified_at, filesystem)
            else:
                sources.append(
                    SourceFile(
                        uri, found, int(info.get("size") or 0), modified_at, None, filesystem
                    )
                )
    except FileResolutionError:
        raise
    except (OSError, ValueError) as error:
        raise FileResolutionError(entry, f"cannot list: {error}") from None
    if not sources:
        raise FileResolutionError(entry, problem)
    return sources


def resolve_files(
    entries: Iterable[str],
    *,
    recursive: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> list[SourceFile]:
    """Expand the configured entries into source files, in order, without duplicates.

    Raises:
        FileResolutionError: an entry matches nothing, does not exist, or is a broken archive;
            or two files would load as the same recording.
    """
    found: dict[str, SourceFile] = {}
    for raw_entry in entries:
        entry = raw_entry.strip()
        if entry.startswith("file://"):
            entry = entry.removeprefix("file://")
        if _URL.match(entry):
            sources = _resolve_fsspec(
                entry, recursive=recursive, storage_options=storage_options or {}
            )
        else:
            sources = _resolve_local(entry, recursive=recursive)
        for source in sources:
            found.setdefault(source.uri, source)
    _refuse_shared_recording_ids(found.values())
    return list(found.values())


def _refuse_shared_recording_ids(sources: Iterable[SourceFile]) -> None:
    """A recording id is its file's name: two files of one name would overwrite each other."""
    first_of: dict[str, SourceFile] = {}
    for source in sources:
        first = first_of.setdefault(source.recording_id, source)
        if first is not source:
            raise FileResolutionError(
                source.uri,
                f"its recording id {source.recording_id!r} (the file name) is also that of "
                f"{first.uri}; the two would load as one recording: keep one of them",
            )
