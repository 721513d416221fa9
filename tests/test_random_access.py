"""Random access: one ROI costs its own bytes of the ``.roi`` (both halves for a stitched pair), never the file.

Reads are counted by wrapping the file requests every backend operation goes
through (``ReadFile`` for whole files, ``ReadRanges`` for byte ranges).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import NamedTuple

import pytest

from helpers import call
from ifcbkit import (
    AdcIndex,
    AsyncFilesystemRoiStore,
    SyncFilesystemRoiStore,
    bin_images,
)
from ifcbkit.engine.fileio import ReadFile, ReadRanges
from ifcbkit.testing import Roi, stitched_pair, write_bin

D_BIG = "D20240601T120000_IFCB42"
I_BIG = "IFCB5_2014_150_101010"


class Big(NamedTuple):
    root: Path
    pid: str
    roi: Path
    adc: bytes
    size: int


@pytest.fixture(scope="module")
def big_d(tmp_path_factory) -> Big:
    """A ~6 MB D-style bin with 900 targets, one in ten without an image."""
    rng = random.Random(42)
    rois = []
    for k in range(900):
        rois.append(Roi() if k % 10 == 9 else Roi(rng.randrange(40, 161), rng.randrange(30, 121)))
    root = tmp_path_factory.mktemp("big_d")
    paths = write_bin(root / "data" / "D2024" / "D20240601", D_BIG, rois, seed=7)
    size = paths.roi.stat().st_size
    assert size > 5 * 2**20
    return Big(root, D_BIG, paths.roi, paths.adc.read_bytes(), size)


@pytest.fixture(scope="module")
def big_i(tmp_path_factory) -> Big:
    """A ~3 MB I-style bin: singles and stitched pairs."""
    rng = random.Random(5)
    rois: list[Roi] = []
    trigger = 0
    while len(rois) < 500:
        trigger += 1
        if trigger % 7 == 0:
            x, y = rng.randrange(0, 800), rng.randrange(0, 600)
            rois += stitched_pair(trigger, (x, y, 80, 60), (x + 40, y + 20, 90, 70))
        else:
            rois.append(
                Roi(
                    rng.randrange(40, 121),
                    rng.randrange(30, 91),
                    x=rng.randrange(900),
                    y=rng.randrange(700),
                    trigger=trigger,
                )
            )
    root = tmp_path_factory.mktemp("big_i")
    paths = write_bin(root / "data" / "IFCB5_2014_150", I_BIG, rois, seed=8)
    size = paths.roi.stat().st_size
    assert size > 2 * 2**20
    return Big(root, I_BIG, paths.roi, paths.adc.read_bytes(), size)


class Reads:
    """What the file requests read: ``whole[path]`` bytes of whole files, ``ranges[path]`` lists of (offset, bytes)."""

    def __init__(self):
        self.whole: dict[str, list[int]] = {}
        self.ranges: dict[str, list[tuple[int, int]]] = {}

    def clear(self) -> None:
        self.whole.clear()
        self.ranges.clear()

    def range_bytes(self, path: Path) -> int:
        return sum(n for _, n in self.ranges.get(str(path), []))


@pytest.fixture
def reads(monkeypatch) -> Reads:
    log = Reads()
    read_file, read_ranges = ReadFile.run_sync, ReadRanges.run_sync

    def whole(self):
        data = read_file(self)
        log.whole.setdefault(str(self.path), []).append(len(data))
        return data

    def ranges(self):
        chunks = read_ranges(self)
        log.ranges.setdefault(str(self.path), []).extend((o, len(c)) for (o, _), c in zip(self.ranges, chunks))
        return chunks

    monkeypatch.setattr(ReadFile, "run_sync", whole)
    monkeypatch.setattr(ReadRanges, "run_sync", ranges)
    return log


def pixels(image) -> tuple:
    return image.mode, image.size, image.tobytes()


async def test_one_roi_reads_only_its_bytes(big_d, reader, reads):
    index = AdcIndex(big_d.pid, big_d.adc)
    expected = bin_images(big_d.pid, big_d.adc, big_d.roi.read_bytes())
    r = reader(big_d.root)
    for target in (451, 1, 899, 452):
        record = index.record(target)
        reads.clear()
        image = await call(r, "read_image", f"{big_d.pid}_{target:05d}")
        assert pixels(image) == pixels(expected[target])
        assert str(big_d.roi) not in reads.whole  # never the whole .roi
        assert reads.ranges[str(big_d.roi)] == [(record.offset, record.nbytes)]  # exactly its bytes
        assert reads.range_bytes(big_d.roi) <= 2 * record.nbytes < big_d.size / 100
    # after the first read the ADC index is cached: the last reads read nothing whole
    assert reads.whole == {}


async def test_the_first_read_reads_the_adc_and_header_whole_once(big_d, reader, reads):
    await call(reader(big_d.root), "read_image", f"{big_d.pid}_00002")
    assert reads.whole == {
        str(big_d.roi.with_suffix(".adc")): [len(big_d.adc)],
        str(big_d.roi.with_suffix(".hdr")): [big_d.roi.with_suffix(".hdr").stat().st_size],
    }


async def test_a_stitched_pair_reads_both_halves_and_only_them(big_i, reader, reads):
    index = AdcIndex(big_i.pid, big_i.adc)
    expected = bin_images(big_i.pid, big_i.adc, big_i.roi.read_bytes())
    raw = bin_images(big_i.pid, big_i.adc, big_i.roi.read_bytes(), stitch=False)
    pairs = expected.pairs
    assert len(pairs) > 30
    r = reader(big_i.root)
    for a, b in (pairs[0], pairs[len(pairs) // 2], pairs[-1]):
        ra, rb = index.record(a), index.record(b)
        assert rb.offset == ra.offset + ra.nbytes  # halves are adjacent in the file
        reads.clear()
        image = await call(r, "read_image", f"{big_i.pid}_{a:05d}")
        assert pixels(image) == pixels(expected[a])
        assert str(big_i.roi) not in reads.whole
        assert reads.ranges[str(big_i.roi)] == [(ra.offset, ra.nbytes + rb.nbytes)]
        # without stitching, the first half alone
        reads.clear()
        image = await call(r, "read_image", f"{big_i.pid}_{a:05d}", stitch=False)
        assert pixels(image) == pixels(raw[a])
        assert reads.ranges[str(big_i.roi)] == [(ra.offset, ra.nbytes)]
    # a single next to nothing stitched reads one image
    single = next(t for t in expected if t not in dict(pairs) and t > 10)
    reads.clear()
    await call(r, "read_image", f"{big_i.pid}_{single:05d}")
    assert reads.ranges[str(big_i.roi)] == [(index.record(single).offset, index.record(single).nbytes)]


async def test_a_subset_reads_only_its_rois(big_d, reader, reads):
    index = AdcIndex(big_d.pid, big_d.adc)
    expected = bin_images(big_d.pid, big_d.adc, big_d.roi.read_bytes())
    targets = [3, 301, 601, 898]  # far apart: one range each
    images = await call(reader(big_d.root), "read_images", big_d.pid, targets)
    assert {t: pixels(i) for t, i in images.items()} == {t: pixels(expected[t]) for t in targets}
    assert str(big_d.roi) not in reads.whole
    assert sorted(reads.ranges[str(big_d.roi)]) == [(index.record(t).offset, index.record(t).nbytes) for t in targets]


async def test_streaming_reads_the_roi_in_bounded_chunks(big_d, reader, reads):
    expected = bin_images(big_d.pid, big_d.adc, big_d.roi.read_bytes())
    chunk = 256 * 1024
    streamed = await call(reader(big_d.root), "iter_images", big_d.pid, chunk_size=chunk)
    assert [roi_id for roi_id, _ in streamed] == expected.roi_ids()
    assert all(pixels(image) == pixels(expected[int(roi_id[-5:])]) for roi_id, image in streamed)
    assert str(big_d.roi) not in reads.whole
    sizes = [n for _, n in reads.ranges[str(big_d.roi)]]
    assert len(sizes) >= big_d.size // (chunk + 160 * 120)
    assert max(sizes) <= chunk + 160 * 120  # a chunk plus at most one image
    assert sum(sizes) <= big_d.size


@pytest.mark.parametrize("store", [SyncFilesystemRoiStore, AsyncFilesystemRoiStore])
async def test_roi_stores_read_only_the_roi(big_i, store, reads):
    index = AdcIndex(big_i.pid, big_i.adc)
    a, b = bin_images(big_i.pid, big_i.adc, big_i.roi.read_bytes()).pairs[3]
    data = await call(store(big_i.root), "get", f"{big_i.pid}_{a:05d}")
    assert data.startswith(b"\x89PNG")
    assert reads.ranges[str(big_i.roi)] == [(index.record(a).offset, index.record(a).nbytes + index.record(b).nbytes)]
    assert str(big_i.roi) not in reads.whole


async def test_existence_checks_read_no_pixels(big_i, reader, reads):
    r = reader(big_i.root)
    roi_ids = [f"{big_i.pid}_{t:05d}" for t in range(1, 40)]
    exists = await call(r, "images_exist", big_i.pid, roi_ids)
    assert sum(exists.values()) > 20
    for roi_id in roi_ids[:10]:
        assert await call(r, "image_exists", roi_id) is exists[roi_id]
    assert await call(r, "list_roi_ids", big_i.pid)
    assert str(big_i.roi) not in reads.whole and str(big_i.roi) not in reads.ranges


async def test_a_merged_range_cut_short_is_a_truncated_bin(tmp_path, reader):
    """Regression (hostile input 11): a ``.roi`` that ends inside a merged range (two nearby images read
    in one request) raised ``ValueError: bytes at ... were not fetched``, and stated a wrong file size."""
    from ifcbkit import TruncatedBinError

    pid = "D20240215T150055_IFCB010"
    paths = write_bin(tmp_path / "data" / "D2024" / "D20240215", pid, [Roi(4, 4), Roi(4, 4), Roi(4, 4)])
    paths.roi.write_bytes(paths.roi.read_bytes()[:20])  # target 1 is bytes 0-16, target 3 bytes 32-48
    with pytest.raises(TruncatedBinError) as info:
        await call(reader(tmp_path), "read_images", pid, [1, 3])
    assert (info.value.target, info.value.needed, info.value.size) == (3, 48, 20)
    assert "target 3 needs bytes up to 48 but the ROI data has only 20 bytes" in str(info.value)


@pytest.mark.parametrize("size", [(100_000, 1_000_000), (10**300, 2), (3000, 3000)])
async def test_an_enormous_declared_roi_is_damage_not_an_allocation(tmp_path, reader, size):
    """Regression (hostile input 8): an ADC declaring a 1e5 x 1e6 ROI (or a width of 1e300) made
    read_image and iter_images raise MemoryError or OverflowError: the read allocated the declared size."""
    import tracemalloc

    from ifcbkit import AdcLineWarning, FormatError

    pid = "D20240215T150055_IFCB010"
    paths = write_bin(tmp_path / "data" / "D2024" / "D20240215", pid, [Roi(4, 4), Roi(4, 4)])
    lines = paths.adc.read_bytes().split(b"\n")
    fields = lines[1].split(b",")
    fields[15], fields[16] = str(size[0]).encode(), str(size[1]).encode()  # width and height of target 2
    lines[1] = b",".join(fields)
    paths.adc.write_bytes(b"\n".join(lines))
    d = reader(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=r"line 2: target 2: its ADC line is damaged .*larger than any"):
            await call(d, "read_image", f"{pid}_00002")
        with pytest.warns(AdcLineWarning, match=r"line 2: damaged ADC line skipped: ROI size .* larger than any"):
            streamed = await call(d, "iter_images", pid)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [roi_id for roi_id, _ in streamed] == [f"{pid}_00001"]
    assert peak < 5 * 2**20


async def test_a_roi_past_the_end_reads_no_more_than_the_file(tmp_path, reader):
    """A plausible ROI whose bytes lie past the end of the .roi is a truncated bin, and the ranged read
    never asks for more than the file holds."""
    import tracemalloc

    from ifcbkit import TruncatedBinError

    pid = "D20240215T150055_IFCB010"
    paths = write_bin(tmp_path / "data" / "D2024" / "D20240215", pid, [Roi(4, 4), Roi(2000, 2000)])
    paths.roi.write_bytes(paths.roi.read_bytes()[:100])
    tracemalloc.start()
    try:
        with pytest.raises(TruncatedBinError, match="target 2"):
            await call(reader(tmp_path), "read_image", f"{pid}_00002")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20  # the image would be 4 MB


def test_crossing_halves_cannot_make_a_huge_composite(tmp_path):
    """Regression (hostile input 9): halves of 12000x3 and 3x12000 of one trigger built a 12000^2
    composite from 70 KiB of data (a 1.5 GB peak); at 20000, PIL's DecompressionBombError."""
    from ifcbkit import FormatError, bin_images
    from ifcbkit.testing import make_bin

    pid = "IFCB5_2014_100_120000"
    data = make_bin(pid, stitched_pair(1, (0, 0, 2000, 10), (1990, 5, 2000, 10)))  # each within a frame
    with pytest.raises(FormatError, match=r"targets 1 and 2: a stitched pair would make a 3990x15 image"):
        bin_images(pid, data.adc, data.roi)[1]
    crossing = make_bin(pid, stitched_pair(1, (0, 1000, 2000, 3), (1000, 0, 3, 2000)))  # the largest possible
    assert bin_images(pid, crossing.adc, crossing.roi)[1].size == (2000, 2000)
