"""Class results from dashboard CSV, WHOI _class.h5 and SMHI / iRfcb _class.h5 (with its own thresholds and labels)."""

from __future__ import annotations

import math

import h5py
import pytest

from ifcbkit import FormatError
from ifcbkit.products import ClassScoresRows
from ifcbkit.science.class_results import RoiClass, from_class_scores, read_class_h5, read_class_result
from ifcbkit.science.class_rules import UnknownClassWarning

PID = "D20240301T120000_IFCB010"
CLASSES = ["Chaetoceros", "Dinophysis", "detritus"]
# ROI: scores of Chaetoceros, Dinophysis, detritus
SCORES = {
    1: (0.75, 0.15, 0.10),  # Chaetoceros over 0.7 and over its own 0.6
    2: (0.55, 0.05, 0.40),  # top Chaetoceros below 0.6; detritus exceeds its 0.3
    3: (0.10, 0.60, 0.30),  # Dinophysis exactly at its own 0.6
    4: (0.30, 0.30, 0.40),  # nothing passes 0.7; top class detritus exceeds its own 0.3
}
OWN = (0.6, 0.6, 0.3)


def write_csv(path, scores=SCORES, classes=CLASSES):
    rows = ["pid," + ",".join(classes)]
    rows += [f"{PID}_{roi:05d}," + ",".join(str(s) for s in row) for roi, row in scores.items()]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_h5(path, scores=SCORES, classes=CLASSES, thresholds=None, labels=None, legacy_labels=False):
    with h5py.File(path, "w") as f:
        f.create_dataset("output_scores", data=[list(row) for row in scores.values()])
        f.create_dataset("class_labels", data=[c.encode() for c in classes])
        f.create_dataset("roi_numbers", data=list(scores))
        if thresholds is not None:
            f.create_dataset("thresholds", data=list(thresholds))
        if labels is not None:
            name = "class_labels_above_threshold" if legacy_labels else "class_name"
            f.create_dataset(name, data=[label.encode() for label in labels])
            f.create_dataset("class_name_auto", data=[CLASSES[row.index(max(row))].encode() for row in scores.values()])
            f.create_dataset("classifier_name", data=b"ResNet 50 V6")
    return path


def assigned(result):
    return {r.roi: r.class_name for r in result.rois}


def test_dashboard_csv_defaults_to_winner_at_0_7(tmp_path):
    result = read_class_result(write_csv(tmp_path / f"{PID}_class_scores.csv"))
    assert assigned(result) == {1: "Chaetoceros", 2: None, 3: None, 4: None}
    assert result.pid == PID
    assert result.rule == "winner"
    assert result.thresholds == {"Chaetoceros": 0.7, "Dinophysis": 0.7, "detritus": 0.7}
    assert result.rois[0] == RoiClass(1, "Chaetoceros", 0.75)
    assert result.rois[1] == RoiClass(2, None, 0.55)  # no class: the top score
    assert result.counts() == {"Chaetoceros": 1, "Dinophysis": 0, "detritus": 0}
    assert result.classes() == {1: "Chaetoceros"}


def test_per_class_thresholds_under_both_rules(tmp_path):
    path = write_csv(tmp_path / f"{PID}_class_scores.csv")
    own = dict(zip(CLASSES, OWN))
    winner = read_class_result(path, own, "winner")
    assert assigned(winner) == {1: "Chaetoceros", 2: None, 3: "Dinophysis", 4: "detritus"}
    assert winner.threshold("Dinophysis") == 0.6
    above = read_class_result(path, own, "any-above")
    assert assigned(above) == {1: "Chaetoceros", 2: "detritus", 3: None, 4: "detritus"}
    assert above.rois[1] == RoiClass(2, "detritus", 0.40)
    assert above.rule == "any-above"


def test_a_mapping_leaves_other_classes_at_0_7_and_warns_about_unknown_ones(tmp_path):
    path = write_csv(tmp_path / f"{PID}_class_scores.csv")
    with pytest.warns(UnknownClassWarning, match="Skeletonema"):
        result = read_class_result(path, {"Dinophysis": 0.6, "Skeletonema": 0.1})
    assert result.thresholds == {"Chaetoceros": 0.7, "Dinophysis": 0.6, "detritus": 0.7}
    assert assigned(result) == {1: "Chaetoceros", 2: None, 3: "Dinophysis", 4: None}


def test_whoi_h5_has_no_thresholds_of_its_own(tmp_path):
    result = read_class_result(write_h5(tmp_path / f"{PID}_class.h5"))
    assert assigned(result) == {1: "Chaetoceros", 2: None, 3: None, 4: None}
    assert result.thresholds == dict.fromkeys(CLASSES, 0.7)


