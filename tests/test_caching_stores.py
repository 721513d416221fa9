"""Caching tiers against a real S3 API server (moto) on 127.0.0.1: S3 caches a filesystem source
of truth (bins) and memory → S3 → rendered images (ROIs), promoting on a miss, best effort."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ifcbkit.engine.cache import clear_caches
from ifcbkit.engine.reader import BinReader
from ifcbkit.engine.requests import Op
from ifcbkit.errors import InvalidIdentifierError, NotFoundError
from ifcbkit.formats.ranges import ByteRange
from ifcbkit.sources.directory import DirectorySource
from ifcbkit.stores import AsyncFilesystemRoiStore, SyncFilesystemBinStore, SyncFilesystemRoiStore
from ifcbkit.stores.caching import (
    AsyncCachingBinStore,
    AsyncCachingRoiStore,
    SyncCachingBinStore,
    SyncCachingRoiStore,
)
from ifcbkit.stores.objectstore import MemoryStore
from ifcbkit.stores.s3 import AsyncS3BinStore, AsyncS3RoiStore, S3BinStore, S3RoiStore
from servers import (
    ACCESS_KEY,
    EMPTY,
    GENERATED_D,
    GENERATED_I,
    PARTIAL,
    REAL_D,
    REAL_I,
    SECRET_KEY,
    TRUNCATED,
    S3Calls,
    aio_session,
    outcome,
    resolve,
    s3_client_options,
    snapshot,
    temporary_directory,
    write_generated_bins,
)


@pytest.fixture(scope="module")
def bucket(client) -> str:
    name = f"ifcbkit-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
async def aioclient(endpoint):
    async with aio_session().create_client("s3", **s3_client_options(endpoint)) as c:
        yield c


@pytest.fixture(scope="module")
def generated() -> Iterator[Path]:
    with temporary_directory() as root:
        write_generated_bins(root)
        yield root


class CountingSource(DirectorySource):
    """A data directory source that records which files were read."""

    def __init__(self, root: Any, **options: Any):
        rules = {"include": ["data"], "exclude": ["skip", "beads"], "require_adc": False, "require_roi": False}
        rules.update(options)
        super().__init__(root, **rules)
        self.reads: list[tuple[str, str]] = []

    def read(self, bin_id: str, ext: str, byte_range: ByteRange | None = None) -> Op[bytes]:
        if byte_range is None:
            self.reads.append((bin_id, ext))
        return (yield from super().read(bin_id, ext, byte_range))

    def read_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        self.reads.append((bin_id, ext))
        return (yield from super().read_ranges(bin_id, ext, ranges))


class CountingFilesystem(SyncFilesystemBinStore):
    """A filesystem bin store over a :class:`CountingSource`."""

    def __init__(self, root: Any, **options: Any):
        super().__init__(root, **options)
        self.source = CountingSource(root, **options)
        self.reader = BinReader(self.source)

    @property
    def reads(self) -> list[tuple[str, str]]:
        return self.source.reads


def caching_bins(face: str, fs: Any, bucket: str, client: Any, aioclient: Any, prefix: str) -> Any:
    if face == "sync":
        return SyncCachingBinStore(fs=fs, s3=S3BinStore(bucket, client, prefix))
    return AsyncCachingBinStore(fs=fs, s3=AsyncS3BinStore(bucket, aioclient, prefix))


def keys(client: Any, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


# ----- bins: S3 over the filesystem -----------------------------------------------------------


@pytest.mark.parametrize("pid", [GENERATED_D, GENERATED_I, TRUNCATED, PARTIAL])
async def test_bins_read_like_the_filesystem_and_are_promoted(face, pid, generated, bucket, client, aioclient):
    prefix = f"cache-{uuid.uuid4().hex[:8]}"
    fs = CountingFilesystem(generated, require_roi=False)
    store = caching_bins(face, fs, bucket, client, aioclient, prefix)
    reference = SyncFilesystemBinStore(generated, require_roi=False)
    assert await snapshot(store, pid) == await snapshot(reference, pid)
    year = "legacy" if pid.startswith("IFCB") else "2024"
    expected = [
        f"{prefix}/{year}/{pid}.{ext}" for ext in ("adc", "hdr", "roi") if (generated / f"{pid}.{ext}").exists()
    ]
    assert keys(client, bucket, prefix) == expected
    for ext in ("adc", "hdr", "roi"):
        if (generated / f"{pid}.{ext}").exists():
            body = client.get_object(Bucket=bucket, Key=f"{prefix}/{year}/{pid}.{ext}")["Body"].read()
            assert body == (generated / f"{pid}.{ext}").read_bytes()


async def test_promoted_bins_are_read_from_the_cache(face, generated, bucket, client, aioclient):
    prefix = f"cache-{uuid.uuid4().hex[:8]}"
    fs = CountingFilesystem(generated)
    store = caching_bins(face, fs, bucket, client, aioclient, prefix)
    roi_id = f"{GENERATED_I}_00002"
    first = await resolve(store.read_image(roi_id))
    assert sorted(fs.reads) == [(GENERATED_I, "adc"), (GENERATED_I, "hdr"), (GENERATED_I, "roi")]
    clear_caches()
    fs.reads.clear()
    calls = S3Calls(client if face == "sync" else aioclient)
    again = await resolve(store.read_image(roi_id))
    assert again.tobytes() == first.tobytes()
    assert fs.reads == []  # the cache had every file
    roi_reads = [c for c in calls.calls if c[1] == f"{prefix}/legacy/{GENERATED_I}.roi"]
    assert len(roi_reads) == 1 and roi_reads[0][2].startswith("bytes=")  # one ranged read of the cached .roi
    assert await resolve(store.exists(f"{GENERATED_I}.roi")) is True
    assert await resolve(store.get(f"{GENERATED_I}.adc")) == (generated / f"{GENERATED_I}.adc").read_bytes()
    assert fs.reads == []


async def test_real_bins_through_the_cache(face, real_data, bucket, client, aioclient):
    prefix = f"cache-{uuid.uuid4().hex[:8]}"
    store = caching_bins(face, real_data, bucket, client, aioclient, prefix)  # a data root path as the truth
    reference = SyncFilesystemBinStore(real_data)
    for pid in (REAL_D, REAL_I):
        assert await snapshot(store, pid) == await snapshot(reference, pid)
    assert len(keys(client, bucket, prefix)) == 6
    assert await outcome(lambda: store.read_header(EMPTY[0])) == ("error", "NotFoundError")  # not under data/


async def test_a_failing_cache_never_fails_a_read(generated, client, caplog):
    caplog.set_level(logging.DEBUG, logger="ifcbkit")
    store = SyncCachingBinStore(fs=SyncFilesystemBinStore(generated), s3=S3BinStore("ifcbkit-no-such-bucket", client))
    reference = SyncFilesystemBinStore(generated)
    image = store.read_image(f"{GENERATED_D}_00003")
    assert image.tobytes() == reference.read_image(f"{GENERATED_D}_00003").tobytes()
    messages = [r.getMessage() for r in caplog.records if r.name == "ifcbkit.stores.caching"]
    assert any("cache read of s3://ifcbkit-no-such-bucket/2024/" in m and "NoSuchBucket" in m for m in messages)
    assert any(m.startswith("could not copy s3://ifcbkit-no-such-bucket/2024/") for m in messages)
    text = "\n".join(messages)
    assert ACCESS_KEY not in text and SECRET_KEY not in text


class ReadOnlyObjects(MemoryStore):
    """An amplify-shaped store that refuses writes."""

    def put(self, key: str, data: bytes) -> None:
        raise PermissionError("read-only bucket")


async def test_a_cache_that_refuses_writes_is_only_logged(generated, caplog):
    caplog.set_level(logging.WARNING, logger="ifcbkit")
    store = AsyncCachingBinStore(fs=str(generated), s3=ReadOnlyObjects())  # any amplify-shaped object as the cache
    header = await store.read_header(GENERATED_D)
    assert header == SyncFilesystemBinStore(generated).read_header(GENERATED_D)
    messages = [r.getMessage() for r in caplog.records if r.name == "ifcbkit.stores.caching"]
    assert len(messages) == 2 and all("PermissionError" in m for m in messages)  # .hdr and .adc
    with pytest.raises(TypeError):
        SyncCachingBinStore(fs=generated, s3=object())


# ----- ROI images: memory → S3 → rendered ---------------------------------------------------


class CountingTier:
    """An amplify-shaped tier that counts its calls and delegates to a ROI store."""

    def __init__(self, store: Any, *, writable: bool = True):
        self.store = store
        self.writable = writable
        self.calls: list[tuple[str, str]] = []

    def get(self, key: str) -> Any:
        self.calls.append(("get", key))
        return self.store.get(key)

    def exists(self, key: str) -> Any:
        self.calls.append(("exists", key))
        return self.store.exists(key)

    def put(self, key: str, data: bytes) -> None:
        self.calls.append(("put", key))
        if not self.writable:
            raise OSError("disk full")
        self.store.put(key, data)


async def test_roi_images_come_from_the_first_tier_that_has_them(face, real_data, bucket, client, aioclient):
    prefix = f"rois-{uuid.uuid4().hex[:8]}"
    rendered = SyncFilesystemRoiStore(real_data)
    if face == "sync":
        s3: Any = S3RoiStore(bucket, client, prefix)
        fs: Any = SyncFilesystemRoiStore(real_data)
        make = SyncCachingRoiStore
    else:
        s3, fs, make = (
            AsyncS3RoiStore(bucket, aioclient, prefix),
            AsyncFilesystemRoiStore(real_data),
            AsyncCachingRoiStore,
        )
    memory = MemoryStore()
    store = make(memory, s3, fs)
    roi_id = f"{REAL_I}_00003"  # a stitched pair, rendered from the raw files
    png = await resolve(store.get(roi_id))
    assert png == rendered.get(roi_id) and png.startswith(b"\x89PNG")
    assert memory.get(roi_id) == png
    assert client.get_object(Bucket=bucket, Key=f"{prefix}/legacy/{REAL_I}/00003.png")["Body"].read() == png
    calls = S3Calls(client if face == "sync" else aioclient)
    assert await resolve(store.get(roi_id)) == png and calls.calls == []  # from memory
    # a new process: empty memory, the S3 copy serves it and the renderer is never asked
    renderer = CountingTier(rendered)
    fresh_memory = MemoryStore()
    again = make(fresh_memory, s3, renderer)
    assert await resolve(again.get(roi_id)) == png
    assert renderer.calls == [] and fresh_memory.get(roi_id) == png
    assert [c[0] for c in calls.calls] == ["GetObject"]
    assert await resolve(again.exists(roi_id)) is True
    assert await resolve(again.exists(f"{REAL_I}_00004")) is False  # the second half of the pair
    assert await resolve(again.exists(f"{REAL_D}_00008")) is False  # no image
    assert await outcome(lambda: again.get(f"{REAL_D}_00008")) == ("error", "NotFoundError")
    renderer.calls.clear()
    with pytest.raises(InvalidIdentifierError):
        await resolve(again.get("IFCB5_2012_028_081515/../../x"))
    assert renderer.calls == []


async def test_failed_promotions_and_failing_tiers_never_fail_a_read(real_data, client, caplog):
    caplog.set_level(logging.WARNING, logger="ifcbkit")
    rendered = SyncFilesystemRoiStore(real_data)
    full = CountingTier(MemoryStore(), writable=False)
    broken_s3 = S3RoiStore("ifcbkit-no-such-bucket", client)
    store = SyncCachingRoiStore(full, broken_s3, rendered)
    roi_id = f"{REAL_D}_00007"
    assert store.get(roi_id) == rendered.get(roi_id)
    assert full.calls == [("get", roi_id), ("put", roi_id)]
    messages = [r.getMessage() for r in caplog.records if r.name == "ifcbkit.stores.caching"]
    assert any("NoSuchBucket" in m and "trying the next tier" in m for m in messages)
    assert any("could not copy" in m and "OSError" in m for m in messages)
    assert not any("disk full" in m or ACCESS_KEY in m for m in messages)
    assert store.exists(roi_id) is True
    with pytest.raises(NotFoundError):
        store.get(f"{REAL_D}_00008")


def test_tiers_must_agree_on_the_image_type(real_data, bucket, client):
    with pytest.raises(ValueError, match="different image types"):
        jpegs = S3RoiStore(bucket, client, file_type="jpg")
        SyncCachingRoiStore(MemoryStore(), jpegs, SyncFilesystemRoiStore(real_data))
    assert SyncCachingRoiStore().tiers[0].__class__ is MemoryStore  # cache=None: a memory tier, as in 0.3.1
