"""Products: discovery under a products root (sync and async), and the blob, feature and class-score readers."""

from __future__ import annotations

import io
import os
import sys
import tracemalloc
import zipfile

import h5py
import pytest
from PIL import Image

from ifcbkit import (
    FormatError,
    InvalidIdentifierError,
    MissingDependencyError,
    MissingFileError,
    NotFoundError,
    ProductNotFoundError,
)
from ifcbkit.faces.directory import SkippedPathWarning
from ifcbkit.faces.products import AsyncProductDirectory, SyncProductDirectory
from ifcbkit.formats.products import ProductFile, parse_class_scores_csv, parse_product_name
from ifcbkit.products import (
    ClassScoresRows,
    async_blob_path,
    async_class_scores_path,
    async_features_path,
    async_find_product_file,
    async_list_product_files,
    read_blobs,
    read_class_scores,
    read_features,
    sync_blob_path,
    sync_class_scores_path,
    sync_features_path,
    sync_find_product_file,
    sync_list_product_files,
)

PID = "D20240215T150055_IFCB010"
OTHER = "D20240216T010203_IFCB010"
CLASSES = ("diatom", "ciliate", "detritus")
SCORES = {1: (0.9, 0.05, 0.05), 3: (0.2, 0.7, 0.1), 7: (0.3, 0.3, 0.4)}


def write_class_h5(path, classes, scores, *, labels_as_bytes=True):
    with h5py.File(path, "w") as f:
        labels = [c.encode() for c in classes] if labels_as_bytes else list(classes)
        if labels_as_bytes:
            f.create_dataset("class_labels", data=labels)
        else:
            f.create_dataset("class_labels", data=labels, dtype=h5py.string_dtype())
        f.create_dataset("roi_numbers", data=list(scores))
        f.create_dataset("output_scores", data=[list(row) for row in scores.values()])
    return path


def write_class_csv(path, pid, classes, scores):
    lines = [",".join(("pid", *classes))]
    lines += [",".join((f"{pid}_{t:05d}", *map(repr, row))) for t, row in scores.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def png(width=4, height=3, value=255) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height), value).save(buffer, "PNG")
    return buffer.getvalue()


