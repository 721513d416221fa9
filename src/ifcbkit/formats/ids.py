"""Bin and ROI identifiers: parsing, validation, and what they imply (time, instrument, directories).

Identifiers become parts of file paths and object keys, so everything here is
strict: a string that does not match one of the two IFCB patterns exactly (ASCII
digits, valid calendar date, sane length) is refused with
:class:`~ifcbkit.errors.InvalidIdentifierError` before anything else sees it.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal, NamedTuple, overload

from ..errors import InvalidIdentifierError

# Instrument numbers and target numbers are bounded so that absurd ids are refused.
_D_STYLE = re.compile(r"D(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})_IFCB(\d{1,6})", re.ASCII)
_I_STYLE = re.compile(r"IFCB(\d{1,6})_(\d{4})_(\d{3})_(\d{2})(\d{2})(\d{2})", re.ASCII)
_TARGET = re.compile(r"_(\d{5}|[1-9]\d{5})", re.ASCII)  # 5 digits, or 6 without a leading zero
_MAX_ID_LENGTH = 64

# The id patterns of ifcbkit 0.3.1 (anchored; their groups are the id's numbers). ifcbkit itself
# validates with the stricter ones above: bounded instrument numbers and real calendar dates.
I_STYLE_PATTERN = re.compile(r"^IFCB(\d+)_(\d{4})_(\d{3})_(\d{2})(\d{2})(\d{2})$")
D_STYLE_PATTERN = re.compile(r"^D(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})_IFCB(\d+)$")
ROI_ID_PATTERN = re.compile(r"^(IFCB\d+_\d{4}_\d{3}_\d{6}|D\d{8}T\d{6}_IFCB\d+)_(\d{5})$")


class BinId(NamedTuple):
    """A parsed bin id."""

    bin_id: str
    style: Literal["D", "I"]
    instrument: int
    timestamp: datetime


class Pid(NamedTuple):
    """A parsed bin or ROI id: the bin, and the target number for a ROI id."""

    bin_id: str
    target: int | None
    style: Literal["D", "I"]
    instrument: int
    timestamp: datetime


def _checked_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifierError(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > _MAX_ID_LENGTH:
        raise InvalidIdentifierError(
            f"invalid {what} (longer than {_MAX_ID_LENGTH} characters): {value[:_MAX_ID_LENGTH]!r}..."
        )
    return value


def _timestamp(bin_id: str, year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError as e:
        raise InvalidIdentifierError(f"invalid bin id {bin_id!r}: {e}") from None


def _roi_hint(text: str) -> str:
    """``"; that is a ROI id: its bin is ..."`` when ``text`` is a ROI id given where a bin id belongs."""
    head, _, target = text.rpartition("_")
    if target.isdigit() and target.isascii() and (_D_STYLE.fullmatch(head) or _I_STYLE.fullmatch(head)):
        return f"; that is a ROI id: its bin is {head}"
    return ""


def _d_style(bin_id: str) -> BinId:
    m = _D_STYLE.fullmatch(bin_id)
    if m is None:
        raise InvalidIdentifierError(f"not a D-style bin id (DyyyymmddTHHMMSS_IFCBn): {bin_id!r}{_roi_hint(bin_id)}")
    year, month, day, hour, minute, second, instrument = (int(g) for g in m.groups())
    return BinId(bin_id, "D", instrument, _timestamp(bin_id, year, month, day, hour, minute, second))


def _i_style(bin_id: str) -> BinId:
    m = _I_STYLE.fullmatch(bin_id)
    if m is None:
        raise InvalidIdentifierError(f"not an I-style bin id (IFCBn_yyyy_ddd_HHMMSS): {bin_id!r}{_roi_hint(bin_id)}")
    instrument, year, yday, hour, minute, second = (int(g) for g in m.groups())
    start = _timestamp(bin_id, year, 1, 1, hour, minute, second)
    days_in_year = 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365
    if not 1 <= yday <= days_in_year:
        raise InvalidIdentifierError(f"invalid bin id {bin_id!r}: day of year {yday} is not in 1..{days_in_year}")
    return BinId(bin_id, "I", instrument, start + timedelta(days=yday - 1))


def _fields(b: BinId) -> dict[str, int]:
    """The design's dict of a parsed bin id: instrument and time fields (``day_of_year`` for I-style)."""
    t = b.timestamp
    if b.style == "D":
        return {"instrument_id": b.instrument, "year": t.year, "month": t.month, "day": t.day,
                "hour": t.hour, "minute": t.minute, "second": t.second}  # fmt: skip
    return {"instrument_id": b.instrument, "year": t.year, "day_of_year": t.timetuple().tm_yday,
            "hour": t.hour, "minute": t.minute, "second": t.second}  # fmt: skip


def parse_d_style_bin_id(bin_id: str) -> dict[str, int]:
    """Parse ``D{yyyymmdd}T{HHMMSS}_IFCB{n}`` into ``{'instrument_id', 'year', 'month', 'day', 'hour',
    'minute', 'second'}``.

    Raises:
        InvalidIdentifierError: (a ``ValueError``) for anything else, including impossible dates.
    """
    return _fields(_d_style(_checked_str(bin_id, "bin id")))


