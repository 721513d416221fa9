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
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from .errors import AdcLineWarning, FormatError
from .formats.files import read_local_file
from .formats.ids import add_target, parse_bin

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


def geometry_values(line: bytes, positions: tuple[int, ...]) -> tuple[int, int, int, int, int, int]:
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


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep  # all of ifcbkit


def warn_user(warning: Warning) -> None:
    """Issue ``warning`` at the first frame outside ifcbkit: the user's line, however deep the call (a sync
    face, an async face's coroutine, a stream's ``for``)."""
    frame = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(warning, stacklevel=level)


def skipped_line_warning(source: str, line_number: int, problem: str) -> AdcLineWarning:
    return AdcLineWarning(f"{source}, line {line_number}: damaged ADC line skipped: {problem}")


def warn_skipped(source: str, damaged: Mapping[int, tuple[int, str]]) -> None:
    """One :class:`AdcLineWarning` per damaged line (``{target: (line, problem)}``), at the user's line:
    every pass over a bin that leaves such lines out says so, not only the first parse."""
    for target in sorted(damaged):
        line_number, problem = damaged[target]
        warn_user(skipped_line_warning(source, line_number, problem))


def damaged_line(source: str, line_number: int, problem: str, strict: bool) -> None:
    """Report a damaged ADC line: :class:`FormatError` when ``strict``, else an :class:`AdcLineWarning`."""
    if strict:
        raise FormatError(source, problem, line=line_number)
    warn_user(skipped_line_warning(source, line_number, problem))


def parse_roi_record(
    line: bytes, target: int, positions: tuple[int, ...], source: str, line_number: int, strict: bool = False
) -> RoiRecord | None:
    """The geometry of one ADC line; ``None`` for a damaged line (reported by :func:`damaged_line`).

    The one place ADC geometry is parsed.
    """
    try:
        fields = geometry_values(line, positions)
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
