"""Metrics over a 20,075-bin year tree: the process pool against a 2-worker Dask LocalCluster.

    python bench/cluster.py [--repeat 5] [--markdown FILE]

Each bin holds a real-sized header and a 40-line ADC (the same bytes for every bin), so each bin's
metrics parse real content. Both sides run in this process, alternately, on the same tree, with 2
processes each; the cluster is started once, before the timing (its start-up is reported apart).
Target: Dask no slower than 1.3 times the pool. Also reported: the peak resident memory of each
Dask worker and of the pool's processes.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import distributed

import ifcbkit
import ifcbkit.dask as on_dask
from ifcbkit.jobs.batch import iter_bin_metadata
from ifcbkit.testing import Roi, make_bin

YEAR = 2023
TEMPLATE_PID = f"D{YEAR}0101T000020_IFCB010"


def make_year_tree(root: Path, n_bins: int = 20075) -> list[str]:
    """A year of D-style bins (``data/D2023/D2023MMDD/``), each a copy of one small real-shaped bin."""
    timing = [{"ADCtime": 0.5 * k, "RunTime": 0.5 * k + 0.05, "InhibitTime": 0.01 * k} for k in range(1, 41)]
    rois = [Roi(width=20 + k % 7, height=10 + k % 5, columns=timing[k - 1]) for k in range(1, 41)]
    files = make_bin(TEMPLATE_PID, rois, seed=3)
    start = datetime(YEAR, 1, 1)
    per_day = n_bins / 365
    pids = []
    for day in range(365):
        when = start + timedelta(days=day)
        directory = root / "data" / f"D{YEAR}" / when.strftime("D%Y%m%d")
        directory.mkdir(parents=True)
        for i in range(round(per_day * (day + 1)) - round(per_day * day)):
            pid = (when + timedelta(seconds=20 + i * 1500)).strftime("D%Y%m%dT%H%M%S") + "_IFCB010"
            for ext, data in zip(("hdr", "adc", "roi"), files):
                (directory / f"{pid}.{ext}").write_bytes(data)
            pids.append(pid)
    return pids


def worker_peak_rss() -> int:
    """This process's peak resident memory, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each side (default 5)")
    parser.add_argument("--markdown", type=Path, help="also write the results as Markdown to this file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ifcbkit-bench-dask-"))
    try:
        print("generating the year tree ...", file=sys.stderr, flush=True)
        pids = make_year_tree(tmp)
        root = tmp / "data"
        serial = list(iter_bin_metadata(root, workers=2))
        assert [r["pid"] for r in serial] == pids
        started = time.perf_counter()
        with (
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=":0") as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            startup = time.perf_counter() - started
            pool_times, dask_times = [], []
            for _ in range(args.repeat):  # alternately, so that both see the same machine
                t0 = time.perf_counter()
                rows = list(iter_bin_metadata(root, workers=2))
                pool_times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                result = on_dask.metrics(root, scheduler=client)
                dask_times.append(time.perf_counter() - t0)
                assert [r["pid"] for r in result.rows] == [r["pid"] for r in rows] and not result.failures
            peaks = sorted(client.run(worker_peak_rss).values())
        pool_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pool, dask = statistics.median(pool_times), statistics.median(dask_times)
    ratio = dask / pool
    rows_md = [
        "| operation | median | ratio to pool | target | met |",
        "|---|---|---|---|---|",
        f"| metrics, {len(pids)} bins, process pool (2 processes) | {pool:.2f} s | | | |",
        f"| metrics, {len(pids)} bins, Dask LocalCluster (2 workers) | {dask:.2f} s | {ratio:.2f}x | ≤ 1.3x |"
        f" {'yes' if ratio <= 1.3 else 'NO'} |",
        f"| LocalCluster start-up (not in the timing) | {startup:.2f} s | | | |",
        f"| peak memory per Dask worker | {', '.join(f'{p / 2**20:.0f} MiB' for p in peaks)} | | | |",
        f"| peak memory of a pool process | {pool_peak / 2**20:.0f} MiB | | | |",
    ]
    machine = (f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, ifcbkit "
               f"{ifcbkit.__version__}, dask {distributed.__version__}")  # fmt: skip
    print("\n".join(rows_md))
    print(machine)
    if args.markdown:
        args.markdown.write_text(
            f"`python bench/cluster.py` on {machine}; medians of {args.repeat} alternating runs.\n\n"
            + "\n".join(rows_md)
            + "\n"
        )
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
