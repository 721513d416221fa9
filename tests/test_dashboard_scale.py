"""A dashboard store at scale, against the ifcbdb lookalike on 127.0.0.1: one store used from one
event loop after another, CPU work kept off the loop's thread, big files fetched once per pass,
volumes without the ``.roi``, listings of just the range asked for, and temporary files of killed
writers cleaned up by the next write."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ifcbkit import SyncIfcbDataDirectory
from ifcbkit.atomic import atomic_file, host_name
from ifcbkit.errors import FormatError
from ifcbkit.formats.products import parse_class_scores_csv
from ifcbkit.jobs.dashboard_abundance import adaily_abundance_from_dashboard
from ifcbkit.science.counting import class_counts
from ifcbkit.stores.dashboard import AsyncDashboardBinStore, DashboardBinStore, class_counts_csv
from ifcbkit.testing import Roi, write_bin
from servers import DashboardBehaviour, DashboardServer, resolve, temporary_directory

DAYS = ("20240301", "20240302", "20240303")
HOURS = (1, 5, 9, 13, 17, 21)
CLASSES = ("Guinardia", "Chaetoceros", "detritus")


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    """Six bins a day over three days, with class scores, and the catalog a dashboard holds."""
    with temporary_directory() as root:
        pids = [f"D{day}T{h:02d}0000_IFCB010" for day in DAYS for h in HOURS]
        for b, pid in enumerate(pids):
            rois = [Roi(width=30 + t, height=20, columns={"ADCtime": 2.0 * t, "RunTime": 2.0 * t + 0.05,
                        "InhibitTime": 0.02 * t}) for t in range(1, 6 + b % 4)]  # fmt: skip
            write_bin(root / "data" / pid[:9], pid, rois, seed=b)
        directory = SyncIfcbDataDirectory(root / "data")
        files, catalog, products = {}, {}, {}
        for fileset in directory.list():
            pid = fileset["pid"]
            catalog[pid] = directory.bin_metadata(pid)
            files[pid] = Path(fileset["hdr"]).with_suffix("")
            path = root / "products" / f"{pid}_class_scores.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [",".join(("pid", *CLASSES))]
            for k, roi_id in enumerate(directory.list_roi_ids(pid)):
                lines.append(f"{roi_id},{(k % 5) / 5!r},{(k % 3) / 3!r},0.5")
            path.write_text("\n".join(lines) + "\n")
            products[pid] = {"class_scores": path}
        yield {"root": root, "pids": sorted(catalog), "files": files, "catalog": catalog, "products": products,
               "directory": directory}  # fmt: skip


@pytest.fixture
def serve(site) -> Iterator[Any]:
    with contextlib.ExitStack() as stack:

        def start(**behaviour: Any) -> DashboardServer:
            server = DashboardServer(site["files"], {}, dataset="mvco",
                                     behaviour=DashboardBehaviour(**{"ranges": False, **behaviour}),
                                     catalog=site["catalog"], products=site["products"])  # fmt: skip
            return stack.enter_context(server)

        yield start


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


# ----- one store, many event loops ----------------------------------------------------------------


def test_an_async_store_serves_one_event_loop_after_another(serve, site):
    server = serve()
    pid = site["pids"][0]
    expected = [site["files"][pid].with_suffix(f".{ext}").read_bytes() for ext in ("hdr", "adc", "roi")]
    store = AsyncDashboardBinStore(server.url, "mvco", max_concurrency=1)  # every read waits on the semaphore

    async def read() -> list[bytes]:
        return list(await asyncio.gather(*(store.get(f"{pid}.{ext}") for ext in ("hdr", "adc", "roi"))))

    for _ in range(3):
        assert asyncio.run(read()) == expected
    descriptors = _open_descriptors()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(20):
            assert asyncio.run(read()) == expected
        gc.collect()
    assert _open_descriptors() <= descriptors + 4  # each loop's connections closed as it ended (not 20 x 3 open)
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []  # not by the collector

    async def last() -> list[bytes]:
        try:
            return await read()
        finally:
            await store.aclose()

    assert asyncio.run(last()) == expected

    moved = serve(redirect_to=server.url)  # a dashboard that moved: its answers are 302s to the other
    redirected = AsyncDashboardBinStore(moved.url, "mvco", max_concurrency=1)
    for _ in range(2):
        store = redirected
        assert asyncio.run(read()) == expected
    assert {r.status for r in moved.requests} == {302}


def test_two_loops_in_two_threads_share_one_store(serve, site):
    server = serve()
    store = AsyncDashboardBinStore(server.url, "mvco", max_concurrency=2)
    results: dict[str, Any] = {}

    def run(name: str, pids: list[str]) -> None:
        async def read() -> list[bytes]:
            return list(await asyncio.gather(*(store.get(f"{pid}.adc") for pid in pids)))

        try:
            results[name] = asyncio.run(read())
        except Exception as e:  # reported below, with the thread's name
            results[name] = e

    threads = [threading.Thread(target=run, args=(name, site["pids"][k::2])) for k, name in enumerate("ab")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k, name in enumerate("ab"):
        assert results[name] == [site["files"][pid].with_suffix(".adc").read_bytes() for pid in site["pids"][k::2]]


# ----- CPU work off the loop's thread -------------------------------------------------------------


HEAVY = {"parse_export_metadata", "merge_listings", "csv_records", "parse_class_scores_csv", "class_counts",
         "winners", "class_counts_csv", "_plain_counts"}  # fmt: skip


@contextlib.contextmanager
def calls_on_this_thread() -> Iterator[set[str]]:
    """The names of the CPU-heavy parsers and counters called on this thread (a profile hook on it
    alone: worker threads are not seen)."""
    seen: set[str] = set()

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name in HEAVY:
            seen.add(frame.f_code.co_name)

    sys.setprofile(hook)
    try:
        yield seen
    finally:
        sys.setprofile(None)


def test_listing_and_counting_run_off_the_event_loops_thread(serve, site):
    server = serve()

    async def job() -> tuple[Any, Any]:
        async with AsyncDashboardBinStore(server.url, "mvco") as store:
            with calls_on_this_thread() as seen:
                listing = await store.list_metadata("2024-03-01", "2024-03-04")
                result = await adaily_abundance_from_dashboard(store, threshold=0.5, start_time="2024-03-01",
                                                               end_time="2024-03-04")  # fmt: skip
            return (listing, result), seen

    (listing, result), seen = asyncio.run(job())
    assert [b.pid for b in listing.bins] == site["pids"]
    expected = {
        pid: class_counts(parse_class_scores_csv(site["products"][pid]["class_scores"].read_bytes(), source="x",
                                                 pid=pid), 0.5)
        for pid in site["pids"]
    }  # fmt: skip
    assert {b.pid: b.counts for b in result.bins} == expected
    assert seen == set()


def test_a_kept_listing_gives_the_garbage_collector_nothing_to_walk():
    """A listing of 2,000 bins, kept, adds next to no object the collector tracks (a full collection
    walks every one: 2,000 records with a dict each made every collection of the process longer),
    and each bin still reads as a ListedBin with its row."""
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    catalog = {}
    for b in range(2_000):
        pid = (start + timedelta(minutes=10 * b)).strftime("D%Y%m%dT%H%M%S_IFCB010")
        catalog[pid] = {"pid": pid, "timestamp_iso": "", "instrument": "IFCB10", "num_images": b % 7,
                        "ml_analyzed": (b % 13) / 100, "lat": 41.325, "lng": -70.5667}  # fmt: skip
    server = DashboardServer({}, {}, dataset="mvco", behaviour=DashboardBehaviour(ranges=False), catalog=catalog)
    with server, DashboardBinStore(server.url, "mvco") as store:
        store.list_metadata("2024-03-01", "2024-03-02")  # (imports and caches warmed)
        gc.collect()
        before = len(gc.get_objects())
        listing = store.list_metadata("2024-03-01", "2024-04-01")
        gc.collect()
        added = len(gc.get_objects()) - before
    assert len(listing.bins) == 2_000 and listing.problems == []
    assert added < 200
    assert [b.pid for b in listing.bins] == sorted(catalog)
    last = listing.bins[-1]
    assert (last.n_images, last.ml_analyzed, last.lat, last.row["pid"]) == (1999 % 7, 1999 % 13 / 100, 41.325, last.pid)
    assert listing.bins[1:3] == [listing.bins[1], listing.bins[2]] and listing.bins == list(listing.bins)


PID = "D20240301T010000_IFCB010"


@pytest.mark.parametrize(
    "text",
    [
        f"pid,a,b,c\n{PID}_00001,0.1,0.7,0.2\n{PID}_00002,0.5,0.5,0.1\n{PID}_00003,0.2,0.3,0.4\n",
        f"pid,a,b,c\r\n{PID}_00001,0.1,0.7,0.2\r\n\r\n{PID}_00002,0.6,0.1,0.6\r\n",  # CRLF, a blank line, a tie
        f'pid,a,b\n"{PID}_00001",0.9,0.1\n{PID}_00002, 0.3 ,0.8\n',  # quoted: the full parser's
        f"pid,a,a,b\n{PID}_00001,0.1,0.9,0.2\n{PID}_00002,0.8,0.1,0.1\n",  # a class named twice
        f"b,pid\n0.9,{PID}_00001\n",  # the ROI ids in another column
        f"pid,a,b\n{PID}_00001,0.1,0.9\n{PID}_100000,0.9,0.1\n",  # a 6-digit target
        f"\ufeffpid,a,b\n{PID}_00001,0.1,0.9\n,,\n",  # a BOM, a line of commas
    ],
)
@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.7, 1.0])
def test_class_counts_csv_equals_the_full_parse_and_count(text, threshold):
    data = text.encode()
    scores = parse_class_scores_csv(data, source="s.csv", pid=PID)
    counted = class_counts_csv(data, source="s.csv", pid=PID, threshold=threshold)
    assert counted == (class_counts(scores, threshold), len(scores.rows))


@pytest.mark.parametrize(
    "text",
    [
        f"pid,a,b\n{PID}_00001,0.1,nan\n", f"pid,a,b\n{PID}_00001,0.1,1.5\n", f"pid,a,b\n{PID}_00001,0.1,\n",
        f"pid,a,b\n{PID}_00001,0.1,inf\n", f"pid,a,b\n{PID}_00001,0.1,0.2\n{PID}_00001,0.3,0.2\n",
        "pid,a,b\nD20240301T020000_IFCB010_00001,0.1,0.2\n", f"pid,a,b\n{PID}_00001,0.1\n",
        f"pid,a,b\n{PID}_00000,0.1,0.2\n", f"pid,a,b\n{PID}_000002,0.1,0.2\n",
        f"pid,a,b\n{PID}_00001,0.1,{'0' * 200}\n", "",
    ],
)  # fmt: skip
def test_class_counts_csv_refuses_what_the_full_parser_refuses(text):
    with pytest.raises(FormatError) as full:
        parse_class_scores_csv(text.encode(), source="s.csv", pid=PID)
    with pytest.raises(FormatError) as fast:
        class_counts_csv(text.encode(), source="s.csv", pid=PID, threshold=0.5)
    assert str(fast.value) == str(full.value)


# ----- work proportional to the ask -----------------------------------------------------------


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_roi_over_the_memory_cache_is_fetched_once_per_pass(serve, site, face, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the store's temporary files go
    server = serve()
    pid = site["pids"][3]
    reference = site["directory"]
    roi_ids = reference.list_roi_ids(pid)
    expected = {roi_id: reference.read_image(roi_id).tobytes() for roi_id in roi_ids}
    roi_size = site["files"][pid].with_suffix(".roi").stat().st_size
    options = {"file_cache_bytes": roi_size // 2}

    async def run() -> tuple[dict[str, bytes], dict[str, bytes], list[str]]:
        store = (DashboardBinStore if face == "sync" else AsyncDashboardBinStore)(server.url, "mvco", **options)
        try:
            streamed: dict[str, bytes] = {}
            iterator = store.iter_images(pid, chunk_size=64)
            if hasattr(iterator, "__aiter__"):
                async for roi_id, image in iterator:
                    streamed[roi_id] = image.tobytes()
            else:
                for roi_id, image in iterator:
                    streamed[roi_id] = image.tobytes()
            single = {roi_id: (await resolve(store.read_image(roi_id))).tobytes() for roi_id in roi_ids * 4}
            spilled = [str(p) for p in tmp_path.rglob("*") if p.is_file()]
        finally:
            await resolve(store.aclose() if face == "async" else store.close())
        return streamed, single, spilled

    streamed, single, spilled = asyncio.run(run())
    assert streamed == expected and single == expected
    assert len(spilled) == 1  # the .roi, kept once in a temporary file
    assert [r.status for r in server.requests if r.path.endswith(".roi")] == [200]
    assert list(tmp_path.rglob("*")) == []  # removed on close


@pytest.mark.parametrize("face", ["sync", "async"])
@pytest.mark.parametrize("ranges", [False, True], ids=["rangeless", "ranges"])
def test_volumes_never_download_a_roi(serve, site, face, ranges):
    server = serve(chunked=True, ranges=ranges)  # HEAD answers without a Content-Length

    async def run() -> list[dict[str, Any]]:
        store = (DashboardBinStore if face == "sync" else AsyncDashboardBinStore)(server.url, "mvco")
        store.rangeless = not ranges
        try:
            return [await resolve(store.bin_metadata(pid, method="adc")) for pid in site["pids"]]
        finally:
            await resolve(store.aclose() if face == "async" else store.close())

    metadata = asyncio.run(run())
    for pid, meta in zip(site["pids"], metadata):
        local = site["directory"].bin_metadata(pid)
        assert meta["ml_analyzed"] == local["ml_analyzed"] and meta["num_images"] == local["num_images"]
        assert meta["size"] == (local["size"] if ranges else None)  # a rangeless server without lengths: unknown
    roi = [r for r in server.requests if r.path.endswith(".roi")]
    assert {r.method for r in roi} <= {"HEAD", "GET"}
    assert all(r.method == "HEAD" or r.range == "bytes=0-0" for r in roi)
    assert sum(n for path, n in server.served.items() if path.endswith(".roi")) == (len(site["pids"]) if ranges else 0)


def test_listing_one_day_for_dask_asks_for_that_day(serve, site):
    pytest.importorskip("dask")
    from ifcbkit.dask import list_bin_ids

    day = [pid for pid in site["pids"] if pid.startswith("D20240302")]
    server = serve()
    with DashboardBinStore(server.url, "mvco") as store:
        assert list_bin_ids(store, start_time="2024-03-02", end_time="2024-03-03") == day
    [export] = [r for r in server.requests if r.path.startswith("/api/export_metadata")]
    assert "start_date=2024-03-02" in export.query and "end_date=2024-03-02" in export.query

    walked = serve(export_metadata=False)  # a dashboard without export_metadata: walked from the day's start
    with DashboardBinStore(walked.url, "mvco") as store:
        assert list_bin_ids(store, start_time="2024-03-02T09:00", end_time="2024-03-02T10:00") == day[2:3]
    assert len([r for r in walked.requests if r.path.startswith("/api/bin/")]) <= 3


# ----- temporary files of killed writers -------------------------------------------------------

WRITER = r"""
import sys, time
from ifcbkit.atomic import atomic_file
with atomic_file(sys.argv[1]) as f:
    f.write(b"x" * 100_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _start_writer(target: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stdout.readline() == "writing\n"
    return process


def _partials(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.endswith(".part")}


def test_a_killed_writers_partial_file_is_removed_by_the_next_write(tmp_path):
    killed = _start_writer(tmp_path / "killed.png")
    live = _start_writer(tmp_path / "live.png")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        left = _partials(tmp_path)
        assert len(left) == 2 and all(f"ifcbkit@{host_name()}@" in name for name in left)
        others = {f".a.png.ifcbkit@another-host@{killed.pid}@abc.part", ".b.png.k2j4h5.part"}
        for name in others:
            (tmp_path / name).write_bytes(b"not ours to judge")
        with atomic_file(tmp_path / "next.png") as f:  # the next write into the folder
            [mine] = _partials(tmp_path) - left - others
            f.write(b"png")
            with atomic_file(tmp_path / "after.png") as g:  # and one more in this process
                g.write(b"png")
            assert mine in _partials(tmp_path)  # this process's own, still being written
        remaining = _partials(tmp_path)
        assert remaining == {name for name in left if f"@{live.pid}@" in name} | others
        assert (tmp_path / "next.png").read_bytes() == b"png" and not (tmp_path / "killed.png").exists()
    finally:
        live.kill()
        live.wait(timeout=30)


def test_the_listing_reads_sample_times_as_the_identifier_parsers_do():
    # (the listing reads D-style ids itself, so that no parser cache holds a record per listed bin)
    from ifcbkit.identifiers import bin_timestamp
    from ifcbkit.sources.dashboard.listing import _sample_time

    for pid in ("D20240302T000000_IFCB010", "D20241231T235959_IFCB1", "IFCB5_2014_100_120000"):
        assert _sample_time(pid) == bin_timestamp(pid)
    assert _sample_time("D20240302T000000_IFCB010") == datetime(2024, 3, 2, tzinfo=timezone.utc)
    assert _sample_time("D20240302T000000_IFCB010") + timedelta(days=1) == bin_timestamp("D20240303T000000_IFCB010")
