"""Numbers you can trust from a dashboard, against the ifcbdb lookalike on 127.0.0.1: every row the
server sent is listed once (or reported), volumes and scores are numbers in range, a disk cache
never serves a replaced file, truncated class scores are reported, and ``deadline=`` bounds a call."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ifcbkit import SyncIfcbDataDirectory, read_class_scores
from ifcbkit.errors import FormatError, IfcbError, SkippedBinWarning, StoreError
from ifcbkit.jobs.dashboard_abundance import daily_abundance_from_dashboard
from ifcbkit.science.counting import class_counts
from ifcbkit.stores import dashboard as dashboard_module
from ifcbkit.stores.dashboard import AsyncDashboardBinStore, DashboardBinStore
from ifcbkit.testing import Roi, stitched_pair, write_bin
from servers import DashboardBehaviour, DashboardServer, resolve, temporary_directory

CLASSES = ("Guinardia", "detritus")
HOURS = (1, 3, 8, 14, 20)
DAYS = ("20240301", "20240302", "20240303")
STITCHED = "IFCB5_2024_062_100000"  # 2024-03-02 10:00, an I-style bin with two stitched pairs
CUT = "D20240302T140000_IFCB010"  # its class scores answer stops half way


def _rois(n: int) -> list[Roi]:
    return [Roi(width=4 + t % 3, height=3, columns={"ADCtime": 2.0 * t, "RunTime": 2.0 * t + 0.05,
                "InhibitTime": 0.02 * t}) for t in range(1, n + 1)]  # fmt: skip


def _scores_file(path: Path, roi_ids: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(("pid", *CLASSES))]
    lines += [f"{roi_id},{(k % 4) / 4!r},0.5" for k, roi_id in enumerate(roi_ids)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    """Bins at 01, 03, 08, 14 and 20 h UTC on three days, an I-style bin with stitched pairs, class
    scores for each (cut short for ``CUT``), and the catalog a dashboard holds for them."""
    with temporary_directory() as root:
        pids = [f"D{day}T{h:02d}0000_IFCB010" for day in DAYS for h in HOURS]
        for b, pid in enumerate(pids):
            write_bin(root / "data" / pid[:9], pid, _rois(4 + b % 5), seed=b, header={"gpsLatitude": 41.3})
        i_rois = [Roi(20, 30, x=5, y=5), *stitched_pair(2, (10, 10, 40, 30), (30, 20, 40, 30)), Roi(12, 9),
                  *stitched_pair(5, (0, 0, 16, 16), (8, 8, 16, 16))]  # fmt: skip
        write_bin(root / "data" / "IFCB5_2024_062", STITCHED, i_rois, seed=99)
        directory = SyncIfcbDataDirectory(root / "data")
        files, catalog, products = {}, {}, {}
        for fileset in directory.list():
            pid = fileset["pid"]
            catalog[pid] = directory.bin_metadata(pid)
            files[pid] = Path(fileset["hdr"]).with_suffix("")
            roi_ids = directory.list_roi_ids(pid)  # one row per image, a stitched pair as one
            if pid == CUT:
                roi_ids = roi_ids[: len(roi_ids) // 2]
            products[pid] = {"class_scores": _scores_file(root / "products" / f"{pid}_class_scores.csv", roi_ids)}
        assert sorted(catalog) == sorted([*pids, STITCHED])
        yield {"root": root, "pids": sorted(pids, key=lambda p: p[1:16]), "catalog": catalog, "files": files,
               "products": products}  # fmt: skip


@pytest.fixture
def serve(site) -> Iterator[Any]:
    with contextlib.ExitStack() as stack:

        def start(*, files: Any = None, catalog: Any = None, behaviour: Any = None, **options: Any) -> DashboardServer:
            server = DashboardServer(files or site["files"], {}, dataset="mvco",
                                     behaviour=behaviour or DashboardBehaviour(ranges=False),
                                     catalog=site["catalog"] if catalog is None else catalog,
                                     products=site["products"], **options)  # fmt: skip
            return stack.enter_context(server)

        yield start


def rewrite_listing(server: DashboardServer, change: Any) -> None:
    """Make the server's ``export_metadata`` CSV answers ``change(lines)`` (a list of CSV lines)."""
    original = server._ifcbdb_api

    def rewritten(method: str, path: str, query: Any, body: bytes) -> Any:
        answer = original(method, path, query, body)
        if answer is None or answer[0] != 200 or not path.startswith("/api/export_metadata"):
            return answer
        lines = answer[2].decode().split("\r\n")[:-1]
        return answer[0], answer[1], "".join(f"{line}\r\n" for line in change(lines)).encode()

    server._ifcbdb_api = rewritten  # type: ignore[method-assign]


