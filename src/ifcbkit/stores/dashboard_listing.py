"""A dashboard's bin listing, as pure functions over its answers: the ``/api/export_metadata``
CSV and the ``/api/bin`` JSON both become :class:`ListedBin` records.

The export's columns (ifcbdb's ``export_metadata``): ``dataset`` (when one was asked for), ``pid``,
``sample_time``, ``ifcb``, ``ml_analyzed`` (ml), ``latitude``, ``longitude``, ``depth``, ``cruise``,
``cast``, ``niskin``, ``sample_type``, ``n_images``, ``tag1``..., ``comment_summary``,
``trigger_selection`` and ``skip`` (0 or 1). Its ``end_date`` is inclusive (the whole day), and it
answers 404 when no bin matches.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

from ..errors import FormatError, InvalidIdentifierError
from ..identifiers import bin_timestamp, validate_bin_id

EXPORT_COLUMNS: tuple[str, ...] = (
    "pid", "sample_time", "ifcb", "ml_analyzed", "latitude", "longitude", "depth", "cruise", "cast", "niskin",
    "sample_type", "n_images", "skip",
)  # fmt: skip


class ListedBin(NamedTuple):
    """One bin of a dashboard listing, with the metadata the listing carries (nothing is fetched per bin)."""

    pid: str
    sample_time: datetime  # UTC, from the bin id
    ml_analyzed: float  # ml; NaN when the dashboard has none
    lat: float | None
    lng: float | None
    depth: float | None
    n_images: int | None
    skip: bool
    sample_type: str
    cruise: str
    row: Mapping[str, Any]  # every column (or API key) as the dashboard gave it


class ListingProblem(NamedTuple):
    """A row of a listing that could not be read: the bin it names (when it names one) and the error."""

    pid: str | None
    error: FormatError


def _number(text: str) -> float | None:
    text = text.strip()
    if not text or text.lower() in ("nan", "none", "null"):
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]!r} is not a finite number")
    return value


def _flag(text: str) -> bool:
    text = text.strip().lower()
    if text in ("1", "true", "t", "yes"):
        return True
    if text in ("", "0", "false", "f", "no"):
        return False
    raise ValueError(f"skip is {text[:20]!r}, not 0 or 1")


def parse_export_metadata(data: bytes, *, source: str) -> tuple[list[ListedBin], list[ListingProblem]]:
    """The bins of an ``export_metadata`` CSV, in its order, and the rows that could not be read.

    Raises:
        FormatError: naming ``source`` if the CSV has no ``pid`` column or is not CSV at all.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as e:
        raise FormatError(source, f"not CSV ({e})", line=1) from None
    if "pid" not in header:
        raise FormatError(source, "no pid column: not an export_metadata answer", line=1)
    bins: list[ListedBin] = []
    problems: list[ListingProblem] = []
    try:
        for row in reader:
            line = reader.line_num
            pid = (row.get("pid") or "").strip()
            try:
                bins.append(_listed(pid, row))
            except (InvalidIdentifierError, ValueError, TypeError) as e:
                named = None
                with contextlib.suppress(InvalidIdentifierError):
                    named = validate_bin_id(pid)
                problems.append(ListingProblem(named, FormatError(source, f"bin {pid[:64]!r}: {e}", line=line)))
    except csv.Error as e:
        raise FormatError(source, f"not CSV ({e})", line=reader.line_num) from None
    return bins, problems


def _listed(pid: str, row: dict[Any, Any]) -> ListedBin:
    pid = validate_bin_id(pid)
    if None in row:  # csv.DictReader's key for fields past the header's
        raise ValueError(f"{len(row[None]) + len(row) - 1} fields, the header has {len(row) - 1}")
    if any(value is None for value in row.values()):  # csv.DictReader's value for fields the row lacks
        raise ValueError(f"{sum(v is not None for v in row.values())} fields, the header has {len(row)}")
    volume = _number(row.get("ml_analyzed") or "")
    images = _number(row.get("n_images") or "")
    if images is not None and not images.is_integer():
        raise ValueError(f"n_images is {row.get('n_images')!r}")
    return ListedBin(
        pid, bin_timestamp(pid), math.nan if volume is None else volume, _number(row.get("latitude") or ""),
        _number(row.get("longitude") or ""), _number(row.get("depth") or ""), None if images is None else int(images),
        _flag(row.get("skip") or ""), (row.get("sample_type") or "").strip(), (row.get("cruise") or "").strip(),
        dict(row),
    )  # fmt: skip


def listed_from_api(pid: str, api: Mapping[str, Any], metadata: Mapping[str, Any]) -> ListedBin:
    """A :class:`ListedBin` from a bin's ``/api/bin`` answer and its converted metadata
    (:func:`~ifcbkit.stores.dashboard.metadata_from_api`), for the listing by walking.

    Raises:
        ValueError: for values of the wrong kind.
    """
    images = metadata.get("num_images")
    depth = api.get("depth")
    return ListedBin(
        pid, bin_timestamp(pid), float(metadata.get("ml_analyzed", math.nan)), metadata.get("lat"), metadata.get("lng"),
        None if depth is None else float(depth), None if images is None else int(images), bool(api.get("skip")),
        str(api.get("sample_type") or ""), str(api.get("cruise") or ""), dict(api),
    )  # fmt: skip


def date_chunks(
    start: datetime | None, end: datetime | None, days: int
) -> list[tuple[datetime | None, datetime | None]]:
    """``[start, end)`` cut into spans of at most ``days`` days (one span when either end is open)."""
    if start is None or end is None:
        return [(start, end)]
    spans: list[tuple[datetime | None, datetime | None]] = []
    while start < end:
        stop = min(end, start + timedelta(days=days))
        spans.append((start, stop))
        start = stop
    return spans


def export_query(start: datetime | None, end: datetime | None) -> dict[str, str]:
    """``start_date``/``end_date`` for a span ``[start, end)``: whole days, the end day included
    (the dashboard's end date is inclusive); the rows are then filtered to the exact span."""
    query = {}
    if start is not None:
        query["start_date"] = start.date().isoformat()
    if end is not None:
        last: date = (end - timedelta(microseconds=1)).date()
        query["end_date"] = last.isoformat()
    return query


def in_span(when: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or when >= start) and (end is None or when < end)


UTC = timezone.utc
