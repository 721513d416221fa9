"""Daily abundance from a dashboard: the notebook's method against ``ifcbkit abundance --dashboard``.

    python bench/dashboard.py [--bins 300] [--latency 0.03] [--repeat 3] [--before REF] [--markdown FILE]

An ifcbdb lookalike (``tests/servers.py``) on 127.0.0.1, in a process of its own, serves about two
weeks of generated bins, each with class scores where at least one ROI passes the threshold, and adds
``--latency`` seconds to every request, as a dashboard across the internet would. In the same run,
alternately:

- the notebook's method, written out here: the serial ``/api/bin/{pid}?dataset=`` crawl along
  ``next_bin_id`` (volume from ``"2.851 ml"``), then 8 threads fetching
  ``/{dataset}/{pid}_class_scores.csv``, summed by day;
- ``ifcbkit abundance --dashboard URL --dataset NAME --start --end`` with 8 connections, in a fresh
  Python process per run whose ``PYTHONPATH`` is the source tree measured (``src``, and with
  ``--before REF`` the git revision REF's too): its wall time and the CPU time of that process
  (``resource.getrusage``, user + system, every thread) from calling ``ifcbkit.cli.main`` to its
  return (the interpreter's start-up and imports are not the method's).

Every method must give the same rows. Targets: ifcbkit at least 8x faster than the notebook (about
10x is ideal: one listing request instead of one round trip per bin, and the same rounds of 8
class-score fetches), and at most 0.8 s of CPU for the 300 bins.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import ifcbkit  # noqa: E402
from ifcbkit.testing import Roi, write_bin  # noqa: E402
from servers import DashboardBehaviour, DashboardServer  # noqa: E402

CLASSES = ("Guinardia", "Chaetoceros", "Ciliate", "detritus")
THRESHOLD = 0.5
START = datetime(2024, 3, 1, tzinfo=timezone.utc)


def make_site(root: Path, n_bins: int) -> tuple[dict[str, Path], dict[str, dict[str, Any]], dict[str, Any]]:
    """``n_bins`` bins over 14 days: raw files, class scores (each bin has a ROI over the threshold)
    and the catalog a dashboard would hold (volumes as the dashboard rounds them, to 3 decimals)."""
    files, catalog, products = {}, {}, {}
    step = timedelta(days=14) / n_bins
    for b in range(n_bins):
        when = START + step * b
        pid = when.strftime("D%Y%m%dT%H%M%S_IFCB010")
        n = 10 + b % 20
        write_bin(root / "data" / pid[:9], pid, [Roi(width=8, height=6)] * n, seed=b)
        scores = root / "products" / f"{pid}_class_scores.csv"
        scores.parent.mkdir(parents=True, exist_ok=True)
        lines = [",".join(("pid", *CLASSES))]
        for t in range(1, n + 1):
            row = [((b * 7 + t * 3 + c * 5) % 11) / 11 for c in range(len(CLASSES))]
            row[t % len(CLASSES)] = max(row[t % len(CLASSES)], 0.9 if t == 1 else 0)
            lines.append(",".join((f"{pid}_{t:05d}", *map(repr, row))))
        scores.write_text("\n".join(lines) + "\n")
        files[pid] = root / "data" / pid[:9] / pid
        products[pid] = {"class_scores": scores}
        catalog[pid] = {
            "pid": pid, "timestamp_iso": when.isoformat(), "instrument": "IFCB10", "num_images": n,
            "ml_analyzed": round(0.05 + (b % 13) / 100, 3), "lat": 41.325, "lng": -70.5667, "skip": False,
        }  # fmt: skip
    return files, catalog, products


# ----- the notebook's method --------------------------------------------------------------------


def notebook(url: str, dataset: str, first: str, end: datetime) -> list[dict[str, Any]]:
    """The serial crawl along next_bin_id, then 8 threads fetching class scores, summed by day."""
    bins = []
    with httpx.Client(timeout=30) as client:
        pid: str | None = first
        while pid is not None:
            info = client.get(f"{url}/api/bin/{pid}", params={"dataset": dataset}).json()
            if datetime.fromisoformat(info["timestamp_iso"]) >= end:
                break
            bins.append((pid, float(info["ml_analyzed"].split()[0]), info["lat"], info["lng"]))
            pid = info.get("next_bin_id")

    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=8)) as client:

        def scores(pid: str) -> list[list[str]]:
            text = client.get(f"{url}/{dataset}/{pid}_class_scores.csv").text
            return list(csv.reader(io.StringIO(text)))

        with ThreadPoolExecutor(8) as pool:
            tables = list(pool.map(scores, [b[0] for b in bins]))

    days: dict[str, dict[str, Any]] = {}
    for (pid, ml, lat, lng), table in zip(bins, tables):
        header, rows = table[0][1:], table[1:]
        day = days.setdefault(pid[1:5] + "-" + pid[5:7] + "-" + pid[7:9], {"ml": [], "lat": [], "lng": [],
                                                                           "counts": defaultdict(int)})  # fmt: skip
        day["ml"].append(ml)
        day["lat"].append(lat)
        day["lng"].append(lng)
        for name in header:
            day["counts"][name] += 0
        for row in rows:
            values = [float(v) for v in row[1:]]
            best = max(range(len(values)), key=values.__getitem__)
            if values[best] >= THRESHOLD:
                day["counts"][header[best]] += 1
    out = []
    for date in sorted(days):
        day = days[date]
        total = math.fsum(day["ml"])
        for name, count in day["counts"].items():
            lat, lng = statistics.fmean(day["lat"]), statistics.fmean(day["lng"])
            out.append({"date": date, "latitude": lat, "longitude": lng, "instrument": "IFCB10", "class": name,
                        "count": count, "ml_analyzed_total": total, "objects_per_ml": count / total,
                        "objects_per_L": count / total * 1000, "threshold": THRESHOLD})  # fmt: skip
    return out


# ----- ifcbkit ------------------------------------------------------------------------------------


# Run in the child: ifcbkit.cli.main(args), its wall and CPU time (the child's own, every thread).
CHILD = r"""
import contextlib, io, json, resource, sys, time
from ifcbkit.cli import main
# the modules any run imports, imported before the clock starts (imports are not the method's)
import anyio._backends._asyncio, h11, httpcore._backends.anyio, httpx, ifcbkit.jobs.dashboard_abundance, ssl
args = json.loads(sys.argv[1])
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
c0, t0 = cpu(), time.perf_counter()
with contextlib.redirect_stderr(io.StringIO()):
    status = main(args)
