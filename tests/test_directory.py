"""Data directories: the walk, the include/exclude rule, filters and pruning, adcmod, bad input.

Every behaviour is tested on both faces (``face`` is ``'sync'`` or ``'async'``) with
the same test body, and ``test_sync_and_async_agree`` runs every method on both
faces over the real tree, the bundled sample tree and generated trees and
compares the results.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import SAMPLE
from helpers import call
from ifcbkit import (
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    AsyncIfcbDataDirectory,
    BinImages,
    DuplicateBinWarning,
    IfcbError,
    IfcbWarning,
    InvalidIdentifierError,
    MissingTargetWarning,
    NotFoundError,
    SyncIfcbDataDirectory,
    async_find_fileset,
    async_list_data_dirs,
    async_list_filesets,
    bin_images,
    bin_timestamp,
    daily_abundance,
    make_fileset_filter,
    sync_find_fileset,
    sync_list_data_dirs,
    sync_list_filesets,
    validate_path,
)
from ifcbkit.faces.directory import FilesetFilter, SkippedPathWarning
from ifcbkit.formats.ids import time_key
from ifcbkit.testing import Roi, make_bin, stitched_pair, write_bin

# the years tree's decoy D20231301 is skipped with a warning each listing (asserted once, below)
pytestmark = pytest.mark.filterwarnings("ignore:skipped .*D20231301:ifcbkit.errors.SkippedPathWarning")

DIRECTORIES = {"sync": SyncIfcbDataDirectory, "async": AsyncIfcbDataDirectory}


def directory(face: str, root, **options):
    return DIRECTORIES[face](root, **options)


async def pids(obj, **filters) -> list[str]:
    return [f["pid"] for f in await call(obj, "list", **filters)]


def pixels(image: Image.Image) -> tuple:
    return image.mode, image.size, image.tobytes()


def normalize(value):
    """Images become (mode, size, bytes); BinImages a tagged dict; containers recursively."""
    if isinstance(value, Image.Image):
        return pixels(value)
    if isinstance(value, BinImages):
        return ("BinImages", value.stitch, {t: pixels(value[t]) for t in value})
    if isinstance(value, Mapping):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(normalize(v) for v in value)
    return value


def scans(monkeypatch) -> list[str]:
    """Record every directory listed with ``os.scandir`` from now on."""
    seen: list[str] = []
    real = os.scandir

    def scandir(path="."):
        if not isinstance(path, int):  # shutil.rmtree lists by file descriptor
            seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return seen


# ----- trees ----------------------------------------------------------------------------------

D1 = "D20231231T235959_IFCB101"  # 3x2 image with known pixels, a no-image target
D2 = "D20240101T000000_IFCB101"  # has an adcmod with other geometry
D_EMPTY = "D20240101T060000_IFCB101"  # no ADC lines, two stray bytes of .roi
D_PARTIAL = "D20240102T120000_IFCB102"  # no .roi
I1 = "IFCB7_2024_060_101010"  # a stitched pair (2, 3)


def _generate(site: Path) -> Path:
    data = site / "data"
    write_bin(data / "D2023" / "D20231231", D1, [Roi(3, 2, pixels=bytes(range(6))), Roi(), Roi(4, 4), Roi(8, 2)])
    write_bin(data / "D2024" / "D20240101", D2, [Roi(10, 10), Roi(5, 5)], seed=2)
    adcmod = make_bin(D2, [Roi(20, 5), Roi(5, 5)]).adc  # same pixels, other geometry for target 1
    (site / "adcmod" / "D20240101").mkdir(parents=True)
    (site / "adcmod" / "D20240101" / f"{D2}.adc.mod").write_bytes(adcmod)
    write_bin(data / "D2024" / "D20240101", D_EMPTY, [], roi_suffix=b"\x00\x07")
    write_bin(data / "D2024" / "D20240102", D_PARTIAL, [Roi(6, 6)]).roi.unlink()
    rois = [Roi(10, 10, x=0, y=0, trigger=1), *stitched_pair(2, (100, 100, 30, 20), (110, 105, 30, 20))]
    rois += [Roi(trigger=3), Roi(12, 6, x=5, y=5, trigger=4)]
    write_bin(data / "IFCB7_2024_060", I1, rois, seed=3)
    write_bin(site / "notes", "D20240101T010000_IFCB101", [Roi(2, 2)])  # not under an included name
    write_bin(data / "beads", "D20240101T020000_IFCB101", [Roi(2, 2)])  # excluded
    return data


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> Path:
    """A generated data root (``site/data``) with adcmod, empty, partial and stitched bins."""
    return _generate(tmp_path_factory.mktemp("site"))


# ----- validate_path and the include/exclude rule ---------------------------------------------


def test_defaults():
    assert DEFAULT_INCLUDE == ["data"]  # lists, as in 0.3.1
    assert DEFAULT_EXCLUDE == ["skip", "beads"]


@pytest.mark.parametrize(
    ("relative", "ok"),
    [
        ("", True),  # a bin directly in the root
        ("data", True),
        ("data/D2013/D20130526", True),
        ("D2013/D20130526", True),
        ("data/D2013/D20130527", False),  # a day directory of another day
        ("data/skip", False),
        ("data/beads/D2013", False),
        ("empty", False),
        ("partial", False),
        ("data/0526", True),  # any substring of the bin id counts
        ("data/T095207", True),
        ("data/ifcb013", False),  # case matters
    ],
)
def test_validate_path(relative, ok):
    assert validate_path(os.path.join(relative, "D20130526T095207_IFCB013.hdr")) is ok
    assert FilesetFilter()(relative.split("/") if relative else (), "D20130526T095207_IFCB013") is ok


def test_validate_path_custom_rules():
    pid = "D20130526T095207_IFCB013"
    assert validate_path(f"archive/D2013/{pid}.adc", include=["archive"]) is True
    assert validate_path(f"data/D2013/{pid}.adc", include=["archive"]) is False
    # exclusion wins even over a substring of the bin id
    assert validate_path(f"data/D2013/{pid}.roi", exclude=["D2013"]) is False
    assert validate_path(Path("data") / "IFCB5_2012_028" / "IFCB5_2012_028_081515.hdr") is True
    with pytest.raises(ValueError, match="disjoint"):
        validate_path(f"data/{pid}.hdr", exclude=["data"], include=["data"])


def test_make_fileset_filter():
    accepts = make_fileset_filter(start_time="2024-02-15T15:00:55", end_time=date(2024, 2, 16), instrument="010")
    assert accepts is not None and accepts("D20240215T150055_IFCB010") is True
    assert accepts("D20240216T000000_IFCB010") is False and accepts("not a bin id") is False
    assert make_fileset_filter() is None
    keep = FilesetFilter(start_time="2024-02-15T15:00:55", end_time=date(2024, 2, 16), instrument="010")
    assert keep(("data", "D2024"), "D20240215T150055_IFCB010") is True
    assert keep(("data", "D2024"), "D20240215T150054_IFCB010") is False  # before the start
    assert keep(("data", "D2024"), "D20240216T000000_IFCB010") is False  # end is exclusive
    assert keep(("data", "D2024"), "D20240215T150055_IFCB011") is False  # other instrument
    assert keep(("data", "notes"), "D20240215T150055_IFCB010") is False  # not included
    assert keep((), "not a bin id") is False
    assert keep.enter("data") and keep.enter("D2024") and keep.enter("D20240215")
    assert not keep.enter("D2023") and not keep.enter("D20240216") and not keep.enter("skip")
    assert not keep.enter("notes")  # can never be part of a bin id
    with pytest.raises(ValueError, match="overlap"):
        FilesetFilter(include=["data", "skip"])


# ----- listing the real tree ------------------------------------------------------------------


async def test_real_tree_lists_exactly_the_two_bins_under_data(real_data, face):
    listed = await call(directory(face, real_data), "list")
    assert listed == [  # in sample-time order: the 2012 I-style bin before the 2013 D-style one
        {
            "pid": "IFCB5_2012_028_081515",
            **{
                ext: str(real_data / "data/IFCB5_2012_028" / f"IFCB5_2012_028_081515.{ext}")
                for ext in ("hdr", "adc", "roi")
            },
        },
        {
            "pid": "D20130526T095207_IFCB013",
            **{
                ext: str(real_data / "data/D2013/D20130526" / f"D20130526T095207_IFCB013.{ext}")
                for ext in ("hdr", "adc", "roi")
            },
        },
    ]
    assert await call(directory(face, real_data), "list_data_dirs") == [
        str(real_data / "data/IFCB5_2012_028"),
        str(real_data / "data/D2013/D20130526"),
    ]


async def test_real_empty_bins_read_as_zero_images(real_data, face):
    d = directory(face, real_data / "empty")
    assert await pids(d) == ["D20150411T205456_IFCB012", "IFCB5_2017_001_033645"]
    for pid in await pids(d):
        assert await call(d, "list_roi_ids", pid) == []
        images = await call(d, "read_images", pid)
        assert isinstance(images, BinImages) and len(images) == 0 and dict(images) == {}
        assert await call(d, "read_images", pid, []) == {}
        assert await call(d, "iter_images", pid) == []
        assert await call(d, "images_exist", pid, [f"{pid}_00001"]) == {f"{pid}_00001": False}
        assert await call(d, "image_exists", f"{pid}_00001") is False
        with pytest.raises(NotFoundError, match="no target 1"):
            await call(d, "read_image", f"{pid}_00001")
    header = await call(d, "read_header", "D20150411T205456_IFCB012")
    assert header["runTime"] == pytest.approx(0.621083)


async def test_real_partial_bin_is_listed_only_without_require_roi(real_data, face):
    assert await call(directory(face, real_data / "partial"), "list") == []
    d = directory(face, real_data / "partial", require_roi=False)
    base = real_data / "partial" / "IFCB5_2012_028_081515"
    assert await call(d, "list") == [
        {"pid": "IFCB5_2012_028_081515", "hdr": f"{base}.hdr", "adc": f"{base}.adc", "roi": None}
    ]
    # the ADC is there: listing images works; reading pixels says which file is missing
    assert await call(d, "list_roi_ids", "IFCB5_2012_028_081515") == [
        f"IFCB5_2012_028_081515_{t:05d}" for t in (1, 2, 3, 5, 6)
    ]
    with pytest.raises(NotFoundError, match=r"no \.roi"):
        await call(d, "read_image", "IFCB5_2012_028_081515_00001")
    with pytest.raises(NotFoundError, match=r"no \.roi"):
        await call(d, "read_images", "IFCB5_2012_028_081515")
    assert await call(d, "exists", "IFCB5_2012_028_081515") is True
    assert await call(directory(face, real_data / "partial"), "exists", "IFCB5_2012_028_081515") is False


async def test_real_bins_read_like_the_core_layer(real_data, face):
    d = directory(face, real_data)
    for pid, rel in (
        ("D20130526T095207_IFCB013", "data/D2013/D20130526"),
        ("IFCB5_2012_028_081515", "data/IFCB5_2012_028"),
    ):
        base = real_data / rel / pid
        expected = bin_images(pid, base.with_suffix(".adc").read_bytes(), base.with_suffix(".roi").read_bytes())
        assert await call(d, "list_roi_ids", pid) == expected.roi_ids()
        images = await call(d, "read_images", pid)
        assert normalize(images) == normalize(expected)
        for target in list(expected)[:5]:
            assert pixels(await call(d, "read_image", f"{pid}_{target:05d}")) == pixels(expected[target])


# ----- order ----------------------------------------------------------------------------------


async def test_sample_tree_order_and_decoys(sample_root, face):
    d = directory(face, sample_root)
    assert await pids(d) == [  # in sample-time order across naming styles: the 2014 I-style bin first
        "IFCB5_2014_100_120000",
        "D20240215T150055_IFCB010",
        "D20240215T152410_IFCB010",
        "D20240216T010203_IFCB010",
        "D20240216T020000_IFCB010",
    ]
    # with other rules the decoys are found
    assert "D20240215T170000_IFCB010" in await pids(directory(face, sample_root, include=["data", "notes"]))
    with_skip = await pids(directory(face, sample_root, include=["data", "skip"], exclude=["beads"]))
    everything = [*await pids(d), "D20240215T160000_IFCB010"]
    assert with_skip == sorted(everything, key=time_key)  # data/skip's bin in its time among the others
    # the root itself is always walked, whatever its name
    assert await pids(directory(face, sample_root / "data" / "skip")) == ["D20240215T160000_IFCB010"]
    assert await pids(directory(face, sample_root / "notes")) == ["D20240215T170000_IFCB010"]
    assert await pids(directory(face, sample_root / "data" / "D2024" / "D20240216")) == [
        "D20240216T010203_IFCB010",
        "D20240216T020000_IFCB010",
    ]


def _chronological_tree(root: Path) -> list[str]:
    """Bins over three years: 2022 and 2024 in year/day directories, 2023 loose in ``data`` between them."""
    expected = []
    for year in (2022, 2023, 2024):
        for month, day in ((1, 1), (2, 28), (10, 5), (12, 31)):
            stamp = f"{year}{month:02d}{day:02d}"
            folder = root / "data" if year == 2023 else root / "data" / f"D{year}" / f"D{stamp}"
            folder.mkdir(parents=True, exist_ok=True)
            for hour in (0, 9, 23):
                pid = f"D{stamp}T{hour:02d}0000_IFCB3"
                for ext in ("hdr", "adc", "roi"):
                    (folder / f"{pid}.{ext}").write_bytes(b"")
                expected.append(pid)
    return expected


async def test_listing_is_chronological_and_interleaves_files_and_directories(tmp_path, face):
    expected = _chronological_tree(tmp_path)
    assert expected == sorted(expected, key=bin_timestamp)
    # 'D2022' < 'D20230101T...' < ... < 'D20231231T...' < 'D2024': files and directories in one name order
    assert await pids(directory(face, tmp_path)) == expected
    day_dirs = await call(directory(face, tmp_path), "list_data_dirs")
    data = tmp_path / "data"
    assert day_dirs == [
        *(str(data / "D2022" / f"D2022{md}") for md in ("0101", "0228", "1005", "1231")),
        str(data),
        *(str(data / "D2024" / f"D2024{md}") for md in ("0101", "0228", "1005", "1231")),
    ]


# ----- list filters ---------------------------------------------------------------------------

SAMPLE_D = [
    "D20240215T150055_IFCB010",
    "D20240215T152410_IFCB010",
    "D20240216T010203_IFCB010",
    "D20240216T020000_IFCB010",
]
SAMPLE_I = "IFCB5_2014_100_120000"  # 2014-04-10 12:00:00 UTC


async def test_time_range_is_half_open(sample_root, face):
    d = directory(face, sample_root)
    start = datetime(2024, 2, 15, 15, 24, 10, tzinfo=timezone.utc)
    end = datetime(2024, 2, 16, 2, 0, 0, tzinfo=timezone.utc)
    assert await pids(d, start_time=start, end_time=end) == SAMPLE_D[1:3]  # start kept, end excluded
    assert await pids(d, start_time=start) == SAMPLE_D[1:]
    assert await pids(d, end_time=start) == [SAMPLE_I, SAMPLE_D[0]]
    assert await pids(d, start_time=end, end_time=end) == []


async def test_naive_times_are_utc_and_strings_are_iso(sample_root, face):
    d = directory(face, sample_root)
    expected = SAMPLE_D[1:3]
    naive = (datetime(2024, 2, 15, 15, 24, 10), datetime(2024, 2, 16, 2))
    assert await pids(d, start_time=naive[0], end_time=naive[1]) == expected
    assert await pids(d, start_time="2024-02-15T15:24:10", end_time="2024-02-16T02:00:00") == expected
    assert await pids(d, start_time="2024-02-15T15:24:10Z", end_time="2024-02-16T02:00:00+00:00") == expected
    # the same instants in another zone
    plus2 = timezone(timedelta(hours=2))
    assert (
        await pids(d, start_time=datetime(2024, 2, 15, 17, 24, 10, tzinfo=plus2), end_time="2024-02-16T04:00:00+02:00")
        == expected
    )
    # a date is midnight UTC
    assert await pids(d, start_time=date(2024, 2, 16)) == SAMPLE_D[2:]
    assert await pids(d, start_time="2024-02-16") == SAMPLE_D[2:]
    assert await pids(d, start_time="2014-04-10T12:00:00", end_time="2014-04-10T12:00:01") == [SAMPLE_I]


async def test_instrument_filter(sample_root, face):
    d = directory(face, sample_root)
    assert await pids(d, instrument=5) == [SAMPLE_I]
    assert await pids(d, instrument="10") == SAMPLE_D
    assert await pids(d, instrument="010") == SAMPLE_D
    assert await pids(d, instrument=[5, "10"]) == [SAMPLE_I, *SAMPLE_D]
    assert await pids(d, instrument=(i for i in [5])) == [SAMPLE_I]
    assert await pids(d, instrument=[]) == []
    assert await pids(d, instrument=11) == []
    assert await pids(d, instrument=10, start_time="2024-02-16") == SAMPLE_D[2:]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"instrument": "ten"}, ValueError, "instrument"),
        ({"instrument": [5, 1.5]}, ValueError, "instrument"),
        ({"instrument": True}, ValueError, "instrument"),
        ({"start_time": "yesterday"}, ValueError, "start_time"),
        ({"end_time": "2024-13-01"}, ValueError, "end_time"),
        ({"start_time": 1700000000}, TypeError, "start_time"),
    ],
)
async def test_bad_filters_are_refused(sample_root, face, options, error, match):
    with pytest.raises(error, match=match):
        await call(directory(face, sample_root), "list", **options)


# ----- every method, on a generated tree --------------------------------------------------------


async def test_paths_exists_and_images(gen, face):
    d = directory(face, gen)
    assert await pids(d) == [D1, D2, D_EMPTY, I1]
    day = gen / "D2023" / "D20231231"
    assert await call(d, "paths", D1) == {e: str(day / f"{D1}.{e}") for e in ("hdr", "adc", "roi")}
    assert await call(d, "find", D1) == {"pid": D1, **{e: str(day / f"{D1}.{e}") for e in ("hdr", "adc", "roi")}}
    assert await call(d, "exists", D1) is True
    assert await call(d, "exists", D_PARTIAL) is False  # no .roi
    assert await call(d, "exists", "D20240101T010000_IFCB101") is False  # under notes/, not included
    assert await call(d, "exists", "D20240101T020000_IFCB101") is False  # under data/beads/, excluded
    assert await call(d, "list_roi_ids", D1) == [f"{D1}_00001", f"{D1}_00003", f"{D1}_00004"]
    image = await call(d, "read_image", f"{D1}_00001")
    assert pixels(image) == ("L", (3, 2), bytes(range(6)))
    assert await call(d, "image_exists", f"{D1}_00001") is True
    assert await call(d, "image_exists", f"{D1}_00002") is False  # a trigger without an image
    assert await call(d, "image_exists", f"{D1}_00009") is False  # past the last target
    assert await call(d, "images_exist", D1, [f"{D1}_00001", f"{D1}_00002", f"{D2}_00001"]) == {
        f"{D1}_00001": True,
        f"{D1}_00002": False,
        f"{D2}_00001": False,  # another bin's ROI is not in this one
    }
    header = await call(d, "read_header", D1)
    assert header["triggerCount"] == 4 and header["roiCount"] == 3


async def test_read_images_full_and_subsets(gen, face):
    d = directory(face, gen)
    base = gen / "D2023" / "D20231231" / D1
    expected = bin_images(D1, base.with_suffix(".adc").read_bytes(), base.with_suffix(".roi").read_bytes())
    full = await call(d, "read_images", D1)
    assert isinstance(full, BinImages) and list(full) == [1, 3, 4]
    assert normalize(full) == normalize(expected)
    by_target = await call(d, "read_images", D1, [4, 1])
    assert type(by_target) is dict and list(by_target) == [4, 1]  # in the order asked, as in 0.3.1
    assert {t: pixels(i) for t, i in by_target.items()} == {t: pixels(expected[t]) for t in (4, 1)}
    by_id = await call(d, "read_images", D1, [f"{D1}_00003"])
    assert {t: pixels(i) for t, i in by_id.items()} == {3: pixels(expected[3])}
    assert await call(d, "read_images", D1, []) == {}
    with pytest.warns(MissingTargetWarning, match="no image for target\\(s\\) 2; left out"):
        assert list(await call(d, "read_images", D1, [2, 3])) == [3]  # left out, as in 0.3.1
    with pytest.raises(NotFoundError, match="no image for target\\(s\\) 2"):
        await call(directory(face, gen, strict=True), "read_images", D1, [2])
    with pytest.raises(NotFoundError, match=f"not in bin {D1}"):
        await call(d, "read_images", D1, [f"{D2}_00001"])
    with pytest.raises(TypeError):
        await call(d, "read_images", D1, [1.0])


async def test_stitching(gen, face):
    d = directory(face, gen)
    base = gen / "IFCB7_2024_060" / I1
    adc, roi = base.with_suffix(".adc").read_bytes(), base.with_suffix(".roi").read_bytes()
    stitched, raw = bin_images(I1, adc, roi), bin_images(I1, adc, roi, stitch=False)
    assert stitched.pairs == [(2, 3)]
    assert await call(d, "list_roi_ids", I1) == [f"{I1}_00001", f"{I1}_00002", f"{I1}_00005"]
    assert await call(d, "list_roi_ids", I1, stitch=False) == [f"{I1}_0000{t}" for t in (1, 2, 3, 5)]
    # the first target of the pair is the stitched composite, the second does not exist...
    first = await call(d, "read_image", f"{I1}_00002")
    assert first.size == (40, 25) and pixels(first) == pixels(stitched[2])
    with pytest.raises(NotFoundError, match="second half"):
        await call(d, "read_image", f"{I1}_00003")
    assert await call(d, "image_exists", f"{I1}_00003") is False
    assert await call(d, "images_exist", I1, [f"{I1}_00002", f"{I1}_00003"]) == {
        f"{I1}_00002": True,
        f"{I1}_00003": False,
    }
    with pytest.warns(MissingTargetWarning, match="target\\(s\\) 3"):
        assert await call(d, "read_images", I1, [3]) == {}
    # ...unless stitching is off: then each target is its raw image
    assert await call(d, "image_exists", f"{I1}_00003", stitch=False) is True
    assert pixels(await call(d, "read_image", f"{I1}_00003", stitch=False)) == pixels(raw[3])
    assert pixels(await call(d, "read_image", f"{I1}_00002", stitch=False)) == pixels(raw[2]) != pixels(stitched[2])
    assert normalize(await call(d, "read_images", I1, [2, 3], stitch=False)) == {2: pixels(raw[2]), 3: pixels(raw[3])}
    assert normalize(await call(d, "read_images", I1)) == normalize(stitched)
    assert normalize(await call(d, "read_images", I1, stitch=False)) == normalize(raw)
    streamed = await call(d, "iter_images", I1)
    assert [(r, pixels(i)) for r, i in streamed] == [(f"{I1}_{t:05d}", pixels(stitched[t])) for t in (1, 2, 5)]
    streamed = await call(d, "iter_images", I1, stitch=False, chunk_size=1)
    assert [(r, pixels(i)) for r, i in streamed] == [(f"{I1}_{t:05d}", pixels(raw[t])) for t in (1, 2, 3, 5)]


async def test_empty_bin_with_stray_roi_bytes(gen, face):
    d = directory(face, gen)
    assert await call(d, "list_roi_ids", D_EMPTY) == []
    assert len(await call(d, "read_images", D_EMPTY)) == 0
    assert await call(d, "iter_images", D_EMPTY) == []


async def test_list_data_dirs(gen, face, sample_root):
    assert await call(directory(face, gen), "list_data_dirs") == [
        str(gen / "D2023" / "D20231231"),
        str(gen / "D2024" / "D20240101"),
        str(gen / "IFCB7_2024_060"),
    ]
    assert await call(directory(face, gen, require_roi=False), "list_data_dirs") == [
        str(gen / "D2023" / "D20231231"),
        str(gen / "D2024" / "D20240101"),
        str(gen / "D2024" / "D20240102"),
        str(gen / "IFCB7_2024_060"),
    ]
    data = sample_root / "data"
    assert await call(directory(face, sample_root), "list_data_dirs") == [  # in the order list() finds them
        str(data / "IFCB5_2014_100"),
        str(data / "D2024" / "D20240215"),
        str(data / "D2024" / "D20240216"),
    ]


async def test_require_flags(gen, face):
    loose = directory(face, gen, require_adc=False, require_roi=False)
    listed = {f["pid"]: f for f in await call(loose, "list")}
    assert list(listed) == [D1, D2, D_EMPTY, D_PARTIAL, I1]
    assert listed[D_PARTIAL]["roi"] is None and listed[D_PARTIAL]["adc"] == str(
        gen / "D2024" / "D20240102" / f"{D_PARTIAL}.adc"
    )


async def test_a_moved_bin_is_found_again(tmp_path, face):
    write_bin(tmp_path / "data" / "D2024" / "D20240301", "D20240301T000000_IFCB1", [Roi(2, 3, pixels=b"abcdef")])
    d = directory(face, tmp_path)
    assert await call(d, "list_roi_ids", "D20240301T000000_IFCB1") == ["D20240301T000000_IFCB1_00001"]
    (tmp_path / "data" / "D2024" / "D20240301").rename(tmp_path / "data" / "D20240301")
    image = await call(d, "read_image", "D20240301T000000_IFCB1_00001")
    assert image.tobytes() == b"abcdef"
    assert (await call(d, "paths", "D20240301T000000_IFCB1"))["roi"] == str(
        tmp_path / "data" / "D20240301" / "D20240301T000000_IFCB1.roi"
    )


async def test_existence_follows_the_disk_after_a_bin_was_located(tmp_path, face):
    from ifcbkit import AsyncFilesystemBinStore, SyncFilesystemBinStore

    pid = "D20240301T000000_IFCB1"
    paths = write_bin(tmp_path / "data" / "D2024" / "D20240301", pid, [Roi(2, 2)])
    d = directory(face, tmp_path)
    store = {"sync": SyncFilesystemBinStore, "async": AsyncFilesystemBinStore}[face](tmp_path)
    assert await call(d, "exists", pid) is True
    assert await call(store, "exists", f"{pid}.roi") is True
    assert (await call(d, "paths", pid))["roi"] == str(paths.roi)
    # moved: found at its new place
    moved = tmp_path / "data" / "D20240301"
    (tmp_path / "data" / "D2024" / "D20240301").rename(moved)
    assert await call(d, "exists", pid) is True
    assert await call(store, "get_path", f"{pid}.roi") == str(moved / f"{pid}.roi")
    assert (await call(d, "paths", pid))["hdr"] == str(moved / f"{pid}.hdr")
    # deleted: gone, although it was located before
    (moved / f"{pid}.roi").unlink()
    assert await call(d, "exists", pid) is False  # this directory requires the .roi
    assert await call(store, "exists", f"{pid}.roi") is False
    with pytest.raises(NotFoundError):
        await call(d, "paths", pid)
    loose = directory(face, tmp_path, require_roi=False)
    assert (await call(loose, "paths", pid))["roi"] is None
    (moved / f"{pid}.hdr").unlink()
    assert await call(loose, "exists", pid) is False


# ----- adcmod ---------------------------------------------------------------------------------


async def test_adcmod_replaces_only_the_adc(gen, face, tmp_path):
    d = directory(face, gen)
    raw_dir, mod = gen / "D2024" / "D20240101", gen.parent / "adcmod" / "D20240101" / f"{D2}.adc.mod"
    assert await call(d, "paths", D2) == {
        "hdr": str(raw_dir / f"{D2}.hdr"), "adc": str(mod), "roi": str(raw_dir / f"{D2}.roi"),
    }  # fmt: skip
    listed = {f["pid"]: f for f in await call(d, "list")}
    assert listed[D2]["adc"] == str(mod)
    assert listed[D1]["adc"] == str(gen / "D2023" / "D20231231" / f"{D1}.adc")  # no adcmod for this bin
    # the geometry comes from the .adc.mod (20x5 instead of 10x10), the pixels from the raw .roi
    roi = (raw_dir / f"{D2}.roi").read_bytes()
    image = await call(d, "read_image", f"{D2}_00001")
    assert image.size == (20, 5) and image.tobytes() == roi[:100]
    assert (await call(d, "read_images", D2))[2].tobytes() == roi[100:125]
    # the header is the raw one
    assert await call(d, "read_header", D2) == (await call(d, "read_header", D1)) | {
        "sampleTime": "2024-01-01T00:00:00Z", "triggerCount": 2, "roiCount": 2,
    }  # fmt: skip
    # without the adcmod directory, the raw ADC is used
    bare = tmp_path / "site"
    shutil.copytree(gen, bare / "data")
    plain = directory(face, bare / "data")
    assert (await call(plain, "paths", D2))["adc"] == str(bare / "data" / "D2024" / "D20240101" / f"{D2}.adc")
    assert (await call(plain, "read_image", f"{D2}_00001")).size == (10, 10)


# ----- pruning --------------------------------------------------------------------------------


def _touch_bin(folder: Path, pid: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for ext in ("hdr", "adc", "roi"):
        (folder / f"{pid}.{ext}").write_bytes(b"")


@pytest.fixture(scope="module")
def years(tmp_path_factory) -> Path:
    """A multi-year tree of (empty) bins: listing reads names only.

    data/D2021/D202106/D20210615 (a month level), data/D2022 and data/D2023 with two days a
    month and two instruments, I-style day directories of IFCB5 and IFCB9, and decoys that
    must never be listed: data/notes, data/D2022/thumbnails, data/skip, a directory with a
    nonsense date.
    """
    root = tmp_path_factory.mktemp("years") / "root"
    data = root / "data"
    for hour in (3, 15):
        _touch_bin(data / "D2021" / "D202106" / "D20210615", f"D20210615T{hour:02d}0000_IFCB1")
    for year in (2022, 2023):
        for month in range(1, 13):
            for day in (1, 15, 28):
                stamp = f"{year}{month:02d}{day:02d}"
                _touch_bin(data / f"D{year}" / f"D{stamp}", f"D{stamp}T000000_IFCB1")
                _touch_bin(data / f"D{year}" / f"D{stamp}", f"D{stamp}T123000_IFCB27")
    for instrument, year, yday in ((5, 2022, 1), (5, 2022, 365), (9, 2023, 100), (9, 2023, 340), (5, 2024, 60)):
        _touch_bin(data / f"IFCB{instrument}_{year}_{yday:03d}", f"IFCB{instrument}_{year}_{yday:03d}_081500")
    _touch_bin(data / "notes", "D20230602T000000_IFCB1")
    _touch_bin(data / "D2022" / "thumbnails", "D20220602T000000_IFCB1")
    _touch_bin(data / "skip", "D20230603T000000_IFCB1")
    _touch_bin(data / "D2023" / "D20231301", "D20231230T000000_IFCB1")  # not a date: skipped with a warning
    return root


def _in_range(pid: str, start: datetime | None, end: datetime | None, instruments) -> bool:
    ts = bin_timestamp(pid)
    utc = [None if t is None else (t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t) for t in (start, end)]
    if utc[0] is not None and ts < utc[0]:
        return False
    if utc[1] is not None and ts >= utc[1]:
        return False
    return instruments is None or int(pid.split("IFCB")[1].split("_")[0]) in set(instruments)


def test_years_tree_full_listing(years):
    expected = ["D20210615T030000_IFCB1", "D20210615T150000_IFCB1"]
    for year in (2022, 2023):
        expected += [
            f"D{year}{m:02d}{d:02d}T{t}"
            for m in range(1, 13)
            for d in (1, 15, 28)
            for t in ("000000_IFCB1", "123000_IFCB27")
        ]
    expected += [
        "IFCB5_2022_001_081500",
        "IFCB5_2022_365_081500",
        "IFCB5_2024_060_081500",
        "IFCB9_2023_100_081500",
        "IFCB9_2023_340_081500",
    ]
    # no decoy: not notes/, thumbnails/, skip/, nor the bin under the nonsense date D20231301 (said)
    with pytest.warns(SkippedPathWarning, match=r"D2023.D20231301: D20231301 names no calendar date"):
        assert [f["pid"] for f in SyncIfcbDataDirectory(years).list()] == sorted(expected, key=time_key)


async def test_a_time_filter_prunes_directories_instead_of_walking_them(years, face, monkeypatch):
    d = directory(face, years)
    adcmod = str(years.parent / "adcmod")
    seen = scans(monkeypatch)
    december = await pids(d, start_time="2023-12-01", end_time="2024-01-01")
    assert december == [
        "D20231201T000000_IFCB1", "D20231201T123000_IFCB27", "IFCB9_2023_340_081500", "D20231215T000000_IFCB1",
        "D20231215T123000_IFCB27", "D20231228T000000_IFCB1", "D20231228T123000_IFCB27",
    ]  # fmt: skip
    data = years / "data"
    assert sorted(p for p in seen if not p.startswith(adcmod)) == sorted(
        [str(years), str(data), str(data / "D2023"), str(data / "IFCB9_2023_340")]
        + [str(data / "D2023" / f"D202312{day:02d}") for day in (1, 15, 28)]
    )  # not the nonsense date D20231301: no bin can be under it
    seen.clear()
    assert await pids(d, instrument=9) == ["IFCB9_2023_100_081500", "IFCB9_2023_340_081500"]
    scanned = {os.path.basename(p) for p in seen}
    assert "IFCB5_2022_001" not in scanned and "IFCB9_2023_100" in scanned  # I-style names carry the instrument
    seen.clear()
    assert await pids(d, start_time="2021-06-15T12:00", end_time="2021-06-16") == ["D20210615T150000_IFCB1"]
    assert sorted(p for p in seen if not p.startswith(adcmod)) == sorted(
        str(p)
        for p in (years, data, data / "D2021", data / "D2021" / "D202106", data / "D2021" / "D202106" / "D20210615")
    )


async def test_names_that_cannot_be_in_a_bin_id_are_never_scanned(years, face, monkeypatch):
    seen = scans(monkeypatch)
    await pids(directory(face, years))
    scanned = {os.path.relpath(p, years) for p in seen}
    assert os.path.join("data", "D2022", "D20220101") in scanned
    for never in ("notes", os.path.join("D2022", "thumbnails"), "skip"):
        assert os.path.join("data", never) not in scanned


async def test_finding_one_bin_stats_the_directories_its_id_implies(years, face, monkeypatch):
    d = directory(face, years)
    seen = scans(monkeypatch)
    assert await call(d, "exists", "D20230615T123000_IFCB27") is True
    assert seen == []  # data/D2023/D20230615 is where the id puts it: nothing is listed
    assert (await call(d, "paths", "IFCB9_2023_100_081500"))["hdr"].endswith("IFCB9_2023_100_081500.hdr")
    assert seen == []
    # a layout the id does not imply (a month directory) is found by looking only on its path, in
    # name order, up to the directory that holds it
    odd = "D20230615T180000_IFCB27"
    write_bin(years / "data" / "D2023" / "0615", odd, [Roi(2, 2)])
    assert await call(d, "exists", odd) is True
    data = years / "data"
    assert [p for p in seen if not p.startswith(str(years.parent / "adcmod"))] == [
        str(years), str(data), str(data / "D2023"), str(data / "D2023" / "0615"),
    ]  # fmt: skip
    shutil.rmtree(years / "data" / "D2023" / "0615")
    seen.clear()
    assert await call(d, "exists", "D20230615T123000_IFCB27") is True  # located once, remembered
    assert seen == []
    assert await call(d, "exists", "IFCB9_2023_100_081500") is True
    assert await call(d, "exists", "D20230616T000000_IFCB1") is False


@pytest.mark.parametrize("tz", [None, timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(hours=13))])
async def test_time_range_edges_are_exact(years, face, tz):
    d = directory(face, years)
    full = await pids(d)
    one_second, one_microsecond = timedelta(seconds=1), timedelta(microseconds=1)
    for pid in [*full[:: len(full) // 12], "IFCB9_2023_340_081500", "D20231228T123000_IFCB27"]:
        at = bin_timestamp(pid).astimezone(tz) if tz is not None else bin_timestamp(pid).replace(tzinfo=None)
        assert await pids(d, start_time=at, end_time=at + one_second) == [pid]
        assert await pids(d, start_time=at + one_microsecond, end_time=at + one_second) == []
        assert await pids(d, start_time=at - one_second, end_time=at) == []
        assert await pids(d, start_time=at.isoformat(), end_time=(at + one_microsecond).isoformat()) == [pid]
        assert await pids(d, end_time=at) == [p for p in full if bin_timestamp(p) < bin_timestamp(pid)]
        assert await pids(d, start_time=at) == [p for p in full if bin_timestamp(p) >= bin_timestamp(pid)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.none()
    | st.datetimes(
        datetime(2021, 1, 1),
        datetime(2024, 12, 31),
        timezones=st.sampled_from([None, timezone.utc, timezone(timedelta(hours=-7))]),
    ),
    end=st.none()
    | st.datetimes(
        datetime(2021, 1, 1),
        datetime(2024, 12, 31),
        timezones=st.sampled_from([None, timezone.utc, timezone(timedelta(hours=9))]),
    ),
    instruments=st.none() | st.lists(st.sampled_from([1, 5, 9, 27]), max_size=3),
)
def test_pruned_listing_equals_the_full_listing_filtered(years, start, end, instruments):
    full = [f["pid"] for f in SyncIfcbDataDirectory(years).list()]
    expected = [p for p in full if _in_range(p, start, end, instruments)]
    assert [f["pid"] for f in SyncIfcbDataDirectory(years).list(start, end, instruments)] == expected

    async def listed():
        return [f["pid"] async for f in AsyncIfcbDataDirectory(years).list(start, end, instruments)]

    assert asyncio.run(listed()) == expected


# ----- sync and async agree -------------------------------------------------------------------


async def _every_call(d) -> list:
    """Run every method of a directory over everything it holds; record results and errors."""
    out: list = []

    async def record(method, *args, **kwargs):
        try:
            result = normalize(await call(d, method, *args, **kwargs))
        except Exception as e:  # errors must agree too
            result = ("error", type(e).__name__, str(e))
        out.append((method, args, kwargs, result))
        return result

    listed = await record("list")
    await record("list", start_time="2014-01-01", end_time=datetime(2024, 1, 1, 3))
    await record("list", instrument=[5, "101"])
    await record("list_data_dirs")
    filesets = listed if isinstance(listed, list) else []
    for fileset in filesets[:: max(1, len(filesets) // 8)]:  # every bin of small trees, a spread of big ones
        pid = fileset["pid"]
        for method in ("exists", "paths", "read_header"):
            await record(method, pid)
        for stitch in (True, False):
            roi_ids = await record("list_roi_ids", pid, stitch=stitch)
            await record("read_images", pid, stitch=stitch)
            await record("iter_images", pid, stitch=stitch)
            await record("iter_images", pid, stitch=stitch, chunk_size=1000)
            all_targets = [f"{pid}_{t:05d}" for t in range(1, 12)]
            await record("images_exist", pid, all_targets, stitch=stitch)
            for roi_id in all_targets:
                await record("image_exists", roi_id, stitch=stitch)
                await record("read_image", roi_id, stitch=stitch)
            if isinstance(roi_ids, list):
                await record("read_images", pid, roi_ids[::2], stitch=stitch)
                await record("read_images", pid, [int(r[-5:]) for r in roi_ids[1::2]], stitch=stitch)
    for unknown in ("D20000101T000000_IFCB1", "IFCB1_2000_001_000000"):
        for method in ("exists", "paths", "list_roi_ids", "read_images", "read_header", "iter_images"):
            await record(method, unknown)
        await record("read_image", unknown + "_00001")
        await record("image_exists", unknown + "_00001")
    return out


@pytest.mark.parametrize("tree", ["real", "real-empty", "real-partial", "sample", "generated", "years"])
@pytest.mark.parametrize("require_roi", [True, False])
async def test_sync_and_async_agree(request, tree, require_roi, sample_root, gen):
    roots = {
        "sample": lambda: sample_root,
        "generated": lambda: gen,
        "years": lambda: request.getfixturevalue("years"),
        "real": lambda: request.getfixturevalue("real_data"),
        "real-empty": lambda: request.getfixturevalue("real_data") / "empty",
        "real-partial": lambda: request.getfixturevalue("real_data") / "partial",
    }
    root = roots[tree]()
    options = {"require_roi": require_roi}
    sync = await _every_call(SyncIfcbDataDirectory(root, **options))
    asynchronous = await _every_call(AsyncIfcbDataDirectory(root, **options))
    assert len(sync) == len(asynchronous) >= 20
    for s, a in zip(sync, asynchronous):
        assert s == a, s[:3]
    # the comparison is not vacuous: unknown bins failed, and images were read where there are some
    results = [r for *_, r in sync]
    assert sum(isinstance(r, tuple) and r[:2] == ("error", "NotFoundError") for r in results) >= 10
    if tree in ("real", "sample", "generated"):
        assert sum(isinstance(r, tuple) and r[:1] == ("L",) for r in results) >= 5


async def test_module_functions_agree(sample_root, gen):
    listed = list(sync_list_filesets(sample_root))
    assert [pid for _, pid in listed] == [SAMPLE_I, *SAMPLE_D]
    assert listed[0] == (str(sample_root / "data" / "IFCB5_2014_100"), SAMPLE_I)
    assert [f async for f in async_list_filesets(sample_root)] == listed
    # directory options and list filters in one call
    options = {"include": ["data", "notes"], "start_time": "2024-02-15T16:00", "instrument": 10}
    expected = ["D20240215T170000_IFCB010", "D20240216T010203_IFCB010", "D20240216T020000_IFCB010"]
    assert [pid for _, pid in sync_list_filesets(sample_root, **options)] == expected
    assert [pid async for _, pid in async_list_filesets(sample_root, **options)] == expected
    assert [pid for _, pid in sync_list_filesets(gen, require_roi=False)] == [D1, D2, D_EMPTY, D_PARTIAL, I1]
    assert [pid async for _, pid in async_list_filesets(gen, require_roi=False)] == [D1, D2, D_EMPTY, D_PARTIAL, I1]
    # validate=False drops the include rule (notes/ is walked), exclude still holds (skip/ is not)
    unvalidated = [pid for _, pid in sync_list_filesets(sample_root, validate=False)]
    assert "D20240215T170000_IFCB010" in unvalidated and "D20240215T160000_IFCB010" not in unvalidated

    found = sync_find_fileset(sample_root, SAMPLE_I)
    assert found == str(sample_root / "data" / "IFCB5_2014_100" / SAMPLE_I)  # the base path, no extension
    assert await async_find_fileset(sample_root, SAMPLE_I) == found
    assert sync_find_fileset(sample_root, "D20240215T170000_IFCB010") is None  # under notes/
    assert await async_find_fileset(sample_root, "D20240215T170000_IFCB010") is None
    assert sync_find_fileset(sample_root, "D20240215T170000_IFCB010", include=["data", "notes"]) == str(
        sample_root / "notes" / "D20240215T170000_IFCB010"
    )
    assert await async_find_fileset(gen, D_PARTIAL, require_roi=False) is not None
    assert await async_find_fileset(gen, D_PARTIAL) is None
    # an invalid id is not found, and never touches a path
    assert sync_find_fileset(sample_root, "../etc/passwd") is None
    assert await async_find_fileset(sample_root, "../etc/passwd") is None

    # every directory with a .hdr file, as in 0.3.1 (the include rule is not applied; skip/ is excluded)
    dirs = list(sync_list_data_dirs(sample_root))
    assert dirs == [
        str(sample_root / "data" / "D2024" / "D20240215"),
        str(sample_root / "data" / "D2024" / "D20240216"),
        str(sample_root / "data" / "IFCB5_2014_100"),
        str(sample_root / "notes"),
    ]
    assert [x async for x in async_list_data_dirs(sample_root)] == dirs
    assert str(sample_root / "data" / "skip") in list(sync_list_data_dirs(sample_root, exclude=[]))


# ----- bad input ------------------------------------------------------------------------------


async def test_an_unknown_bin_is_a_key_error_from_every_method(sample_root, face):
    d = directory(face, sample_root)
    unknown = "D20240215T150056_IFCB010"  # one second off a real bin
    for method, args in [
        ("paths", (unknown,)),
        ("list_roi_ids", (unknown,)),
        ("read_images", (unknown,)),
        ("read_images", (unknown, [1])),
        ("read_image", (f"{unknown}_00001",)),
        ("iter_images", (unknown,)),
        ("read_header", (unknown,)),
    ]:
        with pytest.raises(KeyError) as info:
            await call(d, method, *args)
        assert isinstance(info.value, NotFoundError)
        assert unknown in str(info.value) and str(sample_root) in str(info.value), method
    assert await call(d, "exists", unknown) is False
    assert await call(d, "image_exists", f"{unknown}_00001") is False
    assert await call(d, "images_exist", unknown, [f"{unknown}_00001"]) == {f"{unknown}_00001": False}


BAD_IDS = [
    "../../etc/passwd",
    "D20240215T150055_IFCB010/../x",
    "D20240215T150055_IFCB010\x00",
    "D20240215T150055_IFCB010" + "0" * 100,
    "D20241315T150055_IFCB010",  # month 13
    "d20240215t150055_ifcb010",
    "",
    "data",
]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_an_invalid_id_never_reaches_the_filesystem(sample_root, face, monkeypatch, bad):
    d = directory(face, sample_root)
    touched: list = []
    for name in ("scandir", "stat", "lstat", "open", "listdir"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda *a, _real=real, _name=name, **k: touched.append((_name, a)) or _real(*a, **k)
        )
    import builtins

    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: touched.append(("open", a)) or real_open(*a, **k))
    good = "D20240215T150055_IFCB010"
    assert await call(d, "exists", bad) is False  # not found, as in 0.3.1
    for method, args in [
        ("paths", (bad,)),
        ("list_roi_ids", (bad,)),
        ("read_images", (bad,)),
        ("read_header", (bad,)),
        ("iter_images", (bad,)),
        ("read_image", (bad,)),
        ("read_image", (f"{bad}_00001",)),
        ("image_exists", (f"{bad}_00001",)),
        ("images_exist", (bad, [f"{good}_00001"])),
        ("images_exist", (good, [bad])),
    ]:
        with pytest.raises(InvalidIdentifierError) as info:
            await call(d, method, *args)
        assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    assert touched == []


async def test_unreadable_directories_are_skipped_with_a_warning(tmp_path, face, monkeypatch):
    write_bin(tmp_path / "data" / "D2024" / "D20240215", "D20240215T000000_IFCB1", [Roi(2, 2)])
    locked = tmp_path / "data" / "D2024" / "D20240216"
    write_bin(locked, "D20240216T000000_IFCB1", [Roi(2, 2)])
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: refuse the listing another way
            real = os.scandir

            def scandir(path="."):
                if os.fspath(path) == str(locked):
                    raise PermissionError(13, "Permission denied", os.fspath(path))
                return real(path)

            monkeypatch.setattr(os, "scandir", scandir)
        with pytest.warns(SkippedPathWarning, match="D20240216") as caught:
            listed = await pids(directory(face, tmp_path))
        assert listed == ["D20240215T000000_IFCB1"]
        assert all(issubclass(w.category, IfcbWarning) for w in caught)
        if os.access(locked, os.R_OK):  # only the listing is refused: the files are found where the id puts them
            assert await call(directory(face, tmp_path), "exists", "D20240216T000000_IFCB1") is True
        else:
            with pytest.warns(SkippedPathWarning):
                assert await call(directory(face, tmp_path), "exists", "D20240216T000000_IFCB1") is False
    finally:
        locked.chmod(0o755)


async def test_an_unreadable_root_is_an_error(tmp_path, face, monkeypatch):
    real = os.scandir
    monkeypatch.setattr(
        os,
        "scandir",
        lambda p=".": (
            (_ for _ in ()).throw(PermissionError(13, "Permission denied", p))
            if os.fspath(p) == str(tmp_path)
            else real(p)
        ),
    )
    with pytest.raises(IfcbError, match="cannot list data directory"):
        await call(directory(face, tmp_path), "list")


async def test_broken_symlinks_are_skipped_with_a_warning(tmp_path, face):
    day = tmp_path / "data" / "D2024" / "D20240215"
    write_bin(day, "D20240215T000000_IFCB1", [Roi(2, 2)])
    broken_roi = write_bin(day, "D20240215T010000_IFCB1", [Roi(2, 2)]).roi
    broken_roi.unlink()
    broken_roi.symlink_to(tmp_path / "nowhere.roi")
    hdr = write_bin(day, "D20240215T020000_IFCB1", [Roi(2, 2)]).hdr
    hdr.unlink()
    hdr.symlink_to("missing.hdr")
    (tmp_path / "data" / "D2024" / "D20240216").symlink_to(tmp_path / "gone")  # a dangling directory link
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert await pids(directory(face, tmp_path)) == ["D20240215T000000_IFCB1"]
    messages = sorted(str(w.message) for w in caught if w.category is SkippedPathWarning)
    assert len(messages) == 2
    assert str(hdr) in messages[0] + messages[1] and str(broken_roi) in messages[0] + messages[1]
    with pytest.warns(SkippedPathWarning, match="broken symlink"):
        loose = await call(directory(face, tmp_path, require_roi=False), "list")
    assert [(f["pid"], f["roi"]) for f in loose] == [
        ("D20240215T000000_IFCB1", str(day / "D20240215T000000_IFCB1.roi")),
        ("D20240215T010000_IFCB1", None),
    ]


async def test_symlinks_are_followed_and_loops_do_not_hang(tmp_path, face):
    elsewhere = tmp_path / "disk2" / "D20240301"
    write_bin(elsewhere, "D20240301T000000_IFCB1", [Roi(2, 2)])
    data = tmp_path / "site" / "data"
    write_bin(data / "D2024" / "D20240215", "D20240215T000000_IFCB1", [Roi(2, 2)])
    (data / "D2024" / "D20240301").symlink_to(elsewhere)  # data on another disk: followed
    (data / "D2024" / "D20240215" / "D2024").symlink_to(data / "D2024")  # a loop
    (data / "D2024" / "D2024").symlink_to("..")  # another loop, relative
    with pytest.warns(SkippedPathWarning, match="symlink loop"):
        listed = await call(directory(face, tmp_path / "site"), "list")
    assert [(f["pid"], f["roi"]) for f in listed] == [
        ("D20240215T000000_IFCB1", str(data / "D2024" / "D20240215" / "D20240215T000000_IFCB1.roi")),
        ("D20240301T000000_IFCB1", str(data / "D2024" / "D20240301" / "D20240301T000000_IFCB1.roi")),
    ]


def test_construction_refusals(sample_root):
    for cls in DIRECTORIES.values():
        with pytest.raises(ValueError, match="overlap"):
            cls(sample_root, include=["data", "beads"])
        with pytest.raises(ValueError, match="overlap"):
            cls(sample_root, include=["x"], exclude=["x"])
        with pytest.raises(ValueError, match="require_adc"):
            cls(sample_root, require_adc=False, require_roi=True)
        assert cls(sample_root, require_adc=False, require_roi=False).require_adc is False


async def test_a_missing_root_is_not_found(tmp_path, face):
    d = directory(face, tmp_path / "nowhere")
    for method, args in [("list", ()), ("list_data_dirs", ()), ("paths", ("D20240215T150055_IFCB010",))]:
        with pytest.raises(NotFoundError, match="nowhere"):
            await call(d, method, *args)


# ----- the async face never does file I/O on the event loop -----------------------------------


async def test_the_async_face_does_no_file_io_in_the_event_loop_thread(gen, monkeypatch):
    import builtins
    import threading

    from ifcbkit import AsyncFilesystemBinStore, AsyncFilesystemRoiStore

    loop_thread = threading.get_ident()
    site = str(gen.parent)
    in_loop: list = []
    elsewhere: list = []

    def watch(module, name, *, by_path: bool = True):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            path = args[0] if args and isinstance(args[0], (str, os.PathLike)) else None
            if not by_path or (path is not None and os.fspath(path).startswith(site)):
                (in_loop if threading.get_ident() == loop_thread else elsewhere).append((name, args[:1]))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    for name in ("scandir", "stat", "lstat", "open"):
        watch(os, name)
    watch(os, "pread", by_path=False)
    watch(builtins, "open")

    d = AsyncIfcbDataDirectory(gen)
    await call(d, "list")
    await call(d, "list_data_dirs")
    await call(d, "exists", I1)
    await call(d, "paths", D2)
    await call(d, "read_images", I1)
    await call(d, "read_images", D1, [1, 3])
    await call(d, "read_image", f"{I1}_00002")
    await call(d, "iter_images", D1, chunk_size=10)
    await call(d, "list_roi_ids", D2)
    await call(d, "images_exist", D1, [f"{D1}_00001"])
    await call(d, "image_exists", f"{D1}_00004")
    await call(d, "read_header", D_EMPTY)
    store = AsyncFilesystemBinStore(gen)
    await store.get(f"{D1}.roi")
    await store.get_range(f"{D1}.roi", 2, 5)
    await store.exists(f"{D1}.hdr")
    await store.get_path(f"{D1}.adc")
    await AsyncFilesystemRoiStore(gen).get(f"{I1}_00002")
    assert in_loop == []
    assert len(elsewhere) > 20 and {name for name, _ in elsewhere} >= {"scandir", "stat", "pread"}


async def test_breaking_out_of_a_listing_stops_the_walk(years, face, monkeypatch):
    import contextlib

    seen = scans(monkeypatch)
    listing = directory(face, years).list()
    if face == "sync":
        first = next(listing)
        listing.close()
        with pytest.raises(StopIteration):
            next(listing)
    else:
        async with contextlib.aclosing(listing) as values:
            first = await values.__anext__()
        with pytest.raises(StopAsyncIteration):
            await listing.__anext__()
    assert first["pid"] == "D20210615T030000_IFCB1"
    walked = [p for p in seen if not p.startswith(str(years.parent / "adcmod"))]
    data = years / "data"
    assert walked[:3] == [str(years), str(data), str(data / "D2021")]
    # one level is listed in one batch, but none of the 72 day directories of D2022 and D2023
    assert not [p for p in walked if p.startswith((str(data / "D2022") + os.sep, str(data / "D2023") + os.sep))]
    assert len(walked) <= 12


async def test_images_of_a_bin_without_roi_do_not_exist(face, real_data):
    """With require_roi=False a bin without .roi is listed, but none of its images exists."""
    partial = directory(face, real_data / "partial", require_roi=False)
    roi_ids = ["IFCB5_2012_028_081515_00001", "IFCB5_2012_028_081515_00003"]
    assert await call(partial, "image_exists", roi_ids[0]) is False
    assert await call(partial, "images_exist", "IFCB5_2012_028_081515", roi_ids) == dict.fromkeys(roi_ids, False)
    assert await call(partial, "list_roi_ids", "IFCB5_2012_028_081515")  # the ADC still lists them
    complete = directory(face, real_data)
    assert await call(complete, "images_exist", "IFCB5_2012_028_081515", roi_ids) == dict.fromkeys(roi_ids, True)


async def test_direct_lookup_keeps_the_include_and_exclude_rule(tmp_path, face, monkeypatch):
    pid = "D20230615T123000_IFCB27"
    write_bin(tmp_path / "skip" / "D2023" / "D20230615", pid, [Roi(2, 2)])  # excluded, though the id implies it
    write_bin(tmp_path / "archive" / "D2023" / "D20230615", "D20230615T130000_IFCB27", [Roi(2, 2)])
    d = directory(face, tmp_path)
    assert await call(d, "exists", pid) is False
    assert await call(d, "exists", "D20230615T130000_IFCB27") is False  # archive/ is not included
    assert await call(directory(face, tmp_path, include=["archive"]), "exists", "D20230615T130000_IFCB27") is True
    write_bin(tmp_path / "2023" / "D20230615", pid, [Roi(2, 2)])  # a year directory without the D
    seen = scans(monkeypatch)
    assert (await call(directory(face, tmp_path), "paths", pid))["hdr"] == str(
        tmp_path / "2023" / "D20230615" / f"{pid}.hdr"
    )
    assert seen == []


async def test_a_symlinked_year_directory_never_lists_a_bin_twice(tmp_path, face):
    """Regression (hostile input 1): ``ln -s data/D2024 D2024`` listed every bin twice, and daily
    abundance doubled."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, symlinks=True)
    os.symlink(root / "data" / "D2024", root / "D2024")
    with pytest.warns(DuplicateBinWarning) as caught:
        listed = await pids(directory(face, root))
    assert listed == [SAMPLE_I, *SAMPLE_D]  # each once, from the first place the walk finds it
    duplicate = str(root / "D2024" / "D20240215" / "D20240215T150055_IFCB010.hdr")
    first = str(root / "data" / "D2024" / "D20240215" / "D20240215T150055_IFCB010.hdr")  # data: no date, opened first
    assert f"skipped {duplicate}: bin D20240215T150055_IFCB010 was already listed from {first}" in [
        str(w.message) for w in caught
    ]
    assert len(caught) == len(SAMPLE_D)
    with pytest.warns(DuplicateBinWarning):
        result = daily_abundance(root, SAMPLE.parent / "products", threshold=0.7, workers=1)
    row = next(r for r in result.rows if r["date"] == "2024-02-15" and r["class"] == "Guinardia")
    assert row["count"] == 14 and round(row["ml_analyzed_total"], 4) == 0.1433


