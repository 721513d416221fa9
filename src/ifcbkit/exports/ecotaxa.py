"""EcoTaxa import archives: a zip of ``ecotaxa_{pid}.tsv`` tables and the PNG images they name.

EcoTaxa (and pyifcb's and iRfcb's exports to it) reads a table per sample: row 1 the column names,
row 2 their types (``[t]`` text, ``[f]`` number), then one row per object. Here an object is an
image after stitching, named ``{roi_id}.png``:

- ``img_file_name``, ``object_id`` (the ROI id), ``object_lat``, ``object_lon`` (empty for a bin
  without a position: never 0, 0), ``object_date`` (``YYYYMMDD``) and ``object_time`` (``HHMMSS``),
  UTC, from the bin id;
- ``object_{feature}`` for each column of the bin's features file, when one is found under the
  products (names lowercased, characters other than ``a-z0-9_`` as ``_``);
- ``object_annotation_category`` and ``object_annotation_status`` (``predicted``) when class
  results are found, under the same threshold and rule as ``abundance`` (empty for a ROI no class
  claims);
- ``sample_id`` and ``acq_id`` (the bin id), ``acq_instrument``, ``process_id`` and
  ``process_software``.

Text that EcoTaxa's tab-separated rows cannot carry raw is escaped: a backslash, a double quote,
a tab, a line break or another control character becomes a backslash escape (``\\t``, ``\\n``,
``\\"``, ``\\\\``, ``\\x1b``), so every row is one line of the right number of fields.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..atomic import atomic_file
from ..errors import FormatError, IfcbError
from ..faces.directory import SyncIfcbDataDirectory
from ..faces.products import SyncProductDirectory, sync_find_product_file
from ..formats.encoding import encode_image
from ..formats.ids import parse_bin, parse_roi_id
from ..formats.products import read_features
from ..science.class_results import ClassResult, read_class_result
from ..science.class_rules import Rule, ThresholdSpec, check_rule

__all__ = ["EcotaxaBin", "ecotaxa_text", "write_ecotaxa"]

# Characters a field cannot hold raw: control characters, the quote a CSV reader would take as
# quoting, and the backslash that starts an escape.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\]')
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_NAME = re.compile(r"[^a-z0-9_]")

_LEADING = ("img_file_name", "object_id", "object_lat", "object_lon", "object_date", "object_time")
_LEADING_TYPES = ("[t]", "[t]", "[f]", "[f]", "[t]", "[t]")
_ANNOTATION = ("object_annotation_category", "object_annotation_status")
_TRAILING = ("sample_id", "acq_id", "acq_instrument", "process_id", "process_software")


def ecotaxa_text(value: str) -> str:
    """``value`` with every character a tab-separated field cannot carry raw backslash-escaped."""
    return _UNSAFE.sub(lambda m: _NAMED.get(m[0], f"\\x{ord(m[0]):02x}"), value)


def _number(value: Any) -> str:
    """A number as EcoTaxa reads it; empty for none or a value that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if isinstance(value, int):
        return str(value)
    return repr(value) if math.isfinite(value) else ""


def _position(header: Mapping[str, Any]) -> tuple[float, float] | None:
    """The header's GPS position, or ``None`` when it has none (missing, not a number, out of range, or
    the 0, 0 an instrument without a fix writes)."""
    values = []
    for key, limit in (("gpsLatitude", 90.0), ("gpsLongitude", 180.0)):
        try:
            value = float(header[key])
        except (KeyError, TypeError, ValueError):
            return None
        if not math.isfinite(value) or abs(value) > limit:
            return None
        values.append(value)
    if values == [0.0, 0.0]:
        return None
    return values[0], values[1]


