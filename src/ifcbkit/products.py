"""IFCB products: finding them under a products root, and reading blobs, features and class scores.

Products (section 8 of the formats doc) live in trees of their own, found by
name: ``{pid}_blobs_v{2|4}.zip``, ``{pid}_fea_v{2|4}.csv``, ``{pid}_class.h5``
(class scores v3) and ``{pid}_class_scores.csv`` (as the dashboard serves them).
Discovery is one sans-I/O walk (:mod:`ifcbkit.faces`) with a sync and an async
face; when looking for one bin's product, dated directories (``D2024``,
``D20240215``, ``IFCB5_2012_028``) that cannot hold it are not entered.

The readers are plain functions over files. Both class-score formats read into
one shape, :class:`ClassScores`. HDF5 needs h5py (the ``hdf5`` extra), imported
only when an ``.h5`` file is read.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal, NamedTuple

from .errors import FormatError, InvalidIdentifierError, MissingDependencyError, NotFoundError
from .faces import AsyncFace, Op, SyncFace, operation, stream
from .fileio import Listing
from .identifiers import parse_roi_id, validate_bin_id
from .walk import walk

__all__ = [
    "PRODUCT_KINDS", "AsyncProductDirectory", "ClassScores", "ProductFile", "SyncProductDirectory",
    "async_blob_path", "async_class_scores_path", "async_features_path", "async_find_product_file",
    "async_list_product_files", "parse_product_name", "read_blobs", "read_class_scores", "read_features",
    "sync_blob_path", "sync_class_scores_path", "sync_features_path", "sync_find_product_file",
    "sync_list_product_files",
]  # fmt: skip

ProductKind = Literal["blobs", "features", "class_scores"]
PRODUCT_KINDS: tuple[str, ...] = ("blobs", "features", "class_scores")

PathLike = str | os.PathLike[str]


class ProductFile(NamedTuple):
    """One product file: its bin, kind, version (``None`` for the dashboard's class-score CSV) and path."""

    pid: str
    kind: str
    version: int | None
    path: str


# (kind, pattern, fixed version): the version comes from the name when the pattern has one.
_NAMES: tuple[tuple[str, re.Pattern[str], int | None], ...] = (
    ("blobs", re.compile(r"(.+)_blobs_v(\d{1,3})\.zip", re.ASCII), None),
    ("features", re.compile(r"(.+)_fea_v(\d{1,3})\.csv", re.ASCII), None),
    ("class_scores", re.compile(r"(.+)_class\.h5", re.ASCII), 3),
    ("class_scores", re.compile(r"(.+)_class_scores\.csv", re.ASCII), None),
)
_DATED_DIR = re.compile(r"D\d{4}(\d{2}(\d{2})?)?|IFCB\d{1,6}_\d{4}(_\d{3})?", re.ASCII)


def parse_product_name(name: str) -> tuple[str, str, int | None] | None:
    """``(pid, kind, version)`` of a product file name, or ``None`` if it is not one."""
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


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in PRODUCT_KINDS:
        raise ValueError(f"product kind must be one of {', '.join(PRODUCT_KINDS)}, not {kind!r}")


def _preference(product: ProductFile) -> tuple[bool, int]:
    """Highest version first; unversioned (the class-score CSV) last."""
    return product.version is None, -(product.version or 0)


# ----- discovery ------------------------------------------------------------------------------


class _ProductDirectory:
    """Product files under a root directory, found by name (sans-I/O; see the module doc)."""

    def __init__(self, root: PathLike):
        self.root = os.path.abspath(os.fspath(root))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    def _walk(
        self, enter: Callable[[str], bool], want: Callable[[ProductFile], bool], out: list[ProductFile] | None
    ) -> Op[None]:
        """Every wanted product in entered directories, in sorted depth-first order: emitted, or
        appended to ``out`` when it is given."""
        yield from walk(self.root, _ProductVisitor(enter, want, out), what="products directory")

    @operation
    def find(self, pid: str, kind: ProductKind, version: int | None = None) -> Op[str | None]:
        """The path of a bin's product of ``kind`` (``'blobs'``, ``'features'``, ``'class_scores'``), or
        ``None``. Without ``version`` the highest version wins (for class scores: ``_class.h5``, v3,
        before ``_class_scores.csv``); between equal versions, the first in walk order."""
        validate_bin_id(pid)
        _check_kind(kind)
        if kind is None:
            raise ValueError("find needs a product kind")

        def enter(name: str) -> bool:
            return _DATED_DIR.fullmatch(name) is None or name in pid

        def want(product: ProductFile) -> bool:
            return product.pid == pid and product.kind == kind and (version is None or product.version == version)

        found: list[ProductFile] = []
        yield from self._walk(enter, want, found)
        return min(found, key=_preference).path if found else None

    @stream
    def list(self, kind: ProductKind | None = None, version: int | None = None) -> Op[None]:
        """Every product file under the root as :class:`ProductFile` (of one ``kind`` and ``version``
        when given), in sorted depth-first order."""
        _check_kind(kind)

        def want(product: ProductFile) -> bool:
            return (kind is None or product.kind == kind) and (version is None or product.version == version)

        yield from self._walk(lambda name: True, want, None)


class SyncProductDirectory(_ProductDirectory, SyncFace):
    """A products tree, read synchronously: ``find(pid, kind, version)`` and ``list(kind, version)``."""


class AsyncProductDirectory(_ProductDirectory, AsyncFace):
    """:class:`SyncProductDirectory` for asyncio (``list`` is an async iterator)."""


class _ProductVisitor:
    """What a products walk does in each directory: product files by name, into the subdirectories
    ``enter`` allows."""

    def __init__(
        self, enter: Callable[[str], bool], want: Callable[[ProductFile], bool], out: list[ProductFile] | None
    ):
        self._enter = enter
        self._want = want
        self._out = out

    def enter(self, name: str) -> _ProductVisitor | None:
        return self if self._enter(name) else None

    def files(self, listing: Listing, names: list[str]) -> Op[list[ProductFile]]:
        found = []
        for name in sorted(names):
            parsed = None if name in listing.broken else parse_product_name(name)
            if parsed is not None:
                product = ProductFile(*parsed, os.path.join(listing.path, name))
                if self._want(product):
                    found.append(product)
        if self._out is not None:
            self._out.extend(found)
            return []
        return found
        yield  # a generator


def sync_find_product_file(root: PathLike, pid: str, kind: ProductKind, version: int | None = None) -> str | None:
    """The path of one bin's product under ``root``, or ``None`` (see :meth:`SyncProductDirectory.find`)."""
    return SyncProductDirectory(root).find(pid, kind, version)


async def async_find_product_file(
    root: PathLike, pid: str, kind: ProductKind, version: int | None = None
) -> str | None:
    """:func:`sync_find_product_file` for asyncio."""
    return await AsyncProductDirectory(root).find(pid, kind, version)


def sync_list_product_files(
    root: PathLike, kind: ProductKind | None = None, version: int | None = None
) -> Iterator[ProductFile]:
    """Iterate over the product files under ``root``."""
    return SyncProductDirectory(root).list(kind, version)


def async_list_product_files(
    root: PathLike, kind: ProductKind | None = None, version: int | None = None
) -> AsyncIterator[ProductFile]:
    """:func:`sync_list_product_files` as an async iterator."""
    return AsyncProductDirectory(root).list(kind, version)


def sync_blob_path(root: PathLike, pid: str, version: int | None = None) -> str | None:
    """The bin's ``_blobs_v{version}.zip`` (the highest version without one), or ``None``."""
    return sync_find_product_file(root, pid, "blobs", version)


async def async_blob_path(root: PathLike, pid: str, version: int | None = None) -> str | None:
    return await async_find_product_file(root, pid, "blobs", version)


def sync_features_path(root: PathLike, pid: str, version: int | None = None) -> str | None:
    """The bin's ``_fea_v{version}.csv`` (the highest version without one), or ``None``."""
    return sync_find_product_file(root, pid, "features", version)


async def async_features_path(root: PathLike, pid: str, version: int | None = None) -> str | None:
    return await async_find_product_file(root, pid, "features", version)


def sync_class_scores_path(root: PathLike, pid: str, version: int | None = None) -> str | None:
    """The bin's class scores: ``_class.h5`` (v3) before ``_class_scores.csv``; ``None`` if neither."""
    return sync_find_product_file(root, pid, "class_scores", version)


async def async_class_scores_path(root: PathLike, pid: str, version: int | None = None) -> str | None:
    return await async_find_product_file(root, pid, "class_scores", version)


# ----- readers --------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _name_pid(source: str) -> str | None:
    parsed = parse_product_name(os.path.basename(source))
    return parsed[0] if parsed else None


def read_blobs(path: PathLike) -> Iterator[tuple[str, bytes]]:
    """``(roi_id, png_bytes)`` for each blob mask in a ``_blobs_v*.zip``, in archive order.

    The archive and its member names are checked when this is called
    (:class:`FormatError` naming the file); PNGs are read as they are iterated.
    """
    source = os.fspath(path)
    try:
        archive = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise NotFoundError(f"no blobs file {source}") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise FormatError(source, f"not a readable zip archive ({e})") from None
    try:
        members = _blob_members(archive, source)
    except BaseException:
        archive.close()
        raise
    return _iter_blobs(archive, members, source)


def _blob_members(archive: zipfile.ZipFile, source: str) -> list[tuple[zipfile.ZipInfo, str]]:
    expected = _name_pid(source)
    members = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = info.filename.rsplit("/", 1)[-1]
        roi_id = name[:-4] if name.endswith(".png") else None
        try:
            bin_id, _ = parse_roi_id(roi_id) if roi_id else (None, 0)
        except InvalidIdentifierError:
            bin_id = None
        if bin_id is None:
            raise FormatError(source, f"member {info.filename!r} is not named {{roi_id}}.png")
        if expected is not None and bin_id != expected:
            raise FormatError(source, f"member {info.filename!r} belongs to bin {bin_id}, not {expected}")
        members.append((info, roi_id))
    return members  # type: ignore[return-value]


def _iter_blobs(
    archive: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, str]], source: str
) -> Iterator[tuple[str, bytes]]:
    with archive:
        for info, roi_id in members:
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise FormatError(source, f"member {info.filename!r} is unreadable ({e})") from None
            if not data.startswith(_PNG_SIGNATURE):
                raise FormatError(source, f"member {info.filename!r} is not a PNG image")
            yield roi_id, data


