"""Sync and async faces over one sans-I/O implementation.

Every algorithm that needs I/O (finding a bin, reading an ADC through the index
cache, reading one ROI's bytes, walking a tree) is written once, as a generator
that *yields* :class:`Request` objects and receives their results. It never
performs I/O itself. A face runs it:

- :class:`SyncFace` performs each request in the calling thread;
- :class:`AsyncFace` awaits each request (a thread for blocking file work, the
  backend's own coroutine for S3 or HTTP), so the event loop never blocks.

Classes declare their public methods once with :class:`operation` (returns a
value) or :class:`stream` (yields values, via :class:`Emit`), and become sync or
async by inheriting one face: ``SyncIfcbDataDirectory`` and
``AsyncIfcbDataDirectory`` are the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Hashable, Iterable, Iterator
from typing import Any, Concatenate, Generic, NamedTuple, ParamSpec, TypeVar, overload

import aiofiles.os

P = ParamSpec("P")
R = TypeVar("R")

# What an operation is: a generator yielding requests (and, for streams, Emits).
Op = Generator[Any, Any, R]


def _call(function: Callable[[], Any]) -> Any:
    return function()


# One executor hop per blocking request, through aiofiles' executor wrapper: measured at 56 µs per
# ranged read against 86 µs for asyncio.to_thread and 201 µs for aiofiles.open + seek + read.
_in_worker_thread = aiofiles.os.wrap(_call)


class Request:
    """One I/O step of an operation. ``run_sync`` does it; ``run_async`` does it without blocking the loop
    (by default ``run_sync`` in a worker thread)."""

    def run_sync(self) -> Any:
        raise NotImplementedError

    async def run_async(self) -> Any:
        return await _in_worker_thread(self.run_sync)


class Call(Request):
    """Call a backend method; the async face awaits a coroutine function, and runs a plain one in a
    worker thread (awaiting its result when that is awaitable).

    This is how operations talk to stores whose methods may be plain functions
    or coroutines (an amplify-style ``ObjectStore``, a boto3 or aiobotocore client, a
    user's subclass, ...): a blocking call never runs on the event loop.
    """

    __slots__ = ("args", "function")

    def __init__(self, function: Callable[..., Any], *args: Any):
        self.function = function
        self.args = args

    def run_sync(self) -> Any:
        result = self.function(*self.args)
        if inspect.isawaitable(result):
            close = getattr(result, "close", None)
            if close is not None:
                close()  # never awaited: close it rather than leave it to warn when collected
            raise TypeError(f"{getattr(self.function, '__qualname__', self.function)} is async: use the async face")
        return result

    async def run_async(self) -> Any:
        if inspect.iscoroutinefunction(self.function):
            return await self.function(*self.args)
        # a plain function (a boto3 client, a sync backend) may block: run it in a worker thread
        result = await _in_worker_thread(functools.partial(self.function, *self.args))
        if inspect.isawaitable(result):
            result = await result
        return result


class Blocking(Request):
    """A blocking function (file I/O, CPU-heavy parsing): inline when sync, in a worker thread when
    async, together with the other such calls of the same turn of the event loop."""

    __slots__ = ("args", "function")

    def __init__(self, function: Callable[..., Any], *args: Any):
        self.function = function
        self.args = args

    def run_sync(self) -> Any:
        return self.function(*self.args)

    async def run_async(self) -> Any:
        return await in_worker_thread_batched(self.run_sync)


# Calls waiting for the worker thread that runs them together, per event loop.
_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[tuple[Callable[[], Any], asyncio.Future[Any]]]] = (
    weakref.WeakKeyDictionary()
)


async def in_worker_thread_batched(function: Callable[[], Any]) -> Any:
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
    return await future


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


class Shared(Request):
    """Run a sub-operation whose result concurrent callers can share (single flight).

    On the async face, while one task runs the operation for ``key``, other tasks
    asking for the same key wait for its result (or its error) instead of doing
    the same I/O and parsing again: 200 concurrent cold reads from one bin load
    its ADC index once. On the sync face the operation simply runs.
    """

    __slots__ = ("key", "make")

    def __init__(self, key: Hashable, make: Callable[[], Op[Any]]):
        self.key = key
        self.make = make

    def run_sync(self) -> Any:
        return run_sync(self.make())

    async def run_async(self) -> Any:
        """The work runs in a task of its own: a caller that is cancelled stops waiting for it, and
        every other caller still gets its result."""
        flights = _IN_FLIGHT.setdefault(asyncio.get_running_loop(), {})
        task = flights.get(self.key)
        if task is None:
            task = flights[self.key] = asyncio.ensure_future(run_async(self.make()))
            task.add_done_callback(functools.partial(_landed, flights, self.key))
        return await asyncio.shield(task)


def _landed(flights: dict[Hashable, asyncio.Task[Any]], key: Hashable, task: asyncio.Task[Any]) -> None:
    if flights.get(key) is task:
        del flights[key]
    if not task.cancelled():
        task.exception()  # retrieved here: every caller may have stopped waiting


class Emit(NamedTuple):
    """A value a :class:`stream` operation hands to its consumer (not a request)."""

    value: Any


class EmitMany(NamedTuple):
    """Several values at once (a whole directory's bins): one step of the driver instead of one per value."""

    values: list[Any]


def map_emits(op: Op[Any], function: Callable[[Any], Iterable[Any]]) -> Op[Any]:
    """Run a stream operation inside another, emitting ``function(v)``'s items for each value ``v``
    it emits; its requests pass through to the face. Returns what ``op`` returns."""
    send: Any = None
    error: BaseException | None = None
    with contextlib.closing(op):
        while True:
            try:
                item = op.throw(error) if error is not None else op.send(send)
            except StopIteration as stop:
                return stop.value
            send, error = None, None
            if isinstance(item, (Emit, EmitMany)):
                values = [item.value] if isinstance(item, Emit) else item.values
                mapped = [out for value in values for out in function(value)]
                if mapped:
                    yield EmitMany(mapped)
                continue
            try:
                send = yield item
            except Exception as e:
                error = e


def collect(op: Op[Any]) -> Op[list[Any]]:
    """Run a stream operation inside an operation: the values it emits, as a list."""
    values: list[Any] = []

    def keep(value: Any) -> tuple[()]:
        values.append(value)
        return ()

    yield from map_emits(op, keep)
    return values


class _Returned(NamedTuple):
    value: Any


def _returning(op: Op[R]) -> Op[None]:
    """Hand the operation's return value to the driver as a final emitted item."""
    yield Emit(_Returned((yield from op)))


def iterate_sync(op: Op[Any]) -> Iterator[Any]:
    """Run a stream operation in this thread, yielding what it emits."""
    with contextlib.closing(op):
        send: Any = None
        error: Exception | None = None
        while True:
            try:
                item = op.throw(error) if error is not None else op.send(send)
            except StopIteration:
                return
            send, error = None, None
            if isinstance(item, Emit):
                yield item.value
                continue
            if isinstance(item, EmitMany):
                yield from item.values
                continue
            try:
                send = item.run_sync()
            except Exception as e:
                error = e


# An async stream hands its consumer at most this many values between two turns of the event loop.
_EMIT_SLICE = 500


async def iterate_async(op: Op[Any]) -> AsyncIterator[Any]:
    """Run a stream operation, awaiting each request, yielding what it emits."""
    with contextlib.closing(op):
        send: Any = None
        error: Exception | None = None
        while True:
            try:
                item = op.throw(error) if error is not None else op.send(send)
            except StopIteration:
                return
            send, error = None, None
            if isinstance(item, Emit):
                yield item.value
                continue
            if isinstance(item, EmitMany):
                values = item.values
                for start in range(0, len(values), _EMIT_SLICE):
                    if start:
                        await asyncio.sleep(0)  # thousands of values at once: let the loop run between slices
                    for value in values[start : start + _EMIT_SLICE]:
                        yield value
                continue
            try:
                send = await item.run_async()
            except Exception as e:
                error = e


def _result(item: Any) -> Any:
    if isinstance(item, _Returned):
        return item.value
    raise TypeError("an operation emitted a value: declare it with @stream")


def run_sync(op: Op[R]) -> R:
    """Run an operation to its result in this thread (the loop of :func:`iterate_sync`, without
    the generator around it: most operations are a few requests, and this is their whole cost)."""
    send: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                item = op.throw(error) if error is not None else op.send(send)
            except StopIteration as stop:
                return stop.value
            send, error = None, None
            if isinstance(item, (Emit, EmitMany)):
                raise TypeError("an operation emitted a value: declare it with @stream")
            try:
                send = item.run_sync()
            except Exception as e:
                error = e
    finally:
        op.close()


async def run_async(op: Op[R]) -> R:
    """Run an operation to its result, awaiting each request."""
    items = iterate_async(_returning(op))
    try:
        return _result(await items.__anext__())
    finally:
        await items.aclose()  # type: ignore[attr-defined]


def state_without_bound_methods(obj: Any) -> dict[str, Any]:
    """``obj.__dict__`` without the face methods bound on it (they are made again on first use), for
    ``__getstate__``: a data directory or store pickles to a process pool or a cluster."""
    return {k: v for k, v in obj.__dict__.items() if not getattr(v, "_ifcbkit_bound", False)}


class SyncFace:
    """Mixin: :class:`operation` methods return their result, :class:`stream` methods return an iterator."""

    _run = staticmethod(run_sync)
    _iterate = staticmethod(iterate_sync)


class AsyncFace:
    """Mixin: :class:`operation` methods are coroutines, :class:`stream` methods return an async iterator."""

    _run = staticmethod(run_async)
    _iterate = staticmethod(iterate_async)


class _FaceMethod:
    """What :class:`operation` and :class:`stream` share: the face-less raw operation, and the bound
    method cached on the instance (it is built once per object, not at every attribute access)."""

    def __init__(self, fn: Callable[..., Op[Any]]):
        self.fn = fn
        self.name = fn.__name__
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if getattr(obj, "_run", None) is None:  # an object without a face exposes the sans-I/O operation
            return functools.partial(self.fn, obj)
        bound = self._bind(obj)
        bound._ifcbkit_bound = True  # type: ignore[attr-defined]  # not part of the object's state
        with contextlib.suppress(AttributeError):  # without an instance dict, bind at every access
            obj.__dict__[self.name] = bound
        return bound

    def _bind(self, obj: Any) -> Callable[..., Any]:
        raise NotImplementedError

    def _signature(self, returns: str) -> inspect.Signature:
        """The bound method's true signature: without ``self``, returning ``returns`` (a template
        where ``{}`` stands for the type the operation returns or emits)."""
        cached = self.__dict__.setdefault("_signatures", {})
        if returns not in cached:
            full = inspect.signature(self.fn)
            annotation = full.return_annotation
            inner = "Any"
            if isinstance(annotation, str) and annotation.startswith("Op[") and annotation.endswith("]"):
                inner = annotation[3:-1]
            cached[returns] = full.replace(
                parameters=list(full.parameters.values())[1:], return_annotation=returns.format(inner)
            )
        return cached[returns]


class operation(_FaceMethod, Generic[P, R]):
    """Declare a sans-I/O method once; each face turns it into a sync or an async method."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Op[R]]):
        super().__init__(fn)

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> operation[P, R]: ...
    @overload
    def __get__(self, obj: AsyncFace, owner: type | None = None) -> Callable[P, Coroutine[Any, Any, R]]: ...
    @overload
    def __get__(self, obj: SyncFace, owner: type | None = None) -> Callable[P, R]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, Any]: ...

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return super().__get__(obj, owner)

    def _bind(self, obj: Any) -> Callable[..., Any]:
        fn, run = self.fn, obj._run
        if run is run_async:

            @functools.wraps(fn)
            async def call_async(*args: Any, **kwargs: Any) -> Any:
                return await run_async(fn(obj, *args, **kwargs))

            call_async.__signature__ = self._signature("{}")  # type: ignore[attr-defined]
            return call_async

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            return run(fn(obj, *args, **kwargs))

        call.__signature__ = self._signature("{}")  # type: ignore[attr-defined]
        return call


class stream(_FaceMethod, Generic[P, R]):
    """Declare a sans-I/O generator method that emits values: an iterator (sync) or async iterator (async)."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Op[None]]):
        super().__init__(fn)

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> stream[P, R]: ...
    @overload
    def __get__(self, obj: AsyncFace, owner: type | None = None) -> Callable[P, AsyncIterator[R]]: ...
    @overload
    def __get__(self, obj: SyncFace, owner: type | None = None) -> Callable[P, Iterator[R]]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, Any]: ...

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return super().__get__(obj, owner)

    def _bind(self, obj: Any) -> Callable[..., Any]:
        fn, iterate = self.fn, obj._iterate

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            return iterate(fn(obj, *args, **kwargs))

        kind = "AsyncIterator[Any]" if iterate is iterate_async else "Iterator[Any]"
        call.__signature__ = self._signature(kind)  # type: ignore[attr-defined]
        return call
