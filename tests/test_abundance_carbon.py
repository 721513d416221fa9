"""abundance --carbon and ifcbkit carbon on generated bins whose class scores and features are written
here: hand-computed biovolume and carbon for each convention, every option, per bin and per day, and
bad input (issue 23)."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from ifcbkit.errors import FormatError, ProductNotFoundError
from ifcbkit.faces.products import SyncProductDirectory
from ifcbkit.jobs.abundance import daily_abundance
from ifcbkit.jobs.bin_carbon import bin_roi_carbon
from ifcbkit.science.class_rules import UnknownClassWarning
from ifcbkit.science.counting import ABUNDANCE_CARBON_FIELDS, ABUNDANCE_FIELDS, BIN_CARBON_FIELDS, bin_rows
from ifcbkit.testing import Roi, write_bin

CLASSES = ("Chaetoceros_chain", "Ciliate", "Guinardia")  # diatom, not, diatom by the bundled genera
F3 = (1 / 3.4) ** 3  # µm³ per cubic pixel at the default micron factor

# Carbon (pg) of one cell, by hand: 10 ** (log a + b log10 V)
PROTIST = {2000: 272.0615486960796, 3000: 398.12262433792824, 50000: 5588.983584854543}
DIATOM = {2000: 136.8155077321634, 3000: 190.08390159936764}
LARGE = {2000: 94.45118829667801, 3000: 135.00312621742574, 50000: 1609.8765480391257}

A, B, C = "D20240301T100000_IFCB010", "D20240301T120000_IFCB010", "D20240301T140000_IFCB010"
# ROI: scores, volume in µm³ (None: no feature row)
A_ROIS = {
    1: ((0.9, 0.05, 0.05), 2000),  # Chaetoceros_chain, a diatom of 2000 µm³
    2: ((0.1, 0.8, 0.1), 3000),  # Ciliate, 3000 µm³
    3: ((0.1, 0.15, 0.75), 50000),  # Guinardia, a diatom of 50000 µm³
    4: ((0.4, 0.3, 0.3), None),  # no class reaches 0.7: needs no feature row
}
B_ROIS = {
    1: ((0.1, 0.1, 0.8), 3000),  # Guinardia, a diatom of exactly 3000 µm³
    2: ((0.05, 0.7, 0.25), 2000),  # Ciliate exactly at 0.7: counts under winner, not under any-above
}
EXTRA_FEATURE_ROW = 9  # a feature row of a ROI no class claims: ignored


def ml_of(n: int) -> float:
    return 0.25 * (10.0 * n - n) / 60


def timed_rois(n: int) -> list[Roi]:
    return [Roi(width=4, height=3, columns={"ADCtime": 10.0 * k, "RunTime": 10.0 * k, "InhibitTime": float(k)})
            for k in range(1, n + 1)]  # fmt: skip


def write_scores(path: Path, pid: str, rois: dict, classes=CLASSES) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(("pid", *classes))] + [",".join((f"{pid}_{t:05d}", *map(repr, s))) for t, (s, _) in rois.items()]
    path.write_text("\n".join(lines) + "\n")


def write_features(path: Path, rois: dict, *, extra: int | None = EXTRA_FEATURE_ROW, bad: str | None = None) -> None:
    """A features file like ifcb-features' (roi_number first, Biovolume among other columns), volumes
    in cubic pixels; summedBiovolume is twice Biovolume."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["roi_number,Area,Biovolume,BoundingBox_xwidth,summedBiovolume,Eccentricity"]
    for t, (_, volume) in rois.items():
        if volume is not None:
            cubic = volume / F3
            lines.append(f"{t},{t * 10},{bad if bad and t == 2 else repr(cubic)},7,{2 * cubic!r},0.5")
    if extra is not None:
        lines.append(f"{extra},1,123.0,1,246.0,0.1")
    path.write_text("\n".join(lines) + "\n")


