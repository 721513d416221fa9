"""The per-process ADC index cache: repeated reads are cheap, rewritten files are noticed, the cache is bounded."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from helpers import call
from ifcbkit import SyncIfcbDataDirectory
from ifcbkit.engine.cache import ADC_INDEX_CACHE, LRUCache, clear_caches
from ifcbkit.engine.fileio import ReadFile
from ifcbkit.testing import Roi, make_bin, write_bin

PID = "D20240601T120000_IFCB42"


@pytest.fixture
def whole_reads(monkeypatch) -> list[str]:
    """The paths of whole files read from now on."""
    paths: list[str] = []
    real = ReadFile.run_sync

    def run_sync(self):
        paths.append(os.fspath(self.path))
        return real(self)

    monkeypatch.setattr(ReadFile, "run_sync", run_sync)
    return paths


def _tree(root: Path, rois) -> Path:
    write_bin(root / "data" / "D2024" / "D20240601", PID, rois, seed=1)
    return root / "data" / "D2024" / "D20240601" / f"{PID}.adc"


def _rewrite(path: Path, content: bytes, *, bump_ns: int = 10**9) -> None:
    """New content in place, then a later st_mtime_ns (clock resolution is not relied on)."""
    before = path.stat().st_mtime_ns
    path.write_bytes(content)
    os.utime(path, ns=(before + bump_ns, before + bump_ns))


async def test_repeated_reads_do_not_reread_the_adc(tmp_path, reader, whole_reads):
    adc = _tree(tmp_path, [Roi(10, 8), Roi(6, 4), Roi(3, 3)])
    r = reader(tmp_path)
    for _ in range(3):
        for target in (1, 2, 3):
            await call(r, "read_image", f"{PID}_{target:05d}")
        await call(r, "list_roi_ids", PID)
        await call(r, "read_header", PID)
        await call(r, "image_exists", f"{PID}_00002")
    assert whole_reads.count(str(adc)) == 1
    assert whole_reads.count(str(adc.with_suffix(".hdr"))) == 1
    # another reader of the same tree shares the process-wide cache
    await call(reader(tmp_path), "read_image", f"{PID}_00001")
    assert whole_reads.count(str(adc)) == 1
    # until the cache is cleared
    clear_caches()
    await call(r, "read_image", f"{PID}_00001")
    assert whole_reads.count(str(adc)) == 2


async def test_a_rewritten_adc_is_noticed(tmp_path, reader, whole_reads):
    adc = _tree(tmp_path, [Roi(10, 8), Roi(6, 4)])
    r = reader(tmp_path)
    assert (await call(r, "read_image", f"{PID}_00001")).size == (10, 8)
    assert await call(r, "list_roi_ids", PID) == [f"{PID}_00001", f"{PID}_00002"]
    # a longer ADC: one more target
    _rewrite(adc, make_bin(PID, [Roi(10, 8), Roi(6, 4), Roi(2, 2)]).adc)
    assert await call(r, "list_roi_ids", PID) == [f"{PID}_00001", f"{PID}_00002", f"{PID}_00003"]
    assert whole_reads.count(str(adc)) == 2


async def test_a_same_size_rewrite_is_noticed(tmp_path, reader, whole_reads):
    adc = _tree(tmp_path, [Roi(10, 8), Roi(6, 4)])
    r = reader(tmp_path)
    assert (await call(r, "read_image", f"{PID}_00001")).size == (10, 8)
    swapped = make_bin(PID, [Roi(8, 10), Roi(6, 4)]).adc  # width and height swapped: same bytes count
    assert len(swapped) == adc.stat().st_size and swapped != adc.read_bytes()
    _rewrite(adc, swapped)
    assert (await call(r, "read_image", f"{PID}_00001")).size == (8, 10)
    assert whole_reads.count(str(adc)) == 2


async def test_a_replaced_file_with_the_same_size_and_time_is_noticed(tmp_path, reader, whole_reads):
    adc = _tree(tmp_path, [Roi(10, 8), Roi(6, 4)])
    r = reader(tmp_path)
    assert (await call(r, "read_image", f"{PID}_00001")).size == (10, 8)
    st = adc.stat()
    replacement = tmp_path / "new.adc"
    replacement.write_bytes(make_bin(PID, [Roi(8, 10), Roi(6, 4)]).adc)
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, adc)  # a new inode, same size and mtime
    assert adc.stat().st_size == st.st_size and adc.stat().st_mtime_ns == st.st_mtime_ns
    assert adc.stat().st_ino != st.st_ino
    assert (await call(r, "read_image", f"{PID}_00001")).size == (8, 10)


def test_cache_entries_are_bounded(tmp_path, monkeypatch, whole_reads):
    pids = [f"D20240601T12000{k}_IFCB42" for k in range(6)]
    for pid in pids:
        write_bin(tmp_path / "data", pid, [Roi(4, 4)] * 50)
    d = SyncIfcbDataDirectory(tmp_path)
    d.read_header(pids[0])
    entry = ADC_INDEX_CACHE.size  # what one index costs
    assert entry >= (tmp_path / "data" / f"{pids[0]}.adc").stat().st_size  # at least the ADC's bytes
    monkeypatch.setattr(ADC_INDEX_CACHE, "max_size", 2 * entry + entry // 2)  # room for two
    for pid in pids[1:]:
        d.read_header(pid)
    assert len(ADC_INDEX_CACHE) == 2
    assert ADC_INDEX_CACHE.size <= ADC_INDEX_CACHE.max_size
    assert len(whole_reads) == 2 * len(pids)  # hdr and adc of each
    d.read_header(pids[-1])  # the most recent is still cached
    assert len(whole_reads) == 2 * len(pids)
    d.read_header(pids[0])  # the oldest was evicted
    assert len(whole_reads) == 2 * len(pids) + 2


# ----- LRUCache -------------------------------------------------------------------------------


def test_lru_cache_evicts_least_recently_used_by_size():
    cache: LRUCache[str] = LRUCache(max_size=10)
    cache.put("a", "A", size=4)
    cache.put("b", "B", size=4)
    assert cache.get("a") == "A"  # a is now more recent than b
    cache.put("c", "C", size=4)  # 12 > 10: evict b
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == ("A", "C")
    assert len(cache) == 2 and cache.size == 8
    cache.put("d", "D", size=9)  # evicts both
    assert (len(cache), cache.size, cache.get("d")) == (1, 9, "D")


def test_lru_cache_replacing_and_oversized_entries():
    cache: LRUCache[str] = LRUCache(max_size=10)
    cache.put("a", "A", size=4)
    cache.put("a", "A2", size=6)
    assert (cache.get("a"), cache.size, len(cache)) == ("A2", 6, 1)
    cache.put("a", "huge", size=11)  # too big to keep: dropped, and the old value with it
    assert (cache.get("a"), cache.size, len(cache)) == (None, 0, 0)
    cache.put("b", "B")  # default size 1
    cache.discard("b")
    cache.discard("missing")
    assert (cache.size, len(cache)) == (0, 0)
    cache.put("x", "X", size=3)
    cache.clear()
    assert (cache.get("x"), cache.size, len(cache)) == (None, 0, 0)


def test_lru_cache_is_thread_safe():
    cache: LRUCache[int] = LRUCache(max_size=100)

    def work(offset: int) -> None:
        for k in range(2000):
            cache.put((offset, k % 50), k, size=1 + k % 3)
            cache.get((offset, (k * 7) % 50))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.size <= 100
    assert cache.size == sum(size for _, size in cache._entries.values())


# ----- cache keys that cannot collide ---------------------------------------------------------


def test_recycled_store_objects_never_see_another_stores_index():
    """Stores are made and dropped in a loop, each over its own backend with a different bin under
    the same id: a new object at a recycled address must never be served the old one's index."""
    import gc
    import weakref

    from ifcbkit import MemoryStore, ObjectBinStore

    for size in range(2, 40):
        data = make_bin(PID, [Roi(size, size + 1), Roi(3, 2)], seed=size)
        backend = MemoryStore()
        for ext, content in zip(("hdr", "adc", "roi"), data):
            backend.put(f"2024/{PID}.{ext}", content)
        store = ObjectBinStore(backend)
        image = store.read_image(f"{PID}_00001")
        assert image.size == (size, size + 1)
        assert image.tobytes() == data.roi[: size * (size + 1)]
        freed = weakref.ref(store)
        del store, backend, image
        if freed() is not None:  # held in a cycle: collected, so that its address can be reused
            gc.collect()


