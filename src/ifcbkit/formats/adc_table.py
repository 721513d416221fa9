"""The ``.adc`` file column-wise: :class:`AdcTable` and the region scan under it, which keep only the
columns asked for as arrays of machine numbers (the line-by-line parsers are :mod:`ifcbkit.adc`)."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, repeat
from operator import add, methodcaller
from typing import NamedTuple

from ..adc import MAX_BYTE_OFFSET, MAX_ROI_SIDE, RoiRecord, default_column_names, geometry_values, warn_user
from ..errors import AdcLineWarning, FormatError, NotFoundError

# ----- compact, column-wise parsing ---------------------------------------------------------------
#
# A bin's ADC can hold a million lines. Splitting it into a list of lines, then each line into a list of
# fields, costs about 13 times the file. The functions below walk the bytes a region (about 256 KB) at a
# time and keep only the columns asked for, as arrays of machine numbers.

REGION_BYTES = 1 << 18
_new_record = tuple.__new__  # a RoiRecord without the Python-level NamedTuple constructor
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_STARTS_WITH_NEWLINE = methodcaller("startswith", b"\n")


class AdcRegion(NamedTuple):
    """Consecutive target lines of an ADC file.

    A *regular* region (every line has the same number of fields, no blank line) has ``fields``: the
    asked columns' fields, by column index, one per line. Any other region has ``lines`` (its target
    lines) and ``line_numbers`` (their 1-based lines in the file), to be parsed one by one.
    """

    first_target: int
    first_line: int
    targets: int
    chunk: bytes
    fields: dict[int, list[bytes]] | None
    lines: list[bytes] | None
    line_numbers: list[int] | None

    def line_number(self, k: int) -> int:
        """The file line of the region's k-th (0-based) target."""
        return self.first_line + k if self.line_numbers is None else self.line_numbers[k]

    def target_lines(self) -> list[bytes]:
        """The region's target lines, to be parsed one by one."""
        return self.chunk.splitlines() if self.lines is None else self.lines


def _regular_fields(chunk: bytes, indices: Sequence[int]) -> tuple[int, dict[int, list[bytes]]] | None:
    """``(lines, {index: fields})`` when every line of ``chunk`` has the same number (at least 2, more than
    any index) of fields and none is blank; ``None`` otherwise."""
    text = chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
    if b"\r" in text:
        return None
    if text.endswith(b"\n"):
        text = text[:-1]
    if not text or text.startswith(b"\n") or b"\n\n" in text:
        return None
    count = text.count(b"\n") + 1
    first = text.find(b"\n")
    stride = text.count(b",", 0, first if first >= 0 else len(text)) + 1
    if stride < 2 or (indices and max(indices) >= stride):
        return None
    # each line's first field but the first line's keeps its newline: a newline anywhere else means a
    # line with another number of fields
    flat = text.replace(b"\n", b",\n").split(b",")
    if len(flat) != count * stride or not all(map(_STARTS_WITH_NEWLINE, flat[stride::stride])):
        return None
    return count, {i: flat[i::stride] for i in indices}


def scan_adc(data: bytes, indices: Sequence[int], region_bytes: int = REGION_BYTES) -> Iterator[AdcRegion]:
    """The target lines of ``data`` (blank lines are not targets), a region at a time, with the fields of
    the columns ``indices`` for regular regions."""
    pos, target, physical, n = 0, 1, 0, len(data)
    while pos < n:
        cut = data.find(b"\n", pos + region_bytes)
        end = n if cut < 0 else cut + 1
        chunk = data[pos:end]
        pos = end
        regular = _regular_fields(chunk, indices)
        if regular is not None:
            count, fields = regular
            yield AdcRegion(target, physical + 1, count, chunk, fields, None, None)
            target += count
            physical += count
            continue
        lines = chunk.splitlines()
        kept, numbers = [], []
        for number, line in enumerate(lines, physical + 1):
            if line.strip():
                kept.append(line)
                numbers.append(number)
        physical += len(lines)
        if kept:
            yield AdcRegion(target, numbers[0], len(kept), chunk, None, kept, numbers)
            target += len(kept)


# Up to this size an ADC's lines are kept as a list (see :class:`LineSpans`).
SMALL_ADC_BYTES = 8 * 2**20


