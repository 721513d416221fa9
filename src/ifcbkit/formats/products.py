"""IFCB products: reading blobs, features and class scores (finding them in a tree:
:mod:`ifcbkit.engine.requests.products`).

The readers are plain functions over files, each over a ``parse_*`` function of the file's bytes
that products fetched from elsewhere (a dashboard) go through. Both class-score formats read into
one shape, :class:`ClassScores`; every score must be a finite probability (:data:`SCORE_RANGE`,
within :data:`SCORE_SLACK`), or the file is a :class:`~ifcbkit.errors.FormatError`. HDF5 needs h5py
(the ``hdf5`` extra), imported only when an ``.h5`` file is read.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from ..engine.compute import give_way
from ..errors import FormatError, InvalidIdentifierError, MissingDependencyError, MissingFileError
from .files import read_local_file
from .h5 import H5ReadFailure, read_datasets
from .ids import parse_roi_id, validate_bin_id

__all__ = [
    "PRODUCT_KINDS", "ClassScores", "ClassScoresRows", "ProductFile", "ProductKind", "parse_blobs_zip",
    "parse_class_scores_csv", "parse_features_csv", "parse_product_name", "read_blobs", "read_class_scores",
    "read_features",
]  # fmt: skip

ProductKind = Literal["blobs", "features", "class_scores", "manual"]
PRODUCT_KINDS: tuple[str, ...] = ("blobs", "features", "class_scores", "manual")

PathLike = str | os.PathLike[str]


class ProductFile(NamedTuple):
    """One product file: its bin, kind, version (``None`` for the dashboard's class-score CSV and for
    manual annotation files) and path."""

    pid: str
    kind: str
    version: int | None
    path: str


# (kind, pattern, fixed version): the version comes from the name when the pattern has one.
_NAMES: tuple[tuple[str, re.Pattern[str], int | None], ...] = (
    ("blobs", re.compile(r"(.+)_blobs_v(\d{1,3})\.zip", re.ASCII), None),
    ("features", re.compile(r"(.+)_fea_v(\d{1,3})\.csv", re.ASCII), None),
    ("features", re.compile(r"(.+)_features_v(\d{1,3})\.csv", re.ASCII), None),  # ifcb-features' name
    ("class_scores", re.compile(r"(.+)_class\.h5", re.ASCII), 3),
    ("class_scores", re.compile(r"(.+)_class_v1\.mat", re.ASCII), 1),  # ifcb-analysis's class results
    ("class_scores", re.compile(r"(.+)_class_scores\.csv", re.ASCII), None),
    # ifcb-analysis's manual annotations: the bin id alone (checked below), so never a _class_v1.mat
    ("manual", re.compile(r"(.+)\.mat", re.ASCII), None),
)


def parse_product_name(name: str) -> tuple[str, str, int | None] | None:
    """``(pid, kind, version)`` of a product file name, or ``None`` if it is not one (``{pid}.mat``
    is a manual annotation file, kind ``manual``)."""
    for kind, pattern, fixed in _NAMES:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        try:
            validate_bin_id(m[1])
        except InvalidIdentifierError:
            return None
        return m[1], kind, fixed if m.lastindex == 1 else int(m[2])
    return None


# ----- readers --------------------------------------------------------------------------------


# What a damaged zip can raise: bad structure, bad compressed data (zlib, lzma when this Python has
# it), an unsupported compression method or an encrypted member, a size or offset that makes no sense.
_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError, OverflowError,
    *((zipfile.lzma.LZMAError,) if getattr(zipfile, "lzma", None) else ()),  # type: ignore[attr-defined]
)  # fmt: skip

# Class scores are probabilities: a score outside [0, 1] by more than SCORE_SLACK, or not finite, is
# damage. The slack admits what float32 arithmetic gives (a softmax computed with a reciprocal can
# end 1 ulp, 6e-8, above 1; printed as "1.0000001"), and nothing a threshold could tell apart.
SCORE_RANGE = (0.0, 1.0)
SCORE_SLACK = 1e-6

# A score written with more characters than this is damage (a double needs 24; 5,000 digits is an attack).
MAX_SCORE_CHARS = 100

# The largest blob image a blobs zip may hold, uncompressed: a mask of the largest ROI an ADC line
# may declare (2048 x 2048) is 4 MiB as 8-bit pixels, and far less as a PNG.
MAX_BLOB_MEMBER_BYTES = 64 << 20


def _name_pid(source: str) -> str | None:
    parsed = parse_product_name(os.path.basename(source))
    return parsed[0] if parsed else None


def read_blobs(path: PathLike) -> Iterator[tuple[str, bytes]]:
    """``(roi_id, png_bytes)`` for each ``.png`` member of a ``_blobs_v*.zip``, in archive order (the
    ROI id is the member's name without directories and ``.png``; other members are skipped).

    Raises:
        NotFoundError: if the file does not exist; FormatError: if it is not a readable zip, a
            member belongs to another bin than the one the file is named for, or declares more
            than ``MAX_BLOB_MEMBER_BYTES`` (checked before any member is read).
    """
    source = os.fspath(path)
    try:
        archive = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise MissingFileError(f"no blobs file {source}") from None
    except _ZIP_ERRORS as e:
        raise FormatError(source, f"not a readable zip archive ({e})") from None
    try:
        members = _blob_members(archive, source)
    except BaseException:
        archive.close()
        raise
    return _iter_blobs(archive, members, source)


def parse_blobs_zip(data: bytes, *, source: str, pid: str | None = None) -> list[tuple[str, bytes]]:
    """:func:`read_blobs` of a zip's bytes (from a dashboard's ``_blob.zip``): ``[(roi_id, png_bytes)]``;
    every member must be of bin ``pid`` when it is given.

    Raises:
        FormatError: naming ``source`` if it is not a readable zip, or a member is of another bin or
            declares more than ``MAX_BLOB_MEMBER_BYTES``.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    except _ZIP_ERRORS as e:
        raise FormatError(source, f"not a readable zip archive ({e})") from None
    try:
        members = _blob_members(archive, source, pid)
    except BaseException:
        archive.close()
        raise
    return list(_iter_blobs(archive, members, source))


