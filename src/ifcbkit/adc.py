"""The ``.adc`` file: one CSV line per trigger; target k is the k-th non-blank line.

Everything here is a pure function over bytes. Column names are exposed in one
canonical spelling whatever the instrument software wrote (see
:func:`normalize_column_name`); the geometry columns are ``x``, ``y``, ``width``,
``height`` and ``byteOffset``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from .errors import FormatError, NotFoundError
from .identifiers import add_target, parse_bin_id

I_STYLE_COLUMNS: tuple[str, ...] = (
    "trigger", "processingEndTime", "fluorescenceLow", "fluorescenceHigh", "scatteringLow",
    "scatteringHigh", "comparatorPulse", "triggerOpenTime", "frameGrabTime",
    "x", "y", "width", "height", "byteOffset", "valveStatus",
)  # fmt: skip
D_STYLE_COLUMNS: tuple[str, ...] = (
    "trigger", "ADCtime", "PMTA", "PMTB", "PMTC", "PMTD", "PeakA", "PeakB", "PeakC", "PeakD",
    "TimeOfFlight", "GrabTimeStart", "GrabTimeEnd", "x", "y", "width", "height", "byteOffset",
    "ComparatorOut", "StartPoint", "SignalLength", "Status", "RunTime", "InhibitTime",
)  # fmt: skip

GEOMETRY_COLUMNS = ("trigger", "x", "y", "width", "height", "byteOffset")


def _squash(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("_", "").replace("#", "")


_CANONICAL: dict[str, str] = {_squash(n): n for n in D_STYLE_COLUMNS + I_STYLE_COLUMNS}
_CANONICAL.update({"roix": "x", "roiy": "y", "roiwidth": "width", "roiheight": "height", "startbyte": "byteOffset"})


def normalize_column_name(name: str) -> str:
    """The canonical spelling of an ADC column name (``ROIwidth`` -> ``width``, ``ADC_time`` -> ``ADCtime``).

    Names are compared case-insensitively with spaces, underscores and ``#``
    removed; unknown names are returned stripped.
    """
    return _CANONICAL.get(_squash(name), name.strip())


def normalize_column_names(names: Iterable[str]) -> list[str]:
    """:func:`normalize_column_name` over a list, dropping empty names (trailing commas)."""
    return [normalize_column_name(n) for n in names if n.strip()]


def default_column_names(bin_id: str) -> tuple[str, ...]:
    """The column names of the bin's style when its header does not name them."""
    return I_STYLE_COLUMNS if parse_bin_id(bin_id).style == "I" else D_STYLE_COLUMNS


class RoiRecord(NamedTuple):
    """The geometry of one target (one ADC line)."""

    target: int
    trigger: int
    x: int
    y: int
    width: int
    height: int
    offset: int

    @property
    def has_image(self) -> bool:
        return self.width > 0 and self.height > 0

    @property
    def nbytes(self) -> int:
        return self.width * self.height


_new_record = tuple.__new__  # a RoiRecord without the Python-level NamedTuple constructor (thousands per bin)


class AdcLines(NamedTuple):
    """The non-blank lines of an ADC file, with their physical line numbers when blanks were skipped."""

    lines: list[bytes]
    line_numbers: list[int] | None

    def line_number(self, target: int) -> int:
        """The 1-based line of the file that holds ``target``."""
        return target if self.line_numbers is None else self.line_numbers[target - 1]


def split_adc_lines(data: bytes) -> AdcLines:
    """Split ADC bytes into target lines: blank lines are skipped and not numbered."""
    lines = data.splitlines()
    # Fast path: no empty and no whitespace-only line.
    if lines and min(map(len, lines)) > 0 and not any(line.isspace() for line in lines):
        return AdcLines(lines, None)
    kept: list[bytes] = []
    numbers: list[int] = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            kept.append(line)
            numbers.append(number)
    return AdcLines(kept, None if len(kept) == len(lines) else numbers)


def geometry_positions(bin_id: str, columns: Sequence[str] | None = None) -> tuple[int, ...]:
    """Indexes of trigger, x, y, width, height and byteOffset among the ADC columns."""
    names = list(columns) if columns else list(default_column_names(bin_id))
    try:
        return tuple(names.index(c) for c in GEOMETRY_COLUMNS)
    except ValueError:
        missing = [c for c in GEOMETRY_COLUMNS if c not in names]
        raise FormatError(f"{bin_id}.adc", f"the ADC column names lack {', '.join(missing)}") from None


def _number(field: bytes, name: str, source: str, line: int) -> int:
    try:
        return int(field)
    except ValueError:
        pass
    try:
        value = float(field)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise FormatError(source, f"column {name!r} is not an integer: {field.decode('latin-1').strip()!r}", line=line)
    return int(value)


def parse_roi_record(line: bytes, target: int, positions: tuple[int, ...], source: str, line_number: int) -> RoiRecord:
    """The geometry of one ADC line; the one place ADC geometry is parsed."""
    fields = line.split(b",")
    pt, px, py, pw, ph, po = positions
    try:
        trigger, x, y = int(fields[pt]), int(fields[px]), int(fields[py])
        width, height, offset = int(fields[pw]), int(fields[ph]), int(fields[po])
    except IndexError:
        raise FormatError(
            source, f"has {len(fields)} columns, fewer than the geometry needs", line=line_number
        ) from None
    except ValueError:
        values = [_number(fields[p], n, source, line_number) for p, n in zip(positions, GEOMETRY_COLUMNS)]
        trigger, x, y, width, height, offset = values
    if width < 0 or height < 0:
        raise FormatError(source, f"negative ROI size {width}x{height}", line=line_number)
    if offset < 0 and width and height:
        raise FormatError(source, f"negative byte offset {offset}", line=line_number)
    return _new_record(RoiRecord, (target, trigger, x, y, width, height, offset))


