"""The command line's argument types, and the words it uses for bins it cannot find or fully read.

Every value a user types is checked here, before any work, into a one-line usage error (exit 2):
numbers within bounds that the work can use (no NaN, no infinity, no page of 10^20 pixels, no
10^11 processes), dates that are on the calendar in UTC, paths and names the system can hold.
Kept apart from :mod:`ifcbkit.cli` so that each bound is stated once, beside its reason.
"""

from __future__ import annotations

import argparse
import math
import os
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone

from ..engine.filters import FilesetFilter, as_utc, not_excluded
from ..errors import IfcbError
from ..formats.ids import is_bin_id, parse_id
from ..jobs.parallel import MAX_WORKERS

__all__ = [
    "MAX_CONNECTIONS", "MAX_PAGE_SIDE", "MAX_SCALE", "MAX_WORKERS", "bounded_int", "dashboard_url",
    "directory_name", "end_time", "folders_left_out", "instrument", "missing_files", "name", "no_bins",
    "page_shape", "path", "pid", "positive_float", "shown", "start_time", "text", "threshold",
]  # fmt: skip

# Requests in flight to one dashboard: a server is not served faster by hundreds of connections.
MAX_CONNECTIONS = 256
# A mosaic page is one byte a pixel: 10,000 x 10,000 is 100 MB, already more than a screen shows.
MAX_PAGE_SIDE = 10_000
# Images scaled past 100 times are larger than any page (an IFCB ROI is at most a few thousand pixels).
MAX_SCALE = 100.0
# The longest path and file name the usual file systems take (bytes): longer fails in the system anyway.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
# Dataset, model and scheduler names, and URLs: generous, but no 10,000-character strings.
MAX_TEXT = 2048
# The first and last instants a bin id can name.
_FIRST_BIN = datetime(1, 1, 1, tzinfo=timezone.utc)
_LAST_BIN = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted, cut to ``limit`` characters (a usage error stays one short line)."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"


def _refuse(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(" ".join(message.split()))  # no newline can break the one line


def _utc(value: str) -> datetime:
    """An ISO 8601 date or time on the calendar in UTC (a naive time is UTC)."""
    if len(value) > 64:
        raise _refuse(f"not an ISO 8601 date or time: {shown(value)}")
    try:
        when = as_utc(value, "time")
    except IfcbError as e:
        if "outside years" in str(e):
            raise _refuse(f"{shown(value)} is outside years 1 to 9999 in UTC") from None
        raise _refuse(f"not an ISO 8601 date or time: {shown(value)}") from None
    assert when is not None
    return when


def threshold(text: str) -> float:
    """A class-score threshold: a number from 0 to 1, as class scores are."""
    try:
        value = float(text) if len(text) <= 64 else math.nan
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise _refuse(f"not a score from 0 to 1 (class scores are): {shown(text)}")
    return value


def start_time(value: str) -> str:
    """``--start``: a date or time before which the last bin id can still come."""
    when = _utc(value)
    if when > _LAST_BIN:
        raise _refuse(f"no bin can be at or after {value}: the last time a bin id names is 9999-12-31T23:59:59Z")
    return value


def end_time(value: str) -> str:
    """``--end``: a date or time after the first instant a bin id can name."""
    if _utc(value) <= _FIRST_BIN:
        raise _refuse(f"no bin can be before {value}: the first time a bin id names is 0001-01-01T00:00:00Z")
    return value


def instrument(value: str) -> str:
    """``--instrument``: an instrument number of 1 to 6 digits, as in bin ids (``10``, ``IFCB010``)."""
    digits = value.strip().upper().removeprefix("IFCB")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 6):
        raise _refuse(f"not an instrument number (1 to 6 digits, as in 10 or IFCB010): {shown(value)}")
    return value


def bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    """An integer type from ``low`` to ``high``: ``what`` says what it counts (for the message)."""

    def parse(value: str) -> int:
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
            raise _refuse(f"not a whole number of {what} from {low} to {high}: {shown(value)}")
        number = int(text)
        if not low <= number <= high:
            raise _refuse(f"{number} {what}: give {low} to {high}")
        return number

    parse.__name__ = what.replace(" ", "_")  # argparse names a type by its function in some messages
    return parse