class LineSpans:
    """Where each target's line lies in the ADC bytes, as two arrays of offsets (16 bytes a line, where a
    list of lines costs about 80), so one line can be parsed without splitting the file."""

    __slots__ = ("data", "ends", "lines", "numbers", "starts")

    def __init__(self, data: bytes, region_bytes: int = REGION_BYTES):
        self.data = data
        # an ADC of a usual size, with no blank line and no b"\r", is held as its list of lines: one
        # split, which a cold read of one ROI pays for the whole ADC (offsets cost 2x its instructions),
        # at about 40 bytes a line more than offsets (a 1 MB ADC of 6,500 lines: 0.3 MB)
        self.lines: list[bytes] | None = None
        self.starts = array("q")
        # where each line's content ends; None while every line so far ends in b"\n" right before the next
        # line's start (the usual file), whose ends are then found from the starts
        self.ends: array[int] | None = None
        self.numbers: array[int] | None = None  # file lines of the targets, when blank lines were skipped
        if len(data) <= SMALL_ADC_BYTES and b"\r" not in data:
            lines = data.splitlines()
            if lines and min(map(len, lines)) > 0 and not any(map(bytes.isspace, lines)):
                self.lines = lines
                return
        pos, physical, n = 0, 0, len(data)
        while pos < n:
            cut = data.find(b"\n", pos + region_bytes)
            end = n if cut < 0 else cut + 1
            chunk = data[pos:end]
            lines = chunk.splitlines(keepends=True)
            if b"\r" not in chunk and not any(map(bytes.isspace, lines)):
                # the usual region: no blank line, each line ends in one b"\n" (the last one maybe not),
                # so one split gives both offsets; a cold read of one ROI builds this for the whole ADC
                starts = list(accumulate(map(len, lines), initial=pos))
                starts.pop()
                self.starts.extend(starts)
                if self.ends is not None:
                    self.ends.extend(map(add, starts, map(len, map(methodcaller("rstrip", b"\n"), lines))))
                if self.numbers is not None:
                    self.numbers.extend(range(physical + 1, physical + len(lines) + 1))
                physical += len(lines)
                pos = end
                continue
            if self.ends is None:  # the regular lines so far end right before the next one starts
                self.ends = array("q", map(add, self.starts[1:], repeat(-1)))
                if self.starts:
                    self.ends.append(pos - 1)
            contents = chunk.splitlines()
            starts = list(accumulate(map(len, lines), initial=pos))[:-1]
            if contents and min(map(len, contents)) > 0 and not any(map(bytes.isspace, contents)):
                self.starts.extend(starts)
                self.ends.extend(map(add, starts, map(len, contents)))
                if self.numbers is not None:
                    self.numbers.extend(range(physical + 1, physical + len(contents) + 1))
            else:
                if self.numbers is None:
                    self.numbers = array("q", range(1, len(self.starts) + 1))
                for number, (start, line) in enumerate(zip(starts, contents), physical + 1):
                    if line.strip():
                        self.starts.append(start)
                        self.ends.append(start + len(line))
                        self.numbers.append(number)
            physical += len(contents)
            pos = end

    def __len__(self) -> int:
        return len(self.starts) if self.lines is None else len(self.lines)

    @property
    def nbytes(self) -> int:
        """The bytes the offsets (or the lines of a small ADC) take, the data not included."""
        if self.lines is not None:
            return sum(map(len, self.lines)) + 41 * len(self.lines)
        return (1 + (self.ends is not None) + (self.numbers is not None)) * 8 * len(self.starts)

    def line(self, target: int) -> bytes:
        if self.lines is not None:
            return self.lines[target - 1]
        if self.ends is not None:
            return self.data[self.starts[target - 1] : self.ends[target - 1]]
        start = self.starts[target - 1]
        end = self.starts[target] - 1 if target < len(self.starts) else len(self.data)
        return self.data[start:end].rstrip(b"\n")

    def line_number(self, target: int) -> int:
        return target if self.numbers is None else self.numbers[target - 1]


Geometry = tuple["array[int]", "array[int]", "array[int]", "array[int]", "array[int]", "array[int]"]


def _geometry_fast(fields: dict[int, list[bytes]], positions: tuple[int, ...]) -> Geometry | None:
    """A regular region's geometry columns as arrays, when every field is a plain in-range integer."""
    try:
        columns = tuple(array("q", map(int, fields[p])) for p in positions)
    except (ValueError, OverflowError):
        return None
    _, _, _, widths, heights, offsets = columns
    if not columns[0]:
        return None
    if min(widths) < 0 or min(heights) < 0 or max(widths) > MAX_ROI_SIDE or max(heights) > MAX_ROI_SIDE:
        return None
    if min(offsets) < 0 or max(offsets) > MAX_BYTE_OFFSET:
        return None
    return columns  # type: ignore[return-value]


