"""Stores over a data directory on disk: raw bin files by key, and ROI images rendered from them."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

from ..engine.filters import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from ..engine.reader import BinReader
from ..engine.requests import Blocking, Op, perform, run_async, run_sync
from ..errors import InvalidIdentifierError, NotFoundError
from ..faces.directory import AsyncTree, DataDirectoryBase, SyncTree
from ..formats.encoding import ImageFormat, check_file_type, encode_image
from ..formats.ids import parse_bin_key
from ..sources.directory import DirectorySource
from .base import AsyncBinStore, AsyncRoiStore, AsyncSourceKeys, SyncBinStore, SyncRoiStore, SyncSourceKeys

__all__ = [
    "AsyncFilesystemBinStore", "AsyncFilesystemRoiStore", "RenderedImages", "SyncFilesystemBinStore",
    "SyncFilesystemRoiStore", "path_of",
]  # fmt: skip


def path_of(source: DirectorySource, key: str) -> Op[str | None]:
    """The file behind a bin file key (the corrected ``.adc.mod`` for an ADC that has one), or
    ``None`` when there is none or ``key`` is not a bin file key."""
    try:
        bin_id, ext = parse_bin_key(key)
        return (yield from source.find(bin_id)).get(ext)
    except (NotFoundError, InvalidIdentifierError):
        return None


class FilesystemBinsBase(DataDirectoryBase):
    """What both faces of a filesystem bin store hold: a data directory's source and reader, where a
    file is found when it is there, whether or not the bin's other files are (as in 0.3.1); the
    directory's include/exclude rules apply."""

    def __init__(
        self,
        root_path: str | os.PathLike[str],
        include: Iterable[str] = DEFAULT_INCLUDE,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        require_adc: bool = False,
        require_roi: bool = False,
        *,
        strict: bool = False,
    ):
        """Bin files under ``root_path`` (by default, every file that is there counts).

        Raises:
            InvalidArgumentError: (a ``ValueError``) if ``include`` and ``exclude`` overlap, or
                ``require_roi`` without ``require_adc``.
        """
        super().__init__(root_path, include, exclude, require_adc, require_roi, strict=strict)


class SyncFilesystemBinStore(FilesystemBinsBase, SyncSourceKeys, SyncTree, SyncBinStore):
    """Raw bin files under a data root, by key ``'{pid}.{ext}'`` (read-only), listed and found as a
    data directory's are."""

    def get_path(self, key: str) -> str | None:
        """The file behind ``key`` (the corrected ``.adc.mod`` for an ADC that has one), or ``None``
        when there is none (or ``key`` is not a bin file key)."""
        return run_sync(path_of(self.source, key))


class AsyncFilesystemBinStore(FilesystemBinsBase, AsyncSourceKeys, AsyncTree, AsyncBinStore):
    """:class:`SyncFilesystemBinStore` for asyncio."""

    async def get_path(self, key: str) -> str | None:
        """Await the file behind ``key``, or ``None`` (:meth:`SyncFilesystemBinStore.get_path`)."""
        return await run_async(path_of(self.source, key))


class RenderedImages:
    """ROI images rendered from raw bins and encoded as PNG or JPEG (sans-I/O)."""

    def __init__(self, reader: BinReader, file_type: ImageFormat, stitch: bool):
        self.reader = reader
        self.file_type = file_type
        self.stitch = stitch

    def get(self, roi_id: str) -> Op[bytes]:
        image = yield from self.reader.read_image(roi_id, stitch=self.stitch)
        return (yield from perform(Blocking(functools.partial(encode_image, image, self.file_type))))

    def exists(self, roi_id: str) -> Op[bool]:
        return (yield from self.reader.image_exists(roi_id, stitch=self.stitch))


class FilesystemRoisBase:
    """What both faces of a filesystem ROI store hold: the raw bins and how to render them."""

    def __init__(
        self,
        base_path: str | os.PathLike[str],
        file_type: ImageFormat = "png",
        *,
        stitch: bool = True,
        include: Iterable[str] = DEFAULT_INCLUDE,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
    ):
        """Images of the bins under ``base_path``.

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an unknown ``file_type``, or if ``include`` and
                ``exclude`` overlap.
        """
        self.bins = DirectorySource(base_path, include, exclude, require_adc=True, require_roi=True)
        self.images = RenderedImages(BinReader(self.bins), check_file_type(file_type), stitch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bins.root!r}, file_type={self.file_type!r})"

    @property
    def file_type(self) -> str:
        """``'png'`` or ``'jpg'``."""
        return self.images.file_type

    @property
    def stitch(self) -> bool:
        """Whether stitched pairs are rendered as one image."""
        return self.images.stitch


class SyncFilesystemRoiStore(FilesystemRoisBase, SyncRoiStore):
    """Encoded ROI images by ROI id, rendered from raw bins under a data root."""

    def get(self, roi_id: str) -> bytes:
        """The image, rendered and encoded.

        Raises:
            NotFoundError: (a ``KeyError``) for an unknown bin or target; TruncatedBinError when cut short.
        """
        return run_sync(self.images.get(roi_id))

    def exists(self, roi_id: str) -> bool:
        """Whether the image can be rendered (``False`` for the hidden half of a stitched pair).

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return run_sync(self.images.exists(roi_id))


class AsyncFilesystemRoiStore(FilesystemRoisBase, AsyncRoiStore):
    """:class:`SyncFilesystemRoiStore` for asyncio."""

    async def get(self, roi_id: str) -> bytes:
        """Await the image, rendered and encoded.

        Raises:
            NotFoundError: (a ``KeyError``) for an unknown bin or target; TruncatedBinError when cut short.
        """
        return await run_async(self.images.get(roi_id))

    async def exists(self, roi_id: str) -> bool:
        """Await whether the image can be rendered.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return await run_async(self.images.exists(roi_id))
