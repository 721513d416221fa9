"""A whole bin's pixels into numpy: ``BinImages.arrays()`` against ``numpy.asarray`` over the PIL images.

    python bench/arrays.py [--mb 54] [--runs 7]

Writes one D-style bin of about ``--mb`` MB of ``.roi`` (random ROI sizes from 16 to 200 px a side,
as ``ifcbkit.testing.write_bin`` makes them) into a temporary directory, opens it with ``open_bin``
(a local file: the arrays are views into its memory map) and times, alternating, in one process:

- ``pil``: ``numpy.asarray(image)`` for every ``(target, image)`` of ``images.items()``;
- ``arrays``: ``numpy.asarray(view)`` for every ``(target, view)`` of ``images.arrays()``;

each alone (the arrays made, as a loader hands them on) and with a sum over each array's pixels
(every byte touched, as a feature or a model would). Each run opens the bin afresh and times the
whole run (opening, the ADC index both ways need, the pass) and the pass alone. Prints the median of
``--runs`` runs of each and the ratios; the target is arrays at least 5x faster.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ifcbkit import open_bin
from ifcbkit.testing import Roi, write_bin

PID = "D20240215T150055_IFCB010"


def make(root: Path, megabytes: float) -> tuple[Path, int]:
    rng = random.Random(25)
    rois = []
    total = 0
    while total < megabytes * 1e6:
        width, height = rng.randint(16, 200), rng.randint(16, 200)
        rois.append(Roi(width=width, height=height, pixels=rng.randbytes(width * height)))
        total += width * height
    return write_bin(root, PID, rois).roi, len(rois)


def run(roi: Path, how: str, touch: bool) -> tuple[float, float]:
    """``(whole run, the pass alone)`` in seconds."""
    start = time.perf_counter()
    checksum = 0
    with open_bin(roi) as b:
        images = b.images
        len(images)  # the ADC index: the same work for both
        indexed = time.perf_counter()
        pairs = images.arrays() if how == "arrays" else images.items()
        for _, pixels in pairs:
            array = np.asarray(pixels)
            if touch:
                checksum += int(array.sum(dtype=np.uint64))
            else:
                checksum += array.shape[0]
    end = time.perf_counter()
    assert checksum > 0
    return end - start, end - indexed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=54.0, help="size of the .roi in MB (default 54)")
    parser.add_argument("--runs", type=int, default=7, help="runs of each method (default 7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        roi, count = make(Path(tmp), args.mb)
        print(f"one bin: {roi.stat().st_size / 1e6:.1f} MB of .roi, {count} images; median of {args.runs} runs")
        with open_bin(roi) as b:  # the same pixels both ways, checked once
            images = b.images
            assert all(np.array_equal(np.asarray(v), np.asarray(images[t])) for t, v in images.arrays())
        print(f"{'case':<36} {'PIL images':>11} {'arrays()':>10} {'speed-up':>9}")
        for touch, label in ((False, "into numpy"), (True, "into numpy + sum")):
            times: dict[tuple[str, int], list[float]] = {}
            for _ in range(args.runs):
                for how in ("pil", "arrays"):
                    for part, seconds in enumerate(run(roi, how, touch)):
                        times.setdefault((how, part), []).append(seconds)
            for part, what in ((0, "open + index + pass"), (1, "the pass alone")):
                pil = statistics.median(times["pil", part])
                arrays = statistics.median(times["arrays", part])
                name = f"{label}, {what}"
                print(f"{name:<36} {pil * 1000:>9.1f}ms {arrays * 1000:>8.1f}ms {pil / arrays:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
