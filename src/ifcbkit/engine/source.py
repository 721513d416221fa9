"""The bin-source protocol: where a bin's three files come from.

A :class:`BinSource` reads one of a bin's files (``hdr``, ``adc`` or ``roi``),
whole or in :class:`ByteRange` pieces, and says whether it exists, how large it is,
what version it is at, how error messages name it, and which token identifies the
source in caches; it lists its bins' ids in sample-time order (:meth:`BinSource.list_bins`).
Its methods are sans-I/O operations (generators yielding requests, see
:mod:`ifcbkit.engine.requests`), so one source serves the sync and the async face alike.
Every read algorithm (:class:`~ifcbkit.engine.reader.BinReader`) is written once over this
protocol; a store composes a source and adds only its extras.

The sources: a data directory (:class:`~ifcbkit.sources.directory.DirectorySource`),
an object backend or S3 bucket with a key layout
(:class:`~ifcbkit.sources.objects.ObjectSource`), a dashboard over HTTP
(:class:`~ifcbkit.stores.dashboard.DashboardSource`), tiers
(:class:`~ifcbkit.stores.caching.CachingSource`), and any store with ``get`` and
``exists`` by key (:class:`KeyedSource`, which reads but cannot list).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from ..errors import NotFoundError, UnsupportedOperationError
from ..formats.ids import bin_key
from ..formats.ranges import ByteRange
from .cache import cache_token
from .filters import TimeLike
from .requests import Call, Op, perform

__all__ = ["BinSource", "ByteRange", "KeyedSource"]


class BinSource:
    """Where a bin's files come from (see the module doc). Subclasses implement :meth:`read_file`
    and :meth:`exists` (and :meth:`read_ranges` when they can read part of a file); the other methods
    have defaults built on them."""

    # The volume method of ``bin_metadata`` when the caller names none (a dashboard serves its own: 'api').
    default_method = "adc"

    def describe(self, bin_id: str, ext: str) -> str:
        """How error messages name one of the bin's files (a path, a key, a URL)."""
        return bin_key(bin_id, ext)

    def cache_token(self) -> Hashable:
        """What, with the file versions, identifies this source's content in caches: a token of
        this object by default (never its ``id()``, which a later object may reuse)."""
        return cache_token(self)

    def list_bins(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
    ) -> Op[None]:
        """Emit the ids of the source's bins in sample-time order (across naming styles), sampled
        within ``[start_time, end_time)`` and by the given instrument(s) when given.

        Raises:
            UnsupportedOperationError: (a ``NotImplementedError``) from a source that cannot list
                (by default); InvalidArgumentError (a ``ValueError``) for an invalid time;
                InvalidIdentifierError (a ``ValueError``) for an invalid instrument.
        """
        raise UnsupportedOperationError(f"{self!r} cannot list its bins")
        yield  # an operation

    def read(self, bin_id: str, ext: str, byte_range: ByteRange | None = None) -> Op[bytes]:
        """The file's bytes (:meth:`read_file`), or ``byte_range`` of them (:meth:`read_ranges`)."""
        if byte_range is None:
            return (yield from self.read_file(bin_id, ext))
        return (yield from self.read_ranges(bin_id, ext, [byte_range]))[0]

    def read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        """The whole file; :class:`~ifcbkit.errors.NotFoundError` when it does not exist."""
        raise NotImplementedError
        yield  # an operation

    def read_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        """Several ranges of one file, each short at the end of the file (by default, sliced from
        the whole file: a source that can read part of a file says so here)."""
        data = yield from self.read_file(bin_id, ext)
        return [r.of(data) for r in ranges]

    def exists(self, bin_id: str, ext: str) -> Op[bool]:
        """Whether the file exists."""
        raise NotImplementedError
        yield  # an operation

    def size(self, bin_id: str, ext: str) -> Op[int]:
        """The file's size in bytes (by default, the length of the whole file)."""
        return len((yield from self.read(bin_id, ext)))

    def known_size(self, bin_id: str, ext: str) -> Op[int | None]:
        """The file's size when the source can tell it without reading the file whole, else ``None``
        (by default, :meth:`size`)."""
        return (yield from self.size(bin_id, ext))

    def served_metadata(self, bin_id: str, method: str) -> Op[dict[str, Any]] | None:
        """The operation giving the bin's metadata as the source itself serves it under ``method``
        (a dashboard's ``'api'``), or ``None`` when the reader computes it from the raw files."""
        return None

    def version(self, bin_id: str, ext: str) -> Op[Hashable | None]:
        """A token that changes when the file changes, or ``None`` when the source cannot tell
        cheaply (then cached indexes are trusted: raw IFCB files are written once)."""
        return None
        yield  # an operation

    def versions(self, bin_id: str) -> Op[Hashable | None]:
        """The versions of the ADC and the header, what a cached index depends on (``None`` when
        the source cannot tell)."""
        adc = yield from self.version(bin_id, "adc")
        hdr = yield from self.version(bin_id, "hdr")
        return None if adc is None and hdr is None else (adc, hdr)


