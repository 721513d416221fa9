"""Concurrent async reads share one load: the single-flight ``Shared`` request."""

from __future__ import annotations

import asyncio

import pytest

import ifcbkit
from ifcbkit import AsyncIfcbDataDirectory, NotFoundError
from ifcbkit.engine.fileio import ReadFile, ScanDirs
from ifcbkit.engine.requests import Shared, run_async, run_sync
from ifcbkit.testing import Roi, write_bin

PID = "D20240215T150055_IFCB010"


@pytest.fixture
def tree(tmp_path):
    rois = [Roi(8 + k % 5, 6 + k % 3, x=k, y=k) if k % 4 else Roi() for k in range(1, 60)]
    write_bin(tmp_path / "data" / "D2024" / "D20240215", PID, rois)
    return tmp_path


def count_calls(monkeypatch, cls):
    calls = []
    original = cls.run_sync

    def counted(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(cls, "run_sync", counted)
    return calls


async def test_concurrent_cold_reads_load_the_index_once(tree, monkeypatch):
    reads = count_calls(monkeypatch, ReadFile)
    scans = count_calls(monkeypatch, ScanDirs)
    directory = AsyncIfcbDataDirectory(tree)
    with ifcbkit.open_bin(tree / "data" / "D2024" / "D20240215" / PID) as b:
        expected = {t: b.images[t].tobytes() for t in b.images}
    targets = [t for t in expected for _ in range(5)]
    images = await asyncio.gather(*(directory.read_image(ifcbkit.add_target(PID, t)) for t in targets))
    assert [im.tobytes() for im in images] == [expected[t] for t in targets]
    assert sorted(r.path.rsplit(".", 1)[1] for r in reads) == ["adc", "hdr"]  # once each, for 200 reads
    # found by the directories its id implies: no directory is listed
    assert scans == []


async def test_a_shared_failure_reaches_every_waiter(tree):
    directory = AsyncIfcbDataDirectory(tree)
    missing = "D20240215T150056_IFCB010_00001"
    results = await asyncio.gather(*(directory.read_image(missing) for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, NotFoundError) and "D20240215T150056_IFCB010" in str(r) for r in results)


def test_shared_runs_its_operation_on_each_face():
    def op():
        return (yield Shared("k", lambda: make(21)))

    def make(x):
        return x * 2
        yield  # a generator

    assert run_sync(op()) == 42
    assert asyncio.run(run_async(op())) == 42


async def test_a_cancelled_reader_does_not_cancel_the_others(tree):
    """Regression (hostile input 6): cancelling the first of 11 concurrent cold readers of one bin
    cancelled all of them (they waited on its work); on the directory and on an object store alike."""
    from ifcbkit import AsyncObjectBinStore, MemoryStore

    with ifcbkit.open_bin(tree / "data" / "D2024" / "D20240215" / PID) as b:
        expected = {t: b.images[t].tobytes() for t in b.images}
        files = {
            ext: (tree / "data" / "D2024" / "D20240215" / f"{PID}.{ext}").read_bytes() for ext in ("hdr", "adc", "roi")
        }
    backend = MemoryStore()
    for ext, data in files.items():
        backend.put(f"2024/{PID}.{ext}", data)
    for reader in (AsyncIfcbDataDirectory(tree), AsyncObjectBinStore(backend)):
        targets = list(expected)[:11] * (11 // len(expected) + 1)
        tasks = [asyncio.ensure_future(reader.read_image(ifcbkit.add_target(PID, t))) for t in targets[:11]]
        await asyncio.sleep(0)  # all started; the first one runs the shared index load
        tasks[0].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[0], asyncio.CancelledError)
        assert [r.tobytes() for r in results[1:]] == [expected[t] for t in targets[1:11]]


async def test_stitching_runs_off_the_event_loop(tmp_path, monkeypatch):
    """Regression (hostile input 7): stitching and infill ran on the event loop (one 1100x700 pair
    blocked it 12-14 ms; 300 concurrent pair reads stalled it 3.8 s)."""
    import threading

    import ifcbkit.formats.images
    from ifcbkit import AsyncFilesystemBinStore
    from ifcbkit.testing import stitched_pair

    pid = "IFCB5_2014_100_120000"
    write_bin(tmp_path / "data" / "IFCB5_2014_100", pid, stitched_pair(1, (0, 0, 40, 30), (20, 10, 40, 30)))
    threads: list[int] = []
    real = ifcbkit.formats.images.stitch_pair

    def recording(*args):
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(ifcbkit.formats.images, "stitch_pair", recording)
    loop_thread = threading.get_ident()
    for reader in (AsyncIfcbDataDirectory(tmp_path), AsyncFilesystemBinStore(tmp_path)):
        assert (await reader.read_image(f"{pid}_00001")).size == (60, 40)
        assert list(await reader.read_images(pid, [1])) == [1]
        assert [roi_id async for roi_id, _ in reader.iter_images(pid)] == [f"{pid}_00001"]
    assert len(threads) == 6 and loop_thread not in threads


async def test_an_async_listing_of_a_huge_flat_folder_lets_the_loop_run(tmp_path, monkeypatch):
    """Regression (hostile input 26): an async ``list()`` of a flat folder of 30,000 bins stalled the loop
    for 84 ms: its names were matched on the loop, and every bin handed over in one step."""
    import threading

    from ifcbkit.faces.directory import FilesetFilter, SyncIfcbDataDirectory

    pids = [f"D202401{1 + k // 1000:02d}T{k % 1000 // 60:02d}{k % 60:02d}00_IFCB010" for k in range(10_000)]
    for pid in pids:
        for ext in ("hdr", "adc", "roi"):
            (tmp_path / f"{pid}.{ext}").touch()
    threads: list[int] = []
    real = FilesetFilter.select

    def recording(self, *args):
        threads.append(threading.get_ident())
        return real(self, *args)

    monkeypatch.setattr(FilesetFilter, "select", recording)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    listed, ticks_while_handed_over = [], 0
    try:
        async for fileset in AsyncIfcbDataDirectory(tmp_path).list():
            if not listed:
                ticks = 0
            listed.append(fileset["pid"])
        ticks_while_handed_over = ticks
    finally:
        task.cancel()
    assert listed == sorted(pids) == [f["pid"] for f in SyncIfcbDataDirectory(tmp_path).list()]
    assert threads and threading.get_ident() not in threads[:1]  # matched in a worker thread
    assert ticks_while_handed_over >= 10_000 // 500 - 1  # the loop ran between every 500 bins