def _blob_members(archive: zipfile.ZipFile, source: str, pid: str | None = None) -> list[tuple[zipfile.ZipInfo, str]]:
    expected = pid or _name_pid(source)
    members = []
    for info in archive.infolist():
        name = info.filename.rsplit("/", 1)[-1]
        # (ZipInfo.is_dir() indexes the name: an empty one, from a damaged directory, is an IndexError)
        if info.filename.endswith("/") or not name.lower().endswith(".png"):
            continue
        roi_id = name[:-4]
        try:
            bin_id, _ = parse_roi_id(roi_id)
        except InvalidIdentifierError:
            bin_id = None
        if expected is not None and bin_id is not None and bin_id != expected:
            raise FormatError(source, f"member {info.filename!r} belongs to bin {bin_id}, not {expected}")
        if info.file_size > MAX_BLOB_MEMBER_BYTES:  # checked before anything is decompressed
            raise FormatError(
                source,
                f"member {info.filename!r} is {info.file_size} bytes uncompressed, more than a blob image"
                f" can be (MAX_BLOB_MEMBER_BYTES = {MAX_BLOB_MEMBER_BYTES})",
            )
        members.append((info, roi_id))
    return members


def _iter_blobs(
    archive: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, str]], source: str
) -> Iterator[tuple[str, bytes]]:
    with archive:
        for info, roi_id in members:
            try:
                data = archive.read(info)
            except _ZIP_ERRORS as e:
                raise FormatError(source, f"member {info.filename!r} is unreadable ({e})") from None
            yield roi_id, data


