"""Bin and ROI stores over any object store shaped like amplify-storage-utils' ``ObjectStore``.

The backend protocol (duck-typed: no base class, nothing to register):

- ``get(key) -> bytes``, ``put(key, data)``, ``exists(key) -> bool``, ``delete(key)``,
  ``keys()`` / ``keys(prefix)``;
- async backends have the same names as coroutines; their ``keys`` may be an async
  generator *or* a coroutine returning a list (a sync ``keys`` may return any iterable);
- a missing key may raise ``KeyError`` (or a subclass), ``FileNotFoundError``, a botocore
  ``ClientError`` whose code is ``NoSuchKey``/``404``/``NotFound``, or any exception whose
  ``response.status_code`` is 404 (httpx/requests);
- optional: ``get_range(key, start, end)`` with slice semantics (``end`` exclusive, short at the
  end of the object; a range past the end may also raise S3's ``InvalidRange`` or an HTTP 416
  error) and ``size(key) -> int``; without ``get_range`` a range is sliced from ``get``.

Which variant a backend is gets detected at call time, so amplify-storage-utils'
``BucketStore``, ``AsyncBucketStore``, ``CachingStore`` or ``HttpStore`` (or anything else of
that shape) can be passed as is; an async backend goes with an ``Async...`` store. Whatever the backend raises for a
missing key, ifcbkit raises :class:`~ifcbkit.errors.NotFoundError`; other backend failures
become :class:`~ifcbkit.errors.StoreError` naming the key and the backend's type (never its
``repr`` or message, which may hold credentials). ifcbkit does not depend on amplify.

Bin files live at ``{prefix/}{year}/{pid}.{ext}`` and ROI images at
``{prefix/}{year}/{pid}/{target:05d}.png`` (:class:`KeyLayout`; ``year`` is the bin's year for
D-style bins and ``legacy`` for I-style ones; ``layout='flat'`` drops the year).

:class:`ObjectBinStore` / :class:`AsyncObjectBinStore` are shells over an
:class:`~ifcbkit.sources.objects.ObjectSource`, and :class:`ObjectRoiStore` /
:class:`AsyncObjectRoiStore` over :class:`~ifcbkit.sources.objects.ObjectImages`; the S3
stores (:mod:`ifcbkit.stores.s3`) are the same shells over S3 objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..engine.reader import BinReader
from ..engine.requests import iterate_async, iterate_sync, run_async, run_sync
from ..formats.encoding import ImageFormat, check_file_type
from ..formats.ids import Instruments, parse_bin_key
from ..sources.failures import call_backend, failure_reason, is_missing, is_past_the_end, translate
from ..sources.layouts import LEGACY, KeyLayout, Layout, make_layout
from ..sources.objects import BackendObjects, ObjectImages, ObjectSource, backend_keys
from .base import AsyncBinStore, AsyncRoiStore, AsyncSourceKeys, SyncBinStore, SyncRoiStore, SyncSourceKeys
from .memory import MemoryStore

__all__ = [
    "LEGACY", "AsyncDictRoiStore", "AsyncObjectBinStore", "AsyncObjectRoiStore", "KeyLayout", "Layout", "MemoryStore",
    "ObjectBinStore", "ObjectRoiStore", "backend_keys", "call_backend", "failure_reason", "is_missing",
    "is_past_the_end", "translate",
]  # fmt: skip


class ObjectBinsBase:
    """What both faces of an object bin store hold: an :class:`ObjectSource` and its reader."""

    source: ObjectSource

    def __init__(self, backend: Any, prefix: str | None = None, *, layout: Layout | KeyLayout = "year"):
        """Bin files in ``backend`` (amplify-shaped, see the module doc), placed by ``prefix`` and ``layout``.

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid prefix or layout.
        """
        self.backend = backend
        self.source = ObjectSource(BackendObjects(backend), make_layout(prefix, layout))
        self.reader = BinReader(self.source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.backend).__name__}, {self.layout!r})"

    @property
    def layout(self) -> KeyLayout:
        """Where the bin files are."""
        return self.source.layout


class ObjectBinStore(ObjectBinsBase, SyncSourceKeys, SyncBinStore):
    """Bin files in an amplify-shaped object store (see the module doc), by key ``'{pid}.{ext}'``.

    ``prefix`` and ``layout`` place the files (:class:`KeyLayout`). Every read method
    (``read_image`` with one ranged read when the backend has ``get_range``, ``read_images``,
    ``list_images``, ``iter_images``, ``read_header``, ...), plus ``put``, ``delete`` and ``list_bins``.
    """

    def put(self, key: str, data: bytes) -> None:
        """Store a bin file under ``'{pid}.{ext}'``.

        Raises:
            InvalidIdentifierError: for another key; StoreError when the backend fails.
        """
        run_sync(self.source.write(*parse_bin_key(key), data))

    def delete(self, key: str) -> None:
        """Remove a bin file.

        Raises:
            NotFoundError: (a ``KeyError``) when the backend says it is not there.
        """
        run_sync(self.source.delete(*parse_bin_key(key)))

    def list_bins(self, year: int | str | None = None, instrument: Instruments = None) -> Iterator[str]:
        """The ids of the complete bins (``.hdr``, ``.adc`` and ``.roi``), for one year (an int, or
        ``'legacy'`` for every I-style bin) and instrument(s) when given, in key order when the
        backend lists keys in order (S3 does), the D-style years first.

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid year; InvalidIdentifierError (a
                ``ValueError``) for an invalid instrument.
        """
        return iterate_sync(self.source.list_year(year, instrument))


class AsyncObjectBinStore(ObjectBinsBase, AsyncSourceKeys, AsyncBinStore):
    """:class:`ObjectBinStore` for asyncio: the same methods, awaitable; the backend's methods
    may be coroutines (or plain methods, run in worker threads)."""

    async def put(self, key: str, data: bytes) -> None:
        """Await storing a bin file under ``'{pid}.{ext}'``.

        Raises:
            InvalidIdentifierError: for another key; StoreError when the backend fails.
        """
        await run_async(self.source.write(*parse_bin_key(key), data))

    async def delete(self, key: str) -> None:
        """Await removing a bin file.

        Raises:
            NotFoundError: (a ``KeyError``) when the backend says it is not there.
        """
        await run_async(self.source.delete(*parse_bin_key(key)))

    def list_bins(self, year: int | str | None = None, instrument: Instruments = None) -> AsyncIterator[str]:
        """``async for`` over the ids of the complete bins (:meth:`ObjectBinStore.list_bins`).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid year; InvalidIdentifierError (a
                ``ValueError``) for an invalid instrument.
        """
        return iterate_async(self.source.list_year(year, instrument))


# ----- ROI stores -----------------------------------------------------------------------------


class ObjectRoisBase:
    """What both faces of an object ROI store hold: the :class:`ObjectImages` they run."""

    images: ObjectImages

    def __init__(
        self, backend: Any, prefix: str | None = None, *, layout: Layout | KeyLayout = "year",
        file_type: ImageFormat = "png",
    ):  # fmt: skip
        """Encoded images in ``backend``, placed by ``prefix`` and ``layout``.

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid prefix, layout or file type.
        """
        self.backend = backend
        self.images = ObjectImages(BackendObjects(backend), make_layout(prefix, layout), check_file_type(file_type))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.backend).__name__}, {self.layout!r})"

    @property
    def layout(self) -> KeyLayout:
        """Where the images are."""
        return self.images.layout

    @property
    def file_type(self) -> str:
        """``'png'`` or ``'jpg'``."""
        return self.images.file_type


class ObjectRoiStore(ObjectRoisBase, SyncRoiStore):
    """Encoded ROI images (PNG by default) in an amplify-shaped object store, by ROI id."""

    def get(self, roi_id: str) -> bytes:
        """The encoded image.

        Raises:
            NotFoundError: (a ``KeyError``) when it is not stored; InvalidIdentifierError for a bad id.
        """
        return run_sync(self.images.get(roi_id))

    def exists(self, roi_id: str) -> bool:
        """Whether the image is stored.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return run_sync(self.images.exists(roi_id))

    def list_roi_ids(self, bin_id: str) -> list[str]:
        """The sorted ids of the bin's images stored here (of this store's file type), from one listing.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``bin_id`` is not a bin id.
        """
        return run_sync(self.images.list_roi_ids(bin_id))

    def put(self, roi_id: str, image_data: bytes) -> None:
        """Store an encoded image.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) for a bad id; StoreError when the backend fails.
        """
        run_sync(self.images.put(roi_id, image_data))

    def delete(self, roi_id: str) -> None:
        """Remove a stored image.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) for a bad id; StoreError when the backend fails.
        """
        run_sync(self.images.delete(roi_id))


