"""Caching tiers: S3 (or any object store) as a cache in front of a filesystem.

:class:`CachingBinStore` finds a bin in either tier, as 0.3.1's does: the filesystem holds it when
it has the bin's header, else the cache when that has it. A bin the filesystem holds is read from
the cache's copy of a file when there is one, else from the filesystem, and then the whole file is
copied into the cache ("promotion"), so the next ranged read is served by the cache. A bin only in
the cache is read from the cache. Existence, versions and sizes are those of the tier that holds the
bin, never a mix of both. :class:`CachingRoiStore` looks an encoded ROI image up in its tiers in
order (memory → S3 → images rendered from the raw files) and promotes it into the tiers that
missed. Promotion is best effort: a failed write is logged and never turns a successful read into
a failure; a cache that fails to *read* a bin the filesystem holds is logged and skipped.

Cached copies are assumed to be the filesystem's files (raw IFCB files are written once); a copy
whose end differs from the file's (one made while the instrument was still writing the bin) is
noticed where a read reaches its end, and read again from the filesystem.

The stores are shells over :class:`CachingSource` (bins) and :class:`TieredImages` (ROI images).
Give the async stores non-blocking tiers (async stores, or in-memory objects such as
:class:`~ifcbkit.stores.memory.MemoryStore`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

from ..engine.cache import LRUCache
from ..engine.filters import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, TimeLike
from ..engine.reader import BinReader
from ..engine.requests import EmitMany, Op, collect, run_async, run_sync
from ..engine.source import BinSource
from ..errors import ArgumentTypeError, InvalidArgumentError, NotFoundError, ReadOnlyError, StoreError
from ..formats.ids import parse_bin_key, parse_roi_id, time_key
from ..formats.ranges import ByteRange
from ..sources.directory import DirectorySource
from ..sources.failures import call_backend, failure_reason
from ..sources.layouts import KeyLayout
from ..sources.objects import BackendObjects, ObjectSource
from .base import AsyncBinStore, AsyncRoiStore, AsyncSourceKeys, SyncBinStore, SyncRoiStore, SyncSourceKeys
from .filesystem import path_of
from .memory import MemoryStore
from .objectstore import AsyncDictRoiStore

T = TypeVar("T")

logger = logging.getLogger(__name__)

__all__ = [
    "AsyncCachingBinStore", "AsyncCachingRoiStore", "CachingBinStore", "CachingRoiStore", "CachingSource",
    "SyncCachingBinStore", "SyncCachingRoiStore", "TieredImages", "as_source",
]  # fmt: skip


def as_source(store: Any, what: str) -> BinSource:
    """The source of a bin store or data directory; a path as a filesystem store's (every file that is
    there); an amplify-shaped object as an object bin store's (year layout).

    Raises:
        ArgumentTypeError: (a ``TypeError``) for anything else.
    """
    source = getattr(store, "source", None)
    if isinstance(source, BinSource):
        return source
    if isinstance(store, BinSource):
        return store
    if isinstance(store, (str, os.PathLike)):
        return DirectorySource(store, DEFAULT_INCLUDE, DEFAULT_EXCLUDE, require_adc=False, require_roi=False)
    if all(callable(getattr(store, name, None)) for name in ("get", "put", "exists")):
        return ObjectSource(BackendObjects(store), KeyLayout())
    raise ArgumentTypeError(
        what, f"{what} must be a bin store, a data directory path or an object store, not {type(store).__name__}"
    )


class CachingSource(BinSource):
    """Bin files from the tier that holds the bin, as 0.3.1's ``exists`` looks in both tiers: ``fs``
    when it has the bin's header, else ``cache`` when that has it. A bin ``fs`` holds is read from the
    cache when the cache has a copy of the file, else from ``fs`` and then copied whole into the cache
    (promotion, best effort); a file ``fs`` lacks is missing, whatever the cache has. A bin only in
    the cache is read from the cache. Existence, versions and sizes are those of the tier that holds
    the bin, never a mix of both."""

    def __init__(self, fs: BinSource, cache: ObjectSource | None):
        self.fs = fs
        self.cache = cache
        self._in_cache: LRUCache[bool] = LRUCache(4096)  # bins last found only in the cache (for describe)

    def __repr__(self) -> str:
        return f"CachingSource({self.fs!r}, {self.cache!r})"

    def describe(self, bin_id: str, ext: str) -> str:
        if self.cache is not None and self._in_cache.get(bin_id):
            return self.cache.describe(bin_id, ext)
        return self.fs.describe(bin_id, ext)

    def cache_token(self) -> Hashable:
        # fs's, to share its cached indexes: the versions of a bin the cache holds say where they are from
        return self.fs.cache_token()

    # ----- which tier holds a bin -----------------------------------------------------------------

    def _fs_has(self, bin_id: str, ext: str) -> Op[tuple[bool, bool]]:
        """Whether the filesystem tier holds the bin (has its header), and whether it has the ``ext`` file."""
        if isinstance(self.fs, DirectorySource):  # one look at the bin's files
            try:
                fileset = yield from self.fs.find(bin_id)
            except NotFoundError:
                return False, False
            return True, fileset.get(ext) is not None
        has_bin = yield from self.fs.exists(bin_id, "hdr")
        if not has_bin or ext == "hdr":
            return has_bin, has_bin
        return True, (yield from self.fs.exists(bin_id, ext))

    def _holder(self, bin_id: str, ext: str, *, ask_cache: bool = True) -> Op[tuple[BinSource | None, bool]]:
        """The tier that holds the bin (``None``: neither), and whether it has the ``ext`` file (for the
        cache, assumed without ``ask_cache``: a read of a file it lacks says so itself)."""
        has_bin, has_file = yield from self._fs_has(bin_id, ext)
        if has_bin or self.cache is None:
            self._in_cache.discard(bin_id)
            return (self.fs if has_bin else None), has_file
        if not (yield from self.cache.exists(bin_id, "hdr")):
            return None, False
        self._in_cache.put(bin_id, True)
        return self.cache, (ext == "hdr" or not ask_cache or (yield from self.cache.exists(bin_id, ext)))

    def _tier(self, bin_id: str, ext: str, *, reading: bool = False) -> Op[BinSource]:
        """The tier that holds the bin and its ``ext`` file (``reading``: the cache is not asked
        whether it has the file, the read will tell).

        Raises:
            NotFoundError: when neither tier holds the bin, or the one that does lacks the file.
        """
        tier, has_file = yield from self._holder(bin_id, ext, ask_cache=not reading)
        if tier is None:
            assert self.cache is not None
            raise NotFoundError(f"no bin {bin_id}: no {self.fs.describe(bin_id, 'hdr')} "
                                f"and no {self.cache.describe(bin_id, 'hdr')}")  # fmt: skip
        if not has_file:
            raise NotFoundError(f"bin {bin_id} has no .{ext} file ({tier.describe(bin_id, ext)})")
        return tier

    # ----- reads ----------------------------------------------------------------------------------

    def _from_cache(self, read: Op[T], bin_id: str, ext: str) -> Op[T | None]:
        """The result of a read on the cache, ``None`` on a miss or a cache failure."""
        assert self.cache is not None
        try:
            return (yield from read)
        except NotFoundError:
            return None
        except StoreError as e:
            logger.warning("cache read of %s failed (%s); reading %s", self.cache.describe(bin_id, ext),
                           failure_reason(e.__cause__ or e), self.fs.describe(bin_id, ext))  # fmt: skip
            return None

    def _fetch(self, bin_id: str, ext: str) -> Op[bytes]:
        """The whole file from the filesystem tier, promoted into the cache."""
        data = yield from self.fs.read(bin_id, ext)
        if self.cache is not None:
            try:
                yield from self.cache.write(bin_id, ext, data)
            except Exception as e:
                logger.warning("could not copy %s into the cache (%s)", self.cache.describe(bin_id, ext),
                               failure_reason(e.__cause__ or e))  # fmt: skip
        return data

    def _stale(self, bin_id: str, ext: str, ranges: list[ByteRange], chunks: list[bytes]) -> Op[bool]:
        """Whether the cache's copy of a file ``fs`` holds is not ``fs``'s file, as far as the chunks
        read from it show: one that ends elsewhere (a copy made while the instrument was still writing
        the bin, or of a file since replaced). Asks ``fs`` for the file's size only when a chunk came
        back short (always for a whole file, read as one range past any end)."""
        if all(len(chunk) == r.length for r, chunk in zip(ranges, chunks)):
            return False
        size = yield from self.fs.size(bin_id, ext)
        if all(len(chunk) == len(range(r.offset, min(r.end, size))) for r, chunk in zip(ranges, chunks)):
            return False
        assert self.cache is not None
        logger.info("the cached %s is not %s (%d bytes): reading the latter", self.cache.describe(bin_id, ext),
                    self.fs.describe(bin_id, ext), size)  # fmt: skip
        return True

    def read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        if self.cache is None:
            return (yield from self.fs.read(bin_id, ext))
        tier = yield from self._tier(bin_id, ext, reading=True)
        if tier is self.cache:
            return (yield from self.cache.read(bin_id, ext))
        data = yield from self._from_cache(self.cache.read(bin_id, ext), bin_id, ext)
        # the whole copy: asked as one range past any end, so that a copy of another length is stale
        if data is not None and not (yield from self._stale(bin_id, ext, [ByteRange(0, len(data) + 1)], [data])):
            return data
        return (yield from self._fetch(bin_id, ext))

    def read_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        if self.cache is None:
            return (yield from self.fs.read_ranges(bin_id, ext, ranges))
        tier = yield from self._tier(bin_id, ext, reading=True)
        if tier is self.cache:
            return (yield from self.cache.read_ranges(bin_id, ext, ranges))
        chunks = yield from self._from_cache(self.cache.read_ranges(bin_id, ext, ranges), bin_id, ext)
        if chunks is not None and not (yield from self._stale(bin_id, ext, ranges, chunks)):
            return chunks
        data = yield from self._fetch(bin_id, ext)  # the whole file, so that the cache gets it
        return [r.of(data) for r in ranges]

    # ----- what the tier that holds the bin says --------------------------------------------------

    def version(self, bin_id: str, ext: str) -> Op[Hashable | None]:
        if self.cache is None:
            return (yield from self.fs.version(bin_id, ext))
        tier = yield from self._tier(bin_id, ext)
        version = yield from tier.version(bin_id, ext)
        return version if tier is self.fs else ("cache", self.cache.cache_token(), version)

    def versions(self, bin_id: str) -> Op[Hashable | None]:
        if self.cache is None:
            return (yield from self.fs.versions(bin_id))
        tier = yield from self._tier(bin_id, "hdr")  # its versions say when the ADC is missing
        versions = yield from tier.versions(bin_id)
        # a cached index of a bin the cache holds is never taken for one of the filesystem tier's
        return versions if tier is self.fs else ("cache", self.cache.cache_token(), versions)

    def exists(self, bin_id: str, ext: str) -> Op[bool]:
        if self.cache is None:
            return (yield from self.fs.exists(bin_id, ext))
        tier, has_file = yield from self._holder(bin_id, ext)
        return tier is not None and has_file

    def size(self, bin_id: str, ext: str) -> Op[int]:
        if self.cache is None:
            return (yield from self.fs.size(bin_id, ext))
        tier = yield from self._tier(bin_id, ext)
        return (yield from tier.size(bin_id, ext))

    def list_bins(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
    ) -> Op[None]:
        """The bins the filesystem tier lists and those the cache lists, each once, in sample-time order.

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid time; InvalidIdentifierError (a
                ``ValueError``) for an invalid instrument.
        """
        found = yield from collect(self.fs.list_bins(start_time, end_time, instrument))
        if self.cache is not None:
            found.extend((yield from collect(self.cache.list_bins(start_time, end_time, instrument))))
        if found:
            yield EmitMany(sorted(set(found), key=time_key))

    def path(self, key: str) -> Op[str | None]:
        """The local file behind ``key`` in the filesystem tier, when that is a directory."""
        return (yield from path_of(self.fs, key)) if isinstance(self.fs, DirectorySource) else None


class CachingBinsBase:
    """What both faces of a caching bin store hold."""

    source: CachingSource

    def __init__(self, fs: Any = None, s3: Any = None):
        """``s3`` (an S3 or object bin store, or an amplify-shaped object) caching ``fs`` (a filesystem
        bin store, data directory, or a data root path); either may be ``None``.

        Raises:
            InvalidArgumentError: (a ``ValueError``) without either; ArgumentTypeError (a ``TypeError``)
                for a tier of another kind, or a cache that cannot be written.
        """
        if fs is None and s3 is None:
            raise InvalidArgumentError("fs", "a caching bin store needs fs or s3 (or both), and both are None")
        self.fs = fs if fs is not None else s3
        self.s3 = s3
        self._writes_to: ObjectSource | None = None  # the s3 store, which takes the writes
        if s3 is None:
            self.source = CachingSource(as_source(fs, "fs"), None)
        else:
            cache = as_source(s3, "s3")
            if not isinstance(cache, ObjectSource):
                raise ArgumentTypeError("s3", f"s3 must be a store that can be written to, not {type(s3).__name__}")
            self._writes_to = cache
            if fs is None:  # the s3 store alone does the reading too
                self.source = CachingSource(cache, None)
            else:
                self.source = CachingSource(as_source(fs, "fs"), cache)
        self.reader = BinReader(self.source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fs={self.fs!r}, s3={self.s3!r})"

    def _write(self, key: str, data: bytes) -> Op[None]:
        if self._writes_to is None:
            raise ReadOnlyError(f"{self!r} has no cache store (s3) to write to")
        yield from self._writes_to.write(*parse_bin_key(key), data)


class SyncCachingBinStore(CachingBinsBase, SyncSourceKeys, SyncBinStore):
    """A bin store where ``s3`` (an S3 or object bin store, or an amplify-shaped object) caches ``fs``
    (a filesystem bin store, data directory, or a data root path); either may be ``None``.

    ``SyncCachingBinStore(fs='/data/ifcb', s3=S3BinStore('bucket', client))``: every read method,
    plus ``get``/``get_range``/``exists``/``put`` by key.
    """

    def get_path(self, key: str) -> str | None:
        """The local file behind ``key`` in the filesystem tier, or ``None``."""
        return run_sync(self.source.path(key))

    def put(self, key: str, data: bytes) -> None:
        """Store a bin file in the cache tier.

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) without a cache tier.
        """
        run_sync(self._write(key, data))


class CachingBinStore(CachingBinsBase, AsyncSourceKeys, AsyncBinStore):
    """:class:`SyncCachingBinStore` for asyncio, as in ifcbkit 0.3.1: ``CachingBinStore(fs=..., s3=...)``,
    every method awaitable (blocking tiers run in worker threads)."""

    async def get_path(self, key: str) -> str | None:
        """Await the local file behind ``key`` in the filesystem tier, or ``None``."""
        return await run_async(self.source.path(key))

    async def put(self, key: str, data: bytes) -> None:
        """Await storing a bin file in the cache tier.

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) without a cache tier.
        """
        await run_async(self._write(key, data))


AsyncCachingBinStore = CachingBinStore


# ----- ROI images -----------------------------------------------------------------------------


def _name(tier: Any) -> str:
    return type(tier).__name__


class TieredImages:
    """Encoded ROI images from the first tier that has them, promoted into the tiers that missed (sans-I/O)."""

    def __init__(self, cache: Any, s3: Any, fs: Any):
        self.cache_store = cache
        self.s3_store = s3
        self.fs_store = fs
        self.tiers = [tier for tier in (cache, s3, fs) if tier is not None]
        named = {name: tier.file_type for name, tier in (("cache", cache), ("s3", s3), ("fs", fs))
                 if isinstance(getattr(tier, "file_type", None), str)}  # fmt: skip
        if len(set(named.values())) > 1:
            odd = [name for name, file_type in named.items() if file_type != next(iter(named.values()))]
            shown = ", ".join(f"{name}: {file_type!r}" for name, file_type in named.items())
            raise InvalidArgumentError(odd[0], f"the tiers hold different image types ({shown})")

    def __repr__(self) -> str:
        return ", ".join(_name(t) for t in self.tiers)

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

    def put(self, roi_id: str, image_data: bytes) -> Op[None]:
        """Store an encoded image in the ``s3`` tier (and the memory tier)."""
        parse_roi_id(roi_id)
        if self.s3_store is None:
            raise ReadOnlyError(f"a caching ROI store over {self!r} has no s3 tier to write to")
        where = f"{roi_id} in {_name(self.s3_store)}"
        yield from call_backend(self.s3_store.put, roi_id, image_data, action="writing", where=where)
        yield from call_backend(self.cache_store.put, roi_id, image_data, action="writing", where=where)


class CachingRoisBase:
    """What both faces of a caching ROI store hold: their tiers."""

    def __init__(self, cache: Any = None, s3: Any = None, fs: Any = None):
        """Tiers in order: ``cache`` (``None``: a new one in memory), ``s3`` and ``fs``.

        Raises:
            InvalidArgumentError: (a ``ValueError``) if the tiers hold different image types.
        """
        self.images = TieredImages(self._memory_tier() if cache is None else cache, s3, fs)

    def _memory_tier(self) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.images!r})"

    @property
    def tiers(self) -> list[Any]:
        """The tiers, first asked first."""
        return self.images.tiers

    @property
    def cache_store(self) -> Any:
        """The memory tier."""
        return self.images.cache_store

    @property
    def s3_store(self) -> Any:
        """The ``s3`` tier, or ``None``."""
        return self.images.s3_store

    @property
    def fs_store(self) -> Any:
        """The ``fs`` tier, or ``None``."""
        return self.images.fs_store


class SyncCachingRoiStore(CachingRoisBase, SyncRoiStore):
    """Encoded ROI images by ROI id through tiers: ``cache`` (in memory; ``None`` means a new
    :class:`~ifcbkit.stores.memory.MemoryStore`), ``s3`` (e.g. an
    :class:`~ifcbkit.stores.s3.S3RoiStore`) and ``fs`` (e.g. a
    :class:`~ifcbkit.stores.filesystem.SyncFilesystemRoiStore` rendering raw bins). ``s3`` and
    ``fs`` may be ``None``; any amplify-shaped object keyed by ROI id is a tier."""

    def _memory_tier(self) -> Any:
        return MemoryStore()

    def get(self, roi_id: str) -> bytes:
        """The encoded image from the first tier that has it; earlier tiers get a copy.

        Raises:
            NotFoundError: (a ``KeyError``) when no tier has it.
        """
        return run_sync(self.images.get(roi_id))

    def exists(self, roi_id: str) -> bool:
        """Whether any tier has (or, for rendering tiers, can make) the image.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return run_sync(self.images.exists(roi_id))

    def put(self, roi_id: str, image_data: bytes) -> None:
        """Store an encoded image in the ``s3`` tier (and the memory tier).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) without an ``s3`` tier.
        """
        run_sync(self.images.put(roi_id, image_data))


class CachingRoiStore(CachingRoisBase, AsyncRoiStore):
    """:class:`SyncCachingRoiStore` for asyncio, as in ifcbkit 0.3.1:
    ``CachingRoiStore(cache=None, s3=..., fs=...)``, every method awaitable (``cache=None``: an
    :class:`~ifcbkit.stores.objectstore.AsyncDictRoiStore`)."""

    def _memory_tier(self) -> Any:
        return AsyncDictRoiStore()

    async def get(self, roi_id: str) -> bytes:
        """Await the encoded image from the first tier that has it.

        Raises:
            NotFoundError: (a ``KeyError``) when no tier has it.
        """
        return await run_async(self.images.get(roi_id))

    async def exists(self, roi_id: str) -> bool:
        """Await whether any tier has (or can make) the image.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return await run_async(self.images.exists(roi_id))

    async def put(self, roi_id: str, image_data: bytes) -> None:
        """Await storing an encoded image in the ``s3`` tier (and the memory tier).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) without an ``s3`` tier.
        """
        await run_async(self.images.put(roi_id, image_data))


AsyncCachingRoiStore = CachingRoiStore
