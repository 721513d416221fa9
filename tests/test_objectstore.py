"""Bin and ROI stores over objects that only have the amplify-shaped methods (no ifcbkit base
class): sync and async backends, ``keys`` as a generator, an async generator or a coroutine
returning a list, missing keys as ``KeyError`` or botocore ``ClientError``; every read gives
what the filesystem store gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ifcbkit.errors import InvalidIdentifierError, NotFoundError, StoreError
from ifcbkit.stores import SyncFilesystemBinStore
from ifcbkit.stores.objectstore import (
    AsyncObjectBinStore,
    AsyncObjectRoiStore,
    KeyLayout,
    MemoryStore,
    ObjectBinStore,
    ObjectRoiStore,
)
from servers import (
    ALL_BINS,
    EMPTY,
    GENERATED_D,
    GENERATED_I,
    PARTIAL,
    REAL_D,
    REAL_I,
    TRUNCATED,
    bin_files,
    outcome,
    reference_stores,
    resolve,
    snapshot,
    temporary_directory,
)


def client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)  # fmt: skip


# ----- amplify-shaped backends: only the protocol's methods -----------------------------------


class DictObjects:
    """Sync; a missing key raises KeyError; ``keys(prefix)`` is a generator; no ``get_range``."""

    def __init__(self, data: dict[str, bytes] | None = None):
        self.data = dict(data or {})
        self.calls: list[tuple[Any, ...]] = []

    def get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        return self.data[key]

    def put(self, key: str, data: bytes) -> None:
        self.calls.append(("put", key))
        self.data[key] = bytes(data)

    def exists(self, key: str) -> bool:
        self.calls.append(("exists", key))
        return key in self.data

    def delete(self, key: str) -> None:
        self.calls.append(("delete", key))
        del self.data[key]

    def keys(self, prefix: str = ""):
        return (k for k in sorted(self.data) if k.startswith(prefix))


class RangedDictObjects(DictObjects):
    """Sync, with ``get_range(key, start, end)`` (slice semantics)."""

    def get_range(self, key: str, start: int, end: int) -> bytes:
        self.calls.append(("get_range", key, start, end))
        return self.data[key][start:end]


class PrefixlessDictObjects(DictObjects):
    """``keys()`` takes no prefix and returns a list."""

    def keys(self):  # type: ignore[override]
        return list(self.data)[::-1]


class AsyncGenObjects:
    """Async; a missing key raises botocore's ClientError (NoSuchKey); ``keys`` is an async generator."""

    def __init__(self, data: dict[str, bytes] | None = None):
        self.data = dict(data or {})
        self.calls: list[tuple[Any, ...]] = []

    async def get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        if key not in self.data:
            raise client_error("NoSuchKey", 404)
        return self.data[key]

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        self.calls.append(("get_range", key, start, end))
        return (await self.get(key))[start:end]

    async def put(self, key: str, data: bytes) -> None:
        self.data[key] = bytes(data)

    async def exists(self, key: str) -> bool:
        return key in self.data

    async def delete(self, key: str) -> None:
        self.data.pop(key)

    async def keys(self, prefix: str = ""):
        for key in sorted(self.data):
            if key.startswith(prefix):
                yield key


class AsyncListObjects(AsyncGenObjects):
    """Async; a missing key raises KeyError; ``keys`` is a coroutine returning a list."""

    async def get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        return self.data[key]

    async def keys(self, prefix: str = ""):  # type: ignore[override]
        return [k for k in sorted(self.data) if k.startswith(prefix)]


SYNC_BACKENDS = [DictObjects, RangedDictObjects, PrefixlessDictObjects]
ASYNC_BACKENDS = [AsyncGenObjects, AsyncListObjects]


def make_store(backend_class: type, data: dict[str, bytes], **options: Any) -> tuple[Any, Any]:
    backend = backend_class(data)
    store_class = AsyncObjectBinStore if backend_class in ASYNC_BACKENDS else ObjectBinStore
    return backend, store_class(backend, **options)