def region_geometry(
    region: AdcRegion, positions: tuple[int, ...], source: str, strict: bool, damaged: dict[int, tuple[int, str]],
    odd: dict[int, RoiRecord] | None = None,
) -> Geometry:  # fmt: skip
    """``(trigger, x, y, width, height, offset)`` arrays of a region's targets; a damaged line is a target
    without an image (all zeros), noted in ``damaged`` as ``{target: (line, problem)}`` (``FormatError``
    when ``strict``). A record whose numbers do not fit the arrays goes to ``odd`` (zeros in the arrays)."""
    if region.fields is not None:
        fast = _geometry_fast(region.fields, positions)
        if fast is not None:
            return fast
    columns = tuple(array("q") for _ in range(6))
    for k, line in enumerate(region.target_lines()):
        target = region.first_target + k
        try:
            values = geometry_values(line, positions)
        except ValueError as e:
            damaged_at = region.line_number(k)
            if strict:
                raise FormatError(source, str(e), line=damaged_at) from None
            damaged[target] = (damaged_at, str(e))
            values = (0, 0, 0, 0, 0, 0)
        if not all(_INT64_MIN <= v <= _INT64_MAX for v in values):
            if odd is not None:
                odd[target] = _new_record(RoiRecord, (target, *values))
            values = (0, 0, 0, 0, 0, 0)
        for column, value in zip(columns, values):
            column.append(value)
    return columns  # type: ignore[return-value]


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
            warn_user(AdcLineWarning(f"{source}, line {line}: {name!r} is not a number: {text!r}; read as NaN"))
            out.append(math.nan)
    return tuple(out)


def region_floats(
    region: AdcRegion, indices: Sequence[int], names: Sequence[str], source: str, strict: bool
) -> list[array[float]]:
    """The region's values of the columns ``indices`` as float arrays: an empty or missing field is NaN, a
    field that is not a number is NaN with an :class:`AdcLineWarning` (``FormatError`` when ``strict``)."""
    if region.fields is not None:
        try:
            return [array("d", map(float, region.fields[i])) for i in indices]
        except ValueError:
            pass
    out = [array("d") for _ in indices]
    for k, line in enumerate(region.target_lines()):
        fields = line.split(b",")
        picked = [fields[i] if i < len(fields) else b"" for i in indices]
        try:
            values = tuple(map(float, picked))
        except ValueError:
            values = _floats(picked, source, region.line_number(k), names, strict)
        for column, value in zip(out, values):
            column.append(value)
    return out


_NON_BLANK_LAST_FIELD = re.compile(rb"[^,\s][ \t\x0b\x0c\r]*$", re.MULTILINE)


def _width_and_length(data: bytes) -> tuple[int | None, int]:
    """The number of columns of the widest line (a trailing empty field is not a column) and the number
    of target lines; the width is ``None`` without lines."""
    width: int | None = None
    length = 0
    for region in scan_adc(data, ()):
        length += region.targets
        if region.fields is not None:
            chunk = region.chunk
            first = chunk.find(b"\n")
            stride = chunk.count(b",", 0, first if first >= 0 else len(chunk)) + 1
            w = stride if _NON_BLANK_LAST_FIELD.search(chunk) else stride - 1
        else:
            w = max(len(f) - (not f[-1].strip()) for f in (line.split(b",") for line in region.target_lines()))
        width = w if width is None else max(width, w)
    return width, length


