"""What a new user meets in the first hour: listings in sample-time order across naming styles,
glob patterns in include/exclude, ROI ids refused where a bin id belongs, ``open_bin`` on a
directory, warnings at the user's own line, and mosaics of plain image lists."""

from __future__ import annotations

import io
import os
import runpy
from pathlib import Path

import pytest
from PIL import Image

from conftest import SAMPLE
from helpers import call
from ifcbkit import (
    AsyncFilesystemBinStore,
    AsyncIfcbDataDirectory,
    DuplicateBinWarning,
    InvalidIdentifierError,
    MissingTargetWarning,
    SyncFilesystemBinStore,
    SyncIfcbDataDirectory,
    bin_timestamp,
    open_bin,
    sync_list_filesets,
)
from ifcbkit.errors import InvalidArgumentError, NotFoundError, SkippedPathWarning
from ifcbkit.mosaic import Mosaic, mosaic
from ifcbkit.testing import Roi, write_bin

DIRECTORIES = {"sync": SyncIfcbDataDirectory, "async": AsyncIfcbDataDirectory}
STORES = {"sync": SyncFilesystemBinStore, "async": AsyncFilesystemBinStore}


async def pids(obj, **options) -> list[str]:
    return [f["pid"] for f in await call(obj, "list", **options)]


def _bins(directory: Path, *bin_ids: str) -> None:
    for bin_id in bin_ids:
        write_bin(directory, bin_id, [Roi(3, 2)])


# ----- time order across naming styles ----------------------------------------------------------


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """D-style year/day folders, I-style day folders of two instruments whose times interleave (and
    whose names sort the other way: IFCB10 < IFCB5), year folders of I-style bins, loose bins in
    ``data``, and an included cruise folder holding bins of any time."""
    data = tmp_path / "data"
    _bins(data / "D2024" / "D20240215", "D20240215T150055_IFCB010", "D20240215T080000_IFCB3")
    _bins(data / "D2013" / "D20130526", "D20130526T095207_IFCB013")
    _bins(data / "IFCB5_2014_100", "IFCB5_2014_100_120000", "IFCB5_2014_100_060000")
    _bins(data / "IFCB10_2014_100", "IFCB10_2014_100_090000")
    _bins(data / "IFCB9_2012" / "IFCB9_2012_028", "IFCB9_2012_028_081515")
    _bins(data, "D20140410T100000_IFCB2", "IFCB1_2020_001_000000")  # loose, among the folders
    _bins(tmp_path / "EN627_leg1", "D20140410T110000_IFCB4", "D20240215T120000_IFCB4")
    return tmp_path


MIXED = [
    "IFCB9_2012_028_081515",
    "D20130526T095207_IFCB013",
    "IFCB5_2014_100_060000",
    "IFCB10_2014_100_090000",
    "D20140410T100000_IFCB2",
    "D20140410T110000_IFCB4",
    "IFCB5_2014_100_120000",
    "IFCB1_2020_001_000000",
    "D20240215T080000_IFCB3",
    "D20240215T120000_IFCB4",
    "D20240215T150055_IFCB010",
]


async def test_listings_are_in_sample_time_order_across_naming_styles(mixed, face):
    """On main, bins came in name order: D-style before I-style, IFCB10 before IFCB5."""
    assert sorted(MIXED, key=bin_timestamp) == MIXED
    without_cruise = [pid for pid in MIXED if "IFCB4" not in pid]
    assert await pids(DIRECTORIES[face](mixed)) == without_cruise
    assert await pids(DIRECTORIES[face](mixed, include=["data", "EN627_leg1"])) == MIXED
    assert await pids(STORES[face](mixed, include=["data", "EN627_leg1"])) == MIXED
    assert await pids(DIRECTORIES[face](mixed, include=["data", "EN627_leg1"]), validate=False) == MIXED
    in_range = await pids(DIRECTORIES[face](mixed), start_time="2014-01-01", end_time="2021-01-01")
    assert in_range == [pid for pid in without_cruise if "2014" in pid or "2020" in pid]
    assert [pid for _, pid in sync_list_filesets(mixed)] == without_cruise


