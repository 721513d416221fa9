"""Exactness on the real instrument files: ifcbkit equals pyifcb, pixel for pixel."""

from __future__ import annotations

import hashlib

import pytest

import ifcbkit
from ifcbkit import bin_images, parse_adc_file, parse_hdr_file


def sha256(image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def test_headers_equal_pyifcb(real_bins, pyifcb_facts):
    for pid, facts in pyifcb_facts.items():
        header = parse_hdr_file(real_bins[pid].with_suffix(".hdr"))
        for key, expected in facts["header"].items():
            assert key in header, (pid, key)
            assert header[key] == expected and type(header[key]) is type(expected), (pid, key, header[key])


def test_geometry_and_pixels_equal_pyifcb(real_bins, pyifcb_facts):
    checked = 0
    for pid, facts in pyifcb_facts.items():
        base = real_bins[pid]
        rois = parse_adc_file(pid, base.with_suffix(".adc"), extended=True)
        assert len(list(ifcbkit.iter_roi_records(pid, base.with_suffix(".adc").read_bytes()))) == facts["n_targets"]
        adc, roi = base.with_suffix(".adc").read_bytes(), base.with_suffix(".roi").read_bytes()
        raw = bin_images(pid, adc, roi, stitch=False)
        assert sorted(rois) == sorted(int(t) for t in facts.get("rois", {}))
        for target, expected in facts.get("rois", {}).items():
            got = rois[int(target)]
            for field in ("x", "y", "width", "height", "trigger", "offset"):
                assert got[field] == expected[field], (pid, target, field)
            assert got["roi_id"] == ifcbkit.add_target(pid, int(target))
            image = raw[int(target)]
            assert image.mode == "L"
            assert image.size == (expected["shape"][1], expected["shape"][0])
            assert sha256(image) == expected["sha256"], (pid, target)
            checked += 1
    assert checked == 25


def test_stitched_pair_equals_pyifcb(real_bins, pyifcb_facts):
    pid = "IFCB5_2012_028_081515"
    facts = pyifcb_facts[pid]
    base = real_bins[pid]
    images = bin_images(pid, base.with_suffix(".adc").read_bytes(), base.with_suffix(".roi").read_bytes())
    assert images.pairs == [tuple(p) for p in facts["stitched_pairs"]] == [(3, 4)]
    assert list(images) == facts["keys_after_stitching"]
    stitched = facts["stitched"]["3"]
    composite, gap = images.get_raw(3)
    assert composite.size == (stitched["shape"][1], stitched["shape"][0])
    assert sha256(composite) == stitched["raw_sha256"]
    assert gap.mode == "1" and gap.convert("L").histogram()[255] == stitched["gap_pixels"]
    assert sha256(images[3]) == stitched["sha256"]
    assert 4 not in images
    with pytest.raises(KeyError):
        images[4]


@pytest.mark.parametrize("pid", ["D20130526T095207_IFCB013", "IFCB5_2012_028_081515"])
def test_keys_after_stitching(real_bins, pyifcb_facts, pid):
    with ifcbkit.open_bin(real_bins[pid]) as b:
        assert list(b.images) == pyifcb_facts[pid]["keys_after_stitching"]
        assert b.images.pairs == [tuple(p) for p in pyifcb_facts[pid]["stitched_pairs"]]
