"""One HTTP request to a dashboard, as a request of the engine: its body read within a byte limit and
a deadline, on ``httpx`` (sync and async) or, for the async face's plain GET and HEAD requests, on
``httpcore`` connections beneath it (:mod:`~ifcbkit.sources.dashboard.pool`; see
:data:`~ifcbkit.sources.dashboard.client.LEAN`); and each event loop's clients and semaphore, closed
as the loop ends. The retry policy and URLs are the client's (:mod:`ifcbkit.sources.dashboard.client`).
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any, NamedTuple, Protocol, cast

from ...engine.requests import Request
from ...errors import FormatError, MissingDependencyError, StoreError
from .pool import LeanPool

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)


class Sender(Protocol):
    """What a request needs of the client that sends it (:class:`~ifcbkit.sources.dashboard.client.DashboardClient`)."""

    max_bytes: dict[str, int]
    request_deadline: float
    timeout: float
    _httpx: Any
    _sync_client: Any

    @property
    def _client(self) -> Any: ...

    def _call_at(self) -> float | None: ...

    def _loop_state(self) -> LoopState: ...


@functools.cache
def default_tls() -> Any:
    """httpx's default TLS context (certifi's roots), made once per process: making one takes about
    50 ms, which every new store (and every unpickled copy on a worker) would otherwise pay."""
    make = getattr(load_httpx(), "create_ssl_context", None)
    return True if make is None else make()


def load_httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise MissingDependencyError("dashboard stores", "http", "httpx") from None
    return httpx


class Sleep(Request[None]):
    """Wait: ``time.sleep`` on the sync face, ``asyncio.sleep`` on the async one."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float):
        self.seconds = seconds

    def run_sync(self) -> None:
        time.sleep(self.seconds)

    async def run_async(self) -> None:
        await asyncio.sleep(self.seconds)


class Deadline(Exception):
    """An answer did not arrive in full within the request's deadline (retried like a timeout, while
    the call's deadline leaves time)."""


class Answer(NamedTuple):
    """A response read in full: what the store looks at."""

    status_code: int
    headers: Any
    content: bytes
    content_range: tuple[int, int, str] | None = None  # (start, end, total) of a 206 to a Range request


def _content_range(url: str, headers: Any, offset: int, length: int) -> tuple[int, int, str]:
    """``(start, end, total)`` of a 206 answer to a request for ``length`` bytes at ``offset``.

    Raises:
        StoreError: if the answer has no Content-Range, or holds other bytes than those asked for.
    """
    match = _CONTENT_RANGE.fullmatch(headers.get("content-range", "").strip())
    if match is None:  # a 206 without the range it holds cannot be placed in the file
        raise StoreError(f"GET {url}: a partial answer (206) without a Content-Range for bytes {offset}-")
    start, end = int(match[1]), int(match[2])
    if start != offset or end > offset + length - 1 or end < start:
        raise StoreError(
            f"GET {url}: asked for bytes {offset}-{offset + length - 1}, the server sent bytes {start}-{end}"
        )
    return start, end, match[3]


class _Body:
    """A response body, collected chunk by chunk within a byte limit and a deadline (both faces)."""

    __slots__ = ("chunks", "fetch", "limit", "range", "response", "size", "what")

    def __init__(self, fetch: Fetch, response: Any):
        self.fetch, self.response = fetch, response
        self.chunks: list[bytes] = []
        self.size = 0
        self.range: tuple[int, int, str] | None = None
        if response.status_code == 206 and fetch.asked is not None:
            self.range = start, end, _ = _content_range(fetch.url, response.headers, *fetch.asked)
            self.limit, self.what = end - start + 1, f"long body for Content-Range bytes {start}-{end}"
        else:
            self.limit = fetch.limit
            self.what = f"an answer larger than max_bytes[{fetch.kind!r}] allows"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            self.refuse(int(declared))

    def refuse(self, size: int) -> None:
        raise FormatError(self.fetch.url, f"{self.what} ({size} bytes, more than {self.limit})")

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.refuse(self.size)
        self.chunks.append(chunk)
        if time.monotonic() > self.fetch.deadline_at:
            raise Deadline

    def answer(self) -> Answer:
        chunks = self.chunks
        content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return Answer(self.response.status_code, self.response.headers, content, self.range)


