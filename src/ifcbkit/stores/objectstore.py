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

:class:`ObjectBinStore` / :class:`AsyncObjectBinStore` and :class:`ObjectRoiStore` /
:class:`AsyncObjectRoiStore` are one class body each on two faces; the S3 stores
(:mod:`ifcbkit.stores.s3`) reuse these bodies with S3 calls in place of the backend's.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Literal

from ..cache import LRUCache, cache_token
from ..errors import IfcbError, InvalidIdentifierError, NotFoundError, StoreError
from ..faces import AsyncFace, Call, Emit, Op, SyncFace, collect, map_emits, operation, stream
from ..identifiers import add_target, bin_key, parse_bin, parse_bin_key, parse_instruments, parse_roi_id
from .base import ImageFormat, _KeyedBins, _RoiStore, check_file_type

Layout = Literal["year", "flat"]
LEGACY = "legacy"

# Raised by a backend that does not fit the protocol (or a sync face given an async backend):
# a usage error to show as is, not a store failure.
_PASS_THROUGH = (IfcbError, TypeError, AttributeError, NotImplementedError, StopAsyncIteration)
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


# ----- error translation ----------------------------------------------------------------------


def is_missing(error: BaseException) -> bool:
    """Whether a backend exception means "no such key" (see the module doc for the variants)."""
    if isinstance(error, (KeyError, FileNotFoundError)):
        return True
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = str((response.get("Error") or {}).get("Code", ""))
        return code in _MISSING_CODES
    return getattr(response, "status_code", None) == 404


def is_past_the_end(error: BaseException | None) -> bool:
    """Whether a failed ranged read asked for a range that starts at or past the end of the
    object (S3's ``InvalidRange``, HTTP 416): with slice semantics, that is empty data."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return (response.get("Error") or {}).get("Code") == "InvalidRange"
    return getattr(response, "status_code", None) == 416


def failure_reason(error: BaseException) -> str:
    """A short description of a backend failure that cannot carry credentials: the exception
    type, plus the error code and HTTP status of a botocore ``ClientError``."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        details = ", ".join(str(v) for v in (code, status and f"HTTP {status}") if v)
        return f"{type(error).__name__}: {details}" if details else type(error).__name__
    status = getattr(response, "status_code", None)
    return f"{type(error).__name__}: HTTP {status}" if status else type(error).__name__


def translate(error: Exception, action: str, where: str) -> Exception:
    """The ifcbkit exception for a backend exception (raise it ``from`` the original)."""
    if isinstance(error, NotFoundError):
        return error
    if is_missing(error):
        return NotFoundError(f"{where} does not exist")
    if isinstance(error, _PASS_THROUGH):
        return error
    return StoreError(f"{action} {where} failed ({failure_reason(error)})")


def call_backend(function: Any, *args: Any, action: str, where: str) -> Op[Any]:
    """Call a backend method (plain or coroutine) and translate what it raises."""
    try:
        return (yield Call(function, *args))
    except Exception as e:
        error = translate(e, action, where)
        if error is e:
            raise
        raise error from (None if isinstance(error, NotFoundError) else e)


def _accepts_argument(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in kinds for p in parameters)


def _take(iterator: Iterator[Any], n: int) -> list[Any]:
    return list(itertools.islice(iterator, n))


def backend_keys(backend: Any, prefix: str, *, where: str) -> Op[None]:
    """Emit the backend's keys that start with ``prefix``, whatever shape its ``keys`` has
    (sync iterable, async generator, coroutine returning a list; with or without a prefix)."""
    keys = backend.keys
    args = (prefix,) if prefix and _accepts_argument(keys) else ()
    listing = yield from call_backend(keys, *args, action="listing", where=where)
    if hasattr(listing, "__aiter__"):
        listing = listing.__aiter__()
        while True:
            try:
                key = yield from call_backend(listing.__anext__, action="listing", where=where)
            except StopAsyncIteration:
                return
            if key.startswith(prefix):
                yield Emit(key)
    iterator = iter(listing)
    while batch := (yield from call_backend(_take, iterator, 1000, action="listing", where=where)):
        for key in batch:
            if key.startswith(prefix):
                yield Emit(key)


