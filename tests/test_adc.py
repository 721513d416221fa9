"""The ``.adc`` parser: geometry records, the full table by canonical column name, and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ifcbkit import (
    D_STYLE_COLUMN_NAMES,
    I_STYLE_COLUMN_NAMES,
    FormatError,
    NotFoundError,
    RoiRecord,
    adc_column_names,
    iter_roi_records,
    normalize_column_name,
    parse_adc_bytes,
    parse_adc_file,
    parse_adc_table,
    parse_hdr_file,
)
from ifcbkit.adc import split_adc_lines

HEADERS = Path(__file__).resolve().parent / "data" / "headers"
D_ID = "D20240215T150055_IFCB010"
I_ID = "IFCB5_2012_028_081515"


def d_line(trigger, x, y, width, height, offset, *, adctime="0.5", runtime="0.55", inhibit="0.01", pmta="0.1"):
    """One 24-column D-style ADC line."""
    fields = [trigger, adctime, pmta, "0.2", "0", "0", "0.3", "0.4", "0", "0", "-999", adctime, "0.54",
              x, y, width, height, offset, "-999", "0", "0", "0", runtime, inhibit]  # fmt: skip
    return ",".join(map(str, fields))


def i_line(trigger, x, y, width, height, offset, *, trigger_open="0.1", frame_grab="0.2"):
    """One 15-column I-style ADC line, with its trailing comma."""
    fields = [trigger, ".31", ".06", "-.61", "-.17", "-3.6", "-.29", trigger_open, frame_grab,
              x, y, width, height, offset, "-.27"]  # fmt: skip
    return ",".join(map(str, fields)) + ","


D_ADC = "\n".join(
    [
        d_line(1, 10, 20, 4, 3, 0),
        d_line(2, 0, 0, 0, 0, 12),  # no image: offset = bytes so far
        d_line(3, 1300, 1000, 5, 2, 12, adctime="8.984375E-02"),
        d_line(4, 7, 8, 1, 1, 22),
    ]
).encode()

D_EXPECTED = {
    1: {"roi_id": D_ID + "_00001", "x": 10, "y": 20, "width": 4, "height": 3},
    3: {"roi_id": D_ID + "_00003", "x": 1300, "y": 1000, "width": 5, "height": 2},
    4: {"roi_id": D_ID + "_00004", "x": 7, "y": 8, "width": 1, "height": 1},
}
D_OFFSETS = {1: (1, 0), 3: (3, 12), 4: (4, 22)}  # target: (trigger, offset)


def _extended(expected, extra):
    return {t: {**v, "trigger": extra[t][0], "offset": extra[t][1]} for t, v in expected.items()}


# --- geometry -----------------------------------------------------------------------------


def test_parse_adc_bytes_plain_and_extended():
    assert parse_adc_bytes(D_ID, D_ADC) == D_EXPECTED
    assert parse_adc_bytes(D_ID, D_ADC, extended=True) == _extended(D_EXPECTED, D_OFFSETS)
    assert list(parse_adc_bytes(D_ID, D_ADC)) == [1, 3, 4]


def test_parse_adc_file(tmp_path):
    path = tmp_path / f"{D_ID}.adc"
    path.write_bytes(D_ADC)
    assert parse_adc_file(D_ID, path) == D_EXPECTED
    assert parse_adc_file(D_ID, str(path), extended=True) == _extended(D_EXPECTED, D_OFFSETS)


def test_iter_adc_targets_yields_every_line():
    records = list(iter_roi_records(D_ID, D_ADC))
    assert records == [
        RoiRecord(1, 1, 10, 20, 4, 3, 0),
        RoiRecord(2, 2, 0, 0, 0, 0, 12),
        RoiRecord(3, 3, 1300, 1000, 5, 2, 12),
        RoiRecord(4, 4, 7, 8, 1, 1, 22),
    ]
    assert [r.has_image for r in records] == [True, False, True, True]
    assert [r.nbytes for r in records] == [12, 0, 10, 1]


def test_image_needs_both_width_and_height():
    data = "\n".join([d_line(1, 0, 0, 5, 0, 0), d_line(2, 0, 0, 0, 5, 0), d_line(3, 0, 0, 2, 2, 0)]).encode()
    assert list(parse_adc_bytes(D_ID, data)) == [3]


def test_i_style_trailing_comma_and_crlf():
    data = "\r\n".join(
        [i_line(1, 202, 673, 96, 45, 1), i_line(2, 0, 0, 0, 0, 4321), i_line(2, 252, 290, 238, 137, 4321)]
    )
    data = (data + "\r\n").encode()
    assert parse_adc_bytes(I_ID, data, extended=True) == {
        1: {"roi_id": I_ID + "_00001", "x": 202, "y": 673, "width": 96, "height": 45, "trigger": 1, "offset": 1},
        3: {"roi_id": I_ID + "_00003", "x": 252, "y": 290, "width": 238, "height": 137, "trigger": 2, "offset": 4321},
    }


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n", b"\n\n", b"\r\n\r\n   \r\n"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_line_endings_and_final_newline(ending, newline):
    data = D_ADC.replace(b"\n", newline) + ending
    assert parse_adc_bytes(D_ID, data, extended=True) == _extended(D_EXPECTED, D_OFFSETS)
    assert len(list(iter_roi_records(D_ID, data))) == 4


def test_blank_lines_are_skipped_and_not_numbered():
    lines = D_ADC.split(b"\n")
    data = b"\n".join([b"", lines[0], b"", b"   ", b" " * 40, b"\t\t", lines[1], lines[2], b"", lines[3], b""])
    assert parse_adc_bytes(D_ID, data, extended=True) == _extended(D_EXPECTED, D_OFFSETS)
    split = split_adc_lines(data)
    assert split.lines == lines
    assert [split.line_number(t) for t in (1, 2, 3, 4)] == [2, 7, 8, 10]
    # only long whitespace-only lines, no empty ones
    data = b"\r\n".join([lines[0], b" " * 40, lines[1], b"\t" * 12, lines[2], lines[3]])
    assert parse_adc_bytes(D_ID, data) == D_EXPECTED
    assert [split_adc_lines(data).line_number(t) for t in (1, 2, 3, 4)] == [1, 3, 5, 6]


def test_error_line_numbers_count_blank_lines():
    bad = d_line(3, "abc", 0, 4, 4, 0).encode()
    data = b"\n".join([d_line(1, 0, 0, 1, 1, 0).encode(), b"", b"", d_line(2, 0, 0, 1, 1, 1).encode(), b" ", bad])
    with pytest.raises(FormatError) as info:
        list(iter_roi_records(D_ID, data, strict=True))
    assert info.value.line == 6
    assert info.value.source == f"{D_ID}.adc"
    assert "'x'" in str(info.value) and "abc" in str(info.value) and "line 6" in str(info.value)


def test_scientific_notation_in_geometry():
    data = d_line("1.0E+00", "1.0E+02", "2.5e1", "4.0E+00", "3", "1.2E+01").encode()
    assert list(iter_roi_records(D_ID, data)) == [RoiRecord(1, 1, 100, 25, 4, 3, 12)]


@pytest.mark.parametrize(
    ("field", "value"),
    [("x", "abc"), ("y", ""), ("width", "12.5"), ("height", "nan"), ("trigger", "inf"), ("offset", "0x10")],
)
def test_non_numeric_geometry_is_a_format_error_naming_file_and_line(tmp_path, field, value):
    args = {"trigger": 2, "x": 1, "y": 2, "width": 3, "height": 4, "offset": 0, field: value}
    data = (d_line(1, 0, 0, 1, 1, 0) + "\n" + d_line(**args) + "\n").encode()
    path = tmp_path / f"{D_ID}.adc"
    path.write_bytes(data)
    with pytest.raises(FormatError) as info:
        parse_adc_file(D_ID, path, strict=True)
    assert info.value.source == str(path)
    assert info.value.line == 2
    assert str(path) in str(info.value) and "line 2" in str(info.value)


@pytest.mark.parametrize(("width", "height"), [(-1, 5), (5, -1), (-3, -3), (-4, 0)])
def test_negative_size_is_a_format_error(width, height):
    data = d_line(1, 0, 0, width, height, 0).encode()
    with pytest.raises(FormatError, match="negative ROI size") as info:
        parse_adc_bytes(D_ID, data, strict=True)
    assert info.value.line == 1


def test_negative_offset_of_an_image_is_a_format_error():
    with pytest.raises(FormatError, match="negative byte offset"):
        parse_adc_bytes(D_ID, d_line(1, 0, 0, 2, 2, -5).encode(), strict=True)


def test_too_few_columns_is_a_format_error():
    with pytest.raises(FormatError, match="columns") as info:
        parse_adc_bytes(D_ID, b"1,2,3\n", strict=True)
    assert info.value.line == 1


@pytest.mark.parametrize("data", [b"", b"\n", b"\r\n\r\n", b"  \n\t\n"])
def test_empty_adc_has_no_targets(data):
    assert list(iter_roi_records(D_ID, data)) == []
    assert parse_adc_bytes(D_ID, data) == {}
    assert parse_adc_bytes(I_ID, data, extended=True) == {}
    assert len(parse_adc_table(D_ID, data)) == 0


def test_bad_bin_id_is_refused():
    with pytest.raises(ValueError, match="bin id"):
        parse_adc_bytes("../x", D_ADC)


def test_header_columns_are_the_truth():
    """Geometry comes from wherever the header's ADCFileFormat puts it."""
    header_names = ["ROIwidth", " ROIheight", " trigger#", " ROIy", " ROIx", " start_byte", " ADC_time"]
    names = [normalize_column_name(n) for n in header_names]
    assert names == ["width", "height", "trigger", "y", "x", "byteOffset", "ADCtime"]
    data = b"4,3,1,20,10,0,0.5\n0,0,2,0,0,12,1.0\n5,2,3,1000,1300,12,8.984375E-02\n"
    assert parse_adc_bytes(D_ID, data, columns=names) == {
        1: {"roi_id": D_ID + "_00001", "x": 10, "y": 20, "width": 4, "height": 3},
        3: {"roi_id": D_ID + "_00003", "x": 1300, "y": 1000, "width": 5, "height": 2},
    }
    table = parse_adc_table(D_ID, data, columns=names)
    assert table.names == tuple(names)
    assert table.column("ADCtime") == [0.5, 1.0, 0.08984375]
    with pytest.raises(FormatError, match="byteOffset"):
        parse_adc_bytes(D_ID, data, columns=["trigger", "x", "y", "width", "height"], strict=True)


