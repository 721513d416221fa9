"""A caching bin store finds a bin in either tier, as 0.3.1's does: a bin only in the S3 cache is
read, listed and checked like one on the filesystem, with that tier's versions and sizes, never a
mix of the two tiers (moto's S3 server on 127.0.0.1 and real temporary trees)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ifcbkit import CachingBinStore, NotFoundError, S3BinStore, SyncCachingBinStore, SyncFilesystemBinStore
from ifcbkit.engine.cache import clear_caches
from ifcbkit.stores.s3 import AsyncS3BinStore
from ifcbkit.testing import CONFORMANCE_D, CONFORMANCE_I, BinStoreTests, conformance_files
from servers import (
    GENERATED_D,
    GENERATED_I,
    PARTIAL,
    TRUNCATED,
    aio_session,
    outcome,
    resolve,
    s3_client_options,
    snapshot,
    temporary_directory,
    write_generated_bins,
)


class _CacheTier:
    """A bucket on the session's moto server; ``cached`` names the conformance bins put into it under
    a prefix of the test's own, and ``on_disk`` the ones left in the filesystem tier."""

    cached: tuple[str, ...] = ()
    on_disk: tuple[str, ...] = ()
    bucket: str

    @pytest.fixture(autouse=True)
    def _tiers(self, client: Any, endpoint: str) -> Iterator[None]:
        self.endpoint = endpoint
        cls = type(self)
        if not getattr(cls, "bucket", None):
            cls.bucket = f"ifcbkit-{uuid.uuid4().hex[:12]}"
            client.create_bucket(Bucket=cls.bucket)
            store = S3BinStore(cls.bucket, client, "cache")
            for key, data in conformance_files(self.root).items():
                if key.split(".")[0] in cls.cached:
                    store.put(key, data)
            disk = Path(tempfile.mkdtemp(prefix="ifcbkit-fs-tier-"))
            for path in self.root.rglob("*"):
                if path.is_file() and path.name.split(".")[0] in cls.on_disk:
                    target = disk / path.relative_to(self.root)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
            cls.disk = disk
        yield

    @classmethod
    def teardown_class(cls) -> None:
        if getattr(cls, "disk", None) is not None:
            shutil.rmtree(cls.disk, ignore_errors=True)
        super().teardown_class()  # type: ignore[misc]

    @contextlib.contextmanager
    def boto3_client(self) -> Iterator[Any]:
        import boto3

        c = boto3.client("s3", **s3_client_options(self.endpoint))
        try:
            yield c
        finally:
            c.close()

    @contextlib.asynccontextmanager
    async def aioclient(self) -> AsyncIterator[Any]:

        async with aio_session().create_client("s3", **s3_client_options(self.endpoint)) as c:
            yield c


class _Sync(_CacheTier):
    @contextlib.contextmanager
    def store(self, root: Path) -> Iterator[Any]:
        with self.boto3_client() as c:
            yield SyncCachingBinStore(fs=self.disk, s3=S3BinStore(self.bucket, c, "cache"))


class _Async(_CacheTier):
    @contextlib.asynccontextmanager
    async def store(self, root: Path) -> AsyncIterator[Any]:
        async with self.aioclient() as c:
            yield CachingBinStore(fs=self.disk, s3=AsyncS3BinStore(self.bucket, c, "cache"))


class TestSyncCacheOnly(_Sync, BinStoreTests):
    """Every bin only in the S3 tier, over an empty filesystem tier."""

    cached = (CONFORMANCE_D, CONFORMANCE_I)


class TestAsyncCacheOnly(_Async, BinStoreTests):
    cached = (CONFORMANCE_D, CONFORMANCE_I)


class TestSyncSplitTiers(_Sync, BinStoreTests):
    """One bin on the filesystem only, the other in the S3 tier only."""

    cached = (CONFORMANCE_I,)
    on_disk = (CONFORMANCE_D,)


class TestAsyncSplitTiers(_Async, BinStoreTests):
    cached = (CONFORMANCE_I,)
    on_disk = (CONFORMANCE_D,)


# ----- the generated bins, only in the cache ---------------------------------------------------


@pytest.fixture(scope="module")
def bucket(client: Any) -> str:
    name = f"ifcbkit-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
async def aioclient(endpoint: str) -> AsyncIterator[Any]:

    async with aio_session().create_client("s3", **s3_client_options(endpoint)) as c:
        yield c


@pytest.fixture(scope="module")
def generated() -> Iterator[Path]:
    with temporary_directory() as root:
        write_generated_bins(root)
        yield root


def _tiers(face: str, fs: Any, bucket: str, client: Any, aioclient: Any, prefix: str) -> Any:
    if face == "sync":
        return SyncCachingBinStore(fs=fs, s3=S3BinStore(bucket, client, prefix))
    return CachingBinStore(fs=fs, s3=AsyncS3BinStore(bucket, aioclient, prefix))


def _upload(generated: Path, client: Any, bucket: str, prefix: str, pids: tuple[str, ...]) -> None:
    store = S3BinStore(bucket, client, prefix)
    for path in sorted(generated.rglob("*")):
        if path.is_file() and path.name.split(".")[0] in pids:
            store.put(path.name, path.read_bytes())