# ----- key layout -----------------------------------------------------------------------------


class KeyLayout:
    """Where bins and ROI images live in an object store.

    ``'year'``: ``{prefix/}{year}/{pid}.{ext}`` and ``{prefix/}{year}/{pid}/{target:05d}.png``,
    ``year`` the D-style bin's year or ``legacy`` for I-style bins; ``'flat'``: no year level.
    Ids are validated before they become keys.
    """

    def __init__(self, prefix: str | None = None, layout: Layout = "year"):
        if layout not in ("year", "flat"):
            raise ValueError(f"layout must be 'year' or 'flat', not {layout!r}")
        prefix = (prefix or "").strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise ValueError(f"invalid key prefix {prefix!r}")
        self.prefix = prefix
        self.layout = layout

    def __repr__(self) -> str:
        return f"KeyLayout({self.prefix!r}, {self.layout!r})"

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def group(self, bin_id: str) -> str:
        """The year level of a bin: ``'2024'`` or ``'legacy'`` (``''`` in the flat layout)."""
        parsed = parse_bin(bin_id)
        if self.layout == "flat":
            return ""
        return str(parsed.timestamp.year) if parsed.style == "D" else LEGACY

    def _bin_dir(self, bin_id: str) -> str:
        group = self.group(bin_id)
        return self._root() + (f"{group}/" if group else "")

    def bin_file(self, bin_id: str, ext: str) -> str:
        """The object key of one of a bin's files."""
        return self._bin_dir(bin_id) + bin_key(bin_id, ext)

    def roi_image(self, roi_id: str, file_type: str = "png") -> str:
        """The object key of an encoded ROI image."""
        bin_id, target = parse_roi_id(roi_id)
        return f"{self.roi_prefix(bin_id)}{target:05d}.{file_type}"

    def roi_prefix(self, bin_id: str) -> str:
        """The key prefix of a bin's ROI images."""
        return f"{self._bin_dir(bin_id)}{bin_id}/"

    def parse_roi_image(self, bin_id: str, key: str, file_type: str = "png") -> str | None:
        """The ROI id of one of ``bin_id``'s image keys (``None`` for any other key)."""
        prefix, suffix = self.roi_prefix(bin_id), f".{file_type}"
        number = key[len(prefix) : -len(suffix)] if key.startswith(prefix) and key.endswith(suffix) else ""
        if len(number) in (5, 6) and number.isdigit() and number.isascii() and int(number) >= 1:
            return add_target(bin_id, int(number))
        return None

    def listing_prefixes(self, year: int | str | None = None) -> list[str]:
        """The key prefixes to list for the bins of ``year`` (an int, ``'legacy'`` or ``None``: all)."""
        root = self._root()
        if year is None or self.layout == "flat":
            return [root]
        if str(year) == LEGACY:
            return [f"{root}{LEGACY}/"]
        if isinstance(year, bool) or not str(year).isdigit() or not str(year).isascii() or len(str(year)) != 4:
            raise ValueError(f"year must be a 4-digit year or 'legacy', not {year!r}")
        return [f"{root}{int(year)}/", f"{root}{LEGACY}/"]  # I-style bins of that year are under legacy/

    def parse_bin_file(self, key: str) -> tuple[str, str] | None:
        """``(bin_id, ext)`` for the key of a bin file in this layout, ``None`` for any other key."""
        root = self._root()
        if not key.startswith(root):
            return None
        name = key[len(root) :]
        directory, _, name = name.rpartition("/")
        try:
            bin_id, ext = parse_bin_key(name)
        except InvalidIdentifierError:
            return None
        return (bin_id, ext) if directory == self.group(bin_id) else None