async def test_a_roi_that_is_a_directory_is_reported_not_silently_dropped(tmp_path, face):
    """Regression (hostile input 22): a ``.roi`` that is a directory made its bin vanish silently."""
    day = tmp_path / "data" / "D2024" / "D20240215"
    write_bin(day, "D20240215T000000_IFCB1", [Roi(2, 2)])
    write_bin(day, "D20240215T010000_IFCB1", [Roi(2, 2)])
    (day / "D20240215T010000_IFCB1.roi").unlink()
    (day / "D20240215T010000_IFCB1.roi").mkdir()
    with pytest.warns(SkippedPathWarning, match=r"D20240215T010000_IFCB1\.roi: a directory, not a file"):
        assert await pids(directory(face, tmp_path)) == ["D20240215T000000_IFCB1"]


async def test_an_unreadable_file_is_a_named_store_error(tmp_path, face, monkeypatch):
    """Regression (hostile input 16): an unreadable ``.roi`` or ``.adc`` raised a bare PermissionError."""
    from ifcbkit import StoreError
    from ifcbkit.engine.fileio import ReadFile

    day = tmp_path / "data" / "D2024" / "D20240215"
    write_bin(day, "D20240215T000000_IFCB1", [Roi(2, 2)])

    def refuse(self):
        raise PermissionError(13, "Permission denied", self.path)

    monkeypatch.setattr(ReadFile, "run_sync", refuse)
    with pytest.raises(StoreError, match=r"cannot read .*D20240215T000000_IFCB1\.hdr: Permission denied"):
        await call(directory(face, tmp_path), "read_images", "D20240215T000000_IFCB1")


def test_an_empty_listing_of_a_tree_that_holds_bins_warns_once(tmp_path):
    from ifcbkit.testing import Roi, write_bin

    write_bin(tmp_path / "station7", "D20240215T150055_IFCB010", [Roi(width=2, height=2)])
    with pytest.warns(SkippedPathWarning, match=r"include=\['station7'\]") as caught:
        assert list(SyncIfcbDataDirectory(tmp_path).list()) == []
    assert len(caught) == 1
    assert [f["pid"] for f in SyncIfcbDataDirectory(tmp_path, include=["station7"]).list()] == [
        "D20240215T150055_IFCB010"]  # fmt: skip
    with warnings.catch_warnings():  # a filtered listing may be empty: no warning then
        warnings.simplefilter("error")
        assert list(SyncIfcbDataDirectory(tmp_path).list(start_time="2024-03-01")) == []