@pytest.mark.parametrize("pid", [GENERATED_D, GENERATED_I, TRUNCATED, PARTIAL])
async def test_a_bin_only_in_the_cache_answers_as_on_disk(face, pid, generated, bucket, client, aioclient):
    prefix = f"only-{uuid.uuid4().hex[:8]}"
    _upload(generated, client, bucket, prefix, (pid,))
    with temporary_directory() as empty:
        store = _tiers(face, empty, bucket, client, aioclient, prefix)
        reference = SyncFilesystemBinStore(generated, require_roi=False)
        assert await snapshot(store, pid) == await snapshot(reference, pid)


async def test_versions_and_sizes_are_the_cache_tiers(face, generated, bucket, client, aioclient):
    """A bin only in the cache is indexed by the cache's ETags: a replaced ADC is read again."""
    prefix = f"only-{uuid.uuid4().hex[:8]}"
    _upload(generated, client, bucket, prefix, (GENERATED_D,))
    with temporary_directory() as empty:
        store = _tiers(face, empty, bucket, client, aioclient, prefix)
        before = await resolve(store.list_images(GENERATED_D))
        assert len(before) == 5
        adc = (generated / f"{GENERATED_D}.adc").read_bytes()
        shorter = b"".join(adc.splitlines(keepends=True)[:1])  # only the first target, which has an image
        client.put_object(Bucket=bucket, Key=f"{prefix}/2024/{GENERATED_D}.adc", Body=shorter)
        assert list(await resolve(store.list_images(GENERATED_D))) == [1]
        metadata = await resolve(store.bin_metadata(GENERATED_D))
        roi = (generated / f"{GENERATED_D}.roi").stat().st_size
        hdr = (generated / f"{GENERATED_D}.hdr").stat().st_size
        assert metadata["size"] == hdr + len(shorter) + roi


async def test_a_bin_on_disk_is_never_mixed_with_the_caches_copy(face, generated, bucket, client, aioclient):
    """The filesystem holds the bin (its header is there) without its ``.roi``; the cache holds a whole
    bin of that id with another ADC. Every answer is the filesystem's: its ADC, and no ``.roi``."""
    prefix = f"mixed-{uuid.uuid4().hex[:8]}"
    _upload(generated, client, bucket, prefix, (GENERATED_D,))
    with temporary_directory() as disk:
        for ext in ("hdr", "adc"):
            shutil.copyfile(generated / f"{GENERATED_D}.{ext}", disk / f"{GENERATED_D}.{ext}")
        adc = (generated / f"{GENERATED_D}.adc").read_bytes()
        (disk / f"{GENERATED_D}.adc").write_bytes(b"".join(adc.splitlines(keepends=True)[:3]))
        clear_caches()
        store = _tiers(face, disk, bucket, client, aioclient, prefix)
        assert sorted(await resolve(store.list_images(GENERATED_D))) == [1, 3]
        assert await resolve(store.exists(f"{GENERATED_D}.roi")) is False
        assert await outcome(lambda: store.get(f"{GENERATED_D}.roi")) == ("error", "NotFoundError")
        assert await outcome(lambda: store.read_images(GENERATED_D)) == ("error", "NotFoundError")
        assert await outcome(lambda: store.read_image(f"{GENERATED_D}_00001")) == ("error", "NotFoundError")
        assert await resolve(store.image_exists(f"{GENERATED_D}_00001")) is False
        metadata = await resolve(store.bin_metadata(GENERATED_D))
        assert metadata["size"] == sum((disk / f"{GENERATED_D}.{ext}").stat().st_size for ext in ("hdr", "adc"))


async def test_a_bin_in_neither_tier_is_not_found_naming_both(face, generated, bucket, client, aioclient):
    prefix = f"none-{uuid.uuid4().hex[:8]}"
    with temporary_directory() as empty:
        store = _tiers(face, empty, bucket, client, aioclient, prefix)
        with pytest.raises(NotFoundError) as caught:
            await resolve(store.list_images(GENERATED_D))
        assert str(empty) in str(caught.value) and f"s3://{bucket}/{prefix}/2024/" in str(caught.value)
        assert await resolve(store.exists(f"{GENERATED_D}.hdr")) is False


async def test_a_copy_cut_short_in_the_cache_is_read_from_the_truth(face, generated, bucket, client, aioclient):
    """A ``.roi`` copied into the cache while the instrument was still writing it is shorter than
    the truth's: reads notice where the copy ends and read the truth (and copy it again)."""
    prefix = f"short-{uuid.uuid4().hex[:8]}"
    _upload(generated, client, bucket, prefix, (GENERATED_D,))
    key = f"{prefix}/2024/{GENERATED_D}.roi"
    roi = (generated / f"{GENERATED_D}.roi").read_bytes()
    client.put_object(Bucket=bucket, Key=key, Body=roi[: len(roi) // 3])
    clear_caches()
    store = _tiers(face, generated, bucket, client, aioclient, prefix)
    reference = SyncFilesystemBinStore(generated)
    last = f"{GENERATED_D}_00007"
    assert (await resolve(store.read_image(last))).tobytes() == reference.read_image(last).tobytes()
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == roi  # promoted again, whole
    client.put_object(Bucket=bucket, Key=key, Body=roi[:100])
    assert await resolve(store.get(f"{GENERATED_D}.roi")) == roi
