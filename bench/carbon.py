"""Carbon against counting alone: ``daily_abundance(..., carbon=True)`` and ``daily_abundance(...)``
over the same month of generated bins, side by side in one run.

    python bench/carbon.py [--days 30] [--bins-per-day 4] [--rois 2000] [--repeat 5] [--workers 1]

Each bin has ``--rois`` ROIs (a real ADC and ROI file, small images), a dashboard-style
``_class_scores.csv`` of 50 classes, and an ifcb-features ``_fea_v2.csv`` of 240 columns
(``roi_number``, ``Area``, ``Biovolume`` ..., ``summedBiovolume`` near the end; values written as
ifcb-features writes them, 15 significant digits). Counting and carbon run alternately,
``--repeat`` times each (the first pair warms the page cache and is not counted), on ``--workers``
processes; the medians are compared. Both runs must give the same counts. Target: carbon at most
1.5x counting.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ifcbkit import daily_abundance
from ifcbkit.testing import Roi, write_bin

N_CLASSES = 50
N_FEATURES = 240
CLASSES = ["Chaetoceros_chain", "Guinardia_delicatula", "Skeletonema", "Ciliate", "Dinophysis", "detritus"]
CLASSES += [f"class_{k:02d}" for k in range(N_CLASSES - len(CLASSES))]


def feature_header() -> list[str]:
    names = ["roi_number", "Area", "Biovolume", "BoundingBox_xwidth", "BoundingBox_ywidth", "ConvexArea"]
    names += [f"feature_{k:03d}" for k in range(N_FEATURES - len(names) - 2)]
    return [*names, "summedBiovolume", "summedArea"]


def write_month(root: Path, days: int, per_day: int, rois: int, rng: random.Random) -> int:
    header = ",".join(feature_header())
    pool = [repr(round(rng.uniform(0.001, 50000.0), 10)) for _ in range(4096)]  # ~15 digits, as written
    n = 0
    for day in range(days):
        for k in range(per_day):
            pid = f"D202403{1 + day:02d}T{k * 24 // per_day:02d}0000_IFCB010"
            timing = [
                {"ADCtime": 0.6 * t, "RunTime": 0.6 * t + 0.05, "InhibitTime": 0.002 * t} for t in range(1, rois + 1)
            ]
            write_bin(root / "data" / pid[:9], pid, [Roi(width=2, height=2, columns=c) for c in timing], seed=n)
            products = root / "products" / pid[:9]
            products.mkdir(parents=True, exist_ok=True)
            lines = [",".join(("pid", *CLASSES))]
            features = [header]
            for t in range(1, rois + 1):
                top = rng.randrange(N_CLASSES)
                scores = [rng.random() * 0.3 for _ in range(N_CLASSES)]
                scores[top] = 0.5 + rng.random() / 2
                lines.append(",".join((f"{pid}_{t:05d}", *(f"{s:.6f}" for s in scores))))
                row = [str(t)] + [pool[rng.randrange(4096)] for _ in range(N_FEATURES - 1)]
                row[2] = repr(rng.lognormvariate(9.5, 1.5))  # Biovolume, cubic pixels
                features.append(",".join(row))
            (products / f"{pid}_class_scores.csv").write_text("\n".join(lines) + "\n")
            (products / f"{pid}_fea_v2.csv").write_text("\n".join(features) + "\n")
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--bins-per-day", type=int, default=4)
    parser.add_argument("--rois", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ifcbkit-carbon-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        bins = write_month(root, args.days, args.bins_per_day, args.rois, random.Random(23))
        size = sum(f.stat().st_size for f in (root / "products").rglob("*_fea_v2.csv"))
        print(f"{bins} bins of {args.rois} ROIs, features {size / 1e6:.0f} MB in all "
              f"(generated in {time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
        data, products = root / "data", root / "products"
        times: dict[str, list[float]] = {"counting": [], "carbon": []}
        answers = {}
        for attempt in range(args.repeat + 1):
            for name, carbon in (("counting", False), ("carbon", True)):
                t0 = time.perf_counter()
                result = daily_abundance(data, products, carbon=carbon, workers=args.workers)
                elapsed = time.perf_counter() - t0
                if attempt:
                    times[name].append(elapsed)
                answers[name] = [(r["date"], r["class"], r["count"]) for r in result.rows]
                assert not result.skipped, result.skipped[:3]
            assert answers["counting"] == answers["carbon"]
        counting, carbon = statistics.median(times["counting"]), statistics.median(times["carbon"])
        print(f"python {platform.python_version()}, {os.cpu_count()} cores, workers={args.workers}, "
              f"median of {args.repeat}")  # fmt: skip
        print(f"counting alone: {counting:.2f} s  ({', '.join(f'{t:.2f}' for t in times['counting'])})")
        print(f"with carbon:    {carbon:.2f} s  ({', '.join(f'{t:.2f}' for t in times['carbon'])})")
        print(f"carbon / counting: {carbon / counting:.2f}x (target at most 1.5x)")


if __name__ == "__main__":
    main()
