"""Bin and ROI identifiers: parsing, what they imply, and strict refusal of anything else."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ifcbkit
from ifcbkit import (
    InvalidIdentifierError,
    add_target,
    bin_day_dir,
    bin_instrument_id,
    bin_timestamp,
    bin_year,
    parse_bin,
    parse_bin_id,
    parse_d_style_bin_id,
    parse_i_style_bin_id,
    parse_id,
    parse_pid,
    parse_roi_id,
)
from ifcbkit.formats.ids import bin_key, bin_year_dir, parse_bin_key, validate_bin_id

D_ID = "D20240215T150055_IFCB010"
I_ID = "IFCB5_2012_028_081515"


# --- what valid ids say -------------------------------------------------------------------


def test_parse_d_style():
    fields = {"instrument_id": 10, "year": 2024, "month": 2, "day": 15, "hour": 15, "minute": 0, "second": 55}
    assert parse_d_style_bin_id(D_ID) == fields
    assert parse_bin_id(D_ID) == fields
    b = parse_bin(D_ID)
    assert (b.bin_id, b.style, b.instrument) == (D_ID, "D", 10)
    assert b.timestamp == datetime(2024, 2, 15, 15, 0, 55, tzinfo=timezone.utc)


def test_parse_i_style_day_of_year():
    fields = {"instrument_id": 5, "year": 2012, "day_of_year": 28, "hour": 8, "minute": 15, "second": 15}
    assert parse_i_style_bin_id(I_ID) == fields
    assert parse_bin_id(I_ID) == fields
    b = parse_bin(I_ID)
    assert (b.bin_id, b.style, b.instrument) == (I_ID, "I", 5)
    # day 28 of 2012 is January 28th
    assert b.timestamp == datetime(2012, 1, 28, 8, 15, 15, tzinfo=timezone.utc)
    # day 100 of 2014 (not a leap year) is April 10th; of 2012 (leap) April 9th
    assert parse_bin("IFCB5_2014_100_120000").timestamp.date() == date(2014, 4, 10)
    assert parse_bin("IFCB5_2012_100_120000").timestamp.date() == date(2012, 4, 9)
    assert parse_bin("IFCB1_2013_365_235959").timestamp == datetime(2013, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def test_style_specific_parsers_refuse_the_other_style():
    with pytest.raises(InvalidIdentifierError):
        parse_d_style_bin_id(I_ID)
    with pytest.raises(InvalidIdentifierError):
        parse_i_style_bin_id(D_ID)


def test_bin_timestamp_is_aware_utc():
    ts = bin_timestamp(D_ID)
    assert ts.tzinfo is not None and ts.utcoffset() == timedelta(0)
    assert ts == datetime(2024, 2, 15, 15, 0, 55, tzinfo=timezone.utc)
    assert bin_timestamp(I_ID) == datetime(2012, 1, 28, 8, 15, 15, tzinfo=timezone.utc)
    # a ROI id has its bin's timestamp
    assert bin_timestamp(D_ID + "_00003") == ts


def test_instrument_year_and_directories():
    assert bin_instrument_id(D_ID) == 10
    assert bin_instrument_id("D20221227T093138_IFCB127") == 127
    assert bin_instrument_id(I_ID) == 5
    assert bin_year(D_ID) == 2024
    assert bin_year(I_ID) == 2012
    assert bin_day_dir(D_ID) == "D20240215"
    assert bin_day_dir(I_ID) == "IFCB5_2012_028"
    assert bin_day_dir(D_ID + "_00012") == "D20240215"
    assert bin_day_dir(I_ID + "_00012") == "IFCB5_2012_028"
    assert bin_year_dir(D_ID) == "D2024"
    with pytest.raises(InvalidIdentifierError):
        bin_year_dir(I_ID)


def test_add_target_exact_example():
    assert add_target("D20221227T093138_IFCB127", 5) == "D20221227T093138_IFCB127_00005"
    assert add_target(I_ID, 1) == "IFCB5_2012_028_081515_00001"
    assert add_target(D_ID, 12345) == D_ID + "_12345"


@pytest.mark.parametrize("target", [0, -1, 1_000_000, 1.0, "5", None, True])
def test_add_target_refuses_bad_targets(target):
    with pytest.raises(InvalidIdentifierError):
        add_target(D_ID, target)


def test_add_target_refuses_bad_bin_id():
    with pytest.raises(InvalidIdentifierError):
        add_target("../x", 1)


def test_parse_roi_id_and_pid():
    assert parse_roi_id("D20221227T093138_IFCB127_00005") == ("D20221227T093138_IFCB127", 5)
    assert parse_roi_id(I_ID + "_00004") == (I_ID, 4)
    p = parse_id(D_ID + "_00003")
    assert (p.bin_id, p.target, p.style, p.instrument) == (D_ID, 3, "D", 10)
    assert p.timestamp == datetime(2024, 2, 15, 15, 0, 55, tzinfo=timezone.utc)
    q = parse_id(I_ID)
    assert (q.bin_id, q.target, q.style, q.instrument) == (I_ID, None, "I", 5)
    assert parse_pid(D_ID + "_00003") == {
        "lid": D_ID, "timestamp": p.timestamp, "year": 2024, "day_dir": "D20240215", "instrument_id": 10,
        "target": 3, "roi_id": D_ID + "_00003",
    }  # fmt: skip
    assert parse_pid(I_ID) == {"lid": I_ID, "timestamp": q.timestamp, "year": 2012, "day_dir": "IFCB5_2012_028",
                               "instrument_id": 5}  # fmt: skip
    with pytest.raises(InvalidIdentifierError):
        parse_roi_id(D_ID)  # a bin id is not a ROI id


def test_validate_bin_id():
    assert validate_bin_id(D_ID) == D_ID
    with pytest.raises(InvalidIdentifierError):
        validate_bin_id(D_ID + "_00001")


def test_bin_key_and_parse_bin_key():
    assert bin_key(D_ID, "roi") == D_ID + ".roi"
    assert bin_key(I_ID, "hdr") == I_ID + ".hdr"
    assert parse_bin_key(D_ID + ".adc") == (D_ID, "adc")
    assert parse_bin_key(I_ID + ".roi") == (I_ID, "roi")
    for ext in ("txt", "", "ROI", "roi/../x"):
        with pytest.raises(InvalidIdentifierError):
            bin_key(D_ID, ext)
    for key in (D_ID, D_ID + ".txt", "../" + D_ID + ".adc", D_ID + "/x.adc", "x.adc", D_ID + "_00001.roi"):
        with pytest.raises(InvalidIdentifierError):
            parse_bin_key(key)


def test_the_error_is_a_value_error_and_an_ifcb_error():
    with pytest.raises(ValueError) as info:
        parse_bin_id("../x")
    assert isinstance(info.value, ifcbkit.IfcbError)
    assert "../x" in str(info.value)


# --- refusals -----------------------------------------------------------------------------

BAD_IDS = [
    "",
    "../x",
    "../../etc/passwd",
    "D20240215T150055_IFCB010/../x",
    "D20240215T150055_IFCB010/x",
    "data/D20240215T150055_IFCB010",
    "D20240215T150055_IFCB010\x00",
    "D20240215T150055\x00_IFCB010",
    "D20240215T150055_IFCB010" + "0" * 100,
    "D" * 10_000,
    " D20240215T150055_IFCB010",
    "D20240215T150055_IFCB010 ",
    "D20240215T150055_IFCB010\n",
    "d20240215T150055_IFCB010",
    "D20240215t150055_IFCB010",
    "D20240215T150055_ifcb010",
    "D20240215T150055_IFCB",
    "D2024021T150055_IFCB010",
    "D20240215T15005_IFCB010",
    "D20241315T150055_IFCB010",  # month 13
    "D20240015T150055_IFCB010",  # month 0
    "D20240230T150055_IFCB010",  # February 30th
    "D20230229T150055_IFCB010",  # February 29th of a non-leap year
    "D20240215T240055_IFCB010",  # hour 24
    "D20240215T156055_IFCB010",  # minute 60
    "D20240215T150060_IFCB010",  # second 60
    "D\uff120240215T150055_IFCB010",  # fullwidth digit
    "D20240215T150055_IFCB\u0660\u0661\u0660",  # Arabic-Indic digits
    "IFCB5_2013_366_081515",  # day 366 of a non-leap year
    "IFCB5_2012_000_081515",  # day 0
    "IFCB5_2012_367_081515",
    "IFCB5_2012_28_081515",
    "IFCB5_2012_028_241515",  # hour 24
    "IFCB_2012_028_081515",
    "IFCB5_2012_028_081515/../x",
    "IFCB5_2012_028",
    "IFCB5_2012_028_\uff1081515",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_bin_ids_are_refused(bad):
    for parse in (parse_bin_id, parse_pid, validate_bin_id, bin_timestamp, bin_day_dir, bin_year, bin_instrument_id):
        with pytest.raises(InvalidIdentifierError):
            parse(bad)
    with pytest.raises(InvalidIdentifierError):
        add_target(bad, 1)
    with pytest.raises(InvalidIdentifierError):
        bin_key(bad, "adc")


def test_leap_day_of_year():
    assert parse_bin("IFCB5_2012_366_081515").timestamp.date() == date(2012, 12, 31)
    assert parse_bin("IFCB5_2000_366_000000").timestamp.date() == date(2000, 12, 31)
    with pytest.raises(InvalidIdentifierError, match="366"):
        parse_i_style_bin_id("IFCB5_1900_366_000000")  # 1900 is not a leap year
    assert parse_bin("D20240229T000000_IFCB1").timestamp.date() == date(2024, 2, 29)


@pytest.mark.parametrize(
    "bad_roi_id",
    [
        D_ID + "_00000",  # targets start at 1
        D_ID + "_0001",  # 4 digits
        D_ID + "_1",
        D_ID + "_0000a",
        D_ID + "_00001/../x",
        D_ID + "_00001_00002",
        D_ID + "__00001",
        D_ID + "_\u0660\u0660\u0660\u0660\u0661",
        "../x_00001",
        I_ID + "_00000",
    ],
)
def test_bad_roi_ids_are_refused(bad_roi_id):
    with pytest.raises(InvalidIdentifierError):
        parse_roi_id(bad_roi_id)
    with pytest.raises(InvalidIdentifierError):
        parse_pid(bad_roi_id)


@pytest.mark.parametrize("value", [None, 20240215, b"D20240215T150055_IFCB010", ["D20240215T150055_IFCB010"], 1.5])
def test_wrong_types_are_refused(value):
    for parse in (parse_bin_id, parse_pid, parse_roi_id, parse_d_style_bin_id, parse_i_style_bin_id, bin_timestamp):
        with pytest.raises(InvalidIdentifierError, match="string"):
            parse(value)
    with pytest.raises(InvalidIdentifierError):
        parse_bin_key(value)


# --- properties ---------------------------------------------------------------------------

_EPOCH = datetime(1990, 1, 1, tzinfo=timezone.utc)
_SECONDS = st.integers(0, (datetime(2099, 12, 31, 23, 59, 59, tzinfo=timezone.utc) - _EPOCH).days * 86400)


@settings(max_examples=150, deadline=None)
@given(seconds=_SECONDS, instrument=st.integers(0, 999), width=st.integers(1, 3), target=st.integers(1, 99_999))
def test_valid_ids_round_trip(seconds, instrument, width, target):
    ts = _EPOCH + timedelta(seconds=seconds)
    n = str(instrument).zfill(width)
    d_id = f"D{ts:%Y%m%dT%H%M%S}_IFCB{n}"
    i_id = f"IFCB{n}_{ts:%Y}_{ts.timetuple().tm_yday:03d}_{ts:%H%M%S}"
    for bin_id, style, day_dir in ((d_id, "D", f"D{ts:%Y%m%d}"), (i_id, "I", i_id[: -len("_HHMMSS")])):
        b = parse_bin(bin_id)
        assert (b.bin_id, b.style, b.instrument, b.timestamp) == (bin_id, style, instrument, ts)
        assert bin_day_dir(bin_id) == day_dir
        assert bin_year(bin_id) == ts.year
        roi_id = add_target(bin_id, target)
        assert roi_id == f"{bin_id}_{target:05d}"
        assert parse_roi_id(roi_id) == (bin_id, target)
        assert parse_id(roi_id).timestamp == ts
        assert parse_bin_key(bin_key(bin_id, "roi")) == (bin_id, "roi")


def _expected_valid(s: str) -> bool:
    """An independent statement of the id rules: the exact pattern, ASCII digits, a real date and time."""
    m = re.fullmatch(r"D([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})_IFCB[0-9]{1,6}", s)
    if m:
        y, mo, d, hh, mm, ss = map(int, m.groups())
        return 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and hh < 24 and mm < 60 and ss < 60 and y > 0
    m = re.fullmatch(r"IFCB[0-9]{1,6}_([0-9]{4})_([0-9]{3})_([0-9]{2})([0-9]{2})([0-9]{2})", s)
    if m:
        y, doy, hh, mm, ss = map(int, m.groups())
        return y > 0 and 1 <= doy <= (366 if calendar.isleap(y) else 365) and hh < 24 and mm < 60 and ss < 60
    return False


_CLOSE_D = st.builds(
    "D{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}_IFCB{}".format,
    st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
    st.integers(0, 25), st.integers(0, 61), st.integers(0, 61), st.integers(0, 999),
)  # fmt: skip
_CLOSE_I = st.builds(
    "IFCB{}_{:04d}_{:03d}_{:02d}{:02d}{:02d}".format,
    st.integers(0, 999), st.integers(0, 9999), st.integers(0, 367),
    st.integers(0, 25), st.integers(0, 61), st.integers(0, 61),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        # plausible ids with dates and times around the valid ranges
        _CLOSE_D,
        _CLOSE_I,
        # near misses: the right shape, any digits (non-ASCII ones too), any date
        st.from_regex(r"\AD\d{8}T\d{6}_IFCB\d{1,4}\Z"),
        st.from_regex(r"\AIFCB\d{1,4}_\d{4}_\d{3}_\d{6}\Z"),
        st.from_regex(r"\A(D|IFCB)[0-9_T./\x00-]{0,30}\Z"),
    )
)
def test_strings_pass_only_if_they_match_the_pattern(s):
    if _expected_valid(s):
        assert parse_bin(s).bin_id == s
    else:
        with pytest.raises(InvalidIdentifierError):
            parse_bin_id(s)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), _CLOSE_D, _CLOSE_I, st.from_regex(r"\AD\d{8}T\d{6}_IFCB\d{1,4}\Z")))
def test_fast_check_agrees_with_the_parser(s):
    """``is_bin_id`` (the fast check used when walking trees) says yes exactly when parsing succeeds."""
    from ifcbkit.formats.ids import is_bin_id

    assert is_bin_id(s) is _expected_valid(s)
    for other in (None, 5, b"D20240215T150055_IFCB010"):
        assert is_bin_id(other) is False