def carbon_tree(tmp_path: Path) -> dict[str, Path]:
    """Bins A and B with class scores and features, C with class scores only (one day, IFCB10)."""
    data, products = tmp_path / "data", tmp_path / "products"
    write_bin(data / "D20240301", A, timed_rois(4), header={"gpsLatitude": 41.0, "gpsLongitude": -70.0})
    write_bin(data / "D20240301", B, timed_rois(2))
    write_bin(data / "D20240301", C, timed_rois(3))
    write_scores(products / "D20240301" / f"{A}_class_scores.csv", A, A_ROIS)
    write_features(products / "D20240301" / f"{A}_fea_v2.csv", A_ROIS)
    write_scores(products / "D20240301" / f"{B}_class_scores.csv", B, B_ROIS)
    write_features(products / "D20240301" / f"{B}_features_v4.csv", B_ROIS)  # the other features name
    write_scores(products / "D20240301" / f"{C}_class_scores.csv", C, {1: ((0.9, 0.05, 0.05), 10)})  # no features
    return {"root": data, "products": products, "tmp": tmp_path}


@pytest.fixture
def tree(tmp_path):
    return carbon_tree(tmp_path)


def ifcbkit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ifcbkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def by_class(rows, pid=None):
    return {r["class"]: r for r in rows if pid is None or r["pid"] == pid}


def carbon_of(result, pid):
    return {name: c for b in result.bins if b.pid == pid for name, c in b.biomass.items()}


# ----- hand-computed values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("convention", "chaetoceros", "guinardia_b"),
    [("ifcb-analysis", PROTIST[2000], LARGE[3000]), ("irfcb", LARGE[2000], LARGE[3000]),
     ("irfcb-auto", DIATOM[2000], DIATOM[3000])],
)  # fmt: skip
def test_each_convention_gives_the_hand_computed_carbon(tree, convention, chaetoceros, guinardia_b):
    result = daily_abundance(tree["root"], tree["products"], carbon=True, convention=convention, workers=1)
    a, b = carbon_of(result, A), carbon_of(result, B)
    assert a["Chaetoceros_chain"].carbon_pg == pytest.approx(chaetoceros, rel=1e-9)
    assert a["Chaetoceros_chain"].biovolume_um3 == pytest.approx(2000, rel=1e-12)
    assert a["Ciliate"].carbon_pg == pytest.approx(PROTIST[3000], rel=1e-9)  # not a diatom: every convention
    assert a["Guinardia"].carbon_pg == pytest.approx(LARGE[50000], rel=1e-9)  # every convention agrees above 3000
    assert b["Guinardia"].carbon_pg == pytest.approx(guinardia_b, rel=1e-9)  # exactly 3000: >= vs >
    assert b["Ciliate"].carbon_pg == pytest.approx(PROTIST[2000], rel=1e-9)
    assert (a["Chaetoceros_chain"].diatom, a["Ciliate"].diatom, a["Guinardia"].diatom) == (True, False, True)


