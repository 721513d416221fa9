"""Caching tiers: S3 (or any object store) as a cache over a filesystem source of truth.

:class:`CachingBinStore` reads a bin file from the cache store and, on a miss, from the
filesystem, then copies the whole file into the cache ("promotion"), so the next ranged
read is served by the cache. :class:`CachingRoiStore` looks an encoded ROI image up in its
tiers in order (memory → S3 → images rendered from the raw files) and promotes it into the
tiers that missed. Promotion is best effort: a failed write is logged and never turns a
successful read into a failure; a cache that fails to *read* is logged and skipped.

Cached files are assumed not to change (raw IFCB files are written once): cached indexes
follow the filesystem's file versions, cached bytes are not revalidated.

Each store is one class body on two faces. Give the async stores non-blocking tiers (async
stores, or in-memory objects such as :class:`~ifcbkit.stores.objectstore.MemoryStore`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable
from typing import Any

from ..errors import NotFoundError, ReadOnlyError, StoreError
from ..faces import AsyncFace, Op, SyncFace, operation
from ..identifiers import parse_bin_key, parse_roi_id
from ..reading import BinReading
from .base import _KeyedBins, _RoiStore
from .filesystem import _FilesystemBins
from .objectstore import AsyncDictRoiStore, MemoryStore, _BackendBins, call_backend, failure_reason

logger = logging.getLogger(__name__)


def _as_bin_reader(store: Any, what: str) -> BinReading:
    """A bin store or data directory as is; a path as a filesystem store; an amplify-shaped object
    as an object bin store (year layout)."""
    if isinstance(store, BinReading):
        return store
    if isinstance(store, (str, os.PathLike)):
        return _FilesystemBins(store)
    if all(callable(getattr(store, name, None)) for name in ("get", "put", "exists")):
        return _BackendBins(store)
    raise TypeError(f"{what} must be a bin store, a data directory path or an object store, not {type(store).__name__}")


class _CachingBins(_KeyedBins):
    """Bin files from ``s3`` (the cache), else from ``fs`` (the truth), promoted into ``s3`` on a miss."""

    def __init__(self, fs: Any = None, s3: Any = None):
        if fs is None and s3 is None:
            raise ValueError("a caching bin store needs at least one of fs and s3")
        self.fs = _as_bin_reader(fs if fs is not None else s3, "fs")
        self.s3 = _as_bin_reader(s3, "s3") if s3 is not None else None
        self._tiered = fs is not None and s3 is not None  # else one store does everything
        if self.s3 is not None and not callable(getattr(self.s3, "_write_file", None)):
            raise TypeError(f"the cache store {type(self.s3).__name__} cannot be written to")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fs={self.fs!r}, s3={self.s3!r})"

    def _from_cache(self, read: Op[Any], bin_id: str, ext: str) -> Op[tuple[bool, Any]]:
        """``(True, result)`` of a read on the cache, ``(False, None)`` on a miss or a cache failure."""
        try:
            return True, (yield from read)
        except NotFoundError:
            return False, None
        except StoreError as e:
            cache = self.s3._describe(bin_id, ext) if self.s3 is not None else "the cache"
            logger.warning("cache read of %s failed (%s); reading %s", cache, failure_reason(e.__cause__ or e),
                           self.fs._describe(bin_id, ext))  # fmt: skip
            return False, None

    def _promote(self, bin_id: str, ext: str, data: bytes) -> Op[None]:
        if self.s3 is None:
            return
        try:
            yield from self.s3._write_file(bin_id, ext, data)  # type: ignore[attr-defined]
        except Exception as e:
            logger.warning("could not copy %s into the cache (%s)", self.s3._describe(bin_id, ext),
                           failure_reason(e.__cause__ or e))  # fmt: skip

    def _fetch(self, bin_id: str, ext: str) -> Op[bytes]:
        data = yield from self.fs._read_file(bin_id, ext)
        yield from self._promote(bin_id, ext, data)
        return data

    # ----- BinReading primitives -----

    def _describe(self, bin_id: str, ext: str) -> str:
        return self.fs._describe(bin_id, ext)

    def _cache_namespace(self) -> Hashable:
        return self.fs._cache_namespace()  # the same files: share the filesystem's cached indexes

    def _read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        if not self._tiered:
            return (yield from self.fs._read_file(bin_id, ext))
        hit, data = yield from self._from_cache(self.s3._read_file(bin_id, ext), bin_id, ext)  # type: ignore[union-attr]
        return data if hit else (yield from self._fetch(bin_id, ext))

    def _read_ranges(self, bin_id: str, ext: str, ranges: list[tuple[int, int]]) -> Op[list[bytes]]:
        if not self._tiered:
            return (yield from self.fs._read_ranges(bin_id, ext, ranges))
        reading = self.s3._read_ranges(bin_id, ext, ranges)  # type: ignore[union-attr]
        hit, chunks = yield from self._from_cache(reading, bin_id, ext)
        if hit:
            return chunks
        data = yield from self._fetch(bin_id, ext)  # the whole file, so that the cache gets it
        return [data[offset : offset + length] for offset, length in ranges]

    def _file_version(self, bin_id: str, ext: str) -> Op[Hashable | None]:
        return (yield from self.fs._file_version(bin_id, ext))

    def _file_exists(self, bin_id: str, ext: str) -> Op[bool]:
        return (yield from self.fs._file_exists(bin_id, ext))

    def _file_size(self, bin_id: str, ext: str) -> Op[int]:
        return (yield from self.fs._file_size(bin_id, ext))

    @operation
    def get_path(self, key: str) -> Op[str | None]:
        """The local file behind ``key`` in the filesystem tier, or ``None``."""
        path_of = getattr(self.fs, "_path_of", None)
        return None if path_of is None else (yield from path_of(key))

    @operation
    def put(self, key: str, data: bytes) -> Op[None]:
        """Store a bin file in the cache tier.

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) without a cache tier.
        """
        if self.s3 is None:
            raise ReadOnlyError(f"{self!r} has no cache store (s3) to write to")
        yield from self.s3._write_file(*parse_bin_key(key), data)  # type: ignore[attr-defined]


class SyncCachingBinStore(_CachingBins, SyncFace):
    """A bin store where ``s3`` (an S3 or object bin store, or an amplify-shaped object) caches ``fs``
    (a filesystem bin store, data directory, or a data root path); either may be ``None``.

    ``SyncCachingBinStore(fs='/data/ifcb', s3=S3BinStore('bucket', client))``; every read operation
    of :class:`~ifcbkit.reading.BinReading`, plus ``get``/``get_range``/``exists``/``put`` by key.
    """


class CachingBinStore(_CachingBins, AsyncFace):
    """:class:`SyncCachingBinStore` for asyncio, as in ifcbkit 0.3.1: ``CachingBinStore(fs=..., s3=...)``,
    every method awaitable (blocking tiers run in worker threads)."""


AsyncCachingBinStore = CachingBinStore


# ----- ROI images -----------------------------------------------------------------------------


def _name(tier: Any) -> str:
    return type(tier).__name__


class _CachingRois(_RoiStore):
    """Encoded ROI images from the first tier that has them, promoted into the tiers that missed."""

    _memory_tier: Callable[[], Any]  # the tier ``cache=None`` stands for

    def __init__(self, cache: Any = None, s3: Any = None, fs: Any = None):
        self.cache_store = self._memory_tier() if cache is None else cache
        self.s3_store = s3
        self.fs_store = fs
        self.tiers = [tier for tier in (self.cache_store, s3, fs) if tier is not None]
        if not self.tiers:
            raise ValueError("a caching ROI store needs at least one tier")
        types = {tier.file_type for tier in self.tiers if isinstance(getattr(tier, "file_type", None), str)}
        if len(types) > 1:
            raise ValueError(f"the tiers hold different image types: {sorted(types)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(_name(t) for t in self.tiers)})"

    @operation
    def get(self, roi_id: str) -> Op[bytes]:
        """The encoded image from the first tier that has it; earlier tiers get a copy."""
        parse_roi_id(roi_id)
        missed = []
        last = len(self.tiers) - 1
        for position, tier in enumerate(self.tiers):
            where = f"{roi_id} in {_name(tier)}"
            try:
                data = yield from call_backend(tier.get, roi_id, action="reading", where=where)
            except NotFoundError:
                if position == last:
                    raise
                missed.append(tier)
                continue
            except StoreError as e:
                if position == last:
                    raise
                logger.warning("reading %s failed (%s); trying the next tier", where, failure_reason(e.__cause__ or e))
                continue
            for other in missed:
                try:
                    yield from call_backend(
                        other.put, roi_id, data, action="writing", where=f"{roi_id} in {_name(other)}"
                    )
                except Exception as e:
                    logger.warning(
                        "could not copy %s into %s (%s)", roi_id, _name(other), failure_reason(e.__cause__ or e)
                    )
            return bytes(data)
        raise AssertionError("unreachable")

    @operation
    def exists(self, roi_id: str) -> Op[bool]:
        """Whether any tier has (or, for rendering tiers, can make) the image."""
        parse_roi_id(roi_id)
        last = len(self.tiers) - 1
        for position, tier in enumerate(self.tiers):
            where = f"{roi_id} in {_name(tier)}"
            try:
                if (yield from call_backend(tier.exists, roi_id, action="checking", where=where)):
                    return True
            except StoreError as e:
                if position == last:
                    raise
                logger.warning("checking %s failed (%s)", where, failure_reason(e.__cause__ or e))
        return False

    @operation
    def put(self, roi_id: str, image_data: bytes) -> Op[None]:
        """Store an encoded image in the ``s3`` tier (and the memory tier).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``, so a ``RuntimeError``) without an ``s3`` tier.
        """
        parse_roi_id(roi_id)
        if self.s3_store is None:
            raise ReadOnlyError(f"{self!r} has no s3 tier to write to")
        where = f"{roi_id} in {_name(self.s3_store)}"
        yield from call_backend(self.s3_store.put, roi_id, image_data, action="writing", where=where)
        yield from call_backend(self.cache_store.put, roi_id, image_data, action="writing", where=where)


class SyncCachingRoiStore(_CachingRois, SyncFace):
    """Encoded ROI images by ROI id through tiers: ``cache`` (in memory; ``None`` means a new
    :class:`~ifcbkit.stores.objectstore.MemoryStore`), ``s3`` (e.g. an
    :class:`~ifcbkit.stores.s3.S3RoiStore`) and ``fs`` (e.g. a
    :class:`~ifcbkit.stores.filesystem.SyncFilesystemRoiStore` rendering raw bins). ``s3`` and
    ``fs`` may be ``None``; any amplify-shaped object keyed by ROI id is a tier."""

    _memory_tier = MemoryStore


class CachingRoiStore(_CachingRois, AsyncFace):
    """:class:`SyncCachingRoiStore` for asyncio, as in ifcbkit 0.3.1:
    ``CachingRoiStore(cache=None, s3=..., fs=...)``, every method awaitable (``cache=None``: an
    :class:`~ifcbkit.stores.objectstore.AsyncDictRoiStore`)."""

    _memory_tier = AsyncDictRoiStore


AsyncCachingRoiStore = CachingRoiStore