def write_blobs(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def touch(path, data=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def products(tmp_path):
    """A products tree by kind and day, with two versions of blobs and features and both class-score formats."""
    root = tmp_path / "products"
    day = ("D2024", "D20240215")
    paths = {
        "blobs_v2": touch(root / "blobs" / "v2" / day[0] / day[1] / f"{PID}_blobs_v2.zip"),
        "blobs_v4": touch(root / "blobs" / "v4" / day[0] / day[1] / f"{PID}_blobs_v4.zip"),
        "fea_v2": touch(root / "features" / day[0] / day[1] / f"{PID}_fea_v2.csv"),
        "class_csv": touch(root / "class" / f"{PID}_class_scores.csv"),
        "class_h5": touch(root / "class" / day[1] / f"{PID}_class.h5"),
        "other_h5": touch(root / "class" / "D20240216" / f"{OTHER}_class.h5"),
        # misplaced under another day's directory: find does not enter it, list does
        "misplaced": touch(root / "features" / "D2024" / "D20240301" / f"{PID}_fea_v4.csv"),
    }
    touch(root / "blobs" / "README.txt")
    touch(root / "class" / "not_a_bin_class.h5")
    return root, {k: str(v) for k, v in paths.items()}


# ----- names and discovery ----------------------------------------------------------------------


def test_parse_product_name():
    assert parse_product_name(f"{PID}_blobs_v4.zip") == (PID, "blobs", 4)
    assert parse_product_name(f"{PID}_fea_v2.csv") == (PID, "features", 2)
    assert parse_product_name(f"{PID}_class.h5") == (PID, "class_scores", 3)
    assert parse_product_name(f"{PID}_class_scores.csv") == (PID, "class_scores", None)
    assert parse_product_name("IFCB5_2012_028_081515_blobs_v2.zip") == ("IFCB5_2012_028_081515", "blobs", 2)
    for name in (f"{PID}.roi", f"{PID}_blobs_v4.csv", "D20241315T150055_IFCB010_class.h5", "x_class.h5", ""):
        assert parse_product_name(name) is None, name


def test_find_by_kind_prefers_the_highest_version(products):
    root, paths = products
    d = SyncProductDirectory(root)
    assert d.find(PID, "blobs") == paths["blobs_v4"]
    assert d.find(PID, "blobs", 2) == paths["blobs_v2"]
    assert d.find(PID, "blobs", 3) is None
    assert d.find(PID, "features") == paths["fea_v2"]  # the v4 is under D20240301, never entered
    assert d.find(PID, "class_scores") == paths["class_h5"]  # v3 h5 before the dashboard CSV
    assert d.find(OTHER, "class_scores") == paths["other_h5"]
    assert d.find("D20250101T000000_IFCB010", "blobs") is None


def test_path_functions_find_one_name_as_in_0_3_1(products):
    root, paths = products
    assert sync_blob_path(root, PID) == paths["blobs_v4"]  # version 4 by default
    assert sync_blob_path(root, PID, version=2) == paths["blobs_v2"]
    assert sync_class_scores_path(root, PID) == paths["class_h5"]
    for missing in (lambda: sync_blob_path(root, PID, version=3), lambda: sync_features_path(root, PID)):
        with pytest.raises(FileNotFoundError, match="not found in") as info:  # the v4 is in D20240301
            missing()
        assert isinstance(info.value, ProductNotFoundError) and isinstance(info.value, KeyError)
    with pytest.raises(FileNotFoundError):  # "features" is not part of the name: not entered, as in 0.3.1
        sync_features_path(root, PID, version=2)
    assert sync_find_product_file(root, f"{PID}_fea_v2.csv", exhaustive=True) == paths["fea_v2"]
    assert sync_find_product_file(root, os.path.basename(paths["misplaced"])) is None  # D20240301 is not entered
    assert sync_find_product_file(root, os.path.basename(paths["misplaced"]), exhaustive=True) == paths["misplaced"]
    assert sorted(sync_list_product_files(root, r"D.*_class")) == sorted(
        [paths["class_h5"], paths["class_csv"], paths["other_h5"]]
    )


async def test_async_find_equals_sync(products):
    root, paths = products
    assert await async_blob_path(root, PID) == paths["blobs_v4"]
    assert await async_find_product_file(root, f"{PID}_fea_v2.csv", exhaustive=True) == paths["fea_v2"]
    with pytest.raises(FileNotFoundError):
        await async_features_path(root, PID, version=2)
    assert await async_class_scores_path(root, PID) == paths["class_h5"]
    assert await async_find_product_file(root, f"{PID}_blobs_v2.zip") == paths["blobs_v2"]
    blobs = list(sync_list_product_files(root, ".*blobs"))
    assert (
        [p async for p in async_list_product_files(root, ".*blobs")] == blobs == [paths["blobs_v2"], paths["blobs_v4"]]
    )
    assert await AsyncProductDirectory(root).find(OTHER, "class_scores") == paths["other_h5"]
    assert await AsyncProductDirectory(root).find(PID, "blobs", 2) == paths["blobs_v2"]


async def test_list_product_files(products):
    root, paths = products
    listed = list(SyncProductDirectory(root).list())
    assert listed == [
        ProductFile(PID, "blobs", 2, paths["blobs_v2"]),
        ProductFile(PID, "blobs", 4, paths["blobs_v4"]),
        ProductFile(PID, "class_scores", 3, paths["class_h5"]),  # class/D20240215/
        ProductFile(PID, "class_scores", None, paths["class_csv"]),  # class/D20240215T..._class_scores.csv
        ProductFile(OTHER, "class_scores", 3, paths["other_h5"]),  # class/D20240216/
        ProductFile(PID, "features", 2, paths["fea_v2"]),
        ProductFile(PID, "features", 4, paths["misplaced"]),
    ]
    h5 = [p.path for p in SyncProductDirectory(root).list("class_scores", 3)]
    assert h5 == [paths["class_h5"], paths["other_h5"]]
    assert [p async for p in AsyncProductDirectory(root).list()] == listed


def test_discovery_errors(products, tmp_path):
    root, _ = products
    with pytest.raises(FileNotFoundError, match="nowhere"):
        sync_blob_path(tmp_path / "nowhere", PID)
    assert list(sync_list_product_files(tmp_path / "nowhere", ".*")) == []
    with pytest.raises(NotFoundError, match="does not exist"):
        list(SyncProductDirectory(tmp_path / "nowhere").list())
    with pytest.raises(InvalidIdentifierError):
        sync_blob_path(root, "../../etc/passwd")
    for name in ("../x_class.h5", "a/b", "", ".."):
        with pytest.raises(InvalidIdentifierError):
            sync_find_product_file(root, name)
    with pytest.raises(ValueError, match="kind"):
        SyncProductDirectory(root).find(PID, "masks")


def test_symlink_loop_is_skipped_with_a_warning(products):
    root, paths = products
    os.symlink(root, root / "class" / "loop")
    with pytest.warns(SkippedPathWarning, match="symlink loop"):
        found = [p.path for p in SyncProductDirectory(root).list("class_scores")]
    assert sorted(found) == sorted([paths["other_h5"], paths["class_h5"], paths["class_csv"]])


# ----- blobs ------------------------------------------------------------------------------------


def test_read_blobs(tmp_path):
    masks = {f"{PID}_00001.png": png(4, 3, 255), f"{PID}_00002.png": png(2, 5, 0)}
    path = write_blobs(tmp_path / f"{PID}_blobs_v4.zip", masks)
    blobs = list(read_blobs(path))
    assert [roi_id for roi_id, _ in blobs] == [f"{PID}_00001", f"{PID}_00002"]
    first = Image.open(io.BytesIO(blobs[0][1]))
    assert first.size == (4, 3) and first.convert("L").getextrema() == (255, 255)
    assert Image.open(io.BytesIO(blobs[1][1])).size == (2, 5)


def test_malformed_blobs_name_the_file(tmp_path):
    bad = touch(tmp_path / f"{PID}_blobs_v2.zip", b"not a zip")
    with pytest.raises(FormatError, match="not a readable zip") as e:
        read_blobs(bad)
    assert e.value.source == str(bad)
    loose = write_blobs(tmp_path / "loose.zip", {"mask1.png": png(), "README.txt": b"hi"})
    assert [roi_id for roi_id, _ in read_blobs(loose)] == ["mask1"]  # other members skipped, as in 0.3.1
    other_bin = write_blobs(tmp_path / f"{OTHER}_blobs_v2.zip", {f"{PID}_00001.png": png()})
    with pytest.raises(FormatError, match="belongs to bin"):
        read_blobs(other_bin)
    with pytest.raises(NotFoundError):
        read_blobs(tmp_path / "missing.zip")


def test_a_blob_member_too_large_for_any_roi_is_refused_before_it_is_read(tmp_path):
    """Regression (hostile input 14): a 1 MB blobs zip with a 1 GiB member raised peak memory by 2 GB."""
    bomb = tmp_path / f"{PID}_blobs_v4.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(f"{PID}_00001.png", "w") as member:
        for _ in range(80):
            member.write(bytes(1 << 20))  # 80 MiB of zeros, about 80 KB compressed
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=rf"member '{PID}_00001.png' is 83886080 bytes uncompressed") as e:
            read_blobs(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.source == str(bomb) and peak < 1 << 20
    # the size the central directory declares decides, whatever the data: a forged 1 GiB is refused too
    forged = write_blobs(tmp_path / f"{OTHER}_blobs_v4.zip", {f"{OTHER}_00001.png": png()})
    data = bytearray(forged.read_bytes())
    data[data.index(b"PK\x01\x02") + 24 : data.index(b"PK\x01\x02") + 28] = (1 << 30).to_bytes(4, "little")
    forged.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="1073741824 bytes uncompressed"):
        read_blobs(forged)


# ----- features ---------------------------------------------------------------------------------


def test_read_features(tmp_path):
    path = tmp_path / f"{PID}_fea_v2.csv"
    path.write_text("roi_number,Area,Biovolume,EquivDiameter\n1,120,3.5e3,12.36\n\n4,88,,10.6\n")
    features = read_features(path)
    # (roi_number, values) in file order; ints stay ints, blank values are left out (as in 0.3.1)
    assert features == [(1, {"Area": 120, "Biovolume": 3500.0, "EquivDiameter": 12.36}),
                        (4, {"Area": 88, "EquivDiameter": 10.6})]  # fmt: skip
    assert type(features[0][1]["Area"]) is int
    camel = tmp_path / "camel.csv"
    camel.write_text("Area,roiNumber\n5.5,2\n")
    assert read_features(camel) == [(2, {"Area": 5.5})]


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ("Area,Biovolume\n1,2\n", "no ROI number column", 1),
        ("roi_number,Area\n1,big\n", "'Area' is not a number", 2),
        ("roi_number,Area\n1,2\n1,3\n", "appears twice", 3),
        ("roi_number,Area\n1.5,2\n", "invalid ROI number", 2),
        ("roi_number,Area\n1,2,3\n", "3 fields", 2),
        ("", "empty file", None),
    ],
)
def test_malformed_features_name_file_and_line(tmp_path, text, match, line):
    path = tmp_path / f"{PID}_fea_v2.csv"
    path.write_text(text)
    with pytest.raises(FormatError, match=match) as e:
        read_features(path)
    assert e.value.source == str(path) and e.value.line == line


