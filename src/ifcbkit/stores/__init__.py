"""Bin stores (raw ``.hdr``/``.adc``/``.roi`` files by key ``'{pid}.{ext}'``) and ROI stores
(encoded images by ROI id), sync and async, over interchangeable backends."""

# 0.3.1's stores module imported these four: importable here as there
from ..adc import parse_adc_bytes as parse_adc_bytes
from ..formats.ids import add_target as add_target
from ..formats.ids import parse_roi_id as parse_roi_id
from ..formats.images import bin_images as bin_images
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