# ----- the bins: shared real ones and generated ones, with their filesystem reference --------


@pytest.fixture(scope="module")
def references(real_data: Path) -> Iterator[dict[str, SyncFilesystemBinStore]]:
    with temporary_directory() as generated:
        yield reference_stores(real_data, generated)


@pytest.fixture(scope="module")
def contents(references: dict[str, SyncFilesystemBinStore]) -> dict[str, bytes]:
    """Every bin file under its year-layout key, with prefix ``raw``."""
    layout = KeyLayout("raw")
    return {
        layout.bin_file(pid, ext): data for pid, files in bin_files(references).items() for ext, data in files.items()
    }


@pytest.mark.parametrize("backend_class", SYNC_BACKENDS + ASYNC_BACKENDS)
@pytest.mark.parametrize("pid", ALL_BINS)
async def test_every_read_equals_the_filesystem_store(backend_class, pid, contents, references):
    _, store = make_store(backend_class, contents, prefix="raw")
    expected = await snapshot(references[pid], pid)
    assert await snapshot(store, pid) == expected
    if pid == GENERATED_I:  # the stitched pairs are really there
        assert expected["ids"] == [f"{pid}_{t:05d}" for t in (1, 2, 4, 5)]
        assert expected["image_exists"][f"{pid}_00003"] is False
    if pid == TRUNCATED:
        assert expected["read_image"][f"{pid}_00007"] == ("error", "TruncatedBinError")
    if pid == PARTIAL:
        assert expected["read_images"] == ("error", "NotFoundError")


def test_a_flat_layout_reads_the_same(contents, references):
    flat = {key.split("/")[-1]: data for key, data in contents.items()}
    backend, store = make_store(RangedDictObjects, flat, layout="flat")
    assert set(backend.data) >= {f"{GENERATED_I}.roi", f"{REAL_D}.adc"}
    image = store.read_image(f"{GENERATED_I}_00002")
    assert image.tobytes() == references[GENERATED_I].read_image(f"{GENERATED_I}_00002").tobytes()


# ----- what is fetched ------------------------------------------------------------------------


async def test_read_image_reads_the_adc_once_and_one_range_of_the_roi(contents, references):
    backend = RangedDictObjects(contents)
    store = ObjectBinStore(backend, prefix="raw")
    fs = references[GENERATED_D]
    records = {int(r[-5:]): r for r in fs.list_roi_ids(GENERATED_D)}
    store.read_image(records[3])
    key = f"raw/2024/{GENERATED_D}"
    first = backend.calls
    assert [c[:2] for c in first] == [("get", f"{key}.hdr"), ("get", f"{key}.adc"), ("get_range", f"{key}.roi")]
    start, end = first[-1][2:]
    assert end - start == 25 * 60
    backend.calls = []
    store.read_image(records[6])  # the index is cached: only this ROI's bytes
    ((method, roi_key, start, end),) = backend.calls
    assert (method, roi_key, end - start) == ("get_range", f"{key}.roi", 64 * 48)
    backend.calls = []
    images = store.read_images(GENERATED_D)
    assert len(images) == 5 and backend.calls == [("get", f"{key}.roi")]


def test_a_stitched_pair_is_one_range(contents):
    backend = RangedDictObjects(contents)
    store = ObjectBinStore(backend, prefix="raw")
    store.read_header(GENERATED_I)
    backend.calls = []
    image = store.read_image(f"{GENERATED_I}_00002")
    assert image.size == (60, 40)  # the composite of both halves
    ((method, key, start, end),) = backend.calls
    assert (method, key, end - start) == ("get_range", f"raw/legacy/{GENERATED_I}.roi", 2 * 40 * 30)


