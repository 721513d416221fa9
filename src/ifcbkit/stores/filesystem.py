"""Stores over a data directory on disk: raw bin files by key, and ROI images rendered from them."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

from ..directory import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, _DataDirectory
from ..errors import InvalidIdentifierError, NotFoundError
from ..faces import Blocking, Op, operation
from ..identifiers import parse_bin_key
from ..reading import BinReading
from .base import (
    AsyncBinStore,
    AsyncRoiStore,
    ImageFormat,
    SyncBinStore,
    SyncRoiStore,
    _KeyedBins,
    _RoiStore,
    check_file_type,
    encode_image,
)


class _FilesystemBins(_KeyedBins, _DataDirectory):
    """Bin files of a data directory by key ``'{pid}.{ext}'`` (the directory's include/exclude rules
    apply). A file is found when it is there, whether or not the bin's other files are (as in 0.3.1)."""

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
        super().__init__(root_path, include, exclude, require_adc, require_roi, strict=strict)

    # a bin store's read operations take ``bin_id`` (a data directory's take ``pid``), as in 0.3.1
    list_images = BinReading.list_images  # type: ignore[assignment]
    read_images = BinReading.read_images  # type: ignore[assignment]
    images_exist = BinReading.images_exist  # type: ignore[assignment]

    def _path_of(self, key: str) -> Op[str | None]:
        try:
            bin_id, ext = parse_bin_key(key)
            return (yield from self._locate_checked(bin_id)).get(ext)
        except (NotFoundError, InvalidIdentifierError):
            return None

    @operation
    def get_path(self, key: str) -> Op[str | None]:
        """The file behind ``key`` (the corrected ``.adc.mod`` for an ADC that has one), or ``None``
        when there is none (or ``key`` is not a bin file key)."""
        return (yield from self._path_of(key))


class SyncFilesystemBinStore(_FilesystemBins, SyncBinStore):
    """Raw bin files under a data root, by key ``'{pid}.{ext}'`` (read-only)."""


class AsyncFilesystemBinStore(_FilesystemBins, AsyncBinStore):
    """:class:`SyncFilesystemBinStore` for asyncio."""


class _FilesystemRois(_RoiStore):
    """ROI images rendered from the raw bins of a data directory, encoded as PNG or JPEG."""

    def __init__(
        self,
        base_path: str | os.PathLike[str],
        file_type: ImageFormat = "png",
        *,
        stitch: bool = True,
        include: Iterable[str] = DEFAULT_INCLUDE,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
    ):
        self.file_type = check_file_type(file_type)
        self.stitch = stitch
        self.bins = self.dd = _DataDirectory(base_path, include=include, exclude=exclude)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bins.root!r}, file_type={self.file_type!r})"

    @operation
    def get(self, roi_id: str) -> Op[bytes]:
        image = yield from self.bins.read_image(roi_id, stitch=self.stitch)
        return (yield Blocking(functools.partial(encode_image, image, self.file_type)))

    @operation
    def exists(self, roi_id: str) -> Op[bool]:
        return (yield from self.bins.image_exists(roi_id, stitch=self.stitch))


class SyncFilesystemRoiStore(_FilesystemRois, SyncRoiStore):
    """Encoded ROI images by ROI id, rendered from raw bins under a data root."""


class AsyncFilesystemRoiStore(_FilesystemRois, AsyncRoiStore):
    """:class:`SyncFilesystemRoiStore` for asyncio."""
