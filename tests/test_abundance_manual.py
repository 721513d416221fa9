"""abundance --manual: counts from ifcb-analysis manual annotation files found under PRODUCTS, equal to
counts made by hand, through the same counting as class scores (issue 25).

Needs the ``mat`` extra (SciPy), through ifcbkit's own MAT writer.
"""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest

from ifcbkit import write_manual_classes
from ifcbkit.errors import FormatError
from ifcbkit.faces.products import SyncProductDirectory, parse_product_name
from ifcbkit.formats.mat import MatCellRow, MatMatrix, write_mat_variables
from ifcbkit.jobs.abundance import daily_abundance, manual_files
from ifcbkit.testing import Roi, write_bin

CLASSES = ["unclassified", "Chaetoceros", "Ciliate", "Mesodinium_rubrum", "detritus"]
A, B, C, D = ("D20240301T100000_IFCB010", "D20240301T120000_IFCB010", "D20240302T100000_IFCB010",
              "D20240302T120000_IFCB010")  # fmt: skip
F3 = (1 / 3.4) ** 3  # µm³ per cubic pixel at the default micron factor
PROTIST_2000 = 272.0615486960796  # pg of carbon of a 2000 µm³ protist: 10 ** (-0.665 + 0.939 log10 2000)


def ml_of(n: int) -> float:
    return 0.25 * (10.0 * n - n) / 60


def timed_rois(n: int) -> list[Roi]:
    return [Roi(width=4, height=3, columns={"ADCtime": 10.0 * k, "RunTime": 10.0 * k, "InhibitTime": float(k)})
            for k in range(1, n + 1)]  # fmt: skip


def save(path: Path, **variables) -> None:
    with open(path, "wb") as f:
        write_mat_variables(f, variables)


def manual_tree(tmp_path: Path) -> dict[str, Path]:
    """A and B (one day), C (the next), D without a manual file. A's file is written by ifcbkit; B's
    as ifcb-analysis's correct mode leaves it, with auto classes; C's has nothing classified. A also
    has class scores, which --manual must not read."""
    data, products = tmp_path / "data", tmp_path / "products"
    for pid, n in ((A, 6), (B, 4), (C, 2), (D, 3)):
        write_bin(data / pid[:9], pid, timed_rois(n))
    manual = products / "manual"
    manual.mkdir(parents=True)
    # A by hand: Chaetoceros 2, Ciliate 1, Mesodinium_rubrum 1; ROI 3 unclassified and ROI 6 unlabelled
    write_manual_classes(manual / f"{A}.mat", {1: "Chaetoceros", 2: "Chaetoceros", 3: "unclassified",
                                               4: "Mesodinium_rubrum", 5: "Ciliate"}, CLASSES, rois=6)  # fmt: skip
    # B by hand: ROI 1 manual Chaetoceros; ROI 2 no manual class, auto Ciliate; ROI 3 neither; ROI 4 manual
    # detritus over auto Chaetoceros: Chaetoceros 1, Ciliate 1, detritus 1
    nan = math.nan
    save(
        manual / f"{B}.mat", classlist=MatMatrix([(1, 2, nan), (2, nan, 1), (3, nan, nan), (4, 5, 2)], 3),
        class2use_manual=MatCellRow(CLASSES), class2use_auto=MatCellRow(["Ciliate", "Chaetoceros"]),
        list_titles=MatCellRow(["roi number", "manual", "auto"]), default_class_original=MatCellRow(["unclassified"]),
    )  # fmt: skip
    (manual / "D20240302").mkdir()
    write_manual_classes(manual / "D20240302" / f"{C}.mat", {1: "unclassified"}, CLASSES, rois=2)
    scores = products / "class"
    scores.mkdir()
    (scores / f"{A}_class_scores.csv").write_text(
        f"pid,Chaetoceros,Ciliate\n{A}_00001,0.9,0.1\n{A}_00002,0.9,0.1\n{A}_00003,0.9,0.1\n"
    )
    return {"root": data, "products": products, "tmp": tmp_path}


