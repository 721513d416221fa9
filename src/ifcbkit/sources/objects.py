"""Objects by key, and the bin and image sources made of them with a key layout.

:class:`ObjectAccess` is what an object store offers, as sans-I/O operations
(``get``, ranged reads, ``exists``, ``size``, ``version``, ``put``, ``delete``,
``keys``). :class:`BackendObjects` implements it over any amplify-shaped backend
(see :mod:`ifcbkit.stores.objectstore`); :class:`~ifcbkit.stores.s3.S3Objects` over an
S3 client. :class:`ObjectSource` turns one into a bin source through a
:class:`~ifcbkit.sources.layouts.KeyLayout`, and :class:`ObjectImages` into encoded ROI
images by ROI id.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from ..engine.cache import cache_token
from ..engine.filters import FilesetFilter, TimeLike
from ..engine.requests import Emit, EmitMany, Op, collect, map_emits
from ..engine.source import BinSource
from ..errors import StoreError
from ..formats.ids import parse_bin, parse_instruments, parse_roi_id, time_key
from ..formats.ranges import ByteRange
from .failures import call_backend, is_past_the_end
from .layouts import LEGACY, KeyLayout

__all__ = ["BackendObjects", "ObjectAccess", "ObjectImages", "ObjectSource", "backend_keys"]


class ObjectAccess:
    """Objects by key, as sans-I/O operations; a missing key is
    :class:`~ifcbkit.errors.NotFoundError`, any other failure :class:`~ifcbkit.errors.StoreError`."""

    def where(self, key: str) -> str:
        """How error messages name an object."""
        return repr(key)

    def token(self) -> Hashable:
        """What identifies these objects in caches."""
        return cache_token(self)

    def get(self, key: str) -> Op[bytes]:
        raise NotImplementedError
        yield  # an operation

    def get_ranges(self, key: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        """Ranges of one object, each short at its end (by default sliced from one ``get``)."""
        data = yield from self.get(key)
        return [r.of(data) for r in ranges]

    def exists(self, key: str) -> Op[bool]:
        raise NotImplementedError
        yield  # an operation

    def size(self, key: str) -> Op[int | None]:
        """The object's size when it can be told without a download."""
        return None
        yield  # an operation

    def version(self, key: str) -> Op[Hashable | None]:
        """A token that changes with the object, or ``None``: cached indexes are then trusted."""
        return None
        yield  # an operation

    def put(self, key: str, data: bytes) -> Op[None]:
        raise NotImplementedError
        yield  # an operation

    def delete(self, key: str) -> Op[None]:
        raise NotImplementedError
        yield  # an operation

    def keys(self, prefix: str) -> Op[None]:
        """Emit the keys that start with ``prefix``."""
        raise NotImplementedError
        yield  # an operation


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


