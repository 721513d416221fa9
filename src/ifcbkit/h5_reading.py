"""Reading HDF5 datasets in a child process, so that a damaged file cannot hang the reader.

HDF5's C library can loop forever on a damaged file: a corrupt global heap under variable-length
strings (a ``_class.h5``'s class labels) sends ``H5HG`` round in circles, as
``tests/test_fuzz.py`` found. C code cannot be interrupted, so the datasets are read in a child
process that is killed when it runs past :data:`READ_SECONDS`: forked where the platform can
fork (about 2 ms, with h5py already imported), else a new interpreter. The child sends the arrays
back pickled; a child that dies says so.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import time
from typing import Any

__all__ = ["READ_SECONDS", "H5ReadFailure", "read_datasets"]

# How long one file's datasets may take to read: real class-score files take milliseconds.
READ_SECONDS = 30.0


class H5ReadFailure(Exception):
    """The datasets could not be read: ``missing`` names absent datasets, else ``reason`` says why."""

    def __init__(self, reason: str, missing: tuple[str, ...] = ()):
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def outcome(source: str, names: tuple[str, ...]) -> tuple[str, Any]:
    """What the child reports: ``('ok', arrays)``, ``('missing', names)`` or ``('error', reason)``."""
    try:
        import h5py

        with h5py.File(source, "r") as h5:
            missing = tuple(name for name in names if name not in h5)
            if missing:
                return "missing", missing
            return "ok", [h5[name][()] for name in names]
    except Exception as e:  # h5py raises what the HDF5 library says: OSError, RuntimeError, KeyError, ...
        return "error", f"{type(e).__name__}: {e}"


def read_datasets(source: str, names: tuple[str, ...]) -> list[Any]:
    """The datasets ``names`` of the HDF5 file ``source``, as arrays, read in a child process.

    Raises:
        H5ReadFailure: for a missing dataset, an unreadable file, or a read that ran past
            :data:`READ_SECONDS` or killed the child.
    """
    data = _in_fork(source, names) if hasattr(os, "fork") else _in_interpreter(source, names)
    if not data:
        raise H5ReadFailure("the HDF5 library crashed reading it")
    kind, value = pickle.loads(data)  # from our own child
    if kind == "missing":
        raise H5ReadFailure(f"no {', '.join(value)} dataset", tuple(value))
    if kind == "error":
        raise H5ReadFailure(value)
    return list(value)


def _timed_out() -> H5ReadFailure:
    return H5ReadFailure(f"the HDF5 library did not finish reading it in {READ_SECONDS:g} s (a damaged file)")


def _in_fork(source: str, names: tuple[str, ...]) -> bytes:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, report, and leave without running the parent's exit handlers
        try:
            os.close(read_end)
            try:
                payload = pickle.dumps(outcome(source, names), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:  # arrays that do not pickle
                payload = pickle.dumps(("error", f"{type(e).__name__}: {e}"))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + READ_SECONDS
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)
                raise _timed_out()
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)


_CHILD = (
    "import pickle, sys; from ifcbkit.h5_reading import outcome; "
    "sys.stdout.buffer.write(pickle.dumps(outcome(sys.argv[1], tuple(sys.argv[2:]))))"
)


def _in_interpreter(source: str, names: tuple[str, ...]) -> bytes:
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, source, *names], capture_output=True, timeout=READ_SECONDS, env=env
        )
    except subprocess.TimeoutExpired:
        raise _timed_out() from None
    return done.stdout
