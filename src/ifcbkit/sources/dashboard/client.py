"""A dashboard's HTTP client: its URLs, credentials, per-loop connections, deadlines and the retry
policy, written once for both faces as sans-I/O operations. What one request does is in
:mod:`ifcbkit.sources.dashboard.transport`; the source (:mod:`~ifcbkit.sources.dashboard.source`),
the listing (:mod:`~ifcbkit.sources.dashboard.catalog`) and the products
(:mod:`~ifcbkit.sources.dashboard.products`) send their requests through one :class:`DashboardClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import random
import re
import ssl
import threading
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import Mapping
from typing import Any, TypeVar

from ...engine.requests import Call, Op, perform
from ...errors import FormatError, InvalidIdentifierError, NotFoundError, StoreError
from ...formats.ids import bin_key, validate_bin_id
from .answers import parse_json
from .pool import LeanPool
from .transport import Answer, Deadline, Fetch, LoopState, Sleep, default_tls, load_httpx

# The logger of the dashboard store's messages (retries, rangeless servers), by the name users know.
logger = logging.getLogger("ifcbkit.stores.dashboard")

_DATASET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}", re.ASCII)

# The async store sends GET and HEAD requests on httpcore's connections (pool.py), beneath httpx: a
# dashboard answers hundreds of small requests per job, and httpx's per-request work (its request and
# response models, hooks, redirect and cookie handling) is half the client's CPU time. Stores with
# credentials, redirects, POSTs and hosts behind a proxy go through httpx.
LEAN = True


def _proxied(url: str) -> bool:
    """Whether the environment sends requests to ``url`` through a proxy (httpx would honour it)."""
    proxies = urllib.request.getproxies()
    if not proxies:
        return False
    host = urllib.parse.urlsplit(url).hostname or ""
    return not urllib.request.proxy_bypass(host)


# The largest answer each kind of request may have, in bytes: far above what instruments write (a
# real header is 0.3 to 4 KB, an ADC of 100,000 triggers about 30 MB), and a bound on what a broken or
# hostile server can make a reader hold. ``max_bytes`` overrides any of them.
DEFAULT_MAX_BYTES: dict[str, int] = {
    "hdr": 1 << 20, "adc": 1 << 30, "roi": 8 << 30, "api": 256 << 20, "product": 1 << 30,
}  # fmt: skip


# Seconds one request may take, from sending it to the last byte of its answer, when the store has
# no ``deadline`` (which then bounds each whole call instead).
REQUEST_DEADLINE = 600.0

T = TypeVar("T")

# The deadline of the store call running in this context (thread or task): (its source, monotonic time).
_CALL: contextvars.ContextVar[tuple[object, float] | None] = contextvars.ContextVar(
    "ifcbkit_dashboard_call", default=None
)


class RetryPolicy:
    """Retry after 5xx answers and connection errors (never 4xx): ``retries`` more attempts,
    waiting ``backoff * 2**n`` seconds (at most ``max_backoff``) times a random factor in [0.5, 1]."""

    def __init__(self, retries: int = 3, backoff: float = 0.25, max_backoff: float = 8.0):
        if retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must not be negative")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def __repr__(self) -> str:
        return f"RetryPolicy(retries={self.retries}, backoff={self.backoff}, max_backoff={self.max_backoff})"

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based)."""
        return min(self.max_backoff, self.backoff * float(2**attempt)) * random.uniform(0.5, 1.0)


