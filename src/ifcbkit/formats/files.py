"""A local file's bytes for the parsers' ``parse_*_file`` entry points, with the one error a missing
file is."""

from __future__ import annotations

import os

from ..errors import MissingFileError

__all__ = ["read_local_file"]


def read_local_file(path: str | os.PathLike[str], what: str) -> bytes:
    """A local file's bytes; a missing one is :class:`MissingFileError` (a ``FileNotFoundError``) naming it."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise MissingFileError(f"no {what} {os.fspath(path)}") from None
    except IsADirectoryError:
        raise MissingFileError(f"{what} {os.fspath(path)} is a directory, not a file") from None
