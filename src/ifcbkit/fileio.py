"""File-system requests for the sans-I/O operations (see :mod:`ifcbkit.faces`).

Each request is one blocking step (list some directories, stat a file, read a
file or a byte range of it). The sync face runs it inline; the async face runs
it in a worker thread, one thread hop per request, never per directory entry.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from .faces import Request

_BIN_SUFFIXES = (".hdr", ".adc", ".roi", ".mod")


class FileVersion(NamedTuple):
    """What identifies a file's content: a changed file has a different version."""

    path: str
    inode: int
    size: int
    mtime_ns: int


class Listing(NamedTuple):
    """One directory's entries, as one ``os.scandir`` pass saw them."""

    path: str
    names: list[str]  # sorted
    dirs: frozenset[str]  # directories, including symlinks to directories
    broken: frozenset[str]  # bin-file names that are not regular files (broken symlinks, ...)
    linked_dirs: dict[str, tuple[int, int]]  # symlinked directories: (st_dev, st_ino) of their target
    error: OSError | None = None


def scan_dir(path: str) -> Listing:
    """List a directory with one ``os.scandir`` pass: no ``stat`` per entry except for symlinks."""
    names: list[str] = []
    dirs: set[str] = set()
    broken: set[str] = set()
    linked: dict[str, tuple[int, int]] = {}
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                name = entry.name
                names.append(name)
                try:
                    if entry.is_dir():
                        dirs.add(name)
                        if entry.is_symlink():
                            st = entry.stat()
                            linked[name] = (st.st_dev, st.st_ino)
                    elif name.endswith(_BIN_SUFFIXES) and not entry.is_file():
                        broken.add(name)
                except OSError:
                    broken.add(name)
    except OSError as e:
        return Listing(path, [], frozenset(), frozenset(), {}, e)
    names.sort()
    return Listing(path, names, frozenset(dirs), frozenset(broken), linked)


class ScanDirs(Request):
    """List several directories in one step (errors are returned in the listing, not raised)."""

    __slots__ = ("paths",)

    def __init__(self, paths: list[str]):
        self.paths = paths

    def run_sync(self) -> list[Listing]:
        return [scan_dir(p) for p in self.paths]


class StatFile(Request):
    """The :class:`FileVersion` of a regular file (``FileNotFoundError`` if it is missing)."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def run_sync(self) -> FileVersion:
        st = os.stat(self.path)
        return FileVersion(self.path, st.st_ino, st.st_size, st.st_mtime_ns)


class FileExists(Request):
    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def run_sync(self) -> bool:
        return os.path.isfile(self.path)


class ReadFile(Request):
    """A whole file's bytes."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def run_sync(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()


class ReadRanges(Request):
    """Byte ranges ``(offset, length)`` of one file, with one open and one ``pread`` each.

    A range past the end of the file comes back short; the caller decides what
    that means (a truncated bin).
    """

    __slots__ = ("path", "ranges")

    def __init__(self, path: str, ranges: list[tuple[int, int]]):
        self.path = path
        self.ranges = ranges

    def run_sync(self) -> list[bytes]:
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            if hasattr(os, "pread"):
                return [os.pread(fd, length, offset) for offset, length in self.ranges]
            out = []
            for offset, length in self.ranges:
                os.lseek(fd, offset, os.SEEK_SET)
                out.append(os.read(fd, length))
            return out
        finally:
            os.close(fd)