@pytest.fixture
def tree(tmp_path):
    return manual_tree(tmp_path)


def ifcbkit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ifcbkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


HAND = {
    A: {"Chaetoceros": 2, "Ciliate": 1, "Mesodinium_rubrum": 1, "detritus": 0},
    B: {"Chaetoceros": 1, "Ciliate": 1, "Mesodinium_rubrum": 0, "detritus": 1},
    C: {"Chaetoceros": 0, "Ciliate": 0, "Mesodinium_rubrum": 0, "detritus": 0},
}


def test_manual_files_are_pid_mat_and_never_class_v1(tree, tmp_path):
    assert parse_product_name(f"{A}.mat") == (A, "manual", None)
    assert parse_product_name(f"{A}_class_v1.mat") == (A, "class_scores", 1)
    assert parse_product_name(f"{A}_other.mat") is None
    assert parse_product_name("IFCB5_2012_028_123456.mat") == ("IFCB5_2012_028_123456", "manual", None)
    products = tree["products"]
    found = manual_files(products)
    assert found == {A: str(products / "manual" / f"{A}.mat"), B: str(products / "manual" / f"{B}.mat"),
                     C: str(products / "manual" / "D20240302" / f"{C}.mat")}  # fmt: skip
    assert SyncProductDirectory(products).find(C, "manual") == found[C]
    assert SyncProductDirectory(products).find(D, "manual") is None
    assert manual_files(found[A]) == {A: found[A]}
    with pytest.raises(FormatError, match="not a manual annotation file name"):
        manual_files([products / "class" / f"{A}_class_scores.csv"])


def test_daily_and_per_bin_counts_equal_the_hand_counts(tree):
    result = daily_abundance(tree["root"], tree["products"], manual=True, workers=1)
    assert {b.pid: b.counts for b in result.bins} == HAND
    assert [(s.pid, s.reason, s.error) for s in result.skipped] == [(D, "no class scores", False)]
    day1 = {r["class"]: r for r in result.rows if r["date"] == "2024-03-01"}
    total = ml_of(6) + ml_of(4)
    assert {name: r["count"] for name, r in day1.items()} == {"Chaetoceros": 3, "Ciliate": 2, "Mesodinium_rubrum": 1,
                                                                "detritus": 1}  # fmt: skip
    assert day1["Chaetoceros"]["ml_analyzed_total"] == pytest.approx(total, rel=1e-12)
    assert day1["Chaetoceros"]["objects_per_ml"] == pytest.approx(3 / total, rel=1e-12)
    assert all(r["threshold"] is None for r in result.rows)
    day2 = [r for r in result.rows if r["date"] == "2024-03-02"]
    assert {r["count"] for r in day2} == {0} and day2[0]["ml_analyzed_total"] == pytest.approx(ml_of(2), rel=1e-12)


def test_cli_manual_per_bin_has_the_hand_counts_and_no_threshold(tree):
    out = ifcbkit("abundance", tree["root"], tree["products"], "--manual", "--per", "bin", "--workers", "1")
    assert out.returncode == 0, out.stderr
    rows = table(out.stdout)
    assert {(r["pid"], r["class"]): int(r["count"]) for r in rows} == {
        (pid, name): n for pid, counts in HAND.items() for name, n in counts.items()
    }
    assert {r["threshold"] for r in rows} == {""}
    assert f"skipped {D}: no class scores" in out.stderr
    # without --manual, the class scores are read: only A, 3 Chaetoceros at 0.7
    plain = table(ifcbkit("abundance", tree["root"], tree["products"], "--per", "bin", "--workers", "1").stdout)
    assert {(r["pid"], r["class"]): int(r["count"]) for r in plain} == {(A, "Chaetoceros"): 3, (A, "Ciliate"): 0}