def test_without_get_range_the_roi_is_read_whole_once(contents, references):
    backend = DictObjects(contents)
    store = ObjectBinStore(backend, prefix="raw")
    rois = store.read_images(GENERATED_I, [f"{GENERATED_I}_00002", 5])
    assert [c for c in backend.calls if c[1].endswith(".roi")] == [("get", f"raw/legacy/{GENERATED_I}.roi")]
    expected = references[GENERATED_I].read_images(GENERATED_I, [2, 5])
    assert {t: i.tobytes() for t, i in rois.items()} == {t: i.tobytes() for t, i in expected.items()}


# ----- listing --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_class", SYNC_BACKENDS + ASYNC_BACKENDS)
async def test_listing_bins_by_year_and_instrument(backend_class, contents):
    junk = {f"raw/2024/{GENERATED_D}/00001.png": b"png", "raw/2024/notes.txt": b"",
            f"other/2024/{GENERATED_D}.hdr": b"", f"raw/2013/{GENERATED_D}.hdr": b"",
            "raw/legacy/IFCB5_2014_100_999999.hdr": b"", "raw/legacy/IFCB5_2014_100_999999.adc": b""}  # fmt: skip
    _, store = make_store(backend_class, {**contents, **junk}, prefix="raw")
    # in sample-time order across naming styles, whatever order the backend lists its keys in
    complete = [REAL_I, REAL_D, GENERATED_I, EMPTY[0], EMPTY[1], GENERATED_D, TRUNCATED]

    async def bins(**filters: Any) -> list[str]:
        return await resolve(store.list_bins(**filters))

    assert await bins() == complete
    assert await bins(year=2024) == [GENERATED_D, TRUNCATED]
    assert await bins(year="2014") == [GENERATED_I]  # I-style bins of 2014, under legacy/
    assert await bins(year="legacy") == [REAL_I, GENERATED_I, EMPTY[1]]
    assert await bins(instrument=5) == [REAL_I, GENERATED_I, EMPTY[1]]
    assert await bins(instrument=["IFCB13", "12"]) == [REAL_D, EMPTY[0]]
    assert await bins(year=2015, instrument=12) == [EMPTY[0]]
    assert await bins(year=2015, instrument=13) == []
    with pytest.raises(ValueError):
        await resolve(store.list_bins(year="20x4"))


# ----- errors ---------------------------------------------------------------------------------


class RaisingObjects(DictObjects):
    def __init__(self, error: Exception):
        super().__init__()
        self.error = error

    def get(self, key: str) -> bytes:
        raise self.error

    def get_range(self, key: str, start: int, end: int) -> bytes:
        raise self.error

    def exists(self, key: str) -> bool:
        raise self.error


class Response404:
    status_code = 404


class HttpStatusError(Exception):
    response = Response404()


@pytest.mark.parametrize(
    "error",
    [
        KeyError("k"),
        FileNotFoundError("f"),
        client_error("NoSuchKey", 404),
        client_error("404", 404, "HeadObject"),
        client_error("NotFound", 404),
        HttpStatusError("404 Not Found"),
    ],
    ids=repr,
)
def test_every_missing_key_variant_is_not_found(error):
    store = ObjectBinStore(RaisingObjects(error))
    calls = [lambda: store.get(f"{GENERATED_D}.roi"), lambda: store.read_header(GENERATED_D),
             lambda: store.read_image(f"{GENERATED_D}_00001"),
             lambda: store.get_range(f"{GENERATED_D}.adc", 0, 9)]  # fmt: skip
    for call in calls:
        with pytest.raises(NotFoundError) as caught:
            call()
        assert f"2024/{GENERATED_D}." in str(caught.value) and "RaisingObjects" in str(caught.value)
    assert store.image_exists(f"{GENERATED_D}_00001") is False
    assert store.images_exist(GENERATED_D, [f"{GENERATED_D}_00001"]) == {f"{GENERATED_D}_00001": False}