async def test_the_bundled_sample_lists_its_2014_bin_first(face):
    listed = await pids(DIRECTORIES[face](SAMPLE))
    assert listed[0] == "IFCB5_2014_100_120000"
    assert listed == sorted(listed, key=bin_timestamp)


def test_an_ordered_listing_still_streams_a_year_at_a_time(tmp_path, monkeypatch):
    """The first bin comes before the later years' day folders are listed: dated folders are opened
    only when the listing reaches their first day."""
    for year in (2021, 2022, 2023):
        for day in ("0101", "0601"):
            _bins(tmp_path / "data" / f"D{year}" / f"D{year}{day}", f"D{year}{day}T000000_IFCB1")
    seen: list[str] = []
    real = os.scandir

    def scandir(path="."):
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listed = SyncIfcbDataDirectory(tmp_path).list()
    assert next(listed)["pid"] == "D20210101T000000_IFCB1"
    assert not [p for p in seen if "D20220" in p or "D20230" in p]  # their day folders: not yet listed
    assert [f["pid"] for f in listed][-1] == "D20230601T000000_IFCB1"


# ----- glob patterns in include / exclude -------------------------------------------------------


async def test_include_and_exclude_take_glob_patterns(mixed, face):
    """On main, ``EN*`` matched no folder (names were compared exactly)."""
    assert await pids(DIRECTORIES[face](mixed, include=["data", "EN*"])) == MIXED
    cruise = [pid for pid in MIXED if "IFCB4" in pid]
    assert await pids(DIRECTORIES[face](mixed, include=["EN627_leg[12]"])) == cruise
    no_i_days = await pids(DIRECTORIES[face](mixed, exclude=["IFCB*_2014_*", "skip"]))
    assert no_i_days == [
        pid for pid in MIXED if "IFCB4" not in pid and not pid.endswith(("060000", "120000", "090000"))
    ]
    # a bin under a folder a pattern includes is found by id (by a walk), and one an exclude pattern names is not
    d = DIRECTORIES[face](mixed, include=["data", "EN6*"])
    assert await call(d, "exists", "D20240215T120000_IFCB4") is True
    excluded = DIRECTORIES[face](mixed, exclude=["D20*"])
    assert await call(excluded, "exists", "D20240215T150055_IFCB010") is False
    assert "D20240215T150055_IFCB010" not in await pids(excluded)


async def test_a_pattern_never_builds_a_lookup_path(tmp_path, face, monkeypatch):
    """A folder literally named ``*`` is not where an ``include=['*']`` lookup looks first."""
    pid = "D20240215T150055_IFCB010"
    _bins(tmp_path / "*" / "D2024" / "D20240215", pid)
    _bins(tmp_path / "data" / "D2024" / "D20240215", "D20240215T160000_IFCB010")
    stats: list[str] = []
    real = os.stat

    def stat(path, *args, **kwargs):
        stats.append(os.fspath(path))
        return real(path, *args, **kwargs)

    real_scandir = os.scandir

    def scandir(path=".", *args, **kwargs):
        stats.append(f"listed {os.fspath(path)}")
        return real_scandir(path, *args, **kwargs)

    d = DIRECTORIES[face](tmp_path, include=["data", "*"])
    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "scandir", scandir)
    assert await call(d, "exists", pid) is True  # found, by a walk that lists the root and enters "*"
    # the folder named "*" is only looked into once a listing of the root has shown it (the walk),
    # never as a path built from the pattern "*"
    root_listed = stats.index(f"listed {tmp_path}")
    assert not [p for p in stats[:root_listed] if f"{os.sep}*" in p]


# ----- ids ----------------------------------------------------------------------------------------

ROI_ID = "D20240215T150055_IFCB010_00002"


async def test_exists_is_false_for_a_roi_id(face):
    """On main, ``exists`` of a ROI id answered True (the id was cut to its bin)."""
    d = DIRECTORIES[face](SAMPLE)
    assert await call(d, "exists", ROI_ID) is False
    assert await call(d, "exists", ROI_ID[:-6]) is True


