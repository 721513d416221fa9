"""``exists(pid)`` agrees with ``list()``: True exactly for the bins a listing yields, on trees with
decoys, and it follows the disk when a remembered directory changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ifcbkit import AsyncIfcbDataDirectory, SyncIfcbDataDirectory
from ifcbkit.sources import lookup
from ifcbkit.testing import Roi, write_bin

pytestmark = pytest.mark.filterwarnings("ignore::ifcbkit.errors.DuplicateBinWarning")  # data/D20230622 holds a copy


def put(directory: Path, pid: str, exts: tuple[str, ...] = ("hdr", "adc", "roi")) -> None:
    write_bin(directory, pid, [Roi(4, 3)])
    for ext in {"hdr", "adc", "roi"} - set(exts):
        (directory / f"{pid}.{ext}").unlink()


@pytest.fixture
def decoys(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    data = root / "data"
    put(data / "D2023" / "D20230615", "D20230615T120000_IFCB27")
    put(data / "D2023" / "D20230615", "D20230615T130000_IFCB27", ("hdr",))  # a bin with only its .hdr
    put(data / "D2023" / "D20230615", "D20230615T140000_IFCB27", ("hdr", "adc"))  # no .roi
    put(data / "D2023" / "D20230616", "D20230615T150000_IFCB27")  # in a day folder of the wrong date
    put(data / "D2023" / "skip", "D20230617T120000_IFCB27")  # in an excluded folder
    put(data / "beads" / "D20230618", "D20230618T120000_IFCB27")  # below an excluded folder
    put(root / "skip" / "D2023", "D20230619T120000_IFCB27")
    put(root / "EN627" / "D20230620", "D20230620T120000_IFCB27")  # a cruise folder the rule does not enter
    put(data / "EN627", "D20230621T120000_IFCB27")
    put(root / "D2023" / "D20230622", "D20230622T120000_IFCB27")  # beside data/: another layout
    put(data / "D20230622", "D20230622T120000_IFCB27")  # a duplicate
    put(data / "2023" / "D20230623", "D20230623T120000_IFCB27")
    put(data / "IFCB5_2012_028", "IFCB5_2012_028_120000")  # the I style
    put(data / "IFCB5_2012" / "IFCB5_2012_029", "IFCB5_2012_028_130000")  # wrong day again
    put(data / "D2023" / "0624", "D20230624T120000_IFCB27")  # a month-day folder the id does not imply
    put(data / "D2023" / "T12", "D20230625T120000_IFCB27")  # a folder named after a part of the time
    (data / "D2023" / "D20230626").mkdir()
    (data / "D2023" / "D20230626" / "not_a_bin.hdr").touch()  # a .hdr whose name is no bin id
    return root


def on_disk(root: Path) -> set[str]:
    return {path.name[:-4] for path in root.rglob("*.hdr")}


RULES = [
    {},
    {"require_adc": False, "require_roi": False},
    {"require_roi": False},
    {"include": ["data", "EN*"], "exclude": ["skip"]},
    {"include": ["EN627"], "exclude": ["beads", "skip", "T12"]},
    {"include": [], "exclude": []},
]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: repr(rule))
def test_exists_is_true_exactly_for_the_bins_listed(decoys, rule):
    d = SyncIfcbDataDirectory(decoys, **rule)
    listed = {fileset["pid"] for fileset in d.list()}
    asked = on_disk(decoys) | {"D20230615T120000_IFCB27_00001", "D20230615T235959_IFCB27", "D20240101T000000_IFCB1"}
    assert {pid for pid in asked if d.exists(pid)} == listed
    assert listed  # the rule leaves something to compare
    again = SyncIfcbDataDirectory(decoys, **rule)  # asked in another order, on a fresh object
    assert {pid for pid in sorted(asked, reverse=True) if again.exists(pid)} == listed


async def test_async_exists_agrees_with_the_listing(decoys):
    d = AsyncIfcbDataDirectory(decoys)
    listed = {fileset["pid"] async for fileset in d.list()}
    assert {pid for pid in on_disk(decoys) if await d.exists(pid)} == listed


@pytest.fixture
def remembered(monkeypatch):
    """Every directory's entries remembered at once (none is too recent to trust)."""
    monkeypatch.setattr(lookup, "RACY_NS", -(10**18))


def test_a_remembered_day_follows_the_disk(decoys, remembered, monkeypatch):
    day = decoys / "data" / "D2023" / "D20230615"
    d = SyncIfcbDataDirectory(decoys)
    later = "D20230615T200000_IFCB27"
    assert d.exists(later) is False  # the day's entries are remembered now
    scanned: list[str] = []
    real = os.scandir

    def scandir(path="."):
        scanned.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert d.exists("D20230615T210000_IFCB27") is False
    assert scanned == []  # a second miss in the day lists nothing: one stat per directory
    put(day, later)
    assert d.exists(later) is True  # the day changed: listed again
    assert scanned == [str(day)]
    (day / f"{later}.roi").unlink()
    assert d.exists(later) is False
    assert later not in {fileset["pid"] for fileset in d.list()}


def test_a_remembered_tree_follows_folders_made_and_removed(decoys, remembered):
    d = SyncIfcbDataDirectory(decoys)
    pid = "D20230701T120000_IFCB27"
    assert d.exists(pid) is False
    put(decoys / "data" / "D2023" / "D20230701", pid)
    assert d.exists(pid) is True
    shutil.rmtree(decoys / "data" / "D2023" / "D20230701")
    assert d.exists(pid) is False
    put(decoys / "data" / "D2023" / "skip" / "D20230701", pid)
    assert d.exists(pid) is False
    assert pid not in {fileset["pid"] for fileset in d.list()}
