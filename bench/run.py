"""ifcbkit benchmarks: medians and ratios against a naive baseline measured in the same run.

    python bench/run.py [--quick] [--markdown bench/RESULTS.md]

Generates its own realistic data under a temporary directory (removed at the
end): a ~50 MB, ~6,500-ROI D-style bin and a ~20,000-bin year tree. The naive
baseline is fixed: read both files whole with one ``read()`` each, split the ADC
text into lines and fields and convert every field with ``float``, build each
image with ``Image.frombytes`` from a slice; walk with ``os.listdir`` +
``os.path.isdir`` and the include/exclude rule.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

import ifcbkit
from ifcbkit import AsyncIfcbDataDirectory, SyncIfcbDataDirectory
from ifcbkit.engine.cache import clear_caches
from ifcbkit.testing import Roi, stitched_pair, write_bin

BIG_PID = "D20240215T150055_IFCB010"
YEAR = 2023

# ----- data -----------------------------------------------------------------------------------


def make_big_bin(root: Path, n_rois: int = 6500, seed: int = 1) -> Path:
    """A D-style bin like a busy real one: ~6,500 ROIs, ~50 MB of pixels, ~1 MB of ADC."""
    rng = random.Random(seed)
    rois = []
    for k in range(1, int(n_rois * 1.08) + 1):
        t = 0.17 * k
        columns = {"ADCtime": t, "GrabTimeStart": t, "GrabTimeEnd": t + 0.04, "RunTime": t + 0.05,
                   "InhibitTime": 0.012 * k, "PMTA": rng.random(), "PMTB": rng.random() * 0.1,
                   "PeakA": rng.random() * 3, "PeakB": rng.random()}  # fmt: skip
        if k % 13 == 0:  # some triggers without an image
            rois.append(Roi(columns=columns))
        else:
            w, h = rng.randrange(48, 176, 8), rng.randrange(40, 116)
            rois.append(Roi(width=w, height=h, x=rng.randrange(0, 1300), y=rng.randrange(0, 1000), columns=columns))
    day = root / "data" / "D2024" / "D20240215"
    write_bin(day, BIG_PID, rois, seed=seed)
    return day


def make_year_tree(root: Path, n_bins: int = 20075) -> int:
    """A year of D-style bins (``data/D2023/D2023MMDD/``), three empty files each: listing never reads them."""
    start = datetime(YEAR, 1, 1)
    per_day = n_bins / 365
    made = 0
    for day in range(365):
        when = start + timedelta(days=day)
        directory = root / "data" / f"D{YEAR}" / when.strftime("D%Y%m%d")
        directory.mkdir(parents=True)
        count = round(per_day * (day + 1)) - round(per_day * day)
        for i in range(count):
            pid = (when + timedelta(seconds=20 + i * 1500)).strftime("D%Y%m%dT%H%M%S") + "_IFCB010"
            for ext in ("hdr", "adc", "roi"):
                (directory / f"{pid}.{ext}").touch()
            made += 1
    return made


# ----- the naive baseline ---------------------------------------------------------------------


def naive_parse(base: str) -> tuple[list[list[float]], bytes]:
    with open(base + ".adc") as f:
        adc_text = f.read()
    with open(base + ".roi", "rb") as f:
        roi = f.read()
    rows = [[float(x) for x in line.split(",")] for line in adc_text.splitlines() if line.strip()]
    return rows, roi


def naive_image(rows: list[list[float]], roi: bytes, target: int) -> Image.Image:
    row = rows[target - 1]
    w, h, offset = int(row[15]), int(row[16]), int(row[17])
    return Image.frombytes("L", (w, h), roi[offset : offset + w * h])


def naive_read_image(base: str, target: int) -> Image.Image:
    rows, roi = naive_parse(base)
    return naive_image(rows, roi, target)


def naive_read_bin(base: str) -> list[Image.Image]:
    rows, roi = naive_parse(base)
    return [naive_image(rows, roi, k) for k, row in enumerate(rows, 1) if row[15] and row[16]]


def naive_walk(root: str, include=("data",), exclude=("skip", "beads")) -> list[str]:
    out = []

    def walk(path: str, rel: list[str]) -> None:
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if os.path.isdir(full):
                if name not in exclude:
                    walk(full, [*rel, name])
            elif name.endswith(".hdr"):
                pid = name[:-4]
                if all(p in include or p in pid for p in rel):
                    out.append(pid)

    walk(root, [])
    return out


# ----- measuring ------------------------------------------------------------------------------


def median_time(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def paired_medians(first: Callable[[], object], second: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Medians of two operations measured in alternation, so that drift in the machine's load hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in zip((first, second), times):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def async_median(make: Callable[[], object], repeat: int) -> float:
    async def run() -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            await make()  # type: ignore[misc]
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    return asyncio.run(run())


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str, str]] = []

    def add(self, name: str, ours: float, base: float | None, ratio: float | None, target: str, ok: bool) -> None:
        shown = f"{ratio:.1f}x" if ratio is not None else ""
        row = (name, fmt(ours), fmt(base) if base is not None else "", shown, target, "yes" if ok else "NO")
        self.rows.append(row)
        print(" | ".join(row), flush=True)

    def markdown(self) -> str:
        head = (
            "| operation | ifcbkit (median) | baseline (median) | ratio | target | met |\n|---|---|---|---|---|---|\n"
        )
        return head + "".join("| " + " | ".join(r) + " |\n" for r in self.rows)


def bench(tmp: Path, repeat: int, report: Report) -> None:
    print("generating data ...", file=sys.stderr, flush=True)
    big_root = tmp / "big"
    day = make_big_bin(big_root)
    base = str(day / BIG_PID)
    year_root = tmp / "year"
    n_bins = make_year_tree(year_root)
    roi_size = os.path.getsize(base + ".roi")
    with ifcbkit.open_bin(base) as b:
        targets = list(b.images)
    print(f"big bin: {roi_size / 1e6:.1f} MB .roi, {len(targets)} images; year tree: {n_bins} bins", file=sys.stderr)
    os.sync()  # measure after the kernel has written the generated data back, not while it does
    # listing a year tree (first, on a fresh heap: both sides are measured in the same state)
    expected = naive_walk(str(year_root))
    assert [f["pid"] for f in SyncIfcbDataDirectory(year_root).list()] == expected
    sync_list, naive_list = paired_medians(
        lambda: list(SyncIfcbDataDirectory(year_root).list()), lambda: naive_walk(str(year_root)), repeat
    )
    report.add("sync listing, 20k-bin year", sync_list, naive_list, naive_list / sync_list, "≥ 3x",
               naive_list / sync_list >= 3)  # fmt: skip

    async def async_list() -> list[dict]:
        return [f async for f in AsyncIfcbDataDirectory(year_root).list()]

    async_list_time = async_median(async_list, repeat)
    ratio = async_list_time / sync_list
    report.add("async listing (ratio to sync)", async_list_time, sync_list, ratio, "≤ 1.5x", ratio <= 1.5)

    december = (datetime(YEAR, 12, 1), datetime(YEAR + 1, 1, 1))
    n_december = len(list(SyncIfcbDataDirectory(year_root).list(*december)))
    filtered = median_time(lambda: list(SyncIfcbDataDirectory(year_root).list(*december)), repeat * 3)
    report.add(f"December filter ({n_december} bins) vs unfiltered", filtered, sync_list, sync_list / filtered,
               "≥ 8x (ideal 11.8x)", sync_list / filtered >= 8)  # fmt: skip

    # finding one bin: exists / paths stat the directories its id implies, against os.stat of its three files
    exists_time, paths_time, stat_time = lookup_medians(year_root, expected)
    for name, took in (("exists", exists_time), ("paths", paths_time)):
        ratio = took / stat_time
        report.add(f"{name}, one bin of the 20k-bin year (ratio to os.stat of its 3 files)", took, stat_time, ratio,
                   "≤ 3x", ratio <= 3)  # fmt: skip

    for ext in ("adc", "roi"):  # into the OS page cache
        Path(f"{base}.{ext}").read_bytes()

    rng = random.Random(7)
    pick = [rng.choice(targets) for _ in range(10_000)]
    picks = iter(pick)

    def roi_id() -> str:
        return ifcbkit.add_target(BIG_PID, next(picks))

    # single ROI by id: cold (no ADC index, no located paths) and warm
    naive_one = median_time(lambda: naive_read_image(base, pick[0]), repeat)
    directory = SyncIfcbDataDirectory(big_root)

    def cold_setup() -> None:
        nonlocal directory
        clear_caches()
        directory = SyncIfcbDataDirectory(big_root)

    cold = median_time(lambda: directory.read_image(roi_id()), repeat * 5, setup=cold_setup)
    report.add("single ROI by id, cold", cold, naive_one, naive_one / cold, "≥ 50x", naive_one / cold >= 50)
    directory.read_image(roi_id())
    warm = median_time(lambda: directory.read_image(roi_id()), 2000)
    report.add("single ROI by id, warm", warm, naive_one, naive_one / warm, "≥ 500x", naive_one / warm >= 500)

    # whole bin to images, every image's bytes materialized (each image owns a copy of its pixels)
    def ours_bin() -> list[Image.Image]:
        clear_caches()
        return list(SyncIfcbDataDirectory(big_root).read_images(BIG_PID).values())

    assert [im.tobytes() for im in ours_bin()[:50]] == [im.tobytes() for im in naive_read_bin(base)[:50]]
    whole, naive_bin = paired_medians(ours_bin, lambda: naive_read_bin(base), repeat)
    report.add("whole bin to images", whole, naive_bin, naive_bin / whole, "≥ 1.5x", naive_bin / whole >= 1.5)

    # event-loop stall under 200 concurrent read_image calls
    stall = asyncio.run(worst_stall(big_root, [ifcbkit.add_target(BIG_PID, t) for t in pick[:200]]))
    report.add("worst loop stall, 200 concurrent read_image", stall, None, None, "< 20 ms", stall < 0.020)
    pairs_root, pair_ids = make_pairs_bin(tmp / "pairs")
    stall = asyncio.run(worst_stall(pairs_root, pair_ids))
    report.add(f"worst loop stall, {len(pair_ids)} concurrent stitched-pair reads", stall, None, None, "< 20 ms",
               stall < 0.020)  # fmt: skip
    flat_pids = make_flat_folder(tmp / "flat")
    stall = flat_listing_stall(tmp / "flat", flat_pids, repeat)
    report.add(f"worst loop stall, async listing of a flat {len(flat_pids) // 1000}k-bin folder (median)", stall, None,
               None, "< 20 ms", stall < 0.020)  # fmt: skip


def lookup_medians(root: Path, pids: list[str], n: int = 2000) -> tuple[float, float, float]:
    """Medians of ``exists(pid)`` and ``paths(pid)`` on one directory object, each pid asked for the
    first time (nothing remembered), and of ``os.stat`` on the same bin's three files."""
    rng = random.Random(3)
    sample = rng.sample(pids, min(len(pids), 2 * n))
    d = SyncIfcbDataDirectory(root)
    paths = {pid: d.paths(pid) for pid in sample[:200]}  # the files, found once, for the stat baseline
    d = SyncIfcbDataDirectory(root)

    def each(function: Callable[[str], object], chosen: list[str]) -> float:
        times = []
        for pid in chosen:
            t0 = time.perf_counter()
            function(pid)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def stat3(pid: str) -> None:
        for ext in ("hdr", "adc", "roi"):
            os.stat(paths[pid][ext])

    stat_time = each(stat3, [pid for pid in sample[:200] for _ in range(10)])
    exists_time = each(d.exists, sample[:n])
    paths_time = each(d.paths, sample[n:])
    return exists_time, paths_time, stat_time