@pytest.mark.parametrize("method", ["paths", "find", "read_header", "bin_metadata", "list_images", "list_roi_ids"])
async def test_bin_lookups_refuse_a_roi_id_and_name_its_bin(face, method):
    """On main, ``paths`` and ``find`` of a ROI id answered for its bin."""
    with pytest.raises(InvalidIdentifierError, match="ROI id: its bin is D20240215T150055_IFCB010") as raised:
        await call(DIRECTORIES[face](SAMPLE), method, ROI_ID)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, KeyError)


# ----- open_bin on a directory --------------------------------------------------------------------


def test_open_bin_on_a_directory_points_at_the_directory_classes():
    with pytest.raises(ValueError, match=r"SyncIfcbDataDirectory.*AsyncIfcbDataDirectory") as raised:
        open_bin(SAMPLE / "data")
    assert str(SAMPLE / "data") in str(raised.value)


# ----- warnings at the user's line ----------------------------------------------------------------

SCRIPT = """
import warnings
from ifcbkit import SyncIfcbDataDirectory
d = SyncIfcbDataDirectory(ROOT)
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    listed = list(d.list())  # skipped folder, duplicate bins
    subset = d.read_images(PID, [1, 99])  # a missing target
"""


def test_every_warning_points_at_the_users_line(tmp_path):
    """On main, the warnings of a listing were attributed to lines inside ifcbkit (or the interpreter)."""
    root = tmp_path / "tree"
    pid = "D20240215T150055_IFCB010"
    _bins(root / "data" / "D2024" / "D20240215", pid)
    _bins(root / "data" / "D2024" / "D20241399", "D20241231T000000_IFCB010")  # not a date: skipped
    os.symlink(root / "data" / "D2024", root / "D2024")  # every bin twice
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT)
    namespace = runpy.run_path(str(script), init_globals={"ROOT": str(root), "PID": pid})
    caught = namespace["caught"]
    kinds = {w.category for w in caught}
    assert {SkippedPathWarning, DuplicateBinWarning, MissingTargetWarning} <= kinds
    for w in caught:
        assert (w.filename, w.category.__name__) == (str(script), w.category.__name__)
    lines = {w.category: w.lineno for w in caught}
    assert lines[SkippedPathWarning] == lines[DuplicateBinWarning] == 7
    assert lines[MissingTargetWarning] == 8


SCIENCE_SCRIPT = """
import warnings
from ifcbkit import daily_abundance, extract_roi_images
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    images = extract_roi_images(PID, ADC, ROI, [1, 99])  # a missing target
    result = daily_abundance(ROOT, PRODUCTS, carbon=True, diatoms=DIATOMS, thresholds={"Dinophysis": 0.5}, workers=1)
"""


def test_warnings_of_roi_extraction_and_counting_point_at_the_users_line(tmp_path):
    """Before, ``extract_roi_images``' missing targets were attributed to ``formats/roi.py`` and the
    unknown classes of a job's thresholds and diatoms list to ``science/counting.py`` or a job module."""
    from ifcbkit.science.class_rules import UnknownClassWarning
    from test_abundance_carbon import A, carbon_tree

    tree = carbon_tree(tmp_path)
    diatoms = tmp_path / "diatoms.txt"
    diatoms.write_text("Guinardia\nNitzschia\n")
    files = write_bin(tmp_path / "loose", A, [Roi(3, 2)])
    script = tmp_path / "user_science.py"
    script.write_text(SCIENCE_SCRIPT)
    namespace = runpy.run_path(str(script), init_globals={
        "PID": A, "ADC": files.adc.read_bytes(), "ROI": files.roi.read_bytes(), "ROOT": str(tree["root"]),
        "PRODUCTS": str(tree["products"]), "DIATOMS": str(diatoms),
    })  # fmt: skip
    caught = namespace["caught"]
    assert sorted(namespace["images"]) == [1]
    where = sorted((w.category.__name__, os.path.basename(w.filename), w.lineno, str(w.message)[:24]) for w in caught)
    assert where == [
        ("MissingTargetWarning", script.name, 6, f"{A}: no image f"[:24]),
        ("UnknownClassWarning", script.name, 7, "diatoms file " + str(diatoms)[:11]),
        ("UnknownClassWarning", script.name, 7, "thresholds names 1 class"),
    ]
    assert all(issubclass(w.category, UnknownClassWarning) for w in caught[1:])


