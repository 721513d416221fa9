"""Straight from a dashboard: listing a dataset, reading its products, and daily abundance, against
a lookalike of ifcbdb on 127.0.0.1 (no Range support, ``export_metadata`` with an inclusive end date
and 404s, class-score/feature/blob routes, ``/api/bin`` with previous/next ids). Its answers equal
the same bins and products laid out as a local tree."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import math
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ifcbkit import SyncIfcbDataDirectory, daily_abundance, read_class_scores, read_features
from ifcbkit.errors import FormatError, NotFoundError, ProductNotFoundError, SkippedBinWarning
from ifcbkit.jobs.dashboard_abundance import daily_abundance_from_dashboard
from ifcbkit.stores.dashboard import AsyncDashboardBinStore, DashboardBinStore
from ifcbkit.testing import Roi, write_bin
from servers import DashboardBehaviour, DashboardServer, temporary_directory

CLASSES = ("Guinardia", "Chaetoceros", "detritus")
DAYS = ("20240301", "20240302", "20240303")
SKIPPED = "D20240302T030000_IFCB010"  # flagged skip on the dashboard (under skip/ locally)
NO_SCORES = "D20240303T020000_IFCB010"  # no class scores anywhere


def scores_for(pid: str, n: int) -> dict[int, tuple[float, ...]]:
    seed = sum(map(ord, pid))
    return {t: ((seed + t) % 5 / 5, (seed + 2 * t) % 7 / 7, 0.3) for t in range(1, n + 1)}


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    """A local tree (raw bins and products) and the catalog a dashboard would hold for it."""
    with temporary_directory() as root:
        pids = [f"D{day}T{h:02d}0000_IFCB010" for day in DAYS for h in range(5)]
        products: dict[str, dict[str, Path]] = {}
        for b, pid in enumerate(pids):
            n = 4 + b % 5
            timing = [{"ADCtime": 2.0 * t, "RunTime": 2.0 * t + 0.05, "InhibitTime": 0.02 * t} for t in range(1, n + 1)]
            rois = [Roi(width=4 + t % 3, height=3, columns=columns) for t, columns in enumerate(timing, 1)]
            where = root / "data" / ("skip" if pid == SKIPPED else pid[:9])
            write_bin(where, pid, rois, seed=b, header={"gpsLatitude": 41.3 + b / 100, "gpsLongitude": -70.5})
            if pid == NO_SCORES:
                continue
            path = root / "products" / pid[:9] / f"{pid}_class_scores.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [",".join(("pid", *CLASSES))]
            lines += [",".join((f"{pid}_{t:05d}", *map(repr, row))) for t, row in scores_for(pid, n).items()]
            path.write_text("\n".join(lines) + "\n")
            products[pid] = {"class_scores": path}
        first = pids[0]
        features = root / "products" / f"{first}_features_v4.csv"
        features.write_text("roi_number,Area,Biovolume\n1,12,3.5\n2,30,7.25\n")
        blobs = root / "products" / f"{first}_blobs_v4.zip"
        with zipfile.ZipFile(blobs, "w") as archive:
            for t in (1, 2):
                image = io.BytesIO()
                Image.new("1", (5, 3), 1).save(image, "PNG")
                archive.writestr(f"{first}_{t:05d}.png", image.getvalue())
        products[first].update(features=features, blobs=blobs)
        directory = SyncIfcbDataDirectory(root / "data", include=["data", "skip"], exclude=[])  # all of them
        files, catalog = {}, {}
        for fileset in directory.list():
            meta = directory.bin_metadata(fileset["pid"])
            catalog[fileset["pid"]] = {**meta, "skip": fileset["pid"] == SKIPPED}
            files[fileset["pid"]] = Path(fileset["hdr"]).with_suffix("")
        yield {"root": root, "pids": pids, "catalog": catalog, "files": files, "products": products}


@pytest.fixture
def serve(site) -> Iterator[Any]:
    with contextlib.ExitStack() as stack:

        def start(dataset: str | None = "mvco", products: Any = None, **behaviour: Any) -> DashboardServer:
            behaviour.setdefault("ranges", False)  # ifcbdb's FileResponse honours no Range
            server = DashboardServer(site["files"], {}, dataset=dataset, behaviour=DashboardBehaviour(**behaviour),
                                     catalog=site["catalog"], products=site["products"] if products is None
                                     else products)  # fmt: skip
            return stack.enter_context(server)

        yield start


def plain(rows: list[dict[str, Any]], *, without: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items() if k not in without}
            for r in rows]  # fmt: skip


# ----- listing ----------------------------------------------------------------------------------


def test_the_listing_comes_from_export_metadata_with_the_metadata_of_each_bin(serve, site):
    server = serve()
    with DashboardBinStore(server.url, "mvco") as store:
        listing = store.list_metadata("2024-03-01", "2024-03-04")
    assert listing.method == "export_metadata" and listing.problems == []
    assert [b.pid for b in listing.bins] == site["pids"]
    for listed in listing.bins:
        local = site["catalog"][listed.pid]
        assert (listed.ml_analyzed, listed.lat, listed.lng) == (local["ml_analyzed"], local["lat"], local["lng"])
        assert (listed.n_images, listed.skip) == (local["num_images"], listed.pid == SKIPPED)
    assert [r.path for r in server.requests] == ["/api/export_metadata/mvco"]  # one request, none per bin
    assert "start_date=2024-03-01" in server.requests[0].query and "end_date=2024-03-03" in server.requests[0].query


def test_the_end_is_exact_and_chunks_are_requests(serve, site):
    server = serve()
    with DashboardBinStore(server.url, "mvco") as store:
        noon = store.list_metadata("2024-03-01", "2024-03-02T02:30", chunk_days=1)
        assert [b.pid for b in noon.bins] == site["pids"][:8]  # the dashboard sends the whole last day
        assert len(server.requests) == 2
        assert list(store.list_bins("2024-03-02", include_skip=False)) == [p for p in site["pids"][5:] if p != SKIPPED]


def test_without_export_metadata_the_listing_walks_next_bin_ids(serve, site):
    server = serve(export_metadata=False)
    with DashboardBinStore(server.url, "mvco") as store:
        listing = store.list_metadata("2024-03-01T02:00", "2024-03-03")
    assert listing.method == "walk"
    assert [b.pid for b in listing.bins] == site["pids"][2:10]
    assert [b.ml_analyzed for b in listing.bins] == pytest.approx(
        [site["catalog"][p]["ml_analyzed"] for p in site["pids"][2:10]], abs=5e-4
    )  # the API rounds to 3 digits


def test_an_unknown_dataset_and_an_empty_range(serve):
    server = serve()
    with DashboardBinStore(server.url, "nowhere") as store, pytest.raises(NotFoundError, match="no dataset 'nowhere'"):
        store.list_metadata("2024-03-01", "2024-03-04")
    with DashboardBinStore(server.url, "mvco") as store:
        assert store.list_metadata("2023-01-01", "2023-02-01").bins == []
        assert store.list_datasets() == ["mvco"]


def test_a_malformed_listing_row_is_a_problem_naming_the_url_and_line(serve, site):
    server = serve()
    original = server._ifcbdb_api

    def broken(method, path, query, body):
        answer = original(method, path, query, body)
        if answer is None or not path.startswith("/api/export_metadata"):
            return answer
        lines = answer[2].decode().split("\r\n")
        lines[3] = lines[3].replace(",0\r", ",maybe\r").rsplit(",", 1)[0] + ",maybe"  # skip is neither 0 nor 1
        return answer[0], answer[1], "\r\n".join(lines).encode()

    server._ifcbdb_api = broken  # type: ignore[method-assign]
    with DashboardBinStore(server.url, "mvco") as store:
        listing = store.list_metadata("2024-03-01", "2024-03-04")
        with pytest.warns(SkippedBinWarning, match=r"export_metadata/mvco\?.*line 4") as caught:
            assert len(list(store.list_bins("2024-03-01", "2024-03-04"))) == len(site["pids"]) - 1
    assert [w.filename for w in caught] == [__file__]  # the warning points at the caller's line
    [problem] = listing.problems
    assert problem.pid == site["pids"][2] and problem.error.line == 4 and "skip is 'maybe'" in str(problem.error)
    result = daily_abundance_from_dashboard(server.url, "mvco", threshold=0.5, start_time="2024-03-01")
    [reported] = [s for s in result.skipped if s.pid == site["pids"][2]]
    assert reported.error and "unreadable listing row" in reported.reason and "line 4" in reported.reason


# ----- products ---------------------------------------------------------------------------------


def test_products_over_http_read_as_local_files(serve, site):
    server = serve()
    first = site["pids"][0]
    with DashboardBinStore(server.url, "mvco") as store:
        scores = store.read_class_scores(first)
        assert scores == read_class_scores(site["products"][first]["class_scores"])
        assert store.read_features(first) == read_features(site["products"][first]["features"])
        assert [roi_id for roi_id, _ in store.read_blobs(first)] == [f"{first}_00001", f"{first}_00002"]
        with pytest.raises(ProductNotFoundError, match=f"no class scores for {NO_SCORES}"):
            store.read_class_scores(NO_SCORES)
        with pytest.raises(ProductNotFoundError):
            store.read_features(site["pids"][1])
        store.read_class_scores(first, version=2, model="resnet")
    assert server.requests[-1].query == "v=2&model=resnet"
    with DashboardBinStore(server.url, None) as store:  # no dataset: /data/ routes (no class scores there)
        assert store.read_features(first) == read_features(site["products"][first]["features"])
        with pytest.raises(ProductNotFoundError, match="served per dataset"):
            store.read_class_scores(first)
    assert server.requests[-1].path == f"/data/{first}_features.csv"


def test_a_malformed_class_score_file_names_the_url_and_line(serve, site, tmp_path):
    bad = tmp_path / "bad.csv"
    first = site["pids"][0]
    bad.write_text(f"pid,Guinardia\n{first}_00001,0.5\n{first}_00002,lots\n")
    server = serve()
    server.products = {**site["products"], first: {"class_scores": bad}}
    with DashboardBinStore(server.url, "mvco") as store, pytest.raises(FormatError) as e:
        store.read_class_scores(first)
    assert e.value.line == 3 and f"/mvco/{first}_class_scores.csv" in str(e.value)
    result = daily_abundance_from_dashboard(server.url, "mvco", threshold=0.5, start_time="2024-03-01")
    [skipped] = [s for s in result.skipped if s.pid == first]
    assert skipped.error and "line 3" in skipped.reason


# ----- abundance --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [None, "adc"])
def test_abundance_from_the_dashboard_equals_the_local_tree(serve, site, method):
    server = serve()
    root = site["root"]
    local = daily_abundance(root / "data", root / "products", threshold=0.5, workers=1)
    remote = daily_abundance_from_dashboard(server.url, "mvco", threshold=0.5, start_time="2024-03-01",
                                            end_time="2024-03-04", method=method)  # fmt: skip
    if method is None:  # the dashboard's volumes, labelled as such
        assert plain(remote.rows, without=("ml_analyzed_method",)) == plain(local.rows, without=("ml_analyzed_method",))
        assert {r["ml_analyzed_method"] for r in remote.rows} == {"dashboard"}
    else:
        assert plain(remote.rows) == plain(local.rows)
    assert sorted((s.pid, s.reason, s.error) for s in remote.skipped) == [
        (SKIPPED, "flagged skip on the dashboard", False),
        (NO_SCORES, "no class scores", False),
    ]
    assert sorted(s.pid for s in local.skipped) == [SKIPPED, NO_SCORES]  # locally: class scores, but under skip/
    listing_requests = [r for r in server.requests if "export_metadata" in r.path]
    assert len(listing_requests) == 1 and not [r for r in server.requests if r.path.startswith("/api/bin/")]


def test_class_scores_are_fetched_with_bounded_concurrency(serve, site):
    server = serve(delay=0.05)
    daily_abundance_from_dashboard(server.url, "mvco", threshold=0.5, start_time="2024-03-01", max_concurrency=3)
    assert server.max_inflight == 3


# ----- servers without Range ---------------------------------------------------------------------


def test_a_rangeless_server_sends_a_bins_roi_once(serve, site, face, tmp_path):
    server = serve()
    pid = site["pids"][0]
    roi_ids = SyncIfcbDataDirectory(site["root"] / "data").list_roi_ids(pid)
    expected = {r: SyncIfcbDataDirectory(site["root"] / "data").read_image(r).tobytes() for r in roi_ids}
    picks = [roi_ids[k % len(roi_ids)] for k in range(100)]
    if face == "sync":
        with DashboardBinStore(server.url, "mvco") as store:
            images = [store.read_image(r) for r in picks]
            assert store.rangeless
    else:

        async def reads() -> list[Any]:
            async with AsyncDashboardBinStore(server.url, "mvco") as store:
                return await asyncio.gather(*(store.read_image(r) for r in picks))  # concurrent first reads

        images = asyncio.run(reads())
    assert [i.tobytes() for i in images] == [expected[r] for r in picks]
    roi_size = site["files"][pid].with_suffix(".roi").stat().st_size
    assert server.served[f"/mvco/{pid}.roi"] == roi_size  # downloaded once, not 100 times


def test_a_cache_dir_keeps_whole_files_on_disk(serve, site, tmp_path):
    server = serve()
    pid = site["pids"][1]
    cache = tmp_path / "cache"
    for _ in range(2):  # a second store finds the file the first one kept
        with DashboardBinStore(server.url, "mvco", cache_dir=cache) as store:
            for roi_id in SyncIfcbDataDirectory(site["root"] / "data").list_roi_ids(pid):
                store.read_image(roi_id)
                store.rangeless = True  # (a new store learns it again from its first answer)
    assert (cache / "mvco" / f"{pid}.roi").stat().st_size == site["files"][pid].with_suffix(".roi").stat().st_size
    assert server.served[f"/mvco/{pid}.roi"] == (cache / "mvco" / f"{pid}.roi").stat().st_size
    assert not list(cache.rglob("*.part"))


# ----- the command line -------------------------------------------------------------------------


def ifcbkit(*args: Any, **options: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ifcbkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, **options)  # fmt: skip


def day_files(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith("_daily_summary_long.csv"))


def test_the_cli_computes_abundance_from_a_dashboard_and_resumes_by_day(serve, site, tmp_path):
    server = serve()
    daily = tmp_path / "daily"
    out = tmp_path / "all.csv"
    args = ["abundance", "--dashboard", server.url, "--dataset", "mvco", "--start", "2024-03-01", "--end",
            "2024-03-04", "--threshold", "0.5", "--daily-dir", daily, "--out", out]  # fmt: skip
    first = ifcbkit(*args)
    assert first.returncode == 0, first.stderr
    everything = out.read_text()
    assert day_files(daily) == [f"{d}_daily_summary_long.csv" for d in DAYS]
    local = daily_abundance(site["root"] / "data", site["root"] / "products", threshold=0.5, workers=1)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["date"], r["class"], r["count"]) for r in rows] == [
        (r["date"], r["class"], str(r["count"])) for r in local.rows
    ]
    assert f"skipped {SKIPPED}: flagged skip on the dashboard" in first.stderr
    scores_fetched = len([r for r in server.requests if r.path.endswith("_class_scores.csv")])
    (daily / f"{DAYS[2]}_daily_summary_long.csv").unlink()  # as if the run had stopped before the last day
    again = ifcbkit(*args)
    assert again.returncode == 0, again.stderr
    assert "2 days reused from" in again.stderr
    fetched_again = len([r for r in server.requests if r.path.endswith("_class_scores.csv")]) - scores_fetched
    assert fetched_again == 5  # the last day's five bins (one answers 404), and no others
    assert out.read_text() == everything  # the days read back and the day computed again: the same CSV
    assert day_files(daily) == [f"{d}_daily_summary_long.csv" for d in DAYS]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "nowhere"], "no dataset 'nowhere' on http://127.0.0.1:"),
        (
            ["--dataset", "mvco", "--start", "2020-01-01", "--end", "2020-02-01"],
            "no bins in dataset 'mvco' in that range",
        ),
        (["ROOT", "--dataset", "mvco"], "give no ROOT or PRODUCTS"),
        ([], "--dashboard needs --dataset NAME"),
    ],
)
def test_bad_dashboard_runs_fail_clearly(serve, extra, message):
    server = serve()
    url = server.url.replace("http://", "http://reader:s3cr3t@")
    result = ifcbkit("abundance", "--dashboard", url, *extra)
    assert result.returncode != 0 and message in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout and "Traceback" not in result.stderr


# ----- --daily-dir against a dashboard: what a re-run may reuse ------------------------------------


def day_numbers(text: str, day: str) -> list[tuple[str, int, float]]:
    """``(class, count, ml_analyzed_total)`` of one day's rows of a CSV."""
    return [(r["class"], int(r["count"]), float(r["ml_analyzed_total"]))
            for r in csv.DictReader(io.StringIO(text)) if r["date"] == day]  # fmt: skip


