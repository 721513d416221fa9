"""The async face's connections for plain GET and HEAD requests (the lean path of
:mod:`ifcbkit.sources.dashboard.transport`): ``httpcore`` connections, each carrying one request at a
time, the most recently used taken first.

httpcore's own pool checks every connection it holds for expiry at every request and at every
answer's end, each check two system calls (a ``poll`` of the socket and a ``getpeername``): about
5,900 of each for 300 class-score files over 8 connections. Every system call lets go of the
interpreter lock, which the event loop's thread must then wait to get back while other threads
compute. This pool checks only the connection it takes (40 requests: 849 checks before, at most 40
now), and the whole ``abundance --dashboard`` run of ``bench/dashboard.py`` uses 0.26 s of CPU
against 0.32 s.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any


class LeanPool:
    """Keep-alive HTTP/1.1 connections by origin, for requests without a body. The number of
    connections is bounded by the caller (the client's semaphore): one per request in flight."""

    def __init__(self, ssl_context: Any = None, keepalive_expiry: float = 5.0):
        import httpcore

        self._httpcore = httpcore
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[Any, list[Any]] = {}
        self._busy: set[Any] = set()
        self._closed = False

    def __repr__(self) -> str:
        idle = sum(map(len, self._idle.values()))
        return f"{type(self).__name__}(idle={idle}, busy={len(self._busy)})"

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: list[tuple[bytes, bytes]], extensions: dict[str, Any]
    ) -> AsyncIterator[Any]:
        """The answer to one request, its body to be read within the block (``httpcore``'s
        ``stream``); the connection goes back to the pool when the answer was read in full."""
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2].encode("ascii")
        request = self._httpcore.Request(method, url, headers=[(b"Host", host), *headers], extensions=extensions)
        origin = request.url.origin
        connection, response = await self._send(request, origin)
        try:
            yield response
        finally:
            try:
                await response.aclose()
            finally:
                await self._release(connection, origin)

    async def _send(self, request: Any, origin: Any) -> tuple[Any, Any]:
        httpcore = self._httpcore
        idle = self._idle.setdefault(_key(origin), [])
        while True:
            reused = bool(idle)
            if reused:
                connection = idle.pop()
                if connection.has_expired() or not connection.is_available():  # (the server closed it)
                    await connection.aclose()
                    continue
            else:
                connection = httpcore.AsyncHTTPConnection(
                    origin=origin, ssl_context=self._ssl_context, keepalive_expiry=self._keepalive_expiry
                )  # fmt: skip
            self._busy.add(connection)
            try:
                return connection, await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                await self._drop(connection)
                if not reused:
                    raise
                # (it was closing as it was taken): another one
            except BaseException:
                await self._drop(connection)
                raise

    async def _drop(self, connection: Any) -> None:
        self._busy.discard(connection)
        await connection.aclose()

    async def _release(self, connection: Any, origin: Any) -> None:
        """Keep the connection if its answer was read in full (httpcore then made it idle), else close it."""
        self._busy.discard(connection)
        if connection.is_idle() and not self._closed:
            self._idle.setdefault(_key(origin), []).append(connection)
        elif not connection.is_closed():
            await connection.aclose()

    async def aclose(self) -> None:
        """Close every connection, idle or in use."""
        self._closed = True
        connections = [c for idle in self._idle.values() for c in idle] + list(self._busy)
        self._idle.clear()
        self._busy.clear()
        for connection in connections:
            await connection.aclose()


def _key(origin: Any) -> tuple[bytes, bytes, int]:
    """An origin as a key (httpcore's ``Origin`` compares equal but does not hash)."""
    return origin.scheme, origin.host, origin.port
