"""Reading HDF5 datasets in a child process, so that a damaged file cannot hang the reader.

HDF5's C library can loop forever on a damaged file: a corrupt global heap under variable-length
strings (a ``_class.h5``'s class labels) sends ``H5HG`` round in circles, as
``tests/test_fuzz.py`` found. C code cannot be interrupted, so the datasets are read in a child
process that is killed when it runs past :data:`READ_SECONDS`.

Where the platform can fork, the child is a *worker* forked once and kept for the next files (a
fork per file cost about 20 ms of page copying per read): it reads one file per request and sends
back the arrays pickled, each message prefixed with its length, so that a short or missing answer
is a crash whatever the exit status says (none is looked at: under ``SIGCHLD`` ignored, the system
reaps children itself). The parent waits with ``poll`` (any descriptor number) and kills and reaps
the worker on every way out but a complete answer: a timeout, a crash, an exception or a signal
(the CLI turns ``SIGTERM`` into an exception). Idle workers are killed at exit, leave by themselves
after :data:`IDLE_SECONDS` or when this process is gone, and a worker never outlives its read's
bound by more than a few seconds, even if this process was killed. Elsewhere, each file is read by
a new interpreter.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Any, NoReturn

__all__ = ["IDLE_SECONDS", "READ_SECONDS", "H5ReadFailure", "read_datasets", "stop_workers"]

# How long one file's datasets may take to read: real class-score files take milliseconds.
READ_SECONDS = 30.0

# How long a worker waits for its next file before it leaves (to be reaped by the next read or at
# exit): it holds a copy-on-write image of this process as it was when forked, which memory freed
# here since does not shrink. A run that reads file after file keeps its worker.
IDLE_SECONDS = 10.0

# Workers kept waiting for the next file; more run at once when threads read at once.
_MAX_IDLE = 4

# A worker left to itself (this process killed mid-read) ends this long after its read's bound.
_SELF_DESTRUCT_GRACE = 5.0

# How long to wait for a killed child to be reaped before leaving that to the next call or exit
# (a child in uninterruptible sleep, on a hung network file system, dies only when that ends).
_REAP_SECONDS = 2.0

_LENGTH = struct.Struct("<Q")


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
    kind, value = _in_worker(source, names) if hasattr(os, "fork") else _in_interpreter(source, names)
    if kind == "missing":
        raise H5ReadFailure(f"no {', '.join(value)} dataset", tuple(value))
    if kind == "error":
        raise H5ReadFailure(value)
    return list(value)


def stop_workers() -> None:
    """Kill and reap every worker (done at exit; a later read forks a new one)."""
    with _lock:
        workers = list(_live.values())
        _idle.clear()
    for worker in workers:
        _end(worker)
    _reap(_REAP_SECONDS)


def _timed_out(seconds: float) -> H5ReadFailure:
    return H5ReadFailure(f"the HDF5 library did not finish reading it in {seconds:g} s (a damaged file)")


def _crashed() -> H5ReadFailure:
    return H5ReadFailure("the HDF5 library crashed reading it")


def _message(value: Any) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


def _answer(code: Any, source: str, names: tuple[str, ...]) -> bytes:
    """The child's whole answer for one file, as a message."""
    try:
        return _message(code(source, names))
    except Exception as e:  # arrays that do not pickle
        return _message(("error", f"{type(e).__name__}: {e}"))


# ----- the parent's side ----------------------------------------------------------------------


class _Worker:
    """A forked child that reads one file per request: requests go in one pipe, answers come out of
    the other, whose write end only the child holds (so its end of file means the child is gone)."""

    __slots__ = ("answers", "code", "idle_since", "pid", "requests")

    def __init__(self, pid: int, requests: int, answers: int, code: Any):
        self.pid = pid
        self.requests = requests
        self.answers = answers
        self.code = code  # the ``outcome`` it was forked with
        self.idle_since = time.monotonic()

    def gone(self) -> bool:
        """Whether the child has ended: an idle child writes nothing, so a readable answer pipe
        is its end of file."""
        poller = select.poll()
        poller.register(self.answers, select.POLLIN)
        return bool(poller.poll(0))

    def read(self, source: str, names: tuple[str, ...], seconds: float) -> Any:
        """The child's answer for one file, within ``seconds``."""
        try:
            _send(self.requests, _message((source, names, seconds)))
        except BrokenPipeError:
            raise _crashed() from None
        deadline = time.monotonic() + seconds
        header = _receive(self.answers, _LENGTH.size, deadline, seconds)
        body = None if header is None else _receive(self.answers, _LENGTH.unpack(header)[0], deadline, seconds)
        if body is None:
            raise _crashed()
        return pickle.loads(body)  # from our own child


_lock = threading.Lock()
_idle: list[_Worker] = []  # waiting for a file, the most recently used last
_live: dict[int, _Worker] = {}  # every worker not yet ended, idle or reading
_unreaped: list[int] = []  # children killed but not yet reaped


def _in_worker(source: str, names: tuple[str, ...]) -> Any:
    seconds = READ_SECONDS
    _reap(0)
    worker = None
    trusted = False
    try:
        worker = _take()
        answer = worker.read(source, names, seconds)
        # after an error the HDF5 library went down a damaged file's paths: the next file gets a new child
        trusted = answer[0] != "error"
        return answer
    finally:  # a timeout, a crash, an error, an exception or a signal: the child is killed, whatever it did
        if worker is not None and trusted:
            _give_back(worker)
        elif worker is not None:
            _end(worker)


