"""The ``.hdr`` file: instrument settings and run summary, in three historical families.

1. ``key: value`` lines (``softwareVersion:`` first; 2010 on).
2. Version 1.0 (2005): quoted context lines, a quoted line of column names and
   (except in the oldest files) a line of quoted, comma-separated values.
3. "Acquisition Software version 2.0; May 2010" with a ``Sample Date`` line and
   free text carrying run time, inhibit time, temperature and humidity.

All three parse into one flat dict; the first line (or the context lines of the
2005 family) also goes to ``context``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..adc import normalize_column_names
from ..errors import FormatError
from .files import read_local_file

HeaderValue = int | float | bool | str

CONTEXT = "context"

# The 2005 family's value columns (as the header names them) and the keys and types they map to.
TEMPERATURE = "temperature"
HUMIDITY = "humidity"
BINARIZE_THRESHOLD = "binarizeThreshold"
SCATTERING_PMT_SETTING = "scatteringPhotomultiplierSetting"
FLUORESCENCE_PMT_SETTING = "fluorescencePhotomultiplierSetting"
BLOB_SIZE_THRESHOLD = "blobSizeThreshold"
HDR_SCHEMA: list[tuple[str, type]] = [
    (TEMPERATURE, float), (HUMIDITY, float), (BINARIZE_THRESHOLD, int), (SCATTERING_PMT_SETTING, float),
    (FLUORESCENCE_PMT_SETTING, float), (BLOB_SIZE_THRESHOLD, int),
]  # fmt: skip
HDR_COLUMNS: list[str] = ["Temp", "Humidity", "BinarizeThresh", "PMT1hv(ssc)", "PMT2hv(chl)", "BlobSizeThresh"]

_MAX_NUMBER_LENGTH = 400  # characters; Python refuses ints of more than 4,300 digits
_INT = re.compile(r"[-+]?\d+", re.ASCII)
# Numbers with one way to split their digits (a dot is needed before the fraction), so that a long run
# of digits is matched in linear time: ``\d+\.?\d*`` backtracks quadratically on 2,000 digits.
_FLOAT = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|infinity)", re.ASCII | re.IGNORECASE)
# A number where one starts (not inside a run of digits), for searching free text.
_NUMBER = r"(?<![\d.])([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"

# 2005 column names, in their historical order, with the key and type each maps to.
_V1_COLUMNS = tuple((column.lower(), key, kind) for column, (key, kind) in zip(HDR_COLUMNS, HDR_SCHEMA))


def parse_value(text: str) -> HeaderValue:
    """Type one header value: int, float, ``True``/``False``, or the stripped text."""
    text = text.strip()
    if len(text) > _MAX_NUMBER_LENGTH:  # no instrument writes such a number: keep the text as it is
        return text
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text in ("True", "False"):
        return text == "True"
    return text


def _unquote(line: str) -> str:
    line = line.strip()
    if len(line) >= 2 and line[0] == line[-1] == '"':
        return line[1:-1]
    return line


def _parse_key_value(lines: list[str], source: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {CONTEXT: lines[0].strip()}
    for line in lines:
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and key:
            props[key] = parse_value(value)
    return props


def _parse_v1(lines: list[str], source: str | None) -> dict[str, Any]:
    texts = [_unquote(line) for line in lines]
    i = next((n for n, text in enumerate(texts) if text.lower().startswith("temp")), None)
    if i is None:
        raise FormatError(source, "2005 header without a 'Temp Humidity ...' column line")
    props: dict[str, Any] = {CONTEXT: "\n".join(texts[:i])}
    names = texts[i].split()
    values = [v.strip().strip('"').strip() for v in ",".join(texts[i + 1 : i + 2]).split(",")]
    values = [v for v in values if v]
    if len(values) > len(_V1_COLUMNS):
        raise FormatError(source, f"2005 header has {len(values)} values, expected at most 6", line=i + 2)
    known = {name: (key, kind) for name, key, kind in _V1_COLUMNS}
    for position, value in enumerate(values):
        name = names[position].lower() if position < len(names) else ""
        key, kind = known.get(name, _V1_COLUMNS[position][1:])
        number = parse_value(value)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"
            raise FormatError(source, f"2005 header value {shown} for {key} is not a number", line=i + 2)
        props[key] = int(number) if kind is int and float(number).is_integer() else float(number)
    return props


def _parse_v2_2010(lines: list[str], source: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {CONTEXT: lines[0].strip()}
    text = "\n".join(lines[1:])
    date = re.search(r"Sample Date\s*:?\s*(.*)", text)
    if date:
        props["sampleDate"] = date.group(1).strip()
    patterns = {
        "runTime": r"run\s*time\s*=\s*" + _NUMBER,
        "inhibitTime": r"inhibit\s*time\s*=\s*" + _NUMBER,
        "temperature": _NUMBER + r"\s*temperature",
        "humidity": _NUMBER + r"\s*humidity",
    }
    for key, pattern in patterns.items():
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            props[key] = float(m.group(1))
    return props


def parse_hdr(lines: Iterable[str]) -> dict[str, Any]:
    """Parse header lines (any of the three families) into one dict; no lines give ``{}``.

    Raises:
        FormatError: for lines of no known header family.
    """
    return _parse_hdr_lines(list(lines), None)


def _parse_hdr_lines(lines: list[str], source: str | None) -> dict[str, Any]:
    lines = [line.rstrip("\r\n") for line in lines]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return {}  # as in 0.3.1
    if not lines[0].strip():
        raise FormatError(source, "the header's first line is blank", line=1)
    first = lines[0].strip()
    if re.match(r"softwareversion\s*:", first, re.IGNORECASE):
        return _parse_key_value(lines, source)
    if first.startswith('"'):
        return _parse_v1(lines, source)
    if "version 2.0" in first and len(lines) > 1 and lines[1].strip().lower().startswith("sample date"):
        return _parse_v2_2010(lines, source)
    if "version 1.0" in first:
        return _parse_v1(lines, source)
    if sum(":" in line for line in lines) > len(lines) // 2:
        return _parse_key_value(lines, source)
    raise FormatError(source, f"unrecognised header format (first line {first[:60]!r})", line=1)


def parse_hdr_bytes(content: bytes, *, source: str | None = None) -> dict[str, Any]:
    """Parse the bytes of a ``.hdr`` file (``source`` names it in errors).

    Raises:
        FormatError: for a header of no known family.
    """
    return _parse_hdr_lines(content.decode("latin-1").splitlines(), source)


def parse_hdr_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse a ``.hdr`` file.

    Raises:
        NotFoundError: if there is no such file; FormatError: see :func:`parse_hdr_bytes`.
    """
    return parse_hdr_bytes(read_local_file(path, "header file"), source=os.fspath(path))


def adc_column_names(header: Mapping[str, Any]) -> list[str] | None:
    """The ADC column names the header declares (``ADCFileFormat``), in canonical spelling.

    ``None`` when the header does not name the columns (then the I-/D-style
    defaults of :mod:`ifcbkit.adc` apply).
    """
    fmt = header.get("ADCFileFormat")
    if not isinstance(fmt, str) or not fmt.strip():
        return None
    return normalize_column_names(fmt.split(","))