class Fetch(Request[Answer]):
    """One HTTP request, its body read within a byte limit and a deadline. The sync face streams on
    ``httpx.Client`` and checks the deadline as chunks arrive (each read waits at most the read
    timeout); the async face streams on ``httpx.AsyncClient`` under ``asyncio.wait_for`` and holds a
    semaphore slot while it runs."""

    __slots__ = ("asked", "call_at", "deadline_at", "kind", "limit", "method", "options", "store", "url")

    def __init__(
        self,
        store: Sender,
        method: str,
        url: str,
        kind: str,
        options: dict[str, Any],
        asked: tuple[int, int] | None,
    ):
        self.store, self.method, self.url, self.kind, self.options = store, method, url, kind, options
        self.limit = store.max_bytes[kind]
        self.asked = asked
        self.call_at = store._call_at()  # the deadline of the call this request is part of, if any
        self.deadline_at = math.inf

    def _seconds_left(self) -> float:
        """Seconds this request may still take (its own bound, and its call's): ``Deadline`` at 0."""
        now = time.monotonic()
        left = self.store.request_deadline
        if self.call_at is not None:
            left = min(left, self.call_at - now)
        if left <= 0:
            raise Deadline
        return left

    def _stream_options(self) -> dict[str, Any]:
        store = self.store
        left = self._seconds_left()
        self.deadline_at = time.monotonic() + left
        return {**self.options, "timeout": store._httpx.Timeout(min(store.timeout, left))}

    def run_sync(self) -> Answer:
        with self.store._client.stream(self.method, self.url, **self._stream_options()) as response:
            body = _Body(self, response)
            for chunk in response.iter_bytes():
                body.add(chunk)
            return body.answer()

    async def _stream(self, client: Any) -> Answer:
        async with client.stream(self.method, self.url, **self._stream_options()) as response:
            body = _Body(self, response)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
            return body.answer()

    async def _lean_stream(self, pool: LeanPool) -> Answer | None:
        """The request on the loop's ``httpcore`` connections (see :data:`~ifcbkit.sources.dashboard.client.LEAN`):
        a GET or HEAD without credentials, its answer read as :meth:`_stream` reads httpx's. ``None`` for a
        redirect, which httpx follows (with its rules for headers on another origin)."""
        store = self.store
        left = self._seconds_left()
        self.deadline_at = time.monotonic() + left
        seconds = min(store.timeout, left)
        params = self.options.get("params")
        url = f"{self.url}?{urllib.parse.urlencode(params)}" if params else self.url
        headers = _LEAN_HEADERS
        asked = self.options.get("headers")
        if asked:
            headers = [*headers, *((k.encode("latin-1"), v.encode("latin-1")) for k, v in asked.items())]
        timeouts = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
        try:
            async with pool.stream(self.method, url, headers=headers, extensions={"timeout": timeouts}) as response:
                if 300 <= response.status < 400:
                    return None
                body = _Body(self, _LeanResponse(response.status, store._httpx.Headers(response.headers)))
                async for chunk in response.aiter_stream():
                    body.add(chunk)
                return body.answer()
        except _httpcore_errors() as e:
            raise _as_httpx_error(store._httpx, e) from e

    async def run_async(self) -> Answer:
        store = self.store
        if store._sync_client is not None and not isinstance(store._sync_client, store._httpx.AsyncClient):
            return await super().run_async()  # an injected sync client: off the loop
        state = store._loop_state()
        await state.watched()
        async with state.semaphore:
            try:
                if state.pool is not None and self.method in ("GET", "HEAD") and "data" not in self.options:
                    answer = await asyncio.wait_for(self._lean_stream(state.pool), self._seconds_left())
                    if answer is not None:
                        return answer
                return await asyncio.wait_for(self._stream(state.client), self._seconds_left())
            except asyncio.TimeoutError:
                raise Deadline from None


# What every request on the lean path carries besides Host (httpcore adds it): what httpx sends, less
# Accept-Encoding (answers come as they are stored; nothing to decode).
_LEAN_HEADERS: list[tuple[bytes, bytes]] = [
    (b"Accept", b"*/*"), (b"Connection", b"keep-alive"), (b"User-Agent", b"ifcbkit"),
]  # fmt: skip


class _LeanResponse(NamedTuple):
    """What :class:`_Body` reads of a response: its status and headers."""

    status_code: int
    headers: Any


@functools.cache
def _httpcore_errors() -> tuple[type[Exception], ...]:
    import httpcore

    return (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError,
            httpcore.UnsupportedProtocol)  # fmt: skip


def _as_httpx_error(httpx: Any, error: Exception) -> Exception:
    """httpx's exception for an httpcore one (the retry policy is written in httpx's terms)."""
    import httpcore

    kinds = [(httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
             (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
             (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
             (httpcore.WriteError, httpx.WriteError), (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
             (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.ProxyError, httpx.ProxyError),
             (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol)]  # fmt: skip
    for theirs, ours in kinds:
        if isinstance(error, theirs):
            return cast(Exception, ours(str(error)))
    return cast(Exception, httpx.TransportError(str(error)))


async def _close_with_loop(state: LoopState) -> AsyncIterator[None]:
    """Suspended for as long as its loop runs: the loop closes its async generators as it ends
    (``asyncio.run`` does), and this one then closes the state's connections, which belong to that loop."""
    try:
        yield
    finally:
        await state.close_connections()


class LoopState:
    """One event loop's semaphore, httpx client (made on first use: the lean path may never need
    it) and lean pool. What the store made is closed when its loop ends (through
    :func:`_close_with_loop`), or by ``aclose``: no connection outlives its loop."""

    __slots__ = ("_client", "make_client", "owned", "pool", "semaphore", "watch")

    def __init__(self, make_client: Any, semaphore: asyncio.Semaphore, owned: bool, pool: LeanPool | None = None):
        self.make_client, self.semaphore, self.owned, self.pool = make_client, semaphore, owned, pool
        self._client: Any = None
        self.watch: AsyncIterator[None] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def closed(self) -> bool:
        return bool(self.owned and getattr(self._client, "is_closed", False))

    async def watched(self) -> None:
        """Tie the connections to the running loop's end (on the loop's first request)."""
        if self.watch is None and self.owned:
            self.watch = _close_with_loop(self)
            await self.watch.__anext__()

    async def close_connections(self) -> None:
        try:
            if self.pool is not None:
                await self.pool.aclose()
        finally:
            if self._client is not None:
                await self._client.aclose()

    async def aclose(self) -> None:
        if not self.owned:
            return
        if self.watch is not None:
            watch, self.watch = self.watch, None
            await watch.aclose()  # type: ignore[attr-defined]
        else:
            await self.close_connections()
