"""The ``.hdr`` parser: every header family of the formats doc, value typing, ADC column names."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ifcbkit import FormatError, adc_column_names, parse_hdr, parse_hdr_bytes, parse_hdr_file
from ifcbkit.adc import D_STYLE_COLUMN_NAMES
from ifcbkit.formats.hdr import parse_value

HEADERS = Path(__file__).resolve().parent / "data" / "headers"

V1_CONTEXT = (
    "Imaging FlowCytobot Acquisition Software version 1.0; October 2005\n"
    "Heidi M. Sosik and Robert J. Olson\n"
    "Woods Hole Oceanographic Institution"
)
ADC_2013 = (
    "trigger#, ADC_time, PMTA, PMTB, PMTC, PMTD, peakA, peakB, peakC, peakD, time of flight, grabtimestart, "
    "grabtimeend, ROIx, ROIy, ROIwidth, ROIheight,start_byte, comparator_out, STartPoint, SignalLength, status, "
    "runTime, inhibitTime"
)
ADC_2022 = (
    "trigger#, ADCtime, PMTA, PMTB, PMTC, PMTD, PeakA, PeakB, PeakC, PeakD, TimeOfFlight, GrabTimeStart, "
    "GrabTimeEnd, RoiX, RoiY, RoiWidth, RoiHeight, StartByte, ComparatorOut, StartPoint, SignalLength, Status, "
    "RunTime, InhibitTime"
)

EXPECTED = {
    "v1_0values.hdr": {"context": V1_CONTEXT},
    "v1_3values.hdr": {
        "context": V1_CONTEXT + "\nSyringeStatus =  1",
        "temperature": 12.75,
        "humidity": 40.5,
        "binarizeThreshold": 25,
    },
    "v1_5values.hdr": {
        "context": V1_CONTEXT,
        "temperature": 9.5,
        "humidity": 51.25,
        "binarizeThreshold": 28,
        "scatteringPhotomultiplierSetting": 0.7,
        "fluorescencePhotomultiplierSetting": 0.55,
    },
    "v1_6values.hdr": {
        "context": V1_CONTEXT + "\nSyringeStatus =  0",
        "temperature": 11.4799732421875,
        "humidity": 32.167437512207,
        "binarizeThreshold": 30,
        "scatteringPhotomultiplierSetting": 0.675,
        "fluorescencePhotomultiplierSetting": 0.6,
        "blobSizeThreshold": 10,
    },
    "v2_2010_sample_date.hdr": {
        "context": "Imaging FlowCytobot Acquisition Software version 2.0; May 2010",
        "sampleDate": "06/28/2010 14:37:12",
        "runTime": 1197.363,
        "inhibitTime": 38.952,
        "temperature": 18.25,
        "humidity": 45.5,
    },
    "kv_2013.hdr": {
        "context": "softwareVersion: Imaging FlowCytobot Acquisition Software version 2.0, build 380; May 2010",
        "softwareVersion": "Imaging FlowCytobot Acquisition Software version 2.0, build 380; May 2010",
        "sampleTime": "2013-05-26T09:52:07Z",
        "imagerID": 13,
        "DataFilePath": "c:/Data",
        "runTime": 1231.024861,
        "inhibitTime": 11.62298,
        "altSamplePortNumber": 0,
        "autoWindowsShutdown": 0,
        "runType": "NORMAL",
        "ADCFileFormat": ADC_2013,
    },
    "kv_2022.hdr": {
        "context": "SoftwareVersion: IFCBacquire 2.3.1.0",
        "SoftwareVersion": "IFCBacquire 2.3.1.0",
        "sampleTime": "Jul/17/2022 16:17:39.00 UTC",
        "imagerID": 127,
        "runTime": 1200.004,
        "inhibitTime": 27.3,
        "triggerCount": 7031,
        "roiCount": 6521,
        "gpsLatitude": 41.325,
        "gpsLongitude": -70.5667,
        "sampleType": "Normal",
        "FlashlampOn": True,
        "outputFileDirectory": "D:\\data\\{0}",
        "ADCFileFormat": ADC_2022,
    },
}


def _same(got: dict, expected: dict) -> None:
    assert got == expected
    for key, value in expected.items():
        assert type(got[key]) is type(value), (key, got[key])


def test_every_header_fixture_is_tested():
    assert sorted(p.name for p in HEADERS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_header_families(name):
    path = HEADERS / name
    data = path.read_bytes()
    expected = EXPECTED[name]
    from_file = parse_hdr_file(path)
    _same(from_file, expected)
    _same(parse_hdr_file(str(path)), expected)
    _same(parse_hdr_bytes(data), expected)
    # lines with or without their line ends, from a list or any iterable
    text = data.decode("latin-1")
    _same(parse_hdr(text.splitlines()), expected)
    _same(parse_hdr(text.splitlines(keepends=True)), expected)
    _same(parse_hdr(iter(text.splitlines())), expected)


def test_crlf_and_lf_agree():
    for name in EXPECTED:
        data = (HEADERS / name).read_bytes()
        lf = data.replace(b"\r\n", b"\n")
        crlf = lf.replace(b"\n", b"\r\n")
        assert parse_hdr_bytes(lf) == parse_hdr_bytes(crlf) == EXPECTED[name]
        # a missing final newline and trailing blank lines change nothing
        assert parse_hdr_bytes(lf.rstrip(b"\n")) == EXPECTED[name]
        assert parse_hdr_bytes(lf + b"\n\n") == EXPECTED[name]


def test_2005_values_typed_by_column():
    # binarizeThreshold and blobSizeThreshold are ints, the others floats even when written as integers
    text = [
        '"Imaging FlowCytobot Acquisition Software version 1.0; October 2005"',
        '"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl) BlobSizeThresh"',
        '" 12"," 40"," 25"," 1"," 0"," 7"',
    ]
    h = parse_hdr(text)
    _same(
        h,
        {
            "context": "Imaging FlowCytobot Acquisition Software version 1.0; October 2005",
            "temperature": 12.0,
            "humidity": 40.0,
            "binarizeThreshold": 25,
            "scatteringPhotomultiplierSetting": 1.0,
            "fluorescencePhotomultiplierSetting": 0.0,
            "blobSizeThreshold": 7,
        },
    )


def test_2005_non_numeric_value_is_a_format_error():
    lines = [
        '"Imaging FlowCytobot Acquisition Software version 1.0; October 2005"',
        '"Temp Humidity BinarizeThresh"',
        '" 12.5"," wet"," 25"',
    ]
    with pytest.raises(FormatError) as info:
        parse_hdr_bytes("\n".join(lines).encode(), source="IFCB5_2012_028_081515.hdr")
    assert info.value.source == "IFCB5_2012_028_081515.hdr"
    assert info.value.line == 3
    assert "wet" in str(info.value) and "IFCB5_2012_028_081515.hdr" in str(info.value)


def test_key_value_typing():
    h = parse_hdr(
        [
            "softwareVersion: Imaging FlowCytobot Acquisition Software version 2.0; May 2010",
            "anInt: 42\t",
            "aNegativeInt: -7",
            "aFloat: 0.125\t",
            "aDotFloat: .5",
            "anExponent: 8.984375E-02",
            "aTrue: True",
            "aFalse: False\t",
            "lowerTrue: true",
            "text:   hello world  \t",
            "aTime: Jul/17/2022 16:17:39.00 UTC",
            "aPath: C:\\data\\{0}\\x",
            "empty:",
            "ADCFileFormat:  trigger#, ADC_time  \t",
            "no colon on this line",
        ]
    )
    _same(
        h,
        {
            "context": "softwareVersion: Imaging FlowCytobot Acquisition Software version 2.0; May 2010",
            "softwareVersion": "Imaging FlowCytobot Acquisition Software version 2.0; May 2010",
            "anInt": 42,
            "aNegativeInt": -7,
            "aFloat": 0.125,
            "aDotFloat": 0.5,
            "anExponent": 0.08984375,
            "aTrue": True,
            "aFalse": False,
            "lowerTrue": "true",
            "text": "hello world",
            "aTime": "Jul/17/2022 16:17:39.00 UTC",
            "aPath": "C:\\data\\{0}\\x",
            "empty": "",
            "ADCFileFormat": "trigger#, ADC_time",
        },
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), (" -12\t", -12), ("+3", 3), ("1.5", 1.5), ("-.25", -0.25), ("1e3", 1000.0), ("1.0E-02", 0.01),
     ("True", True), ("False", False), (" abc ", "abc"), ("12 s", "12 s"), ("", ""), ("0x10", "0x10")],
)  # fmt: skip
def test_parse_value(text, expected):
    got = parse_value(text)
    assert got == expected and type(got) is type(expected)


def test_parse_value_nan():
    assert math.isnan(parse_value("NaN"))


def test_adc_column_names_normalised():
    names_2013 = adc_column_names(parse_hdr_file(HEADERS / "kv_2013.hdr"))
    names_2022 = adc_column_names(parse_hdr_file(HEADERS / "kv_2022.hdr"))
    assert names_2013 == names_2022 == list(D_STYLE_COLUMN_NAMES)
    assert names_2013[13:18] == ["x", "y", "width", "height", "byteOffset"]
    # headers without ADCFileFormat leave the I-/D-style defaults to the ADC parser
    for name in ("v1_6values.hdr", "v2_2010_sample_date.hdr"):
        assert adc_column_names(parse_hdr_file(HEADERS / name)) is None
    assert adc_column_names({"ADCFileFormat": "  "}) is None
    # unknown names are kept (stripped), trailing commas dropped
    assert adc_column_names({"ADCFileFormat": "Trigger #, ROI_Width , Mystery ,"}) == ["trigger", "width", "Mystery"]


@pytest.mark.parametrize("data", [b"", b"\n", b"\r\n\r\n", b"   \t\n  \n"])
def test_an_empty_header_has_no_properties(tmp_path, data):
    path = tmp_path / "D20240215T150055_IFCB010.hdr"
    path.write_bytes(data)
    assert parse_hdr_file(path) == {}  # as in 0.3.1
    assert parse_hdr_bytes(data, source="x.hdr") == {}
    assert parse_hdr([]) == {}


def test_unrecognised_header_is_a_format_error(tmp_path):
    path = tmp_path / "D20240215T150055_IFCB010.hdr"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary junk\n")
    with pytest.raises(FormatError) as info:
        parse_hdr_file(path)
    assert info.value.source == str(path) and info.value.line == 1


def test_real_headers(real_bins, pyifcb_facts):
    """Every key pyifcb reports, same value and type, for all three real bins that have headers."""
    for pid, facts in pyifcb_facts.items():
        path = real_bins[pid].with_suffix(".hdr")
        h = parse_hdr_file(path)
        assert h == {**h, **facts["header"]}
        assert parse_hdr_bytes(path.read_bytes()) == h
        if "ADCFileFormat" in h:
            assert adc_column_names(h) == list(D_STYLE_COLUMN_NAMES)


def test_long_numbers_parse_in_linear_time():
    """Regression (hostile input 5): a 2010-family line of 2,000 digits took 263 s (catastrophic
    backtracking), a key: value line of 40,000 digits 63 s."""
    import time

    v2 = (
        "Imaging FlowCytobot Acquisition Software version 2.0; May 2010\nSample Date: x\n" + "1" * 2000
        + "\nrun time = 12.5 s  inhibit time = 1.5 s\n 20.5 temperature, 40 humidity\n"
    )  # fmt: skip
    started = time.perf_counter()
    header = parse_hdr_bytes(v2.encode())
    long_value = parse_hdr_bytes(("softwareVersion: 1\nbig: " + "4" * 40_000 + "x\nsmall: 12\n").encode())
    assert time.perf_counter() - started < 5  # a guard against hanging, not a speed target
    assert (header["runTime"], header["inhibitTime"], header["temperature"], header["humidity"]) == (
        12.5, 1.5, 20.5, 40.0,
    )  # fmt: skip
    assert long_value["small"] == 12 and long_value["big"] == "4" * 40_000 + "x"


def test_a_number_too_long_for_an_int_is_kept_as_text():
    """Regression (hostile input 10): a 5,000-digit header value raised Python's int digit-limit ValueError."""
    header = parse_hdr_bytes(("softwareVersion: 1\nbig: " + "9" * 5000 + "\n").encode())
    assert header["big"] == "9" * 5000
    v1 = b'"Imaging FlowCytobot Acquisition Software version 1.0"\n"a"\n"b"\n"Temp Humidity BinarizeThresh"\n'
    with pytest.raises(FormatError, match=r"binarizeThreshold is not a number") as info:
        parse_hdr_bytes(v1 + b'"20.5, 40, ' + b"9" * 5000 + b'"\n', source="x.hdr")
    assert "(5000 characters)" in str(info.value) and len(str(info.value)) < 200
