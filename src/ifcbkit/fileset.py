"""Finding filesets (``.hdr``/``.adc``/``.roi`` triplets) in a tree: the functions of ifcbkit 0.3.1.

They keep that release's names, parameters and return shapes (``(directory, pid)``
pairs, base paths without extension, ``None`` for "not found") and run on the
data directory's walk (:mod:`ifcbkit.faces.directory`): sorted order, one ``os.scandir``
per directory, time ranges pruning dated directories. Corrected ADC files
(``adcmod/<day-dir>/<pid>.adc.mod`` beside the data root) replace the raw ``.adc``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from .engine.fileio import FileExists, Listing, ScanDirs
from .engine.requests import Emit, Op, iterate_async, iterate_sync, perform, run_async, run_sync
from .engine.walk import scan_root, warn_skipped
from .errors import InvalidArgumentError, InvalidIdentifierError, NotFoundError
from .faces.directory import (
    ADCMOD_DIR,
    ADCMOD_EXT,
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    AsyncIfcbDataDirectory,
    FilesetFilter,
    SyncIfcbDataDirectory,
    TimeLike,
    adcmod_path,
)
from .formats.ids import Instruments, validate_bin_id

__all__ = [
    "ADCMOD_DIR", "ADCMOD_EXT", "DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "AsyncIfcbDataDirectory",
    "SyncIfcbDataDirectory", "async_find_fileset", "async_list_data_dirs", "async_list_filesets",
    "async_resolve_adc_path", "make_fileset_filter", "sync_find_fileset", "sync_list_data_dirs",
    "sync_list_filesets", "sync_resolve_adc_path", "validate_path",
]  # fmt: skip

PathLike = str | os.PathLike[str]


def _check_disjoint(include: Iterable[str], exclude: Iterable[str]) -> None:
    overlap = set(include) & set(exclude)
    if overlap:
        raise InvalidArgumentError("exclude", f"include and exclude must be disjoint (both name {sorted(overlap)})")


def validate_path(filepath: PathLike, exclude: Iterable[str] = DEFAULT_EXCLUDE,
                  include: Iterable[str] = DEFAULT_INCLUDE) -> bool:  # fmt: skip
    """Whether a raw file path (relative to the data root) counts: no directory component in
    ``exclude``, and each in ``include`` or a substring of the file's name without extension.

    Raises:
        ValueError: if ``include`` and ``exclude`` overlap.
    """
    _check_disjoint(include, exclude)
    dirname, basename = os.path.split(os.fspath(filepath))
    pid = os.path.splitext(basename)[0]
    include, exclude = set(include), set(exclude)
    return all(c not in exclude and (c in include or c in pid) for c in dirname.split(os.sep))


def make_fileset_filter(
    start_time: TimeLike | None = None, end_time: TimeLike | None = None, instrument: Instruments = None
) -> Callable[[str], bool] | None:
    """A predicate ``(bin_id) -> bool`` for bins in ``[start_time, end_time)`` (naive times are
    UTC) of the given instrument(s), or ``None`` when nothing is filtered. Names that are not
    bin ids fail it.

    Raises:
        ValueError: for an instrument that is not an int or a numeric string (or is a bool).
    """
    if start_time is None and end_time is None and instrument is None:
        return None
    return FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument).accepts


def _directory(face: type, dirpath: PathLike, include: Iterable[str], exclude: Iterable[str],
               require_adc: bool, require_roi: bool) -> Any:  # fmt: skip
    _check_disjoint(include, exclude)
    return face(dirpath, include=include, exclude=exclude, require_adc=require_adc or require_roi,
                require_roi=require_roi)  # fmt: skip


def _pairs_of(filesets: Iterator[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    return ((os.path.dirname(f["hdr"]), f["pid"]) for f in filesets)


def sync_list_filesets(
    dirpath: PathLike, exclude: Iterable[str] = DEFAULT_EXCLUDE, include: Iterable[str] = DEFAULT_INCLUDE,
    sort: bool = True, validate: bool = True, require_adc: bool = True, require_roi: bool = True,
    start_time: TimeLike | None = None, end_time: TimeLike | None = None, instrument: Instruments = None,
) -> Iterator[tuple[str, str]]:  # fmt: skip
    """``(directory, pid)`` for each fileset under ``dirpath``, in sample-time order (``sort`` is
    accepted for compatibility: the order is always by time). ``validate=False`` drops the
    include rule (excluded directories are still skipped).

    Raises:
        ValueError: if ``include`` and ``exclude`` overlap or the filters are invalid.
        NotFoundError: if ``dirpath`` does not exist.
    """
    d = _directory(SyncIfcbDataDirectory, dirpath, include, exclude, require_adc, require_roi)
    return _pairs_of(d.list(start_time, end_time, instrument, validate=validate))


async def async_list_filesets(
    dirpath: PathLike, exclude: Iterable[str] = DEFAULT_EXCLUDE, include: Iterable[str] = DEFAULT_INCLUDE,
    sort: bool = True, validate: bool = True, require_adc: bool = True, require_roi: bool = True,
    start_time: TimeLike | None = None, end_time: TimeLike | None = None, instrument: Instruments = None,
) -> AsyncIterator[tuple[str, str]]:  # fmt: skip
    """:func:`sync_list_filesets` as an async iterator (the walk never blocks the event loop)."""
    d = _directory(AsyncIfcbDataDirectory, dirpath, include, exclude, require_adc, require_roi)
    async for f in d.list(start_time, end_time, instrument, validate=validate):
        yield os.path.dirname(f["hdr"]), f["pid"]


def _data_dirs(dirpath: str, exclude: frozenset[str], prune: bool) -> Op[None]:
    """Directories holding at least one ``.hdr`` file, depth first in sorted order; with ``prune``,
    not below one that does."""
    root = yield from scan_root(dirpath, "data directory")
    yield from _visit_data_dir(root, exclude, prune, {os.path.realpath(dirpath)})


def _visit_data_dir(listing: Listing, exclude: frozenset[str], prune: bool, seen: set[str]) -> Op[None]:
    if any(name.endswith(".hdr") for name in listing.files):
        yield Emit(listing.path)
        if prune:
            return
    names = []
    for name in sorted(listing.dirs - exclude):
        real = listing.linked_dirs.get(name)
        if real is not None:
            if real in seen:
                warn_skipped(f"skipped {os.path.join(listing.path, name)}: {real} was already walked")
                continue
            seen.add(real)
        names.append(name)
    if not names:
        return
    for sub in (yield from perform(ScanDirs([os.path.join(listing.path, name) for name in names]))):
        if sub.error is not None:
            warn_skipped(f"skipped unreadable directory {sub.path}: {sub.error.strerror or sub.error}")
            continue
        yield from _visit_data_dir(sub, exclude, prune, seen)


def sync_list_data_dirs(
    dirpath: PathLike, exclude: Iterable[str] = DEFAULT_EXCLUDE, sort: bool = True, prune: bool = True
) -> Iterator[str]:
    """The directories under ``dirpath`` (itself included) that hold at least one ``.hdr`` file,
    in sorted depth-first order; with ``prune``, none below one that does.

    Raises:
        NotFoundError: if ``dirpath`` does not exist.
    """
    return iterate_sync(_data_dirs(os.fspath(dirpath), frozenset(exclude), prune))


def async_list_data_dirs(
    dirpath: PathLike, exclude: Iterable[str] = DEFAULT_EXCLUDE, sort: bool = True, prune: bool = True
) -> AsyncIterator[str]:
    """:func:`sync_list_data_dirs` as an async iterator."""
    return iterate_async(_data_dirs(os.fspath(dirpath), frozenset(exclude), prune))


def _basepath(fileset: dict[str, Any] | None) -> str | None:
    return None if fileset is None else fileset["hdr"][: -len(".hdr")]


def sync_find_fileset(
    dirpath: PathLike, pid: str, include: Iterable[str] = DEFAULT_INCLUDE, exclude: Iterable[str] = DEFAULT_EXCLUDE,
    require_adc: bool = True, require_roi: bool = True,
) -> str | None:  # fmt: skip
    """The base path (without extension) of bin ``pid`` under ``dirpath``, or ``None`` when it is
    not there (or ``pid`` is not a bin id: it never touches a path)."""
    d = _directory(SyncIfcbDataDirectory, dirpath, include, exclude, require_adc, require_roi)
    try:
        return _basepath(d.find(pid))
    except (InvalidIdentifierError, NotFoundError):
        return None


async def async_find_fileset(
    dirpath: PathLike, pid: str, include: Iterable[str] = DEFAULT_INCLUDE, exclude: Iterable[str] = DEFAULT_EXCLUDE,
    require_adc: bool = True, require_roi: bool = True,
) -> str | None:  # fmt: skip
    """:func:`sync_find_fileset` for asyncio."""
    d = _directory(AsyncIfcbDataDirectory, dirpath, include, exclude, require_adc, require_roi)
    try:
        return _basepath(await d.find(pid))
    except (InvalidIdentifierError, NotFoundError):
        return None


def _resolve_adc(fileset_dir: str, pid: str, root_path: str) -> Op[str]:
    validate_bin_id(pid)
    corrected = adcmod_path(root_path, fileset_dir, pid)
    if (yield from perform(FileExists(corrected))):
        return corrected
    return os.path.join(fileset_dir, pid + ".adc")


def sync_resolve_adc_path(fileset_dir: PathLike, pid: str, root_path: PathLike) -> str:
    """The corrected ``adcmod/<day-dir>/<pid>.adc.mod`` beside ``root_path`` if there is one, else the
    raw ``.adc`` in ``fileset_dir`` (``<day-dir>`` is the name of ``fileset_dir``).

    Raises:
        InvalidIdentifierError: if ``pid`` is not a bin id.
    """
    return run_sync(_resolve_adc(os.fspath(fileset_dir), pid, os.fspath(root_path)))


async def async_resolve_adc_path(fileset_dir: PathLike, pid: str, root_path: PathLike) -> str:
    """:func:`sync_resolve_adc_path` for asyncio."""
    return await run_async(_resolve_adc(os.fspath(fileset_dir), pid, os.fspath(root_path)))