# --- column names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("trigger#", "trigger"), ("ADC_time", "ADCtime"), ("ADCtime", "ADCtime"), ("time of flight", "TimeOfFlight"),
     ("peakA", "PeakA"), ("grabtimestart", "GrabTimeStart"), ("ROIx", "x"), ("RoiY", "y"), ("ROIwidth", "width"),
     ("RoiHeight", "height"), ("start_byte", "byteOffset"), ("StartByte", "byteOffset"), ("STartPoint", "StartPoint"),
     ("comparator_out", "ComparatorOut"), ("runTime", "RunTime"), ("inhibitTime", "InhibitTime"),
     (" status ", "Status"), ("frameGrabTime", "frameGrabTime"), ("TRIGGEROPENTIME", "triggerOpenTime"),
     ("something else", "something else")],
)  # fmt: skip
def test_normalize_column_name(name, canonical):
    assert normalize_column_name(name) == canonical


# --- the full table -----------------------------------------------------------------------


def test_table_all_columns_d_style_defaults():
    table = parse_adc_table(D_ID, D_ADC)
    assert table.names == D_STYLE_COLUMN_NAMES
    assert len(table) == 4 and len(table.rows) == 4
    assert table.column("trigger") == [1.0, 2.0, 3.0, 4.0]
    assert table.column("ADCtime") == [0.5, 0.5, 0.08984375, 0.5]
    assert table.column("x") == [10.0, 0.0, 1300.0, 7.0]
    assert table.column("byteOffset") == [0.0, 12.0, 12.0, 22.0]
    assert table.column("RunTime") == [0.55] * 4
    assert table.column("InhibitTime") == [0.01] * 4
    row = table.row(3)
    assert row["TimeOfFlight"] == -999.0 and row["width"] == 5.0 and row["GrabTimeEnd"] == 0.54
    assert list(row) == list(D_STYLE_COLUMN_NAMES)
    assert "RunTime" in table and "runTime" not in table


