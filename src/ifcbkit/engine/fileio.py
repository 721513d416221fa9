"""File-system requests for the sans-I/O operations (see :mod:`ifcbkit.engine.requests`).

Each request is one blocking step (list some directories, stat a file, read a
file or a byte range of it). The sync face runs it inline; the async face runs
it in a worker thread, one thread hop per request, never per directory entry.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from ..formats.ranges import ByteRange
from .requests import Request, in_worker_thread_batched


class FileVersion(NamedTuple):
    """What identifies a file's content: a changed file has a different version."""

    path: str
    inode: int
    size: int
    mtime_ns: int


class Listing(NamedTuple):
    """One directory's entries, as one ``os.scandir`` pass saw them."""

    path: str
    names: list[str]  # in directory order (sorting is left to those who need an order)
    files: frozenset[str]  # the names that are neither directories nor broken symlinks
    dirs: frozenset[str]  # directories, including symlinks to directories
    broken: frozenset[str]  # symlinks that lead nowhere readable
    linked_dirs: dict[str, str]  # symlinked directories: the real path of their target
    real_path: str | None = None  # this directory's real path, when it holds symlinked directories
    error: OSError | None = None


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def scan_dir(path: str) -> Listing:
    """List a directory with one ``os.scandir`` pass: no ``stat`` per entry except for symlinks."""
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError as e:
        return Listing(path, [], frozenset(), frozenset(), frozenset(), {}, None, e)
    names = [entry.name for entry in entries]
    # one pass sets the regular files aside (from the entry types the listing already gave)
    dirs = set()
    broken = set()
    linked: dict[str, str] = {}
    for entry in [entry for entry in entries if not entry.is_file(follow_symlinks=False)]:
        if _is_dir(entry):
            dirs.add(entry.name)
            if entry.is_symlink():
                linked[entry.name] = os.path.realpath(entry.path)
        elif not _is_file(entry):  # a broken symlink, a socket, ...
            broken.add(entry.name)
    files = frozenset(names).difference(dirs, broken) if dirs or broken else frozenset(names)
    real_path = os.path.realpath(path) if linked else None
    return Listing(path, names, files, frozenset(dirs), frozenset(broken), linked, real_path)


class ScanDirs(Request[list[Listing]]):
    """List several directories in one step (errors are returned in the listing, not raised)."""

    __slots__ = ("paths",)

    def __init__(self, paths: list[str]):
        self.paths = paths

    def run_sync(self) -> list[Listing]:
        return [scan_dir(p) for p in self.paths]


class StatFile(Request[FileVersion]):
    """The :class:`FileVersion` of a regular file (``FileNotFoundError`` if it is missing)."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def run_sync(self) -> FileVersion:
        st = os.stat(self.path)
        return FileVersion(self.path, st.st_ino, st.st_size, st.st_mtime_ns)


class StatFiles(Request[tuple[FileVersion, ...]]):
    """The :class:`FileVersion` of several files, in one step (``FileNotFoundError`` if one is missing)."""

    __slots__ = ("paths",)

    def __init__(self, paths: list[str]):
        self.paths = paths

    def run_sync(self) -> tuple[FileVersion, ...]:
        out = []
        for path in self.paths:
            st = os.stat(path)
            out.append(FileVersion(path, st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(out)


class FileExists(Request[bool]):
    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def run_sync(self) -> bool:
        return os.path.isfile(self.path)


class ReadFile(Request[bytes]):
    """A whole file's bytes."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def run_sync(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()


class ReadRanges(Request[list[bytes]]):
    """Byte ranges of one file, with one open and one ``pread`` each.

    A range past the end of the file comes back short; the caller decides what
    that means (a truncated bin).
    """

    __slots__ = ("path", "ranges")

    def __init__(self, path: str, ranges: list[ByteRange]):
        self.path = path
        self.ranges = ranges

    async def run_async(self) -> list[bytes]:
        """Ranged reads asked for in the same turn of the event loop go to one worker thread
        together: 300 concurrent ``read_image`` calls make one thread hop, not 300."""
        return await in_worker_thread_batched(self.run_sync)

    def run_sync(self) -> list[bytes]:
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            size = os.fstat(fd).st_size  # never ask for (and allocate) more than the file holds
            spans = [(offset, max(0, min(length, size - offset))) for offset, length in self.ranges]
            if hasattr(os, "pread"):
                return [os.pread(fd, length, offset) if length else b"" for offset, length in spans]
            out = []
            for offset, length in spans:
                os.lseek(fd, offset, os.SEEK_SET)
                out.append(os.read(fd, length) if length else b"")
            return out
        finally:
            os.close(fd)