def _feature_columns(source: str, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> dict[str, str]:
    """``{feature: object_ column}`` in the file's order; two features of one column name are refused."""
    columns: dict[str, str] = {}
    taken = {*_LEADING, *_ANNOTATION, *_TRAILING}
    for _, values in rows:
        for name in values:
            if name in columns:
                continue
            column = "object_" + _NAME.sub("_", name.lower())
            if column in taken:
                raise FormatError(source, f"feature {name!r} would be EcoTaxa's column {column}, which another has")
            taken.add(column)
            columns[name] = column
    return columns


@dataclass
class EcotaxaBin:
    """What went into the archive for one bin: its table's name, how many images, and the products
    its rows came from (``None`` when none was found)."""

    pid: str
    table: str
    images: int = 0
    features: str | None = None
    classes: str | None = None
    position: tuple[float, float] | None = None
    unclassified: int = field(default=0)


def _class_file(products: SyncProductDirectory, pid: str) -> str | None:
    found = products.find(pid, "class_scores")
    if found is None:
        found = sync_find_product_file(products.root, f"{pid}_class_v1.mat", exhaustive=True)
    return found


def _rows(
    directory: SyncIfcbDataDirectory, pid: str, archive: zipfile.ZipFile, info: EcotaxaBin,
    features: Mapping[int, Mapping[str, Any]], feature_columns: Mapping[str, str], classes: Mapping[int, str] | None,
) -> list[list[str]]:  # fmt: skip
    timestamp = parse_bin(pid).timestamp
    position = info.position
    lat, lon = ("", "") if position is None else (repr(position[0]), repr(position[1]))
    leading_bin = [lat, lon, timestamp.strftime("%Y%m%d"), timestamp.strftime("%H%M%S")]
    trailing = [pid, pid, f"IFCB{parse_bin(pid).instrument}", "ifcbkit", f"ifcbkit {__version__}"]
    rows = []
    for roi_id, image in directory.iter_images(pid):
        _, target = parse_roi_id(roi_id)
        name = f"{roi_id}.png"
        archive.writestr(zipfile.ZipInfo(name, date_time=timestamp.timetuple()[:6]), encode_image(image, "png"))
        values = features.get(target, {})
        row = [name, roi_id, *leading_bin, *(_number(values.get(f)) for f in feature_columns)]
        if classes is not None:
            label = classes.get(target)
            if label is None:
                info.unclassified += 1
            row += ["", ""] if label is None else [ecotaxa_text(label), "predicted"]
        rows.append([*row, *trailing])
        info.images += 1
    return rows


def write_ecotaxa(
    root: str | os.PathLike[str],
    pids: Iterable[str],
    out: str | os.PathLike[str],
    *,
    products: str | os.PathLike[str] | None = None,
    thresholds: ThresholdSpec | None = None,
    rule: Rule | str = "winner",
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> list[EcotaxaBin]:
    """Write an EcoTaxa import zip to ``out``: for each bin of ``pids`` under the data root ``root``,
    ``ecotaxa_{pid}.tsv`` (one row per image after stitching) and its images as ``{roi_id}.png``
    (see the module doc for the columns). Under ``products``, a bin's features file gives
    ``object_*`` columns and its class results (``_class.h5``, ``_class_scores.csv`` or
    ``_class_v1.mat``, read with ``thresholds`` and ``rule`` as :func:`ifcbkit.science.class_results.read_class_result`
    does) ``object_annotation_category``. ``include``/``exclude`` are the data directory's rules
    (its defaults when ``None``). The zip appears complete under ``out`` or not at all.

    Returns what went in, bin by bin.

    Raises:
        NotFoundError: for an unknown bin or a missing root; InvalidIdentifierError: for a pid that is
            not a bin id; FormatError: for a malformed product file, naming it.
        IfcbError: if ``out`` is a directory; OSError: if it cannot be written.
        ValueError: for an unknown rule or a threshold outside 0..1.
    """
    rule = check_rule(rule)
    wanted = list(dict.fromkeys(parse_bin(pid).bin_id for pid in pids))
    if not wanted:
        raise ValueError("no bins to export")
    if os.path.isdir(out):
        raise IfcbError(f"{os.fspath(out)} is a directory: the EcoTaxa export is one zip file")
    rules: dict[str, Any] = {"include": include} if include is not None else {}
    if exclude is not None:
        rules["exclude"] = exclude
    directory = SyncIfcbDataDirectory(root, **rules)
    for pid in wanted:
        directory.paths(pid)  # an unknown bin fails before anything is written
    found = SyncProductDirectory(products) if products is not None else None
    done: list[EcotaxaBin] = []
    with atomic_file(out) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        for pid in wanted:
            info = EcotaxaBin(pid, f"ecotaxa_{pid}.tsv", position=_position(directory.read_header(pid)))
            features: dict[int, Mapping[str, Any]] = {}
            columns: dict[str, str] = {}
            classes: dict[int, str] | None = None
            if found is not None:
                info.features = found.find(pid, "features")
                if info.features is not None:
                    rows = read_features(info.features)
                    columns = _feature_columns(info.features, rows)
                    features = dict(rows)
                info.classes = _class_file(found, pid)
                if info.classes is not None:
                    result: ClassResult = read_class_result(info.classes, thresholds, rule)
                    classes = result.classes()
            header = [*_LEADING, *columns.values(), *(_ANNOTATION if classes is not None else ()), *_TRAILING]
            types = [*_LEADING_TYPES, *("[f]" for _ in columns), *(("[t]",) * 2 if classes is not None else ())]
            types += ["[t]"] * len(_TRAILING)
            table = _rows(directory, pid, archive, info, features, columns, classes)
            text = "".join("\t".join(row) + "\n" for row in (header, types, *table))
            archive.writestr(info.table, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
            done.append(info)
    return done
