"""Files that appear under their final name only when complete.

A file is written beside its target under a hidden temporary name and renamed onto the target
(``os.replace``, atomic within one file system) only after its last byte is written. An error or
an interruption (Ctrl-C, SIGTERM) removes the temporary file and leaves the target as it was: a
reader never meets a well-formed file that is only part of the output.

A process killed outright (SIGKILL, a Dask worker the nanny ends, a lost node) cannot remove its
temporary file. The name says who wrote it, ``.{name}.ifcbkit@{host}@{pid}@{random}.part``, so the
next write into that folder, in any process, removes the files whose writer is gone (same host, a
process id no longer running). A file of a live writer, of another host (a shared file system) or
of another naming is never touched.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any, Literal

PARTIAL_SUFFIX = ".part"

# What a temporary file of this module is named: .{target name}.ifcbkit@{host}@{pid}@{random}.part
_PARTIAL = re.compile(r"\..*\.ifcbkit@(?P<host>[A-Za-z0-9._-]+)@(?P<pid>[0-9]{1,10})@[^@/]*\.part", re.ASCII | re.S)

# Folders already cleaned of stale temporary files by this process (bounded: cleared when full).
_SWEPT: set[str] = set()
_SWEPT_MAX = 10_000
_SWEPT_LOCK = threading.Lock()


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@functools.cache
def host_name() -> str:
    """This machine's name as temporary file names carry it (letters, digits, ``.``, ``_``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "localhost"


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user's counts as running)."""
    if pid <= 0:
        return True  # not a process id a writer has: leave its file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def stale_partials(directory: str | os.PathLike[str]) -> list[str]:
    """The paths of this module's temporary files in ``directory`` whose writer is gone: written on
    this host by a process that no longer runs."""
    out = []
    host = host_name()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
            continue
        match = _PARTIAL.fullmatch(name)
        if match is not None and match["host"] == host and not _running(int(match["pid"])):
            out.append(entry.path)
    return out


def remove_stale_partials(directory: str | os.PathLike[str]) -> int:
    """Remove :func:`stale_partials` of ``directory``; how many were removed."""
    removed = 0
    for path in stale_partials(directory):
        with contextlib.suppress(OSError):  # (another process cleaning the same folder got there first)
            os.remove(path)
            removed += 1
    return removed


def _sweep_once(directory: str) -> None:
    """Remove the stale temporary files of ``directory`` on this process's first write into it."""
    with _SWEPT_LOCK:
        if directory in _SWEPT:
            return
        if len(_SWEPT) >= _SWEPT_MAX:
            _SWEPT.clear()
        _SWEPT.add(directory)
    remove_stale_partials(directory)


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], mode: Literal["w", "wb"] = "wb", *, encoding: str | None = None
) -> Iterator[IO[Any]]:
    """A file object for ``path`` whose content appears under ``path`` only when the block ends
    without an exception. Text mode (``"w"``) writes newlines as given (``newline=""``), as CSV wants.
    The first write into a folder removes the temporary files killed writers left there.

    Raises:
        OSError: if the temporary file cannot be created beside ``path`` (before any work is done),
            written, or renamed.
    """
    target = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(target))
    _sweep_once(directory)
    host = host_name()
    prefix = f".{name[: max(1, 180 - len(host))]}.ifcbkit@{host}@{os.getpid()}@"
    try:
        fd, partial = tempfile.mkstemp(prefix=prefix, suffix=PARTIAL_SUFFIX, dir=directory)
    except OSError as e:  # name the file asked for, not the hidden temporary one
        raise type(e)(e.errno, e.strerror, target) from None
    text = mode == "w"
    try:
        with open(fd, mode, encoding=(encoding or "utf-8") if text else None, newline="" if text else None) as file:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o666 & ~_umask())  # the permissions open() would give a new file
            yield file
        try:
            os.replace(partial, target)
        except OSError as e:
            raise type(e)(e.errno, e.strerror, target) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise
