"""Class results from ifcb-analysis's _class_v1.mat, written here with SciPy as bin_classify.m saves them.

An optional-module test (the ``mat`` extra), like test_dask.py: it builds MATLAB cells with NumPy.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from ifcbkit import FormatError
from ifcbkit.science.class_results import RoiClass, read_class_result, read_class_v1_mat

PID = "D20240301T120000_IFCB010"
CLASSES = ["Chaetoceros", "Dinophysis", "detritus"]
SCORES = [
    [0.75, 0.15, 0.10],
    [0.55, 0.05, 0.40],
    [0.10, 0.60, 0.30],
    [0.30, 0.30, 0.40],
]
ROIS = [2, 3, 5, 8]
# What the classifier's per-class thresholds (0.6, 0.6, 0.3) gave, any-above as bin_classify.m applies them
ABOVE = ["Chaetoceros", "detritus", "unclassified", "detritus"]


def cell(values, column=True):
    out = np.empty((len(values), 1) if column else (1, len(values)), dtype=object)
    for i, value in enumerate(values):
        out[(i, 0) if column else (0, i)] = value
    return out


def write_v1(path, scores=SCORES, rois=ROIS, above=ABOVE, classes=CLASSES, unclassified=True, with_above=True):
    variables = {
        "class2useTB": cell([*classes, "unclassified"] if unclassified else classes),
        "TBscores": np.array(scores, dtype=float).reshape(len(rois), len(classes)),
        "roinum": np.array(rois, dtype=np.uint16).reshape(-1, 1),
        "TBclass": cell([classes[int(np.argmax(row))] for row in scores]),
        "classifierName": "results_2024.mat",
    }
    if with_above:
        variables["TBclass_above_threshold"] = cell(above)
    scipy.io.savemat(path, variables)
    return path


def assigned(result):
    return {r.roi: r.class_name for r in result.rois}


def test_without_thresholds_the_files_labels_are_used_as_they_are(tmp_path):
    result = read_class_result(write_v1(tmp_path / f"{PID}_class_v1.mat"))
    assert result.class_names == tuple(CLASSES)  # the trailing "unclassified" is no class
    assert assigned(result) == {2: "Chaetoceros", 3: "detritus", 5: None, 8: "detritus"}
    assert result.thresholds is None and result.threshold("detritus") is None
    assert result.rois[1] == RoiClass(3, "detritus", 0.40)
    assert result.rois[2] == RoiClass(5, None, 0.60)
    assert result.pid == PID
    assert result.counts() == {"Chaetoceros": 1, "Dinophysis": 0, "detritus": 2}


def test_the_callers_thresholds_apply_to_the_scores(tmp_path):
    path = write_v1(tmp_path / f"{PID}_class_v1.mat")
    own = {"Chaetoceros": 0.6, "Dinophysis": 0.6, "detritus": 0.3}
    winner = read_class_v1_mat(path, own, "winner")
    assert assigned(winner) == {2: "Chaetoceros", 3: None, 5: "Dinophysis", 8: "detritus"}
    assert winner.threshold("Dinophysis") == 0.6
    above = read_class_v1_mat(path, own, "any-above")
    assert assigned(above) == {2: "Chaetoceros", 3: "detritus", 5: None, 8: "detritus"}
    assert assigned(read_class_v1_mat(path, 0.7)) == {2: "Chaetoceros", 3: None, 5: None, 8: None}


def test_a_file_without_labels_uses_0_7(tmp_path):
    result = read_class_v1_mat(write_v1(tmp_path / f"{PID}_class_v1.mat", with_above=False, unclassified=False))
    assert assigned(result) == {2: "Chaetoceros", 3: None, 5: None, 8: None}
    assert result.thresholds == dict.fromkeys(CLASSES, 0.7)


def test_one_roi(tmp_path):
    path = write_v1(tmp_path / f"{PID}_class_v1.mat", scores=[SCORES[0]], rois=[9], above=["Chaetoceros"])
    result = read_class_v1_mat(path)
    assert result.rois == (RoiClass(9, "Chaetoceros", 0.75),)


def test_bad_files_name_the_file(tmp_path):
    path = write_v1(tmp_path / f"{PID}_class_v1.mat", above=["Chaetoceros", "Skeletonema", "detritus", "detritus"])
    with pytest.raises(FormatError, match="'Skeletonema' is not one of the file's classes") as e:
        read_class_v1_mat(path)
    assert e.value.source == str(path)
    bad = [row[:] for row in SCORES]
    bad[1][2] = float("nan")
    with pytest.raises(FormatError, match="ROI 3, class 'detritus': not a score"):
        read_class_v1_mat(write_v1(tmp_path / f"{PID}_class_v1.mat", scores=bad))
    scipy.io.savemat(tmp_path / "other.mat", {"x": 1.0})
    with pytest.raises(FormatError, match="no class2useTB, TBscores, roinum"):
        read_class_v1_mat(tmp_path / "other.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(FormatError, match="not a readable MAT file"):
        read_class_v1_mat(tmp_path / "junk.mat")


def test_a_v7_3_file_is_refused_by_name(tmp_path):
    path = tmp_path / f"{PID}_class_v1.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("TBscores", data=SCORES)
    with open(path, "r+b") as f:  # MATLAB's v7.3 header in the user block
        f.write(b"MATLAB 7.3 MAT-file".ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
    with pytest.raises(FormatError, match=r"v7\.3") as e:
        read_class_v1_mat(path)
    assert e.value.source == str(path)