# ----- class scores -----------------------------------------------------------------------------


@pytest.mark.parametrize("labels_as_bytes", [True, False])
def test_h5_and_csv_class_scores_have_one_shape(tmp_path, labels_as_bytes):
    h5 = write_class_h5(tmp_path / f"{PID}_class.h5", CLASSES, SCORES, labels_as_bytes=labels_as_bytes)
    from_csv = read_class_scores(write_class_csv(tmp_path / f"{PID}_class_scores.csv", PID, CLASSES, SCORES))
    from_h5 = read_class_scores(h5)
    assert from_h5 == from_csv == ClassScoresRows.from_scores(CLASSES, SCORES, PID)
    assert isinstance(next(iter(from_h5.scores)), int)


def test_csv_class_scores_take_the_bin_from_the_roi_ids(tmp_path):
    scores = read_class_scores(write_class_csv(tmp_path / "scores.csv", OTHER, CLASSES, {2: (0.1, 0.2, 0.7)}))
    assert scores.pid == OTHER and scores.scores == {2: (0.1, 0.2, 0.7)}
    empty = tmp_path / f"{PID}_class_scores.csv"
    empty.write_text("pid,diatom,ciliate\n")
    assert read_class_scores(empty) == ClassScoresRows.from_scores(("diatom", "ciliate"), {}, PID)


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ("roi,diatom\nx,1\n", "no pid column", 1),
        (f"pid,diatom\n{PID},0.5\n", "not a ROI id", 2),
        (f"pid,diatom\n{OTHER}_00001,0.5\n", "is not in bin", 2),
        (f"pid,diatom\n{PID}_00001,high\n", "'diatom' is not a number", 2),
        (f"pid,diatom\n{PID}_00001,0.5\n{PID}_00001,0.6\n", "appears twice", 3),
    ],
)
def test_malformed_csv_class_scores(tmp_path, text, match, line):
    path = tmp_path / f"{PID}_class_scores.csv"
    path.write_text(text)
    with pytest.raises(FormatError, match=match) as e:
        read_class_scores(path)
    assert e.value.source == str(path) and e.value.line == line