def test_per_bin_rows_end_to_end(tree):
    """Every column of a bin's rows, by hand: counts, volume, biovolume and carbon per litre."""
    out = ifcbkit("abundance", tree["root"], tree["products"], "--carbon", "--per", "bin", "--workers", "1")
    assert out.returncode == 1, out.stderr  # C was skipped for an error: no features
    assert out.stdout.splitlines()[0] == ",".join(BIN_CARBON_FIELDS)
    rows = table(out.stdout)
    assert {r["pid"] for r in rows} == {A, B}
    a = by_class(rows, A)
    ml = ml_of(4)
    chaet = a["Chaetoceros_chain"]
    assert chaet["sample_time"] == "2024-03-01T10:00:00+00:00"
    assert (chaet["latitude"], chaet["longitude"], chaet["instrument"]) == ("41.0", "-70.0", "IFCB10")
    assert (chaet["diatom"], chaet["count"], chaet["threshold"], chaet["ml_analyzed_method"]) == ("true", "1", "0.7",
                                                                                                  "adc")  # fmt: skip
    assert float(chaet["ml_analyzed"]) == pytest.approx(ml, rel=1e-11)
    assert float(chaet["objects_per_ml"]) == pytest.approx(1 / ml, rel=1e-11)
    assert float(chaet["objects_per_L"]) == pytest.approx(1000 / ml, rel=1e-11)
    assert float(chaet["biovolume_mm3"]) == pytest.approx(2000e-9, rel=1e-11)
    assert float(chaet["carbon_ug"]) == pytest.approx(PROTIST[2000] * 1e-6, rel=1e-11)
    assert float(chaet["biovolume_mm3_per_L"]) == pytest.approx(2000e-9 / (ml / 1000), rel=1e-11)
    assert float(chaet["carbon_ug_per_L"]) == pytest.approx(PROTIST[2000] * 1e-6 / (ml / 1000), rel=1e-11)
    assert a["Ciliate"]["diatom"] == "false"
    assert "skipped D20240301T140000_IFCB010: class scores but no features file" in out.stderr


def test_per_day_totals_are_the_sums_of_the_per_bin_rows(tree):
    result = daily_abundance(tree["root"], tree["products"], carbon=True, workers=1)
    assert list(result.rows[0]) == list(ABUNDANCE_CARBON_FIELDS)
    per_bin = bin_rows(result.bins)
    total = ml_of(4) + ml_of(2)
    for day in result.rows:
        members = [r for r in per_bin if r["class"] == day["class"]]
        assert len(members) == 2
        assert day["count"] == sum(r["count"] for r in members)
        for name in ("biovolume_mm3", "carbon_ug"):
            assert day[name] == pytest.approx(math.fsum(r[name] for r in members), rel=1e-12)
            assert day[f"{name}_per_L"] == pytest.approx(day[name] / (total / 1000), rel=1e-12)
        assert day["ml_analyzed_total"] == pytest.approx(math.fsum(r["ml_analyzed"] for r in members), rel=1e-12)
    ciliate = next(r for r in result.rows if r["class"] == "Ciliate")
    assert ciliate["carbon_ug"] == pytest.approx((PROTIST[3000] + PROTIST[2000]) * 1e-6, rel=1e-11)


# ----- the options ------------------------------------------------------------------------------


def test_micron_factor_and_biovolume_column(tree):
    factor = 1 / 2.77
    result = daily_abundance(tree["root"], tree["products"], carbon=True, micron_factor=factor, workers=1)
    volume = 3000 / F3 * factor**3  # the Ciliate of A at 1/2.77 µm per pixel
    assert carbon_of(result, A)["Ciliate"].biovolume_um3 == pytest.approx(volume, rel=1e-12)
    assert carbon_of(result, A)["Ciliate"].carbon_pg == pytest.approx(10 ** (-0.665 + 0.939 * math.log10(volume)))
    summed = daily_abundance(tree["root"], tree["products"], carbon=True, biovolume_column="summedBiovolume",
                             workers=1)  # fmt: skip
    assert carbon_of(summed, A)["Ciliate"].biovolume_um3 == pytest.approx(6000, rel=1e-12)
    out = ifcbkit("abundance", tree["root"], tree["products"], "--carbon", "--micron-factor", "1/2.77",
                  "--biovolume-column", "summedBiovolume", "--per", "bin", "--workers", "1")  # fmt: skip
    cil = by_class(table(out.stdout), A)["Ciliate"]
    assert float(cil["biovolume_mm3"]) == pytest.approx(2 * volume * 1e-9, rel=1e-11)