def test_table_usecols():
    table = parse_adc_table(D_ID, D_ADC, usecols=["InhibitTime", "RunTime", "ADCtime"])
    assert table.names == ("InhibitTime", "RunTime", "ADCtime")
    assert table.rows == [(0.01, 0.55, 0.5), (0.01, 0.55, 0.5), (0.01, 0.55, 0.08984375), (0.01, 0.55, 0.5)]
    with pytest.raises(NotFoundError, match="nope") as info:
        parse_adc_table(D_ID, D_ADC, usecols=["ADCtime", "nope"])
    assert isinstance(info.value, KeyError)
    with pytest.raises(KeyError, match="PMTA"):
        table.column("PMTA")


def test_table_row_out_of_range():
    table = parse_adc_table(D_ID, D_ADC)
    for bad in (0, 5, -1):
        with pytest.raises(NotFoundError):
            table.row(bad)


def test_table_with_header_named_columns():
    for header in ("kv_2013.hdr", "kv_2022.hdr"):
        names = adc_column_names(parse_hdr_file(HEADERS / header))
        table = parse_adc_table(D_ID, D_ADC, columns=names)
        assert table.names == D_STYLE_COLUMN_NAMES
        assert table.rows == parse_adc_table(D_ID, D_ADC).rows


def test_table_old_22_column_d_file():
    lines = [",".join(d_line(t, t, t, 2, 2, 4 * t).split(",")[:22]) for t in (1, 2, 3)]
    data = ("\n".join(lines) + "\n").encode()
    table = parse_adc_table(D_ID, data)
    assert table.names == D_STYLE_COLUMN_NAMES[:22]
    assert "RunTime" not in table and "InhibitTime" not in table
    assert table.column("x") == [1.0, 2.0, 3.0]
    assert parse_adc_bytes(D_ID, data, extended=True)[3] == {
        "roi_id": D_ID + "_00003", "x": 3, "y": 3, "width": 2, "height": 2, "trigger": 3, "offset": 12,
    }  # fmt: skip