def _public_url(url: str) -> str:
    """``url`` without user info (``https://user:secret@host/`` → ``https://host/``)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class DashboardClient:
    """One dashboard (``base_url``, ``dataset``) over HTTP: URLs, credentials kept out of messages, the
    face's clients (one ``httpx.Client``, or per event loop an ``httpx.AsyncClient``, a pool of httpcore
    connections and a semaphore bounding the requests in flight when ``async_client``), deadlines and
    retries.

    Raises:
        ValueError: for a URL that is not http(s), a bad setting, or headers with an injected client.
        InvalidIdentifierError: for a malformed dataset name.
        MissingDependencyError: without httpx (the ``http`` extra).
    """

    def __init__(
        self,
        base_url: str,
        dataset: str | None = None,
        *,
        client: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        retries: int | RetryPolicy = 3,
        backoff: float = 0.25,
        deadline: float | None = None,
        max_bytes: Mapping[str, int] | None = None,
        async_client: bool = False,
    ):
        httpx = load_httpx()
        parts = urllib.parse.urlsplit(str(base_url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, not {_public_url(str(base_url))!r}")
        if dataset is not None and (not isinstance(dataset, str) or not _DATASET.fullmatch(dataset)):
            raise InvalidIdentifierError(f"invalid dataset name {dataset!r}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not (timeout > 0 and (deadline is None or deadline > 0)):
            raise ValueError("timeout and deadline must be positive numbers of seconds")
        unknown = set(max_bytes or ()) - set(DEFAULT_MAX_BYTES)
        if unknown:
            raise ValueError(f"max_bytes takes the keys {sorted(DEFAULT_MAX_BYTES)}, not {sorted(unknown)}")
        self.max_bytes = {**DEFAULT_MAX_BYTES, **(max_bytes or {})}
        self.timeout = float(timeout)
        # deadline: each call (read_header, read_image, a listing, ...) as a whole, retries included;
        # without one, each request alone, within REQUEST_DEADLINE (long downloads are not cut)
        self.deadline = None if deadline is None else float(deadline)
        self.request_deadline = REQUEST_DEADLINE if deadline is None else float(deadline)
        auth = None
        if parts.username is not None or parts.password is not None:  # user info → basic auth, out of URLs
            user, password = urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or "")
            auth = httpx.BasicAuth(user, password)
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        # a query (``?token=...``) goes with every request, never into URLs that messages show
        self._params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        parts = parts._replace(query="", fragment="")
        self.base_url = urllib.parse.urlunsplit(parts).rstrip("/")
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self.dataset = dataset
        self.retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries, backoff)
        self.max_concurrency = max_concurrency
        self._async = async_client
        self._httpx = httpx
        self._auth = auth
        self._owns_client = client is None
        self._headers = bool(headers)
        self.settings = {"timeout": timeout, "max_concurrency": max_concurrency, "retries": self.retry,
                         "deadline": deadline, "max_bytes": dict(max_bytes or {})}  # fmt: skip
        if client is not None and headers:
            raise ValueError("pass headers to the client you inject, or let the store make its client")
        self._private = tuple(headers or {})
        self._client_headers = dict(headers or {})
        # The async face makes a client and a semaphore per event loop, when a loop first uses the store
        # (httpx's connections and asyncio's locks belong to the loop that made them).
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopState] = weakref.WeakKeyDictionary()
        self._loops_lock = threading.Lock()
        self._injected = client
        # The async face's lean path (see LEAN): a store that made its client, without credentials, on
        # a host reached without a proxy.
        self._lean = LEAN and async_client and client is None and auth is None and not headers
        self._lean = self._lean and self.base_url.isascii() and not _proxied(self.base_url)
        self._sync_client = client if client is not None else None if async_client else self._new_client()

    def _new_client(self) -> Any:
        """A client of this store's settings, of the face's kind."""
        httpx = self._httpx
        hooks = {"request": [self._request_hook(self._private, self._async)]} if self._private else {}
        return (httpx.AsyncClient if self._async else httpx.Client)(
            headers=self._client_headers,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency),
            follow_redirects=True,
            event_hooks=hooks,
            verify=default_tls(),
        )

    def _new_pool(self) -> LeanPool:
        """The lean path's connections (``httpcore``, which httpx itself runs on)."""
        tls = default_tls() if self.base_url.startswith("https:") else None  # (made once, for https only)
        return LeanPool(ssl_context=tls if isinstance(tls, ssl.SSLContext) else None, keepalive_expiry=5.0)

    @property
    def _client(self) -> Any:
        """The HTTP client for the caller: the injected one, the sync face's, or the running loop's."""
        if self._sync_client is not None:
            return self._sync_client
        return self._loop_state().client

    def _loop_state(self) -> LoopState:
        """The running loop's client and semaphore, made on its first use of the store. Loops that have
        ended are forgotten here (their clients were closed as they ended, see :class:`LoopState`)."""
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None or state.closed():
            with self._loops_lock:  # (loops in other threads may be making theirs)
                self._forget_ended_loops()
                injected = self._injected
                make = self._new_client if injected is None else lambda: injected
                pool = self._new_pool() if self._lean else None
                semaphore = asyncio.Semaphore(self.max_concurrency)
                state = self._loops[loop] = LoopState(make, semaphore, self._owns_client, pool)
        return state

    def _forget_ended_loops(self) -> None:
        for other in [other for other in list(self._loops.keys()) if other.is_closed()]:
            self._loops.pop(other, None)

    async def _aclose_loop(self) -> None:
        """Close the running loop's client (when the store made it), and forget loops that have ended."""
        loop = asyncio.get_running_loop()
        with self._loops_lock:
            state = self._loops.pop(loop, None)
            self._forget_ended_loops()
        if state is not None:
            await state.aclose()

    def _request_hook(self, private: tuple[str, ...], async_client: bool) -> Any:
        if not async_client:
            return functools.partial(self._keep_headers_home, private=private)

        async def hook(request: Any) -> None:
            self._keep_headers_home(request, private)

        return hook

    def _keep_headers_home(self, request: Any, private: tuple[str, ...]) -> None:
        """The headers given to the store (API keys, tokens) go to its own origin only: a redirect to
        another host, port or scheme is sent without them (httpx drops only ``Authorization``)."""
        url = request.url
        if (url.scheme, url.host, url.port) != self._origin:
            for name in private:
                request.headers.pop(name, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, dataset={self.dataset!r})"

    def check_picklable(self, store: object) -> None:
        """Refuse to pickle ``store`` when this client holds credentials (user info or a query in its URL,
        headers), which would travel in the pickle (a Dask task graph, a pool's queue), or was injected.

        Raises:
            TypeError: for such a store.
        """
        if self._auth is not None or self._params or self._headers:
            raise TypeError(
                f"{store!r} holds credentials (in its URL or headers) and is not pickled, so that they stay out of"
                " task graphs and logs: make the store where it is used"
            )
        if not self._owns_client:
            raise TypeError(f"{store!r} uses an injected HTTP client, which cannot be sent to another process")

    def _call_at(self) -> float | None:
        """When the store call running here must end (monotonic time), or ``None``."""
        call = _CALL.get()
        return call[1] if call is not None and call[0] is self else None

    def bounded(self, op: Op[T]) -> Op[T]:
        """``op`` as one call within the store's ``deadline`` (when it has one): its requests, retries
        and backoff end by then, or the call is a :class:`~ifcbkit.errors.StoreError`. A call within
        a call keeps the outer one's deadline. (Its steps run in the caller's context, and concurrent
        sub-operations copy it, so the deadline follows the call and no other.)"""
        if self.deadline is None or self._call_at() is not None:
            return (yield from op)
        token = _CALL.set((self, time.monotonic() + self.deadline))
        try:
            return (yield from op)
        finally:
            with contextlib.suppress(ValueError):  # (closed from another context: nothing to undo there)
                _CALL.reset(token)

    def close(self) -> Op[None]:
        """Close the HTTP client (unless it was injected)."""
        if self._owns_client:
            yield Call(self._aclose_loop if self._async else self._client.close)

    # ----- URLs -----

    def file_url(self, bin_id: str, ext: str) -> str:
        return self.data_url(bin_key(bin_id, ext))

    def data_url(self, name: str) -> str:
        """``{base}/{dataset}/{name}``, or ``{base}/data/{name}`` on a dashboard used without a dataset."""
        return f"{self.base_url}/{self.dataset}/{name}" if self.dataset else f"{self.base_url}/data/{name}"

    def api_url(self, bin_id: str) -> str:
        query = f"?{urllib.parse.urlencode({'dataset': self.dataset})}" if self.dataset else ""
        return f"{self.base_url}/api/bin/{validate_bin_id(bin_id)}{query}"

    # ----- HTTP, with the retry policy -----

    def request(
        self,
        method: str,
        url: str,
        kind: str,
        headers: Mapping[str, str] | None = None,
        asked: tuple[int, int] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Op[Answer]:
        """One request, retried after 5xx answers, connection errors and missed deadlines; the final
        answer, read in full: at most ``max_bytes[kind]`` bytes, or for a 206 to a Range request for
        ``asked`` (offset, length), the bytes its Content-Range says, which must be those asked for."""
        options: dict[str, Any] = {"headers": headers}
        if self._auth is not None:
            options["auth"] = self._auth
        if self._params or params:
            options["params"] = [*self._params, *(params or {}).items()]
        if form is not None:
            options["data"] = dict(form)
        attempt = 0
        while True:
            fetch = Fetch(self, method, url, kind, options, asked)
            delay = self.retry.delay(attempt)
            last = attempt >= self.retry.retries  # (or no time left in the call for a wait and a retry)
            try:
                response = yield from perform(fetch)
            except Deadline:
                reason = f"no complete answer within the {self.request_deadline:g} s deadline"
                if fetch.call_at is not None:
                    last = last or time.monotonic() + delay >= fetch.call_at
                if last:
                    raise StoreError(f"{method} {url} failed after {attempt + 1} attempts ({reason})") from None
            except self._httpx.TransportError as e:  # connection errors, timeouts: retried
                reason = type(e).__name__
                if fetch.call_at is not None and time.monotonic() + delay >= fetch.call_at:
                    reason += f"; no complete answer within the {self.request_deadline:g} s deadline"
                    last = True
                if last:
                    raise StoreError(f"{method} {url} failed after {attempt + 1} attempts ({reason})") from e
            except self._httpx.HTTPError as e:  # too many redirects, undecodable body: not retried
                raise StoreError(f"{method} {url} failed ({type(e).__name__})") from e
            else:
                if fetch.call_at is not None:
                    last = last or time.monotonic() + delay >= fetch.call_at
                if response.status_code < 500 or last:
                    return response
                reason = f"HTTP {response.status_code}"
            attempt += 1
            logger.warning(
                "%s %s: %s; retry %d of %d in %.2f s", method, url, reason, attempt, self.retry.retries, delay
            )
            yield Sleep(delay)

    @staticmethod
    def check(response: Any, method: str, url: str) -> None:
        status = response.status_code
        if status == 404:
            raise NotFoundError(f"{url} does not exist (HTTP 404)")
        if status >= 400:
            raise StoreError(f"{method} {url} failed (HTTP {status})")

    def get_range(self, url: str, ext: str, offset: int, length: int) -> Op[tuple[bytes, Answer | None]]:
        """``(bytes [offset, offset + length), None)`` from a 206, or ``(slice, the whole answer)`` when
        the server ignored the range and sent the file."""
        if length <= 0:
            return b"", None
        response = yield from self.request(
            "GET", url, ext, {"Range": f"bytes={offset}-{offset + length - 1}"}, (offset, length)
        )
        if response.status_code == 416:  # the range starts at or past the end of the file
            return b"", None
        self.check(response, "GET", url)
        body = response.content
        if response.status_code != 206:
            return body[offset : offset + length], response
        # a 206 to a Range request: its Content-Range was checked, and the body bounded by it, as it arrived
        start, end, total = response.content_range  # type: ignore[misc]
        if len(body) < end - start + 1:
            raise FormatError(url, f"short body: {len(body)} bytes for Content-Range bytes {start}-{end}")
        if total != "*" and len(body) < length and offset + len(body) < int(total):
            raise FormatError(
                url, f"short body: {len(body)} of the {length} bytes asked for, in a file of {total} bytes"
            )
        return body, None

    # ----- JSON answers -----

    def api(self, path: str, params: Mapping[str, str] | None = None, form: Mapping[str, str] | None = None) -> Op[Any]:
        """The JSON of ``{base}/api/{path}``, or ``None`` for a 404."""
        url = f"{self.base_url}/api/{path}"
        method = "POST" if form is not None else "GET"
        response = yield from self.request(method, url, "api", params=params, form=form)
        if response.status_code == 404:
            return None
        self.check(response, method, url)
        return parse_json(response.content, source=url)
