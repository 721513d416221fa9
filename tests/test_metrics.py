"""Volume analyzed and bin metadata: pyifcb facts on real bins, hand-derived values on generated bins."""

from __future__ import annotations

import asyncio
import math
import os

import pytest

from ifcbkit import (
    AsyncBinStore,
    AsyncIfcbDataDirectory,
    NotFoundError,
    SyncBinStore,
    SyncFilesystemBinStore,
    SyncIfcbDataDirectory,
    parse_adc_table,
    parse_hdr_bytes,
)
from ifcbkit.formats.hdr import adc_column_names
from ifcbkit.science.metrics import bin_metadata, compute_ml_analyzed, mode_smallest, round_half_even
from ifcbkit.testing import Roi, make_bin

REL = 1e-9
I_FLOW = 5 / 48000 * 40  # ml/s


def ml_d(look_time: float) -> float:
    return 0.25 * look_time / 60


def d_rois(adc_time, run_time, inhibit) -> list[Roi]:
    return [
        Roi(columns={"ADCtime": a, "GrabTimeStart": a, "RunTime": r, "InhibitTime": i})
        for a, r, i in zip(adc_time, run_time, inhibit)
    ]


def i_rois(triggers, opens, grabs) -> list[Roi]:
    return [
        Roi(trigger=t, columns={"triggerOpenTime": o, "frameGrabTime": g}) for t, o, g in zip(triggers, opens, grabs)
    ]


def ml(bin_id, rois, *, header=None, method="adc", **options):
    data = make_bin(bin_id, rois, header=header, **options)
    return compute_ml_analyzed(bin_id, data.hdr, data.adc, method=method)


# ----- numpy semantics --------------------------------------------------------------------------


def test_round_half_even_scales_like_numpy():
    # numpy.round(0.12345, 4) is 0.1234 (0.12345 * 1e4 is exactly 1234.5, rounded to even);
    # Python's decimal-correct round gives 0.1235.
    assert round_half_even(0.12345, 4) == 0.1234
    assert round(0.12345, 4) == 0.1235
    assert round_half_even(2.5) == 2.0 and round_half_even(3.5) == 4.0
    assert round_half_even(0.5 - 0.4, 4) == 0.1
    assert math.isnan(round_half_even(math.nan, 4))


def test_mode_ties_go_to_the_smallest_value():
    assert mode_smallest([0.2, 0.1, 0.2, 0.1, 0.3]) == 0.1
    assert mode_smallest([0.3, 0.3, 0.1]) == 0.3
    assert mode_smallest([math.nan, 0.5, math.nan]) == 0.5
    assert math.isnan(mode_smallest([]))


# ----- real bins: the pyifcb facts --------------------------------------------------------------


def _real(real_bins, pid):
    base = real_bins[pid]
    return base.with_suffix(".hdr").read_bytes(), base.with_suffix(".adc").read_bytes()


def test_adc_method_equals_pyifcb_facts(real_bins, pyifcb_facts):
    checked = 0
    for pid, facts in pyifcb_facts.items():
        if "ml_analyzed" not in facts:
            continue
        hdr, adc = _real(real_bins, pid)
        result = compute_ml_analyzed(pid, hdr, adc)
        assert result.method == "adc" and result.reason is None
        assert result.ml_analyzed == pytest.approx(facts["ml_analyzed"], rel=REL), pid
        assert result.run_time == pytest.approx(facts["run_time"], rel=REL), pid
        assert result.look_time == pytest.approx(facts["look_time"], rel=REL), pid
        # already-parsed rows give the same numbers
        header = parse_hdr_bytes(hdr)
        table = parse_adc_table(pid, adc, columns=adc_column_names(header))
        assert compute_ml_analyzed(pid, header, table) == result
        checked += 1
    assert checked == 2


def test_reference_method_equals_pyifcb_facts(real_bins, pyifcb_facts):
    pid = "D20130526T095207_IFCB013"
    facts = pyifcb_facts[pid]
    result = compute_ml_analyzed(pid, *_real(real_bins, pid), method="reference")
    assert result.method == "reference"
    assert result.ml_analyzed == pytest.approx(facts["ml_analyzed_reference"], rel=REL)
    assert result.run_time == pytest.approx(facts["run_time_reference"], rel=REL)
    assert result.look_time == pytest.approx(facts["look_time_reference"], rel=REL)
    # the header's runTime (1231.02) is off by more than 2 %, its inhibitTime (11.62298) is not
    assert result.inhibit_time == 11.62298


