"""The store protocols: bin stores keyed ``'{pid}.{ext}'`` and ROI stores keyed by ROI id.

A bin store of your own needs only ``get(key)`` and ``exists(key)`` (plain methods
on a :class:`SyncBinStore`, coroutines on an :class:`AsyncBinStore`; also
``get_range(key, start, end)`` with slice semantics and ``size(key)`` when the backend
can): every read method (``read_image``, ``read_images``, ``list_images``,
``iter_images``, ...) then comes from :mod:`ifcbkit.faces.reads`, over a
:class:`~ifcbkit.engine.source.KeyedSource` of those methods. The stores of this package
compose a source of their own and take ``get``/``get_range``/``exists`` from it
(:class:`SyncSourceKeys`).
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from typing import Any, Protocol

from ..engine.cache import cache_token
from ..engine.reader import BinReader
from ..engine.requests import Op, run_async, run_sync
from ..engine.source import BinSource, KeyedSource
from ..errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    InvalidIdentifierError,
    ReadOnlyError,
    UnsupportedOperationError,
)
from ..faces.reads import AsyncBinReads, SyncBinReads
from ..formats.encoding import ImageFormat, check_file_type, encode_image
from ..formats.ids import parse_bin_key
from ..formats.ranges import ByteRange

__all__ = [
    "AsyncBinStore", "AsyncRoiStore", "AsyncSourceKeys", "HasSource", "ImageFormat", "SyncBinStore", "SyncRoiStore",
    "SyncSourceKeys", "check_file_type", "encode_image",
]  # fmt: skip


class _Sourced:
    """A bin store's ``source`` and ``reader``: the stores here set both in ``__init__``; a store of
    your own (which need not call ``__init__``) gets them on first use, reading through its own
    ``get`` and ``exists`` (a :class:`~ifcbkit.engine.source.KeyedSource` of those functions)."""

    def __getattr__(self, name: str) -> Any:
        made: Any
        if name == "source":
            made = _keyed_source(self)
        elif name == "reader":  # a subclass may say ``strict = True`` as 0.4's stores let it
            strict = inspect.getattr_static(type(self), "strict", False)
            made = BinReader(getattr(self, "source"), strict=strict is True)  # noqa: B009 (made above)
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.__dict__[name] = made
        return made


def _keyed_source(store: object) -> KeyedSource:
    """A source over ``store``'s own ``get``, ``exists``, ``get_range`` and ``size``. A method that
    reads through the store's source (:class:`SyncSourceKeys`, on a store of this package whose
    ``__init__`` did not run) is not one of them: the source would read through itself.

    Raises:
        UnsupportedOperationError: (a ``NotImplementedError``) when ``get`` or ``exists`` is such a method.
    """
    functions: dict[str, Any] = {}
    for name in ("get", "exists", "get_range", "size"):
        function = getattr(store, name, None)
        own = function is not None and getattr(function, "__func__", None) not in _THROUGH_SOURCE
        functions[name] = function if own else None
    if functions["get"] is None or functions["exists"] is None:
        raise UnsupportedOperationError(
            f"{type(store).__name__} has no source to read from: its get and exists read through the source"
            f" that {type(store).__name__}.__init__ sets up; call super().__init__(...) from the subclass's"
            " __init__, or define get and exists of its own"
        )
    return KeyedSource(
        functions["get"], functions["exists"], functions["get_range"], functions["size"],
        name=functools.partial(_named, store), token=cache_token(store),
    )  # fmt: skip


def _named(store: object) -> str:
    """How messages name a store: its repr, or its class when the repr needs what ``__init__`` sets."""
    try:
        return repr(store)
    except Exception:
        return f"a {type(store).__name__}"


def _read_only(store: object) -> ReadOnlyError:
    return ReadOnlyError(f"{store!r} is read-only")


class SyncBinStore(_Sourced, SyncBinReads, ABC):
    """A synchronous bin store: subclass and implement ``get`` and ``exists`` (and ``get_range``)."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            NotFoundError: (a ``KeyError``) if nothing is stored there.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (this store is read-only).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) always.
        """
        raise _read_only(self)

    def get_path(self, key: str) -> str | None:
        """The local file behind ``key``, or ``None`` when the store is not on a local disk."""
        return None


class AsyncBinStore(_Sourced, AsyncBinReads, ABC):
    """An asyncio bin store: subclass and implement ``async get`` and ``async exists`` (and
    ``async get_range``); every read method is then awaitable."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            NotFoundError: (a ``KeyError``) if nothing is stored there.
        """

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (this store is read-only).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) always.
        """
        raise _read_only(self)

    async def get_path(self, key: str) -> str | None:
        """The local file behind ``key``, or ``None`` when the store is not on a local disk."""
        return None