def _layout(prefix: str | None, layout: Layout | KeyLayout) -> KeyLayout:
    return layout if isinstance(layout, KeyLayout) else KeyLayout(prefix, layout)


# ----- object access: over an amplify-shaped backend (the S3 stores supply their own) -----------


class _BackendObjects:
    """Object access through an amplify-shaped backend (the ``_obj_*`` primitives)."""

    backend: Any

    def _where(self, key: str) -> str:
        return f"{key!r} in {type(self.backend).__name__}"

    def _backend_call(self, method: str, key: str, *args: Any, action: str) -> Op[Any]:
        return (
            yield from call_backend(getattr(self.backend, method), key, *args, action=action, where=self._where(key))
        )

    def _obj_get(self, key: str) -> Op[bytes]:
        return bytes((yield from self._backend_call("get", key, action="reading")))

    def _obj_get_ranges(self, key: str, spans: list[tuple[int, int]]) -> Op[list[bytes]]:
        """Slices ``[start:end]`` of an object: with the backend's ``get_range`` when it has one,
        else from one ``get``."""
        if getattr(self.backend, "get_range", None) is None:
            data = yield from self._obj_get(key)
            return [data[start:end] for start, end in spans]
        out = []
        for start, end in spans:
            try:
                out.append(bytes((yield from self._backend_call("get_range", key, start, end, action="reading"))))
            except StoreError as e:
                if not is_past_the_end(e.__cause__):
                    raise
                out.append(b"")
        return out

    def _obj_exists(self, key: str) -> Op[bool]:
        return bool((yield from self._backend_call("exists", key, action="checking")))

    def _obj_size(self, key: str) -> Op[int | None]:
        """The object's size when the backend can tell without a download (a ``size`` method)."""
        if getattr(self.backend, "size", None) is None:
            return None
        return int((yield from self._backend_call("size", key, action="sizing")))

    def _obj_version(self, key: str) -> Op[Hashable | None]:
        """A token that changes with the object; the protocol has none, so cached indexes are trusted."""
        return None
        yield  # a generator

    def _obj_put(self, key: str, data: bytes) -> Op[None]:
        yield from self._backend_call("put", key, data, action="writing")

    def _obj_delete(self, key: str) -> Op[None]:
        yield from self._backend_call("delete", key, action="deleting")

    def _obj_keys(self, prefix: str) -> Op[None]:
        yield from backend_keys(self.backend, prefix, where=f"{prefix!r} in {type(self.backend).__name__}")


# ----- bin stores -----------------------------------------------------------------------------


