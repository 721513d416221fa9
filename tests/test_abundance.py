"""Abundance: winners over a threshold, per-bin counts and daily objects per ml from generated fixtures."""

from __future__ import annotations

import csv
import io
import math
import os
import sys

import h5py
import pytest

from ifcbkit import AdcLineWarning, ClassScoresRows, MissingDependencyError
from ifcbkit.errors import FormatError
from ifcbkit.jobs.abundance import Skipped, daily_abundance, write_abundance_csv
from ifcbkit.jobs.batch import BinFailure, iter_bin_metadata
from ifcbkit.jobs.parallel import parallel_map
from ifcbkit.science.counting import ABUNDANCE_FIELDS, BinCounts, class_counts, summarize_daily, winners
from ifcbkit.testing import Roi, write_bin

CLASSES = ("diatom", "ciliate", "detritus")
THRESHOLD = 0.7


def ml_of(n: int) -> float:
    """ml_analyzed of :func:`timed_rois` (run 10 n s, inhibit n s, 0.25 ml/min)."""
    return 0.25 * (10.0 * n - n) / 60


def timed_rois(n: int, *, inhibit_zero: bool = False) -> list[Roi]:
    """n targets with ADCtime = RunTime = 10 k and InhibitTime = k (or 0): ADC run time 10 n, inhibit time n."""
    return [
        Roi(width=4, height=3, columns={"ADCtime": 10.0 * k, "RunTime": 10.0 * k,
                                        "InhibitTime": 0.0 if inhibit_zero else float(k)})
        for k in range(1, n + 1)
    ]  # fmt: skip


def write_h5(path, scores, classes=CLASSES):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("class_labels", data=[c.encode() for c in classes])
        f.create_dataset("roi_numbers", data=list(scores))
        f.create_dataset("output_scores", data=[list(row) for row in scores.values()])


def write_csv(path, pid, scores, classes=CLASSES):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(("pid", *classes))]
    lines += [",".join((f"{pid}_{t:05d}", *map(repr, row))) for t, row in scores.items()]
    path.write_text("\n".join(lines) + "\n")


# Day 1 (2024-02-15, IFCB10): A and B count; C has no scores; D has no ml_analyzed.
A, B, C, D = (f"D20240215T{t}_IFCB010" for t in ("100000", "120000", "130000", "140000"))
# Day 2 (2024-02-16): E on IFCB10 (no GPS), F on IFCB127.
E, F = "D20240216T010000_IFCB010", "D20240216T020000_IFCB127"
ORPHAN = "D20240217T000000_IFCB010"  # class scores without a raw bin

A_SCORES = {
    1: (0.9, 0.05, 0.05),  # diatom
    2: (0.2, 0.7, 0.1),  # ciliate, exactly at the threshold: counts
    3: (0.69, 0.3, 0.01),  # diatom below the threshold: no winner
    4: (0.1, 0.1, 0.8),  # detritus
}
B_SCORES = {k: (0.5, 0.3, 0.2) for k in range(1, 9)}  # nothing reaches the threshold: B's volume still counts
E_SCORES = {1: (0.01, 0.95, 0.04), 2: (0.0, 0.99, 0.01), 3: (0.8, 0.8, 0.1)}  # ciliate, ciliate, tie -> diatom
F_SCORES = {1: (0.1, 0.15, 0.75)}  # detritus


