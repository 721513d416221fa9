"""A dashboard's bin listing, as pure functions over its answers: the ``/api/export_metadata``
CSV and the ``/api/bin`` JSON both become :class:`ListedBin` records.

The export's columns (ifcbdb's ``export_metadata``): ``dataset`` (when one was asked for), ``pid``,
``sample_time``, ``ifcb``, ``ml_analyzed`` (ml), ``latitude``, ``longitude``, ``depth``, ``cruise``,
``cast``, ``niskin``, ``sample_type``, ``n_images``, ``tag1``..., ``comment_summary``,
``trigger_selection`` and ``skip`` (0 or 1). Its ``end_date`` is inclusive (the whole day), and it
answers 404 when no bin matches.

The CSV is read by :func:`csv_records`, with the csv module; its field size limit (global to the
process) is lifted to an answer's size when the answer is larger: a 200 KB comment does not fail a
listing. Volumes (``ml_analyzed``) must be finite and not negative, ``n_images`` a count; any other
value makes the row a :class:`ListingProblem`.
:func:`merge_listings` merges the answers of several requests by bin id: a bin listed twice with
the same metadata once, a bin listed with different metadata as a problem, never as a bin.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple, TypeVar, overload

from ...engine.compute import give_way
from ...errors import FormatError, InvalidIdentifierError
from ...formats.ids import bin_timestamp, is_bin_id, validate_bin_id

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
    source: str | None = None  # the answer that listed it (a URL with its query)
    line: int | None = None  # its line in that answer (export_metadata)


# A listed bin as an exact tuple of atomic values: ListedBin's fields in its order, with its ``row``
# as ``(header, fields)`` (the answer's header tuple, shared by its rows, and the row's strings).
# CPython's garbage collector tracks a NamedTuple (a tuple subclass) and a dict for as long as they
# live, and a listing of 40,000 ListedBins made every full collection walk 80,000 objects more (a
# pause of 15-50 ms of the whole process); it stops tracking an exact tuple of strings, numbers,
# datetimes and None, so a listing kept in these costs the collector nothing.
CompactBin = tuple[
    str, datetime, float, float | None, float | None, float | None, int | None, bool, str, str,
    tuple[str, ...], tuple[str, ...], str | None, int | None,
]  # fmt: skip


def expand(compact: CompactBin) -> ListedBin:
    """The :class:`ListedBin` a :data:`CompactBin` stands for (its ``row`` a new dict)."""
    header, fields = compact[10], compact[11]
    return ListedBin(*compact[:10], dict(zip(header, fields)), compact[12], compact[13])


class ListedBins(Sequence[ListedBin]):
    """A listing's bins, kept as :data:`CompactBin` tuples (which the garbage collector leaves
    alone) and each made a :class:`ListedBin` when it is read. Equal to any sequence of the same
    bins, as the list it stands for."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[CompactBin]):
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> ListedBin: ...

    @overload
    def __getitem__(self, index: slice) -> list[ListedBin]: ...

    def __getitem__(self, index: int | slice) -> ListedBin | list[ListedBin]:
        if isinstance(index, slice):
            return [expand(row) for row in self._rows[index]]
        return expand(self._rows[index])

    def __iter__(self) -> Iterator[ListedBin]:
        return map(expand, self._rows)

    def pids(self) -> list[str]:
        """The bins' ids, in order (without making their records)."""
        return [row[0] for row in self._rows]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ListedBins):
            return self._rows == other._rows
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # (mutable-looking, like the list it stands for)

    def __repr__(self) -> str:
        return repr(list(self))


class ListingProblem(NamedTuple):
    """A row of a listing that could not be read: the bin it names (when it names one) and the error."""

    pid: str | None
    error: FormatError


# A number in a listing longer than this is damage (a double needs 24 characters; 5,000 digits is an attack).
MAX_NUMBER_CHARS = 400

# The fields of a ListedBin that two listings of one bin must agree on.
COMPARED_FIELDS: tuple[str, ...] = (
    "ml_analyzed", "lat", "lng", "depth", "n_images", "skip", "sample_type", "cruise",
)  # fmt: skip


def _number(text: str) -> float | None:
    text = text.strip()
    if not text or text.lower() in ("nan", "none", "null"):
        return None
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters ({text[:20]!r}...)")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]!r} is not a finite number")
    return value


def check_volume(value: float, what: str = "ml_analyzed") -> float:
    """``value`` if it can be a volume in ml (finite, not negative; NaN means none).

    Raises:
        ValueError: for an infinite or negative volume.
    """
    if math.isnan(value):
        return value
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} is {value!r}, not a volume in ml (a finite number, not negative)")
    return value


