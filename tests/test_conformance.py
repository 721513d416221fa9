"""Every store and data directory, on both faces, through the shared conformance suite
(:class:`ifcbkit.testing.BinStoreTests`): filesystem, object store, S3 on moto, a dashboard on the
loopback server, caching tiers, and a store a user writes with ``get`` and ``exists`` alone."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ifcbkit import (
    AsyncFilesystemBinStore,
    AsyncIfcbDataDirectory,
    AsyncObjectBinStore,
    AsyncS3BinStore,
    CachingBinStore,
    DashboardBinStore,
    MemoryStore,
    NotFoundError,
    ObjectBinStore,
    S3BinStore,
    SyncBinStore,
    SyncCachingBinStore,
    SyncFilesystemBinStore,
    SyncIfcbDataDirectory,
)
from ifcbkit.errors import MissingTargetWarning
from ifcbkit.stores import AsyncBinStore, AsyncDashboardBinStore
from ifcbkit.testing import CONFORMANCE_D, CONFORMANCE_I, BinStoreTests, conformance_bins, conformance_files
from servers import DashboardBehaviour, DashboardServer, aio_session, s3_client_options


class TestSyncDataDirectory(BinStoreTests):
    def store(self, root: Path) -> Any:
        return SyncIfcbDataDirectory(root)


class TestAsyncDataDirectory(BinStoreTests):
    def store(self, root: Path) -> Any:
        return AsyncIfcbDataDirectory(root)


class TestSyncFilesystemStore(BinStoreTests):
    def store(self, root: Path) -> Any:
        return SyncFilesystemBinStore(root)


class TestAsyncFilesystemStore(BinStoreTests):
    def store(self, root: Path) -> Any:
        return AsyncFilesystemBinStore(root)


def _memory(root: Path) -> MemoryStore:
    backend = MemoryStore()
    store = ObjectBinStore(backend, "raw")
    for key, data in conformance_files(root).items():
        store.put(key, data)
    return backend


class TestSyncObjectStore(BinStoreTests):
    def store(self, root: Path) -> Any:
        return ObjectBinStore(_memory(root), "raw")


class TestAsyncObjectStore(BinStoreTests):
    def store(self, root: Path) -> Any:
        return AsyncObjectBinStore(_memory(root), "raw")


class DictStore(SyncBinStore):
    """A store of one's own: ``get`` and ``exists`` by key, nothing else."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    def get(self, key: str) -> bytes:
        try:
            return self.files[key]
        except KeyError:
            raise NotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return key in self.files


class AsyncRangedDictStore(AsyncBinStore):
    """An async store of one's own, with ``get_range``."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    async def get(self, key: str) -> bytes:
        return self.files[key]

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.files[key][start:end]

    async def exists(self, key: str) -> bool:
        return key in self.files


class StrictDictStore(DictStore):
    strict = True


def test_a_store_of_ones_own_may_be_strict(tmp_path):
    conformance_bins(tmp_path)
    files = conformance_files(tmp_path)
    with pytest.warns(MissingTargetWarning):
        assert list(DictStore(files).read_images(CONFORMANCE_D, [1, 2])) == [1]  # 2 has no image
    with pytest.raises(NotFoundError):
        StrictDictStore(files).read_images(CONFORMANCE_D, [1, 2])
    assert StrictDictStore(files).strict is True and DictStore(files).strict is False


class TestUserSyncStore(BinStoreTests):
    def store(self, root: Path) -> Any:
        return DictStore(conformance_files(root))


class TestUserAsyncStore(BinStoreTests):
    def store(self, root: Path) -> Any:
        return AsyncRangedDictStore(conformance_files(root))


class _OnMoto:
    """A bucket on the session's moto server, holding the conformance bins under ``raw/``."""

    bucket: str

    @pytest.fixture(autouse=True)
    def _bucket(self, client: Any, endpoint: str) -> None:
        self.endpoint = endpoint
        cls = type(self)
        if not getattr(cls, "bucket", None):
            cls.bucket = f"ifcbkit-{uuid.uuid4().hex[:12]}"
            client.create_bucket(Bucket=cls.bucket)
            store = S3BinStore(cls.bucket, client, "raw")
            for key, data in conformance_files(self.root).items():
                store.put(key, data)

    @contextlib.asynccontextmanager
    async def aioclient(self) -> AsyncIterator[Any]:

        async with aio_session().create_client("s3", **s3_client_options(self.endpoint)) as c:
            yield c

    @contextlib.contextmanager
    def boto3_client(self) -> Iterator[Any]:
        import boto3

        c = boto3.client("s3", **s3_client_options(self.endpoint))
        try:
            yield c
        finally:
            c.close()


class TestSyncS3Store(_OnMoto, BinStoreTests):
    @contextlib.contextmanager
    def store(self, root: Path) -> Iterator[Any]:
        with self.boto3_client() as c:
            yield S3BinStore(self.bucket, c, "raw")


class TestAsyncS3Store(_OnMoto, BinStoreTests):
    @contextlib.asynccontextmanager
    async def store(self, root: Path) -> AsyncIterator[Any]:
        async with self.aioclient() as c:
            yield AsyncS3BinStore(self.bucket, c, "raw")


class TestSyncCachingStore(_OnMoto, BinStoreTests):
    @contextlib.contextmanager
    def store(self, root: Path) -> Iterator[Any]:
        with self.boto3_client() as c:
            yield SyncCachingBinStore(fs=root, s3=S3BinStore(self.bucket, c, f"cache-{uuid.uuid4().hex[:8]}"))


class TestAsyncCachingStore(_OnMoto, BinStoreTests):
    @contextlib.asynccontextmanager
    async def store(self, root: Path) -> AsyncIterator[Any]:
        async with self.aioclient() as c:
            yield CachingBinStore(fs=root, s3=AsyncS3BinStore(self.bucket, c, f"cache-{uuid.uuid4().hex[:8]}"))


def _served(root: Path, **behaviour: Any) -> DashboardServer:
    """A dashboard serving the conformance bins, and listing them (its catalog: their metadata)."""
    files = {pid: next(root.rglob(f"{pid}.hdr")).with_suffix("") for pid in (CONFORMANCE_D, CONFORMANCE_I)}
    directory = SyncIfcbDataDirectory(root)
    catalog = {pid: {**directory.bin_metadata(pid), "skip": False} for pid in files}
    return DashboardServer(files, {}, behaviour=DashboardBehaviour(**behaviour), catalog=catalog)


class TestSyncDashboardStore(BinStoreTests):
    @contextlib.contextmanager
    def store(self, root: Path) -> Iterator[Any]:
        with _served(root) as server, DashboardBinStore(server.url, "mvco") as store:
            yield store


class TestAsyncDashboardStore(BinStoreTests):
    @contextlib.asynccontextmanager
    async def store(self, root: Path) -> AsyncIterator[Any]:
        with _served(root) as server:
            async with AsyncDashboardBinStore(server.url, "mvco") as store:
                yield store


class TestRangelessDashboardStore(BinStoreTests):
    """A dashboard that answers Range requests with whole files, as ifcbdb does."""

    @contextlib.asynccontextmanager
    async def store(self, root: Path) -> AsyncIterator[Any]:
        with _served(root, ranges=False) as server:
            async with AsyncDashboardBinStore(server.url, "mvco") as store:
                yield store
