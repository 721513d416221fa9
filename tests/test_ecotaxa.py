"""``ifcbkit ecotaxa`` and ``write_ecotaxa``: EcoTaxa import zips of tables and images."""

from __future__ import annotations

import csv
import io
import os
import zipfile

import pytest
from PIL import Image

from ifcbkit import FormatError, NotFoundError, bin_images, open_bin
from ifcbkit.cli import main
from ifcbkit.exports.ecotaxa import ecotaxa_text, write_ecotaxa
from ifcbkit.testing import Roi, stitched_pair, write_bin

D_ID = "D20240215T150055_IFCB010"
D_FIX = "D20240215T160000_IFCB010"
I_ID = "IFCB5_2014_100_120000"
CLASSES = ["Chaetoceros", "Mesodinium_rubrum", "detritus"]


def read_zip(path):
    """``{pid: (header, types, rows as dicts)}`` and ``{name: image}`` of an EcoTaxa zip."""
    tables, images = {}, {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            if name.endswith(".tsv"):
                lines = data.decode("utf-8").split("\n")
                assert lines[-1] == ""
                fields = [line.split("\t") for line in lines[:-1]]
                assert len({len(f) for f in fields}) == 1, "every row has the header's number of fields"
                header, types, *rows = fields
                tables[name] = (header, types, [dict(zip(header, row)) for row in rows])
            else:
                images[name] = Image.open(io.BytesIO(data))
                images[name].load()
    return tables, images


@pytest.fixture
def tree(tmp_path):
    """A data root with a D-style bin at a position, one at 0, 0 (no fix) and an I-style bin with a pair;
    products: features and class scores for the first and the third."""
    data, products = tmp_path / "data", tmp_path / "products"
    write_bin(data / "D2024" / "D20240215", D_ID, [Roi(20, 10), Roi(), Roi(15, 30), Roi(8, 8)],
              header={"gpsLatitude": 41.5253, "gpsLongitude": -70.6736})  # fmt: skip
    write_bin(data / "D2024" / "D20240215", D_FIX, [Roi(5, 5)], header={"gpsLatitude": 0, "gpsLongitude": 0})
    rois = [Roi(10, 12, 1, 1, 1), *stitched_pair(2, (100, 100, 30, 20), (110, 112, 25, 30)), Roi(7, 9, 3, 3, 3)]
    write_bin(data / "IFCB5_2014_100", I_ID, rois)
    products.mkdir()
    (products / f"{D_ID}_fea_v4.csv").write_text(
        "roi_number,Area,summedBiovolume,Weird Name!,Eccentricity\n1,200,1234.5,7,nan\n3,450,99.25,8,0.5\n"
    )
    scores = {1: (0.8, 0.1, 0.1), 3: (0.4, 0.55, 0.05), 4: (0.2, 0.2, 0.6)}
    lines = ["pid," + ",".join(CLASSES)] + [f"{D_ID}_{t:05d}," + ",".join(map(str, s)) for t, s in scores.items()]
    (products / f"{D_ID}_class_scores.csv").write_text("\n".join(lines) + "\n")
    (products / f"{I_ID}_class_scores.csv").write_text(
        f'pid,Chaetoceros,det\tri"tus\n{I_ID}_00002,0.9,0.1\n{I_ID}_00004,0.1,0.95\n'
    )
    return tmp_path


def test_the_shared_i_style_bin_has_one_row_and_one_png_per_image(real_data, tmp_path):
    pid = "IFCB5_2012_028_081515"
    out = tmp_path / "eco.zip"
    assert main(["ecotaxa", str(real_data / "data"), pid, "--out", str(out)]) == 0
    tables, images = read_zip(out)
    header, types, rows = tables[f"ecotaxa_{pid}.tsv"]
    assert header[:6] == ["img_file_name", "object_id", "object_lat", "object_lon", "object_date", "object_time"]
    assert types == ["[t]", "[t]", "[f]", "[f]", "[t]", "[t]", "[t]", "[t]", "[t]", "[t]", "[t]"]
    roi = next(p for p in real_data.rglob(f"{pid}.roi") if "skip" not in p.parts)
    with open_bin(roi) as b:
        expected = {t: b.images[t] for t in b.images}  # after stitching: 4 is under 3
    assert [r["object_id"] for r in rows] == [f"{pid}_{t:05d}" for t in expected] and len(rows) == 5
    assert sorted(images) == sorted(r["img_file_name"] for r in rows)
    for row, image in zip(rows, expected.values()):
        png = images[row["img_file_name"]]
        assert row["img_file_name"] == f"{row['object_id']}.png"
        assert png.size == image.size and png.tobytes() == image.tobytes()
        assert (row["object_date"], row["object_time"]) == ("20120128", "081515")
        assert row["object_lat"] == row["object_lon"] == ""  # an I-style header has no position
        assert row["sample_id"] == row["acq_id"] == pid


def test_features_positions_and_predicted_classes(tree):
    out = tree / "eco.zip"
    done = write_ecotaxa(tree / "data", [D_ID, I_ID, D_FIX, D_ID], out, products=tree / "products")
    assert [(d.pid, d.images) for d in done] == [(D_ID, 3), (I_ID, 3), (D_FIX, 1)]
    tables, images = read_zip(out)
    assert len(images) == 7
    header, types, rows = tables[f"ecotaxa_{D_ID}.tsv"]
    features = ["object_area", "object_summedbiovolume", "object_weird_name_", "object_eccentricity"]
    assert header[6:12] == [*features, "object_annotation_category", "object_annotation_status"]
    assert types[6:12] == ["[f]"] * 4 + ["[t]", "[t]"]
    assert [(r["object_lat"], r["object_lon"]) for r in rows] == [("41.5253", "-70.6736")] * 3
    by_target = {int(r["object_id"][-5:]): r for r in rows}
    assert [by_target[1][c] for c in features] == ["200", "1234.5", "7", ""]  # nan: empty
    assert [by_target[3][c] for c in features] == ["450", "99.25", "8", "0.5"]
    assert [by_target[4][c] for c in features] == ["", "", "", ""]  # no features row
    # winner at 0.7 (the default, as abundance): only target 1 is claimed
    assert [(r["object_annotation_category"], r["object_annotation_status"]) for r in rows] == [
        ("Chaetoceros", "predicted"), ("", ""), ("", ""),
    ]  # fmt: skip
    assert all(image.mode == "L" for image in images.values())
    _, _, fix_rows = tables[f"ecotaxa_{D_FIX}.tsv"]
    assert (fix_rows[0]["object_lat"], fix_rows[0]["object_lon"]) == ("", "")  # 0, 0 is no position
    _, _, i_rows = tables[f"ecotaxa_{I_ID}.tsv"]
    assert [r["object_id"][-5:] for r in i_rows] == ["00001", "00002", "00004"]
    # a class name with a tab and a quote is escaped, never written raw
    assert [r["object_annotation_category"] for r in i_rows] == ["", "Chaetoceros", 'det\\tri\\"tus']
    assert images[f"{I_ID}_00002.png"].size == (35, 42)


def test_threshold_options_as_abundance(tree):
    out = tree / "eco.zip"
    write_ecotaxa(tree / "data", [D_ID], out, products=tree / "products", thresholds=0.5)
    rows = read_zip(out)[0][f"ecotaxa_{D_ID}.tsv"][2]
    assert [r["object_annotation_category"] for r in rows] == ["Chaetoceros", "Mesodinium_rubrum", "detritus"]
    thresholds = tree / "t.csv"
    thresholds.write_text("class,threshold\nMesodinium_rubrum,0.5\n")
    assert main(["ecotaxa", str(tree / "data"), D_ID, "--out", str(out), "--products", str(tree / "products"),
                 "--thresholds", str(thresholds)]) == 0  # fmt: skip
    rows = read_zip(out)[0][f"ecotaxa_{D_ID}.tsv"][2]
    assert [r["object_annotation_category"] for r in rows] == ["Chaetoceros", "Mesodinium_rubrum", ""]
    assert main(["ecotaxa", str(tree / "data"), D_ID, "--out", str(out), "--products", str(tree / "products"),
                 "--threshold", "0.6", "--rule", "any-above"]) == 0  # fmt: skip
    rows = read_zip(out)[0][f"ecotaxa_{D_ID}.tsv"][2]
    assert [r["object_annotation_category"] for r in rows] == ["Chaetoceros", "", ""]


def test_escaping():
    assert ecotaxa_text("Mesodinium rubrum") == "Mesodinium rubrum"
    assert ecotaxa_text('a\tb\nc\rd"e\\f\x00\x1bg\x7f') == 'a\\tb\\nc\\rd\\"e\\\\f\\x00\\x1bg\\x7f'
    row = ecotaxa_text("x\ty\nz")
    assert "\t" not in row and "\n" not in row
    assert next(csv.reader([ecotaxa_text('"quoted"')], delimiter="\t")) == ['\\"quoted\\"']


def test_unwritable_out_is_a_clear_error_and_leaves_no_zip(tree, capsys):
    data = str(tree / "data")
    before = set(os.listdir(tree))
    assert main(["ecotaxa", data, D_ID, "--out", str(tree / "missing" / "eco.zip")]) == 1
    assert capsys.readouterr().err.startswith("ifcbkit ecotaxa: No such file or directory")
    (tree / "a-file").write_text("")
    assert main(["ecotaxa", data, D_ID, "--out", str(tree / "a-file" / "eco.zip")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ifcbkit ecotaxa: Not a directory") and str(tree / "a-file" / "eco.zip") in err
    assert main(["ecotaxa", data, D_ID, "--out", str(tree)]) == 1
    assert "is a directory" in capsys.readouterr().err
    assert set(os.listdir(tree)) == before | {"a-file"}
    locked = tree / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # (root writes anywhere)
            assert main(["ecotaxa", data, D_ID, "--out", str(locked / "eco.zip")]) == 1
            err = capsys.readouterr().err
            assert err.startswith("ifcbkit ecotaxa: Permission denied") and str(locked / "eco.zip") in err
            assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_a_failure_midway_leaves_no_partial_zip(tree, capsys):
    out = tree / "eco.zip"
    (tree / "products" / f"{I_ID}_class_scores.csv").write_text("pid,a\nnot a roi id,0.5\n")
    before = set(os.listdir(tree))
    with pytest.raises(FormatError, match=f"{I_ID}_class_scores.csv"):
        write_ecotaxa(tree / "data", [D_ID, I_ID], out, products=tree / "products")
    assert set(os.listdir(tree)) == before
    with pytest.raises(NotFoundError):
        write_ecotaxa(tree / "data", [D_ID, "D20240215T170000_IFCB010"], out)
    assert main(["ecotaxa", str(tree / "data"), "not-a-bin", "--out", str(out)]) == 1
    assert "not-a-bin" in capsys.readouterr().err
    assert set(os.listdir(tree)) == before


def test_features_that_would_share_a_column_are_refused(tree):
    (tree / "products" / f"{D_ID}_fea_v4.csv").write_text("roi_number,Area,area\n1,2,3\n")
    with pytest.raises(FormatError, match="object_area"):
        write_ecotaxa(tree / "data", [D_ID], tree / "eco.zip", products=tree / "products")
    assert not (tree / "eco.zip").exists()


def test_images_equal_the_bins_after_stitching(tree):
    out = tree / "eco.zip"
    write_ecotaxa(tree / "data", [I_ID], out)
    _, images = read_zip(out)
    paths = tree / "data" / "IFCB5_2014_100" / I_ID
    expected = bin_images(I_ID, paths.with_suffix(".adc").read_bytes(), paths.with_suffix(".roi").read_bytes())
    assert sorted(images) == [f"{I_ID}_{t:05d}.png" for t in expected]
    for t, image in expected.items():
        assert images[f"{I_ID}_{t:05d}.png"].tobytes() == image.tobytes()