def test_malformed_h5_class_scores(tmp_path):
    not_h5 = touch(tmp_path / f"{PID}_class.h5", b"plain text")
    with pytest.raises(FormatError, match="not a readable v3 class scores file") as e:
        read_class_scores(not_h5)
    assert e.value.source == str(not_h5)
    missing = tmp_path / "missing_dataset_class.h5"
    with h5py.File(missing, "w") as f:
        f.create_dataset("output_scores", data=[[0.5, 0.5]])
    with pytest.raises(FormatError, match="no class_labels, roi_numbers dataset"):
        read_class_scores(missing)
    wrong_rows = tmp_path / "rows_class.h5"
    with h5py.File(wrong_rows, "w") as f:
        f.create_dataset("output_scores", data=[[0.5, 0.5]])
        f.create_dataset("class_labels", data=[b"a", b"b"])
        f.create_dataset("roi_numbers", data=[1, 2])
    with pytest.raises(FormatError, match="1 rows but roi_numbers has 2"):
        read_class_scores(wrong_rows)
    wrong_width = tmp_path / "width_class.h5"
    with h5py.File(wrong_width, "w") as f:
        f.create_dataset("output_scores", data=[[0.5, 0.5]])
        f.create_dataset("class_labels", data=[b"a", b"b", b"c"])
        f.create_dataset("roi_numbers", data=[1])
    with pytest.raises(FormatError, match="2 scores for 3 class labels"):
        read_class_scores(wrong_width)
    with pytest.raises(FormatError, match=r"_class\.h5 or _class_scores\.csv"):
        read_class_scores(tmp_path / "scores.json")
    with pytest.raises(NotFoundError):
        read_class_scores(tmp_path / f"{OTHER}_class.h5")