@pytest.fixture
def tree(tmp_path):
    data = tmp_path / "data"
    write_bin(data / "D2024" / "D20240215", A, timed_rois(4), header={"gpsLatitude": 41.0, "gpsLongitude": -70.0})
    write_bin(data / "D2024" / "D20240215", B, timed_rois(8), header={"gpsLatitude": 42.0, "gpsLongitude": -71.0})
    write_bin(data / "D2024" / "D20240215", C, timed_rois(2))
    write_bin(data / "D2024" / "D20240215", D, timed_rois(3, inhibit_zero=True))
    write_bin(data / "D2024" / "D20240216", E, timed_rois(4))
    write_bin(data / "D2024" / "D20240216", F, timed_rois(4), header={"gpsLatitude": 40.0, "gpsLongitude": -69.0})
    products = tmp_path / "products"
    write_h5(products / "D20240215" / f"{A}_class.h5", A_SCORES)
    write_csv(products / "D20240215" / f"{B}_class_scores.csv", B, B_SCORES)
    write_h5(products / "D20240215" / f"{D}_class.h5", {1: (0.9, 0.05, 0.05)})
    write_h5(products / "D20240216" / f"{E}_class.h5", E_SCORES)
    write_csv(products / "D20240216" / f"{E}_class_scores.csv", E, {1: (1.0, 0.0, 0.0)})  # the .h5 wins
    write_csv(products / "D20240216" / f"{F}_class_scores.csv", F, F_SCORES)
    write_h5(products / "D20240217" / f"{ORPHAN}_class.h5", {1: (0.9, 0.05, 0.05)})
    return tmp_path, products


def expected_rows() -> list[dict]:
    day1 = ml_of(4) + ml_of(8)  # A and B: B had no ROI over the threshold but analyzed its volume
    rows = []
    for day, lat, lng, instrument, total, counts in [
        ("2024-02-15", 41.5, -70.5, "IFCB10", day1, (1, 1, 1)),
        ("2024-02-16", None, None, "IFCB10", ml_of(4), (1, 2, 0)),
        ("2024-02-16", 40.0, -69.0, "IFCB127", ml_of(4), (0, 0, 1)),
    ]:
        for name, count in zip(CLASSES, counts):
            rows.append({
                "date": day, "latitude": lat, "longitude": lng, "instrument": instrument, "class": name,
                "count": count, "ml_analyzed_total": pytest.approx(total, rel=1e-12),
                "objects_per_ml": pytest.approx(count / total, rel=1e-12),
                "objects_per_L": pytest.approx(count / total * 1000, rel=1e-12), "threshold": THRESHOLD,
                "ml_analyzed_method": "adc",
            })  # fmt: skip
    return rows


# ----- winners and counts -----------------------------------------------------------------------


def test_winners_and_counts():
    rows = {**A_SCORES, 5: (math.nan, 0.75, 0.2), 6: (math.nan,) * 3, **{7: E_SCORES[3]}}
    scores = ClassScoresRows.from_scores(CLASSES, rows)
    assert winners(scores, THRESHOLD) == {1: "diatom", 2: "ciliate", 3: None, 4: "detritus", 5: "ciliate", 6: None,
                                          7: "diatom"}  # fmt: skip
    assert class_counts(scores, THRESHOLD) == {"diatom": 2, "ciliate": 2, "detritus": 1}
    assert class_counts(scores, 0.0) == {"diatom": 3, "ciliate": 2, "detritus": 1}
    none = {"diatom": 0, "ciliate": 0, "detritus": 0}
    assert class_counts(ClassScoresRows.from_scores(CLASSES, B_SCORES), THRESHOLD) == none
    with pytest.raises(ValueError, match="threshold"):
        class_counts(scores, math.nan)


def test_summarize_daily_counts_the_volume_of_bins_without_winners():
    bins = [
        BinCounts(A, {"diatom": 1, "ciliate": 1, "detritus": 1}, ml_of(4), "adc", 41.0, -70.0),
        BinCounts(B, {"diatom": 0, "ciliate": 0, "detritus": 0}, ml_of(8), "adc", 42.0, -71.0),
    ]
    rows = summarize_daily(bins, THRESHOLD)
    assert rows == expected_rows()[:3]
    assert rows[0]["objects_per_ml"] == pytest.approx(1 / 0.45, rel=1e-12)  # not 1 / 0.15


# ----- over a data root -------------------------------------------------------------------------