async def test_async_warnings_point_at_the_users_coroutine(tmp_path):
    root = tmp_path / "tree"
    _bins(root / "data" / "D2024" / "D20241399", "D20241231T000000_IFCB010")

    async def user_code() -> list[str]:
        return [f["pid"] async for f in AsyncIfcbDataDirectory(root).list()]

    with pytest.warns(SkippedPathWarning) as caught:
        assert await user_code() == []
    assert {w.filename for w in caught} == {__file__}


# ----- mosaics --------------------------------------------------------------------------------------


def _images() -> list[Image.Image]:
    return [Image.new("L", (30, 20), 10), Image.new("L", (10, 40), 20), Image.new("L", (25, 25), 30)]


def test_mosaic_takes_a_list_of_images_a_mapping_or_pairs():
    """On main, a plain list raised ``TypeError: cannot unpack non-iterable Image object``."""
    images = _images()
    by_list = mosaic(images, shape=(60, 80), scale=1)
    assert [p.key for p in by_list.placements] == [1, 2, 0]  # keyed by position, tallest first
    assert by_list.placements[0][1:] == (0, 0, 10, 40)
    by_mapping = mosaic({f"roi{k}": image for k, image in enumerate(images)}, shape=(60, 80), scale=1)
    by_pairs = mosaic([(f"roi{k}", image) for k, image in enumerate(images)], shape=(60, 80), scale=1)
    assert [p.key for p in by_mapping.placements] == [p.key for p in by_pairs.placements] == ["roi1", "roi2", "roi0"]
    assert by_list.image.tobytes() == by_mapping.image.tobytes() == by_pairs.image.tobytes()
    with pytest.raises(TypeError, match="not str"):
        mosaic(["not an image"])


def test_a_mosaic_shows_itself_in_a_notebook_and_saves(tmp_path):
    page = mosaic(_images(), shape=(60, 80), scale=1)
    assert isinstance(page, Mosaic)
    png = page._repr_png_()
    with Image.open(io.BytesIO(png)) as shown:
        assert shown.size == (80, 60) and shown.tobytes() == page.image.tobytes()
    page.save(tmp_path / "page.png")
    buffer = io.BytesIO()
    page.save(buffer)
    with Image.open(tmp_path / "page.png") as saved, Image.open(buffer) as written:
        assert saved.format == written.format == "PNG"
        assert saved.tobytes() == written.tobytes() == page.image.tobytes()


@pytest.mark.parametrize("missing", ["roi", "adc"])
async def test_a_bin_missing_a_file_is_not_found_naming_the_file(tmp_path, face, missing):
    """The API says what the commands say: which file of which bin is missing, not 'no bin'."""
    pid = "D20240215T150055_IFCB010"
    day = tmp_path / "D2024" / "D20240215"
    day.mkdir(parents=True)
    for ext in {"hdr", "adc", "roi"} - {missing}:
        (day / f"{pid}.{ext}").write_bytes((SAMPLE / "data" / "D2024" / "D20240215" / f"{pid}.{ext}").read_bytes())
    directory = (SyncIfcbDataDirectory if face == "sync" else AsyncIfcbDataDirectory)(tmp_path)
    for method, arg in (("paths", pid), ("read_images", pid), ("read_image", f"{pid}_00002")):
        with pytest.raises(NotFoundError) as e:
            await call(directory, method, arg)
        assert f"bin {pid} has no .{missing} file: {day / pid}.{missing} is missing" in str(e.value)
    assert await call(directory, "exists", pid) is False


def test_a_mosaic_scale_must_be_finite():
    with pytest.raises(InvalidArgumentError, match="scale"):
        mosaic([Image.new("L", (4, 4))], scale=float("inf"))