def positive_float(what: str, high: float) -> Callable[[str], float]:
    """A float type above 0 and at most ``high`` (no NaN, no infinity)."""

    def parse(value: str) -> float:
        try:
            number = float(value) if len(value) <= 64 else math.nan
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and 0 < number <= high):
            raise _refuse(f"not {what} above 0 and at most {high:g}: {shown(value)}")
        return number

    parse.__name__ = what.replace(" ", "_")
    return parse


def page_shape(value: str) -> tuple[int, int]:
    """``--shape HxW``: a page of 1 to :data:`MAX_PAGE_SIDE` pixels each way."""
    height, sep, width = value.strip().lower().partition("x")
    sides = (height, width)
    if not (sep and all(s.isascii() and s.isdigit() and len(s) <= 12 for s in sides)):
        raise _refuse(f"not a page size HEIGHTxWIDTH in pixels: {shown(value)}")
    h, w = int(height), int(width)
    if not (1 <= h <= MAX_PAGE_SIDE and 1 <= w <= MAX_PAGE_SIDE):
        raise _refuse(f"a page of {h}x{w} pixels: each side is from 1 to {MAX_PAGE_SIDE}")
    return h, w


def path(value: str) -> str:
    """A file or directory path the system can hold: not empty, at most :data:`MAX_PATH_BYTES` bytes,
    no name in it longer than :data:`MAX_NAME_BYTES` bytes."""
    if not value:
        raise _refuse("an empty path")
    encoded = os.fsencode(value)
    if len(encoded) >= MAX_PATH_BYTES:
        raise _refuse(f"a path of {len(encoded)} bytes (at most {MAX_PATH_BYTES - 1}): {shown(value)}")
    longest = max(encoded.split(os.fsencode(os.sep)), key=len)
    if len(longest) > MAX_NAME_BYTES:
        raise _refuse(f"a name of {len(longest)} bytes in the path (at most {MAX_NAME_BYTES}): {shown(value)}")
    return value


def directory_name(value: str) -> str:
    """``--include``/``--exclude``: one directory name or glob pattern (no path separator)."""
    if not value or os.sep in value or (os.altsep is not None and os.altsep in value):
        raise _refuse(f"not a directory name or glob pattern (one name, no {os.sep!r}): {shown(value)}")
    if len(os.fsencode(value)) > MAX_NAME_BYTES:
        raise _refuse(f"a directory name of more than {MAX_NAME_BYTES} bytes: {shown(value)}")
    return value


def pid(value: str) -> str:
    """A bin id (a ROI id passes too: the command says which bin it belongs to)."""
    try:
        parse_id(value)
    except IfcbError as e:
        if len(value) > 64:
            raise _refuse(f"not an IFCB bin id: {shown(value)}") from None
        raise _refuse(str(e)) from None
    return value


def text(what: str) -> Callable[[str], str]:
    """A non-empty string of at most :data:`MAX_TEXT` characters without control characters."""

    def parse(value: str) -> str:
        if not value.strip() or len(value) > MAX_TEXT or not value.isprintable():
            raise _refuse(f"not {what} (printable, 1 to {MAX_TEXT} characters): {shown(value)}")
        return value

    parse.__name__ = what.replace(" ", "_")
    return parse


def name(what: str) -> Callable[[str], str]:
    """A dashboard's dataset or model name: printable, no ``/`` (it is part of a URL path)."""
    check = text(what)

    def parse(value: str) -> str:
        check(value)
        if "/" in value or len(value) > 200:
            raise _refuse(f"not {what} (at most 200 characters, no '/'): {shown(value)}")
        return value

    parse.__name__ = what.replace(" ", "_")
    return parse


def dashboard_url(value: str) -> str:
    """``--dashboard``: an http(s) URL with a host."""
    text("a dashboard URL")(value)
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _refuse(f"not a dashboard URL (http:// or https:// and a host): {shown(value)}")
    return value


