"""Bin stores (raw ``.hdr``/``.adc``/``.roi`` files by key ``'{pid}.{ext}'``) and ROI stores
(encoded images by ROI id), sync and async, over interchangeable backends."""

from .base import AsyncBinStore, AsyncRoiStore, SyncBinStore, SyncRoiStore, encode_image
from .filesystem import (
    AsyncFilesystemBinStore,
    AsyncFilesystemRoiStore,
    SyncFilesystemBinStore,
    SyncFilesystemRoiStore,
)

__all__ = [
    "AsyncBinStore",
    "AsyncFilesystemBinStore",
    "AsyncFilesystemRoiStore",
    "AsyncRoiStore",
    "SyncBinStore",
    "SyncFilesystemBinStore",
    "SyncFilesystemRoiStore",
    "SyncRoiStore",
    "encode_image",
]