def make_pairs_bin(root: Path, n_pairs: int = 300, seed: int = 2) -> tuple[Path, list[str]]:
    """An I-style bin of ``n_pairs`` stitched pairs of 240x160 halves (about 23 MB of pixels)."""
    rng = random.Random(seed)
    pid = "IFCB5_2014_100_120000"
    rois = []
    for trigger in range(1, n_pairs + 1):
        x, y = rng.randrange(0, 1000), rng.randrange(0, 800)
        rois += stitched_pair(trigger, (x, y, 240, 160), (x + 100, y + 60, 240, 160))
    write_bin(root / "data" / "IFCB5_2014_100", pid, rois, seed=seed)
    return root, [ifcbkit.add_target(pid, 2 * k + 1) for k in range(n_pairs)]


async def worst_stall(root: Path, roi_ids: list[str]) -> float:
    """The longest the event loop went without running a 1 ms ticker while the reads ran concurrently."""
    clear_caches()
    directory = AsyncIfcbDataDirectory(root)

    async def reads() -> None:
        images = await asyncio.gather(*(directory.read_image(r) for r in roi_ids))
        assert len(images) == len(roi_ids)

    return await worst_stall_during(reads)


async def worst_stall_during(work: Callable[[], Awaitable[object]]) -> float:
    """The longest the event loop went without running a 1 ms ticker while ``work()`` ran."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last - 0.001)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    try:
        await work()
    finally:
        done = True
        await tick
    return worst


def make_flat_folder(root: Path, n_bins: int = 30_000) -> list[str]:
    """``n_bins`` bins (empty files) in one folder, 20 minutes apart."""
    root.mkdir(parents=True)
    start = datetime(YEAR, 1, 1)
    pids = [(start + timedelta(minutes=20 * k)).strftime("D%Y%m%dT%H%M%S_IFCB010") for k in range(n_bins)]
    for pid in pids:
        for ext in ("hdr", "adc", "roi"):
            (root / f"{pid}.{ext}").touch()
    return pids


def flat_listing_stall(root: Path, pids: list[str], repeat: int) -> float:
    """The median over ``repeat`` runs of the worst loop stall during an async listing of ``root``."""

    async def listing() -> None:
        listed = [f["pid"] async for f in AsyncIfcbDataDirectory(root).list()]
        assert listed == pids

    return statistics.median(asyncio.run(worst_stall_during(listing)) for _ in range(repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="repetitions per measurement (default 7)")
    parser.add_argument("--markdown", type=Path, help="also write the results as Markdown to this file")
    args = parser.parse_args()
    report = Report()
    tmp = Path(tempfile.mkdtemp(prefix="ifcbkit-bench-"))
    try:
        bench(tmp, args.repeat, report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    machine = (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
               f" Pillow {Image.__version__}, ifcbkit {ifcbkit.__version__}")  # fmt: skip
    print(machine)
    if args.markdown:
        args.markdown.write_text(
            "# Benchmark results\n\n"
            f"`python bench/run.py --markdown bench/RESULTS.md` on {machine}; medians of repeated runs, ratios "
            "against the naive baseline measured in the same run (see `bench/run.py`).\n\n" + report.markdown()
        )
    return 0 if all(row[-1] == "yes" for row in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