# ----- bins that are not all there, and walks that find none -----------------------------------


def missing_files(pid: str, paths: Mapping[str, str | None]) -> str | None:
    """What a bin lacks, in the one wording every command uses (``None`` when it has its three files):
    ``bin X has no .roi file (DIR/X.roi is missing; it has its .hdr and .adc): it has no images``."""
    hdr = paths.get("hdr")
    missing = [ext for ext in ("adc", "roi") if paths.get(ext) is None]
    if not missing or hdr is None:
        return None
    base = hdr[: -len(".hdr")]
    present = ["hdr", *(ext for ext in ("adc", "roi") if ext not in missing)]
    files = " and ".join(f".{ext}" for ext in missing)
    where = ", ".join(f"{base}.{ext}" for ext in missing)
    verb = "is" if len(missing) == 1 else "are"
    has = " and ".join(f".{ext}" for ext in present)
    lacks = "no images" if missing == ["roi"] else "no targets and no images"
    return f"bin {pid} has no {files} file ({where} {verb} missing; it has its {has}): it has {lacks}"


# How many directories :func:`folders_left_out` looks at, and how many folders it names at most.
_PROBE_DIRS = 2000
_NAMED = 5


def folders_left_out(
    root: str, include: Iterable[str], exclude: Iterable[str], *, limit: int = _NAMED
) -> list[tuple[str, ...]]:
    """Folders under ``root`` (as relative parts) that hold files named like bins but that the
    include/exclude rule does not enter, at most ``limit`` of them, within the first
    :data:`_PROBE_DIRS` directories. Excluded directories are not looked into. Uses the rule's own
    test (:meth:`FilesetFilter.enter`), so whatever names or patterns it takes, this agrees."""
    keep = FilesetFilter(list(include), list(exclude))
    found: list[tuple[str, ...]] = []
    stack: list[tuple[str, tuple[str, ...], bool]] = [(root, (), False)]
    for _ in range(_PROBE_DIRS):
        if not stack or len(found) >= limit:
            break
        directory, parts, left_out = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda entry: entry.name, reverse=True)
        except OSError:
            continue
        holds_bin = False
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if not_excluded(keep, entry.name):
                    stack.append((entry.path, (*parts, entry.name), left_out or not keep.enter(entry.name)))
            elif left_out and entry.name.endswith(".hdr") and is_bin_id(entry.name[: -len(".hdr")]):
                holds_bin = True
        if holds_bin:
            found.append(parts)
    return found


def _include_flags(folders: list[tuple[str, ...]], include: list[str], exclude: list[str]) -> list[str]:
    """The directory names along ``folders`` that the rule does not enter: what ``--include`` needs."""
    keep = FilesetFilter(include, exclude)
    names: list[str] = []
    for parts in folders:
        for part in parts:
            if not keep.enter(part) and part not in names:
                names.append(part)
    return names


def no_bins(root: str, include: Iterable[str], exclude: Iterable[str], *, within: str = "") -> str:
    """Why a walk of ``root`` found no bin, in one line: the folders it did not enter that hold files
    named like bins, and the ``--include`` that would list them. ``within`` says what narrowed the walk
    (`` in that range``)."""
    include, exclude = list(include), list(exclude)
    where = f"no bins in {root}{within}"
    folders = folders_left_out(root, include, exclude)
    if not folders:
        return f"{where} (the walk enters {sorted(include)!r} and directories named like a bin's year or day)"
    names = _include_flags(folders, include, exclude)
    shown = ", ".join(os.path.join(*parts) for parts in folders)
    flags = " ".join(f"--include {n}" for n in names)
    more = ", and maybe more" if len(folders) >= _NAMED else ""
    holds = "holds" if len(folders) == 1 else "hold"
    return (
        f"{where}: the walk did not enter {shown}{more}, which {holds} files named like bins (it enters "
        f"{sorted(include)!r} and directories named like a bin's year or day); {flags} would list them"
    )