class BackendObjects(ObjectAccess):
    """Objects in an amplify-shaped backend, whose methods may be plain functions or coroutines."""

    def __init__(self, backend: Any):
        self.backend = backend

    def where(self, key: str) -> str:
        return f"{key!r} in {type(self.backend).__name__}"

    def token(self) -> Hashable:
        return cache_token(self.backend)

    def _call(self, method: str, key: str, *args: Any, action: str) -> Op[Any]:
        return (
            yield from call_backend(getattr(self.backend, method), key, *args, action=action, where=self.where(key))
        )

    def get(self, key: str) -> Op[bytes]:
        return bytes((yield from self._call("get", key, action="reading")))

    def get_ranges(self, key: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        """With the backend's ``get_range(key, start, end)`` when it has one, else from one ``get``."""
        if getattr(self.backend, "get_range", None) is None:
            return (yield from super().get_ranges(key, ranges))
        out = []
        for r in ranges:
            try:
                out.append(bytes((yield from self._call("get_range", key, r.offset, r.end, action="reading"))))
            except StoreError as e:
                if not is_past_the_end(e.__cause__):
                    raise
                out.append(b"")
        return out

    def exists(self, key: str) -> Op[bool]:
        return bool((yield from self._call("exists", key, action="checking")))

    def size(self, key: str) -> Op[int | None]:
        if getattr(self.backend, "size", None) is None:
            return None
        return int((yield from self._call("size", key, action="sizing")))

    def put(self, key: str, data: bytes) -> Op[None]:
        yield from self._call("put", key, data, action="writing")

    def delete(self, key: str) -> Op[None]:
        yield from self._call("delete", key, action="deleting")

    def keys(self, prefix: str) -> Op[None]:
        yield from backend_keys(self.backend, prefix, where=f"{prefix!r} in {type(self.backend).__name__}")


class ObjectSource(BinSource):
    """Bins in an object store: each file at the key its :class:`KeyLayout` gives; writable."""

    def __init__(self, objects: ObjectAccess, layout: KeyLayout):
        self.objects = objects
        self.layout = layout

    def __repr__(self) -> str:
        return f"ObjectSource({self.objects!r}, {self.layout!r})"

    def describe(self, bin_id: str, ext: str) -> str:
        return self.objects.where(self.layout.bin_file(bin_id, ext))

    def cache_token(self) -> Hashable:
        return ("objects", self.objects.token(), self.layout.prefix, self.layout.layout)

    def read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        return (yield from self.objects.get(self.layout.bin_file(bin_id, ext)))

    def read_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        return (yield from self.objects.get_ranges(self.layout.bin_file(bin_id, ext), ranges))

    def exists(self, bin_id: str, ext: str) -> Op[bool]:
        return (yield from self.objects.exists(self.layout.bin_file(bin_id, ext)))

    def size(self, bin_id: str, ext: str) -> Op[int]:
        size = yield from self.objects.size(self.layout.bin_file(bin_id, ext))
        return size if size is not None else (yield from super().size(bin_id, ext))

    def version(self, bin_id: str, ext: str) -> Op[Hashable | None]:
        return (yield from self.objects.version(self.layout.bin_file(bin_id, ext)))

    def write(self, bin_id: str, ext: str, data: bytes) -> Op[None]:
        """Store one of a bin's files."""
        yield from self.objects.put(self.layout.bin_file(bin_id, ext), bytes(data))

    def delete(self, bin_id: str, ext: str) -> Op[None]:
        """Remove one of a bin's files."""
        yield from self.objects.delete(self.layout.bin_file(bin_id, ext))

    def list_bins(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
    ) -> Op[None]:
        """The ids of the complete bins sampled within ``[start_time, end_time)`` and by the given
        instrument(s), in sample-time order (:meth:`list_year` of every year, kept by time).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid time; InvalidIdentifierError (a
                ``ValueError``) for an invalid instrument.
        """
        keep = FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument)  # checks them first
        found = yield from collect(self.list_year(None, instrument))
        kept = keep.select(found)
        if kept:
            yield EmitMany(kept)

    def list_year(
        self, year: int | str | None = None, instrument: int | str | Iterable[int | str] | None = None
    ) -> Op[None]:
        """Emit the ids of the complete bins (``.hdr``, ``.adc`` and ``.roi``), for one year (an int,
        or ``'legacy'`` for every I-style bin) and instrument(s) when given, in sample-time order
        across naming styles, as every listing is.

        Key order is not time order (``legacy/`` I-style bins list after the D-style years, and
        backends need not list in order at all), so the ids are collected and sorted: a listing
        holds its bins' ids, never their files."""
        prefixes = self.layout.listing_prefixes(year)  # checks the year first
        grouper = _BinGrouper(self.layout, year, parse_instruments(instrument))
        found: list[str] = []
        for prefix in prefixes:
            found.extend((yield from collect(map_emits(self.objects.keys(prefix), grouper.feed))))
        if found:
            yield EmitMany(sorted(found, key=time_key))


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


class ObjectImages:
    """Encoded ROI images at ``{prefix/}{year}/{pid}/{target:05d}.{file_type}`` (sans-I/O)."""

    def __init__(self, objects: ObjectAccess, layout: KeyLayout, file_type: str, *, keyed_by_id: bool = False):
        self.objects = objects
        self.layout = layout
        self.file_type = file_type
        self.keyed_by_id = keyed_by_id  # the ROI id itself is the key (an in-memory tier)

    def key(self, roi_id: str) -> str:
        """The object key of an image."""
        if self.keyed_by_id:
            parse_roi_id(roi_id)
            return roi_id
        return self.layout.roi_image(roi_id, self.file_type)

    def get(self, roi_id: str) -> Op[bytes]:
        return (yield from self.objects.get(self.key(roi_id)))

    def exists(self, roi_id: str) -> Op[bool]:
        return (yield from self.objects.exists(self.key(roi_id)))

    def list_roi_ids(self, bin_id: str) -> Op[list[str]]:
        keys = yield from collect(self.objects.keys(self.layout.roi_prefix(bin_id)))
        found = (self.layout.parse_roi_image(bin_id, key, self.file_type) for key in keys)
        return sorted(roi_id for roi_id in found if roi_id is not None)

    def put(self, roi_id: str, image_data: bytes) -> Op[None]:
        yield from self.objects.put(self.key(roi_id), bytes(image_data))

    def delete(self, roi_id: str) -> Op[None]:
        yield from self.objects.delete(self.key(roi_id))