def parse_i_style_bin_id(bin_id: str) -> dict[str, int]:
    """Parse ``IFCB{n}_{yyyy}_{ddd}_{HHMMSS}`` (``ddd`` the day of the year) into ``{'instrument_id',
    'year', 'day_of_year', 'hour', 'minute', 'second'}``.

    Raises:
        InvalidIdentifierError: (a ``ValueError``) for anything else.
    """
    return _fields(_i_style(_checked_str(bin_id, "bin id")))


def parse_bin_id(bin_id: str) -> dict[str, int]:
    """Parse a D-style or I-style bin id into the dict of :func:`parse_d_style_bin_id` or
    :func:`parse_i_style_bin_id`.

    Raises:
        InvalidIdentifierError: (a ``ValueError``) if it is neither.
    """
    return _fields(parse_bin(bin_id))


def parse_bin(bin_id: str) -> BinId:
    """A bin id as a :class:`BinId` record (style, instrument, timestamp), validated."""
    return _parse_bin(_checked_str(bin_id, "bin id"))


@functools.lru_cache(maxsize=65536)  # pure, and asked again and again for the same ids
def _parse_bin(bin_id: str) -> BinId:
    if bin_id.startswith("D"):
        return _d_style(bin_id)
    if bin_id.startswith("IFCB"):
        return _i_style(bin_id)
    raise InvalidIdentifierError(f"not an IFCB bin id: {bin_id!r}")


# Strict shape of D-style ids with the time of day checked in the pattern; the date is checked once
# per distinct day (listing 20,000 bins costs one regex match each, not a datetime each).
_D_STYLE_STRICT = re.compile(r"D(\d{8})T(?:[01]\d|2[0-3])[0-5]\d[0-5]\d_IFCB\d{1,6}", re.ASCII)


@functools.lru_cache(maxsize=4096)
def _valid_day(yyyymmdd: str) -> bool:
    try:
        date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return True


def is_bin_id(value: object) -> bool:
    """Whether ``value`` is a valid bin id (a fast check for walking large trees)."""
    if not isinstance(value, str):
        return False
    m = _D_STYLE_STRICT.fullmatch(value)
    if m is not None:
        return _valid_day(m.group(1))
    try:
        _i_style(value)
    except InvalidIdentifierError:
        return False
    return True


_D_STYLE_LINES = re.compile(r"(?:D\d{8}T(?:[01]\d|2[0-3])[0-5]\d[0-5]\d_IFCB\d{1,6}\n)*", re.ASCII)


_DATE_PART = operator.itemgetter(slice(1, 9))


def valid_bin_ids(candidates: list[str]) -> list[str]:
    """The valid bin ids among ``candidates``, in order.

    One regex pass over a whole directory's names when they are all D-style ids
    (the usual case), one :func:`is_bin_id` per name otherwise.
    """
    joined = "\n".join(candidates) + "\n"
    if (
        joined.count("\n") == len(candidates)
        and _D_STYLE_LINES.fullmatch(joined)
        and all(map(_valid_day, set(map(_DATE_PART, candidates))))
    ):
        return candidates
    return [c for c in candidates if is_bin_id(c)]


def time_key(bin_id: str) -> str:
    """A string that sorts valid bin ids by sample time across both naming styles (then by id):
    ``'20240215150055D20240215T150055_IFCB010'``. A D-style id costs two slices; an I-style id is parsed."""
    if bin_id.startswith("D"):
        return bin_id[1:9] + bin_id[10:16] + bin_id
    t = parse_bin(bin_id).timestamp
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}{bin_id}"


class TimeKeys(Sequence[str]):
    """The :func:`time_key` of each of a directory's bin ids, made when looked
    at: an ordered walk looks at a few (a head, a bisection), not at every bin's."""

    __slots__ = ("ids",)

    def __init__(self, ids: list[str]):
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> TimeKeys: ...

    def __getitem__(self, index: int | slice) -> str | TimeKeys:
        if isinstance(index, slice):
            return TimeKeys(self.ids[index])
        return time_key(self.ids[index])


def bin_of(pid: str) -> str:
    """The bin id of a bin id or a ROI id, validated (a bin id costs one pattern match)."""
    return pid if is_bin_id(pid) else parse_id(pid).bin_id


def validate_bin_id(bin_id: str) -> str:
    """Return ``bin_id`` unchanged if it is a valid bin id; raise otherwise."""
    parse_bin(bin_id)
    return bin_id


def parse_id(pid: str) -> Pid:
    """A bin id or a ROI id (bin id + ``_`` + 5-digit target number) as a :class:`Pid` record."""
    return _parse_pid(_checked_str(pid, "id"))


