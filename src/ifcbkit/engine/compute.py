"""CPU work of the async faces (parsing a dashboard's answers: class scores, listings, features) in
one thread per process, the *compute lane*, and the way that work makes room for event loops.

Python runs one thread at a time (the interpreter lock), and a thread that wants the lock while
another computes waits up to the switch interval (5 ms) for it. The event loop's thread lets go of
the lock at every system call (each socket read and write, each wait for events) and must then get
it back. Parsed in the default executor's threads, 300 bins' class scores kept up to six threads
computing at once, and the loop waited behind them at every call. Here the work runs in one thread,
which lets go of the lock for 50 µs after each millisecond it held it (:func:`give_way`), long
enough for a waiting thread to take it. ``bench/stalls.py``, medians of 7 runs: the worst stall
counting 300 bins' scores went from 21.2 to 13.7 ms (1.42 to 1.26 s in all), listing 40,000 bins
from 15.6 to 13.2 ms; a millisecond slice stalled less than a 0.5 or 2 ms one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
import time
from typing import TypeVar

from .requests import Blocking

T = TypeVar("T")

# The compute lane's thread holds the interpreter lock for at most SLICE seconds at a time (between
# two give_way calls that fall due), then lets go of it for PAUSE seconds (a sleep: a thread that lets
# go and at once asks again gets the lock back before a waiting thread has woken).
SLICE = 0.001
PAUSE = 0.00005

_lane_state = threading.local()  # .due: when the lane's thread next gives way (unset in other threads)
_lane: concurrent.futures.ThreadPoolExecutor | None = None
_lane_lock = threading.Lock()


def give_way() -> None:
    """In the compute lane's thread, once a slice of work is over: let go of the interpreter lock
    briefly, so that event loops' threads waiting for it take it. Elsewhere (a sync caller's thread),
    nothing. Parsers call it every few rows: it costs about 0.1 µs when nothing is due."""
    due = getattr(_lane_state, "due", None)
    if due is not None and time.perf_counter() >= due:
        time.sleep(PAUSE)
        _lane_state.due = time.perf_counter() + SLICE


def _start_slicing() -> None:
    _lane_state.due = time.perf_counter() + SLICE


def compute_lane() -> concurrent.futures.ThreadPoolExecutor:
    """The process's compute lane (made on first use; a forked child makes its own)."""
    global _lane
    lane = _lane
    if lane is None:
        with _lane_lock:
            lane = _lane
            if lane is None:
                lane = _lane = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="ifcbkit-compute", initializer=_start_slicing
                )  # fmt: skip
    return lane


def _forget_lane() -> None:
    global _lane, _lane_lock
    _lane, _lane_lock = None, threading.Lock()  # (its thread did not survive the fork)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_lane)


class Compute(Blocking[T]):
    """CPU work over bytes already read (a pure function): inline when sync, in the compute lane when
    async, so that the event loop's thread keeps running (see the module's note)."""

    __slots__ = ()

    async def run_async(self) -> T:
        call = functools.partial(self.function, *self.args)
        return await asyncio.get_running_loop().run_in_executor(compute_lane(), call)
