"""Whole files of a rangeless dashboard kept for later reads: in ``cache_dir`` with the validators of
the answer that brought them (ETag, Last-Modified, length), or, too big for the memory cache, in
temporary files (:class:`Spills`). Blocking functions: the source runs them off the event loop."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ...atomic import atomic_file
from ...engine.fileio import ReadRanges
from ...errors import StoreError
from ...formats.ranges import ByteRange

# Files too big for the memory cache kept at once in temporary files, per store (the most recent).
MAX_SPILLED = 8


class Spills:
    """Files too big for the memory cache (on a rangeless server, without ``cache_dir``): each is
    written once to a temporary file and its ranges read from there, so a pass over a bin fetches
    it once. The :data:`MAX_SPILLED` most recent are kept; all are removed on ``close``, when the
    store is collected, or at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._directory: str | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def put(self, key: tuple[str, str], data: bytes) -> None:
        """Write ``data`` for ``key`` (a blocking call), dropping the oldest beyond the bound.

        Raises:
            StoreError: if no temporary file can be written.
        """
        try:
            with self._lock:
                if self._directory is None:
                    self._directory = tempfile.mkdtemp(prefix="ifcbkit-dashboard-")
                    self._finalizer = weakref.finalize(self, shutil.rmtree, self._directory, True)
                directory = self._directory
            fd, path = tempfile.mkstemp(dir=directory, suffix=f".{key[1]}")
            with open(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            raise StoreError(f"cannot keep {key[0]}.{key[1]} in a temporary file ({e.strerror or e})") from None
        with self._lock:
            old = self._paths.pop(key, None)
            self._paths[key] = path
            evicted = [old] if old is not None else []
            while len(self._paths) > MAX_SPILLED:
                evicted.append(self._paths.popitem(last=False)[1])
        for name in evicted:
            with contextlib.suppress(OSError):
                os.remove(name)

    def has(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._paths

    def read(self, key: tuple[str, str], ranges: list[ByteRange]) -> list[bytes] | None:
        """Ranges of the file kept for ``key``, or ``None`` if it is not (or no longer) kept."""
        with self._lock:
            path = self._paths.get(key)
            if path is None:
                return None
            self._paths.move_to_end(key)
        try:
            return ReadRanges(path, ranges).run_sync()  # (an open file outlives its removal)
        except FileNotFoundError:
            return None

    def clear(self) -> None:
        """Remove every temporary file."""
        with self._lock:
            self._paths.clear()
            finalizer, self._finalizer, self._directory = self._finalizer, None, None
        if finalizer is not None:
            finalizer()


def usable_cache_dir(cache_dir: str | os.PathLike[str], folder: str) -> str:
    """``cache_dir`` as a string, once its ``folder`` for this dataset is made and takes files.

    Raises:
        StoreError: naming ``cache_dir`` if it is a file, or cannot be made or written.
    """
    root = os.fspath(cache_dir)
    try:
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        with tempfile.TemporaryFile(dir=os.path.join(root, folder)):
            pass
    except OSError as e:
        raise StoreError(f"cache_dir {root!r} cannot hold files ({e.strerror or type(e).__name__})") from None
    return root


_VALIDATORS = ".validators"  # beside each file kept in cache_dir: JSON of what the server said of it


def validators(headers: Any, size: int | None) -> dict[str, Any]:
    """What identifies a version of a file in an answer's headers (a HEAD's length from Content-Length)."""
    declared = headers.get("content-length", "")
    length = size if size is not None else int(declared) if declared.isdigit() else None
    return {"etag": headers.get("etag"), "last_modified": headers.get("last-modified"), "length": length}


def same_version(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether two sets of validators name one version: by ETag when both have one, else by
    Last-Modified and length, else by length (ifcbdb sends only Content-Length)."""
    if recorded.get("etag") and current.get("etag"):
        return bool(recorded["etag"] == current["etag"])
    if current["length"] is None or recorded.get("length") != current["length"]:
        return False
    if recorded.get("last_modified") and current.get("last_modified"):
        return bool(recorded["last_modified"] == current["last_modified"])
    return True


def write_kept(path: str, data: bytes, validators: Mapping[str, Any]) -> None:
    """Keep ``data`` at ``path`` and its validators beside it (the old ones go first: a file
    without validators is fetched again, never trusted).

    Raises:
        StoreError: naming the path if it cannot be written.
    """
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + _VALIDATORS)
        with atomic_file(path) as f:
            f.write(data)
        with atomic_file(path + _VALIDATORS) as f:
            f.write(json.dumps(dict(validators)).encode())
    except OSError as e:
        raise StoreError(f"cannot keep {path} in cache_dir ({e.strerror or type(e).__name__})") from None


def read_validators(path: str) -> dict[str, Any] | None:
    """The validators kept beside ``path``, or ``None`` when they are missing, unreadable, or do not
    match the file kept (a damaged cache)."""
    try:
        with open(path + _VALIDATORS, "rb") as f:
            recorded = json.loads(f.read(1 << 16))
        size = os.path.getsize(path)
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("length") != size:
        return None
    return recorded


def forget(path: str) -> None:
    for name in (path + _VALIDATORS, path):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f"cannot remove {name} from cache_dir ({e.strerror or type(e).__name__})") from None
