"""Per-ROI biovolumes from a features file, without parsing the other ~240 columns.

Features files (``{pid}_fea_v2.csv``, ``{pid}_features_v4.csv``, a dashboard's
``{pid}_features.csv``, which serves the same file) have one row per ROI, the ROI number in
``roi_number`` (``roiNumber`` in some older files) and the volume in cubic pixels in
``Biovolume`` (the largest blob) or ``summedBiovolume`` (every blob of the ROI). Carbon needs
only those two fields: the header gives their positions and each line is split only as far as
the later of them.
"""

from __future__ import annotations

import csv
import math
import os

from ..errors import FormatError
from .files import read_local_file

__all__ = ["BIOVOLUME_COLUMNS", "parse_biovolumes", "read_biovolumes"]

BIOVOLUME_COLUMNS: tuple[str, ...] = ("Biovolume", "summedBiovolume")
_ROI_COLUMNS = ("roi_number", "roiNumber")


def read_biovolumes(path: str | os.PathLike[str], column: str = "Biovolume") -> dict[int, float]:
    """``{roi_number: volume in cubic pixels}`` from the features file at ``path``.

    Raises:
        FormatError: naming the file and line for a missing column, a missing, NaN, infinite,
            negative or non-numeric value, or a ROI number that is not one or appears twice.
        NotFoundError: if the file does not exist.
    """
    source = os.fspath(path)
    return parse_biovolumes(read_local_file(source, "features file"), source=source, column=column)


def parse_biovolumes(data: bytes, *, source: str, column: str = "Biovolume") -> dict[int, float]:
    """:func:`read_biovolumes` of a features file's bytes; ``source`` names it in errors.

    Raises:
        FormatError: as :func:`read_biovolumes`.
    """
    if column not in BIOVOLUME_COLUMNS:
        raise ValueError(f"the biovolume column is one of {', '.join(BIOVOLUME_COLUMNS)}, not {column!r}")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        text = bytes(data).decode("latin-1")
    lines = text.split("\n")
    header = next(csv.reader([lines[0].rstrip("\r")])) if lines and lines[0].strip() else []
    if not header:
        raise FormatError(source, "empty file (no header row)")
    header = [name.strip() for name in header]
    key = next((i for i, name in enumerate(header) if name in _ROI_COLUMNS), None)
    if key is None:
        raise FormatError(source, "no ROI number column (roi_number or roiNumber)", line=1)
    if column not in header:
        raise FormatError(source, f"no {column} column", line=1)
    where = header.index(column)
    last = max(key, where)
    out: dict[int, float] = {}
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = next(csv.reader([line])) if '"' in line else line.split(",", last + 1)
        if len(fields) <= last:
            raise FormatError(source, f"{len(fields)} fields, the header has {len(header)}", line=number)
        target = _roi_number(fields[key].strip(), source, number)
        if target in out:
            raise FormatError(source, f"ROI number {target} appears twice", line=number)
        out[target] = _volume(fields[where].strip(), column, source, number)
    return out


def _roi_number(text: str, source: str, line: int) -> int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value.is_integer() or not 1 <= value <= 999_999:
        raise FormatError(source, f"invalid ROI number {text[:40]!r}", line=line)
    return int(value)


def _volume(text: str, column: str, source: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(source, f"{column} is not a number: {text[:40]!r}", line=line) from None
    if not math.isfinite(value) or value < 0:
        raise FormatError(source, f"{column} must be a finite volume of 0 or more, not {text[:40]!r}", line=line)
    return value
