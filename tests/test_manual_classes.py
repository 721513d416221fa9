"""ifcb-analysis manual annotation files: written here, read back through SciPy and ifcbkit, and files laid
out as MATLAB's manual_classify and iRfcb save them.

An optional-module test (the ``mat`` extra), like test_class_v1_mat.py: it builds MATLAB cells with NumPy.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import scipy.io

from ifcbkit import FormatError, NotFoundError, read_manual_classes, write_manual_classes
from ifcbkit.science.manual import read_manual_file

PID = "D20240301T120000_IFCB010"
CLASSES = ["unclassified", "Chaetoceros", "Dinophysis", "Mesodinium_rubrum", "detritus"]


def cell(values, shape=None):
    out = np.empty(shape or (1, len(values)), dtype=object)
    for i, value in enumerate(values):
        out.flat[i] = value
    return out


def save(path, **variables):
    scipy.io.savemat(path, variables, do_compression=True, format="5")
    return path


def test_written_file_reads_back_identically_through_scipy_and_ifcbkit(tmp_path):
    labels = {1: "Chaetoceros", 2: "unclassified", 4: "Mesodinium_rubrum", 7: "detritus", 3: None}
    path = tmp_path / f"{PID}.mat"
    write_manual_classes(path, labels, CLASSES, rois=8)
    raw = scipy.io.loadmat(path)
    classlist = raw["classlist"]
    assert classlist.dtype == np.float64 and classlist.shape == (8, 3)
    assert classlist[:, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    manual = [None if math.isnan(v) else int(v) for v in classlist[:, 1]]
    assert manual == [2, 1, None, 4, None, None, 5, None]
    assert np.isnan(classlist[:, 2]).all()
    assert raw["class2use_manual"].shape == (1, 5)
    assert [str(v[0]) for v in raw["class2use_manual"][0]] == CLASSES
    assert [str(v[0]) for v in raw["list_titles"][0]] == ["roi number", "manual", "auto"]
    assert raw["default_class_original"].shape == (1, 1) and raw["default_class_original"][0, 0][0] == "unclassified"
    assert raw["class2use_auto"].shape == (0, 0)
    expected = {roi: name for roi, name in labels.items() if name is not None}
    assert read_manual_classes(path) == expected
    assert read_manual_classes(str(path)) == dict(sorted(expected.items()))
    # the rows as MATLAB indexes them: row k is ROI k
    write_manual_classes(path, {3: "Dinophysis"}, CLASSES, default_class="detritus")
    raw = scipy.io.loadmat(path)
    assert raw["classlist"].shape == (3, 3) and raw["default_class_original"][0, 0][0] == "detritus"
    assert read_manual_classes(path) == {3: "Dinophysis"}


def test_a_file_laid_out_as_manual_classify_saves_it_in_correct_mode(tmp_path):
    # manual_classify_5_0, 'correct' mode: the auto column holds the classifier's classes, the manual column
    # the corrections (NaN where the annotator left the classifier's class); class2use_auto is a cell
    auto = ["Dinophysis", "Chaetoceros", "detritus"]
    classlist = np.array([
        [1, np.nan, 2], [2, 3, 2], [3, np.nan, np.nan], [4, 4, np.nan], [5, np.nan, 3], [6, 1, 1],
    ], dtype=float)  # fmt: skip
    path = save(
        tmp_path / f"{PID}.mat", classlist=classlist, class2use_manual=cell(CLASSES), class2use_auto=cell(auto),
        list_titles=cell(["roi number", "manual", "auto"]), default_class_original=cell(["unclassified"]),
    )  # fmt: skip
    assert read_manual_classes(path) == {
        1: "Chaetoceros", 2: "Dinophysis", 4: "Mesodinium_rubrum", 5: "detritus", 6: "unclassified",
    }  # fmt: skip
    read = read_manual_file(path)
    assert read.class2use_auto == tuple(auto) and read.default_class == "unclassified"
    assert read.rois[0] == (1, None, "Chaetoceros") and read.rois[2] == (3, None, None)


def test_older_layouts(tmp_path):
    # an old file: 'SVM-auto' titles, 'NaN' as default class, a fourth column, one ROI, one class
    path = save(
        tmp_path / "IFCB1_2006_158_000036.mat", classlist=np.array([[1, np.nan, 1, 1]]),
        class2use_manual=cell(["ciliate"]), class2use_auto=np.zeros((0, 0)),
        list_titles=cell(["roi number", "manual", "SVM-auto", "manual_raw_roi"]), default_class_original="NaN",
    )  # fmt: skip
    assert read_manual_classes(path) == {1: "ciliate"}
    assert read_manual_file(path).default_class == "NaN"
    # as iRfcb's scipy writes them: class2use_auto a 0 x 0 uint8, a ROI with no class at all
    path = save(
        tmp_path / f"{PID}.mat", classlist=np.array([[1, np.nan, np.nan], [2, 4, np.nan], [3, 4, np.nan]]),
        class2use_manual=cell(CLASSES), class2use_auto=np.zeros((0, 0), dtype=np.uint8),
        list_titles=cell(["roi number", "manual", "auto"]), default_class_original=cell(["unclassified"]),
    )  # fmt: skip
    assert read_manual_classes(path) == {2: "Mesodinium_rubrum", 3: "Mesodinium_rubrum"}


def test_as_class_results_labels_are_precomputed(tmp_path):
    path = tmp_path / f"{PID}.mat"
    write_manual_classes(path, {1: "Chaetoceros", 2: "unclassified", 3: "Chaetoceros", 5: "detritus"}, CLASSES)
    result = read_manual_file(path).class_result()
    assert result.pid == PID and result.thresholds is None and result.rule is None
    assert result.class_names == tuple(CLASSES[1:])
    assert result.threshold("Chaetoceros") is None
    assert result.classes() == {1: "Chaetoceros", 3: "Chaetoceros", 5: "detritus"}
    assert result.counts() == {"Chaetoceros": 2, "Dinophysis": 0, "Mesodinium_rubrum": 0, "detritus": 1}
    assert [r.score for r in result.rois] == [None] * 5


def good(**changes):
    variables = {
        "classlist": np.array([[1, 2, np.nan], [2, np.nan, np.nan], [3, 5, np.nan]]),
        "class2use_manual": cell(CLASSES), "class2use_auto": np.zeros((0, 0)),
        "list_titles": cell(["roi number", "manual", "auto"]), "default_class_original": cell(["unclassified"]),
    }  # fmt: skip
    variables.update(changes)
    return {k: v for k, v in variables.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"classlist": np.array([[1, 2, np.nan], [2, 6, np.nan]])}, "ROI 2: manual class index 6 is beyond class2"),
        ({"classlist": np.array([[7, np.nan, 9]])}, "ROI 7: auto class index 9 is beyond class2use_manual"),
        ({"classlist": np.array([[4, 0, np.nan]])}, "ROI 4: manual class index 0 is beyond"),
        ({"classlist": np.array([[4, 1.5, np.nan]])}, "ROI 4: manual class index 1.5 is not"),
        ({"classlist": np.array([[4, 1, np.nan], [4, 2, np.nan]])}, "ROI 4 appears twice"),
        ({"classlist": np.array([[0.5, 1, np.nan]])}, "invalid ROI number"),
        ({"classlist": None}, "no classlist"),
        ({"class2use_manual": None}, "no class2use_manual"),
        ({"class2use_manual": np.array([[1.0, 2.0]])}, "class2use_manual is not a cell of class names"),
    ],
)  # fmt: skip
def test_malformed_files_name_the_file_and_roi(tmp_path, changes, message):
    path = save(tmp_path / f"{PID}.mat", **good(**changes))
    with pytest.raises(FormatError, match=message) as caught:
        read_manual_classes(path)
    assert caught.value.source == str(path)


def test_not_a_mat_file_and_missing_file(tmp_path):
    path = tmp_path / f"{PID}.mat"
    path.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(FormatError, match=str(path)):
        read_manual_classes(path)
    with pytest.raises(NotFoundError):
        read_manual_classes(tmp_path / "nothing.mat")


def test_write_refuses_bad_arguments_and_leaves_no_partial_file(tmp_path):
    path = tmp_path / f"{PID}.mat"
    for labels, classes, options, message in [
        ({1: "Nope"}, CLASSES, {}, "ROI 1: class 'Nope' is not in class2use"),
        ({0: "detritus"}, CLASSES, {}, "positive integers"),
        ({True: "detritus"}, CLASSES, {}, "positive integers"),
        ({1: "a"}, ["a", "a"], {}, "distinct"),
        ({1: "a"}, [], {}, "distinct"),
        ({5: "a"}, ["a"], {"rois": 3}, "ROI 5 is labelled"),
        ({1: "a"}, ["a"], {"default_class": "b"}, "default class 'b'"),
    ]:
        with pytest.raises(ValueError, match=message):
            write_manual_classes(path, labels, classes, **options)
    assert not path.exists()
    with pytest.raises(OSError):
        write_manual_classes(tmp_path / "no" / "such" / "dir.mat", {1: "a"}, ["a"])
    assert os.listdir(tmp_path) == []
