"""Sync and async faces over one sans-I/O implementation.

Every algorithm that needs I/O (finding a bin, reading an ADC through the index
cache, reading one ROI's bytes, walking a tree) is written once, as a generator
that *yields* :class:`Request` objects and receives their results. It never
performs I/O itself. A face runs it:

- :class:`SyncFace` performs each request in the calling thread;
- :class:`AsyncFace` awaits each request (a thread for blocking file work, the
  backend's own coroutine for S3 or HTTP), so the event loop never blocks.

Public classes are explicit shells over these operations: a sync method is
``return run_sync(op)``, its async twin ``return await run_async(op)``, a stream
``iterate_sync(op)`` or ``iterate_async(op)``. No descriptor stands between a
caller and a method's signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Hashable, Iterable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar, cast

import aiofiles.os

R = TypeVar("R")
T = TypeVar("T")

# What an operation is: a generator yielding requests (and, for streams, Emits).
Op = Generator[Any, Any, R]


def _call(function: Callable[[], Any]) -> Any:
    return function()


# One executor hop per blocking request, through aiofiles' executor wrapper: measured at 56 µs per
# ranged read against 86 µs for asyncio.to_thread and 201 µs for aiofiles.open + seek + read.
_in_worker_thread = aiofiles.os.wrap(_call)


class Request(Generic[T]):
    """One I/O step of an operation, generic in what it gives back. ``run_sync`` does it; ``run_async``
    does it without blocking the loop (by default ``run_sync`` in a worker thread). An operation gets
    the typed result with ``result = yield from perform(request)``."""

    def run_sync(self) -> T:
        raise NotImplementedError

    async def run_async(self) -> T:
        return cast(T, await _in_worker_thread(self.run_sync))


def perform(request: Request[T]) -> Generator[Request[T], Any, T]:
    """Hand ``request`` to the face running the operation and return its result, typed.

    A generator's send type can only be ``Any``: this one ``yield`` is where the
    result of a request becomes its declared type, for every operation.
    """
    return cast(T, (yield request))


class Call(Request[T]):
    """Call a backend method; the async face awaits a coroutine function, and runs a plain one in a
    worker thread (awaiting its result when that is awaitable).

    This is how operations talk to stores whose methods may be plain functions
    or coroutines (an amplify-style ``ObjectStore``, a boto3 or aiobotocore client, a
    user's subclass, ...): a blocking call never runs on the event loop.
    """

    __slots__ = ("args", "function")

    def __init__(self, function: Callable[..., T | Awaitable[T]], *args: Any):
        self.function = function
        self.args = args

    def run_sync(self) -> T:
        result = self.function(*self.args)
        if inspect.isawaitable(result):
            close = getattr(result, "close", None)
            if close is not None:
                close()  # never awaited: close it rather than leave it to warn when collected
            raise TypeError(f"{getattr(self.function, '__qualname__', self.function)} is async: use the async face")
        return result

    async def run_async(self) -> T:
        if inspect.iscoroutinefunction(self.function):
            return cast(T, await self.function(*self.args))
        # a plain function (a boto3 client, a sync backend) may block: run it in a worker thread
        result = await _in_worker_thread(functools.partial(self.function, *self.args))
        if inspect.isawaitable(result):
            result = await result
        return cast(T, result)


class Blocking(Request[T]):
    """A blocking function (file I/O, CPU-heavy parsing): inline when sync, in a worker thread when
    async, together with the other such calls of the same turn of the event loop."""

    __slots__ = ("args", "function")

    def __init__(self, function: Callable[..., T], *args: Any):
        self.function = function
        self.args = args

    def run_sync(self) -> T:
        return self.function(*self.args)

    async def run_async(self) -> T:
        return await in_worker_thread_batched(self.run_sync)


# Calls waiting for the worker thread that runs them together, per event loop.
_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[tuple[Callable[[], Any], asyncio.Future[Any]]]] = (
    weakref.WeakKeyDictionary()
)


async def in_worker_thread_batched(function: Callable[[], T]) -> T:
    """``function()`` in a worker thread, with every other call made in the same turn of the event
    loop: 300 concurrent reads then wake one thread, not 300 that would queue for the interpreter
    lock with the loop (the cause of loop stalls under many concurrent reads). Each call's result,
    or exception, goes to its own caller."""
    loop = asyncio.get_running_loop()
    batch = _BATCHES.get(loop)
    if batch is None:
        batch = _BATCHES[loop] = []
    if not batch:
        loop.call_soon(_run_batch, loop)
    future: asyncio.Future[Any] = loop.create_future()
    batch.append((function, future))
    return cast(T, await future)


def _run_batch(loop: asyncio.AbstractEventLoop) -> None:
    batch, _BATCHES[loop] = _BATCHES.get(loop) or [], []
    if batch:
        done = loop.run_in_executor(None, _call_each, [function for function, _ in batch])
        done.add_done_callback(functools.partial(_deliver, batch))


def _call_each(functions: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
    out: list[tuple[bool, Any]] = []
    for function in functions:
        try:
            out.append((True, function()))
        except Exception as e:
            out.append((False, e))
    return out


def _deliver(batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]], finished: asyncio.Future[Any]) -> None:
    results = None if finished.cancelled() or finished.exception() is not None else finished.result()
    for k, (_, future) in enumerate(batch):
        if future.done():  # its caller was cancelled meanwhile
            continue
        if results is None:
            future.set_exception(finished.exception() or asyncio.CancelledError())
        elif results[k][0]:
            future.set_result(results[k][1])
        else:
            future.set_exception(results[k][1])


# The shared operations running on each event loop, by key (a loop that is collected takes its own).
_IN_FLIGHT: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Task[Any]]] = (
    weakref.WeakKeyDictionary()
)


class Shared(Request[T]):
    """Run a sub-operation whose result concurrent callers can share (single flight).

    On the async face, while one task runs the operation for ``key``, other tasks
    asking for the same key wait for its result (or its error) instead of doing
    the same I/O and parsing again: 200 concurrent cold reads from one bin load
    its ADC index once. On the sync face the operation simply runs.
    """

    __slots__ = ("key", "make")

    def __init__(self, key: Hashable, make: Callable[[], Op[T]]):
        self.key = key
        self.make = make

    def run_sync(self) -> T:
        return run_sync(self.make())

    async def run_async(self) -> T:
        """The work runs in a task of its own: a caller that is cancelled stops waiting for it, and
        every other caller still gets its result."""
        flights = _IN_FLIGHT.setdefault(asyncio.get_running_loop(), {})
        task = flights.get(self.key)
        if task is None:
            task = flights[self.key] = asyncio.ensure_future(run_async(self.make()))
            task.add_done_callback(functools.partial(_landed, flights, self.key))
        return cast(T, await asyncio.shield(task))


def _landed(flights: dict[Hashable, asyncio.Task[Any]], key: Hashable, task: asyncio.Task[Any]) -> None:
    if flights.get(key) is task:
        del flights[key]
    if not task.cancelled():
        task.exception()  # retrieved here: every caller may have stopped waiting


class Emit(NamedTuple):
    """A value a stream operation hands to its consumer (not a request)."""

    value: Any


class EmitMany(NamedTuple):
    """Several values at once (a whole directory's bins): one step of the driver instead of one per value."""

    values: list[Any]


class _Steps:
    """The send/throw bookkeeping of every driver: iterate it for the operation's next item (a request
    or an emitted value); hand each request's outcome back with :meth:`done` or :meth:`failed`."""

    __slots__ = ("error", "op", "send")

    def __init__(self, op: Op[Any]):
        self.op = op
        self.send: Any = None
        self.error: Exception | None = None

    def __iter__(self) -> _Steps:
        return self

    def __next__(self) -> Any:
        error, self.error = self.error, None
        try:
            return self.op.throw(error) if error is not None else self.op.send(self.send)
        finally:
            self.send = None

    def done(self, result: Any) -> None:
        self.send = result

    def failed(self, error: Exception) -> None:
        self.error = error


def _emitted(item: Any) -> list[Any] | None:
    """The values an item hands to the consumer (``None``: the item is a request)."""
    if isinstance(item, Emit):
        return [item.value]
    if isinstance(item, EmitMany):
        return item.values
    return None


def map_emits(op: Op[Any], function: Callable[[Any], Iterable[Any]]) -> Op[Any]:
    """Run a stream operation inside another, emitting ``function(v)``'s items for each value ``v``
    it emits; its requests pass through to the face. Returns what ``op`` returns."""
    return (yield from _relay(op, lambda values: [out for value in values for out in function(value)]))


def count_emits(op: Op[Any]) -> Op[int]:
    """Run a stream operation inside another, passing on what it emits and asks: returns how many
    values it emitted."""
    emitted = 0

    def count(values: list[Any]) -> list[Any]:
        nonlocal emitted
        emitted += len(values)
        return values

    yield from _relay(op, count)
    return emitted


def _relay(op: Op[Any], batch: Callable[[list[Any]], list[Any]]) -> Op[Any]:
    """Run a stream operation inside another: its requests pass through to the face, and each batch
    of values it emits is emitted as ``batch(values)`` (unless that is empty). Returns what ``op``
    returns."""
    with contextlib.closing(op):
        steps = _Steps(op)
        while True:
            try:
                item = next(steps)
            except StopIteration as stop:
                return stop.value
            values = _emitted(item)
            if values is not None:
                out = batch(values)
                if out:
                    yield EmitMany(out)
                continue
            try:
                steps.done((yield item))
            except Exception as e:
                steps.failed(e)


def collect(op: Op[Any]) -> Op[list[Any]]:
    """Run a stream operation inside an operation: the values it emits, as a list."""
    values: list[Any] = []

    def keep(value: Any) -> tuple[()]:
        values.append(value)
        return ()

    yield from map_emits(op, keep)
    return values


def iterate_sync(op: Op[Any]) -> Iterator[Any]:
    """Run a stream operation in this thread, yielding what it emits."""
    with contextlib.closing(op):
        steps = _Steps(op)
        for item in steps:
            values = _emitted(item)
            if values is not None:
                yield from values
                continue
            try:
                steps.done(item.run_sync())
            except Exception as e:
                steps.failed(e)


# An async stream hands its consumer at most this many values between two turns of the event loop.
_EMIT_SLICE = 500


async def iterate_async(op: Op[Any]) -> AsyncGenerator[Any, None]:
    """Run a stream operation, awaiting each request, yielding what it emits (thousands of values
    at once are handed over a slice per turn of the event loop)."""
    with contextlib.closing(op):
        steps = _Steps(op)
        for item in steps:
            values = _emitted(item)
            if values is None:
                try:
                    steps.done(await item.run_async())
                except Exception as e:
                    steps.failed(e)
                continue
            for start in range(0, len(values), _EMIT_SLICE):
                if start:
                    await asyncio.sleep(0)
                for value in values[start : start + _EMIT_SLICE]:
                    yield value


_NOT_A_STREAM = "an operation emitted a value: run it with iterate_sync or iterate_async"


def run_sync(op: Op[R]) -> R:
    """Run an operation to its result in this thread. (A plain loop rather than :class:`_Steps`: most
    operations are a few requests, and this loop is their whole cost on the sync face.)"""
    send: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                item = op.throw(error) if error is not None else op.send(send)
            except StopIteration as stop:
                return cast(R, stop.value)
            send, error = None, None
            if isinstance(item, (Emit, EmitMany)):
                raise TypeError(_NOT_A_STREAM)
            try:
                send = item.run_sync()
            except Exception as e:
                error = e
    finally:
        op.close()


class _Returned(NamedTuple):
    value: Any


def _returning(op: Op[R]) -> Op[None]:
    """The operation, handing its return value to the driver as a final emitted item."""
    yield Emit(_Returned((yield from op)))


async def run_async(op: Op[R]) -> R:
    """Run an operation to its result, awaiting each request (the loop of :func:`iterate_async`)."""
    items = iterate_async(_returning(op))
    try:
        item = await items.__anext__()
    finally:
        await items.aclose()
    if not isinstance(item, _Returned):
        raise TypeError(_NOT_A_STREAM)
    return cast(R, item.value)