def test_daily_abundance_over_a_tree(tree):
    root, products = tree
    result = daily_abundance(root, products, threshold=THRESHOLD, workers=1)
    assert result.rows == expected_rows()
    assert [b.pid for b in result.bins] == [A, B, E, F]
    assert result.bins[2].counts == {"diatom": 1, "ciliate": 2, "detritus": 0}  # from the .h5, not the CSV
    reasons = {s.pid: s.reason for s in result.skipped}
    assert list(reasons) == [C, D, ORPHAN]
    assert reasons[C] == "no class scores"
    assert reasons[D].startswith("no ml_analyzed") and "InhibitTime" in reasons[D]
    assert reasons[ORPHAN].startswith("class scores") and "no raw bin" in reasons[ORPHAN]


@pytest.mark.skipif(not os.path.exists("/proc/self"), reason="needs /proc/self to tell processes apart")
@pytest.mark.parametrize("pool", ["process", "thread"])
def test_parallel_map_keeps_order_and_uses_the_pool(pool):
    done = []
    items = [-3, 1, -4, 1, -5, 9, -2, 6, -5, 3]
    assert list(parallel_map(abs, items, workers=2, pool=pool, progress=lambda *p: done.append(p))) == [
        3, 1, 4, 1, 5, 9, 2, 6, 5, 3,
    ]  # fmt: skip
    assert done == [(k, 10) for k in range(1, 11)]
    # /proc/self names the process that resolves it
    where = set(parallel_map(os.readlink, ["/proc/self"] * 8, workers=2, pool=pool))
    if pool == "process":
        assert str(os.getpid()) not in where
    else:
        assert where == {str(os.getpid())}
    assert set(parallel_map(os.readlink, ["/proc/self"] * 8, workers=1)) == {str(os.getpid())}
    with pytest.raises(ValueError, match="workers"):
        list(parallel_map(abs, items, workers=0))
    with pytest.raises(ValueError, match="pool"):
        list(parallel_map(abs, items, workers=2, pool="cluster"))


def test_parallel_run_equals_serial_run(tree):
    root, products = tree
    serial = daily_abundance(root, products, threshold=THRESHOLD, workers=1)
    assert daily_abundance(root, products, threshold=THRESHOLD, workers=2) == serial
    metadata = list(iter_bin_metadata(root, workers=1))
    parallel = list(iter_bin_metadata(root, workers=2))
    assert [m["pid"] for m in parallel] == [A, B, C, D, E, F]
    assert repr(parallel) == repr(metadata)  # NaN-aware equality, same order


def test_filters_and_explicit_score_files(tree):
    root, products = tree
    day2 = daily_abundance(root, products, threshold=THRESHOLD, start_time="2024-02-16", end_time="2024-02-17")
    assert day2.rows == expected_rows()[3:]
    assert day2.skipped == []  # the orphan (2024-02-17) is outside the range
    only_f = daily_abundance(root, [products / "D20240216" / f"{F}_class_scores.csv"], threshold=THRESHOLD,
                             instrument=127)  # fmt: skip
    assert only_f.rows == expected_rows()[6:]
    mapping = daily_abundance(root, {E: products / "D20240216" / f"{E}_class_scores.csv"}, threshold=0.5,
                              start_time="2024-02-16", instrument="IFCB10")  # fmt: skip
    assert [(r["class"], r["count"]) for r in mapping.rows] == [("diatom", 1), ("ciliate", 0), ("detritus", 0)]
    with pytest.raises(FormatError, match="not a class-score file name"):
        daily_abundance(root, [root / "data" / "notes.csv"], threshold=THRESHOLD)


