"""``ifcbkit.testing``: synthetic bins parse back to exactly what was asked for."""

from __future__ import annotations

import pytest

from ifcbkit import (
    D_STYLE_COLUMN_NAMES,
    I_STYLE_COLUMN_NAMES,
    InvalidIdentifierError,
    adc_column_names,
    bin_images,
    extract_roi_images,
    iter_roi_records,
    parse_adc_file,
    parse_adc_table,
    parse_hdr_file,
)
from ifcbkit.testing import Roi, make_bin, stitched_pair, write_bin

D_ID = "D20240215T150055_IFCB010"
I_ID = "IFCB5_2014_100_120000"


def pattern(width: int, height: int, start: int) -> bytes:
    return bytes((start + i) % 256 for i in range(width * height))


def test_d_style_bin_parses_back(tmp_path):
    rois = [
        Roi(width=8, height=4, x=100, y=200, pixels=pattern(8, 4, 0),
            columns={"ADCtime": 1.25, "RunTime": 1.5, "InhibitTime": 0.125, "PMTA": 0.047, "PeakB": -3.5}),
        Roi(columns={"ADCtime": 2.5, "RunTime": 2.75}),  # a trigger without an image
        Roi(width=3, height=9, x=0, y=1033, pixels=pattern(3, 9, 200)),
        {"width": 1, "height": 1, "x": 5, "y": 6, "pixels": b"\xff"},
        (2, 3, 7, 8),  # (width, height, x, y): random pixels
    ]  # fmt: skip
    paths = write_bin(tmp_path / "a" / "b", D_ID, rois, header={"gpsLatitude": 41.5, "sampleType": "Beads"}, seed=9)
    assert paths.pid == D_ID
    assert [p.name for p in paths[1:]] == [f"{D_ID}.hdr", f"{D_ID}.adc", f"{D_ID}.roi"]
    assert all(p.parent == tmp_path / "a" / "b" for p in paths[1:])

    header = parse_hdr_file(paths.hdr)
    assert header["imagerID"] == 10
    assert header["triggerCount"] == 5 and header["roiCount"] == 4
    assert header["gpsLatitude"] == 41.5 and header["sampleType"] == "Beads"
    assert header["sampleTime"] == "2024-02-15T15:00:55Z"
    assert isinstance(header["runTime"], float) and isinstance(header["inhibitTime"], float)
    columns = adc_column_names(header)
    assert columns == list(D_STYLE_COLUMN_NAMES)

    geometry = parse_adc_file(D_ID, paths.adc, extended=True, columns=columns)
    assert {t: (g["x"], g["y"], g["width"], g["height"], g["trigger"], g["offset"]) for t, g in geometry.items()} == {
        1: (100, 200, 8, 4, 1, 0),
        3: (0, 1033, 3, 9, 3, 32),
        4: (5, 6, 1, 1, 4, 59),
        5: (7, 8, 2, 3, 5, 60),
    }
    records = list(iter_roi_records(D_ID, paths.adc.read_bytes(), columns=columns))
    assert (records[1].width, records[1].height, records[1].offset) == (0, 0, 32)  # no image: bytes so far
    assert paths.roi.stat().st_size == 66

    table = parse_adc_table(D_ID, paths.adc.read_bytes(), columns=columns)
    assert table.names == D_STYLE_COLUMN_NAMES
    row = table.row(1)
    assert (row["ADCtime"], row["RunTime"], row["InhibitTime"], row["PMTA"], row["PeakB"]) == (
        1.25, 1.5, 0.125, 0.047, -3.5,
    )  # fmt: skip
    assert table.row(2)["ADCtime"] == 2.5 and table.row(2)["RunTime"] == 2.75
    assert table.column("trigger") == [1.0, 2.0, 3.0, 4.0, 5.0]

    roi = paths.roi.read_bytes()
    images = extract_roi_images(D_ID, paths.adc.read_bytes(), roi)
    assert images[1].tobytes() == pattern(8, 4, 0) and images[1].size == (8, 4)
    assert images[3].tobytes() == pattern(3, 9, 200) and images[3].size == (3, 9)
    assert images[4].tobytes() == b"\xff"
    assert images[5].tobytes() == roi[60:66]
    # D-style lines have 24 columns and no trailing comma
    assert all(line.count(b",") == 23 for line in paths.adc.read_bytes().splitlines())


