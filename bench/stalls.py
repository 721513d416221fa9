"""The worst event-loop stall of two CPU-heavy dashboard jobs, before and after, in one run.

    python bench/stalls.py [--before REF] [--bins 40000] [--scores 300] [--repeat 3]

A ticker task sleeps 1 ms at a time and records the longest gap between its wake-ups (the worst
time the loop could not run anything else) while, on the same loop:

- ``listing``: ``AsyncDashboardBinStore.list_metadata`` lists ``--bins`` bins (about 140 days of
  bins, so a few ``/api/export_metadata`` answers of thousands of rows);
- ``counting``: ``adaily_abundance_from_dashboard`` parses and counts ``--scores`` bins' class
  scores (200 ROIs by 50 classes each), 8 connections.

Before the measurement, the child warms its connections and imports, then collects its garbage once:
a fresh interpreter's first full collection after importing ``httpx`` and ``ifcbkit`` (about 38,000
objects) takes 10-20 ms here, and falls in whatever runs next; a long-running service made it long
before (the listing itself leaves nothing the collector tracks: its rows are tuples of numbers and
strings, which it untracks).

The ifcbdb lookalike (``tests/servers.py``) runs in a process of its own, so its threads do not
share the measured process's interpreter lock. Each measurement runs in a fresh Python process with
``PYTHONPATH`` set to the source tree it measures; ``--before REF`` measures the git revision REF
too (its ``src`` exported to a temporary directory). The figure is the median over ``--repeat``
runs of each job's worst stall. The README's bound is 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "bench"))
sys.path.insert(0, str(HERE / "tests"))

START = datetime(2024, 3, 1, tzinfo=timezone.utc)
CLASSES = 50
ROIS = 200

# Run in the child: prints {"stall_ms": ..., "seconds": ..., "result": ...}.
CHILD = r"""
import asyncio, gc, json, sys, time
from datetime import datetime, timedelta, timezone
case, url, start, end = sys.argv[1:5]
from ifcbkit.stores.dashboard import AsyncDashboardBinStore
from ifcbkit.jobs.dashboard_abundance import adaily_abundance_from_dashboard

async def ticker(stop, worst):
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last)
        last = now

async def job(store):
    if case == "listing":
        listing = await store.list_metadata(start, end)
        return len(listing.bins)
    result = await adaily_abundance_from_dashboard(store, threshold=0.5, start_time=start, end_time=end)
    return sum(row["count"] for row in result.rows)

async def run():
    async with AsyncDashboardBinStore(url, "mvco", max_concurrency=8) as store:
        await store.list_datasets()  # connections and imports warmed before the measurement
        gc.collect()  # and the start-up's garbage collected, as a long-running service's long was
        stop, worst = asyncio.Event(), [0.0]
        tick = asyncio.create_task(ticker(stop, worst))
        await asyncio.sleep(0.01)
        worst[0] = 0.0
        t = time.perf_counter()
        result = await job(store)
        seconds = time.perf_counter() - t
        stop.set()
        await tick
        return {"stall_ms": round(worst[0] * 1000, 2), "seconds": round(seconds, 3), "result": result}

print(json.dumps(asyncio.run(run())))
"""


def listing_catalog(n: int) -> dict[str, dict[str, Any]]:
    """``n`` bins over 140 days, as a dashboard's catalog."""
    step = timedelta(days=140) / n
    catalog = {}
    for b in range(n):
        when = START + step * b
        pid = when.strftime("D%Y%m%dT%H%M%S_IFCB010") if step >= timedelta(seconds=1) else f"D{b}"
        catalog[pid] = {"pid": pid, "timestamp_iso": when.isoformat(), "instrument": "IFCB10", "num_images": 100,
                        "ml_analyzed": round(0.05 + (b % 13) / 100, 3), "lat": 41.325, "lng": -70.5667}  # fmt: skip
    assert len(catalog) == n, "bins closer than a second apart"
    return catalog


def scores_site(root: Path, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``n`` bins over 14 days with class scores of ``ROIS`` rows by ``CLASSES`` classes (no raw files:
    the job reads the listing and the class scores only)."""
    step = timedelta(days=14) / n
    catalog, products = {}, {}
    names = [f"class{c:02d}" for c in range(CLASSES)]
    for b in range(n):
        when = START + step * b
        pid = when.strftime("D%Y%m%dT%H%M%S_IFCB010")
        lines = [",".join(("pid", *names))]
        for t in range(1, ROIS + 1):
            row = [((b * 7 + t * 3 + c * 5) % 97) / 97 for c in range(CLASSES)]
            lines.append(",".join((f"{pid}_{t:05d}", *(f"{v:.6f}" for v in row))))
        path = root / f"{pid}_class_scores.csv"
        path.write_text("\n".join(lines) + "\n")
        products[pid] = {"class_scores": path}
        catalog[pid] = {"pid": pid, "timestamp_iso": when.isoformat(), "instrument": "IFCB10", "num_images": ROIS,
                        "ml_analyzed": round(0.05 + (b % 13) / 100, 3), "lat": 41.325, "lng": -70.5667}  # fmt: skip
    return catalog, products


def measure(src: Path, case: str, url: str, start: datetime, end: datetime) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", CHILD, case, url, start.isoformat(), end.isoformat()], env=env,
                         capture_output=True, text=True)  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"{case} with {src} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    from dashboard import served  # bench/dashboard.py: the lookalike in a process of its own
    from servers import DashboardBehaviour

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="a git revision to measure too (e.g. main)")
    parser.add_argument("--bins", type=int, default=40_000)
    parser.add_argument("--scores", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ifcbkit-bench-stalls-") as tmp:
        trees = {"after": HERE / "src"}
        if args.before:
            before = Path(tmp) / "before"
            before.mkdir()
            archive = subprocess.run(["git", "-C", str(HERE), "archive", args.before, "src"], capture_output=True,
                                     check=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            trees = {"before": before / "src", **trees}
        catalog, products = scores_site(Path(tmp), args.scores)
        jobs = [("listing", listing_catalog(args.bins), {}, START + timedelta(days=140)),
                ("counting", catalog, products, START + timedelta(days=14))]  # fmt: skip
        print(f"{'job':<10}" + "".join(f"{name + ' (worst stall, time)':>34}" for name in trees))
        for case, site, site_products, end in jobs:
            row = f"{case:<10}"
            with served({}, site, site_products, DashboardBehaviour(ranges=False)) as (url, _):
                results = {name: [measure(src, case, url, START, end) for _ in range(args.repeat)]
                           for name, src in trees.items()}  # fmt: skip
            answers = {json.dumps(r["result"]) for runs in results.values() for r in runs}
            assert len(answers) == 1, f"the trees disagree: {answers}"
            for runs in results.values():
                stall = statistics.median(r["stall_ms"] for r in runs)
                seconds = statistics.median(r["seconds"] for r in runs)
                row += f"{stall:>20.1f} ms {seconds:>8.2f} s  "
            print(row, flush=True)
        print(f"listing: {args.bins:,} bins; counting: {args.scores} bins x {ROIS} ROIs x {CLASSES} classes;"
              f" median of {args.repeat} runs each")  # fmt: skip


if __name__ == "__main__":
    main()