def with_field(line: str, column: int, value: str) -> str:
    fields = line.split(",")
    fields[column] = value
    return ",".join(fields)


ML, COMMENT = 4, 13  # columns of the lookalike's export_metadata CSV


# ----- listing ----------------------------------------------------------------------------------


def test_rows_a_neighbouring_chunks_answer_carries_are_kept(serve, site):
    """A dashboard whose days are UTC-5's answers a day's request with 05:00 to 05:00 UTC: the bins
    of 01:00 and 03:00 UTC come in the previous day's answer, and count (they were dropped)."""
    server = serve(listing_utc_offset=-5)
    with DashboardBinStore(server.url, "mvco") as store:
        chunked = store.list_metadata("2024-03-01", "2024-03-04", chunk_days=1)
        whole = store.list_metadata("2024-03-01", "2024-03-04")
    sent = [p for p in site["pids"] if p[1:12] != "20240301T01" and p[1:12] != "20240301T03"]  # before 05:00
    assert [b.pid for b in chunked.bins if b.pid.startswith("D")] == sent
    assert [b.pid for b in chunked.bins] == [b.pid for b in whole.bins]
    assert chunked.problems == [] and len([r for r in server.requests if "export" in r.path]) == 4


def test_a_bin_listed_twice_with_different_volumes_is_reported_and_left_out(serve, site):
    server = serve()
    twice = site["pids"][6]
    volume = site["catalog"][twice]["ml_analyzed"]

    def duplicated(lines: list[str]) -> list[str]:
        row = next(line for line in lines if f",{twice}," in line)
        return [*lines, with_field(row, ML, repr(volume * 10))]

    rewrite_listing(server, duplicated)
    with DashboardBinStore(server.url, "mvco") as store, pytest.warns(SkippedBinWarning, match=twice) as caught:
        listing = store.list_metadata("2024-03-01", "2024-03-04")
    assert twice not in [b.pid for b in listing.bins] and len(listing.bins) == len(site["catalog"]) - 1
    [problem] = listing.problems
    assert problem.pid == twice and repr(volume) in str(problem.error) and repr(volume * 10) in str(problem.error)
    assert "export_metadata/mvco" in str(problem.error) and len(caught) == 1
    assert caught[0].filename == __file__  # the warning points at the caller's line
    with pytest.warns(SkippedBinWarning, match=twice):
        result = daily_abundance_from_dashboard(server.url, "mvco", threshold=0.5, start_time="2024-03-01")
    [reported] = [s for s in result.skipped if s.pid == twice]
    assert reported.error and repr(volume * 10) in reported.reason
    assert twice not in [b.pid for b in result.bins]
    day = next(r for r in result.rows if r["date"] == "2024-03-02" and r["instrument"] == "IFCB10")
    counted = [p for p in site["pids"] if p[1:9] == "20240302" and p not in (twice, CUT)]
    assert day["ml_analyzed_total"] == pytest.approx(sum(site["catalog"][p]["ml_analyzed"] for p in counted))


def test_identical_duplicates_are_merged_silently(serve, site, recwarn):
    server = serve()
    rewrite_listing(server, lambda lines: [*lines, *lines[1:4]])
    with DashboardBinStore(server.url, "mvco") as store:
        listing = store.list_metadata("2024-03-01", "2024-03-04")
    assert sorted(b.pid for b in listing.bins) == sorted(site["catalog"]) and listing.problems == []
    assert not [w for w in recwarn if issubclass(w.category, SkippedBinWarning)]


