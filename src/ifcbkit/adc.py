"""The ``.adc`` file: one CSV line per trigger; target k is the k-th non-blank line.

Everything here is a pure function over bytes. Column names are exposed in one
canonical spelling whatever the instrument software wrote (see
:func:`normalize_column_name`); the geometry columns are ``x``, ``y``, ``width``,
``height`` and ``byteOffset``.

A line whose geometry does not parse is *damaged*: by default it is skipped (its
target has no image) with an :class:`~ifcbkit.errors.AdcLineWarning` naming the
file and line, as ifcbkit 0.3.1 skips it; with ``strict=True`` it raises
:class:`~ifcbkit.errors.FormatError`. :func:`parse_roi_record` is the one place
that decides.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from .errors import AdcLineWarning, FormatError, NotFoundError
from .fileio import read_local_file
from .identifiers import add_target, parse_bin

I_STYLE_COLUMN_NAMES: tuple[str, ...] = (
    "trigger", "processingEndTime", "fluorescenceLow", "fluorescenceHigh", "scatteringLow",
    "scatteringHigh", "comparatorPulse", "triggerOpenTime", "frameGrabTime",
    "x", "y", "width", "height", "byteOffset", "valveStatus",
)  # fmt: skip
D_STYLE_COLUMN_NAMES: tuple[str, ...] = (
    "trigger", "ADCtime", "PMTA", "PMTB", "PMTC", "PMTD", "PeakA", "PeakB", "PeakC", "PeakD",
    "TimeOfFlight", "GrabTimeStart", "GrabTimeEnd", "x", "y", "width", "height", "byteOffset",
    "ComparatorOut", "StartPoint", "SignalLength", "Status", "RunTime", "InhibitTime",
)  # fmt: skip

GEOMETRY_COLUMNS = ("trigger", "x", "y", "width", "height", "byteOffset")

# No IFCB camera frame is wider than 1,380 px: a ROI (or a stitched composite) more than about one and
# a half times that on a side is damage, not data (and a composite stays under 4.2 MP whatever the ADC
# says). Byte offsets are bounded by what a file can hold.
MAX_ROI_SIDE = 2048
MAX_BYTE_OFFSET = 2**48

# Where the geometry is when the header does not name the columns (0-based; the trigger is column 0).
# Looked up at every parse, so this table is the one place the default layout lives.
I_STYLE_COLUMNS: dict[str, int] = {"x": 9, "y": 10, "width": 11, "height": 12, "offset": 13}
D_STYLE_COLUMNS: dict[str, int] = {"x": 13, "y": 14, "width": 15, "height": 16, "offset": 17}


def _columns_for_bin_id(bin_id: str) -> dict[str, int]:
    """The default geometry column table of the bin's style."""
    return I_STYLE_COLUMNS if parse_bin(bin_id).style == "I" else D_STYLE_COLUMNS