def test_empty_real_bins(real_data):
    pid = "D20150411T205456_IFCB012"
    hdr, adc = ((real_data / "empty" / f"{pid}.{ext}").read_bytes() for ext in ("hdr", "adc"))
    assert adc == b""
    by_adc = compute_ml_analyzed(pid, hdr, adc)
    assert math.isnan(by_adc.ml_analyzed) and math.isnan(by_adc.look_time) and by_adc.reason
    for method in ("reference", "hdr"):
        result = compute_ml_analyzed(pid, hdr, adc, method=method)
        assert result.ml_analyzed == pytest.approx(0.25 * (0.621083 - 0.037422) / 60, rel=REL)
        assert result.reason is None
    pid = "IFCB5_2017_001_033645"
    hdr, adc = ((real_data / "empty" / f"{pid}.{ext}").read_bytes() for ext in ("hdr", "adc"))
    for method in ("adc", "hdr", "reference"):
        result = compute_ml_analyzed(pid, hdr, adc, method=method)
        assert math.isnan(result.ml_analyzed) and result.reason, method


def test_real_bin_metadata(real_bins, pyifcb_facts):
    pid = "IFCB5_2012_028_081515"
    hdr, adc = _real(real_bins, pid)
    meta = bin_metadata(pid, hdr, adc, size=123)
    assert meta["num_triggers"] == 7
    assert meta["num_images"] == len(pyifcb_facts[pid]["keys_after_stitching"]) == 5
    assert meta["ml_analyzed"] == pytest.approx(pyifcb_facts[pid]["ml_analyzed"], rel=REL)
    assert meta["trigger_freq"] == pytest.approx(7 / 1.251953, rel=REL)
    assert meta["concentration"] == pytest.approx(5 / pyifcb_facts[pid]["ml_analyzed"], rel=REL)
    assert meta["instrument"] == "IFCB5" and meta["timestamp_iso"] == "2012-01-28T08:15:15+00:00"
    assert meta["temperature"] == 11.4799732421875 and meta["lat"] is None and meta["size"] == 123


# ----- generated D-style bins -------------------------------------------------------------------


def test_d_style_all_rows_good():
    k = range(1, 6)
    result = ml("D20240101T000000_IFCB010", d_rois([0.5 * i for i in k], [0.5 * i + 0.05 for i in k],
                                                  [0.01 * i for i in k]))  # fmt: skip
    # no offset (RunTime[1] - ADCtime[1] = 0.05): run = last RunTime, inhibit = last InhibitTime
    assert result.run_time == pytest.approx(2.55, rel=REL)
    assert result.inhibit_time == pytest.approx(0.05, rel=REL)
    assert result.ml_analyzed == pytest.approx(ml_d(2.55 - 0.05), rel=REL)


def test_d_style_offset_runtime_clock():
    # RunTime runs 100 s ahead of ADCtime: runtime_offset = 100; InhibitTime steps 0.1 (the mode),
    # inhibit_offset = InhibitTime[1] + 2 * 0.1 = 0.5
    adc_time = [2.0, 4.0, 6.0, 8.0, 10.0]
    result = ml("D20240101T000000_IFCB010", d_rois(adc_time, [a + 100 for a in adc_time], [0.2, 0.3, 0.4, 0.5, 0.6]))
    assert result.run_time == pytest.approx(10.0, rel=REL)
    assert result.inhibit_time == pytest.approx(0.1, rel=REL)
    assert result.ml_analyzed == pytest.approx(ml_d(9.9), rel=REL)
    # without the offset (10 s or less) the raw RunTime is kept
    small = ml("D20240101T000000_IFCB010", d_rois(adc_time, [a + 10 for a in adc_time], [0.2, 0.3, 0.4, 0.5, 0.6]))
    assert small.run_time == pytest.approx(20.0, rel=REL) and small.inhibit_time == pytest.approx(0.6, rel=REL)


