"""Filesystem stores: raw bin files by key ``'{pid}.{ext}'`` and encoded ROI images by ROI id, sync and async."""

from __future__ import annotations

import builtins
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from helpers import call
from ifcbkit import InvalidIdentifierError, NotFoundError, ReadOnlyError, SyncIfcbDataDirectory, bin_images
from ifcbkit.stores import (
    AsyncBinStore,
    AsyncFilesystemBinStore,
    AsyncFilesystemRoiStore,
    AsyncRoiStore,
    SyncBinStore,
    SyncFilesystemBinStore,
    SyncFilesystemRoiStore,
    SyncRoiStore,
    encode_image,
)
from ifcbkit.testing import Roi, write_bin

BIN_STORES = {"sync": SyncFilesystemBinStore, "async": AsyncFilesystemBinStore}
ROI_STORES = {"sync": SyncFilesystemRoiStore, "async": AsyncFilesystemRoiStore}

D1 = "D20240215T150055_IFCB010"
I1 = "IFCB5_2014_100_120000"  # stitched pairs (2, 3) and (7, 8) in the sample tree
PARTIAL = "D20240301T000000_IFCB3"


def pixels(image: Image.Image) -> tuple:
    return image.mode, image.size, image.tobytes()


def sample_file(sample_root: Path, pid: str, ext: str) -> Path:
    return Path(SyncIfcbDataDirectory(sample_root).paths(pid)[ext])


@pytest.fixture(scope="module")
def partial_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("partial")
    write_bin(root / "data", PARTIAL, [Roi(4, 4)]).roi.unlink()
    write_bin(root / "data", "D20240301T010000_IFCB3", [Roi(3, 3, pixels=b"abcdefghi")])
    return root


# ----- bin stores -----------------------------------------------------------------------------


def test_filesystem_stores_are_stores(sample_root):
    assert isinstance(SyncFilesystemBinStore(sample_root), SyncBinStore)
    assert isinstance(AsyncFilesystemBinStore(sample_root), AsyncBinStore)
    assert isinstance(SyncFilesystemRoiStore(sample_root), SyncRoiStore)
    assert isinstance(AsyncFilesystemRoiStore(sample_root), AsyncRoiStore)


@pytest.mark.parametrize("ext", ["hdr", "adc", "roi"])
async def test_get_returns_the_file(sample_root, face, ext):
    store = BIN_STORES[face](sample_root)
    key = f"{D1}.{ext}"
    expected = sample_file(sample_root, D1, ext).read_bytes()
    assert len(expected) > 100
    assert await call(store, "get", key) == expected
    assert await call(store, "exists", key) is True
    assert await call(store, "get_path", key) == str(sample_file(sample_root, D1, ext))


async def test_get_range_has_slice_semantics(sample_root, face):
    store = BIN_STORES[face](sample_root)
    key = f"{D1}.roi"
    data = sample_file(sample_root, D1, "roi").read_bytes()
    n = len(data)
    for start, end in [
        (0, 0),
        (0, 1),
        (0, 10),
        (7, 8),
        (100, 250),
        (n - 5, n),
        (n - 5, n + 100),
        (n, n + 10),
        (n + 5, n + 6),
        (0, n),
    ]:
        got = await call(store, "get_range", key, start, end)
        assert got == data[start:end], (start, end)
    for start, end in [(-1, 5), (10, 5)]:
        with pytest.raises(ValueError, match="range"):
            await call(store, "get_range", key, start, end)


async def test_missing_keys(sample_root, partial_root, face):
    store = BIN_STORES[face](sample_root)
    unknown = "D20240215T150056_IFCB010.adc"
    assert await call(store, "exists", unknown) is False
    for method, args in [("get", (unknown,)), ("get_range", (unknown, 0, 10))]:
        with pytest.raises(KeyError, match="D20240215T150056_IFCB010") as info:
            await call(store, method, *args)
        assert isinstance(info.value, NotFoundError)
    assert await call(store, "get_path", unknown) is None  # as in 0.3.1
    # a bin without .roi, in a store that lists it
    loose = BIN_STORES[face](partial_root, require_roi=False)
    assert await call(loose, "exists", f"{PARTIAL}.hdr") is True
    assert await call(loose, "exists", f"{PARTIAL}.roi") is False
    with pytest.raises(NotFoundError, match=r"\.roi"):
        await call(loose, "get", f"{PARTIAL}.roi")
    assert await call(loose, "get_path", f"{PARTIAL}.roi") is None
    # by default a store finds each file that is there, as in 0.3.1; one that requires the .roi does not
    assert await call(BIN_STORES[face](partial_root), "exists", f"{PARTIAL}.hdr") is True
    strict_store = BIN_STORES[face](partial_root, require_adc=True, require_roi=True)
    assert await call(strict_store, "exists", f"{PARTIAL}.hdr") is False


