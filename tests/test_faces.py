"""The sans-I/O machinery: one generator per algorithm, run by a sync or an async face."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import threading
import warnings

import pytest

from ifcbkit.engine.fileio import FileExists, ReadFile, ReadRanges, ScanDirs, StatFile
from ifcbkit.engine.requests import (
    Blocking,
    Call,
    Emit,
    iterate_async,
    iterate_sync,
    run_async,
    run_sync,
)


class Boom(Exception):
    pass


def fail(message: str) -> None:
    raise Boom(message)


# ----- running operations ---------------------------------------------------------------------


def add_op(a: int, b: int):
    x = yield Blocking(lambda: a)
    y = yield Call(lambda v: v * 10, b)
    return x + y


def recovering_op(log: list):
    try:
        yield Blocking(fail, "first")
    except Boom as e:
        log.append(str(e))
    value = yield Blocking(lambda: "after")
    return value


def failing_op():
    yield Blocking(fail, "not caught")
    return "unreachable"


def emitting_op():
    yield Emit(1)
    return 2


def test_run_sync_sends_results_back():
    assert run_sync(add_op(3, 4)) == 43


async def test_run_async_sends_results_back():
    assert await run_async(add_op(3, 4)) == 43


def test_request_exception_is_thrown_into_the_operation_sync():
    log: list[str] = []
    assert run_sync(recovering_op(log)) == "after"
    assert log == ["first"]
    with pytest.raises(Boom, match="not caught"):
        run_sync(failing_op())


async def test_request_exception_is_thrown_into_the_operation_async():
    log: list[str] = []
    assert await run_async(recovering_op(log)) == "after"
    assert log == ["first"]
    with pytest.raises(Boom, match="not caught"):
        await run_async(failing_op())


def test_the_thrown_exception_is_the_one_the_request_raised():
    seen = []
    error = Boom("same object")

    def raiser():
        raise error

    def op():
        try:
            yield Blocking(raiser)
        except Boom as e:
            seen.append(e)
        return None

    run_sync(op())
    assert seen == [error] and seen[0] is error


def test_an_operation_that_emits_must_be_a_stream():
    with pytest.raises(TypeError, match="iterate_sync or iterate_async"):
        run_sync(emitting_op())


def counting_stream(n: int, log: list):
    try:
        for k in range(n):
            value = yield Blocking(lambda k=k: k * k)
            yield Emit(value)
    finally:
        log.append("closed")


def stream_with_recovery():
    for k in range(3):
        try:
            value = yield Blocking(fail, f"bad {k}") if k == 1 else Blocking(lambda k=k: k)
        except Boom as e:
            value = str(e)
        yield Emit(value)


def test_iterate_sync_yields_emitted_values_and_throws_errors_in():
    log: list[str] = []
    assert list(iterate_sync(counting_stream(4, log))) == [0, 1, 4, 9]
    assert log == ["closed"]
    assert list(iterate_sync(stream_with_recovery())) == [0, "bad 1", 2]


async def test_iterate_async_yields_emitted_values_and_throws_errors_in():
    log: list[str] = []
    assert [v async for v in iterate_async(counting_stream(4, log))] == [0, 1, 4, 9]
    assert log == ["closed"]
    assert [v async for v in iterate_async(stream_with_recovery())] == [0, "bad 1", 2]


def test_iterate_sync_propagates_uncaught_request_errors():
    def op():
        yield Emit("first")
        yield Blocking(fail, "in stream")
        yield Emit("never")

    got = []
    with pytest.raises(Boom, match="in stream"):
        for value in iterate_sync(op()):
            got.append(value)
    assert got == ["first"]


async def test_iterate_async_propagates_uncaught_request_errors():
    def op():
        yield Emit("first")
        yield Blocking(fail, "in stream")
        yield Emit("never")

    got = []
    with pytest.raises(Boom, match="in stream"):
        async for value in iterate_async(op()):
            got.append(value)
    assert got == ["first"]


# ----- explicit shells over one core ------------------------------------------------------------


class Thing:
    """A sans-I/O core: operations are generators."""

    def __init__(self, base: int):
        self.base = base

    def plus(self, n: int, *, times: int = 1):
        value = yield Blocking(lambda: self.base + n * times)
        return value

    def upto(self, n: int):
        for k in range(n):
            yield Emit((yield Blocking(lambda k=k: self.base + k)))


class SyncThing:
    def __init__(self, base: int):
        self.core = Thing(base)

    def plus(self, n: int, *, times: int = 1) -> int:
        """Add n to base, times times."""
        return run_sync(self.core.plus(n, times=times))

    def upto(self, n: int):
        return iterate_sync(self.core.upto(n))


class AsyncThing:
    def __init__(self, base: int):
        self.core = Thing(base)

    async def plus(self, n: int, *, times: int = 1) -> int:
        """Add n to base, times times."""
        return await run_async(self.core.plus(n, times=times))

    def upto(self, n: int):
        return iterate_async(self.core.upto(n))


def test_a_sync_shell_runs_operations_and_streams():
    thing = SyncThing(5)
    assert thing.plus(2) == 7
    assert thing.plus(2, times=3) == 11
    values = thing.upto(3)
    assert not inspect.isasyncgen(values)
    assert list(values) == [5, 6, 7]


async def test_an_async_shell_awaits_operations_and_streams():
    thing = AsyncThing(5)
    pending = thing.plus(2, times=3)
    assert inspect.iscoroutine(pending)
    assert await pending == 11
    values = thing.upto(3)
    assert hasattr(values, "__anext__")
    assert [v async for v in values] == [5, 6, 7]


def test_operations_compose_with_yield_from():
    def twice(core: Thing, n: int):
        first = yield from core.plus(n)
        second = yield from core.plus(n, times=2)
        return first, second

    assert run_sync(twice(Thing(100), 1)) == (101, 102)
    assert asyncio.run(run_async(twice(Thing(100), 1))) == (101, 102)


# ----- closing streams early ------------------------------------------------------------------


def test_breaking_out_of_a_sync_stream_closes_the_operation():
    log: list[str] = []
    for value in SyncStream(log).values(10):
        if value == 1:
            break
    assert log == ["closed"]


async def test_closing_an_async_stream_closes_the_operation():
    log: list[str] = []
    async with contextlib.aclosing(AsyncStream(log).values(10)) as values:
        async for value in values:
            if value == 1:
                break
    assert log == ["closed"]


async def test_breaking_out_of_an_async_stream_closes_it_when_collected():
    log: list[str] = []
    async for value in AsyncStream(log).values(10):
        if value == 1:
            break
    gc.collect()
    for _ in range(20):  # the loop's async-generator finalizer schedules aclose()
        if log:
            break
        await asyncio.sleep(0)
    assert log == ["closed"]


class SyncStream:
    def __init__(self, log: list):
        self.log = log

    def values(self, n: int):
        return iterate_sync(counting_stream(n, self.log))


class AsyncStream:
    def __init__(self, log: list):
        self.log = log

    def values(self, n: int):
        return iterate_async(counting_stream(n, self.log))


def test_closing_a_sync_run_closes_the_operation_on_error():
    log: list[str] = []

    def op():
        try:
            yield Blocking(fail, "x")
        finally:
            log.append("finally")

    with pytest.raises(Boom):
        run_sync(op())
    assert log == ["finally"]


# ----- Call and Blocking ----------------------------------------------------------------------


async def _async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def test_call_refuses_awaitables_on_the_sync_face():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match="async"):
            Call(_async_double, 2).run_sync()
        gc.collect()
    # the refused coroutine is closed, not left to warn "never awaited"
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_call_runs_plain_functions_on_the_sync_face():
    assert Call(lambda a, b: a - b, 5, 3).run_sync() == 2


async def test_call_awaits_awaitables_only_on_the_async_face():
    assert await Call(_async_double, 21).run_async() == 42
    assert await Call(lambda: "plain").run_async() == "plain"


async def _thread_ident() -> int:
    return threading.get_ident()


async def test_coroutines_run_on_the_loop_and_plain_calls_in_a_worker():
    loop_thread = threading.get_ident()
    assert await Call(_thread_ident).run_async() == loop_thread
    assert await Call(threading.get_ident).run_async() != loop_thread  # a boto3-like call never blocks the loop
    assert await Blocking(threading.get_ident).run_async() != loop_thread


@pytest.mark.parametrize(
    "request_",
    [ScanDirs(["."]), StatFile("x"), FileExists("x"), ReadFile("x"), ReadRanges("x", [(0, 1)]), Blocking(print)],
    ids=lambda r: type(r).__name__,
)
async def test_file_requests_run_in_a_worker_thread_on_the_async_face(monkeypatch, request_):
    loop_thread = threading.get_ident()
    monkeypatch.setattr(type(request_), "run_sync", lambda self: threading.get_ident())
    assert await request_.run_async() != loop_thread
    assert request_.run_sync() == loop_thread


async def test_reads_and_blocking_calls_of_one_loop_turn_share_one_worker_thread_hop(tmp_path):
    """300 concurrent ranged reads woke 300 worker threads, which queued for the interpreter lock with
    the event loop (the loop stalled 22-33 ms); calls of one turn now run together in one thread, and
    each gets its own result or error."""
    import asyncio

    path = tmp_path / "data"
    path.write_bytes(bytes(range(256)))
    threads: list[int] = []

    def where(k: int) -> int:
        threads.append(threading.get_ident())
        if k == 3:
            raise ValueError("three")
        return k

    reads = [ReadRanges(str(path), [(k, 2)]).run_async() for k in range(50)]
    calls = [Blocking(where, k).run_async() for k in range(6)]
    missing = ReadRanges(str(tmp_path / "missing"), [(0, 1)]).run_async()
    results = await asyncio.gather(*reads, *calls, missing, return_exceptions=True)
    assert results[:50] == [[bytes([k, k + 1])] for k in range(50)]
    assert results[50:53] == [0, 1, 2] and isinstance(results[53], ValueError) and results[54:56] == [4, 5]
    assert isinstance(results[56], FileNotFoundError)
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