def local_numbers(site, day: str, threshold: float = 0.5) -> list[tuple[str, int, float]]:
    local = daily_abundance(site["root"] / "data", site["root"] / "products", threshold=threshold, workers=1)
    return [(r["class"], r["count"], r["ml_analyzed_total"]) for r in local.rows if r["date"] == day]


def test_a_bin_that_failed_with_a_500_is_counted_by_the_re_run(serve, site, tmp_path):
    """Regression: a bin whose class scores failed (500s past the retries) was left out of its day's
    file, which the re-run reused with exit 0: the bin was lost for good."""
    failing = site["pids"][1]
    server = serve(fail_paths={f"/{failing}_class_scores.csv": 4})  # 1 try + 3 retries
    daily, out = tmp_path / "daily", tmp_path / "out.csv"
    args = ["abundance", "--dashboard", server.url, "--dataset", "mvco", "--start", "2024-03-01", "--end",
            "2024-03-02", "--threshold", "0.5", "--daily-dir", daily, "--out", out]  # fmt: skip
    first = ifcbkit(*args)
    assert first.returncode == 1 and f"skipped {failing}: unreadable class scores" in first.stderr
    expected = local_numbers(site, "2024-03-01")
    short = day_numbers(out.read_text(), "2024-03-01")
    assert [n[1] for n in short] != [n[1] for n in expected]  # the first run is short of one bin
    manifest = json.loads((daily / "ifcbkit-daily-manifest.json").read_text())["days"]["2024-03-01"]
    assert manifest["complete"] is False and manifest["errors"][0]["pid"] == failing
    again = ifcbkit(*args)
    assert again.returncode == 0, again.stderr
    assert "2024-03-01 counted again: 1 bins had errors then" in again.stderr
    numbers = day_numbers(out.read_text(), "2024-03-01")
    assert [(c, n) for c, n, _ in numbers] == [(c, n) for c, n, _ in expected]
    assert [ml for *_, ml in numbers] == pytest.approx([ml for *_, ml in expected], rel=1e-9)