@pytest.mark.parametrize("backend_class", ASYNC_BACKENDS)
async def test_missing_bins_on_async_backends(backend_class):
    _, store = make_store(backend_class, {})
    assert await outcome(lambda: store.read_image(f"{REAL_I}_00003")) == ("error", "NotFoundError")
    assert await outcome(lambda: store.get(f"{REAL_I}.hdr")) == ("error", "NotFoundError")
    assert await store.exists(f"{REAL_I}.hdr") is False
    assert await resolve(store.list_bins()) == []


SECRET = "hunter2-secret-value"


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError(f"cannot reach https://user:{SECRET}@objects.example"),
        client_error("AccessDenied", 403),
        RuntimeError(f"Authorization: Bearer {SECRET}"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_backend_failures_are_store_errors_without_secrets(error):
    store = ObjectBinStore(RaisingObjects(error), prefix="raw")
    with pytest.raises(StoreError) as caught:
        store.read_image(f"{GENERATED_D}_00001")
    message = str(caught.value)
    assert f"raw/2024/{GENERATED_D}.hdr" in message and "RaisingObjects" in message
    assert type(error).__name__ in message and SECRET not in message
    assert caught.value.__cause__ is error
    if isinstance(error, ClientError):
        assert "AccessDenied" in message and "403" in message
    with pytest.raises(StoreError):
        store.exists(f"{GENERATED_D}.roi")


def test_invalid_ids_never_reach_the_backend():
    backend = RangedDictObjects()
    store = ObjectBinStore(backend)
    rois = ObjectRoiStore(backend)
    bad = [lambda: store.read_image("../../etc/passwd"), lambda: store.read_header("D20240215T150055_IFCB010/../x"),
           lambda: store.get("../x.roi"), lambda: store.get(f"{GENERATED_D}.exe"), lambda: store.put("a\x00b.hdr", b""),
           lambda: store.get_range(f"{GENERATED_D}/../x.roi", 0, 1), lambda: store.read_images("D2024" * 20),
           lambda: rois.get("x"), lambda: rois.put(f"{GENERATED_D}", b""), lambda: store.list_roi_ids("")]  # fmt: skip
    for call in bad:
        with pytest.raises(InvalidIdentifierError):
            call()
    assert backend.calls == []


def test_an_async_backend_on_the_sync_face_is_a_clear_error():
    store = ObjectBinStore(AsyncListObjects({}))
    with pytest.raises(TypeError, match="async"):
        store.read_header(GENERATED_D)


# ----- writing, ROI stores, layout, the memory store -------------------------------------------


@pytest.mark.parametrize("backend_class", [DictObjects, AsyncGenObjects])
async def test_put_get_delete_bin_files(backend_class):
    backend, store = make_store(backend_class, {}, prefix="/archive/ifcb/")
    await resolve(store.put(f"{REAL_I}.hdr", b"header"))
    assert backend.data == {f"archive/ifcb/legacy/{REAL_I}.hdr": b"header"}
    assert await resolve(store.get(f"{REAL_I}.hdr")) == b"header"
    assert await resolve(store.exists(f"{REAL_I}.hdr")) is True
    await resolve(store.delete(f"{REAL_I}.hdr"))
    assert backend.data == {}
    assert await outcome(lambda: store.get(f"{REAL_I}.hdr")) == ("error", "NotFoundError")


@pytest.mark.parametrize("store_class", [ObjectRoiStore, AsyncObjectRoiStore])
async def test_roi_store_keys_and_round_trip(store_class):
    backend = AsyncGenObjects() if store_class is AsyncObjectRoiStore else DictObjects()
    store = store_class(backend, "rois")
    await resolve(store.put(f"{GENERATED_D}_00003", b"\x89PNG d"))
    await resolve(store.put(f"{REAL_I}_00012", b"\x89PNG i"))
    assert backend.data == {
        f"rois/2024/{GENERATED_D}/00003.png": b"\x89PNG d",
        f"rois/legacy/{REAL_I}/00012.png": b"\x89PNG i",
    }
    assert await resolve(store.get(f"{REAL_I}_00012")) == b"\x89PNG i"
    assert await resolve(store.exists(f"{REAL_I}_00012")) is True
    assert await resolve(store.exists(f"{REAL_I}_00013")) is False
    assert await outcome(lambda: store.get(f"{REAL_I}_00013")) == ("error", "NotFoundError")
    await resolve(store.delete(f"{REAL_I}_00012"))
    assert await resolve(store.exists(f"{REAL_I}_00012")) is False
    jpegs = store_class(backend, file_type="jpg")
    await resolve(jpegs.put(f"{GENERATED_D}_00001", b"jpeg"))
    assert f"2024/{GENERATED_D}/00001.jpg" in backend.data
    with pytest.raises(ValueError):
        store_class(backend, file_type="gif")


def test_key_layout():
    layout = KeyLayout("/data/ifcb/")
    assert layout.bin_file(REAL_D, "roi") == f"data/ifcb/2013/{REAL_D}.roi"
    assert layout.bin_file(REAL_I, "adc") == f"data/ifcb/legacy/{REAL_I}.adc"
    assert layout.roi_image(f"{REAL_D}_00007") == f"data/ifcb/2013/{REAL_D}/00007.png"
    assert layout.listing_prefixes() == ["data/ifcb/"]
    assert layout.listing_prefixes(2013) == ["data/ifcb/2013/", "data/ifcb/legacy/"]
    assert layout.listing_prefixes("legacy") == ["data/ifcb/legacy/"]
    assert layout.parse_bin_file(f"data/ifcb/2013/{REAL_D}.hdr") == (REAL_D, "hdr")
    for key in (f"data/ifcb/2014/{REAL_D}.hdr", f"data/ifcb/legacy/{REAL_D}.hdr", f"data/ifcb/2013/{REAL_D}/00007.png",
                f"elsewhere/2013/{REAL_D}.hdr", "data/ifcb/2013/notes.txt", f"data/ifcb/{REAL_D}.hdr"):  # fmt: skip
        assert layout.parse_bin_file(key) is None, key
    flat = KeyLayout(layout="flat")
    assert flat.bin_file(REAL_I, "roi") == f"{REAL_I}.roi"
    assert flat.roi_image(f"{REAL_I}_00003", "jpg") == f"{REAL_I}/00003.jpg"
    assert flat.parse_bin_file(f"{REAL_I}.roi") == (REAL_I, "roi")
    for prefix in ("a//b", "../x", "a/./b"):
        with pytest.raises(ValueError):
            KeyLayout(prefix)
    with pytest.raises(ValueError):
        KeyLayout(layout="by-day")  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifierError):
        layout.bin_file("IFCB5_2012_400_000000", "hdr")  # day 400


def test_memory_store_is_a_bounded_lru():
    memory = MemoryStore(max_bytes=1000)
    for name in "abc":
        memory.put(name, name.encode() * 400)
    assert memory.exists("c") and memory.exists("b") and not memory.exists("a")
    with pytest.raises(KeyError):
        memory.get("a")
    memory.get("b")  # most recently used: survives the next put
    memory.put("d", b"d" * 400)
    assert memory.keys() == ["b", "d"] and memory.get_range("b", 1, 3) == b"bb"
    memory.delete("b")
    assert memory.keys("d") == ["d"]
    store = ObjectRoiStore(memory)
    store.put(f"{REAL_I}_00003", b"png")
    assert store.get(f"{REAL_I}_00003") == b"png"


def test_a_bad_year_is_named_when_listing_bins():
    """Regression (hostile input 25): ``list_bins(year="../")`` said "invalid literal for int()"."""
    from ifcbkit import MemoryStore, ObjectBinStore

    with pytest.raises(ValueError, match=r"year must be a 4-digit year or 'legacy', not '\.\./'"):
        list(ObjectBinStore(MemoryStore()).list_bins(year="../"))
