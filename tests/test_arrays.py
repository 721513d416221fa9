"""``BinImages.array``/``arrays``: pixels as memoryviews into the bin's bytes, equal to the PIL images'."""

from __future__ import annotations

import gc
import mmap
import random

import numpy as np
import pytest

from ifcbkit import (
    BinImages,
    ClosedBinError,
    SyncIfcbDataDirectory,
    TruncatedBinError,
    bin_images,
    open_bin,
    parse_adc_bytes,
)
from ifcbkit.adc import iter_roi_records
from ifcbkit.roi import extract_roi_images
from ifcbkit.testing import Roi, make_bin, stitched_pair, write_bin

I_ID = "IFCB5_2014_100_120000"
D_ID = "D20240215T150055_IFCB010"

# 1 single, 2+3 a pair, 4 no image, 5 single, 6+7 a pair (b above a), 8 single
I_ROIS = [
    Roi(width=17, height=9, x=3, y=4, trigger=1),
    *stitched_pair(2, (100, 100, 30, 20), (110, 112, 25, 30)),
    Roi(trigger=3),
    Roi(width=1, height=40, x=0, y=0, trigger=4),
    *stitched_pair(5, (60, 80, 12, 12), (50, 40, 20, 44)),
    Roi(width=33, height=1, x=7, y=7, trigger=6),
]
I_KEYS = [1, 2, 5, 6, 8]


def check_equal(images: BinImages) -> int:
    """Every key's array equals its PIL image, in key order; returns how many were checked."""
    seen = []
    for target, view in images.arrays():
        image = images[target]
        assert view.format == "B" and view.readonly
        assert view.shape == (image.height, image.width)
        assert view.tobytes() == image.tobytes(), target
        assert np.asarray(view).tobytes() == image.tobytes()
        assert images.array(target).tobytes() == image.tobytes()
        seen.append(target)
    assert seen == list(images)
    return len(seen)


@pytest.fixture
def i_bin(tmp_path):
    return write_bin(tmp_path / "data", I_ID, I_ROIS, seed=3)


def test_generated_stitched_bin_from_every_reader(i_bin, tmp_path):
    adc, roi = i_bin.adc.read_bytes(), i_bin.roi.read_bytes()
    for stitch in (True, False):
        assert check_equal(bin_images(I_ID, adc, roi, stitch=stitch)) == (5 if stitch else 7)
        with open(i_bin.roi, "rb") as f:  # an open file: views into its memory map
            check_equal(bin_images(I_ID, adc, f, stitch=stitch))
        with open_bin(i_bin.roi) as b:
            check_equal(b.get_images(stitch=stitch))
    directory = SyncIfcbDataDirectory(tmp_path)
    whole = directory.read_images(I_ID)
    assert isinstance(whole, BinImages) and list(whole) == I_KEYS
    check_equal(whole)
    # a subset read by byte ranges: views into the fetched chunks
    some = directory.read_images(I_ID, [2, 5])
    assert list(some) == [2, 5]
    given = BinImages(I_ID, parse_adc_bytes(I_ID, adc, extended=True), extract_roi_images(I_ID, adc, roi))
    check_equal(given)


def test_stitched_pair_is_one_buffer_of_the_composite(i_bin):
    with open_bin(i_bin.roi) as b:
        images = b.images
        view = images.array(2)
        composite, _ = images.get_raw(2)
        assert view.shape == (composite.height, composite.width) == (42, 35)
        assert view.c_contiguous and view.tobytes() == images[2].tobytes()
        with pytest.raises(Exception, match="second half"):
            images.array(3)


def test_single_views_look_into_the_bins_bytes_without_a_copy(i_bin):
    adc, roi = i_bin.adc.read_bytes(), i_bin.roi.read_bytes()
    offsets = {r.target: r.offset for r in iter_roi_records(I_ID, adc)}
    base = np.frombuffer(roi, dtype=np.uint8).ctypes.data
    images = bin_images(I_ID, adc, roi)
    for target in (1, 5, 8):
        array = np.asarray(images.array(target))
        assert array.ctypes.data == base + offsets[target]  # the very bytes given, not a copy
        assert not array.flags.owndata and not array.flags.writeable
    with open_bin(i_bin.roi) as b:  # a local file: one memory map, every view at its offset in it
        first, last = np.asarray(b.images.array(1)), np.asarray(b.images.array(8))
        assert last.ctypes.data - first.ctypes.data == offsets[8] - offsets[1]
        assert np.shares_memory(first, np.asarray(b.images.array(1)))


def test_views_stay_valid_after_the_bin_is_closed(i_bin):
    b = open_bin(i_bin.roi)
    images = b.images
    expected = {t: images[t].tobytes() for t in images}
    views = dict(images.arrays())
    arrays = {t: np.asarray(v) for t, v in views.items()}
    b.close()  # the memory map outlives the file while views of it are alive
    del images
    gc.collect()
    for t, view in views.items():
        assert view.tobytes() == expected[t] == arrays[t].tobytes()
    with pytest.raises(ClosedBinError, match="is closed"):
        b.get_images()
    # an object kept from before the close refuses new views, clearly
    with open_bin(i_bin.roi) as other:
        kept = other.images
    with pytest.raises(ClosedBinError, match=str(i_bin.roi)):
        kept.array(1)
    with pytest.raises(ClosedBinError):
        list(kept.arrays())


def test_a_callers_memory_map_cannot_be_closed_under_its_views(i_bin):
    adc = i_bin.adc.read_bytes()
    with open(i_bin.roi, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    images = bin_images(I_ID, adc, mapped)
    view = images.array(1)
    expected = images[1].tobytes()
    with pytest.raises(BufferError):  # Python's own refusal, never a crash
        mapped.close()
    assert view.tobytes() == expected
    view.release()
    mapped.close()
    with pytest.raises(ClosedBinError, match="closed"):
        images.array(1)


def test_truncated_roi_data_is_an_error_not_a_short_array(i_bin):
    adc, roi = i_bin.adc.read_bytes(), i_bin.roi.read_bytes()
    images = bin_images(I_ID, adc, roi[:-10])
    with pytest.raises(TruncatedBinError):
        images.array(8)
    with pytest.raises(TruncatedBinError):
        list(images.arrays())
    i_bin.roi.write_bytes(roi[:-10])
    with open_bin(i_bin.roi) as b, pytest.raises(TruncatedBinError):
        b.images.array(8)


def test_d_style_bin_without_stitching():
    rng = random.Random(5)
    rois = [Roi(width=rng.randint(1, 60), height=rng.randint(1, 60)) if i % 4 else Roi() for i in range(40)]
    data = make_bin(D_ID, rois, seed=9)
    images = bin_images(D_ID, data.adc, data.roi)
    assert check_equal(images) == 30


def test_every_image_of_the_real_bins(real_data):
    checked = 0
    for roi in sorted(real_data.rglob("*.roi")):
        if not roi.with_suffix(".adc").exists() or not roi.with_suffix(".hdr").exists():
            continue
        with open_bin(roi) as b:
            for stitch in (True, False):
                checked += check_equal(b.get_images(stitch=stitch))
        images = bin_images(roi.stem, roi.with_suffix(".adc").read_bytes(), roi.read_bytes())
        checked += check_equal(images)
    assert checked >= 25