def test_a_200_kb_field_does_not_fail_the_listing(serve, site):
    """One long comment (over the csv module's 131,072-character field limit) failed the month: the
    limit is lifted (only ever raised) to the answer's size."""
    server = serve()
    comment = '"' + ('a note, with commas\r\nand ""quotes"" ' * 6000) + '"'
    rewrite_listing(server, lambda lines: [lines[0], with_field(lines[1], COMMENT, comment), *lines[2:]])
    csv.field_size_limit(limit := 131_072)  # the csv module's default
    with DashboardBinStore(server.url, "mvco") as store:
        listing = store.list_metadata("2024-03-01", "2024-03-04")
    # the process's limit lifted to the answer's size, which no field can exceed
    assert len(comment) > 200_000 and csv.field_size_limit() > len(comment) > limit
    assert listing.problems == [] and sorted(b.pid for b in listing.bins) == sorted(site["catalog"])
    first = next(b for b in listing.bins if b.row["comment_summary"])
    assert first.row["comment_summary"] == comment[1:-1].replace('""', '"')
    assert first.ml_analyzed == site["catalog"][first.pid]["ml_analyzed"]


@pytest.mark.parametrize("volume", ["inf", "nan(2)", "-0.5", "1e400", "1" * 5000])
def test_a_listed_volume_that_is_not_a_volume_is_a_problem_naming_the_line(serve, site, volume):
    server = serve()
    rewrite_listing(server, lambda lines: [lines[0], lines[1], with_field(lines[2], ML, volume), *lines[3:]])
    with DashboardBinStore(server.url, "mvco") as store:
        listing = store.list_metadata("2024-03-01", "2024-03-04")
    [problem] = listing.problems
    assert problem.error.line == 3 and "export_metadata/mvco?" in str(problem.error)
    assert len(listing.bins) == len(site["catalog"]) - 1 and problem.pid not in [b.pid for b in listing.bins]


@pytest.mark.parametrize("volume", ["1e400 ml", "inf ml", "-2.5 ml", "nan ml", f"{'9' * 5000} ml"])
async def test_an_api_bin_volume_that_is_not_a_volume_is_a_format_error(face, site, volume):
    pid = site["pids"][0]
    meta = site["catalog"][pid]
    answer = {"timestamp_iso": meta["timestamp_iso"], "instrument": meta["instrument"], "num_images": 3,
              "ml_analyzed": volume, "lat": None, "lng": None, "skip": False, "next_bin_id": None,
              "previous_bin_id": None}  # fmt: skip
    with DashboardServer(site["files"], {pid: answer}, behaviour=DashboardBehaviour(ranges=False)) as server:
        store = (DashboardBinStore if face == "sync" else AsyncDashboardBinStore)(server.url, "mvco")
        try:
            with pytest.raises(FormatError, match=rf"/api/bin/{pid}\?dataset=mvco: unexpected bin metadata"):
                await resolve(store.bin_metadata(pid))
        finally:
            await resolve(store.close() if face == "sync" else store.aclose())


# ----- class scores against the listing ------------------------------------------------------------


def test_class_scores_with_fewer_rows_than_the_listing_says_are_reported(serve, site):
    server = serve()
    n_images = site["catalog"][CUT]["num_images"]
    with DashboardBinStore(server.url, "mvco") as store:
        with pytest.raises(FormatError, match=rf"/mvco/{CUT}_class_scores\.csv: {n_images // 2} rows .* {n_images} "):
            store.read_class_scores(CUT, n_images=n_images)
        assert len(store.read_class_scores(CUT).rows) == n_images // 2  # without the count, as read
    result = daily_abundance_from_dashboard(server.url, "mvco", threshold=0.5, start_time="2024-03-01")
    [reported] = [s for s in result.skipped if s.pid == CUT]
    assert reported.error and f"{CUT}_class_scores.csv" in reported.reason
    assert CUT not in [b.pid for b in result.bins]