def test_d_style_bad_inhibit_rows_use_the_mode_step():
    # row 5 (InhibitTime -1) is bad; good-row steps 0.1, 0.2, 0.1, 0.2 tie: the mode is the smaller, 0.1;
    # inhibit = InhibitTime[4] + 1 bad row * 0.1 = 0.8
    adc_time = [10.0 * i for i in range(1, 7)]
    rois = d_rois(adc_time, [a + 0.05 for a in adc_time], [0.1, 0.2, 0.4, 0.5, 0.7, -1.0])
    result = ml("D20240101T000000_IFCB010", rois)
    assert result.inhibit_time == pytest.approx(0.8, rel=REL)
    assert result.run_time == pytest.approx(60.05, rel=REL)
    assert result.ml_analyzed == pytest.approx(ml_d(60.05 - 0.8), rel=REL)
    # a jump of 5 s or more is bad too: 0.1, 0.2, 9.0 (bad), 9.1, 9.2 -> 9.2 + 0.1
    rois = d_rois(adc_time[:5], [a + 0.05 for a in adc_time[:5]], [0.1, 0.2, 9.0, 9.1, 9.2])
    assert ml("D20240101T000000_IFCB010", rois).inhibit_time == pytest.approx(9.3, rel=REL)


def test_d_style_runtime_replaced_by_adc_time_plus_median_offset():
    # the last RunTime is off by 5 s: runtime2 = last ADCtime + median(RunTime - ADCtime) = 50 + 0.05
    adc_time = [10.0, 20.0, 30.0, 40.0, 50.0]
    run = [a + 0.05 for a in adc_time[:-1]] + [55.05]
    result = ml("D20240101T000000_IFCB010", d_rois(adc_time, run, [0.1, 0.2, 0.3, 0.4, 0.5]))
    assert result.run_time == pytest.approx(50.05, rel=REL)


def test_single_row_and_missing_columns_fall_back_to_the_header():
    header = {"runTime": 100.0, "inhibitTime": 4.0}
    one = ml("D20240101T000000_IFCB010", d_rois([1.0], [1.05], [0.3]), header=header)
    assert one.ml_analyzed == pytest.approx(ml_d(96.0), rel=REL) and one.run_time == 100.0
    # a 22-column ADC (no RunTime/InhibitTime) and a header that does not name the columns
    data = make_bin("D20240101T000000_IFCB010", d_rois([1.0, 2.0], [1.05, 2.05], [0.3, 0.4]),
                    header={**header, "ADCFileFormat": ""})  # fmt: skip
    adc = b"".join(b",".join(line.split(b",")[:22]) + b"\n" for line in data.adc.splitlines())
    result = compute_ml_analyzed("D20240101T000000_IFCB010", data.hdr, adc)
    assert result.ml_analyzed == pytest.approx(ml_d(96.0), rel=REL)


def test_all_zero_inhibit_time_is_not_computable():
    rois = d_rois([1.0, 2.0, 3.0], [1.05, 2.05, 3.05], [0.0, 0.0, 0.0])
    result = ml("D20240101T000000_IFCB010", rois)
    assert math.isnan(result.ml_analyzed) and math.isnan(result.inhibit_time)
    assert "InhibitTime" in result.reason
    assert not result.computable


def test_empty_d_style_bin():
    result = ml("D20240101T000000_IFCB010", [], header={"runTime": 0.62, "inhibitTime": 0.04})
    assert math.isnan(result.ml_analyzed) and result.reason == "the ADC has no rows"
    hdr = ml("D20240101T000000_IFCB010", [], header={"runTime": 0.62, "inhibitTime": 0.04}, method="hdr")
    assert hdr.ml_analyzed == pytest.approx(ml_d(0.62 - 0.04), rel=REL)


# ----- the reference rule ---------------------------------------------------------------------

# ADC estimate: run time 100 (RunTime = ADCtime = 10 k), inhibit time 25 (InhibitTime = 2.5 k), k = 1..10.
REF_ROIS = d_rois([10.0 * k for k in range(1, 11)], [10.0 * k for k in range(1, 11)], [2.5 * k for k in range(1, 11)])