def key_exists(source: BinSource, key: str) -> Op[bool]:
    """Whether a bin file is in ``source`` (``False`` for a key that is not ``'{bin_id}.hdr|adc|roi'``)."""
    try:
        bin_id, ext = parse_bin_key(key)
    except InvalidIdentifierError:
        return False
    return (yield from source.exists(bin_id, ext))


def key_range(source: BinSource, key: str, start: int, end: int) -> Op[bytes]:
    """Bytes ``[start:end]`` of a bin file by key.

    Raises:
        ArgumentTypeError: (a ``TypeError``) when ``start`` or ``end`` is not an int;
            InvalidArgumentError (a ``ValueError``) for a negative ``start`` or an ``end`` before it.
    """
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentTypeError(name, f"{name} of a range of {key!r} must be an int, not {type(value).__name__}")
    if start < 0:
        raise InvalidArgumentError("start", f"invalid range [{start}:{end}] of {key!r}: start must be 0 or more")
    if end < start:
        raise InvalidArgumentError("end", f"invalid range [{start}:{end}] of {key!r}: end must not be before start")
    return (yield from source.read(*parse_bin_key(key), ByteRange.between(start, end)))


class HasSource(Protocol):
    """What :class:`SyncSourceKeys` and :class:`AsyncSourceKeys` need of the class they are mixed into."""

    @property
    def source(self) -> BinSource: ...


class SyncSourceKeys:
    """``get``, ``get_range`` and ``exists`` by key ``'{pid}.{ext}'`` over the store's source."""

    def get(self: HasSource, key: str) -> bytes:
        """The bytes of a bin file by key ``'{pid}.{ext}'``.

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError for another key.
        """
        return run_sync(self.source.read(*parse_bin_key(key)))

    def get_range(self: HasSource, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start:end]`` of a bin file (slice semantics, end exclusive).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidArgumentError (a ``ValueError``)
                for an invalid range.
        """
        return run_sync(key_range(self.source, key, start, end))

    def exists(self: HasSource, key: str) -> bool:
        """Whether a bin file is stored (``False`` for a key that is not ``'{bin_id}.hdr|adc|roi'``)."""
        return run_sync(key_exists(self.source, key))


class AsyncSourceKeys:
    """:class:`SyncSourceKeys`, awaitable."""

    async def get(self: HasSource, key: str) -> bytes:
        """Await the bytes of a bin file by key ``'{pid}.{ext}'``.

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError for another key.
        """
        return await run_async(self.source.read(*parse_bin_key(key)))

    async def get_range(self: HasSource, key: str, start: int, end: int) -> bytes:
        """Await bytes ``[start:end]`` of a bin file (slice semantics, end exclusive).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidArgumentError (a ``ValueError``)
                for an invalid range.
        """
        return await run_async(key_range(self.source, key, start, end))

    async def exists(self: HasSource, key: str) -> bool:
        """Await whether a bin file is stored (``False`` for a key that is not a bin file key)."""
        return await run_async(key_exists(self.source, key))


# The methods that read through the store's source: never a KeyedSource's functions.
_THROUGH_SOURCE: frozenset[object] = frozenset({
    SyncSourceKeys.get, SyncSourceKeys.get_range, SyncSourceKeys.exists,
    AsyncSourceKeys.get, AsyncSourceKeys.get_range, AsyncSourceKeys.exists,
})  # fmt: skip


class SyncRoiStore(ABC):
    """A synchronous ROI store: encoded images (PNG or JPEG bytes) by ROI id."""

    @abstractmethod
    def get(self, roi_id: str) -> bytes:
        """The encoded image.

        Raises:
            NotFoundError: (a ``KeyError``) if there is none.
        """

    @abstractmethod
    def exists(self, roi_id: str) -> bool:
        """Whether there is an image for ``roi_id``."""

    def put(self, roi_id: str, image_data: bytes) -> None:
        """Store an encoded image (this store is read-only).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) always.
        """
        raise _read_only(self)


class AsyncRoiStore(ABC):
    """An asyncio ROI store: encoded images by ROI id, awaitable."""

    @abstractmethod
    async def get(self, roi_id: str) -> bytes:
        """The encoded image.

        Raises:
            NotFoundError: (a ``KeyError``) if there is none.
        """

    @abstractmethod
    async def exists(self, roi_id: str) -> bool:
        """Whether there is an image for ``roi_id``."""

    async def put(self, roi_id: str, image_data: bytes) -> None:
        """Store an encoded image (this store is read-only).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) always.
        """
        raise _read_only(self)