def _read_text(source: str, what: str, data: bytes | None = None) -> str:
    if data is None:
        data = read_local_file(source, f"{what} file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _float(text: str, source: str, line: int, column: str) -> float:
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise FormatError(source, f"{column!r} is not a number: {text[:40]!r}", line=line) from None


def check_score(value: float) -> str | None:
    """Why ``value`` cannot be a class score (a probability, see :data:`SCORE_RANGE`), or ``None``."""
    low, high = SCORE_RANGE
    if not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if not low - SCORE_SLACK <= value <= high + SCORE_SLACK:
        return f"{value!r} is outside [{low:g}, {high:g}] (class scores are probabilities)"
    return None


def _score(text: str, source: str, line: int, column: str) -> float:
    text = text.strip()
    if len(text) > MAX_SCORE_CHARS:
        raise FormatError(source, f"{column!r} is a number of {len(text)} characters, not a score", line=line)
    value = _float(text, source, line, column)
    if math.isnan(value) and not text:
        raise FormatError(source, f"{column!r} has no score", line=line)
    why = check_score(value)
    if why is not None:
        raise FormatError(source, f"{column!r} is not a score: {why}", line=line)
    return value


def _target(value: Any, source: str, line: int | None) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not number.is_integer() or not 1 <= number <= 999_999:
        raise FormatError(source, f"invalid ROI number {value!r}", line=line)
    return int(number)


def _csv_rows(source: str, what: str, data: bytes | None = None) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(_read_text(source, what, data), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError(source, "empty file (no header row)") from None
    except csv.Error as e:
        raise FormatError(source, f"not CSV ({e})", line=1) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row in reader:
                give_way()  # (when parsing in the async faces' compute lane: see ifcbkit.engine.compute)
                if not row or not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise FormatError(source, f"{len(row)} fields, the header has {len(header)}", line=reader.line_num)
                yield reader.line_num, row
        except csv.Error as e:
            raise FormatError(source, f"not CSV ({e})", line=reader.line_num) from None

    return [name.strip() for name in header], rows()


def _scalar(text: str, source: str, line: int, column: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return _float(text, source, line, column)


def read_features(path: PathLike) -> list[tuple[int, dict[str, int | float]]]:
    """A ``_fea_v*.csv`` as ``[(roi_number, {feature: value}), ...]`` in file order: values are ints
    when they are written as ints, floats otherwise; blank values are left out.

    The ROI number column is ``roi_number`` or ``roiNumber``.

    Raises:
        FormatError: (a ``ValueError``) naming the file and line for anything malformed.
        NotFoundError: if the file does not exist.
    """
    source = os.fspath(path)
    return _features(source, *_csv_rows(source, "features"))


def parse_features_csv(data: bytes, *, source: str) -> list[tuple[int, dict[str, int | float]]]:
    """:func:`read_features` of a file's bytes (from a dashboard, an object store); ``source`` names
    it in errors.

    Raises:
        FormatError: naming ``source`` and the line for anything malformed.
    """
    return _features(source, *_csv_rows(source, "features", bytes(data)))


def _features(
    source: str, header: list[str], rows: Iterator[tuple[int, list[str]]]
) -> list[tuple[int, dict[str, int | float]]]:
    key = next((i for i, name in enumerate(header) if name in ("roi_number", "roiNumber")), None)
    if key is None:
        raise FormatError(source, "no ROI number column (roi_number or roiNumber)", line=1)
    names = [(i, name) for i, name in enumerate(header) if i != key]
    out: list[tuple[int, dict[str, int | float]]] = []
    seen: set[int] = set()
    for line, row in rows:
        if not row[key].strip():
            raise FormatError(source, "a row with no ROI number", line=line)
        target = _target(row[key], source, line)
        if target in seen:
            raise FormatError(source, f"ROI number {target} appears twice", line=line)
        seen.add(target)
        out.append((target, {name: _scalar(row[i].strip(), source, line, name) for i, name in names if row[i].strip()}))
    return out


@dataclass(slots=True)
class ClassScoresRows:
    """One bin's class scores: ``rows`` are ``(roi_number, {class: score})`` in file order.

    ``pid`` (the bin, when the file names it) and :attr:`scores` are additions to the 0.3.1 shape.
    """

    class_names: list[str]
    rows: list[tuple[int, dict[str, float]]]
    pid: str | None = None

    @classmethod
    def from_scores(
        cls, class_names: Sequence[str], scores: Mapping[int, Sequence[float]], pid: str | None = None
    ) -> ClassScoresRows:
        """Rows from ``{roi_number: (score of each class)}``."""
        names = list(class_names)
        return cls(names, [(t, dict(zip(names, row))) for t, row in scores.items()], pid)

    @property
    def scores(self) -> dict[int, tuple[float, ...]]:
        """``{roi_number: (score of each of class_names)}``."""
        names = self.class_names
        return {target: tuple(row[n] for n in names) for target, row in self.rows}


ClassScores = ClassScoresRows  # the 0.1 name


def read_class_scores(path: PathLike) -> ClassScoresRows:
    """Class scores from a v3 ``_class.h5`` (needs h5py) or a dashboard ``_class_scores.csv``.

    Raises:
        FormatError: naming the file (and line) for anything malformed; NotFoundError: if it does
            not exist; MissingDependencyError: for ``.h5`` without h5py.
    """
    source = os.fspath(path)
    lower = source.lower()
    if lower.endswith((".h5", ".hdf5")):
        return _read_class_h5(source)
    if lower.endswith(".csv"):
        return _read_class_csv(source)
    raise FormatError(source, "class scores are read from _class.h5 or _class_scores.csv files")


def parse_class_scores_csv(data: bytes, *, source: str, pid: str | None = None) -> ClassScoresRows:
    """Class scores from the bytes of a dashboard ``_class_scores.csv`` (a ``pid`` column of ROI ids,
    then one column per class); ``source`` names it in errors, and every ROI must be of bin ``pid``
    when it is given (else of the bin the first row names).

    Raises:
        FormatError: naming ``source`` and the line for anything malformed.
    """
    return _read_class_csv(source, bytes(data), pid)


def _read_class_csv(source: str, data: bytes | None = None, pid: str | None = None) -> ClassScoresRows:
    header, rows = _csv_rows(source, "class scores", data)
    if "pid" not in header:
        raise FormatError(source, "no pid column (the ROI ids)", line=1)
    key = header.index("pid")
    classes = [(i, name) for i, name in enumerate(header) if i != key]
    pid = pid or _name_pid(source)
    scores: dict[int, tuple[float, ...]] = {}
    for line, row in rows:
        try:
            bin_id, target = parse_roi_id(row[key].strip())
        except InvalidIdentifierError as e:
            raise FormatError(source, str(e), line=line) from None
        if pid is None:
            pid = bin_id
        if bin_id != pid:
            raise FormatError(source, f"ROI {row[key].strip()} is not in bin {pid}", line=line)
        if target in scores:
            raise FormatError(source, f"ROI {row[key].strip()} appears twice", line=line)
        scores[target] = tuple(_score(row[i], source, line, name) for i, name in classes)
    return ClassScoresRows.from_scores([name for _, name in classes], scores, pid)


def import_h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise MissingDependencyError("reading class scores from HDF5 (_class.h5)", "hdf5", "h5py") from None
    return h5py


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _flat(values: Any) -> list[Any]:
    return [v[0] if isinstance(v, list) and len(v) == 1 else v for v in values]


_H5_DATASETS = ("output_scores", "class_labels", "roi_numbers")


def _read_class_h5(source: str) -> ClassScoresRows:
    import_h5py()
    if not os.path.exists(source):
        raise MissingFileError(f"no class scores file {source}")
    try:  # in a child process: a damaged file can hang the HDF5 library itself
        arrays = read_datasets(source, _H5_DATASETS)
    except H5ReadFailure as e:
        raise FormatError(
            source, e.reason if e.missing else f"not a readable v3 class scores file ({e.reason})"
        ) from None
    try:
        matrix, labels, numbers = arrays[0].tolist(), _flat(arrays[1].tolist()), _flat(arrays[2].tolist())
    except Exception as e:  # a dataset that is not an array
        raise FormatError(source, f"not a readable v3 class scores file ({type(e).__name__}: {e})") from None
    if not isinstance(matrix, list) or not isinstance(labels, list) or not isinstance(numbers, list):
        raise FormatError(source, "output_scores, class_labels and roi_numbers must be arrays")
    try:
        names = tuple(_text(label) for label in labels)
    except UnicodeDecodeError as e:
        raise FormatError(source, f"a class label is not UTF-8 text ({e.object[:40]!r})") from None
    if len(matrix) != len(numbers):
        raise FormatError(source, f"output_scores has {len(matrix)} rows but roi_numbers has {len(numbers)}")
    scores: dict[int, tuple[float, ...]] = {}
    for number, row in zip(numbers, matrix):
        target = _target(number, source, None)
        if not isinstance(row, list) or len(row) != len(names):
            width = len(row) if isinstance(row, list) else 1
            raise FormatError(source, f"ROI {target}: {width} scores for {len(names)} class labels")
        if target in scores:
            raise FormatError(source, f"ROI number {target} appears twice")
        try:
            values = tuple(float(v) for v in row)
        except (TypeError, ValueError):
            raise FormatError(source, f"ROI {target}: scores are not numbers ({str(row)[:60]})") from None
        for name, value in zip(names, values):
            why = check_score(value)
            if why is not None:
                raise FormatError(source, f"ROI {target}, class {name!r}: not a score: {why}")
        scores[target] = values
    return ClassScoresRows.from_scores(names, scores, _name_pid(source))