class _ObjectBins(_KeyedBins):
    """A bin store over object access primitives (``_obj_*``) and a :class:`KeyLayout`.

    Logical keys are ``'{pid}.{ext}'`` as for every bin store; the layout maps them to object keys.
    """

    layout: KeyLayout

    # ----- BinReading primitives -----

    def _describe(self, bin_id: str, ext: str) -> str:
        return self._where(self.layout.bin_file(bin_id, ext))  # type: ignore[attr-defined]

    def _read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        return (yield from self._obj_get(self.layout.bin_file(bin_id, ext)))  # type: ignore[attr-defined]

    def _read_ranges(self, bin_id: str, ext: str, ranges: list[tuple[int, int]]) -> Op[list[bytes]]:
        spans = [(offset, offset + length) for offset, length in ranges]
        return (yield from self._obj_get_ranges(self.layout.bin_file(bin_id, ext), spans))  # type: ignore[attr-defined]

    def _file_version(self, bin_id: str, ext: str) -> Op[Hashable | None]:
        return (yield from self._obj_version(self.layout.bin_file(bin_id, ext)))  # type: ignore[attr-defined]

    def _file_exists(self, bin_id: str, ext: str) -> Op[bool]:
        return (yield from self._obj_exists(self.layout.bin_file(bin_id, ext)))  # type: ignore[attr-defined]

    def _file_size(self, bin_id: str, ext: str) -> Op[int]:
        size = yield from self._obj_size(self.layout.bin_file(bin_id, ext))  # type: ignore[attr-defined]
        if size is None:
            size = len((yield from self._read_file(bin_id, ext)))
        return size

    def _write_file(self, bin_id: str, ext: str, data: bytes) -> Op[None]:
        yield from self._obj_put(self.layout.bin_file(bin_id, ext), bytes(data))  # type: ignore[attr-defined]

    # ----- writing and listing -----

    @operation
    def put(self, key: str, data: bytes) -> Op[None]:
        """Store a bin file under ``'{pid}.{ext}'``."""
        yield from self._write_file(*parse_bin_key(key), data)

    @operation
    def delete(self, key: str) -> Op[None]:
        """Remove a bin file."""
        yield from self._obj_delete(self.layout.bin_file(*parse_bin_key(key)))  # type: ignore[attr-defined]

    @stream
    def list_bins(
        self, year: int | str | None = None, instrument: int | str | Iterable[int | str] | None = None
    ) -> Op[None]:
        """The ids of the complete bins (``.hdr``, ``.adc`` and ``.roi``), for one year (an int, or
        ``'legacy'`` for every I-style bin) and instrument(s) when given, from ``keys(prefix)``: in
        key order when the backend lists keys in order (S3 does), the D-style years first."""
        prefixes = self.layout.listing_prefixes(year)  # checks the year first
        grouper = _BinGrouper(self.layout, year, parse_instruments(instrument))
        for prefix in prefixes:
            yield from map_emits(self._obj_keys(prefix), grouper.feed)  # type: ignore[attr-defined]


class _BinGrouper:
    """Turns a key listing, in any order, into the ids of complete bins that pass the filters:
    a bin is emitted when the last of its three files is seen (key order for sorted listings)."""

    def __init__(self, layout: KeyLayout, year: int | str | None, instruments: frozenset[int] | None):
        self.layout = layout
        self.year = None if year is None or str(year) == LEGACY else int(year)
        self.instruments = instruments
        self.pending: dict[str, set[str]] = {}

    def _wanted(self, bin_id: str) -> bool:
        parsed = parse_bin(bin_id)
        if self.year is not None and parsed.timestamp.year != self.year:
            return False
        return self.instruments is None or parsed.instrument in self.instruments

    def feed(self, key: str) -> list[str]:
        """The bin this key completes, if any."""
        parsed = self.layout.parse_bin_file(key)
        if parsed is None or not self._wanted(parsed[0]):
            return []
        bin_id, ext = parsed
        exts = self.pending.setdefault(bin_id, set())
        exts.add(ext)
        if len(exts) < 3:
            return []
        del self.pending[bin_id]
        return [bin_id]


class _BackendBins(_BackendObjects, _ObjectBins):
    def __init__(self, backend: Any, prefix: str | None = None, *, layout: Layout | KeyLayout = "year"):
        self.backend = backend
        self.layout = _layout(prefix, layout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.backend).__name__}, {self.layout!r})"

    def _cache_namespace(self) -> Hashable:
        return ("objects", cache_token(self), self.layout.prefix, self.layout.layout)


class ObjectBinStore(_BackendBins, SyncFace):
    """Bin files in an amplify-shaped object store (see the module doc), by key ``'{pid}.{ext}'``.

    ``prefix`` and ``layout`` place the files (:class:`KeyLayout`). Every read operation
    (``read_image`` with one ranged read when the backend has ``get_range``, ``read_images``,
    ``list_images``, ``iter_images``, ``read_header``, ...) comes from
    :class:`~ifcbkit.reading.BinReading`; ``put``, ``delete`` and ``list_bins`` go to the backend.
    """


class AsyncObjectBinStore(_BackendBins, AsyncFace):
    """:class:`ObjectBinStore` for asyncio: the same methods, awaitable; the backend's methods
    may be coroutines (or plain methods that do not block)."""