@pytest.mark.parametrize(
    ("run", "inhibit", "expected_run", "expected_inhibit"),
    [
        (98.0, 25.5, 98.0, 25.5),  # ratios exactly 0.98 and 1.02: the header is kept
        (97.9, 25.6, 100.0, 25.0),  # ratios below 0.98 and above 1.02: the ADC estimate is taken
        (101.0, 24.6, 101.0, 24.6),  # both within 2 %
        (110.0, 25.1, 100.0, 25.1),  # each time on its own
    ],
)
def test_reference_rule_ratios(run, inhibit, expected_run, expected_inhibit):
    result = ml("D20240101T000000_IFCB010", REF_ROIS, header={"runTime": run, "inhibitTime": inhibit},
                method="reference")  # fmt: skip
    assert (result.run_time, result.inhibit_time) == (expected_run, expected_inhibit)
    assert result.ml_analyzed == pytest.approx(ml_d(expected_run - expected_inhibit), rel=REL)
    assert ml("D20240101T000000_IFCB010", REF_ROIS).ml_analyzed == pytest.approx(ml_d(75.0), rel=REL)


def test_reference_rule_nan_ratio_keeps_the_header():
    # all-zero InhibitTime: the ADC estimate is NaN, so both header times are kept
    rois = d_rois([1.0, 2.0, 3.0], [1.05, 2.05, 3.05], [0.0, 0.0, 0.0])
    result = ml("D20240101T000000_IFCB010", rois, header={"runTime": 50.0, "inhibitTime": 2.0}, method="reference")
    assert (result.run_time, result.inhibit_time) == (50.0, 2.0)
    assert result.ml_analyzed == pytest.approx(ml_d(48.0), rel=REL)


def test_reference_rule_takes_an_adc_estimate_of_zero():
    # RunTime 20 s ahead: inhibit_offset = 0.2 + 2 * 0.1 = 0.4 = last InhibitTime, so the ADC inhibit time is 0
    adc_time = [1.0, 2.0, 3.0, 4.0]
    rois = d_rois(adc_time, [a + 20 for a in adc_time], [0.1, 0.2, 0.3, 0.4])
    header = {"runTime": 4.0, "inhibitTime": 0.5}
    assert ml("D20240101T000000_IFCB010", rois, header=header).inhibit_time == 0.0
    result = ml("D20240101T000000_IFCB010", rois, header=header, method="reference")
    assert (result.run_time, result.inhibit_time) == (4.0, 0.0)
    assert result.ml_analyzed == pytest.approx(ml_d(4.0), rel=REL)
    assert ml("D20240101T000000_IFCB010", rois, header=header, method="hdr").ml_analyzed == pytest.approx(ml_d(3.5))


def test_reference_without_header_times_says_why():
    data = make_bin("D20240101T000000_IFCB010", REF_ROIS)
    header = {k: v for k, v in parse_hdr_bytes(data.hdr).items() if k != "runTime"}
    result = compute_ml_analyzed("D20240101T000000_IFCB010", header, data.adc, method="reference")
    assert math.isnan(result.ml_analyzed) and "runTime" in result.reason


# ----- generated I-style bins -------------------------------------------------------------------


def test_i_style_sample_bin_by_hand(sample_root):
    # triggers 1..6 (first row of each): open = 0.3 t - 0.1, grab = 0.3 t + 0.02; every gap is 0.18 s
    base = sample_root / "data" / "IFCB5_2014_100" / "IFCB5_2014_100_120000"
    hdr, adc = (base.with_suffix(f".{e}").read_bytes() for e in ("hdr", "adc"))
    result = compute_ml_analyzed("IFCB5_2014_100_120000", hdr, adc)
    look = 1.82 - 5 * 0.18 - 0.073
    assert result.run_time == pytest.approx(1.82, rel=REL)
    assert result.look_time == pytest.approx(look, rel=REL)
    assert result.ml_analyzed == pytest.approx(look * I_FLOW, rel=REL)
    assert compute_ml_analyzed("IFCB5_2014_100_120000", hdr, adc, method="reference") == result._replace(
        method="reference"
    )
    assert math.isnan(compute_ml_analyzed("IFCB5_2014_100_120000", hdr, adc, method="hdr").ml_analyzed)


def test_i_style_midnight_and_duplicate_triggers():
    # the clock wraps at midnight: negative times get 86400 s; the second row of trigger 2 is ignored
    rois = i_rois([1, 2, 2, 3], [10.0, -86389.0, 500.0, -86387.5], [10.5, -86388.0, 900.0, -86387.0])
    result = ml("IFCB5_2012_028_235950", rois)
    # run = 13.0; proc = (11.0 - 10.5) + (12.5 - 12.0)
    assert result.run_time == pytest.approx(13.0, rel=REL)
    assert result.look_time == pytest.approx(13.0 - 1.0 - 0.073, rel=REL)
    assert result.ml_analyzed == pytest.approx((13.0 - 1.0 - 0.073) * I_FLOW, rel=REL)