def test_i_style_bin_parses_back(tmp_path):
    rois = [
        Roi(width=5, height=4, x=10, y=20, trigger=1, pixels=pattern(5, 4, 1),
            columns={"triggerOpenTime": 0.125, "frameGrabTime": 0.25}),
        *stitched_pair(2, (100, 100, 10, 8), (104, 103, 10, 8)),
        Roi(trigger=3),
        Roi(width=4, height=4, x=0, y=0, trigger=3, columns={"frameGrabTime": -0.5}),
    ]  # fmt: skip
    paths = write_bin(tmp_path, I_ID, rois, header={"temperature": 12.5, "humidity": 40.25}, seed=2)
    header = parse_hdr_file(paths.hdr)
    assert header["temperature"] == 12.5 and header["humidity"] == 40.25
    assert header["binarizeThreshold"] == 30 and header["blobSizeThreshold"] == 10
    assert "Imaging FlowCytobot Acquisition Software version 1.0" in header["context"]
    assert adc_column_names(header) is None

    adc = paths.adc.read_bytes()
    lines = adc.split(b"\r\n")
    assert lines[-1] == b"" and len(lines) == 6  # CRLF after every line
    assert all(line.endswith(b",") and line.count(b",") == 15 for line in lines[:-1])  # 15 columns + trailing comma

    geometry = parse_adc_file(I_ID, paths.adc, extended=True)
    assert {t: (g["x"], g["y"], g["width"], g["height"], g["trigger"], g["offset"]) for t, g in geometry.items()} == {
        1: (10, 20, 5, 4, 1, 0),
        2: (100, 100, 10, 8, 2, 20),
        3: (104, 103, 10, 8, 2, 100),
        5: (0, 0, 4, 4, 3, 180),
    }
    table = parse_adc_table(I_ID, adc)
    assert table.names == I_STYLE_COLUMN_NAMES
    assert table.row(1)["triggerOpenTime"] == 0.125 and table.row(1)["frameGrabTime"] == 0.25
    assert table.row(5)["frameGrabTime"] == -0.5
    assert table.row(4)["width"] == 0.0 and table.row(4)["byteOffset"] == 180.0

    images = bin_images(I_ID, adc, paths.roi.read_bytes())
    assert images.pairs == [(2, 3)]
    assert list(images) == [1, 2, 5]
    assert images[1].tobytes() == pattern(5, 4, 1)
    assert images[2].size == (14, 11)
    assert images.get_raw(2)[0].getpixel((0, 0)) == paths.roi.read_bytes()[20]


def test_roi_spec_forms_agree():
    as_roi = make_bin(I_ID, [Roi(width=3, height=2, x=4, y=5, trigger=7)], seed=1)
    as_tuple = make_bin(I_ID, [(3, 2, 4, 5, 7)], seed=1)
    as_dict = make_bin(I_ID, [{"width": 3, "height": 2, "x": 4, "y": 5, "trigger": 7}], seed=1)
    assert as_roi == as_tuple == as_dict


def test_seeds_make_it_deterministic():
    rois = [Roi(width=10, height=10)]
    assert make_bin(D_ID, rois, seed=5) == make_bin(D_ID, rois, seed=5)
    assert make_bin(D_ID, rois, seed=5).roi != make_bin(D_ID, rois, seed=6).roi
    assert make_bin(D_ID, rois, seed=5).adc == make_bin(D_ID, rois, seed=6).adc


def test_prefix_suffix_and_header_text():
    data = make_bin(D_ID, [Roi(width=2, height=2, pixels=b"abcd"), Roi()], roi_prefix=b"\x00", roi_suffix=b"zz",
                    header_text="softwareVersion: x\nrunTime: 5\n")  # fmt: skip
    assert data.roi == b"\x00abcdzz"
    assert [r.offset for r in iter_roi_records(D_ID, data.adc)] == [1, 5]
    assert extract_roi_images(D_ID, data.adc, data.roi)[1].tobytes() == b"abcd"
    assert data.hdr == b"softwareVersion: x\nrunTime: 5\n"


def test_empty_bin(tmp_path):
    paths = write_bin(tmp_path, D_ID, [])
    assert paths.adc.read_bytes() == b"" and paths.roi.read_bytes() == b""
    header = parse_hdr_file(paths.hdr)
    assert header["triggerCount"] == 0 and header["roiCount"] == 0
    assert len(bin_images(D_ID, b"", b"")) == 0
    stray = make_bin(I_ID, [], roi_suffix=b"\x00\x00")
    assert stray.adc == b"" and stray.roi == b"\x00\x00"


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="target 1"):
        make_bin(D_ID, [Roi(width=2, height=2, pixels=b"abc")])
    with pytest.raises(ValueError, match="RunTIme"):
        make_bin(D_ID, [Roi(width=2, height=2, columns={"RunTIme": 3.0})])
    with pytest.raises(ValueError, match="RunTime"):
        make_bin(I_ID, [Roi(width=2, height=2, columns={"RunTime": 3.0})])  # not an I-style column
    with pytest.raises(InvalidIdentifierError):
        make_bin("../x", [])