def parse_pid(pid: str) -> dict[str, Any]:
    """Parse a bin id or a ROI id into ``{'lid', 'timestamp', 'year', 'day_dir', 'instrument_id'}``,
    plus ``'target'`` and ``'roi_id'`` for a ROI id (``lid`` is the bin id).

    Raises:
        InvalidIdentifierError: (a ``ValueError``) if it is neither a bin id nor a ROI id.
    """
    p = parse_id(pid)
    out: dict[str, Any] = {
        "lid": p.bin_id, "timestamp": p.timestamp, "year": p.timestamp.year,
        "day_dir": _day_dir(p), "instrument_id": p.instrument,
    }  # fmt: skip
    if p.target is not None:
        out["target"] = p.target
        out["roi_id"] = pid
    return out


@functools.lru_cache(maxsize=65536)
def _parse_pid(pid: str) -> Pid:
    if pid.startswith("D") and _D_STYLE.fullmatch(pid) is not None:
        b = parse_bin(pid)
        return Pid(b.bin_id, None, b.style, b.instrument, b.timestamp)
    if _D_STYLE.fullmatch(pid) is None and _I_STYLE.fullmatch(pid) is None:
        head, _, tail = pid.rpartition("_")
        if head and _TARGET.fullmatch("_" + tail):
            b = parse_bin(head)
            target = int(tail)
            if target < 1:
                raise InvalidIdentifierError(f"invalid ROI id {pid!r}: target numbers start at 1")
            return Pid(b.bin_id, target, b.style, b.instrument, b.timestamp)
    b = parse_bin(pid)
    return Pid(b.bin_id, None, b.style, b.instrument, b.timestamp)


def parse_roi_id(roi_id: str) -> tuple[str, int]:
    """Split a ROI id into ``(bin_id, target)``.

    Raises:
        InvalidIdentifierError: (a ``ValueError``) if it is not a ROI id.
    """
    p = parse_id(roi_id)
    if p.target is None:
        raise InvalidIdentifierError(f"not a ROI id (bin id + '_' + 5-digit target): {roi_id!r}")
    return p.bin_id, p.target


parse_target = parse_roi_id  # the 0.3.1 name of parse_roi_id, kept as the same function


def add_target(bin_id: str, target: int) -> str:
    """The ROI id of ``target`` in ``bin_id``: ``add_target('D20221227T093138_IFCB127', 5)`` is ``'..._00005'``."""
    validate_bin_id(bin_id)
    if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= 999_999:
        raise InvalidIdentifierError(f"invalid target number {target!r} (an int from 1 to 999999)")
    return f"{bin_id}_{target:05d}"


def bin_timestamp(bin_id: str) -> datetime:
    """The bin's sample time as an aware UTC datetime."""
    return parse_id(bin_id).timestamp


def bin_instrument_id(bin_id: str) -> int:
    """The instrument number (``IFCB010`` is 10)."""
    return parse_id(bin_id).instrument


def bin_year(bin_id: str) -> int:
    """The UTC year of the bin."""
    return parse_id(bin_id).timestamp.year


def bin_day_dir(bin_id: str) -> str:
    """The conventional day directory: ``D20240215`` or ``IFCB5_2012_028``."""
    return _day_dir(parse_id(bin_id))


def _day_dir(p: Pid) -> str:
    return p.bin_id[:9] if p.style == "D" else p.bin_id.rsplit("_", 1)[0]


def bin_year_dir(bin_id: str) -> str:
    """The conventional year directory of D-style bins (``D2024``); I-style trees have none."""
    p = parse_id(bin_id)
    if p.style != "D":
        raise InvalidIdentifierError(f"I-style bin {p.bin_id!r} has no year directory")
    return p.bin_id[:5]


# What every ``instrument=`` parameter takes: one instrument, or several; ``None`` for all.
Instruments = int | str | Iterable[int | str] | None


def parse_instruments(instrument: Instruments) -> frozenset[int] | None:
    """Instrument numbers from an int, a numeric string (``'10'``, ``'IFCB010'``) or an iterable of them."""
    if instrument is None:
        return None
    items = [instrument] if isinstance(instrument, (int, str)) else list(instrument)
    out = set()
    for item in items:
        text = str(item).strip().upper().removeprefix("IFCB")
        if isinstance(item, bool) or not text.isdigit() or not text.isascii():
            raise InvalidIdentifierError(f"instrument must be an int or a numeric string, not {item!r}")
        out.add(int(text))
    return frozenset(out)


BIN_EXTENSIONS = ("hdr", "adc", "roi")


def bin_key(bin_id: str, ext: str) -> str:
    """The logical store key of one of a bin's files: ``'{bin_id}.{ext}'``."""
    validate_bin_id(bin_id)
    if ext not in BIN_EXTENSIONS:
        raise InvalidIdentifierError(f"invalid bin file extension {ext!r} (one of hdr, adc, roi)")
    return f"{bin_id}.{ext}"


def parse_bin_key(key: str) -> tuple[str, str]:
    """Split a bin store key ``'{bin_id}.{ext}'`` into ``(bin_id, ext)``, validating both."""
    _checked_str(key, "key")
    bin_id, dot, ext = key.rpartition(".")
    if not dot or ext not in BIN_EXTENSIONS:
        raise InvalidIdentifierError(f"not a bin file key ('{{bin_id}}.hdr|adc|roi'): {key!r}")
    validate_bin_id(bin_id)
    return bin_id, ext