def _take() -> _Worker:
    """An idle worker that runs this module's ``outcome`` and is sure not to be leaving, or a new one;
    idle workers that left, or are about to, are reaped or killed on the way."""
    now = time.monotonic()
    chosen = None
    with _lock:
        usable = [w for w in _idle if w.code is outcome and now - w.idle_since < IDLE_SECONDS / 2 and not w.gone()]
        stale = [w for w in _idle if w not in usable]
        if usable:
            chosen = usable.pop()
        _idle[:] = usable
    for worker in stale:
        _end(worker)
    return chosen if chosen is not None else _fork()


def _give_back(worker: _Worker) -> None:
    with _lock:
        if worker.code is outcome and len(_idle) < _MAX_IDLE and worker.pid in _live:
            worker.idle_since = time.monotonic()
            _idle.append(worker)
            return
    _end(worker)


def _end(worker: _Worker) -> None:
    """Kill the worker (unless it has already ended: its pid may be another process's by now), close
    its pipes and reap it within :data:`_REAP_SECONDS`."""
    with _lock:
        if _live.pop(worker.pid, None) is None:
            return
        with contextlib.suppress(ValueError):
            _idle.remove(worker)
        _unreaped.append(worker.pid)
    try:
        if not worker.gone():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
    finally:
        os.close(worker.requests)
        os.close(worker.answers)
    _reap(_REAP_SECONDS)


def _reap(seconds: float) -> None:
    """Reap the killed children, waiting up to ``seconds`` for them to end."""
    deadline = time.monotonic() + seconds
    pause = 0.0005
    while True:
        with _lock:
            pending = list(_unreaped)
        if not pending:
            return
        for pid in pending:
            try:
                ended = os.waitpid(pid, os.WNOHANG)[0] != 0
            except ChildProcessError:  # SIGCHLD ignored: the system reaped it
                ended = True
            if ended:
                with _lock, contextlib.suppress(ValueError):
                    _unreaped.remove(pid)
        if time.monotonic() >= deadline:
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _fork() -> _Worker:
    requests_read, requests_write = os.pipe()
    answers_read, answers_write = os.pipe()
    code = outcome
    # Signals wait until the worker is on the books, so that an exception they raise finds it there.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        try:
            pid = os.fork()
        except BaseException:
            for fd in (requests_read, requests_write, answers_read, answers_write):
                os.close(fd)
            raise
        if pid == 0:
            _serve(requests_read, answers_write, code, mask)
        os.close(requests_read)
        os.close(answers_write)
        worker = _Worker(pid, requests_write, answers_read, code)
        with _lock:
            _live[pid] = worker
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return worker


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int, size: int, deadline: float, seconds: float) -> bytes | None:
    """``size`` bytes from ``fd`` by ``deadline``, or ``None`` at its end of file.

    Raises:
        H5ReadFailure: past the deadline.
    """
    buffer = bytearray(size)
    view = memoryview(buffer)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    got = 0
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(max(1, int(remaining * 1000) + 1)):
            raise _timed_out(seconds)
        count = os.readv(fd, [view[got:]])
        if count == 0:
            return None
        got += count
    return bytes(buffer)


def _forget_workers() -> None:
    """In a forked child: the parent's workers are the parent's; drop them and their pipes."""
    global _lock
    _lock = threading.Lock()
    for worker in _live.values():
        for fd in (worker.requests, worker.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
    _live.clear()
    _idle.clear()
    _unreaped.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)
atexit.register(stop_workers)


# ----- the worker's side ----------------------------------------------------------------------


def _serve(requests: int, answers: int, code: Any, mask: set[int | signal.Signals]) -> NoReturn:
    """The worker: answer requests until end of file on ``requests`` or :data:`IDLE_SECONDS` idle."""
    try:
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which kills us
            for number in (signal.SIGTERM, signal.SIGALRM, signal.SIGHUP):
                signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # hold none of the parent's files, sockets or other workers' pipes
        low, high = sorted((requests, answers))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, max(high + 1, os.sysconf("SC_OPEN_MAX")))
        poller = select.poll()
        poller.register(requests, select.POLLIN)
        while poller.poll(int(IDLE_SECONDS * 1000)):
            header = _read_all(requests, _LENGTH.size)
            if header is None:
                break
            body = _read_all(requests, _LENGTH.unpack(header)[0])
            if body is None:
                break
            source, names, seconds = pickle.loads(body)
            # SIGALRM's default ends the process: the bound holds even with no parent left to kill us
            signal.setitimer(signal.ITIMER_REAL, seconds + _SELF_DESTRUCT_GRACE)
            answer = _answer(code, source, names)
            signal.setitimer(signal.ITIMER_REAL, 0)
            _send(answers, answer)
    finally:
        os._exit(0)


def _read_all(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# ----- without fork -----------------------------------------------------------------------------

_CHILD = (
    "import sys; from ifcbkit.formats.h5 import _answer, outcome; "
    "sys.stdout.buffer.write(_answer(outcome, sys.argv[1], tuple(sys.argv[2:])))"
)


def _in_interpreter(source: str, names: tuple[str, ...]) -> Any:
    """The outcome from a new interpreter (killed on a timeout or any exception, by ``subprocess``)."""
    seconds = READ_SECONDS
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, source, *names], capture_output=True, timeout=seconds, env=env
        )
    except subprocess.TimeoutExpired:
        raise _timed_out(seconds) from None
    data = done.stdout
    if len(data) < _LENGTH.size or len(data) != _LENGTH.size + _LENGTH.unpack(data[: _LENGTH.size])[0]:
        raise _crashed()
    return pickle.loads(data[_LENGTH.size :])  # from our own child