def test_table_i_style_trailing_comma():
    data = (i_line(1, 202, 673, 96, 45, 1, frame_grab="8.984375E-02") + "\r\n" + i_line(1, 0, 0, 0, 0, 4321)).encode()
    table = parse_adc_table(I_ID, data)
    assert table.names == I_STYLE_COLUMN_NAMES
    assert len(table.names) == 15
    assert table.row(1) == {
        "trigger": 1.0, "processingEndTime": 0.31, "fluorescenceLow": 0.06, "fluorescenceHigh": -0.61,
        "scatteringLow": -0.17, "scatteringHigh": -3.6, "comparatorPulse": -0.29, "triggerOpenTime": 0.1,
        "frameGrabTime": 0.08984375, "x": 202.0, "y": 673.0, "width": 96.0, "height": 45.0, "byteOffset": 1.0,
        "valveStatus": -0.27,
    }  # fmt: skip
    assert table.column("frameGrabTime") == [0.08984375, 0.2]


def test_table_empty_fields_are_nan():
    fields = d_line(1, 0, 0, 1, 1, 0).split(",")
    fields[2] = ""  # PMTA
    fields[22] = " "  # RunTime
    short = ",".join(d_line(2, 0, 0, 1, 1, 1).split(",")[:20])  # no SignalLength..InhibitTime
    table = parse_adc_table(D_ID, (",".join(fields) + "\n" + short).encode())
    assert table.names == D_STYLE_COLUMN_NAMES
    pmta, inhibit, runtime = table.column("PMTA"), table.column("InhibitTime"), table.column("RunTime")
    assert math.isnan(pmta[0]) and pmta[1] == 0.1
    assert inhibit[0] == 0.01 and math.isnan(inhibit[1])
    assert math.isnan(runtime[0]) and math.isnan(runtime[1])
    assert table.column("x") == [0.0, 0.0]


def test_table_non_numeric_field_names_column_and_line():
    data = (d_line(1, 0, 0, 1, 1, 0) + "\n\n" + d_line(2, 0, 0, 1, 1, 1, pmta="oops") + "\n").encode()
    with pytest.raises(FormatError) as info:
        parse_adc_table(D_ID, data, source="some/dir/x.adc", strict=True)
    assert info.value.line == 3
    assert info.value.source == "some/dir/x.adc"
    assert "PMTA" in str(info.value) and "oops" in str(info.value)
    # a column that was not asked for is not parsed
    assert parse_adc_table(D_ID, data, usecols=["ADCtime"]).column("ADCtime") == [0.5, 0.5]


# --- real files ---------------------------------------------------------------------------


def test_real_adc_geometry_and_table(real_bins, pyifcb_facts):
    for pid, facts in pyifcb_facts.items():
        base = real_bins[pid]
        data = base.with_suffix(".adc").read_bytes()
        columns = adc_column_names(parse_hdr_file(base.with_suffix(".hdr")))
        records = list(iter_roi_records(pid, data, columns=columns))
        assert len(records) == facts["n_targets"]
        table = parse_adc_table(pid, data, columns=columns)
        assert len(table) == facts["n_targets"]
        for target, roi in facts.get("rois", {}).items():
            row = table.row(int(target))
            assert (row["x"], row["y"], row["width"], row["height"]) == (
                roi["x"],
                roi["y"],
                roi["width"],
                roi["height"],
            )
            assert (row["trigger"], row["byteOffset"]) == (roi["trigger"], roi["offset"])
        n_images = sum(1 for w, h in zip(table.column("width"), table.column("height")) if w and h)
        assert sum(1 for r in records if r.has_image) == n_images == len(facts.get("rois", {}))


def test_real_d_style_first_line(real_bins):
    pid = "D20130526T095207_IFCB013"
    base = real_bins[pid]
    table = parse_adc_table(pid, base.with_suffix(".adc").read_bytes())
    assert table.names == D_STYLE_COLUMN_NAMES
    # 1,0.047000,0.80304,...,-999.000000,0,0,0,0.096671,0.000807
    first = table.row(1)
    assert (first["trigger"], first["ADCtime"], first["PMTA"]) == (1.0, 0.047, 0.80304)
    assert (first["RunTime"], first["InhibitTime"]) == (0.096671, 0.000807)
    assert table.column("ADCtime")[1] == 12.61