def test_a_day_file_from_another_dashboard_is_not_reused(serve, site, tmp_path):
    """Regression: a re-run against another dashboard printed the first dashboard's rows."""
    first_server = serve()
    second = serve(products={pid: kinds for pid, kinds in site["products"].items() if pid[-13:-11] in "00 01"})
    daily, out = tmp_path / "daily", tmp_path / "out.csv"
    common = ["--dataset", "mvco", "--start", "2024-03-01", "--end", "2024-03-02", "--threshold", "0.5"]
    assert ifcbkit("abundance", "--dashboard", first_server.url, *common, "--daily-dir", daily).returncode == 0
    direct = ifcbkit("abundance", "--dashboard", second.url, *common)
    again = ifcbkit("abundance", "--dashboard", second.url, *common, "--daily-dir", daily, "--out", out)
    assert again.returncode == 0, again.stderr
    assert f"made with other settings (dashboard '{first_server.url}', now '{second.url}')" in again.stderr
    assert out.read_text() == direct.stdout
    assert day_numbers(direct.stdout, "2024-03-01") != local_numbers(site, "2024-03-01")  # the two differ


def test_a_bin_classified_after_the_first_run_is_counted_by_the_re_run(serve, site, tmp_path):
    """Regression: a day reused from its file kept leaving out a bin that had no class scores then."""
    day = "2024-03-03"
    products = {pid: kinds for pid, kinds in site["products"].items() if pid != site["pids"][-1]}
    server = serve(products=products)
    daily, out = tmp_path / "daily", tmp_path / "out.csv"
    args = ["abundance", "--dashboard", server.url, "--dataset", "mvco", "--start", day, "--end", "2024-03-04",
            "--threshold", "0.5", "--daily-dir", daily, "--out", out]  # fmt: skip
    first = ifcbkit(*args)
    assert first.returncode == 0 and f"skipped {site['pids'][-1]}: no class scores" in first.stderr
    manifest = json.loads((daily / "ifcbkit-daily-manifest.json").read_text())["days"][day]
    assert manifest["complete"] is True
    assert manifest["no_class_scores"] == sorted([NO_SCORES, site["pids"][-1]])
    fetched = len(server.statuses("_class_scores.csv"))
    unchanged = ifcbkit(*args)
    assert unchanged.returncode == 0 and "1 days reused" in unchanged.stderr
    assert len(server.statuses("_class_scores.csv")) - fetched == 2  # only the two bins without scores are asked
    products[site["pids"][-1]] = site["products"][site["pids"][-1]]  # classified since
    again = ifcbkit(*args)
    assert again.returncode == 0, again.stderr
    assert f"{day} counted again: 1 of its bins without class scores answer otherwise now" in again.stderr
    assert [(c, n) for c, n, _ in day_numbers(out.read_text(), day)] == [
        (c, n) for c, n, _ in local_numbers(site, day)]  # fmt: skip
