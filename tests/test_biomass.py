"""Per-ROI and per-class biovolume and carbon of a bin: class results joined to features under each convention.

The bin: ROI 1 and 2 are Chaetoceros_chain (a diatom) of 2,000 and 50,000 µm³, ROI 3 Dinophysis of 3,000 µm³,
ROI 4 has no class (and no feature row), ROI 5 has a feature row and no class. Volumes in cubic pixels are
V * 3.4³ = V * 39.304. Carbon per class, by hand (see test_carbon.py for each term):

- ifcb-analysis: Chaetoceros 272.0615486960797 + 1609.876548039126 = 1881.9380967352057
- irfcb:         Chaetoceros 94.45118829667805 + 1609.876548039126 = 1704.32773633580405
- irfcb-auto:    Chaetoceros 136.8155077321633 + 1609.876548039126 = 1746.6920557712893
- every one:     Dinophysis 398.1226243379282
"""

from __future__ import annotations

import pytest

from ifcbkit import FormatError
from ifcbkit.products import ClassScoresRows
from ifcbkit.science.biomass import ClassBiomass, bin_biomass, roi_biomass, roi_biomass_row
from ifcbkit.science.class_results import from_class_scores
from ifcbkit.science.diatoms import parse_diatom_list

PID = "D20240301T120000_IFCB010"
CLASSES = ["Chaetoceros_chain", "Dinophysis", "detritus"]
SCORES = {1: (0.9, 0.05, 0.05), 2: (0.8, 0.1, 0.1), 3: (0.1, 0.85, 0.05), 4: (0.4, 0.3, 0.3)}
BIOVOLUMES = {1: 78608.0, 2: 1965200.0, 3: 117912.0, 5: 500.0}
CHAETOCEROS_PG = {"ifcb-analysis": 1881.9380967352057, "irfcb": 1704.32773633580405, "irfcb-auto": 1746.6920557712893}
DINOPHYSIS_PG = 398.1226243379282


def result():
    return from_class_scores(ClassScoresRows.from_scores(CLASSES, SCORES, PID), source=f"{PID}_class_scores.csv")


@pytest.mark.parametrize("convention", ["ifcb-analysis", "irfcb", "irfcb-auto"])
def test_per_class_sums_under_each_convention(convention):
    rows = roi_biomass(result(), BIOVOLUMES, convention=convention)
    sums = bin_biomass(rows, CLASSES)
    assert list(sums) == CLASSES
    chaetoceros, dinophysis, detritus = sums.values()
    assert chaetoceros.count == 2 and chaetoceros.diatom
    assert chaetoceros.biovolume_um3 == pytest.approx(52000.0, rel=1e-12)
    assert chaetoceros.carbon_pg == pytest.approx(CHAETOCEROS_PG[convention], rel=1e-12)
    assert dinophysis.count == 1 and not dinophysis.diatom
    assert dinophysis.biovolume_um3 == pytest.approx(3000.0, rel=1e-12)
    assert dinophysis.carbon_pg == pytest.approx(DINOPHYSIS_PG, rel=1e-12)
    assert detritus == ClassBiomass(0, 0.0, 0.0, False)


def test_per_roi_rows():
    rows = roi_biomass(result(), BIOVOLUMES)
    assert [r.roi_id for r in rows] == [f"{PID}_00001", f"{PID}_00002", f"{PID}_00003"]
    first = rows[0]
    assert (first.class_name, first.score, first.diatom) == ("Chaetoceros_chain", 0.9, True)
    assert first.biovolume_um3 == pytest.approx(2000.0, rel=1e-12)
    assert first.carbon_pg == pytest.approx(272.0615486960797, rel=1e-12)
    # ESD of 2000 µm³: 2 * (3 * 2000 / 4π)^(1/3) = 15.631852835935428
    assert first.esd_um == pytest.approx(15.631852835935428, rel=1e-12)
    assert roi_biomass_row(first) == {
        "roi_id": f"{PID}_00001", "class": "Chaetoceros_chain", "score": 0.9, "diatom": "true",
        "biovolume_um3": first.biovolume_um3, "carbon_pg": first.carbon_pg, "esd_um": first.esd_um,
    }  # fmt: skip
    assert roi_biomass_row(rows[2])["diatom"] == "false"


def test_a_users_diatom_list_and_micron_factor():
    table = parse_diatom_list(b"Dinophysis\n", source="mine.txt")
    rows = roi_biomass(result(), BIOVOLUMES, diatoms=table, micron_factor=1 / 3.4)
    assert [r.diatom for r in rows] == [False, False, True]
    # Dinophysis as a diatom of exactly 3000 µm³, ifcb-analysis: large-diatom, 135.0031262174257
    assert rows[2].carbon_pg == pytest.approx(135.0031262174257, rel=1e-12)
    doubled = roi_biomass(result(), {1: 1.0, 2: 1.0, 3: 1.0}, micron_factor=2.0)
    assert [r.biovolume_um3 for r in doubled] == [8.0, 8.0, 8.0]


def test_a_classified_roi_without_features_names_both_files():
    with pytest.raises(
        FormatError, match=rf"ROI 2 is classified as 'Chaetoceros_chain' in {PID}_class_scores\.csv"
    ) as e:
        roi_biomass(result(), {1: 78608.0, 3: 117912.0}, features_source=f"{PID}_features_v4.csv")
    assert e.value.source == f"{PID}_features_v4.csv"


def test_unclaimed_rois_need_no_features_and_extra_rows_are_ignored():
    rows = roi_biomass(result(), {1: 1.0, 2: 1.0, 3: 1.0})  # no row for ROI 4 (no class), none for 5 either
    assert len(rows) == 3
    rows = roi_biomass(result(), {**BIOVOLUMES, 99: 1e9})
    assert sum(r.biovolume_um3 for r in rows) == pytest.approx(55000.0, rel=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="micron factor"):
        roi_biomass(result(), BIOVOLUMES, micron_factor=0)
    with pytest.raises(ValueError, match="convention"):
        roi_biomass(result(), BIOVOLUMES, convention="matlab")
    nameless = from_class_scores(ClassScoresRows.from_scores(CLASSES, SCORES), source="scores.csv")
    with pytest.raises(ValueError, match="pass pid"):
        roi_biomass(nameless, BIOVOLUMES)
    assert len(roi_biomass(nameless, BIOVOLUMES, pid=PID)) == 3
