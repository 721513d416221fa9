"""Finding IFCB products under a products root, by name (reading them, and their names:
:mod:`ifcbkit.formats.products`).

Products (section 8 of docs/formats.md) live in trees of their own, found by
name: ``{pid}_blobs_v{2|4}.zip``, ``{pid}_fea_v{2|4}.csv`` or ``{pid}_features_v{N}.csv`` (as
ifcb-features writes it), ``{pid}_class.h5`` (class scores v3), ``{pid}_class_v1.mat``
(ifcb-analysis's class results, version 1) and ``{pid}_class_scores.csv`` (as the dashboard serves
them); a bin with several class files is read from the highest version (``.h5``, then ``.mat``).
ifcb-analysis's manual annotation files are ``{pid}.mat`` exactly, the bin id and nothing else
before ``.mat`` (kind ``manual``, no version): a ``_class_v1.mat`` is never one.
Discovery is one sans-I/O walk with a sync and an async face; when
looking for one bin's product, dated directories (``D2024``, ``D20240215``, ``IFCB5_2012_028``)
that cannot hold it are not entered.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from ..engine.fileio import Listing
from ..engine.filters import DATED_DIR
from ..engine.requests import Op, iterate_async, iterate_sync, map_emits, run_async, run_sync
from ..engine.walk import walk
from ..errors import InvalidIdentifierError, NotFoundError, ProductNotFoundError
from ..formats.ids import validate_bin_id
from ..formats.products import PRODUCT_KINDS, PathLike, ProductFile, ProductKind, parse_product_name

__all__ = [
    "PRODUCT_KINDS", "AsyncProductDirectory", "ProductDirectoryBase", "ProductFile", "ProductFinder", "ProductKind",
    "SyncProductDirectory", "async_blob_path", "preference", "async_class_scores_path", "async_features_path",
    "async_find_product_file", "async_list_product_files", "async_product_path", "parse_product_name",
    "sync_blob_path", "sync_class_scores_path", "sync_features_path", "sync_find_product_file",
    "sync_list_product_files", "sync_product_path",
]  # fmt: skip


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in PRODUCT_KINDS:
        raise ValueError(f"product kind must be one of {', '.join(PRODUCT_KINDS)}, not {kind!r}")


def preference(product: ProductFile) -> tuple[bool, int]:
    """Highest version first; unversioned (the class-score CSV) last."""
    return product.version is None, -(product.version or 0)


# ----- discovery ------------------------------------------------------------------------------


class ProductFinder:
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

    def find(self, pid: str, kind: ProductKind, version: int | None = None) -> Op[str | None]:
        """The path of a bin's product of ``kind`` (``'blobs'``, ``'features'``, ``'class_scores'``,
        ``'manual'``), or ``None``. Without ``version`` the highest version wins (for class scores: ``_class.h5``, v3,
        then ``_class_v1.mat``, then ``_class_scores.csv``); between equal versions, the first in walk order."""
        validate_bin_id(pid)
        _check_kind(kind)
        if kind is None:
            raise ValueError("find needs a product kind")

        def enter(name: str) -> bool:
            return DATED_DIR.fullmatch(name) is None or name in pid

        def want(product: ProductFile) -> bool:
            return product.pid == pid and product.kind == kind and (version is None or product.version == version)

        found: list[ProductFile] = []
        yield from self._walk(enter, want, found)
        return min(found, key=preference).path if found else None

    def list(self, kind: ProductKind | None = None, version: int | None = None) -> Op[None]:
        """Every product file under the root as :class:`ProductFile` (of one ``kind`` and ``version``
        when given), in sorted depth-first order."""
        _check_kind(kind)

        def want(product: ProductFile) -> bool:
            return (kind is None or product.kind == kind) and (version is None or product.version == version)

        yield from self._walk(lambda name: True, want, None)


class ProductDirectoryBase:
    """What both faces of a products tree hold: the :class:`ProductFinder` they run."""

    def __init__(self, root: PathLike):
        """The products under ``root``."""
        self.finder = ProductFinder(root)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    @property
    def root(self) -> str:
        """The products root, as an absolute path."""
        return self.finder.root


class SyncProductDirectory(ProductDirectoryBase):
    """A products tree, read synchronously: ``find(pid, kind, version)`` and ``list(kind, version)``."""

    def find(self, pid: str, kind: ProductKind, version: int | None = None) -> str | None:
        """The path of a bin's product of ``kind`` (``'blobs'``, ``'features'``, ``'class_scores'``,
        ``'manual'``), or ``None``. Without ``version`` the highest version wins (for class scores: ``_class.h5``, v3,
        then ``_class_v1.mat``, then ``_class_scores.csv``); between equal versions, the first in walk order.

        Raises:
            InvalidIdentifierError: if ``pid`` is not a bin id; ValueError: for an unknown kind.
        """
        return run_sync(self.finder.find(pid, kind, version))

    def list(self, kind: ProductKind | None = None, version: int | None = None) -> Iterator[ProductFile]:
        """Every product file under the root (of one ``kind`` and ``version`` when given), in sorted
        depth-first order.

        Raises:
            ValueError: for an unknown kind; NotFoundError: if the root does not exist.
        """
        return iterate_sync(self.finder.list(kind, version))


class AsyncProductDirectory(ProductDirectoryBase):
    """:class:`SyncProductDirectory` for asyncio (``list`` is an async iterator)."""

    async def find(self, pid: str, kind: ProductKind, version: int | None = None) -> str | None:
        """Await the path of a bin's product (:meth:`SyncProductDirectory.find`).

        Raises:
            InvalidIdentifierError: if ``pid`` is not a bin id; ValueError: for an unknown kind.
        """
        return await run_async(self.finder.find(pid, kind, version))

    def list(self, kind: ProductKind | None = None, version: int | None = None) -> AsyncIterator[ProductFile]:
        """``async for`` over the product files under the root (:meth:`SyncProductDirectory.list`).

        Raises:
            ValueError: for an unknown kind; NotFoundError: if the root does not exist.
        """
        return iterate_async(self.finder.list(kind, version))


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


class _NameVisitor:
    """A products walk by file name: the paths of the files ``want`` accepts, entering the
    subdirectories ``enter`` allows."""

    def __init__(self, enter: Callable[[str], bool], want: Callable[[str], bool]):
        self._enter = enter
        self._want = want

    def enter(self, name: str) -> _NameVisitor | None:
        return self if self._enter(name) else None

    def files(self, listing: Listing, names: list[str]) -> Op[list[str]]:
        return [os.path.join(listing.path, n) for n in sorted(names) if n not in listing.broken and self._want(n)]
        yield  # a generator


class _First(Exception):
    def __init__(self, path: str):
        self.path = path


def _check_file_name(filename: str) -> str:
    plain = isinstance(filename, str) and filename not in ("", ".", "..")
    if not plain or "/" in filename or os.sep in filename or "\0" in filename or len(filename) > 255:
        raise InvalidIdentifierError(f"not a product file name: {filename!r}")
    return filename


def _find_file(directory: str, filename: str, exhaustive: bool) -> Op[str | None]:
    _check_file_name(filename)

    def enter(name: str) -> bool:
        return exhaustive or name in filename

    def found(path: str) -> Any:
        raise _First(path)

    try:
        yield from map_emits(walk(directory, _NameVisitor(enter, filename.__eq__), what="products directory"),
                             found)  # fmt: skip
    except _First as first:
        return first.path
    except NotFoundError:
        return None
    return None


def _list_files(directory: str, regex: str | re.Pattern[str]) -> Op[None]:
    pattern = re.compile(regex)
    try:
        yield from walk(directory, _NameVisitor(lambda name: True, lambda n: pattern.match(n) is not None),
                        what="products directory")  # fmt: skip
    except NotFoundError:
        return


def sync_find_product_file(directory: PathLike, filename: str, exhaustive: bool = False) -> str | None:
    """The path of the file named ``filename`` under ``directory``, or ``None``.

    Without ``exhaustive``, only subdirectories whose name is part of ``filename`` are entered
    (``D2024`` and ``D20240215`` for ``D20240215T150055_IFCB010_class.h5``): fast on dated trees.

    Raises:
        InvalidIdentifierError: if ``filename`` is not a plain file name (a path, ``..``).
    """
    return run_sync(_find_file(os.fspath(directory), filename, exhaustive))


async def async_find_product_file(directory: PathLike, filename: str, exhaustive: bool = False) -> str | None:
    """:func:`sync_find_product_file` for asyncio."""
    return await run_async(_find_file(os.fspath(directory), filename, exhaustive))


def sync_list_product_files(directory: PathLike, regex: str | re.Pattern[str]) -> Iterator[str]:
    """The paths of the files under ``directory`` whose name matches ``regex`` (``re.match``), in
    sorted walk order; nothing for a missing directory."""
    return iterate_sync(_list_files(os.fspath(directory), regex))


def async_list_product_files(directory: PathLike, regex: str | re.Pattern[str]) -> AsyncIterator[str]:
    """:func:`sync_list_product_files` as an async iterator."""
    return iterate_async(_list_files(os.fspath(directory), regex))


def _missing(directory: PathLike, filename: str) -> ProductNotFoundError:
    return ProductNotFoundError(f"Product file {filename} not found in {os.fspath(directory)}")


def sync_product_path(directory: PathLike, filename: str, exhaustive: bool = False) -> str:
    """:func:`sync_find_product_file`, raising when there is no such file.

    Raises:
        ProductNotFoundError: (a ``FileNotFoundError`` and a ``KeyError``) when it is not found.
    """
    path = sync_find_product_file(directory, filename, exhaustive)
    if path is None:
        raise _missing(directory, filename)
    return path


async def async_product_path(directory: PathLike, filename: str, exhaustive: bool = False) -> str:
    """:func:`sync_product_path` for asyncio."""
    path = await async_find_product_file(directory, filename, exhaustive)
    if path is None:
        raise _missing(directory, filename)
    return path


def _blob_name(pid: str, version: int) -> str:
    return f"{validate_bin_id(pid)}_blobs_v{int(version)}.zip"


def _features_name(pid: str, version: int) -> str:
    return f"{validate_bin_id(pid)}_fea_v{int(version)}.csv"


def _class_scores_name(pid: str) -> str:
    return f"{validate_bin_id(pid)}_class.h5"


def sync_blob_path(directory: PathLike, pid: str, version: int = 4) -> str:
    """The bin's ``{pid}_blobs_v{version}.zip`` under ``directory``.

    Raises:
        ProductNotFoundError: (a ``FileNotFoundError``) when it is not there;
            InvalidIdentifierError: if ``pid`` is not a bin id.
    """
    return sync_product_path(directory, _blob_name(pid, version))


async def async_blob_path(directory: PathLike, pid: str, version: int = 4) -> str:
    """:func:`sync_blob_path` for asyncio."""
    return await async_product_path(directory, _blob_name(pid, version))


def sync_features_path(directory: PathLike, pid: str, version: int = 4) -> str:
    """The bin's ``{pid}_fea_v{version}.csv`` under ``directory``.

    Raises:
        ProductNotFoundError: (a ``FileNotFoundError``) when it is not there;
            InvalidIdentifierError: if ``pid`` is not a bin id.
    """
    return sync_product_path(directory, _features_name(pid, version))


async def async_features_path(directory: PathLike, pid: str, version: int = 4) -> str:
    """:func:`sync_features_path` for asyncio."""
    return await async_product_path(directory, _features_name(pid, version))


def sync_class_scores_path(directory: PathLike, pid: str) -> str:
    """The bin's v3 class scores ``{pid}_class.h5`` under ``directory`` (for either class-score
    format, ``SyncProductDirectory(directory).find(pid, 'class_scores')``).

    Raises:
        ProductNotFoundError: (a ``FileNotFoundError``) when it is not there;
            InvalidIdentifierError: if ``pid`` is not a bin id.
    """
    return sync_product_path(directory, _class_scores_name(pid))


async def async_class_scores_path(directory: PathLike, pid: str) -> str:
    """:func:`sync_class_scores_path` for asyncio."""
    return await async_product_path(directory, _class_scores_name(pid))
