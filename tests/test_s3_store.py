"""S3 stores against a real S3 API server (moto) on 127.0.0.1: boto3 for the sync face,
aiobotocore for the async one; every read equals the filesystem store's, ``read_image`` reads
one byte range, and errors are clear and carry no credentials."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ifcbkit import SyncIfcbDataDirectory
from ifcbkit.engine.cache import clear_caches
from ifcbkit.engine.requests import run_sync
from ifcbkit.errors import NotFoundError, StoreError, TruncatedBinError
from ifcbkit.stores import SyncFilesystemRoiStore
from ifcbkit.stores.objectstore import AsyncObjectBinStore, ObjectBinStore
from ifcbkit.stores.s3 import AsyncS3BinStore, AsyncS3RoiStore, S3BinStore, S3RoiStore
from ifcbkit.testing import Roi, make_bin
from servers import (
    ACCESS_KEY,
    ALL_BINS,
    EMPTY,
    GENERATED_D,
    GENERATED_I,
    REAL_D,
    REAL_I,
    SECRET_KEY,
    TRUNCATED,
    CountingProxy,
    S3Calls,
    aio_session,
    bin_files,
    free_port,
    outcome,
    reference_stores,
    resolve,
    s3_client_options,
    snapshot,
    temporary_directory,
)

BIG = "D20230704T120000_IFCB999"  # the multi-MB generated bin
BIG_ROIS = [Roi(80 + i % 7, 90 - i % 5) for i in range(600)]


@pytest.fixture(scope="module")
def references(real_data: Path) -> Iterator[dict[str, Any]]:
    with temporary_directory() as generated:
        yield reference_stores(real_data, generated)


@pytest.fixture(scope="module")
def bucket(client, references) -> str:
    """A bucket holding every reference bin under ``raw/`` and the multi-MB bin."""
    name = f"ifcbkit-{uuid.uuid4().hex[:12]}"  # moto's state is per process: never reuse a name
    client.create_bucket(Bucket=name)
    store = S3BinStore(name, client, "raw")
    for pid, files in bin_files(references).items():
        for ext, data in files.items():
            store.put(f"{pid}.{ext}", data)
    for ext, data in zip(("hdr", "adc", "roi"), make_bin(BIG, BIG_ROIS, seed=7)):
        store.put(f"{BIG}.{ext}", data)
    return name


@pytest.fixture
async def aioclient(endpoint):
    async with aio_session().create_client("s3", **s3_client_options(endpoint)) as c:
        yield c


def store_for(face: str, bucket: str, client: Any, aioclient: Any, *args: Any, **options: Any) -> Any:
    if face == "sync":
        return S3BinStore(bucket, client, *args, **options)
    if face == "async-boto3":  # a boto3 client on the async face, as 0.3.1's stores take one
        return AsyncS3BinStore(bucket, client, *args, **options)
    return AsyncS3BinStore(bucket, aioclient, *args, **options)


CLIENTS = ["sync", "async", "async-boto3"]  # the faces, and a boto3 client on the async face


# ----- the same as the filesystem store -------------------------------------------------------


@pytest.mark.parametrize("face", CLIENTS)
@pytest.mark.parametrize("pid", ALL_BINS)
async def test_every_read_equals_the_filesystem_store(face, pid, bucket, client, aioclient, references):
    store = store_for(face, bucket, client, aioclient, "raw")
    assert await snapshot(store, pid) == await snapshot(references[pid], pid)


@pytest.mark.parametrize("face", CLIENTS)
async def test_listing_bins(face, bucket, client, aioclient, real_data):
    store = store_for(face, bucket, client, aioclient, "raw")
    on_disk = [fileset["pid"] for fileset in SyncIfcbDataDirectory(real_data).list()]
    assert on_disk == [pid for pid in await resolve(store.list_bins()) if pid in (REAL_D, REAL_I)]
    # in sample-time order across naming styles (2012, 2013, 2014, 2015, 2017, 2023, 2024, 2024)
    assert await resolve(store.list_bins()) == [REAL_I, REAL_D, GENERATED_I, EMPTY[0], EMPTY[1], BIG, GENERATED_D,
                                                TRUNCATED]  # fmt: skip
    assert await resolve(store.list_bins(year=2024)) == [GENERATED_D, TRUNCATED]
    assert await resolve(store.list_bins(year=2012)) == [REAL_I]
    assert await resolve(store.list_bins(instrument="IFCB999")) == [BIG]
    assert await resolve(store.list_bins(instrument=5, year="legacy")) == [REAL_I, GENERATED_I, EMPTY[1]]
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="raw/legacy/")["Contents"]]
    assert f"raw/legacy/{REAL_I}.roi" in keys and all(k.startswith("raw/legacy/IFCB") for k in keys)


def test_listing_follows_continuation_tokens(endpoint):
    """Several pages of ``list_objects_v2`` (the client is made to ask for 50 keys a page)."""
    paged = boto3.client("s3", **s3_client_options(endpoint))
    try:
        paged.meta.events.register("before-parameter-build.s3.ListObjectsV2",
                                   lambda params, **_: params.setdefault("MaxKeys", 50))  # fmt: skip
        calls = S3Calls(paged)
        name = f"ifcbkit-{uuid.uuid4().hex[:12]}"
        paged.create_bucket(Bucket=name)
        pids = [f"D20220101T00{m:02d}00_IFCB1" for m in range(40)]
        keys = [f"2022/{pid}.{ext}" for pid in pids for ext in ("hdr", "adc", "roi")]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: paged.put_object(Bucket=name, Key=key, Body=b""), keys))
        calls.clear()
        assert list(S3BinStore(name, paged).list_bins(year=2022)) == pids
        assert [c[0] for c in calls.calls] == ["ListObjectsV2"] * 3 + ["ListObjectsV2"]  # 2022/ then legacy/
    finally:
        paged.close()


# ----- what is fetched ------------------------------------------------------------------------


@pytest.mark.parametrize("face", CLIENTS)
async def test_read_image_is_one_range_of_the_roi(face, bucket, client, aioclient, references):
    store = store_for(face, bucket, client, aioclient, "raw")
    calls = S3Calls(aioclient if face == "async" else client)
    key = f"raw/2024/{GENERATED_D}"
    ids = references[GENERATED_D].list_roi_ids(GENERATED_D)
    await resolve(store.read_image(ids[1]))
    assert calls.calls[:4] == [("HeadObject", f"{key}.adc", None), ("HeadObject", f"{key}.hdr", None),
                               ("GetObject", f"{key}.hdr", None), ("GetObject", f"{key}.adc", None)]  # fmt: skip
    ((operation, roi_key, first_range),) = calls.calls[4:]
    assert (operation, roi_key) == ("GetObject", f"{key}.roi")
    start, end = map(int, first_range.removeprefix("bytes=").split("-"))
    assert end - start + 1 == 25 * 60
    calls.clear()
    await resolve(store.read_image(ids[3]))  # the index is cached; the ETag checks are one HEAD per file
    ((head, adc, _), (head2, hdr, _), (operation, roi_key, second_range)) = calls.calls
    assert (head, adc, head2, hdr) == ("HeadObject", f"{key}.adc", "HeadObject", f"{key}.hdr")
    assert (operation, roi_key) == ("GetObject", f"{key}.roi")
    start, end = map(int, second_range.removeprefix("bytes=").split("-"))
    assert end - start + 1 == 64 * 48
    calls.clear()
    images = await resolve(store.read_images(GENERATED_D))
    assert len(images) == 5 and calls.calls == [
        ("HeadObject", f"{key}.adc", None), ("HeadObject", f"{key}.hdr", None), ("GetObject", f"{key}.roi", None)
    ]  # fmt: skip
    calls.clear()
    trusting = store_for(face, bucket, client, aioclient, "raw", check_versions=False)
    await resolve(trusting.read_image(f"{GENERATED_I}_00002"))  # a stitched pair: both halves in one range
    calls.clear()
    await resolve(trusting.read_image(f"{GENERATED_I}_00002"))
    ((operation, roi_key, pair_range),) = calls.calls
    start, end = map(int, pair_range.removeprefix("bytes=").split("-"))
    assert (operation, roi_key, end - start + 1) == ("GetObject", f"raw/legacy/{GENERATED_I}.roi", 2 * 40 * 30)


@pytest.mark.parametrize("face", CLIENTS)
async def test_one_read_image_transfers_a_small_fraction_of_the_roi(face, endpoint, bucket, references):
    """Bytes the S3 server sent, counted on the wire by a proxy, for one ROI of a multi-MB bin."""
    roi_size = len(make_bin(BIG, BIG_ROIS, seed=7).roi)
    assert roi_size > 4_000_000
    with CountingProxy(endpoint) as proxy:
        options = s3_client_options(proxy.url)
        if face != "async":
            c = boto3.client("s3", **options)
            try:
                store = S3BinStore(bucket, c, "raw") if face == "sync" else AsyncS3BinStore(bucket, c, "raw")
                measured = await _measure(store, proxy)
            finally:
                c.close()
        else:
            async with aio_session().create_client("s3", **options) as c:
                measured = await _measure(AsyncS3BinStore(bucket, c, "raw"), proxy)
    cold, warm, whole = measured
    image_bytes = BIG_ROIS[299].width * BIG_ROIS[299].height
    assert image_bytes < cold < roi_size / 20  # header + ADC + one ROI: under 5% of the .roi
    assert image_bytes < warm < image_bytes + 4096  # then only the ROI (plus the ETag check)
    assert whole > roi_size  # read_images gets the whole object, once


async def _measure(store: Any, proxy: CountingProxy) -> tuple[int, int, int]:
    clear_caches()
    proxy.reset()
    image = await resolve(store.read_image(f"{BIG}_00300"))
    cold = proxy.downstream
    assert image.size == (BIG_ROIS[299].width, BIG_ROIS[299].height)
    proxy.reset()
    await resolve(store.read_image(f"{BIG}_00301"))
    warm = proxy.downstream
    proxy.reset()
    images = await resolve(store.read_images(BIG))
    assert images[300].tobytes() == image.tobytes()
    return cold, warm, proxy.downstream


async def test_a_replaced_adc_is_never_read_from_a_stale_index(client):
    name = f"ifcbkit-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    checking, trusting = S3BinStore(name, client), S3BinStore(name, client, check_versions=False)
    for store, rois in ((checking, [Roi(10, 10), Roi(20, 20)]), (checking, [Roi(), Roi(30, 5), Roi(7, 7)])):
        for ext, data in zip(("hdr", "adc", "roi"), make_bin(GENERATED_D, rois)):
            store.put(f"{GENERATED_D}.{ext}", data)
        if len(rois) == 2:
            assert checking.list_roi_ids(GENERATED_D) == [f"{GENERATED_D}_00001", f"{GENERATED_D}_00002"]
            assert trusting.list_roi_ids(GENERATED_D) == [f"{GENERATED_D}_00001", f"{GENERATED_D}_00002"]
    assert checking.list_roi_ids(GENERATED_D) == [f"{GENERATED_D}_00002", f"{GENERATED_D}_00003"]
    assert checking.read_image(f"{GENERATED_D}_00002").size == (30, 5)
    # check_versions=False trusts its cached index: raw files are meant to be written once
    assert trusting.list_roi_ids(GENERATED_D) == [f"{GENERATED_D}_00001", f"{GENERATED_D}_00002"]


async def test_file_size_and_existence_come_from_head_object(bucket, client, references):
    store = S3BinStore(bucket, client, "raw")
    calls = S3Calls(client)
    assert run_sync(store.source.size(BIG, "roi")) == len(make_bin(BIG, BIG_ROIS, seed=7).roi)
    assert store.exists(f"{BIG}.roi") is True and store.exists(f"{BIG}.hdr") is True
    assert store.exists(f"{REAL_D}.roi".replace("IFCB013", "IFCB014")) is False
    assert {c[0] for c in calls.calls} == {"HeadObject"}


# ----- errors ---------------------------------------------------------------------------------


def _no_secrets(error: BaseException, records: list[logging.LogRecord]) -> None:
    text = "".join(traceback.format_exception(error)) + "\n".join(r.getMessage() for r in records)
    assert ACCESS_KEY not in text and SECRET_KEY not in text


@pytest.mark.parametrize("face", CLIENTS)
async def test_missing_objects_are_not_found(face, bucket, client, aioclient, caplog):
    caplog.set_level(logging.DEBUG, logger="ifcbkit")
    store = store_for(face, bucket, client, aioclient, "raw")
    missing = "D20130526T095207_IFCB014"
    for call in (lambda: store.read_image(f"{missing}_00001"), lambda: store.get(f"{missing}.roi"),
                 lambda: store.read_header(missing), lambda: store.get_range(f"{missing}.roi", 0, 10)):  # fmt: skip
        with pytest.raises(NotFoundError) as caught:
            await resolve(call())
        assert f"s3://{bucket}/raw/2013/{missing}." in str(caught.value)
        _no_secrets(caught.value, caplog.records)
    assert await resolve(store.image_exists(f"{missing}_00001")) is False
    assert await resolve(store.exists(f"{missing}.hdr")) is False


@pytest.mark.parametrize("face", CLIENTS)
async def test_truncated_objects_are_truncated_bins(face, bucket, client, aioclient):
    store = store_for(face, bucket, client, aioclient, "raw")
    for target in (6, 7):  # 6 runs past the end (a short 206); 7 starts past it (S3 answers 416)
        with pytest.raises(TruncatedBinError) as caught:
            await resolve(store.read_image(f"{TRUNCATED}_{target:05d}"))
        assert caught.value.target == target and f"s3://{bucket}/raw/2024/{TRUNCATED}.roi" in str(caught.value)


async def test_backend_failures_are_store_errors_without_credentials(endpoint, client, caplog):
    caplog.set_level(logging.DEBUG, logger="ifcbkit")
    no_bucket = S3BinStore("ifcbkit-no-such-bucket", client)
    with pytest.raises(StoreError) as caught:
        no_bucket.get(f"{REAL_I}.hdr")
    assert "s3://ifcbkit-no-such-bucket/legacy/IFCB5_2012_028_081515.hdr" in str(caught.value)
    assert "NoSuchBucket" in str(caught.value) and isinstance(caught.value.__cause__, ClientError)
    _no_secrets(caught.value, caplog.records)
    dead = f"http://127.0.0.1:{free_port()}"
    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=2)
    unreachable = boto3.client("s3", **s3_client_options(dead), config=config)
    try:
        for call in (lambda: S3BinStore("bkt", unreachable).read_image(f"{REAL_I}_00001"),
                     lambda: S3RoiStore("bkt", unreachable).put(f"{REAL_I}_00001", b"png")):  # fmt: skip
            with pytest.raises(StoreError) as caught:
                call()
            assert "s3://bkt/legacy/IFCB5_2012_028_081515" in str(caught.value)
            assert "EndpointConnectionError" in str(caught.value)
            _no_secrets(caught.value, caplog.records)
    finally:
        unreachable.close()
    async with aio_session().create_client("s3", **s3_client_options(dead), config=config) as unreachable:
        with pytest.raises(StoreError) as caught:
            await AsyncS3BinStore("bkt", unreachable).read_header(REAL_I)
        _no_secrets(caught.value, caplog.records)


def test_bad_arguments(client):
    with pytest.raises(ValueError):
        S3BinStore("", client)
    assert S3BinStore("bkt").client.__class__.__name__ == "S3"  # no client: a default boto3 one, as in 0.3.1
    with pytest.raises(ValueError):
        S3RoiStore("bkt", client, file_type="tiff")  # type: ignore[arg-type]


# ----- ROI images in S3 -----------------------------------------------------------------------


@pytest.mark.parametrize("face", CLIENTS)
async def test_roi_store_round_trip(face, real_data, bucket, client, aioclient):
    rendered = SyncFilesystemRoiStore(real_data)
    store = {"sync": S3RoiStore(bucket, client, "rois"), "async": AsyncS3RoiStore(bucket, aioclient, "rois"),
             "async-boto3": AsyncS3RoiStore(s3_bucket=bucket, s3_client=client, s3_prefix="rois")}[face]  # fmt: skip
    ids = [f"{REAL_I}_00003", f"{REAL_D}_00007"]
    for roi_id in ids:
        await resolve(store.put(roi_id, rendered.get(roi_id)))
    assert client.head_object(Bucket=bucket, Key=f"rois/legacy/{REAL_I}/00003.png")["ContentType"] == "image/png"
    assert client.head_object(Bucket=bucket, Key=f"rois/2013/{REAL_D}/00007.png")["ContentLength"] > 0
    for roi_id in ids:
        assert await resolve(store.get(roi_id)) == rendered.get(roi_id)
        assert await resolve(store.exists(roi_id)) is True
    assert await resolve(store.exists(f"{REAL_I}_00004")) is False
    assert await outcome(lambda: store.get(f"{REAL_I}_00004")) == ("error", "NotFoundError")
    assert await outcome(lambda: store.get("IFCB5_2012_028_081515/../x")) == ("error", "InvalidIdentifierError")
    await resolve(store.delete(ids[1]))
    assert await resolve(store.exists(ids[1])) is False


# ----- an amplify-style bucket store (only the protocol's methods) as the backend --------------


class BotoBucket:
    """The shape of amplify's ``BucketStore``: missing keys raise botocore's ClientError."""

    def __init__(self, client: Any, bucket: str):
        self.client, self.bucket = client, bucket

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def keys(self, prefix: str = ""):
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]


class AioBucket:
    """The shape of amplify's ``AsyncBucketStore``: coroutines, and ``keys`` an async generator."""

    def __init__(self, client: Any, bucket: str):
        self.client, self.bucket = client, bucket

    async def get(self, key: str) -> bytes:
        response = await self.client.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as body:
            return await body.read()

    async def put(self, key: str, data: bytes) -> None:
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    async def exists(self, key: str) -> bool:
        return "Contents" in await self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=key)

    async def keys(self, prefix: str = ""):
        async for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]


@pytest.mark.parametrize("face", CLIENTS)
@pytest.mark.parametrize("pid", [REAL_I, GENERATED_I, TRUNCATED])
async def test_amplify_style_bucket_stores_as_backends(face, pid, bucket, client, aioclient, references):
    if face == "sync":
        store: Any = ObjectBinStore(BotoBucket(client, bucket), "raw")
    else:
        store = AsyncObjectBinStore(AioBucket(aioclient, bucket), "raw")
    assert await snapshot(store, pid) == await snapshot(references[pid], pid)
    assert pid in await resolve(store.list_bins())
    assert await outcome(lambda: store.read_header("IFCB5_2012_028_081516")) == ("error", "NotFoundError")
