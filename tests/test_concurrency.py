"""Concurrent async reads share one load: the single-flight ``Shared`` request."""

from __future__ import annotations

import asyncio

import pytest

import ifcbkit
from ifcbkit import AsyncIfcbDataDirectory, NotFoundError
from ifcbkit.faces import Shared, run_async, run_sync
from ifcbkit.fileio import ReadFile, ScanDirs
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
