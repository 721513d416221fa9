"""Work over many items on the machine's cores, with results in the same order as a serial run
(per-bin jobs over a tree: :mod:`ifcbkit.jobs.batch`).

Per-bin work (parsing ADC files, reading class scores) is pure-Python CPU work,
which threads cannot spread over cores; a process pool can. Measured on 2 cores
(bin metrics of 300 generated bins of 1000 ADC rows, and of 100 bins of 5000
rows): threads no faster than serial, processes 1.9x faster. Jobs are sent in
chunks and results come back in input order, so a parallel run returns exactly
what a serial run returns. Per-bin jobs catch the errors a bad bin raises and
return them as :class:`BinFailure` values: an exception never has to cross the
process boundary.

Workers are forked when this process has no other thread (fast, and they
inherit what the parent already located); otherwise they start with
``forkserver`` (``spawn`` where there is none), which imports the main module
again: a script that runs work over many bins from a threaded program must
guard its entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Literal, TypeVar

from ..errors import ArgumentTypeError, InvalidArgumentError

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
PoolKind = Literal["process", "thread"]

# Below this many items per worker, starting processes costs more than it saves.
_MIN_ITEMS_PER_WORKER = 4

# The most workers a pool may have: each is a process of its own (tens of MB), and per-bin work is CPU
# work, so more processes than cores only cost memory; this bound keeps a typo (``--workers 99999``)
# from starting thousands of processes.
MAX_WORKERS = 256


def default_workers() -> int:
    """The number of cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_workers(workers: object) -> int:
    """``workers`` if it is an int from 1 to :data:`MAX_WORKERS`.

    Raises:
        ArgumentTypeError: (a ``TypeError``) for a type that is not an int; InvalidArgumentError (a
            ``ValueError``) for a number out of that range.
    """
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ArgumentTypeError("workers", f"workers must be an int, not {type(workers).__name__}")
    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidArgumentError("workers", f"workers must be from 1 to {MAX_WORKERS}, not {workers!r}")
    return workers


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork is fastest and inherits what the parent already located, but is only safe without other threads
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int | None = None,
    pool: PoolKind = "process",
    progress: Progress | None = None,
) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` processes (or threads), yielding results in input order.

    ``workers=1`` runs in this thread; the default is every core, fewer when
    there are too few items to be worth a pool. ``fn`` must be a module-level
    function for a process pool. ``progress(done,
    total)`` is called after each result. Closing the iterator early cancels
    the work not yet started.

    Raises:
        InvalidArgumentError: (a ``ValueError``) for ``workers`` outside 1 to :data:`MAX_WORKERS` or an
            unknown ``pool``; ArgumentTypeError (a ``TypeError``) for ``workers`` that is not an int.
    """
    jobs = list(items)
    total = len(jobs)
    if workers is None:
        workers = min(default_workers(), max(1, total // _MIN_ITEMS_PER_WORKER))
    else:
        check_workers(workers)
    workers = min(workers, max(1, total))
    if workers == 1:
        results: Iterator[R] = map(fn, jobs)
        executor: Executor | None = None
    else:
        if pool == "process":
            executor = ProcessPoolExecutor(workers, mp_context=_mp_context(), initializer=_worker_started)
        elif pool == "thread":
            executor = ThreadPoolExecutor(workers)
        else:
            raise InvalidArgumentError("pool", f"pool must be 'process' or 'thread', not {pool!r}")
        chunksize = max(1, min(64, total // (workers * 8))) if pool == "process" else 1
        results = executor.map(fn, jobs, chunksize=chunksize)
    completed = False
    try:
        for done, result in enumerate(results, 1):
            if progress is not None:
                progress(done, total)
            yield result
        completed = True
    finally:
        if isinstance(executor, ProcessPoolExecutor) and not completed:
            _stop_processes(executor)
        elif executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _worker_started() -> None:
    # A pool process ends on SIGTERM by unwinding, so that what it started (an HDF5 reader process)
    # is stopped by its own ``finally``, rather than left behind by an abrupt exit.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop_processes(executor: ProcessPoolExecutor, grace: float = 3.0) -> None:
    """End a pool whose results are no longer wanted (an error, an interruption, an iterator closed
    early): work under way is stopped, not waited for. Waiting could take as long as the slowest job,
    such as a hung read that only its 30 s limit ends, while the user waits for Ctrl-C or SIGTERM to act."""
    # ProcessPoolExecutor offers no public way to stop its processes before Python 3.14
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(grace)
        if process.is_alive():
            process.kill()
            process.join(1.0)