def test_a_diatoms_file_decides_and_names_unknown_classes(tree):
    listing = tree["tmp"] / "diatoms.csv"
    listing.write_text("CNN_classlist,Diatom,Dinoflagellate\nCiliate,1,0\nGuinardia,0,0\nNitzschia,1,0\n")
    out = ifcbkit("abundance", tree["root"], tree["products"], "--carbon", "--diatoms", listing, "--per", "bin",
                  "--workers", "1")  # fmt: skip
    a = by_class(table(out.stdout), A)
    assert (a["Chaetoceros_chain"]["diatom"], a["Ciliate"]["diatom"], a["Guinardia"]["diatom"]) == (
        "false", "true", "false")  # fmt: skip
    # the Ciliate of A, now a diatom of 3000 µm³: the large-diatom equation under ifcb-analysis
    assert float(a["Ciliate"]["carbon_ug"]) == pytest.approx(LARGE[3000] * 1e-6, rel=1e-11)
    assert out.stderr.count("Nitzschia") == 1 and "warning" in out.stderr
    plain = tree["tmp"] / "diatoms.txt"
    plain.write_text("# my diatoms\nGuinardia\n")
    result = daily_abundance(tree["root"], tree["products"], carbon=True, diatoms=plain, workers=1)
    assert carbon_of(result, A)["Chaetoceros_chain"].diatom is False


def test_per_class_thresholds_and_both_rules(tree):
    thresholds = tree["tmp"] / "thresholds.csv"
    thresholds.write_text("class,threshold\nGuinardia,0.8\nDinophysis,0.5\n")
    out = ifcbkit("abundance", tree["root"], tree["products"], "--carbon", "--thresholds", thresholds,
                  "--per", "bin", "--workers", "1")  # fmt: skip
    a, b = by_class(table(out.stdout), A), by_class(table(out.stdout), B)
    assert (a["Guinardia"]["count"], a["Guinardia"]["threshold"]) == ("0", "0.8")  # 0.75 < 0.8
    assert (b["Guinardia"]["count"], b["Ciliate"]["count"], b["Ciliate"]["threshold"]) == ("1", "1", "0.7")
    assert float(a["Guinardia"]["carbon_ug"]) == 0
    assert out.stderr.count("Dinophysis") == 1  # warned about once, naming the file
    assert str(thresholds) in out.stderr
    above = ifcbkit("abundance", tree["root"], tree["products"], "--carbon", "--thresholds", thresholds, "--rule",
                    "any-above", "--per", "bin", "--workers", "1")  # fmt: skip
    a, b = by_class(table(above.stdout), A), by_class(table(above.stdout), B)
    assert b["Ciliate"]["count"] == "0"  # 0.7 does not exceed 0.7
    assert b["Guinardia"]["count"] == "0"  # nor 0.8 its own 0.8
    assert a["Ciliate"]["count"] == "1" and a["Chaetoceros_chain"]["count"] == "1"
    one = daily_abundance(tree["root"], tree["products"], threshold=0.78, thresholds={"Guinardia": 0.7}, workers=1)
    counts = {r["class"]: (r["count"], r["threshold"]) for r in one.rows}
    assert counts == {"Chaetoceros_chain": (2, 0.78), "Ciliate": (1, 0.78), "Guinardia": (2, 0.7)}