def _header(temperature: float) -> bytes:
    return f"softwareVersion: 1\ntemperature: {temperature}\nrunTime: 10\ninhibitTime: 1\n".encode()


async def test_a_rewritten_header_alone_is_noticed(tmp_path, reader):
    adc = _tree(tmp_path, [Roi(4, 4)])
    hdr = adc.with_suffix(".hdr")
    hdr.write_bytes(_header(11.5))
    first = reader(tmp_path)
    assert (await call(first, "read_header", PID))["temperature"] == 11.5
    _rewrite(hdr, _header(22.5))  # only the header changes; the ADC keeps its version
    assert (await call(first, "read_header", PID))["temperature"] == 22.5
    assert (await call(reader(tmp_path), "read_header", PID))["temperature"] == 22.5


def test_a_reuploaded_header_alone_is_noticed_on_s3(client):
    import uuid

    from ifcbkit import S3BinStore

    bucket = f"ifcbkit-hdr-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    store = S3BinStore(bucket, client, check_versions=True)
    for ext, content in zip(("hdr", "adc", "roi"), make_bin(PID, [Roi(4, 4)])):
        store.put(f"{PID}.{ext}", content)
    store.put(f"{PID}.hdr", _header(11.5))
    assert store.read_header(PID)["temperature"] == 11.5
    store.put(f"{PID}.hdr", _header(22.5))
    assert store.read_header(PID)["temperature"] == 22.5
    assert S3BinStore(bucket, client).read_header(PID)["temperature"] == 22.5


def test_data_directories_and_stores_pickle_for_process_pools(sample_root):
    """Regression (hostile input 21): data directories could not be pickled (a lock), so they could not
    go to a process pool."""
    import pickle

    from ifcbkit import AsyncIfcbDataDirectory, MemoryStore, ObjectBinStore, SyncFilesystemBinStore

    roi_id = "D20240215T150055_IFCB010_00003"
    d = SyncIfcbDataDirectory(sample_root)
    expected = d.read_image(roi_id).tobytes()  # bound methods and located paths are in its state now
    for obj in (
        d,
        AsyncIfcbDataDirectory(sample_root),
        SyncFilesystemBinStore(sample_root),
        ObjectBinStore(MemoryStore()),
    ):
        copy = pickle.loads(pickle.dumps(obj))
        assert type(copy) is type(obj)
    assert pickle.loads(pickle.dumps(d)).read_image(roi_id).tobytes() == expected


def test_the_index_cache_charges_what_an_index_holds():
    """Regression (hostile input 24): the ADC-index cache charged about 11x less than it held for
    short-line ADCs, so its bound did not bound memory."""
    import tracemalloc

    from ifcbkit.formats.index import AdcIndex

    for adc in (make_bin(PID, [Roi() for _ in range(5000)]).adc, b"1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n" * 5000):
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            index = AdcIndex(PID, adc)
            index.keys()  # every line split and parsed
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert held <= index.memory() <= 3 * held