class AsyncObjectRoiStore(ObjectRoisBase, AsyncRoiStore):
    """:class:`ObjectRoiStore` for asyncio."""

    async def get(self, roi_id: str) -> bytes:
        """Await the encoded image (:meth:`ObjectRoiStore.get`).

        Raises:
            NotFoundError: (a ``KeyError``) when it is not stored.
        """
        return await run_async(self.images.get(roi_id))

    async def exists(self, roi_id: str) -> bool:
        """Await whether the image is stored.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return await run_async(self.images.exists(roi_id))

    async def list_roi_ids(self, bin_id: str) -> list[str]:
        """Await the sorted ids of the bin's images stored here (:meth:`ObjectRoiStore.list_roi_ids`).

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``bin_id`` is not a bin id.
        """
        return await run_async(self.images.list_roi_ids(bin_id))

    async def put(self, roi_id: str, image_data: bytes) -> None:
        """Await storing an encoded image.

        Raises:
            StoreError: when the backend fails.
        """
        await run_async(self.images.put(roi_id, image_data))

    async def delete(self, roi_id: str) -> None:
        """Await removing a stored image.

        Raises:
            StoreError: when the backend fails.
        """
        await run_async(self.images.delete(roi_id))


class AsyncDictRoiStore(AsyncObjectRoiStore):
    """Encoded ROI images in memory, by ROI id (the in-memory tier of
    :class:`~ifcbkit.stores.caching.CachingRoiStore`; also in
    :mod:`ifcbkit.stores.s3`, where 0.3.1 has it)."""

    def __init__(self) -> None:
        super().__init__(MemoryStore())
        self.images.keyed_by_id = True