# ----- ROI stores -----------------------------------------------------------------------------


class _ObjectRois(_RoiStore):
    """Encoded ROI images at ``{prefix/}{year}/{pid}/{target:05d}.{file_type}``, over ``_obj_*`` primitives."""

    layout: KeyLayout
    file_type: str

    def _key(self, roi_id: str) -> str:
        return self.layout.roi_image(roi_id, self.file_type)

    @operation
    def get(self, roi_id: str) -> Op[bytes]:
        """The encoded image; :class:`~ifcbkit.errors.NotFoundError` when it is not stored."""
        return (yield from self._obj_get(self._key(roi_id)))  # type: ignore[attr-defined]

    @operation
    def exists(self, roi_id: str) -> Op[bool]:
        return (yield from self._obj_exists(self._key(roi_id)))  # type: ignore[attr-defined]

    @operation
    def list_roi_ids(self, bin_id: str) -> Op[list[str]]:
        """The sorted ids of the bin's images stored here (of this store's file type), from one listing."""
        keys = yield from collect(self._obj_keys(self.layout.roi_prefix(bin_id)))  # type: ignore[attr-defined]
        found = (self.layout.parse_roi_image(bin_id, key, self.file_type) for key in keys)
        return sorted(roi_id for roi_id in found if roi_id is not None)

    @operation
    def put(self, roi_id: str, image_data: bytes) -> Op[None]:
        """Store an encoded image."""
        yield from self._obj_put(self._key(roi_id), bytes(image_data))  # type: ignore[attr-defined]

    @operation
    def delete(self, roi_id: str) -> Op[None]:
        """Remove a stored image."""
        yield from self._obj_delete(self._key(roi_id))  # type: ignore[attr-defined]


class _BackendRois(_BackendObjects, _ObjectRois):
    def __init__(
        self,
        backend: Any,
        prefix: str | None = None,
        *,
        layout: Layout | KeyLayout = "year",
        file_type: ImageFormat = "png",
    ):
        self.backend = backend
        self.layout = _layout(prefix, layout)
        self.file_type = check_file_type(file_type)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.backend).__name__}, {self.layout!r})"


class ObjectRoiStore(_BackendRois, SyncFace):
    """Encoded ROI images (PNG by default) in an amplify-shaped object store, by ROI id."""


class AsyncObjectRoiStore(_BackendRois, AsyncFace):
    """:class:`ObjectRoiStore` for asyncio."""


# ----- an in-memory backend -------------------------------------------------------------------


class MemoryStore:
    """An amplify-shaped object store in memory, bounded by the total size of its values
    (least recently used first out): the memory tier of a :class:`~ifcbkit.stores.caching.CachingRoiStore`."""

    def __init__(self, max_bytes: int = 64 * 2**20):
        self._entries: LRUCache[bytes] = LRUCache(max_bytes)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._entries)} objects, {self._entries.size} bytes)"

    def get(self, key: str) -> bytes:
        value = self._entries.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.get(key)[start:end]

    def put(self, key: str, data: bytes) -> None:
        self._entries.put(key, bytes(data), size=len(data) + 1)

    def exists(self, key: str) -> bool:
        return self._entries.get(key) is not None

    def delete(self, key: str) -> None:
        self._entries.discard(key)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._entries if isinstance(k, str) and k.startswith(prefix))


class AsyncDictRoiStore(AsyncObjectRoiStore):
    """Encoded ROI images in memory, by ROI id (the in-memory tier of
    :class:`~ifcbkit.stores.caching.CachingRoiStore`; also in
    :mod:`ifcbkit.stores.s3`, where 0.3.1 has it)."""

    def __init__(self) -> None:
        super().__init__(MemoryStore())

    def _key(self, roi_id: str) -> str:
        parse_roi_id(roi_id)
        return roi_id