def test_a_stitched_bin_is_compared_like_with_like(serve, site):
    """ifcbdb's n_images counts a stitched pair once (pyifcb's InfilledImages), as class scores do."""
    server = serve()
    raw = SyncIfcbDataDirectory(site["root"] / "data").list_roi_ids(STITCHED, stitch=False)
    n_images = site["catalog"][STITCHED]["num_images"]
    assert n_images == len(raw) - 2  # two pairs
    result = daily_abundance_from_dashboard(server.url, "mvco", threshold=0.5, start_time="2024-03-01")
    assert STITCHED in [b.pid for b in result.bins] and STITCHED not in [s.pid for s in result.skipped]
    with DashboardBinStore(server.url, "mvco") as store:
        assert len(store.read_class_scores(STITCHED, n_images=n_images).rows) == n_images
    [counted] = [b for b in result.bins if b.pid == STITCHED]
    scores = read_class_scores(site["products"][STITCHED]["class_scores"])
    assert len(scores.rows) == n_images and counted.counts == class_counts(scores, 0.5)


# ----- the disk cache -----------------------------------------------------------------------------

READ_IN_A_NEW_PROCESS = """
import hashlib, sys
from ifcbkit.stores.dashboard import DashboardBinStore
url, pid, cache = sys.argv[1:4]
with DashboardBinStore(url, "mvco", cache_dir=cache) as store:
    store.rangeless = True
    for roi_id in store.list_roi_ids(pid):
        print(roi_id, hashlib.sha256(store.read_image(roi_id).tobytes()).hexdigest())
"""


def local_pixels(root: Path, pid: str) -> list[str]:
    directory = SyncIfcbDataDirectory(root)
    return [f"{r} {hashlib.sha256(directory.read_image(r).tobytes()).hexdigest()}" for r in directory.list_roi_ids(pid)]


