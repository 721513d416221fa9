"""Which directories a walk enters and which bins it keeps: the include/exclude rule (section 2 of
docs/formats.md), time ranges and instruments, and what dated directory names promise about the
bins below them (the listing prunes on it)."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone

from ..errors import ArgumentTypeError, InvalidArgumentError
from ..formats.ids import is_bin_id, parse_bin, parse_instruments, valid_bin_ids

DEFAULT_INCLUDE: list[str] = ["data"]  # lists, as in 0.3.1; never mutated here
DEFAULT_EXCLUDE: list[str] = ["skip", "beads"]

TimeLike = datetime | date | str

__all__ = [
    "DATED_DIR", "DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "EnterRule", "FilesetFilter", "NameRule", "TimeLike", "as_utc",
    "could_be_in_bin_id", "dir_span", "dir_time_key", "is_pattern", "not_a_date", "not_excluded",
]  # fmt: skip


# ----- the include/exclude rule ---------------------------------------------------------------

_GLOB_CHARS = frozenset("*?[")


def is_pattern(name: str) -> bool:
    """Whether an ``include``/``exclude`` entry is a glob pattern (``*``, ``?`` or ``[``) rather than a name."""
    return not _GLOB_CHARS.isdisjoint(name)


class NameRule:
    """Directory names given as exact names and glob patterns (:mod:`fnmatch`, case-sensitive): an
    ``include`` or ``exclude`` list. ``names`` are the exact ones: only they may build a lookup path."""

    __slots__ = ("_hash", "_match", "names", "patterns")

    def __init__(self, entries: Iterable[str]):
        entries = list(entries)
        self.names = frozenset(e for e in entries if not is_pattern(e))
        self.patterns = tuple(dict.fromkeys(e for e in entries if is_pattern(e)))
        joined = "|".join(fnmatch.translate(p) for p in self.patterns)
        self._match = re.compile(joined).match if joined else None
        self._hash = hash((self.names, self.patterns))  # a key of the lookup cache: hashed at each lookup

    def __contains__(self, name: object) -> bool:
        """Whether a directory name is one of the names or matches one of the patterns."""
        if name in self.names:
            return True
        return self._match is not None and isinstance(name, str) and self._match(name) is not None

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, NameRule) and (self.names, self.patterns) == (other.names, other.patterns)
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"NameRule({sorted(self.names) + list(self.patterns)!r})"


# A directory name can only be a substring of some bin id if, with its digits masked, it is a
# substring of one of these skeletons (instrument numbers have 1 to 6 digits).
_SKELETONS = [f"D########T######_IFCB{'#' * k}" for k in range(1, 7)] + [
    f"IFCB{'#' * k}_####_###_######" for k in range(1, 7)
]
_DIGIT = re.compile(r"[0-9]")


def could_be_in_bin_id(name: str) -> bool:
    """Whether ``name`` is a substring of at least one possible bin id."""
    masked = _DIGIT.sub("#", name)
    return any(masked in skeleton for skeleton in _SKELETONS)


def as_utc(value: TimeLike | None, what: str) -> datetime | None:
    """``value`` as an aware UTC datetime (a naive one is UTC; a date is its midnight).

    Raises:
        InvalidArgumentError: (a ``ValueError``) for a string that is not ISO 8601;
            ArgumentTypeError (a ``TypeError``) for another type. ``what`` names the argument.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise InvalidArgumentError(what, f"{what}: not an ISO date or time: {text!r}") from None
    if isinstance(value, datetime):
        try:
            return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
            raise InvalidArgumentError(what, f"{what}: {value.isoformat()} is outside years 1 to 9999 in UTC") from None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise ArgumentTypeError(what, f"{what} must be a datetime, a date or an ISO string, not {type(value).__name__}")


DATED_DIR = re.compile(r"D(\d{4})(\d{2})?(\d{2})?|IFCB(\d{1,6})_(\d{4})(?:_(\d{3}))?", re.ASCII)

# The end of a span that would run past the last day datetime can hold (a directory D99991231)
_END_OF_TIME = datetime.max.replace(tzinfo=timezone.utc)


def _first_of(year: int, month: int = 1) -> datetime:
    """The first of ``month`` (13: January of the next year), or the end of time past year 9999."""
    year, month = (year + 1, 1) if month == 13 else (year, month)
    return datetime(year, month, 1, tzinfo=timezone.utc) if year <= 9999 else _END_OF_TIME


def _day_after(start: datetime) -> datetime:
    return start + timedelta(days=1) if start.date() < date.max else _END_OF_TIME


@functools.lru_cache(maxsize=8192)
def _dated(name: str) -> tuple[datetime, datetime, int | None] | str | None:
    """The span (and instrument) of a dated directory name; the reason when it names no calendar
    date; ``None`` for any other name. (Remembered: a listing asks it of each of a year's 366 folder
    names up to three times, for its filter, its time order and its warnings.)"""
    m = DATED_DIR.fullmatch(name)
    if m is None:
        return None
    if name.startswith("D"):
        year, month, day = int(m[1]), m[2], m[3]
        try:
            start = datetime(year, int(month or 1), int(day or 1), tzinfo=timezone.utc)
        except ValueError:
            parts = [f"year {m[1]}", *([f"month {month}"] if month else []), *([f"day {day}"] if day else [])]
            return f"{name} names no calendar date ({', '.join(parts)})"
        if day is not None:
            return start, _day_after(start), None
        return start, _first_of(year, start.month + 1) if month is not None else _first_of(year + 1), None
    instrument, year = int(m[4]), int(m[5])
    if year == 0:
        return f"{name} names no calendar date (year {m[5]})"
    start = datetime(year, 1, 1, tzinfo=timezone.utc)
    if m[6] is None:
        return start, _first_of(year + 1), instrument
    days = (_first_of(year + 1).date() - start.date()).days if year < 9999 else 365
    if not 1 <= int(m[6]) <= days:
        return f"{name} names no calendar date (day {m[6]} of a {days}-day year)"
    start += timedelta(days=int(m[6]) - 1)
    return start, _day_after(start), instrument


def dir_time_key(name: str) -> str:
    """A lower bound of :func:`~ifcbkit.formats.ids.time_key` for every bin under a directory named
    ``name``: the start of the dates a dated name promises (``D2024``: ``'20240101000000'``), else
    ``''`` (anything may be below it)."""
    span = dir_span(name)
    if span is None:
        return ""
    t = span[0]
    return f"{t.year:04d}{t.month:02d}{t.day:02d}000000"


def dir_span(name: str) -> tuple[datetime, datetime, int | None] | None:
    """The time span (and instrument) every bin under a dated directory name must fall in (``None``
    for a name that is not a calendar date)."""
    span = _dated(name)
    return None if isinstance(span, str) else span


def not_a_date(name: str) -> str | None:
    """Why a dated directory name (``D20241399``, ``D0000``, ``IFCB5_2024_400``) names no calendar
    date, so that no bin can be below it; ``None`` for a real date or a name that is not dated."""
    span = _dated(name)
    return span if isinstance(span, str) else None


def _d_style_key(when: datetime | None) -> str | None:
    """``DyyyymmddTHHMMSS`` of ``when`` rounded up to a whole second (comparable with bin ids)."""
    if when is None:
        return None
    if when.microsecond:
        if when >= _END_OF_TIME.replace(microsecond=0):  # no whole second after it: above every bin id
            return "D99991232T000000"
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when.strftime("D%Y%m%dT%H%M%S") if when.year >= 1000 else "D" + "0" * 15


class FilesetFilter:
    """Which directories to enter and which bins to keep (the include/exclude rule plus a time range
    and instruments). Call it with ``(relative_dir_parts, bin_id)``.

    ``include`` and ``exclude`` hold directory names or glob patterns (``EN*``, ``leg[12]``); a name
    that both an include and an exclude entry match is excluded."""

    def __init__(
        self,
        include: Iterable[str] = DEFAULT_INCLUDE,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
    ):
        include, exclude = list(include), list(exclude)
        self.include = frozenset(include)  # the entries as given (names and patterns)
        self.exclude = frozenset(exclude)
        if self.include & self.exclude:
            raise InvalidArgumentError("exclude", f"include and exclude overlap: {sorted(self.include & self.exclude)}")
        self.included = NameRule(include)  # ``name in self.included``: a name or a pattern's match
        self.excluded = NameRule(exclude)
        self.start = as_utc(start_time, "start_time")
        self.end = as_utc(end_time, "end_time")
        self.instruments = parse_instruments(instrument)
        # D-style ids sort as their times: compare them as strings against the range rounded up to
        # whole seconds (bins are stamped in whole seconds)
        self._start_key = _d_style_key(self.start)
        self._end_key = _d_style_key(self.end)

    def within(self, name: str) -> FilesetFilter:
        """The filter for the subtree of directory ``name``: without the time range and instruments
        when the name dates every bin below it inside them (``D20231215`` for a December range)."""
        if not self.narrows or name in self.included:
            return self
        span = dir_span(name)
        if span is None:
            return self
        start, end, instrument = span
        if (self.start is not None and start < self.start) or (self.end is not None and end > self.end):
            return self
        if self.instruments is not None and instrument not in self.instruments:
            return self
        return FilesetFilter(self.include, self.exclude)

    def enter(self, name: str) -> bool:
        """Whether a directory with this name may hold bins that pass the filter."""
        if name in self.excluded:
            return False
        if name in self.included:
            return True
        if not could_be_in_bin_id(name):
            return False
        span = _dated(name)
        if isinstance(span, str):  # D20241399: no valid bin id has that in it
            return False
        if span is None or (self.start is None and self.end is None and self.instruments is None):
            return True
        start, end, instrument = span
        if self.start is not None and end <= self.start:
            return False
        if self.end is not None and start >= self.end:
            return False
        return not (instrument is not None and self.instruments is not None and instrument not in self.instruments)

    def accepts(self, bin_id: str) -> bool:
        """Whether a bin id is valid and within the time range and instruments (directory rule aside)."""
        return is_bin_id(bin_id) and (not self.narrows or self._in_range(bin_id))

    @property
    def narrows(self) -> bool:
        """Whether the filter has a time range or instruments."""
        return self.start is not None or self.end is not None or self.instruments is not None

    def select(self, bin_ids: list[str]) -> list[str]:
        """:meth:`accepts` over a directory's bin ids, in order."""
        valid = valid_bin_ids(bin_ids)
        return [b for b in valid if self._in_range(b)] if self.narrows else valid

    def _in_range(self, bin_id: str) -> bool:
        if self.instruments is None and bin_id.startswith("D"):
            key = bin_id[:16]
            return (self._start_key is None or key >= self._start_key) and (
                self._end_key is None or key < self._end_key
            )
        parsed = parse_bin(bin_id)
        if self.start is not None and parsed.timestamp < self.start:
            return False
        if self.end is not None and parsed.timestamp >= self.end:
            return False
        return self.instruments is None or parsed.instrument in self.instruments

    def __call__(self, relative_parts: Iterable[str], bin_id: str) -> bool:
        """Whether a bin in this directory (parts relative to the root) passes the whole filter."""
        parts = list(relative_parts)
        if not all(p not in self.excluded and (p in self.included or p in bin_id) for p in parts):
            return False
        return self.accepts(bin_id)


EnterRule = Callable[[FilesetFilter, str], bool]


def not_excluded(keep: FilesetFilter, name: str) -> bool:
    """The enter rule of a walk without the include rule: every directory not excluded."""
    return name not in keep.excluded