def iter_adc_targets(
    bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, source: str | None = None
) -> Iterator[RoiRecord]:
    """Every target of an ADC file, in order, as :class:`RoiRecord` (with or without an image).

    ``columns`` are the header's canonical ADC column names, if it names them.
    """
    positions = geometry_positions(bin_id, columns)
    source = source or f"{bin_id}.adc"
    split = split_adc_lines(data)
    for target, line in enumerate(split.lines, 1):
        yield parse_roi_record(line, target, positions, source, split.line_number(target))


def parse_adc_bytes(
    bin_id: str, data: bytes, *, extended: bool = False, columns: Sequence[str] | None = None,
    source: str | None = None,
) -> dict[int, dict[str, Any]]:  # fmt: skip
    """``{target: {'roi_id', 'x', 'y', 'width', 'height'}}`` for the targets that have an image.

    With ``extended=True`` each entry also has ``'trigger'`` and ``'offset'``.
    """
    out: dict[int, dict[str, Any]] = {}
    for r in iter_adc_targets(bin_id, data, columns=columns, source=source):
        if r.has_image:
            entry: dict[str, Any] = {
                "roi_id": add_target(bin_id, r.target), "x": r.x, "y": r.y, "width": r.width, "height": r.height,
            }  # fmt: skip
            if extended:
                entry["trigger"] = r.trigger
                entry["offset"] = r.offset
            out[r.target] = entry
    return out


def parse_adc_file(
    bin_id: str, path: str | os.PathLike[str], *, extended: bool = False, columns: Sequence[str] | None = None
) -> dict[int, dict[str, Any]]:
    """:func:`parse_adc_bytes` on a file."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_adc_bytes(bin_id, data, extended=extended, columns=columns, source=os.fspath(path))


class AdcTable:
    """Every column of every ADC line, as floats, by canonical column name.

    ``rows[k - 1]`` is target k. Empty fields are NaN; lines shorter than the
    widest line are padded with NaN.
    """

    __slots__ = ("names", "rows")

    def __init__(self, names: Sequence[str], rows: list[tuple[float, ...]]):
        self.names = tuple(names)
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"AdcTable({len(self.rows)} rows, columns={list(self.names)})"

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def column(self, name: str) -> list[float]:
        """One column, target order."""
        try:
            i = self.names.index(name)
        except ValueError:
            raise NotFoundError(f"no ADC column {name!r} (columns: {', '.join(self.names)})") from None
        return [row[i] for row in self.rows]

    def row(self, target: int) -> dict[str, float]:
        """One target's line as ``{column: value}``."""
        if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= len(self.rows):
            raise NotFoundError(f"no ADC line for target {target!r} (targets 1..{len(self.rows)})")
        return dict(zip(self.names, self.rows[target - 1]))


def _floats(fields: list[bytes], source: str, line: int, names: Sequence[str]) -> tuple[float, ...]:
    out = []
    for i, field in enumerate(fields):
        if not field.strip():
            out.append(math.nan)
            continue
        try:
            out.append(float(field))
        except ValueError:
            name = names[i] if i < len(names) else f"column {i + 1}"
            text = field.decode("latin-1").strip()
            raise FormatError(source, f"{name!r} is not a number: {text!r}", line=line) from None
    return tuple(out)


def parse_adc_table(
    bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, usecols: Iterable[str] | None = None,
    source: str | None = None,
) -> AdcTable:  # fmt: skip
    """Parse every column (or only ``usecols``) of every line by canonical name.

    ``columns`` are the header's names (see :func:`ifcbkit.header.adc_column_names`);
    without them the I-/D-style defaults apply, cut to the width of the file
    (older D-style files have 22 columns).
    """
    source = source or f"{bin_id}.adc"
    names = list(columns) if columns else list(default_column_names(bin_id))
    split = split_adc_lines(data)
    rows_fields = [line.split(b",") for line in split.lines]
    # I-style lines end with a comma: an empty last field is not a column.
    width = max((len(f) - (not f[-1].strip()) for f in rows_fields), default=len(names))
    if width > len(names):
        names += [f"column{i + 1}" for i in range(len(names), width)]
    names = names[:width] if not columns else names
    wanted = list(range(len(names)))
    if usecols is not None:
        usecols = list(usecols)
        unknown = [c for c in usecols if c not in names]
        if unknown:
            missing = ", ".join(map(repr, unknown))
            raise NotFoundError(f"{source}: no ADC column {missing} (columns: {', '.join(names)})")
        wanted = [names.index(c) for c in usecols]
    wanted_names = [names[i] for i in wanted]
    rows: list[tuple[float, ...]] = []
    for target, fields in enumerate(rows_fields, 1):
        picked = [fields[i] if i < len(fields) else b"" for i in wanted]
        try:
            rows.append(tuple(map(float, picked)))
        except ValueError:
            rows.append(_floats(picked, source, split.line_number(target), wanted_names))
    return AdcTable(wanted_names, rows)
