"""``exists(pid)`` against the 0.3.1 design, on the same 20,075-bin year tree, in one run.

    python bench/exists.py [--design /tmp/design/src] [-n 2000]

Builds the year tree of ``bench/run.py`` (``data/D2023/D2023MMDD/``, three empty files per bin),
waits until its directories are older than :data:`ifcbkit.sources.lookup.RACY_NS` (a directory
changed in the last two seconds is listed afresh at each lookup: a tree just written is not
what a lookup usually meets), and times, for ifcbkit's and 0.3.1's ``SyncIfcbDataDirectory``
in alternation:

- **hit**: a bin of the tree, each asked once (nothing remembered);
- **miss, day exists**: a bin id of an existing day with a time no bin has;
- **miss, no such day**: a bin id of a day with no directory (D2023 holds every day, so the
  next year's).

0.3.1 is imported from its source tree under another package name (``ifcbkit031``, a symlink in
a temporary directory: its imports are relative). Medians per lookup; targets: miss ≥ 1x (ours
no slower) for a miss in a day that exists, hit ≥ 3x; a day that does not exist is shown.
The first misses of ours in each day list that day once; the numbers
below are the steady state of one directory object, and the last row shows the cold one (a new
directory object per lookup, nothing remembered).
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ifcbkit
from run import YEAR, fmt, make_year_tree

try:
    from ifcbkit.sources.lookup import RACY_NS
except ImportError:  # ifcbkit before the lookup remembered directories (to time it with this script)
    RACY_NS = 2_000_000_000


def load_design(src: Path, tmp: Path) -> Any:
    """0.3.1's ``ifcbkit.fileset`` under the package name ``ifcbkit031``."""
    link = tmp / "design"
    link.mkdir()
    (link / "ifcbkit031").symlink_to(src / "ifcbkit", target_is_directory=True)
    sys.path.insert(0, str(link))
    return importlib.import_module("ifcbkit031.fileset")


def pids_on_disk(root: Path) -> list[str]:
    return sorted(p.name[:-4] for p in root.glob("data/D*/D*/*.hdr"))


def paired(
    ours: Callable[[str], bool], theirs: Callable[[str], bool], pids: list[str], expect: bool
) -> tuple[float, float]:
    """Medians of ``ours(pid)`` and ``theirs(pid)``, each pid asked of both in alternation."""
    times: tuple[list[float], list[float]] = ([], [])
    for pid in pids:
        for fn, out in zip((ours, theirs), times):
            t0 = time.perf_counter()
            answer = fn(pid)
            out.append(time.perf_counter() - t0)
            assert answer is expect, (fn, pid, answer)
    return statistics.median(times[0]), statistics.median(times[1])


def missing_pids(rng: random.Random, n: int, year: int) -> list[str]:
    """Bin ids at 23:59:59 (no bin of the tree has that time), on random days of ``year``."""
    start = datetime(year, 1, 1)
    return [
        (start + timedelta(days=rng.randrange(365))).strftime("D%Y%m%dT235959") + f"_IFCB{rng.randrange(1, 999):03d}"
        for _ in range(n)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--design", type=Path, default=Path("/tmp/design/src"), help="0.3.1's source tree")
    parser.add_argument("-n", type=int, default=2000, help="lookups per measurement (default 2000)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ifcbkit-bench-exists-"))
    try:
        design = load_design(args.design, tmp)
        root = tmp / "year"
        made = make_year_tree(root)
        pids = pids_on_disk(root)
        assert len(pids) == made
        time.sleep(RACY_NS / 1e9 + 0.5)  # every directory older than the racy window
        rng = random.Random(4)
        ours = ifcbkit.SyncIfcbDataDirectory(root)
        theirs = design.SyncIfcbDataDirectory(str(root))
        for pid in missing_pids(rng, 400, YEAR):  # the steady state: each day's entries listed once
            ours.exists(pid)
        rows = []
        hit = paired(ours.exists, theirs.exists, rng.sample(pids, args.n), True)
        rows.append(("hit (each bin asked once)", hit, 3.0))
        miss = paired(ours.exists, theirs.exists, missing_pids(rng, args.n, YEAR), False)
        rows.append(("miss, the day exists", miss, 1.0))
        none = paired(ours.exists, theirs.exists, missing_pids(rng, args.n, YEAR + 1), False)
        rows.append(("miss, no such day", none, None))  # the brief sets no target for it

        def cold(pid: str) -> bool:
            return ifcbkit.SyncIfcbDataDirectory(root).exists(pid)

        def cold_theirs(pid: str) -> bool:
            return bool(design.SyncIfcbDataDirectory(str(root)).exists(pid))

        first = paired(cold, cold_theirs, missing_pids(rng, 200, YEAR), False)
        rows.append(("miss, the day exists, a new directory object each time", first, None))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"exists(pid) on a {made:,}-bin year tree, medians of {args.n} lookups, ifcbkit {ifcbkit.__version__}")
    print("| lookup | ifcbkit | 0.3.1 | speed-up | target | met |")
    print("|---|---|---|---|---|---|")
    ok = True
    for name, (a, b), target in rows:
        met = "" if target is None else ("yes" if b / a >= target else "no")
        ok = ok and met != "no"
        goal = "" if target is None else f"≥ {target:g}x"
        print(f"| {name} | {fmt(a)} | {fmt(b)} | {b / a:.1f}x | {goal} | {met} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