def test_manual_with_carbon(tree):
    products = tree["products"]
    # A's ROIs: 1 and 2 Chaetoceros of 2000 and 3000 µm³, 5 the Ciliate of 2000 µm³
    lines = ["roi_number,Biovolume"] + [f"{t},{v / F3!r}" for t, v in ((1, 2000), (2, 3000), (4, 500), (5, 2000))]
    (products / "manual" / f"{A}_fea_v2.csv").write_text("\n".join(lines) + "\n")
    result = daily_abundance(tree["root"], products, manual=True, carbon=True, workers=1, start_time="2024-03-01",
                             end_time="2024-03-01T11:00")  # fmt: skip
    (a,) = result.bins
    assert a.counts == HAND[A]
    assert a.biomass["Ciliate"].carbon_pg == pytest.approx(PROTIST_2000, rel=1e-9)
    assert a.biomass["Chaetoceros"].biovolume_um3 == pytest.approx(5000, rel=1e-12)
    assert a.biomass["Mesodinium_rubrum"].biovolume_um3 == pytest.approx(500, rel=1e-12)
    out = ifcbkit("abundance", tree["root"], products, "--manual", "--carbon", "--per", "bin", "--workers", "1",
                  "--end", "2024-03-01T11:00")  # fmt: skip
    ciliate = next(r for r in table(out.stdout) if r["class"] == "Ciliate")
    assert float(ciliate["carbon_ug"]) == pytest.approx(PROTIST_2000 * 1e-6, rel=1e-9)
    assert ciliate["threshold"] == ""


@pytest.mark.parametrize("option", [("--threshold", "0.5"), ("--thresholds", "t.csv"), ("--rule", "winner"),
                                    ("--rule", "any-above")])  # fmt: skip
def test_manual_with_a_threshold_or_rule_is_a_usage_error(tree, option):
    out = ifcbkit("abundance", tree["root"], tree["products"], "--manual", *option)
    assert out.returncode == 2
    assert f"{option[0]} does not go with it" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(ValueError, match="no threshold"):
        daily_abundance(tree["root"], tree["products"], manual=True, threshold=0.5)
    with pytest.raises(ValueError, match="no threshold"):
        daily_abundance(tree["root"], tree["products"], manual=True, rule="any-above")


def test_manual_and_class_score_days_are_not_reused_for_each_other(tree):
    daily = tree["tmp"] / "daily"
    first = ifcbkit("abundance", tree["root"], tree["products"], "--daily-dir", daily, "--workers", "1")
    assert first.returncode == 0, first.stderr
    again = ifcbkit("abundance", tree["root"], tree["products"], "--daily-dir", daily, "--manual", "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert "reused" not in again.stderr
    rows = table(again.stdout)
    assert {r["class"]: int(r["count"]) for r in rows if r["date"] == "2024-03-01"}["Chaetoceros"] == 3
    same = ifcbkit("abundance", tree["root"], tree["products"], "--daily-dir", daily, "--manual", "--workers", "1")
    assert "days reused" in same.stderr
    assert table(same.stdout) == rows


def test_a_bad_manual_file_is_skipped_as_an_error_naming_it(tree):
    bad = tree["products"] / "manual" / f"{A}.mat"
    save(bad, classlist=MatMatrix([(1, 9, math.nan)], 3), class2use_manual=MatCellRow(CLASSES))
    out = ifcbkit("abundance", tree["root"], tree["products"], "--manual", "--workers", "1")
    assert out.returncode == 1
    assert f"skipped {A}: unreadable class scores" in out.stderr
    assert str(bad) in out.stderr and "ROI 1" in out.stderr and "beyond class2use_manual" in out.stderr
    assert not math.isnan(float(table(out.stdout)[0]["ml_analyzed_total"]))


def test_manual_is_for_local_trees(tree):
    on_dashboard = ifcbkit("abundance", "--dashboard", "http://127.0.0.1:9", "--dataset", "x", "--manual")
    assert on_dashboard.returncode == 2 and "--manual reads manual annotation files" in on_dashboard.stderr
    on_cluster = ifcbkit("abundance", tree["root"], tree["products"], "--manual", "--scheduler", "local")
    assert on_cluster.returncode == 2 and "not on --scheduler" in on_cluster.stderr