@pytest.mark.parametrize(
    ("bin_id", "floor", "procs"),
    [
        ("IFCB5_2015_151_235959", 0.073, (0.073, 0.073)),  # 2015-05-31
        ("IFCB5_2015_152_000000", 0.05, (0.06, 0.05)),  # 2015-06-01: IFCB5 switched to 0.05 s
        ("IFCB6_2015_152_000000", 0.073, (0.073, 0.073)),  # other instruments did not
    ],
)
def test_i_style_min_proc_time_switch(bin_id, floor, procs):
    # raw processing times 0.06 and 0.02 s
    rois = i_rois([1, 2, 3], [0.1, 0.26, 0.52], [0.2, 0.5, 0.8])
    result = ml(bin_id, rois)
    assert result.look_time == pytest.approx(0.8 - sum(procs) - floor, rel=REL)


def test_bad_method_and_bad_input():
    data = make_bin("D20240101T000000_IFCB010", REF_ROIS)
    with pytest.raises(ValueError, match="method"):
        compute_ml_analyzed("D20240101T000000_IFCB010", data.hdr, data.adc, method="guess")
    with pytest.raises(TypeError):
        compute_ml_analyzed("D20240101T000000_IFCB010", data.hdr, 42)
    with pytest.raises(ValueError, match="not an IFCB bin id"):
        compute_ml_analyzed("../etc/passwd", data.hdr, data.adc)


# ----- bin metadata -----------------------------------------------------------------------------


def _sizes(base) -> int:
    return sum(os.path.getsize(base.with_suffix(f".{e}")) for e in ("hdr", "adc", "roi"))


def test_sample_bin_metadata_by_hand(sample_root):
    pid = "D20240215T150055_IFCB010"
    base = sample_root / "data" / "D2024" / "D20240215" / pid
    meta = SyncIfcbDataDirectory(sample_root).bin_metadata(pid)
    # 40 triggers every 0.5 s, every 6th without an image; RunTime = ADCtime + 0.05, InhibitTime = 0.01 k
    ml_analyzed = ml_d(20.05 - 0.4)
    assert meta == {
        "pid": pid,
        "timestamp_iso": "2024-02-15T15:00:55+00:00",
        "instrument": "IFCB10",
        "num_triggers": 40,
        "num_images": 34,
        "skipped_lines": 0,
        "trigger_freq": pytest.approx(40 / 20.05, rel=REL),
        "run_time": pytest.approx(20.05, rel=REL),
        "look_time": pytest.approx(19.65, rel=REL),
        "ml_analyzed": pytest.approx(ml_analyzed, rel=REL),
        "ml_analyzed_method": "adc",
        "ml_analyzed_reason": None,
        "concentration": pytest.approx(34 / ml_analyzed, rel=REL),
        "lat": 41.325,
        "lng": -70.5667,
        "sample_type": "Normal",
        "size": _sizes(base),
        "temperature": 20.5,
        "humidity": 30.25,
    }
    hdr, adc = (base.with_suffix(f".{e}").read_bytes() for e in ("hdr", "adc"))
    assert bin_metadata(pid, hdr, adc, size=_sizes(base)) == meta


