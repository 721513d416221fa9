"""ROI extraction: exact pixels from every kind of source, and truncation as an error, never a short image."""

from __future__ import annotations

import hashlib
import io
import mmap

import pytest

from ifcbkit import (
    FormatError,
    MissingTargetWarning,
    NotFoundError,
    TruncatedBinError,
    bin_images,
    extract_roi_image,
    extract_roi_images,
    iter_roi_records,
    parse_adc_bytes,
)
from ifcbkit.testing import Roi, make_bin, write_bin

D_ID = "D20240215T150055_IFCB010"
I_ID = "IFCB5_2014_100_120000"

PIXELS_1 = bytes(range(12))  # 4 x 3
PIXELS_3 = bytes(range(100, 110))  # 5 x 2
ROIS = [
    Roi(width=4, height=3, x=10, y=20, pixels=PIXELS_1),
    Roi(),  # no image
    Roi(width=5, height=2, x=30, y=40, pixels=PIXELS_3),
    Roi(width=1, height=7, x=0, y=0),
]


def rows(image) -> list[list[int]]:
    w, h = image.size
    data = image.tobytes()
    return [list(data[r * w : (r + 1) * w]) for r in range(h)]


@pytest.fixture
def d_bin():
    return make_bin(D_ID, ROIS, seed=3)


def test_extract_roi_images_exact(d_bin):
    images = extract_roi_images(D_ID, d_bin.adc, d_bin.roi)
    assert list(images) == [1, 3, 4]
    assert images[1].mode == "L" and images[1].size == (4, 3)
    assert rows(images[1]) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert images[3].size == (5, 2)
    assert rows(images[3]) == [[100, 101, 102, 103, 104], [105, 106, 107, 108, 109]]
    assert images[4].size == (1, 7)
    assert images[4].tobytes() == d_bin.roi[22:29]


def test_extract_roi_images_subset(d_bin):
    images = extract_roi_images(D_ID, d_bin.adc, d_bin.roi, rois=[3])
    assert list(images) == [3]
    assert images[3].tobytes() == PIXELS_3
    assert list(extract_roi_images(D_ID, d_bin.adc, d_bin.roi, rois=(4, 1))) == [1, 4]  # ADC order, as in 0.3.1
    assert extract_roi_images(D_ID, d_bin.adc, d_bin.roi, rois=[]) == {}


@pytest.mark.parametrize("target", [2, 5, 0, 99])
def test_extract_roi_images_unknown_target(d_bin, target):
    with pytest.warns(MissingTargetWarning, match=f"{D_ID}: no image for target\\(s\\) {target}; left out"):
        assert list(extract_roi_images(D_ID, d_bin.adc, d_bin.roi, rois=[1, target])) == [1]
    with pytest.raises(NotFoundError, match=str(target)) as info:
        extract_roi_images(D_ID, d_bin.adc, d_bin.roi, rois=[1, target], strict=True)
    assert isinstance(info.value, KeyError)
    assert D_ID in str(info.value)


def test_extract_roi_image_seek_and_read(tmp_path, d_bin):
    paths = write_bin(tmp_path, D_ID, ROIS, seed=3)
    records = parse_adc_bytes(D_ID, d_bin.adc, extended=True)
    with open(paths.roi, "rb") as f:
        f.seek(5)  # the current position does not matter
        image = extract_roi_image(f, 5, 2, records[3]["offset"], target=3)
        assert image.mode == "L" and image.size == (5, 2)
        assert image.tobytes() == PIXELS_3
        assert extract_roi_image(f, 4, 3, 0).tobytes() == PIXELS_1
    f.close()
    # the image owns its pixels: still readable once the file is closed
    assert image.tobytes() == PIXELS_3


def test_extract_roi_image_offset_zero_and_exact_end():
    f = io.BytesIO(bytes(range(24)))
    assert extract_roi_image(f, 4, 2, 0).tobytes() == bytes(range(8))
    assert extract_roi_image(f, 4, 4, 8).tobytes() == bytes(range(8, 24))  # ends exactly at EOF


@pytest.mark.parametrize(("width", "height", "offset"), [(4, 2, 20), (5, 5, 0), (2, 2, 24), (2, 2, 1000)])
def test_extract_roi_image_truncated(tmp_path, width, height, offset):
    path = tmp_path / f"{D_ID}.roi"
    path.write_bytes(bytes(24))
    with open(path, "rb") as f, pytest.raises(TruncatedBinError) as info:
        extract_roi_image(f, width, height, offset, target=17)
    err = info.value
    assert err.target == 17 and err.needed == offset + width * height and err.size == 24
    assert str(path) in str(err) and "target 17" in str(err)


def test_extract_roi_image_bad_geometry():
    f = io.BytesIO(bytes(24))
    with pytest.raises(FormatError, match="target 3"):
        extract_roi_image(f, 0, 5, 0, target=3)
    with pytest.raises(FormatError, match="negative"):
        extract_roi_image(f, 2, 2, -1, target=3)


def _truncated_bin(cut: int):
    """A bin whose .roi is cut ``cut`` bytes short of target 3's last byte, then a no-image target."""
    rois = [*ROIS[:3], Roi()]
    data = make_bin(D_ID, rois, seed=3)
    return data.adc, data.roi[: len(data.roi) - cut]