def _flag(text: str) -> bool:
    text = text.strip().lower()
    if text in ("1", "true", "t", "yes"):
        return True
    if text in ("", "0", "false", "f", "no"):
        return False
    raise ValueError(f"skip is {text[:20]!r}, not 0 or 1")


def lift_field_size_limit(size: int) -> None:
    """Raise the csv module's field size limit to ``size`` characters if it is lower (never lower it).

    The limit is global to the process (131,072 characters by default) and one long comment in a
    listing must not fail it; a field can be no longer than the answer that holds it, so a limit of
    the answer's size reads every field. Only ever raising it keeps whatever a larger limit another
    part of the program set, and no reader of this process starts failing where it read before.
    """
    if size > csv.field_size_limit():
        csv.field_size_limit(size)


def csv_records(text: str, *, source: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` for each record of an RFC 4180 CSV text (blank lines are skipped); ``line``
    is the 1-based line the record starts on. Read by the csv module, whose field size limit is lifted
    to the text's size (:func:`lift_field_size_limit`): no limit on a field's size but the text's.

    Raises:
        FormatError: naming ``source`` and the line for a quoted field that is never closed.
    """
    lift_field_size_limit(len(text) + 1)
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines)
    line, start = 1, 0
    last_line, last_start = 1, len(text)
    for fields in reader:
        if fields and fields != [""]:
            yield line, fields
        last_line, last_start = line, start
        line, start = reader.line_num + 1, lines.tell()
    if '"' in text[last_start:]:
        # The lenient reader reads a quote left open as a field up to the end of the text; the last
        # record is read again strictly to tell (an unclosed quote can only be in the last record).
        try:
            for _ in csv.reader(io.StringIO(text[last_start:], newline=""), strict=True):
                pass
        except csv.Error as e:
            if "unexpected end of data" in str(e):
                raise FormatError(source, "not CSV (a quoted field is never closed)", line=last_line) from None


def parse_export_metadata(data: bytes, *, source: str) -> tuple[list[ListedBin], list[ListingProblem]]:
    """The bins of an ``export_metadata`` CSV, in its order, and the rows that could not be read.

    Raises:
        FormatError: naming ``source`` if the CSV has no ``pid`` column or is not CSV at all.
    """
    rows, problems = parse_export_rows(data, source=source)
    return [expand(row) for row in rows], problems


def parse_export_rows(data: bytes, *, source: str) -> tuple[list[CompactBin], list[ListingProblem]]:
    """:func:`parse_export_metadata`'s bins as :data:`CompactBin` tuples, made without a dict or a
    record per row (what a listing keeps: see :class:`ListedBins`).

    Raises:
        FormatError: naming ``source`` if the CSV has no ``pid`` column or is not CSV at all.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    records = csv_records(text, source=source)
    first = next(records, None)
    header = () if first is None else tuple(name.strip() for name in first[1])
    if "pid" not in header:
        raise FormatError(source, "no pid column: not an export_metadata answer", line=1)
    rows: list[CompactBin] = []
    problems: list[ListingProblem] = []
    at, width = header.index("pid"), len(header)
    columns = {name: k for k, name in enumerate(header)}  # (a name given twice: its last column, as a dict of the row)
    for count, (line, fields) in enumerate(records, 1):
        if not count & 15:
            give_way()  # (in the compute lane: see ifcbkit.engine.compute)
        pid = fields[at].strip() if len(fields) > at else ""
        try:
            if len(fields) != width:
                validate_bin_id(pid)
                raise ValueError(f"{len(fields)} fields, the header has {len(header)}")
            rows.append(_compact(pid, header, tuple(fields), columns, source, line))
        except (InvalidIdentifierError, ValueError, TypeError) as e:
            named = None
            with contextlib.suppress(InvalidIdentifierError):
                named = validate_bin_id(pid)
            problems.append(ListingProblem(named, FormatError(source, f"bin {pid[:64]!r}: {e}", line=line)))
    return rows, problems


def _sample_time(pid: str) -> datetime:
    """The UTC time of a valid bin id. A D-style id is read here, not through the identifier
    parsers, whose caches would keep two records per listed bin alive (40,000 bins: 80,000 objects
    more for every garbage collection to walk, each full collection a pause of the whole process)."""
    if pid.startswith("D") and is_bin_id(pid):
        return datetime(int(pid[1:5]), int(pid[5:7]), int(pid[7:9]), int(pid[10:12]), int(pid[12:14]),
                        int(pid[14:16]), tzinfo=timezone.utc)  # fmt: skip
    return bin_timestamp(validate_bin_id(pid))


def _compact(
    pid: str,
    header: tuple[str, ...],
    fields: tuple[str, ...],
    columns: Mapping[str, int],
    source: str | None,
    line: int | None,
) -> CompactBin:
    def get(name: str) -> str:
        k = columns.get(name)
        return "" if k is None else fields[k]

    when = _sample_time(pid)
    volume = _number(get("ml_analyzed"))
    check_volume(math.nan if volume is None else volume)
    images = _number(get("n_images"))
    if images is not None and not (images.is_integer() and images >= 0):
        raise ValueError(f"n_images is {get('n_images')!r}, not a count")
    return (
        pid, when, math.nan if volume is None else volume, _number(get("latitude")), _number(get("longitude")),
        _number(get("depth")), None if images is None else int(images), _flag(get("skip")),
        get("sample_type").strip(), get("cruise").strip(), header, fields, source, line,
    )  # fmt: skip


def listed_from_api(pid: str, api: Mapping[str, Any], metadata: Mapping[str, Any]) -> ListedBin:
    """A :class:`ListedBin` from a bin's ``/api/bin`` answer and its converted metadata
    (:func:`~ifcbkit.stores.dashboard.metadata_from_api`), for the listing by walking.

    Raises:
        ValueError: for values of the wrong kind.
    """
    images = metadata.get("num_images")
    if images is not None and int(images) < 0:
        raise ValueError(f"num_images is {images!r}, not a count")
    depth = api.get("depth")
    volume = check_volume(float(metadata.get("ml_analyzed", math.nan)))
    return ListedBin(
        pid, bin_timestamp(pid), volume, metadata.get("lat"), metadata.get("lng"),
        None if depth is None else float(depth), None if images is None else int(images), bool(api.get("skip")),
        str(api.get("sample_type") or ""), str(api.get("cruise") or ""), dict(api),
    )  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _where(source: str | None, line: int | None) -> str:
    return f"{source or 'the listing'}{f', line {line}' if line is not None else ''}"


# The positions of COMPARED_FIELDS, the same in a ListedBin and a CompactBin.
_COMPARED = tuple(ListedBin._fields.index(name) for name in COMPARED_FIELDS)

_Row = TypeVar("_Row", bound=tuple[Any, ...])


def merge_listings(
    listed: Iterable[ListedBin],
) -> tuple[dict[str, ListedBin], list[ListingProblem]]:
    """``({pid: bin}, problems)`` from listed bins, in any order and from any number of answers: a bin
    listed more than once with the same metadata (:data:`COMPARED_FIELDS`) is kept once; a bin
    listed with different metadata is left out, and a problem names both values and where each was."""
    return _merge(listed, lambda b: (b.source, b.line))


def merge_rows(rows: Iterable[CompactBin]) -> tuple[dict[str, CompactBin], list[ListingProblem]]:
    """:func:`merge_listings` over :data:`CompactBin` tuples."""
    return _merge(rows, lambda row: (row[12], row[13]))


def _merge(
    rows: Iterable[_Row], where: Callable[[_Row], tuple[str | None, int | None]]
) -> tuple[dict[str, _Row], list[ListingProblem]]:
    bins: dict[str, _Row] = {}
    conflicts: dict[str, list[_Row]] = {}
    for one in rows:
        pid = one[0]
        if pid in conflicts:
            conflicts[pid].append(one)
            continue
        kept = bins.get(pid)
        if kept is None:
            bins[pid] = one
        elif not all(_same(kept[k], one[k]) for k in _COMPARED):
            conflicts[pid] = [bins.pop(pid), one]
    problems = []
    for pid, versions in conflicts.items():
        first, other = versions[0], versions[1]  # (the second differs from the first: that made the conflict)
        differ = [(n, k) for n, k in zip(COMPARED_FIELDS, _COMPARED) if not _same(first[k], other[k])]
        values = "; ".join(f"{n} {first[k]!r} and {other[k]!r}" for n, k in differ)
        (source, line), (other_source, other_line) = where(first), where(other)
        message = (
            f"bin {pid} is listed {len(versions)} times with different metadata ({values}; at {_where(source, line)}"
            f" and {_where(other_source, other_line)}): left out, since either value could be wrong"
        )
        problems.append(ListingProblem(pid, FormatError(source, message, line=line)))
    return bins, problems


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