def test_h5_without_h5py_names_the_extra(tmp_path, monkeypatch):
    path = write_class_h5(tmp_path / f"{PID}_class.h5", CLASSES, SCORES)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now fails
    with pytest.raises(MissingDependencyError, match=r"ifcbkit\[hdf5\]") as e:
        read_class_scores(path)
    assert e.value.extra == "hdf5"
    # the CSV reader does not need it
    csv_path = write_class_csv(tmp_path / f"{PID}_class_scores.csv", PID, CLASSES, SCORES)
    assert read_class_scores(csv_path).scores == SCORES


def _scores_h5(path, scores, labels, numbers):
    with h5py.File(path, "w") as f:
        f.create_dataset("output_scores", data=scores)
        f.create_dataset("class_labels", data=labels)
        f.create_dataset("roi_numbers", data=numbers)
    return path


@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        ([[0.1, 0.9]], [b"diatom", b"\xff\xfe"], "not UTF-8"),
        ([[[0.1], [0.9]]], [b"a", b"b"], "scores are not numbers"),
        ([[b"x", b"y"]], [b"a", b"b"], "scores are not numbers"),
    ],
)
def test_malformed_h5_class_scores_are_format_errors(tmp_path, scores, labels, match):
    """Regression (hostile input 12): a non-UTF-8 label raised UnicodeDecodeError, 3-D scores a
    TypeError, string scores a ValueError."""
    path = _scores_h5(tmp_path / f"{PID}_class.h5", scores, labels, [1])
    with pytest.raises(FormatError, match=match) as info:
        read_class_scores(path)
    assert info.value.source == str(path)


def test_bit_flipped_h5_files_are_format_errors_or_read(tmp_path):
    """Regression (hostile input 12): bit-flipped h5 files raised RuntimeError (55 of 300)."""
    import random

    good = _scores_h5(tmp_path / "good.h5", [[0.1, 0.9], [0.8, 0.2]], [b"a", b"b"], [1, 2]).read_bytes()
    rng = random.Random(12)
    path = tmp_path / f"{PID}_class.h5"
    outcomes = set()
    for _ in range(120):
        data = bytearray(good)
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        try:
            read_class_scores(path)
            outcomes.add("read")
        except FormatError:
            outcomes.add("FormatError")
    assert "FormatError" in outcomes  # and nothing else was raised