class AdcTable:
    """Columns of an ADC file as floats, by canonical column name; target k is row k.

    Empty fields are NaN; lines shorter than the widest line are padded with NaN. A table parsed from
    bytes keeps each column as an ``array('d')`` (8 bytes a value), parsed when first asked for.
    ``AdcTable(names, rows)`` builds one from row tuples.
    """

    __slots__ = ("_columns", "_data", "_file_names", "_length", "_names", "_rows", "_source", "_spans", "_strict")

    def __init__(self, names: Sequence[str], rows: list[tuple[float, ...]]):
        self._names = tuple(names)
        self._rows: list[tuple[float, ...]] | None = rows
        self._columns: dict[str, Sequence[float]] = {}
        self._data: bytes | None = None
        self._length = len(rows)
        self._source = ""
        self._strict = False
        self._spans: LineSpans | None = None
        self._file_names = self._names

    @classmethod
    def over_bytes(
        cls, names: Sequence[str], file_names: Sequence[str], data: bytes, length: int, *, source: str,
        strict: bool = False, columns: Mapping[str, Sequence[float]] | None = None,
    ) -> AdcTable:  # fmt: skip
        """A table of the columns ``names`` of ADC bytes whose columns are ``file_names``; those not given
        in ``columns`` are parsed when first asked for."""
        self = cls.__new__(cls)
        self._names = tuple(names)
        self._file_names = tuple(file_names)
        self._rows = None
        self._columns = dict(columns or {})
        self._data = data
        self._length = length
        self._source = source
        self._strict = strict
        self._spans = None
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def rows(self) -> list[tuple[float, ...]]:
        """Every row as a tuple (built when asked for: a large table holds its columns, not its rows)."""
        if self._rows is not None:
            return self._rows
        if not self._names:
            return [() for _ in range(self._length)]
        return list(zip(*(self.values(n) for n in self._names)))

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return f"AdcTable({self._length} rows, columns={list(self._names)})"

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def _index(self, name: str) -> int:
        try:
            return self._names.index(name)
        except ValueError:
            raise NotFoundError(f"no ADC column {name!r} (columns: {', '.join(self._names)})") from None

    def values(self, name: str) -> Sequence[float]:
        """One column, target order, as the table holds it (an ``array('d')`` for a table parsed from
        bytes): :meth:`column` without the copy to a list."""
        i = self._index(name)
        done = self._columns.get(name)
        if done is not None:
            return done
        if self._rows is not None:
            return [row[i] for row in self._rows]
        assert self._data is not None
        i = self._file_names.index(name)
        column = array("d")
        for region in scan_adc(self._data, (i,)):
            column.extend(region_floats(region, (i,), (name,), self._source, self._strict)[0])
        self._columns[name] = column
        return column

    def column(self, name: str) -> list[float]:
        """One column, target order."""
        return list(self.values(name))

    def row(self, target: int) -> dict[str, float]:
        """One target's line as ``{column: value}``."""
        if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= self._length:
            raise NotFoundError(f"no ADC line for target {target!r} (targets 1..{self._length})")
        if self._rows is not None:
            return dict(zip(self._names, self._rows[target - 1]))
        if all(n in self._columns for n in self._names):
            return {n: self._columns[n][target - 1] for n in self._names}
        assert self._data is not None
        if self._spans is None:
            self._spans = LineSpans(self._data)
        spans = self._spans
        region = AdcRegion(target, spans.line_number(target), 1, b"", None, [spans.line(target)],
                           [spans.line_number(target)])  # fmt: skip
        indices = [self._file_names.index(n) for n in self._names]
        values = region_floats(region, indices, self._names, self._source, self._strict)
        return {n: v[0] for n, v in zip(self._names, values)}


def parse_adc_table(
    bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, usecols: Iterable[str] | None = None,
    source: str | None = None, strict: bool = False,
) -> AdcTable:  # fmt: skip
    """The ADC's columns (or only ``usecols``) by canonical name, as floats.

    ``columns`` are the header's names (see :func:`ifcbkit.formats.hdr.adc_column_names`);
    without them the I-/D-style defaults apply, cut to the width of the file
    (older D-style files have 22 columns). A field that is not a number is NaN, with an
    :class:`~ifcbkit.errors.AdcLineWarning`. The ``usecols`` (every column when ``strict``)
    are parsed at once; other columns when first asked for. Columns are held as
    ``array('d')``: 8 bytes a value, never a list of lines.

    Raises:
        FormatError: for a field that is not a number, when ``strict``.
        NotFoundError: if a column of ``usecols`` is not in the file.
    """
    source = source or f"{bin_id}.adc"
    names = list(columns) if columns else list(default_column_names(bin_id))
    wanted = None if usecols is None else list(usecols)
    length: int | None = None
    if wanted is None or not columns or any(c not in names for c in wanted):
        width, length = _width_and_length(data)
        width = len(names) if width is None else width
        if width > len(names):
            names += [f"column{i + 1}" for i in range(len(names), width)]
        names = names[:width] if not columns else names
    if wanted is not None:
        unknown = [c for c in wanted if c not in names]
        if unknown:
            missing = ", ".join(map(repr, unknown))
            raise NotFoundError(f"{source}: no ADC column {missing} (columns: {', '.join(names)})")
    elif not strict:
        assert length is not None
        return AdcTable.over_bytes(names, names, data, length, source=source)
    wanted = names if wanted is None else wanted
    indices = [names.index(c) for c in wanted]
    arrays = [array("d") for _ in indices]
    count = 0
    for region in scan_adc(data, indices):
        count += region.targets
        for column, values in zip(arrays, region_floats(region, indices, wanted, source, strict)):
            column.extend(values)
    parsed = dict(zip(wanted, arrays))
    return AdcTable.over_bytes(wanted, names, data, count, source=source, strict=strict, columns=parsed)