async def test_bin_stores_are_read_only(sample_root, face):
    store = BIN_STORES[face](sample_root)
    before = sample_file(sample_root, D1, "adc").read_bytes()
    with pytest.raises(ReadOnlyError, match="read-only"):
        await call(store, "put", f"{D1}.adc", b"overwritten")
    with pytest.raises(PermissionError):  # ReadOnlyError is a PermissionError
        await call(store, "put", f"{D1}.hdr", b"")
    assert sample_file(sample_root, D1, "adc").read_bytes() == before


BAD_KEYS = [
    "../../etc/passwd",
    f"{D1}.txt",
    D1,
    f"{D1}.adc.mod",
    f"{D1}/../x.adc",
    f"../{D1}.adc",
    f"{D1}.ROI",
    f"{D1}\x00.adc",
    "x" * 200 + ".adc",
    ".adc",
]


@pytest.fixture
def disk_calls(monkeypatch) -> list:
    """Record every directory listing, stat and open from now on."""
    touched: list = []
    for name in ("scandir", "stat", "lstat", "open"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda *a, _real=real, _name=name, **k: touched.append((_name, a)) or _real(*a, **k)
        )
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: touched.append(("open", a)) or real_open(*a, **k))
    return touched


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_invalid_keys_never_reach_the_disk(sample_root, face, key, disk_calls):
    store = BIN_STORES[face](sample_root)
    for method, args in [("get", (key,)), ("get_range", (key, 0, 10))]:
        with pytest.raises(InvalidIdentifierError):  # a KeyError too: not found, as in 0.3.1
            await call(store, method, *args)
    assert await call(store, "exists", key) is False
    assert await call(store, "get_path", key) is None
    assert disk_calls == []


async def test_bin_stores_read_like_the_directory(sample_root, face):
    store = BIN_STORES[face](sample_root)
    d = SyncIfcbDataDirectory(sample_root)
    for pid in (D1, I1):
        assert await call(store, "list_roi_ids", pid) == d.list_roi_ids(pid)
        assert await call(store, "read_header", pid) == d.read_header(pid)
        full = await call(store, "read_images", pid)
        assert {t: pixels(i) for t, i in full.items()} == {t: pixels(i) for t, i in d.read_images(pid).items()}
        streamed = await call(store, "iter_images", pid)
        assert [(r, pixels(i)) for r, i in streamed] == [(r, pixels(d.read_image(r))) for r in d.list_roi_ids(pid)]
        for roi_id in d.list_roi_ids(pid, stitch=False):
            assert pixels(await call(store, "read_image", roi_id, stitch=False)) == pixels(
                d.read_image(roi_id, stitch=False)
            )
    assert [f["pid"] for f in await call(store, "list")] == [f["pid"] for f in d.list()]
    with pytest.raises(NotFoundError, match="second half"):
        await call(store, "read_image", f"{I1}_00003")


# ----- stores written by users: only get / exists (and get_range) --------------------------------


class _Memory:
    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.calls: list[tuple] = []

    def _get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        try:
            return self.files[key]
        except KeyError:
            raise NotFoundError(key) from None


class SyncMemoryStore(_Memory, SyncBinStore):
    def get(self, key):
        return self._get(key)

    def exists(self, key):
        return key in self.files


class AsyncMemoryStore(_Memory, AsyncBinStore):
    async def get(self, key):
        return self._get(key)

    async def get_range(self, key, start, end):
        self.calls.append(("get_range", key, start, end))
        if key not in self.files:
            raise NotFoundError(key)
        return self.files[key][start:end]

    async def exists(self, key):
        return key in self.files


def _memory_files(sample_root: Path, pid: str) -> dict[str, bytes]:
    return {f"{pid}.{ext}": sample_file(sample_root, pid, ext).read_bytes() for ext in ("hdr", "adc", "roi")}


async def test_a_user_store_gets_every_read_operation(sample_root):
    files = _memory_files(sample_root, I1)
    expected = bin_images(I1, files[f"{I1}.adc"], files[f"{I1}.roi"])
    for store in (SyncMemoryStore(files), AsyncMemoryStore(files)):
        assert await call(store, "list_roi_ids", I1) == expected.roi_ids()
        assert pixels(await call(store, "read_image", f"{I1}_00002")) == pixels(expected[2])
        assert await call(store, "image_exists", f"{I1}_00003") is False
        with pytest.raises(ReadOnlyError):
            await call(store, "put", f"{I1}.adc", b"")
        assert await call(store, "get_path", f"{I1}.adc") is None
        with pytest.raises(NotFoundError, match="D20240215T150055_IFCB010"):
            await call(store, "read_image", f"{D1}_00001")
    # with get_range, a single ROI is read by range, never the whole .roi
    store = AsyncMemoryStore(files)
    await store.read_image(f"{I1}_00009")
    assert ("get", f"{I1}.roi") not in store.calls
    assert [c for c in store.calls if c[0] == "get_range"] != []
    # without get_range the whole .roi is the fallback
    sync = SyncMemoryStore(files)
    sync.read_image(f"{I1}_00009")
    assert ("get", f"{I1}.roi") in sync.calls