def test_class_files_with_their_own_thresholds_are_honoured(tree):
    """An SMHI _class.h5 with thresholds, and a _class_v1.mat's TBclass_above_threshold labels (no
    threshold: an empty cell), both without --threshold; a given --threshold wins."""
    products = tree["products"] / "D20240301"
    (products / f"{A}_class_scores.csv").unlink()
    with h5py.File(products / f"{A}_class.h5", "w") as f:
        f.create_dataset("class_labels", data=[c.encode() for c in CLASSES])
        f.create_dataset("roi_numbers", data=list(A_ROIS))
        f.create_dataset("output_scores", data=[list(s) for s, _ in A_ROIS.values()])
        f.create_dataset("thresholds", data=[0.95, 0.3, 0.7])
    (products / f"{B}_class_scores.csv").unlink()
    from test_class_v1_mat import write_v1  # SciPy, the mat extra, only there

    write_v1(products / f"{B}_class_v1.mat", scores=[list(s) for s, _ in B_ROIS.values()], rois=list(B_ROIS),
             above=["unclassified", "Ciliate"], classes=CLASSES)  # fmt: skip
    assert {p.pid: p.kind for p in SyncProductDirectory(tree["products"]).list("class_scores")}[B] == "class_scores"
    out = ifcbkit("abundance", tree["root"], tree["products"], "--carbon", "--per", "bin", "--workers", "1")
    a, b = by_class(table(out.stdout), A), by_class(table(out.stdout), B)
    assert (a["Chaetoceros_chain"]["count"], a["Chaetoceros_chain"]["threshold"]) == ("0", "0.95")
    assert (a["Ciliate"]["count"], a["Ciliate"]["threshold"]) == ("1", "0.3")
    assert (b["Guinardia"]["count"], b["Ciliate"]["count"], b["Ciliate"]["threshold"]) == ("0", "1", "")
    assert float(b["Ciliate"]["carbon_ug"]) == pytest.approx(PROTIST[2000] * 1e-6, rel=1e-11)
    given = daily_abundance(tree["root"], tree["products"], threshold=0.7, workers=1)
    counts = {r["class"]: (r["count"], r["threshold"]) for r in given.rows}
    assert counts == {"Chaetoceros_chain": (2, 0.7), "Ciliate": (2, 0.7), "Guinardia": (2, 0.7)}
    day = by_class(table(ifcbkit("abundance", tree["root"], tree["products"], "--workers", "1").stdout))
    assert day["Ciliate"]["threshold"] == ""  # 0.3 in A, precomputed labels in B: no one threshold


# ----- bad input --------------------------------------------------------------------------------


def test_a_bin_without_features_is_skipped_never_zero_carbon(tree):
    result = daily_abundance(tree["root"], tree["products"], carbon=True, workers=1)
    assert [b.pid for b in result.bins] == [A, B]
    (skipped,) = result.skipped
    assert skipped.pid == C and skipped.error and "no features" in skipped.reason
    chaet = next(r for r in result.rows if r["class"] == "Chaetoceros_chain")
    assert chaet["count"] == 1 and chaet["ml_analyzed_total"] == pytest.approx(ml_of(4) + ml_of(2), rel=1e-12)
    out = ifcbkit("abundance", tree["root"], tree["products"], "--workers", "1")  # without --carbon: no features needed
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == ",".join(ABUNDANCE_FIELDS)
    assert by_class(table(out.stdout))["Chaetoceros_chain"]["count"] == "2"  # A and C


def test_a_classified_roi_without_a_feature_row_names_both_files(tree):
    features = tree["products"] / "D20240301" / f"{A}_fea_v2.csv"
    write_features(features, {t: v for t, v in A_ROIS.items() if t != 3})
    result = daily_abundance(tree["root"], tree["products"], carbon=True, workers=1)
    reason = next(s.reason for s in result.skipped if s.pid == A)
    assert str(features) in reason and f"{A}_class_scores.csv" in reason and "ROI 3" in reason
    with pytest.raises(FormatError, match="ROI 3") as caught:
        bin_roi_carbon(tree["products"], A)
    assert str(features) in str(caught.value) and f"{A}_class_scores.csv" in str(caught.value)


