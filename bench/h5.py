"""What reading a ``_class.h5`` in a child process costs: ``read_class_scores`` of a 3,000-ROI,
50-class file, read in the child (as the library does) and in this process (the arrays read here,
for comparison), in alternating rounds.

    python bench/h5.py [--rounds 3] [--reads 20]

Prints the median of each round's reads, per way of reading, what the child adds to each round, and
the first read of the run (which forks the worker, where the library keeps one). Run it against two
versions of the library in turn (``PYTHONPATH``) to compare them: on a shared machine, compare what
the child adds, measured in the same run, rather than raw times.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from ifcbkit import read_class_scores
from ifcbkit.formats import h5 as h5_reading
from ifcbkit.formats import products

PID = "D20240215T150055_IFCB010"


def write_file(path: Path, rois: int = 3000, classes: int = 50) -> None:
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        f.create_dataset("class_labels", data=[f"class_{i}".encode() for i in range(classes)])
        f.create_dataset("roi_numbers", data=np.arange(1, rois + 1))
        f.create_dataset("output_scores", data=rng.random((rois, classes), dtype=np.float32))


def in_process(source: str, names: tuple[str, ...]) -> list[object]:
    kind, value = h5_reading.outcome(source, names)
    assert kind == "ok", value
    return list(value)


def timed(path: Path, reads: int) -> list[float]:
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        read_class_scores(path)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reads", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{PID}_class.h5"
        write_file(path)
        started = time.perf_counter()
        read_class_scores(path)
        first = time.perf_counter() - started
        child_reader = products.read_datasets
        medians: dict[str, list[float]] = {"child": [], "in process": []}
        for _ in range(args.rounds):
            for way in medians:
                products.read_datasets = child_reader if way == "child" else in_process  # type: ignore[assignment]
                medians[way].append(statistics.median(timed(path, args.reads)))
        products.read_datasets = child_reader
    print(f"first read of the run (in the child): {first * 1000:.1f} ms")
    for way, values in medians.items():
        shown = ", ".join(f"{v * 1000:.1f}" for v in values)
        print(f"{way:>10}: medians of {args.reads} reads, {args.rounds} rounds: {shown} ms")
    extra = ", ".join(f"{(c - i) * 1000:+.1f}" for c, i in zip(medians["child"], medians["in process"]))
    print(f"{'the child':>10}: {extra} ms per read, round by round")


if __name__ == "__main__":
    main()