def test_a_sync_store_refuses_async_backends(sample_root):
    class Confused(SyncBinStore):
        async def get(self, key):
            return b""

        async def exists(self, key):
            return True

    with pytest.raises(TypeError, match="async"):
        Confused().read_header(D1)


# ----- ROI stores -----------------------------------------------------------------------------


async def test_png_roi_store_returns_exact_pixels(sample_root, face):
    store = ROI_STORES[face](sample_root)
    assert store.file_type == "png"
    d = SyncIfcbDataDirectory(sample_root)
    for pid in (D1, I1):
        for roi_id in d.list_roi_ids(pid):
            data = await call(store, "get", roi_id)
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
            decoded = Image.open(io.BytesIO(data))
            assert decoded.format == "PNG"
            assert pixels(decoded.convert("L")) == pixels(d.read_image(roi_id))
            assert await call(store, "exists", roi_id) is True


async def test_jpeg_roi_store_returns_images_of_the_right_size(sample_root, face):
    store = ROI_STORES[face](sample_root, "jpg")
    d = SyncIfcbDataDirectory(sample_root)
    for roi_id in d.list_roi_ids(I1):
        data = await call(store, "get", roi_id)
        decoded = Image.open(io.BytesIO(data))
        assert decoded.format == "JPEG" and decoded.mode == "L"
        assert decoded.size == d.read_image(roi_id).size


async def test_roi_store_stitching_and_missing_images(sample_root, face):
    stitched, raw = ROI_STORES[face](sample_root), ROI_STORES[face](sample_root, stitch=False)
    d = SyncIfcbDataDirectory(sample_root)
    assert await call(stitched, "exists", f"{I1}_00003") is False
    with pytest.raises(NotFoundError, match="second half"):
        await call(stitched, "get", f"{I1}_00003")
    assert await call(raw, "exists", f"{I1}_00003") is True
    decoded = Image.open(io.BytesIO(await call(raw, "get", f"{I1}_00003")))
    assert pixels(decoded) == pixels(d.read_image(f"{I1}_00003", stitch=False))
    for missing in (f"{I1}_00006", f"{D1}_00006", f"{D1}_00999", "D20240215T150056_IFCB010_00001"):
        assert await call(stitched, "exists", missing) is False
        with pytest.raises(KeyError):
            await call(stitched, "get", missing)
    with pytest.raises(ReadOnlyError):
        await call(stitched, "put", f"{D1}_00001", b"")


async def test_roi_store_options(partial_root, sample_root, face):
    with pytest.raises(ValueError, match="file_type"):
        ROI_STORES[face](sample_root, "gif")
    assert (
        repr(ROI_STORES[face](sample_root, "jpg"))
        == f"{ROI_STORES[face].__name__}({str(sample_root)!r}, file_type='jpg')"
    )
    store = ROI_STORES[face](partial_root)
    assert Image.open(io.BytesIO(await call(store, "get", "D20240301T010000_IFCB3_00001"))).tobytes() == b"abcdefghi"
    assert await call(store, "exists", f"{PARTIAL}_00001") is False  # no .roi: not a bin for this store
    notes = ROI_STORES[face](sample_root, include=["data", "notes"])
    assert await call(notes, "exists", "D20240215T170000_IFCB010_00001") is True
    assert await call(ROI_STORES[face](sample_root), "exists", "D20240215T170000_IFCB010_00001") is False


@pytest.mark.parametrize("bad", ["../../etc/passwd", f"{D1}", f"{D1}_1", f"{D1}_00001/../x", f"{D1}_00000", ""])
async def test_roi_stores_refuse_invalid_ids_before_the_disk(sample_root, face, bad, disk_calls):
    store = ROI_STORES[face](sample_root)
    for method in ("get", "exists"):
        with pytest.raises(InvalidIdentifierError):
            await call(store, method, bad)
    assert disk_calls == []


async def test_sync_and_async_roi_stores_agree(sample_root):
    d = SyncIfcbDataDirectory(sample_root)
    roi_ids = [r for pid in (D1, I1) for r in d.list_roi_ids(pid, stitch=False)] + [f"{D1}_00006", f"{D1}_00999"]
    assert len(roi_ids) > 30
    for file_type in ("png", "jpg"):
        for stitch in (True, False):
            sync = SyncFilesystemRoiStore(sample_root, file_type, stitch=stitch)
            asynchronous = AsyncFilesystemRoiStore(sample_root, file_type, stitch=stitch)
            for roi_id in roi_ids:
                exists = sync.exists(roi_id)
                assert await asynchronous.exists(roi_id) is exists
                if exists:
                    assert await asynchronous.get(roi_id) == sync.get(roi_id)


def test_encode_image():
    image = Image.frombytes("L", (3, 2), bytes(range(6)))
    assert Image.open(io.BytesIO(encode_image(image))).tobytes() == bytes(range(6))
    assert encode_image(image, "jpg")[:2] == b"\xff\xd8"
    with pytest.raises(ValueError, match="file_type"):
        encode_image(image, "bmp")