def test_metadata_of_stitched_and_empty_sample_bins(sample_root):
    d = SyncIfcbDataDirectory(sample_root)
    stitched = d.bin_metadata("IFCB5_2014_100_120000", method="reference")
    # 9 targets, 8 with an image, 2 stitched pairs
    assert (stitched["num_triggers"], stitched["num_images"], stitched["ml_analyzed_method"]) == (9, 6, "reference")
    assert stitched["sample_type"] == "" and stitched["lat"] is None and stitched["temperature"] == 11.5
    # an AdcTable with every column gives the same metadata
    base = sample_root / "data" / "IFCB5_2014_100" / "IFCB5_2014_100_120000"
    table = parse_adc_table("IFCB5_2014_100_120000", base.with_suffix(".adc").read_bytes())
    header = d.read_header("IFCB5_2014_100_120000")
    assert bin_metadata("IFCB5_2014_100_120000", header, table, size=_sizes(base), method="reference") == stitched
    empty = d.bin_metadata("D20240216T020000_IFCB010")
    empty_base = sample_root / "data" / "D2024" / "D20240216" / "D20240216T020000_IFCB010"
    assert (empty["num_triggers"], empty["num_images"], empty["size"]) == (0, 0, _sizes(empty_base))
    assert all(math.isnan(empty[k]) for k in ("ml_analyzed", "trigger_freq", "concentration", "run_time"))
    assert empty["ml_analyzed_reason"] == "the ADC has no rows"
    with pytest.raises(NotFoundError):
        d.bin_metadata("D20990101T000000_IFCB010")
    with pytest.raises(ValueError, match="method"):
        d.bin_metadata("IFCB5_2014_100_120000", method="nope")


async def test_async_faces_and_stores_share_bin_metadata(sample_root):
    pid = "D20240215T152410_IFCB010"
    expected = SyncIfcbDataDirectory(sample_root).bin_metadata(pid)
    assert await AsyncIfcbDataDirectory(sample_root).bin_metadata(pid) == expected
    assert SyncFilesystemBinStore(sample_root).bin_metadata(pid) == expected


class DictStore(SyncBinStore):
    """A store over a dict, without a ``size`` method: ``_file_size`` reads the file."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.gets: list[str] = []

    def get(self, key):
        self.gets.append(key)
        try:
            return self.files[key]
        except KeyError:
            raise NotFoundError(key) from None

    def exists(self, key):
        return key in self.files


class SizedDictStore(DictStore):
    def size(self, key):
        if key not in self.files:
            raise NotFoundError(key)
        return len(self.files[key])


class AsyncSizedDictStore(AsyncBinStore):
    def __init__(self, files):
        self.files = files

    async def get(self, key):
        await asyncio.sleep(0)
        return self.files[key]

    async def exists(self, key):
        return key in self.files

    async def size(self, key):
        return len(self.files[key])


async def test_file_size_primitive_in_custom_stores():
    pid = "D20240101T000000_IFCB010"
    data = make_bin(pid, [Roi(width=10, height=5, columns={"InhibitTime": 0.1})] * 3, seed=9)
    files = {f"{pid}.{e}": getattr(data, e) for e in ("hdr", "adc", "roi")}
    total = sum(map(len, files.values()))
    plain = DictStore(files)
    assert plain.bin_metadata(pid)["size"] == total
    assert f"{pid}.roi" in plain.gets  # no size(): the file was read
    sized = SizedDictStore(files)
    meta = sized.bin_metadata(pid)
    assert meta["size"] == total and f"{pid}.roi" not in sized.gets
    assert meta["num_images"] == 3
    assert await AsyncSizedDictStore(files).bin_metadata(pid) == meta
    no_roi = SizedDictStore({k: v for k, v in files.items() if not k.endswith(".roi")})
    assert no_roi.bin_metadata(pid)["size"] == total - len(data.roi)


def test_an_infinite_or_negative_volume_is_not_computable():
    """Regression (hostile input 3): ``inf`` in the last RunTime gave ml_analyzed = inf with no reason,
    and a day's objects per ml became 0."""
    D = "D20240101T000000_IFCB010"
    infinite = ml(D, d_rois([0.5, 1.0, math.inf], [0.55, 1.05, math.inf], [0.01, 0.02, 0.03]))
    assert math.isnan(infinite.ml_analyzed) and math.isnan(infinite.look_time)
    assert infinite.reason is not None and "not a positive volume" in infinite.reason and "inf" in infinite.reason
    negative = ml(D, d_rois([0.5, 1.0, 1.5], [0.55, 1.05, 1.55], [0.5, 1.0, 1.6]))  # inhibit > run
    assert math.isnan(negative.ml_analyzed) and "not a positive volume" in negative.reason
    data = make_bin(D, d_rois([0.5, 1.0, math.inf], [0.55, 1.05, math.inf], [0.01, 0.02, 0.03]))
    meta = bin_metadata(D, data.hdr, data.adc)
    assert math.isnan(meta["ml_analyzed"]) and math.isnan(meta["concentration"]) and meta["ml_analyzed_reason"]
