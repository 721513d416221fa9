"""Folders named like dates that are no calendar date (``D20241399``, ``D0000``) are left out of a
listing with a warning naming them, and never crash a time-filtered one; the last representable day
(``D99991231``) is a day like any other (real temporary trees)."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ifcbkit import AsyncIfcbDataDirectory, SyncIfcbDataDirectory
from ifcbkit.engine.filters import FilesetFilter, dir_span
from ifcbkit.errors import SkippedPathWarning
from ifcbkit.testing import Roi, resolve, write_bin

BIN = "D20240215T150055_IFCB010"
LAST_DAY_BIN = "D99991231T235959_IFCB010"
I_BIN = "IFCB5_2012_028_081515"
NOT_DATES = ["D00000101", "D20241399", "D0000", "D202413", "D20230229", "IFCB5_2012_400", "IFCB5_0000"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_bin(tmp_path / "D2024" / "D20240215", BIN, [Roi(10, 10)])
    write_bin(tmp_path / "IFCB5_2012_028", I_BIN, [Roi(10, 10)])
    for name in NOT_DATES:
        (tmp_path / name).mkdir()
    (tmp_path / "D2024" / "D20241399").mkdir()  # under a year folder too
    (tmp_path / "D99991231").mkdir()
    return tmp_path


def _listed(directory: object, face: str, **filters: object) -> tuple[list[str], list[str]]:
    import asyncio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        listing = asyncio.run(resolve(directory.list(**filters)))  # type: ignore[attr-defined]
    skipped = [str(w.message) for w in caught if issubclass(w.category, SkippedPathWarning)]
    return [f["pid"] for f in listing], skipped


FILTERS = [
    {},
    {"start_time": "2024-01-01"},
    {"end_time": "2025-01-01"},
    {"start_time": "2000-01-01", "end_time": "2030-01-01"},
    {"instrument": 10},
    {"start_time": "2012-01-01", "instrument": [5, 10]},
]


@pytest.mark.parametrize("filters", FILTERS)
def test_folders_that_are_no_date_are_skipped_with_a_warning(face, tree, filters):
    directory = SyncIfcbDataDirectory(tree) if face == "sync" else AsyncIfcbDataDirectory(tree)
    pids, skipped = _listed(directory, face, **filters)
    expected = [p for p in (BIN, I_BIN) if FilesetFilter(**filters).accepts(p)]  # type: ignore[arg-type]
    assert sorted(pids) == sorted(expected)
    for name in [*NOT_DATES, "D2024/D20241399"]:
        path = str(tree / name)
        assert any(m.startswith(f"skipped {path}: ") and "no calendar date" in m for m in skipped), (name, skipped)
    assert not any("D99991231" in m for m in skipped)


def test_a_bin_of_the_last_representable_day_is_listed(face, tree):
    write_bin(tree / "D99991231", LAST_DAY_BIN, [Roi(10, 10)])
    directory = SyncIfcbDataDirectory(tree) if face == "sync" else AsyncIfcbDataDirectory(tree)
    pids, _ = _listed(directory, face, start_time="9999-12-31")
    assert pids == [LAST_DAY_BIN]
    pids, _ = _listed(directory, face, start_time="2024-01-01")
    assert pids == [BIN, LAST_DAY_BIN]
    pids, _ = _listed(directory, face, end_time="9999-12-31T23:59:59")
    assert LAST_DAY_BIN not in pids and BIN in pids


def test_dated_names_and_their_spans():
    from ifcbkit.engine.filters import not_a_date

    utc = timezone.utc
    assert dir_span("D99991231") == (datetime(9999, 12, 31, tzinfo=utc), datetime.max.replace(tzinfo=utc), None)
    assert dir_span("D9999") == (datetime(9999, 1, 1, tzinfo=utc), datetime.max.replace(tzinfo=utc), None)
    assert dir_span("IFCB5_2012_366") == (datetime(2012, 12, 31, tzinfo=utc), datetime(2013, 1, 1, tzinfo=utc), 5)
    for name in NOT_DATES:
        assert dir_span(name) is None
        assert not_a_date(name) is not None and name in not_a_date(name)  # type: ignore[operator]
    assert not_a_date("D20240229") is None and not_a_date("data") is None
    keep = FilesetFilter(start_time="2024-01-01")
    assert keep.enter("D99991231") is True and keep.enter("D20241399") is False
    assert FilesetFilter(include=["D20241399"], exclude=[]).enter("D20241399") is True  # named, so entered