def _read_text(source: str, what: str) -> str:
    try:
        with open(source, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NotFoundError(f"no {what} file {source}") from None
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


def _target(value: Any, source: str, line: int | None) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not number.is_integer() or not 1 <= number <= 999_999:
        raise FormatError(source, f"invalid ROI number {value!r}", line=line)
    return int(number)


def _csv_rows(source: str, what: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(_read_text(source, what), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError(source, "empty file (no header row)") from None
    except csv.Error as e:
        raise FormatError(source, f"not CSV ({e})", line=1) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise FormatError(source, f"{len(row)} fields, the header has {len(header)}", line=reader.line_num)
                yield reader.line_num, row
        except csv.Error as e:
            raise FormatError(source, f"not CSV ({e})", line=reader.line_num) from None

    return [name.strip() for name in header], rows()


def read_features(path: PathLike) -> dict[int, dict[str, float]]:
    """A ``_fea_v*.csv`` as ``{roi_number: {feature: value}}`` (file order; blank values are NaN).

    The ROI number column is ``roi_number`` or ``roiNumber``.
    """
    source = os.fspath(path)
    header, rows = _csv_rows(source, "features")
    key = next((i for i, name in enumerate(header) if name in ("roi_number", "roiNumber")), None)
    if key is None:
        raise FormatError(source, "no roi_number (or roiNumber) column", line=1)
    names = [(i, name) for i, name in enumerate(header) if i != key]
    out: dict[int, dict[str, float]] = {}
    for line, row in rows:
        target = _target(row[key], source, line)
        if target in out:
            raise FormatError(source, f"ROI number {target} appears twice", line=line)
        out[target] = {name: _float(row[i], source, line, name) for i, name in names}
    return out


class ClassScores(NamedTuple):
    """Per-ROI class scores: ``scores[target]`` has one score per name in ``class_names``."""

    class_names: tuple[str, ...]
    scores: dict[int, tuple[float, ...]]
    pid: str | None = None


def read_class_scores(path: PathLike) -> ClassScores:
    """Class scores from a v3 ``_class.h5`` (needs h5py) or a dashboard ``_class_scores.csv``."""
    source = os.fspath(path)
    lower = source.lower()
    if lower.endswith((".h5", ".hdf5")):
        return _read_class_h5(source)
    if lower.endswith(".csv"):
        return _read_class_csv(source)
    raise FormatError(source, "class scores are read from _class.h5 or _class_scores.csv files")


def _read_class_csv(source: str) -> ClassScores:
    header, rows = _csv_rows(source, "class scores")
    if "pid" not in header:
        raise FormatError(source, "no pid column (the ROI ids)", line=1)
    key = header.index("pid")
    classes = [(i, name) for i, name in enumerate(header) if i != key]
    pid = _name_pid(source)
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
        scores[target] = tuple(_float(row[i], source, line, name) for i, name in classes)
    return ClassScores(tuple(name for _, name in classes), scores, pid)


def _import_h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise MissingDependencyError("reading class scores from HDF5 (_class.h5)", "hdf5", "h5py") from None
    return h5py


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _flat(values: Any) -> list[Any]:
    return [v[0] if isinstance(v, list) and len(v) == 1 else v for v in values]


def _read_class_h5(source: str) -> ClassScores:
    h5py = _import_h5py()
    if not os.path.exists(source):
        raise NotFoundError(f"no class scores file {source}")
    try:
        h5 = h5py.File(source, "r")
    except OSError as e:
        raise FormatError(source, f"not a readable HDF5 file ({e})") from None
    with h5:
        missing = [k for k in ("output_scores", "class_labels", "roi_numbers") if k not in h5]
        if missing:
            raise FormatError(source, f"no {', '.join(missing)} dataset")
        try:
            matrix = h5["output_scores"][()].tolist()
            labels = _flat(h5["class_labels"][()].tolist())
            numbers = _flat(h5["roi_numbers"][()].tolist())
        except (AttributeError, KeyError, TypeError, ValueError, OSError) as e:
            raise FormatError(source, f"unreadable class score datasets ({e})") from None
    if not isinstance(matrix, list) or not isinstance(labels, list) or not isinstance(numbers, list):
        raise FormatError(source, "output_scores, class_labels and roi_numbers must be arrays")
    names = tuple(_text(label) for label in labels)
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
        scores[target] = tuple(float(v) for v in row)
    return ClassScores(names, scores, _name_pid(source))