def test_smhi_h5_thresholds_are_honoured_when_the_caller_gives_none(tmp_path):
    # what iRfcb writes: class_name is the winner at or above its class's threshold, else "unclassified"
    labels = ["Chaetoceros", "unclassified", "Dinophysis", "detritus"]
    path = write_h5(tmp_path / f"{PID}_class.h5", thresholds=OWN, labels=labels)
    result = read_class_h5(path)
    assert assigned(result) == {1: "Chaetoceros", 2: None, 3: "Dinophysis", 4: "detritus"}
    assert result.thresholds == {"Chaetoceros": 0.6, "Dinophysis": 0.6, "detritus": 0.3}
    # the rule still applies to the file's thresholds
    above = read_class_h5(path, rule="any-above")
    assert assigned(above) == {1: "Chaetoceros", 2: "detritus", 3: None, 4: "detritus"}
    # the caller's thresholds win over the file's
    mine = read_class_h5(path, 0.7)
    assert assigned(mine) == {1: "Chaetoceros", 2: None, 3: None, 4: None}
    assert mine.threshold("detritus") == 0.7


def test_smhi_h5_nan_threshold_means_none(tmp_path):
    path = write_h5(tmp_path / f"{PID}_class.h5", thresholds=(0.6, math.nan, 0.9))
    result = read_class_h5(path)
    assert result.thresholds == {"Chaetoceros": 0.6, "Dinophysis": 0.0, "detritus": 0.9}
    assert assigned(result) == {1: "Chaetoceros", 2: None, 3: "Dinophysis", 4: None}


@pytest.mark.parametrize("legacy", [False, True])
def test_h5_labels_without_thresholds_are_taken_as_they_are(tmp_path, legacy):
    labels = ["Chaetoceros", "unclassified", "unclassified", "detritus"]
    path = write_h5(tmp_path / f"{PID}_class.h5", labels=labels, legacy_labels=legacy)
    result = read_class_h5(path)
    assert assigned(result) == {1: "Chaetoceros", 2: None, 3: None, 4: "detritus"}
    assert result.thresholds is None and result.rule is None
    assert result.threshold("detritus") is None
    assert result.rois[3] == RoiClass(4, "detritus", 0.40)


def test_bad_h5_thresholds_and_labels_name_the_file(tmp_path):
    path = write_h5(tmp_path / f"{PID}_class.h5", thresholds=(0.6, 1.5, 0.3))
    with pytest.raises(FormatError, match="threshold of 'Dinophysis'") as e:
        read_class_h5(path)
    assert e.value.source == str(path)
    path = write_h5(tmp_path / f"{PID}_class.h5", thresholds=(0.6, 0.5))
    with pytest.raises(FormatError, match="2 thresholds for 3 classes"):
        read_class_h5(path)
    path = write_h5(tmp_path / f"{PID}_class.h5", labels=["Chaetoceros", "Skeletonema", "detritus", "detritus"])
    with pytest.raises(FormatError, match="'Skeletonema' is not one of the file's classes"):
        read_class_h5(path)


@pytest.mark.parametrize("bad", [math.nan, 1.2, -0.1, math.inf])
def test_scores_must_be_finite_and_from_0_to_1(tmp_path, bad):
    scores = {**SCORES, 2: (0.5, bad, 0.1)}
    for path in (
        write_csv(tmp_path / f"{PID}_class_scores.csv", scores),
        write_h5(tmp_path / f"{PID}_class.h5", scores),
    ):
        # the CSV reader names the line (ROI 2 is line 3), the HDF5 reader the ROI
        csv_file = path.suffix == ".csv"
        where = "line 3: 'Dinophysis' is not a score" if csv_file else "ROI 2, class 'Dinophysis': not a score"
        with pytest.raises(FormatError, match=where) as e:
            read_class_result(path)
        assert e.value.source == str(path)


def test_from_class_scores_of_a_dashboard():
    rows = ClassScoresRows.from_scores(CLASSES, SCORES, PID)
    result = from_class_scores(rows, 0.3, "any-above", source="https://dash/x/" + PID + "_class_scores.csv")
    assert assigned(result) == {1: "Chaetoceros", 2: "Chaetoceros", 3: "Dinophysis", 4: "detritus"}
    assert result.pid == PID
    with pytest.raises(ValueError, match="rule"):
        from_class_scores(rows, 0.3, "best", source="x")


def test_other_files_are_refused(tmp_path):
    with pytest.raises(FormatError, match=r"_class_v1\.mat"):
        read_class_result(tmp_path / "scores.json")
