"""Bin stores (raw ``.hdr``/``.adc``/``.roi`` files by key ``'{pid}.{ext}'``) and ROI stores
(encoded images by ROI id), sync and async, over interchangeable backends."""

from .base import AsyncBinStore, AsyncRoiStore, SyncBinStore, SyncRoiStore, encode_image
from .caching import (
    AsyncCachingBinStore,
    AsyncCachingRoiStore,
    CachingBinStore,
    CachingRoiStore,
    SyncCachingBinStore,
    SyncCachingRoiStore,
)
from .dashboard import AsyncDashboardBinStore, DashboardBinStore
from .filesystem import (
    AsyncFilesystemBinStore,
    AsyncFilesystemRoiStore,
    SyncFilesystemBinStore,
    SyncFilesystemRoiStore,
)
from .objectstore import (
    AsyncObjectBinStore,
    AsyncObjectRoiStore,
    KeyLayout,
    MemoryStore,
    ObjectBinStore,
    ObjectRoiStore,
)
from .s3 import AsyncS3BinStore, AsyncS3RoiStore, S3BinStore, S3RoiStore

__all__ = [
    "AsyncBinStore",
    "AsyncCachingBinStore",
    "AsyncCachingRoiStore",
    "AsyncDashboardBinStore",
    "AsyncFilesystemBinStore",
    "AsyncFilesystemRoiStore",
    "AsyncObjectBinStore",
    "AsyncObjectRoiStore",
    "AsyncRoiStore",
    "AsyncS3BinStore",
    "AsyncS3RoiStore",
    "CachingBinStore",
    "CachingRoiStore",
    "DashboardBinStore",
    "KeyLayout",
    "MemoryStore",
    "ObjectBinStore",
    "ObjectRoiStore",
    "S3BinStore",
    "S3RoiStore",
    "SyncBinStore",
    "SyncCachingBinStore",
    "SyncCachingRoiStore",
    "SyncFilesystemBinStore",
    "SyncFilesystemRoiStore",
    "SyncRoiStore",
    "encode_image",
]
