"""A ROI whose ADC line was skipped as damaged never goes missing silently, and ``strict`` raises everywhere.

Every reader (data directory and bin store, on both faces) is checked after the bin's ADC index is
cached: asking for a damaged line's target is a ``FormatError`` naming the file and line, and every
pass over the bin warns again, at the caller's line.
"""

from __future__ import annotations

import warnings

import pytest

import helpers
from helpers import call
from ifcbkit import AdcLineWarning, FormatError, bin_images, open_bin
from ifcbkit.testing import Roi, write_bin

PID = "D20240215T150055_IFCB010"


@pytest.fixture
def damaged(tmp_path):
    """A bin of four images whose target 2's line (line 2) has a width that is not a number."""
    paths = write_bin(tmp_path / "data" / "D2024" / "D20240215", PID, [Roi(4, 3) for _ in range(4)])
    lines = paths.adc.read_bytes().split(b"\n")
    fields = lines[1].split(b",")
    fields[15] = b"wide"
    lines[1] = b",".join(fields)
    paths.adc.write_bytes(b"\n".join(lines))
    return tmp_path, paths.adc


def _recorded(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, AdcLineWarning)]


async def _warned_each_pass(d, adc, method, *args):
    """``method`` warns about line 2, naming the file, at the line that called the face's method (in
    helpers.call), never inside ifcbkit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await call(d, method, *args)
    skipped = _recorded(caught)
    assert [str(w.message) for w in skipped] == [f"{adc}, line 2: damaged ADC line skipped: column 'width' is "
                                                 f"not an integer: 'wide'"], method  # fmt: skip
    assert skipped[0].filename == helpers.__file__, (method, skipped[0].filename)
    return result


async def test_a_skipped_target_is_an_error_and_every_pass_warns(damaged, reader):
    root, adc = damaged
    d = reader(root)
    for _ in range(2):  # the second time, the bin's ADC index comes from the cache
        assert sorted(await _warned_each_pass(d, adc, "list_images", PID)) == [1, 3, 4]
        streamed = await _warned_each_pass(d, adc, "iter_images", PID)
        assert [roi_id for roi_id, _ in streamed] == [f"{PID}_00001", f"{PID}_00003", f"{PID}_00004"]
        assert await _warned_each_pass(d, adc, "list_roi_ids", PID) == [f"{PID}_00001", f"{PID}_00003", f"{PID}_00004"]
        assert (await _warned_each_pass(d, adc, "bin_metadata", PID))["skipped_lines"] == 1
        for method, args in (("read_images", (PID, [1, 2])), ("iter_images", (PID, [2])),
                             ("read_image", (f"{PID}_00002",))):  # fmt: skip
            with pytest.raises(FormatError, match=rf"{adc}, line 2: target 2: its ADC line is damaged") as info:
                await call(d, method, *args)
            assert info.value.line == 2 and info.value.source == str(adc)
        assert sorted(await call(d, "read_images", PID, [1, 3])) == [1, 3]
        assert await call(d, "images_exist", PID, [f"{PID}_00002", f"{PID}_00003"]) == {
            f"{PID}_00002": False, f"{PID}_00003": True,
        }  # fmt: skip


async def test_strict_raises_in_every_operation(damaged, reader):
    root, adc = damaged
    d = reader(root, strict=True)
    for method, args in (
        ("bin_metadata", (PID,)), ("list_images", (PID,)), ("read_image", (f"{PID}_00001",)),
        ("read_images", (PID,)), ("iter_images", (PID,)), ("read_header", (PID,)), ("list_roi_ids", (PID,)),
    ):  # fmt: skip
        with pytest.raises(FormatError, match=rf"{adc}, line 2: column 'width' is not an integer") as info:
            await call(d, method, *args)
        assert info.value.line == 2, method


def test_bin_images_and_open_bin_warn_each_pass_and_refuse_the_target(damaged):
    _, adc = damaged
    data, roi = adc.read_bytes(), adc.with_suffix(".roi").read_bytes()
    images = bin_images(PID, data, roi)
    with pytest.raises(FormatError, match="line 2"):
        images[2]
    assert 2 not in images and 3 in images
    for _ in range(2):
        with pytest.warns(AdcLineWarning, match="line 2: damaged ADC line skipped"):
            assert list(bin_images(PID, data, roi)) == [1, 3, 4]
    with open_bin(adc) as b:
        with pytest.warns(AdcLineWarning, match="line 2"):
            assert b.roi_ids() == [f"{PID}_00001", f"{PID}_00003", f"{PID}_00004"]
        with pytest.raises(FormatError, match="line 2"):
            b.read_image(2)
    with pytest.raises(FormatError, match="line 2"):
        bin_images(PID, data, roi, strict=True)
