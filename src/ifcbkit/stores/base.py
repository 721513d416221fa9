"""The store protocols: bin stores keyed ``'{pid}.{ext}'`` and ROI stores keyed by ROI id.

A bin store needs only ``get(key)`` and ``exists(key)`` (plain methods on a
sync store, coroutines on an async one; ``get_range(key, start, end)`` with
slice semantics when the backend can read part of an object). Everything else
(``read_image``, ``read_images``, ``list_images``, ``iter_images``, ...) comes
from :class:`~ifcbkit.reading.BinReading`, written once for every backend.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from typing import Any, Literal

from PIL import Image

from ..errors import InvalidIdentifierError, ReadOnlyError
from ..faces import AsyncFace, Op, SyncFace, operation
from ..identifiers import parse_bin_key
from ..reading import BinReading

ImageFormat = Literal["png", "jpg"]
_PIL_FORMATS = {"png": "PNG", "jpg": "JPEG"}


def check_file_type(file_type: str) -> ImageFormat:
    """The image type ROI stores encode, ``'png'`` or ``'jpg'`` (``'.PNG'`` and ``'jpeg'`` are accepted
    spellings); ``ValueError`` otherwise."""
    normal = file_type.lower().lstrip(".") if isinstance(file_type, str) else file_type
    normal = "jpg" if normal == "jpeg" else normal
    if normal not in _PIL_FORMATS:
        raise ValueError(f"Unsupported file_type: {file_type!r} (expected 'png' or 'jpg')")
    return normal  # type: ignore[return-value]


def encode_image(image: Image.Image, file_type: ImageFormat = "png") -> bytes:
    """An image encoded as PNG or JPEG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, _PIL_FORMATS[check_file_type(file_type)])
    return buffer.getvalue()


class _BinStore(BinReading, ABC):
    """Raw bin files by key ``'{pid}.{ext}'``, read-only unless a backend says otherwise."""

    @abstractmethod
    def get(self, key: str) -> Any:
        """The bytes stored under ``key``; :class:`~ifcbkit.errors.NotFoundError` (a ``KeyError``) if absent."""

    @abstractmethod
    def exists(self, key: str) -> Any:
        """Whether ``key`` is stored."""

    @operation
    def put(self, key: str, data: bytes) -> Op[None]:
        """Store ``data`` under ``key`` (this store is read-only).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) always.
        """
        raise ReadOnlyError(f"{self!r} is read-only")
        yield  # a generator

    @operation
    def get_path(self, key: str) -> Op[str | None]:
        """The local file behind ``key``, or ``None`` when the store is not on a local disk."""
        return None
        yield  # a generator


class _KeyedBins(_BinStore):
    """``get``, ``get_range`` and ``exists`` by key ``'{pid}.{ext}'`` over the BinReading primitives."""

    @operation
    def get(self, key: str) -> Op[bytes]:
        """The bytes of a bin file by key ``'{pid}.{ext}'``."""
        return (yield from self._read_file(*parse_bin_key(key)))

    @operation
    def get_range(self, key: str, start: int, end: int) -> Op[bytes]:
        """Bytes ``[start:end]`` of a bin file (slice semantics, end exclusive)."""
        if start < 0 or end < start:
            raise ValueError(f"invalid range [{start}:{end}]")
        return (yield from self._read_ranges(*parse_bin_key(key), [(start, end - start)]))[0]

    @operation
    def exists(self, key: str) -> Op[bool]:
        """Whether a bin file is stored (``False`` for a key that is not ``'{bin_id}.hdr|adc|roi'``)."""
        try:
            bin_id, ext = parse_bin_key(key)
        except InvalidIdentifierError:
            return False
        return (yield from self._file_exists(bin_id, ext))


class SyncBinStore(_BinStore, SyncFace):
    """A synchronous bin store: subclass and implement ``get`` and ``exists`` (and ``get_range``)."""


class AsyncBinStore(_BinStore, AsyncFace):
    """An asyncio bin store: subclass and implement ``async get`` and ``async exists`` (and
    ``async get_range``); every read operation is then an awaitable method."""


class _RoiStore(ABC):
    """Encoded ROI images (PNG or JPEG bytes) by ROI id."""

    @abstractmethod
    def get(self, roi_id: str) -> Any:
        """The encoded image; :class:`~ifcbkit.errors.NotFoundError` if there is none."""

    @abstractmethod
    def exists(self, roi_id: str) -> Any:
        """Whether there is an image for ``roi_id``."""

    @operation
    def put(self, roi_id: str, image_data: bytes) -> Op[None]:
        """Store an encoded image (this store is read-only).

        Raises:
            ReadOnlyError: (a ``NotImplementedError``) always.
        """
        raise ReadOnlyError(f"{self!r} is read-only")
        yield  # a generator


class SyncRoiStore(_RoiStore, SyncFace):
    """A synchronous ROI store."""


class AsyncRoiStore(_RoiStore, AsyncFace):
    """An asyncio ROI store."""
