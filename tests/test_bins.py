"""``open_bin``: one bin from a path to any of its files or its base path."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ifcbkit import (
    AdcTable,
    Bin,
    BinImages,
    InvalidIdentifierError,
    NotFoundError,
    SyncIfcbDataDirectory,
    bin_images,
    open_bin,
    parse_hdr_file,
)
from ifcbkit.testing import Roi, stitched_pair, write_bin

D1 = "D20240215T150055_IFCB010"
I1 = "IFCB5_2014_100_120000"


def pixels(image) -> tuple:
    return image.mode, image.size, image.tobytes()


@pytest.fixture
def d_bin(sample_root) -> Path:
    return sample_root / "data" / "D2024" / "D20240215" / D1


@pytest.fixture
def i_bin(sample_root) -> Path:
    return sample_root / "data" / "IFCB5_2014_100" / I1


@pytest.mark.parametrize("suffix", ["", ".hdr", ".adc", ".roi"])
def test_open_from_any_file_or_the_base_path(d_bin, suffix):
    for path in (str(d_bin) + suffix, Path(str(d_bin) + suffix)):
        with open_bin(path) as b:
            assert isinstance(b, Bin)
            assert b.pid == D1
            assert b.paths == {e: str(d_bin) + f".{e}" for e in ("hdr", "adc", "roi")}


def test_bin_attributes(d_bin, sample_root):
    d = SyncIfcbDataDirectory(sample_root)
    with open_bin(d_bin) as b:
        assert b.timestamp == datetime(2024, 2, 15, 15, 0, 55, tzinfo=timezone.utc)
        assert b.header == parse_hdr_file(d_bin.with_suffix(".hdr"))
        assert b.header["gpsLatitude"] == 41.325
        assert isinstance(b.adc, AdcTable)
        assert len(b.adc) == 40 == b.header["triggerCount"]
        assert b.adc.row(1)["trigger"] == 1
        assert b.adc.column("width")[5] == 0  # every sixth target has no image
        images = b.images
        assert isinstance(images, BinImages)
        assert b.roi_ids() == d.list_roi_ids(D1)
        assert len(images) == b.header["roiCount"]
        for target in images:
            assert pixels(b.read_image(target)) == pixels(images[target]) == pixels(d.read_image(f"{D1}_{target:05d}"))
        with pytest.raises(KeyError):
            b.read_image(6)  # no image
        with pytest.raises(NotFoundError):
            b.read_image(41)  # past the last target


def test_stitched_bin(i_bin, sample_root):
    d = SyncIfcbDataDirectory(sample_root)
    with open_bin(i_bin.with_suffix(".roi")) as b:
        assert b.images.pairs == [(2, 3), (7, 8)]
        assert list(b.images) == [1, 2, 4, 5, 7, 9]
        assert pixels(b.read_image(2)) == pixels(d.read_image(f"{I1}_00002"))
        with pytest.raises(NotFoundError, match="second half"):
            b.read_image(3)
        assert pixels(b.read_image(3, stitch=False)) == pixels(d.read_image(f"{I1}_00003", stitch=False))
        assert list(b.get_images(stitch=False)) == [1, 2, 3, 4, 5, 7, 8, 9]
        assert b.roi_ids(stitch=False) == d.list_roi_ids(I1, stitch=False)


def test_the_context_manager_releases_the_roi(d_bin):
    with open_bin(d_bin) as b:
        assert b._roi_file is None  # nothing opened before images are asked for
        first = b.read_image(1)
        roi_file = b._roi_file
        assert roi_file is not None and not roi_file.closed
        b.read_image(2)
        assert b._roi_file is roi_file  # opened once
    assert roi_file.closed and b._roi_file is None
    expected = bin_images(D1, d_bin.with_suffix(".adc").read_bytes(), d_bin.with_suffix(".roi").read_bytes())
    assert pixels(first) == pixels(expected[1])  # images own their pixels: they outlive the bin


def test_close_without_context_manager(d_bin):
    b = open_bin(d_bin)
    _ = b.images[1]
    roi_file = b._roi_file
    b.close()
    assert roi_file.closed
    b.close()  # idempotent


def test_a_bin_without_roi_opens_but_has_no_images(tmp_path):
    paths = write_bin(tmp_path, "D20240301T000000_IFCB3", [Roi(4, 4), Roi(2, 2)])
    paths.roi.unlink()
    with open_bin(paths.hdr) as b:
        assert b.paths["roi"] is None
        assert b.header["triggerCount"] == 2
        assert len(b.adc) == 2 and b.adc.column("width") == [4.0, 2.0]
        with pytest.raises(NotFoundError, match=r"no \.roi"):
            _ = b.images
        with pytest.raises(KeyError, match="D20240301T000000_IFCB3"):
            b.read_image(1)


@pytest.mark.parametrize("missing", ["hdr", "adc"])
def test_a_missing_hdr_or_adc_is_not_found(tmp_path, missing):
    paths = write_bin(tmp_path, "D20240301T000000_IFCB3", [Roi(4, 4)])
    path = getattr(paths, missing)
    path.unlink()
    with pytest.raises(NotFoundError, match=re.escape(str(path))):
        open_bin(paths.roi)


@pytest.mark.parametrize(
    "name",
    ["notabin.roi", "D20240301T000000_IFCB3.txt", "D20241301T000000_IFCB3.adc", "D20240301T000000.hdr", "../x", ""],
)
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(InvalidIdentifierError):
        open_bin(tmp_path / name if name else name)


def test_empty_bin(tmp_path):
    paths = write_bin(tmp_path, "IFCB5_2017_001_033645", [], roi_suffix=b"\x00\x00")
    with open_bin(paths.adc) as b:
        assert len(b.adc) == 0
        assert dict(b.images) == {}
        assert b.roi_ids() == []


def test_generated_stitched_pixels(tmp_path):
    rois = [Roi(5, 4, trigger=1), *stitched_pair(2, (0, 0, 20, 10), (8, 4, 20, 10)), Roi(3, 3, trigger=3)]
    paths = write_bin(tmp_path, "IFCB5_2014_100_130000", rois)
    expected = bin_images("IFCB5_2014_100_130000", paths.adc.read_bytes(), paths.roi.read_bytes())
    with open_bin(paths.roi) as b:
        assert b.images.pairs == [(2, 3)]
        assert {t: pixels(i) for t, i in b.images.items()} == {t: pixels(i) for t, i in expected.items()}
        assert b.read_image(2).size == (28, 14)


def test_real_bins(real_bins, pyifcb_facts):
    for pid, base in real_bins.items():
        with open_bin(base.with_suffix(".adc")) as b:
            assert b.pid == pid
            assert list(b.images) == pyifcb_facts[pid].get("keys_after_stitching", [])
            assert len(b.adc) == pyifcb_facts[pid]["n_targets"]


def test_a_closed_bin_refuses_to_read_instead_of_reopening(sample_root):
    base = sample_root / "data" / "D2024" / "D20240215" / "D20240215T150055_IFCB010"
    with open_bin(base) as b:
        first = b.read_image(1).tobytes()
    assert b.closed
    with pytest.raises(ValueError, match="closed"):
        b.read_image(1)
    assert len(first) > 0 and b.header["imagerID"] == 10  # what was read before closing stays usable


def test_images_kept_past_the_with_block_say_the_bin_is_closed():
    """A ``BinImages`` kept past its ``with open_bin(...)`` block failed later with ``OSError: Bad file
    descriptor`` (or, once the descriptor named another file, could have read its bytes)."""
    import ifcbkit

    path = Path(__file__).parent / "data" / "sample" / "data" / "IFCB5_2014_100" / "IFCB5_2014_100_120000.roi"
    with ifcbkit.open_bin(path) as b:
        images = b.images
        assert images[1].size
    with open(path, "rb") as other:  # likely the very descriptor the bin had
        assert other.read(1) is not None
        with pytest.raises(ifcbkit.ClosedBinError, match=r"IFCB5_2014_100_120000\.roi is closed"):
            images[2]
    with pytest.raises(ValueError, match="bin IFCB5_2014_100_120000 is closed"):
        b.read_image(1)


def test_a_roi_id_where_a_bin_id_belongs_names_its_bin():
    import ifcbkit

    with pytest.raises(ifcbkit.InvalidIdentifierError, match="that is a ROI id: its bin is D20240215T150055_IFCB010"):
        ifcbkit.parse_bin("D20240215T150055_IFCB010_00003")
