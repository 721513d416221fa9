"""Files that appear under their final name only when complete.

A file is written beside its target under a hidden temporary name (``.{name}.*.part``) and renamed
onto the target (``os.replace``, atomic within one file system) only after its last byte is
written. An error or an interruption (Ctrl-C, SIGTERM) removes the temporary file and leaves the
target as it was: a reader never meets a well-formed file that is only part of the output.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any, Literal

PARTIAL_SUFFIX = ".part"


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], mode: Literal["w", "wb"] = "wb", *, encoding: str | None = None
) -> Iterator[IO[Any]]:
    """A file object for ``path`` whose content appears under ``path`` only when the block ends
    without an exception. Text mode (``"w"``) writes newlines as given (``newline=""``), as CSV wants.

    Raises:
        OSError: if the temporary file cannot be created beside ``path`` (before any work is done),
            written, or renamed.
    """
    target = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(target))
    try:
        fd, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=PARTIAL_SUFFIX, dir=directory)
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