@pytest.mark.parametrize("validators", [False, True], ids=["content-length", "etag"])
def test_a_cache_dir_never_serves_a_bin_the_server_replaced(serve, site, tmp_path, validators):
    """A second process used the .roi kept by the first, with the new ADC's offsets: old pixels. ifcbdb
    sends only Content-Length (the replacement here is longer); with an ETag, a replacement of the
    same size is found too."""
    pid = "D20240305T120000_IFCB010"
    root = tmp_path / "served"
    write_bin(root, pid, _rois(6), seed=1)
    catalog = {pid: SyncIfcbDataDirectory(root).bin_metadata(pid)}
    server = serve(files={pid: root / pid}, catalog=catalog, validators=validators)
    cache = tmp_path / "cache"
    first = subprocess.run([sys.executable, "-c", READ_IN_A_NEW_PROCESS, server.url, pid, cache], capture_output=True,
                           text=True, timeout=60, check=True).stdout.split("\n")[:-1]  # fmt: skip
    assert first == local_pixels(root, pid)
    time.sleep(1.1)  # (a Last-Modified has one-second resolution)
    write_bin(root, pid, _rois(6) if validators else _rois(7), seed=2)  # the server's bin replaced
    assert local_pixels(root, pid) != first
    again = subprocess.run([sys.executable, "-c", READ_IN_A_NEW_PROCESS, server.url, pid, cache], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.split("\n")[:-1] == local_pixels(root, pid)
    assert [r.method for r in server.requests if r.path.endswith(".roi")] == ["GET", "HEAD", "GET"]
    # unchanged, a third process uses the kept file after one HEAD
    third = subprocess.run([sys.executable, "-c", READ_IN_A_NEW_PROCESS, server.url, pid, cache], capture_output=True,
                           text=True, timeout=60, check=True).stdout.split("\n")[:-1]  # fmt: skip
    assert third == local_pixels(root, pid)
    assert [r.method for r in server.requests if r.path.endswith(".roi")] == ["GET", "HEAD", "GET", "HEAD"]


def test_a_second_store_revalidates_a_kept_file(serve, site, tmp_path):
    pid = "D20240305T120000_IFCB010"
    root = tmp_path / "served"
    write_bin(root, pid, _rois(3), seed=1)
    server = serve(files={pid: root / pid}, catalog={pid: SyncIfcbDataDirectory(root).bin_metadata(pid)})
    with DashboardBinStore(server.url, "mvco", cache_dir=tmp_path / "cache") as store:
        store.read_images(pid, [1])
        store.rangeless = True
        store.read_images(pid, [2])
    (root / f"{pid}.roi").unlink()  # gone from the server
    with DashboardBinStore(server.url, "mvco", cache_dir=tmp_path / "cache") as store:
        store.rangeless = True
        with pytest.raises(IfcbError, match=rf"{pid}\.roi does not exist"):
            store.read_images(pid, [1])
    assert not (tmp_path / "cache" / "mvco" / f"{pid}.roi").exists()


@pytest.mark.parametrize("where", ["a file", "under /proc"])
def test_an_unusable_cache_dir_is_an_error_naming_it_before_any_download(serve, tmp_path, where):
    server = serve()
    cache = tmp_path / "cache" if where == "a file" else Path("/proc/ifcbkit-cache")
    if where == "a file":
        cache.write_text("not a directory")
    with pytest.raises(StoreError, match=rf"cache_dir '{cache}' cannot hold files"):
        DashboardBinStore(server.url, "mvco", cache_dir=cache)
    with pytest.raises(IfcbError, match=rf"cache_dir '{cache}'"):
        AsyncDashboardBinStore(server.url, "mvco", cache_dir=cache)
    assert server.requests == []


# ----- deadline= bounds a call -----------------------------------------------------------------------


async def test_a_deadline_bounds_the_whole_call_retries_included(face, site):
    """A drip-fed read with deadline=3 and 3 retries ran 13.3 s: the deadline bounded each attempt."""
    pid = site["pids"][0]
    behaviour = DashboardBehaviour(ranges=False, drip=0.25)  # a 160-byte chunk a second: minutes for the header
    with DashboardServer(site["files"], {}, behaviour=behaviour) as server:
        store = (DashboardBinStore if face == "sync" else AsyncDashboardBinStore)(
            server.url, "mvco", timeout=1, deadline=1.5, retries=3, backoff=0.01
        )
        try:
            with pytest.raises(StoreError, match=rf"{pid}\.hdr failed after 1 attempts .*within the 1\.5 s deadline"):
                await resolve(store.read_header(pid))
        finally:
            await resolve(store.close() if face == "sync" else store.aclose())
    assert len(server.requests) == 1  # no retry past the call's deadline (there were 4)


async def test_a_deadline_bounds_a_listing_of_many_requests(face, serve):
    server = serve(behaviour=DashboardBehaviour(ranges=False, delay=0.4))
    store = (DashboardBinStore if face == "sync" else AsyncDashboardBinStore)(server.url, "mvco", deadline=1)
    try:
        with pytest.raises(StoreError, match="within the 1 s deadline"):
            await resolve(store.list_metadata("2024-03-01", "2024-03-06", chunk_days=1))  # five requests
    finally:
        await resolve(store.close() if face == "sync" else store.aclose())
    assert len(server.requests) < 5


async def test_without_a_deadline_each_request_has_its_own_bound_and_is_retried(face, site, monkeypatch):
    monkeypatch.setattr(dashboard_module, "REQUEST_DEADLINE", 0.5)
    pid = site["pids"][0]
    with DashboardServer(site["files"], {}, behaviour=DashboardBehaviour(ranges=False, drip=0.3)) as server:
        store = (DashboardBinStore if face == "sync" else AsyncDashboardBinStore)(
            server.url, "mvco", timeout=1, retries=1, backoff=0.001
        )
        try:
            with pytest.raises(StoreError, match=r"after 2 attempts \(no complete answer within the 0\.5 s deadline"):
                await resolve(store.read_header(pid))
        finally:
            await resolve(store.close() if face == "sync" else store.aclose())
    assert len(server.requests) == 2