@pytest.mark.parametrize("bad", ["nan", "-1.5", "abc", "inf"])
def test_a_bad_biovolume_names_the_file_and_line(tree, bad):
    features = tree["products"] / "D20240301" / f"{A}_fea_v2.csv"
    write_features(features, A_ROIS, bad=bad)
    result = daily_abundance(tree["root"], tree["products"], carbon=True, workers=1)
    reason = next(s.reason for s in result.skipped if s.pid == A)
    assert str(features) in reason and "line 3" in reason
    with pytest.raises(FormatError, match="line 3"):
        bin_roi_carbon(tree["products"], A)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--carbon", "--micron-factor", "0"], "--micron-factor: not a number of µm per pixel above 0"),
        (["--carbon", "--micron-factor", "-0.3"], "--micron-factor"),
        (["--threshold", "1.5"], "--threshold: not a score from 0 to 1"),
        (["--thresholds", "BAD"], "threshold of 'Ciliate' must be from 0 to 1"),
        (["--thresholds", "MISSING"], "no thresholds file"),
        (["--per", "bin", "--daily-dir", "days"], "--per bin"),
        (["--per", "bin", "--plot", "p.png"], "--plot"),
        (["--micron-factor", "0.3"], "--micron-factor goes with --carbon"),
        (["--carbon-convention", "irfcb"], "--carbon-convention goes with --carbon"),
    ],
)
def test_bad_options_are_usage_errors_of_one_line(tree, extra, message):
    bad = tree["tmp"] / "bad.csv"
    bad.write_text("Ciliate,1.5\n")
    extra = [str(bad) if e == "BAD" else str(tree["tmp"] / "missing.csv") if e == "MISSING" else e for e in extra]
    out = ifcbkit("abundance", tree["root"], tree["products"], *extra)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr
    assert out.stdout == ""


def test_carbon_needs_a_products_root():
    with pytest.raises(ValueError, match="products root"):
        daily_abundance(".", [], carbon=True)
    with pytest.raises(ValueError, match="micron factor"):
        daily_abundance(".", ".", carbon=True, micron_factor=0)


# ----- ifcbkit carbon ---------------------------------------------------------------------------


def test_the_carbon_command_writes_each_classified_roi(tree):
    out = tree["tmp"] / "a.csv"
    done = ifcbkit("carbon", tree["root"], tree["products"], A, "--out", out, "--carbon-convention", "irfcb")
    assert done.returncode == 0, done.stderr
    rows = table(out.read_text())
    assert out.read_text().splitlines()[0] == "roi_id,class,score,diatom,biovolume_um3,carbon_pg,esd_um"
    assert [r["roi_id"] for r in rows] == [f"{A}_00001", f"{A}_00002", f"{A}_00003"]  # 4: no class; 9: ignored
    first = rows[0]
    assert (first["class"], first["score"], first["diatom"]) == ("Chaetoceros_chain", "0.9", "true")
    assert float(first["biovolume_um3"]) == pytest.approx(2000, rel=1e-11)
    assert float(first["carbon_pg"]) == pytest.approx(LARGE[2000], rel=1e-11)
    assert float(first["esd_um"]) == pytest.approx(2 * (3 * 2000 / (4 * math.pi)) ** (1 / 3), rel=1e-11)
    assert bin_roi_carbon(tree["products"], A, convention="irfcb")[0].carbon_pg == pytest.approx(LARGE[2000])


def test_the_carbon_command_fails_clearly_and_leaves_no_file(tree):
    out = tree["tmp"] / "c.csv"
    done = ifcbkit("carbon", tree["root"], tree["products"], C, "--out", out)
    assert done.returncode == 1 and "no features file" in done.stderr and C in done.stderr
    assert not out.exists()
    with pytest.raises(ProductNotFoundError):
        bin_roi_carbon(tree["products"], C)
    unknown = ifcbkit("carbon", tree["root"], tree["products"], "D20240301T230000_IFCB010", "--out", out)
    assert unknown.returncode == 1 and not out.exists()
    zero = ifcbkit("carbon", tree["root"], tree["products"], A, "--micron-factor", "0")
    assert zero.returncode == 2


def test_unknown_classes_warn_once_from_the_api(tree):
    with pytest.warns(UnknownClassWarning, match="Dinophysis") as caught:
        daily_abundance(tree["root"], tree["products"], thresholds={"Dinophysis": 0.5}, workers=2)
    assert len([w for w in caught if issubclass(w.category, UnknownClassWarning)]) == 1