class KeyedSource(BinSource):
    """A source over a key/value store's functions by key ``'{pid}.{ext}'`` (plain functions or
    coroutine functions): ``get(key)`` and ``exists(key)``, with ``get_range(key, start, end)`` and
    ``size(key)`` when the backend has them. How a user's :class:`~ifcbkit.stores.base.SyncBinStore`
    subclass gets every read: the source holds the store's bound functions, never the store, so
    nothing here calls back into the store's read methods.

    ``KeyedSource(store)`` (one argument) takes ``store``'s own ``get``, ``exists``, ``get_range``
    and ``size``, as 0.6.0 did.
    """

    def __init__(
        self,
        get: Callable[[str], Any] | Any,
        exists: Callable[[str], Any] | None = None,
        get_range: Callable[[str, int, int], Any] | None = None,
        size: Callable[[str], Any] | None = None,
        *,
        name: Callable[[], str] | None = None,
        token: Hashable | None = None,
    ):
        if exists is None:  # a store object: its own functions
            store: Any = get
            get, exists = store.get, store.exists
            get_range, size = getattr(store, "get_range", None), getattr(store, "size", None)
            name = name or functools.partial(repr, store)
            token = token if token is not None else cache_token(store)
        self._get: Callable[[str], Any] = get
        self._exists: Callable[[str], Any] = exists
        self._get_range = get_range
        self._size = size
        self._name = name or (lambda: "a key/value store")
        self._token = token if token is not None else cache_token(self)

    def __repr__(self) -> str:
        return f"KeyedSource({self._name()})"

    def cache_token(self) -> Hashable:
        return self._token

    def _missing(self, bin_id: str, ext: str) -> NotFoundError:
        return NotFoundError(f"no {bin_key(bin_id, ext)} in {self._name()}")

    def list_bins(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
    ) -> Op[None]:
        """A store of one's own offers ``get`` and ``exists`` by key, no listing: this says so.

        Raises:
            UnsupportedOperationError: (a ``NotImplementedError``) always.
        """
        raise UnsupportedOperationError(
            f"{self._name()} cannot list its bins: it offers get and exists by key, no listing"
            " (reads by bin id still work)"
        )
        yield  # an operation

    def read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        try:
            return bytes((yield from perform(Call(self._get, bin_key(bin_id, ext)))))
        except KeyError:
            raise self._missing(bin_id, ext) from None

    def read_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        get_range = self._get_range
        if get_range is None:  # one download serves every range
            return (yield from super().read_ranges(bin_id, ext, ranges))
        key = bin_key(bin_id, ext)
        out = []
        try:
            for r in ranges:
                out.append(bytes((yield from perform(Call(get_range, key, r.offset, r.end)))))
        except KeyError:
            raise self._missing(bin_id, ext) from None
        return out

    def exists(self, bin_id: str, ext: str) -> Op[bool]:
        return bool((yield from perform(Call(self._exists, bin_key(bin_id, ext)))))

    def size(self, bin_id: str, ext: str) -> Op[int]:
        size = self._size
        if size is None:
            return (yield from super().size(bin_id, ext))
        try:
            return int((yield from perform(Call(size, bin_key(bin_id, ext)))))
        except KeyError:
            raise self._missing(bin_id, ext) from None