def test_a_directory_named_like_a_class_scores_file_is_a_clear_error(tmp_path):
    """Regression (hostile input 18): read_class_scores on a directory named ``*.csv`` raised
    IsADirectoryError."""
    odd = tmp_path / f"{PID}_class_scores.csv"
    odd.mkdir()
    with pytest.raises(MissingFileError, match=r"_class_scores\.csv is a directory, not a file"):
        read_class_scores(odd)


def test_ifcb_features_names_are_found(tmp_path):
    """ifcb-features writes ``{pid}_features_v4.csv`` and ``{pid}_blobs_v4.zip``; both are found."""
    features = touch(tmp_path / "D2024" / f"{PID}_features_v4.csv", b"roi_number,Area\n1,12\n")
    blobs = write_blobs(tmp_path / "D2024" / f"{PID}_blobs_v4.zip", {f"{PID}_00001.png": png()})
    products = SyncProductDirectory(tmp_path)
    assert products.find(PID, "features") == str(features) and products.find(PID, "blobs") == str(blobs)
    assert parse_product_name(f"{PID}_features_v4.csv") == (PID, "features", 4)
    assert read_features(features) == [(1, {"Area": 12})]


# ----- numbers that are scores ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "why"),
    [
        ("inf", "not a finite number"),
        ("-inf", "not a finite number"),
        ("nan", "not a finite number"),
        ("1" * 5000, "a number of 5000 characters"),
        ("1e400", "not a finite number"),
        ("-0.5", r"outside \[0, 1\]"),
        ("1.5", r"outside \[0, 1\]"),
        ("", "has no score"),
    ],
)
def test_a_csv_class_score_that_is_not_a_probability_names_the_file_and_line(tmp_path, score, why):
    """Scores of inf, or of 5,000 digits, were read as inf and took part in counting."""
    path = tmp_path / f"{PID}_class_scores.csv"
    path.write_text(f"pid,diatom,ciliate\n{PID}_00001,0.5,0.5\n{PID}_00002,{score},0.25\n")
    with pytest.raises(FormatError, match=rf"'diatom' (is not a score: .*)?{why}|'diatom' is {why}") as e:
        read_class_scores(path)
    assert e.value.source == str(path) and e.value.line == 3
    with pytest.raises(FormatError, match="line 3"):
        parse_class_scores_csv(path.read_bytes(), source="https://dashboard/x_class_scores.csv")


@pytest.mark.parametrize("score", [float("inf"), float("nan"), -0.5, 1.5, -1e-3])
def test_an_h5_class_score_that_is_not_a_probability_names_the_file_and_roi(tmp_path, score):
    path = _scores_h5(tmp_path / f"{PID}_class.h5", [[0.5, 0.5], [score, 0.1]], [b"diatom", b"ciliate"], [1, 7])
    with pytest.raises(FormatError, match=r"ROI 7, class 'diatom': not a score") as e:
        read_class_scores(path)
    assert e.value.source == str(path)


def test_float32_rounding_above_one_is_a_score(tmp_path):
    """A softmax in float32 can end one ulp above 1 (printed 1.0000001); it is still a probability."""
    path = tmp_path / f"{PID}_class_scores.csv"
    path.write_text(f"pid,diatom,ciliate\n{PID}_00001,1.0000001,0.0\n{PID}_00002,-0.0,1.0\n")
    assert read_class_scores(path).scores == {1: (1.0000001, 0.0), 2: (-0.0, 1.0)}
    h5 = _scores_h5(tmp_path / f"{PID}_class.h5", [[0.5, 0.5]], [b"a", b"b"], [1])
    with h5py.File(h5, "a") as f:
        del f["output_scores"]
        f.create_dataset("output_scores", data=[[1.0000001, 0.0]], dtype="float32")
    assert read_class_scores(h5).scores[1][0] == pytest.approx(1.0, abs=2e-7)