@pytest.mark.parametrize("cut", [1, 9, 10])
def test_truncation_names_the_target(cut):
    adc, roi = _truncated_bin(cut)
    with pytest.raises(TruncatedBinError) as info:
        extract_roi_images(D_ID, adc, roi)
    assert info.value.target == 3
    assert info.value.needed == 22 and info.value.size == 22 - cut
    assert f"{D_ID}.roi" in str(info.value) and "target 3" in str(info.value)
    # the targets that are complete still read; only asking for target 3 fails
    assert extract_roi_images(D_ID, adc, roi, rois=[1])[1].tobytes() == PIXELS_1
    images = bin_images(D_ID, adc, roi)
    assert images[1].tobytes() == PIXELS_1
    with pytest.raises(TruncatedBinError, match="target 3"):
        images[3]
    with pytest.raises(TruncatedBinError, match="target 3"):
        bin_images(D_ID, adc, io.BytesIO(roi))[3]


def test_no_image_rows_point_at_the_end_of_the_roi():
    """Real files give no-image rows an offset equal to the .roi size; that is not truncation."""
    rois = [Roi(width=2, height=2), Roi(), Roi()]
    data = make_bin(D_ID, rois)
    records = parse_adc_bytes(D_ID, data.adc, extended=True)
    assert list(records) == [1]
    offsets = [r.offset for r in iter_roi_records(D_ID, data.adc)]
    assert offsets == [0, 4, 4] and len(data.roi) == 4
    assert list(extract_roi_images(D_ID, data.adc, data.roi)) == [1]


@pytest.mark.parametrize("roi", [b"", b"\x00", b"\x00\x01"])
def test_empty_bin(roi):
    assert extract_roi_images(D_ID, b"", roi) == {}
    assert extract_roi_images(I_ID, b"", roi) == {}
    images = bin_images(I_ID, b"", roi)
    assert len(images) == 0 and list(images) == [] and images.pairs == []
    assert len(bin_images(D_ID, b"\r\n", io.BytesIO(roi))) == 0


def test_real_empty_bins(real_data):
    for adc in sorted((real_data / "empty").glob("*.adc")):
        pid = adc.stem
        roi = adc.with_suffix(".roi").read_bytes()
        assert adc.read_bytes() == b""
        assert extract_roi_images(pid, b"", roi) == {}
        with open(adc.with_suffix(".roi"), "rb") as f:
            assert len(bin_images(pid, b"", f)) == 0


def test_every_source_gives_the_same_pixels(tmp_path):
    rois = [Roi(width=7, height=5), Roi(), Roi(width=3, height=9), Roi(width=16, height=1), Roi(width=1, height=1)]
    paths = write_bin(tmp_path, D_ID, rois, seed=11)
    adc, roi = paths.adc.read_bytes(), paths.roi.read_bytes()
    expected = {t: im.tobytes() for t, im in extract_roi_images(D_ID, adc, roi).items()}
    assert list(expected) == [1, 3, 4, 5]
    assert expected[1] == roi[:35] and expected[5] == roi[-1:]

    def check(source) -> None:
        images = bin_images(D_ID, adc, source, stitch=False)
        got = {t: images[t] for t in images}
        assert {t: im.tobytes() for t, im in got.items()} == expected
        assert all(im.mode == "L" for im in got.values())
        assert [im.size for im in got.values()] == [(7, 5), (3, 9), (16, 1), (1, 1)]

    check(roi)
    check(bytearray(roi))
    check(memoryview(roi))
    check(io.BytesIO(roi))
    assert {t: im.tobytes() for t, im in extract_roi_images(D_ID, adc, bytearray(roi)).items()} == expected
    with open(paths.roi, "rb") as f:
        check(f)
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            check(m)
            assert {t: im.tobytes() for t, im in extract_roi_images(D_ID, adc, m).items()} == expected
            images = bin_images(D_ID, adc, m)
            kept = images[3]
        # images outlive the map they came from
        assert kept.tobytes() == expected[3]
        records = parse_adc_bytes(D_ID, adc, extended=True)
        for t, r in records.items():
            assert extract_roi_image(f, r["width"], r["height"], r["offset"], target=t).tobytes() == expected[t]


def test_real_pixels_from_file_mmap_and_extract(real_bins, pyifcb_facts):
    """The pyifcb hashes hold through an open file, a memory map and extract_roi_image."""
    for pid, facts in pyifcb_facts.items():
        if not facts.get("rois"):
            continue
        base = real_bins[pid]
        adc = base.with_suffix(".adc").read_bytes()
        records = parse_adc_bytes(pid, adc, extended=True)
        with open(base.with_suffix(".roi"), "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            from_file = bin_images(pid, adc, f, stitch=False)
            from_map = bin_images(pid, adc, m, stitch=False)
            for target, expected in facts["rois"].items():
                t = int(target)
                r = records[t]
                for image in (
                    from_file[t],
                    from_map[t],
                    extract_roi_image(f, r["width"], r["height"], r["offset"], target=t),
                ):
                    assert image.size == (expected["width"], expected["height"])
                    assert hashlib.sha256(image.tobytes()).hexdigest() == expected["sha256"], (pid, t)
