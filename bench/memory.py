"""Peak memory and time of three big-bin operations, before and after, in one run.

    python bench/memory.py [--before REF] [--targets 999000]

Each measurement runs in a fresh Python process (``PYTHONPATH`` set to the source tree it measures),
and reports the wall time and the growth of the process's peak resident set (``ru_maxrss``) over
what it held once its input was ready:

- ``bin_metadata`` of a D-style bin of 999,000 targets (a ~50 MB ADC), through a data directory;
- the notebook thumbnail (``Bin._repr_png_``) of a bin of 40,000 images;
- a stream over an I-style bin of 5,000 stitched pairs (``bin_images(...).items()``), each image dropped.

``--before REF`` measures the git revision REF too (its ``src`` exported to a temporary directory), so
both columns come from one machine in one run. The data is generated under a temporary directory.

One run on the 2-core development machine (shared, so times are noisy), ``--before main``, for a
107 MB ADC of 999,000 targets (extra = peak growth, the ADC's own bytes included):

    case          before                  after
    metadata      18.30 s  1118.2 MB      8.54 s  139.0 MB
    thumbnail      1.41 s   115.4 MB      0.50 s   16.0 MB
    stream         2.13 s   108.3 MB      2.20 s    2.6 MB
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
D_PID = "D20240215T150055_IFCB010"
I_PID = "IFCB5_2014_100_120000"

# Run in the child: prints {"seconds": ..., "extra_mb": ...}. The peak is the process's VmHWM (ru_maxrss
# would carry the parent's peak over the exec).
CHILD = r"""
import json, sys, time
case, root, d_pid, i_pid = sys.argv[1:5]
import ifcbkit
from ifcbkit import SyncIfcbDataDirectory, bin_images, open_bin

def peak_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

if case == "metadata":
    d = SyncIfcbDataDirectory(root)
    start_peak = peak_mb(); t = time.perf_counter()
    meta = d.bin_metadata(d_pid)
    result = {"ml_analyzed": meta["ml_analyzed"], "num_images": meta["num_images"]}
elif case == "thumbnail":
    b = open_bin(root + "/thumb/" + d_pid)
    start_peak = peak_mb(); t = time.perf_counter()
    png = b._repr_png_()
    result = {"png_bytes": len(png)}
else:
    adc = open(root + "/pairs/" + i_pid + ".adc", "rb").read()
    roi = open(root + "/pairs/" + i_pid + ".roi", "rb").read()
    start_peak = peak_mb(); t = time.perf_counter()
    n = 0
    for _target, image in bin_images(i_pid, adc, roi).items():
        n += 1
        del image
    result = {"images": n}
result.update(seconds=round(time.perf_counter() - t, 3), extra_mb=round(peak_mb() - start_peak, 1))
print(json.dumps(result))
"""


def write_data(root: Path, targets: int) -> dict[str, float]:
    """The three bins (written by a child process, so this one stays small); the big ADC's size in MB."""
    env = dict(os.environ, PYTHONPATH=str(HERE / "src"))
    out = subprocess.run([sys.executable, __file__, "--write", str(root), "--targets", str(targets)], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _write(root: Path, targets: int) -> dict[str, float]:
    from ifcbkit.testing import Roi, stitched_pair, write_bin

    rng = random.Random(21)
    day = root / "data" / "D2024" / "D20240215"
    day.mkdir(parents=True)
    # a big ADC: most targets without an image (as in a busy sample), a few tiny images
    rois = [Roi(2, 2) if k % 50 == 0 else Roi() for k in range(targets)]
    paths = write_bin(day, D_PID, rois)
    thumb = root / "thumb"
    thumb.mkdir()
    write_bin(thumb, D_PID, [Roi(rng.randint(20, 60), rng.randint(20, 60)) for _ in range(40_000)])
    pairs = root / "pairs"
    pairs.mkdir()
    specs = []
    for k in range(1, 5001):
        x, y = rng.randint(0, 1000), rng.randint(0, 800)
        specs += stitched_pair(k, (x, y, 60, 50), (x + 30, y + 20, 60, 50))
    write_bin(pairs, I_PID, specs)
    return {"adc_mb": round(paths.adc.stat().st_size / 2**20, 1)}


def measure(src: Path, case: str, root: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", CHILD, case, str(root), D_PID, I_PID], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="a git revision to measure too (e.g. main)")
    parser.add_argument("--targets", type=int, default=999_000)
    parser.add_argument("--write", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        print(json.dumps(_write(Path(args.write), args.targets)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bins"
        sizes = write_data(root, args.targets)
        trees = {"after": HERE / "src"}
        if args.before:
            before = Path(tmp) / "before"
            before.mkdir()
            archive = subprocess.run(["git", "-C", str(HERE), "archive", args.before, "src"], capture_output=True,
                                     check=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            trees = {"before": before / "src", **trees}
        print(f"big ADC: {args.targets:,} targets, {sizes['adc_mb']} MB")
        print(f"{'case':<12}" + "".join(f"{name:>34}" for name in trees))
        for case in ("metadata", "thumbnail", "stream"):
            row = f"{case:<12}"
            for src in trees.values():
                r = measure(src, case, root)
                row += f"{r['seconds']:>12.2f} s {r['extra_mb']:>9.1f} MB extra   "
            print(row, flush=True)


if __name__ == "__main__":
    main()