def test_unreadable_scores_are_skipped_and_reported(tree):
    root, products = tree
    (products / "D20240216" / f"{F}_class_scores.csv").write_text("pid,diatom\nnonsense,1\n")
    result = daily_abundance(root, products, threshold=THRESHOLD, workers=1)
    reasons = {s.pid: s.reason for s in result.skipped}
    assert reasons[F].startswith("unreadable class scores") and f"{F}_class_scores.csv" in reasons[F]
    assert [r["instrument"] for r in result.rows] == ["IFCB10"] * 6


def test_missing_h5py_fails_once_with_the_extra(tree, monkeypatch):
    root, products = tree
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(MissingDependencyError, match="hdf5"):
        daily_abundance(root, products, threshold=THRESHOLD, workers=1)


def test_bad_arguments(tree):
    root, products = tree
    with pytest.raises(ValueError, match="method"):
        daily_abundance(root, products, threshold=THRESHOLD, method="guess")
    with pytest.raises(ValueError, match="threshold"):
        daily_abundance(root, products, threshold=float("inf"))
    with pytest.raises(KeyError, match="does not exist"):
        daily_abundance(root / "nowhere", products, threshold=THRESHOLD)
    with pytest.raises(KeyError, match="no class scores at"):
        daily_abundance(root, root / "no-products", threshold=THRESHOLD)


def test_metadata_failures_are_reported_not_raised(tree):
    root, _ = tree
    hdr = root / "data" / "D2024" / "D20240215" / f"{C}.hdr"
    hdr.write_bytes(b"\x89PNG\r\n\x1a\n not a header\n")
    results = list(iter_bin_metadata(root, workers=1))
    failure = results[2]
    assert isinstance(failure, BinFailure) and failure.pid == C and str(hdr) in failure.error


def test_damaged_adc_lines_are_counted_not_fatal(tree):
    root, _ = tree
    adc = root / "data" / "D2024" / "D20240215" / f"{C}.adc"
    lines = adc.read_bytes().splitlines()
    adc.write_bytes(b"\n".join([lines[0], b"1,2,three", *lines[1:]]) + b"\n")
    with pytest.warns(AdcLineWarning, match=f"{C}.adc, line 2: damaged ADC line skipped"):
        results = list(iter_bin_metadata(root, workers=1))
    meta = results[2]
    assert meta["pid"] == C and meta["skipped_lines"] == 1 and meta["num_triggers"] == len(lines) + 1


def test_write_abundance_csv(tree, tmp_path):
    root, products = tree
    result = daily_abundance(root, products, threshold=THRESHOLD, workers=1)
    buffer = io.StringIO()
    write_abundance_csv(result.rows, buffer)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == ",".join(ABUNDANCE_FIELDS)
    total = ml_of(4) + ml_of(8)  # 0.44999999999999996 in binary: written as 0.45

    def cell(value: float) -> str:
        return repr(float(f"{value:.12g}"))

    assert (
        lines[1]
        == f"2024-02-15,41.5,-70.5,IFCB10,diatom,1,{cell(total)},{cell(1 / total)},{cell(1000 / total)},0.7,adc"
    )
    assert ",0.45," in lines[1]
    assert lines[4].startswith("2024-02-16,,,IFCB10,diatom,1,")  # no GPS: empty latitude and longitude
    write_abundance_csv(result.rows, tmp_path / "daily.csv")
    with open(tmp_path / "daily.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 9
    assert Skipped(C, "no class scores") in result.skipped


def test_a_damaged_class_scores_file_skips_its_bin_only(tree):
    """Regression (hostile input 12): one bad product file aborted daily_abundance for every bin."""
    root, products = tree
    damaged = products / "D20240215" / f"{A}_class.h5"
    damaged.write_bytes(damaged.read_bytes()[:200])  # cut short: HDF5 cannot open it
    result = daily_abundance(root, products, threshold=THRESHOLD, workers=1)
    reasons = {s.pid: s.reason for s in result.skipped}
    assert reasons[A].startswith("unreadable class scores:") and str(damaged) in reasons[A]
    assert {b.pid for b in result.bins} == {B, E, F}