def _squash(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("_", "").replace("#", "")


_CANONICAL: dict[str, str] = {_squash(n): n for n in D_STYLE_COLUMN_NAMES + I_STYLE_COLUMN_NAMES}
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
    return I_STYLE_COLUMN_NAMES if parse_bin(bin_id).style == "I" else D_STYLE_COLUMN_NAMES


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
    """Indexes of trigger, x, y, width, height and byteOffset among the ADC columns: from the
    header's column names when given, else from the style's table (:data:`D_STYLE_COLUMNS`)."""
    if not columns:
        c = _columns_for_bin_id(bin_id)
        return (0, c["x"], c["y"], c["width"], c["height"], c["offset"])
    names = list(columns)
    try:
        return tuple(names.index(c) for c in GEOMETRY_COLUMNS)
    except ValueError:
        missing = [c for c in GEOMETRY_COLUMNS if c not in names]
        raise FormatError(f"{bin_id}.adc", f"the ADC column names lack {', '.join(missing)}") from None


def _number(field: bytes, name: str) -> int:
    """An integer ADC field (integral floats such as ``8.0E+01`` too); ``ValueError`` otherwise."""
    try:
        return int(field)
    except ValueError:
        pass
    try:
        value = float(field)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise ValueError(f"column {name!r} is not an integer: {field.decode('latin-1').strip()!r}")
    return int(value)


def _geometry(line: bytes, positions: tuple[int, ...]) -> tuple[int, int, int, int, int, int]:
    """``(trigger, x, y, width, height, offset)`` of a line; ``ValueError`` saying what is wrong."""
    fields = line.split(b",")
    pt, px, py, pw, ph, po = positions
    try:
        trigger, x, y = int(fields[pt]), int(fields[px]), int(fields[py])
        width, height, offset = int(fields[pw]), int(fields[ph]), int(fields[po])
    except IndexError:
        raise ValueError(f"has {len(fields)} columns, fewer than the geometry needs") from None
    except ValueError:
        if max(positions) >= len(fields):
            raise ValueError(f"has {len(fields)} columns, fewer than the geometry needs") from None
        trigger, x, y, width, height, offset = (_number(fields[p], n) for p, n in zip(positions, GEOMETRY_COLUMNS))
    if width < 0 or height < 0:
        raise ValueError(f"negative ROI size {width}x{height}")
    if width > MAX_ROI_SIDE or height > MAX_ROI_SIDE:
        raise ValueError(f"ROI size {_short(width)}x{_short(height)} is larger than any camera frame "
                         f"(at most {MAX_ROI_SIDE} px a side)")  # fmt: skip
    if offset < 0 and width and height:
        raise ValueError(f"negative byte offset {offset}")
    if offset > MAX_BYTE_OFFSET:
        raise ValueError(f"byte offset {_short(offset)} is past any file")
    return trigger, x, y, width, height, offset


def _short(number: int) -> str:
    text = str(number)
    return text if len(text) <= 12 else f"{text[:6]}...({len(text)} digits)"


def damaged_line(source: str, line_number: int, problem: str, strict: bool) -> None:
    """Report a damaged ADC line: :class:`FormatError` when ``strict``, else an :class:`AdcLineWarning`."""
    if strict:
        raise FormatError(source, problem, line=line_number)
    warnings.warn(AdcLineWarning(f"{source}, line {line_number}: damaged ADC line skipped: {problem}"), stacklevel=3)


def parse_roi_record(
    line: bytes, target: int, positions: tuple[int, ...], source: str, line_number: int, strict: bool = False
) -> RoiRecord | None:
    """The geometry of one ADC line; ``None`` for a damaged line (reported by :func:`damaged_line`).

    The one place ADC geometry is parsed.
    """
    try:
        fields = _geometry(line, positions)
    except ValueError as e:
        damaged_line(source, line_number, str(e), strict)
        return None
    return _new_record(RoiRecord, (target, *fields))


def no_image(target: int) -> RoiRecord:
    """The record a damaged line stands for: a target without an image."""
    return _new_record(RoiRecord, (target, 0, 0, 0, 0, 0, 0))


def iter_roi_records(
    bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, source: str | None = None,
    strict: bool = False,
) -> Iterator[RoiRecord]:  # fmt: skip
    """Every target of an ADC file, in order, as :class:`RoiRecord` (with or without an image; a
    damaged line is a target without one). ``columns`` are the header's canonical ADC column names."""
    positions = geometry_positions(bin_id, columns)
    source = source or f"{bin_id}.adc"
    split = split_adc_lines(data)
    for target, line in enumerate(split.lines, 1):
        r = parse_roi_record(line, target, positions, source, split.line_number(target), strict)
        yield no_image(target) if r is None else r


_PLAIN_KEYS = ("roi_id", "x", "y", "width", "height")
_EXTENDED_KEYS = (*_PLAIN_KEYS, "trigger", "offset")
_LINE_KEYS = ("roi_id", "target", "x", "y", "width", "height", "offset")


def _target_dict(bin_id: str, r: RoiRecord) -> dict[str, Any]:
    return {"target": r.target, "roi_id": add_target(bin_id, r.target), "trigger": r.trigger,
            "x": r.x, "y": r.y, "width": r.width, "height": r.height, "offset": r.offset}  # fmt: skip


def iter_adc_targets(
    bin_id: str, adc_bytes: bytes, *, strict: bool = False, columns: Sequence[str] | None = None,
    source: str | None = None,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """A record ``{'target', 'roi_id', 'trigger', 'x', 'y', 'width', 'height', 'offset'}`` for each
    target that has an image, in order.

    Damaged lines are skipped with an :class:`~ifcbkit.errors.AdcLineWarning`.

    Raises:
        FormatError: for a damaged line when ``strict``.
        InvalidIdentifierError: if ``bin_id`` is not a bin id.
    """
    for r in iter_roi_records(bin_id, adc_bytes, columns=columns, source=source, strict=strict):
        if r.width and r.height:
            yield _target_dict(bin_id, r)


def targets_to_dict(targets: Iterable[Mapping[str, Any]], *, extended: bool = False) -> dict[int, dict[str, Any]]:
    """Records of :func:`iter_adc_targets` as ``{target: {'roi_id', 'x', 'y', 'width', 'height'}}``
    (plus ``'trigger'`` and ``'offset'`` when ``extended``), without parsing the ADC again."""
    keys = _EXTENDED_KEYS if extended else _PLAIN_KEYS
    return {record["target"]: {k: record[k] for k in keys} for record in targets}


def parse_adc_bytes(
    bin_id: str, adc_bytes: bytes, *, extended: bool = False, strict: bool = False,
    columns: Sequence[str] | None = None, source: str | None = None,
) -> dict[int, dict[str, Any]]:  # fmt: skip
    """``{target: {'roi_id', 'x', 'y', 'width', 'height'}}`` for the targets that have an image.

    With ``extended=True`` each entry also has ``'trigger'`` and ``'offset'``. ``columns`` are
    the header's canonical ADC column names, if it names them.

    Raises:
        FormatError: for a damaged line when ``strict`` (otherwise it is skipped with a warning).
        InvalidIdentifierError: if ``bin_id`` is not a bin id.
    """
    targets = iter_adc_targets(bin_id, adc_bytes, strict=strict, columns=columns, source=source)
    return targets_to_dict(targets, extended=extended)


def parse_adc_file(
    bin_id: str, adc_path: str | os.PathLike[str], *, extended: bool = False, strict: bool = False,
    columns: Sequence[str] | None = None,
) -> dict[int, dict[str, Any]]:  # fmt: skip
    """:func:`parse_adc_bytes` on a file.

    Raises:
        NotFoundError: if the file does not exist; FormatError: see :func:`parse_adc_bytes`.
    """
    data = read_local_file(adc_path, "ADC file")
    return parse_adc_bytes(bin_id, data, extended=extended, strict=strict, columns=columns, source=os.fspath(adc_path))


def parse_adc_line(bin_id: str, line: str, line_index: int, *, strict: bool = False) -> dict[str, Any] | None:
    """One ADC line (``line_index`` 0-based) as ``{'roi_id', 'target', 'x', 'y', 'width', 'height',
    'offset'}``, or ``None`` when it has no image or is damaged (with a warning unless ``strict``).

    Raises:
        FormatError: for a damaged line when ``strict``.
    """
    positions = geometry_positions(bin_id)
    target = line_index + 1
    r = parse_roi_record(line.strip().encode("utf-8", "surrogateescape"), target, positions,
                         f"{bin_id}.adc", target, strict)  # fmt: skip
    if r is None or not (r.width and r.height):
        return None
    record = _target_dict(bin_id, r)
    return {k: record[k] for k in _LINE_KEYS}


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


def _floats(fields: list[bytes], source: str, line: int, names: Sequence[str], strict: bool) -> tuple[float, ...]:
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
            if strict:
                raise FormatError(source, f"{name!r} is not a number: {text!r}", line=line) from None
            message = f"{source}, line {line}: {name!r} is not a number: {text!r}; read as NaN"
            warnings.warn(AdcLineWarning(message), stacklevel=3)
            out.append(math.nan)
    return tuple(out)


def parse_adc_table(
    bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, usecols: Iterable[str] | None = None,
    source: str | None = None, strict: bool = False,
) -> AdcTable:  # fmt: skip
    """Parse every column (or only ``usecols``) of every line by canonical name.

    ``columns`` are the header's names (see :func:`ifcbkit.header.adc_column_names`);
    without them the I-/D-style defaults apply, cut to the width of the file
    (older D-style files have 22 columns). A field that is not a number is NaN, with an
    :class:`~ifcbkit.errors.AdcLineWarning`.

    Raises:
        FormatError: for a field that is not a number, when ``strict``.
        NotFoundError: if a column of ``usecols`` is not in the file.
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
            rows.append(_floats(picked, source, split.line_number(target), wanted_names, strict))
    return AdcTable(wanted_names, rows)
