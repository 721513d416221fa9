"""Per-bin work over a whole tree: bin metadata of many bins on the machine's cores, as named job
records a worker process runs (the pool itself: :mod:`ifcbkit.jobs.parallel`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from ..errors import IfcbError
from ..faces.directory import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, SyncIfcbDataDirectory, TimeLike
from ..science.metrics import MlMethod, check_method
from .parallel import Progress, parallel_map

__all__ = [
    "BinFailure", "MetadataJob", "TreeKey", "bins_under", "iter_bin_metadata", "metadata_job", "metadata_or_failure",
]  # fmt: skip


class BinFailure(NamedTuple):
    """A bin that could not be processed, and why (the error's message, naming the file)."""

    pid: str
    error: str


class TreeKey(NamedTuple):
    """What a worker needs to find a tree again: its root and include/exclude rules."""

    root: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]

    def directory(self) -> SyncIfcbDataDirectory:
        """The data directory object of this tree in this process (one per tree, so that forked
        workers inherit what it located)."""
        return _shared_directory(self)


@functools.lru_cache(maxsize=8)
def _shared_directory(key: TreeKey) -> SyncIfcbDataDirectory:
    return SyncIfcbDataDirectory(key.root, include=key.include, exclude=key.exclude)


class MetadataJob(NamedTuple):
    """One bin's metadata to compute in a worker."""

    tree: TreeKey
    pid: str
    method: MlMethod


def bins_under(
    root: str | os.PathLike[str], include: Iterable[str], exclude: Iterable[str], start_time: TimeLike | None,
    end_time: TimeLike | None, instrument: int | str | Iterable[int | str] | None,
) -> tuple[TreeKey, list[str]]:  # fmt: skip
    """What per-bin jobs need to find a tree again in a worker, and the ids of its bins within the
    filters, in listing order."""
    key = TreeKey(os.path.abspath(os.fspath(root)), tuple(include), tuple(exclude))
    listed: Iterable[dict[str, Any]] = key.directory().list(
        start_time=start_time, end_time=end_time, instrument=instrument
    )
    return key, [f["pid"] for f in listed]


def metadata_or_failure(source: Any, pid: str, method: MlMethod) -> dict[str, Any] | BinFailure:
    """``source.bin_metadata(pid, method=method)`` (a data directory or any sync bin store), or the
    :class:`BinFailure` that says why the bin could not be read."""
    try:
        meta: dict[str, Any] = source.bin_metadata(pid, method=method)
        return meta
    except (IfcbError, OSError) as e:
        return BinFailure(pid, str(e))


def metadata_job(job: MetadataJob) -> dict[str, Any] | BinFailure:
    """A :class:`MetadataJob` in a worker: the bin's metadata, or why it could not be read."""
    return metadata_or_failure(job.tree.directory(), job.pid, job.method)


def iter_bin_metadata(
    root: str | os.PathLike[str],
    *,
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    method: MlMethod = "adc",
    include: Iterable[str] = DEFAULT_INCLUDE,
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Iterator[dict[str, Any] | BinFailure]:
    """``bin_metadata`` of every bin under ``root`` (in listing order), computed on ``workers``
    processes; a bin that cannot be read gives a :class:`BinFailure`.

    Raises:
        ValueError: for an unknown method, time or instrument; NotFoundError: if ``root`` does not exist.
    """
    check_method(method)
    key, pids = bins_under(root, include, exclude, start_time, end_time, instrument)
    jobs = [MetadataJob(key, pid, method) for pid in pids]
    return parallel_map(metadata_job, jobs, workers=workers, progress=progress)
