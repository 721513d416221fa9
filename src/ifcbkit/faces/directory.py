"""IFCB data directories: a tree of bins on disk, listed, found and read, on a sync and an async face.

Both classes are shells over one :class:`~ifcbkit.sources.directory.DirectorySource`
(finding and listing) and one :class:`~ifcbkit.engine.reader.BinReader` (reading). An
unknown bin raises :class:`~ifcbkit.errors.NotFoundError` (a ``KeyError``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator

from ..engine.filters import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, FilesetFilter, TimeLike
from ..engine.reader import BinReader
from ..engine.requests import iterate_async, iterate_sync, run_async, run_sync
from ..errors import SkippedPathWarning
from ..formats.ids import Instruments
from ..sources.directory import ADCMOD_DIR, ADCMOD_EXT, DirectorySource, Fileset, adcmod_path
from .reads import AsyncBinReads, SyncBinReads, with_pid

__all__ = [
    "ADCMOD_DIR", "ADCMOD_EXT", "DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "AsyncIfcbDataDirectory", "AsyncTree",
    "DataDirectoryBase", "FilesetFilter", "SkippedPathWarning", "SyncIfcbDataDirectory", "SyncTree", "TimeLike",
    "adcmod_path",
]  # fmt: skip


class DataDirectoryBase:
    """What both faces of a data directory hold: the source, the reader and their settings."""

    def __init__(
        self,
        root_path: str | os.PathLike[str],
        include: Iterable[str] = DEFAULT_INCLUDE,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        require_adc: bool = True,
        require_roi: bool = True,
        *,
        strict: bool = False,
    ):
        """A tree rooted at ``root_path``; bins count under directories the include/exclude rule allows
        (``include`` and ``exclude`` hold directory names or glob patterns such as ``EN*``),
        with the files ``require_adc`` and ``require_roi`` ask for.

        Raises:
            InvalidArgumentError: (a ``ValueError``) if ``include`` and ``exclude`` overlap, or
                ``require_roi`` without ``require_adc``.
        """
        self.source = DirectorySource(root_path, include, exclude, require_adc, require_roi)
        self.reader = BinReader(self.source, strict=strict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    @property
    def root_path(self) -> str | os.PathLike[str]:
        """The root as given."""
        return self.source.root_path

    @property
    def root(self) -> str:
        """The root as an absolute path."""
        return self.source.root

    @property
    def include(self) -> tuple[str, ...]:
        """Directory names (or glob patterns) that always count."""
        return self.source.include

    @property
    def exclude(self) -> tuple[str, ...]:
        """Directory names (or glob patterns) never entered."""
        return self.source.exclude

    @property
    def require_adc(self) -> bool:
        """Whether a bin needs its ``.adc`` to count."""
        return self.source.require_adc

    @property
    def require_roi(self) -> bool:
        """Whether a bin needs its ``.roi`` to count."""
        return self.source.require_roi


class SyncTree:
    """Listing and finding the bins of a tree, in the calling thread (over ``self.source``)."""

    source: DirectorySource

    def list(
        self, start_time: TimeLike | None = None, end_time: TimeLike | None = None, instrument: Instruments = None,
        *, validate: bool = True,
    ) -> Iterator[Fileset]:  # fmt: skip
        """The bins in the tree as ``{'pid', 'hdr', 'adc', 'roi'}`` dicts (paths; ``None`` for a file
        that is allowed to be missing), in sample-time order across naming styles, within
        ``[start_time, end_time)`` and for the given instrument(s). ``validate=False`` drops the include rule.

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid time (ArgumentTypeError, a
                ``TypeError``, for one of another type); InvalidIdentifierError (a ``ValueError``) for an
                invalid instrument; NotFoundError: if the root does not exist.
        """
        return iterate_sync(self.source.list(start_time, end_time, instrument, validate=validate))

    def list_data_dirs(self) -> Iterator[str]:
        """The directories (absolute paths) that directly hold at least one bin, in the order
        :meth:`list` reaches them.

        Raises:
            NotFoundError: if the root does not exist.
        """
        return iterate_sync(self.source.list_data_dirs())

    def find(self, pid: str) -> Fileset:
        """The bin's fileset ``{'pid', 'hdr', 'adc', 'roi'}`` (``adc`` is a corrected ``.adc.mod``
        when there is one).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError (a ``ValueError``
                and a ``KeyError``) if ``pid`` is not a bin id (for a ROI id, the message names its bin).
        """
        return run_sync(self.source.find(pid))

    def paths(self, pid: str) -> dict[str, str | None]:
        """The bin's ``{'hdr', 'adc', 'roi'}`` paths (``None`` for a file allowed to be missing).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError (a ``ValueError``
                and a ``KeyError``) if ``pid`` is not a bin id (for a ROI id, the message names its bin).
        """
        return run_sync(self.source.paths(pid))


class SyncIfcbDataDirectory(DataDirectoryBase, SyncTree, SyncBinReads):
    """A tree of IFCB bins on disk, read synchronously: ``list``, ``exists``, ``paths``, ``find``
    and every read method (``read_image``, ``read_images``, ``iter_images``, ...)."""

    def exists(self, pid: str) -> bool:
        """Whether the bin is in the tree with the files this directory requires (``False`` for an
        id that is not a bin id)."""
        return run_sync(self.source.has_bin(pid))

    list_images = with_pid(SyncBinReads.list_images)
    read_images = with_pid(SyncBinReads.read_images)

    def images_exist(self, pid: str, roi_ids: Iterable[str], *, stitch: bool = True) -> dict[str, bool]:
        """``{roi_id: exists}`` for ROIs of one bin, with one ADC lookup (``False`` for an unknown bin).

        Raises:
            InvalidIdentifierError: (a ``KeyError``) for an id that is not a ROI id.
        """
        return run_sync(self.reader.images_exist(pid, roi_ids, stitch=stitch))


class AsyncTree:
    """Listing and finding the bins of a tree, awaitable (over ``self.source``)."""

    source: DirectorySource

    def list(
        self, start_time: TimeLike | None = None, end_time: TimeLike | None = None, instrument: Instruments = None,
        *, validate: bool = True,
    ) -> AsyncIterator[Fileset]:  # fmt: skip
        """``async for`` over the bins in the tree (:meth:`SyncIfcbDataDirectory.list`).

        Raises:
            InvalidArgumentError, InvalidIdentifierError, NotFoundError: as
                :meth:`SyncIfcbDataDirectory.list` does.
        """
        return iterate_async(self.source.list(start_time, end_time, instrument, validate=validate))

    def list_data_dirs(self) -> AsyncIterator[str]:
        """``async for`` over the directories that directly hold a bin, in walk order.

        Raises:
            NotFoundError: if there is no directory at the root.
        """
        return iterate_async(self.source.list_data_dirs())

    async def find(self, pid: str) -> Fileset:
        """Await the bin's fileset (:meth:`SyncIfcbDataDirectory.find`).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError if ``pid`` is not
                a bin id (a ROI id included).
        """
        return await run_async(self.source.find(pid))

    async def paths(self, pid: str) -> dict[str, str | None]:
        """Await the bin's ``{'hdr', 'adc', 'roi'}`` paths (:meth:`SyncIfcbDataDirectory.paths`).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError if ``pid`` is not
                a bin id (a ROI id included).
        """
        return await run_async(self.source.paths(pid))


class AsyncIfcbDataDirectory(DataDirectoryBase, AsyncTree, AsyncBinReads):
    """:class:`SyncIfcbDataDirectory` for asyncio: the same methods, awaitable (``list`` and
    ``iter_images`` are async iterators); no call blocks the event loop."""

    async def exists(self, pid: str) -> bool:
        """Await whether the bin is in the tree (:meth:`SyncIfcbDataDirectory.exists`)."""
        return await run_async(self.source.has_bin(pid))

    list_images = with_pid(AsyncBinReads.list_images)
    read_images = with_pid(AsyncBinReads.read_images)

    async def images_exist(self, pid: str, roi_ids: Iterable[str], *, stitch: bool = True) -> dict[str, bool]:
        """Await ``{roi_id: exists}`` for ROIs of one bin (:meth:`SyncIfcbDataDirectory.images_exist`).

        Raises:
            InvalidIdentifierError: (a ``KeyError``) for an id that is not a ROI id.
        """
        return await run_async(self.reader.images_exist(pid, roi_ids, stitch=stitch))