wall, used = time.perf_counter() - t0, cpu() - c0
print(json.dumps({"status": status, "wall": wall, "cpu": used}))
"""


def with_ifcbkit(
    src: Path, url: str, dataset: str, end: datetime, out: Path
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The rows ``ifcbkit abundance --dashboard`` writes, and its wall and CPU seconds."""
    args = ["abundance", "--dashboard", url, "--dataset", dataset, "--start", START.isoformat(), "--end",
            end.isoformat(), "--threshold", str(THRESHOLD), "--out", str(out)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(src))
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ifcbkit from {src} failed:\n{done.stderr}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    assert times["status"] == 0, times
    return list(csv.DictReader(io.StringIO(out.read_text()))), times


def same_rows(ours: list[dict[str, str]], theirs: list[dict[str, Any]]) -> bool:
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs):
        if (a["date"], a["class"], int(a["count"]), a["instrument"]) != (
            b["date"],
            b["class"],
            b["count"],
            b["instrument"],
        ):
            return False
        for key in ("ml_analyzed_total", "objects_per_ml", "latitude", "longitude"):
            if not math.isclose(float(a[key]), b[key], rel_tol=1e-10):  # (the CSV has 12 significant digits)
                return False
    return True


@contextlib.contextmanager
def served(files: Any, catalog: Any, products: Any, behaviour: DashboardBehaviour) -> Iterator[tuple[str, Any]]:
    """The lookalike in a process of its own, as a real dashboard is: its request handling does not
    share this process's interpreter lock with the client being measured."""
    context = multiprocessing.get_context("fork")
    to_child, from_child = context.Queue(), context.Queue()
    process = context.Process(target=_serve, args=(files, catalog, products, behaviour, to_child, from_child))
    process.start()
    try:
        url = from_child.get(timeout=30)

        def requests_made() -> int:
            to_child.put("count")
            return int(from_child.get(timeout=30))

        yield url, requests_made
    finally:
        to_child.put("stop")
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def _serve(files: Any, catalog: Any, products: Any, behaviour: Any, commands: Any, answers: Any) -> None:
    # The lookalike's handler threads wake together after their added latency; with the default 5 ms
    # switch interval they queue for the interpreter lock, a delay of this Python server, not of a dashboard.
    sys.setswitchinterval(0.0005)
    with DashboardServer(files, {}, dataset="mvco", behaviour=behaviour, catalog=catalog, products=products) as server:
        answers.put(server.url)
        while (command := commands.get()) != "stop":
            if command == "count":
                answers.put(len(server.requests))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bins", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to each request (default 0.03)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", help="a git revision to measure too (e.g. main)")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ifcbkit-bench-dashboard-") as tmp:
        root = Path(tmp)
        trees = {"after": REPO / "src"}
        if args.before:
            before = root / "before"
            before.mkdir()
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before, "src"], capture_output=True,
                                     check=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            trees = {"before": before / "src", **trees}
        files, catalog, products = make_site(root, args.bins)
        end = START + timedelta(days=14)
        behaviour = DashboardBehaviour(ranges=False, latency=args.latency)
        with served(files, catalog, products, behaviour) as (url, requests_made):
            first = min(catalog)
            notebook_times: list[float] = []
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            requests: dict[str, int] = {}
            for _ in range(args.repeat):
                seen = requests_made()
                t0 = time.perf_counter()
                theirs = notebook(url, "mvco", first, end)
                notebook_times.append(time.perf_counter() - t0)
                requests["notebook"], seen = requests_made() - seen, requests_made()
                for name, src in trees.items():
                    ours, times = with_ifcbkit(src, url, "mvco", end, root / f"daily-{name}.csv")
                    runs[name].append(times)
                    requests[name], seen = requests_made() - seen, requests_made()
                    assert same_rows(ours, theirs), f"the notebook and ifcbkit ({name}) disagree"
    slow = statistics.median(notebook_times)
    lines = [
        "| method | wall (median) | CPU of the ifcbkit process | speed-up | met (>= 8x, <= 0.8 s CPU) |",
        "|---|---|---|---|---|",
        f"| notebook: serial /api/bin crawl + 8 threads of class scores ({requests['notebook']} requests)"
        f" | {slow:.2f} s | | | |",
    ]
    met = True
    for name, times in runs.items():
        fast = statistics.median(t["wall"] for t in times)
        cpu = statistics.median(t["cpu"] for t in times)
        ok = slow / fast >= 8 and cpu <= 0.8
        met = ok if name == "after" else met
        label = f"`ifcbkit abundance --dashboard` (8 connections, {requests[name]} requests)" + (
            f", {name}" if len(trees) > 1 else ""
        )
        lines.append(f"| {label} | {fast:.2f} s | {cpu:.2f} s | {slow / fast:.1f}x | {'yes' if ok else 'NO'} |")
    machine = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" ifcbkit {ifcbkit.__version__}"
    )
    print("\n".join(lines))
    print(f"{args.bins} bins over 14 days, {args.latency * 1000:.0f} ms added per request, median of {args.repeat}"
          f" runs; {machine}")  # fmt: skip
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
