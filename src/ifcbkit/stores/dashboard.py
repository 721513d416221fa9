"""Bins read from an IFCB dashboard (ifcbdb) over HTTP, on httpx (the ``http`` extra).

Raw files come from ``{base_url}/{dataset}/{pid}.{hdr,adc,roi}`` (no dataset segment when
``dataset`` is ``None``), bin metadata from ``{base_url}/api/bin/{pid}?dataset=...``. A ROI is
read with an HTTP ``Range`` request when the server honours it (206); a server that answers
200 sends the whole file, which is then sliced. Every read operation of
:class:`~ifcbkit.reading.BinReading` comes for free, sync (:class:`DashboardBinStore`, on
``httpx.Client``) and async (:class:`AsyncDashboardBinStore`, on ``httpx.AsyncClient``).

One client per store reuses connections; the async store bounds the requests in flight with
a semaphore (and both bound the connection pool). The retry policy, written once for both
faces: up to ``retries`` more attempts after a 5xx answer or a connection error/timeout, with
exponential backoff and jitter; never after a 4xx. 404 is :class:`~ifcbkit.errors.NotFoundError`,
a body shorter than its ``Content-Range`` is a :class:`~ifcbkit.errors.FormatError`, other
failures are :class:`~ifcbkit.errors.StoreError`. Error messages and log records name URLs
without their user info and never carry request headers.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import random
import re
import time
import urllib.parse
from collections.abc import Hashable, Mapping
from typing import Any

from ..errors import FormatError, InvalidIdentifierError, MissingDependencyError, NotFoundError, StoreError
from ..faces import AsyncFace, Call, Op, Request, SyncFace, operation
from ..identifiers import bin_key, validate_bin_id
from ..reading import BinReading
from .base import _KeyedBins

logger = logging.getLogger(__name__)

_DATASET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}", re.ASCII)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)

# The keys of the local ``bin_metadata`` that the dashboard's /api/bin answer also has.
API_METADATA_FIELDS: tuple[str, ...] = (
    "timestamp_iso", "instrument", "num_triggers", "num_images", "trigger_freq", "ml_analyzed",
    "concentration", "lat", "lng", "size", "sample_type",
)  # fmt: skip


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise MissingDependencyError("dashboard stores", "http", "httpx") from None
    return httpx


class Sleep(Request):
    """Wait: ``time.sleep`` on the sync face, ``asyncio.sleep`` on the async one."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float):
        self.seconds = seconds

    def run_sync(self) -> None:
        time.sleep(self.seconds)

    async def run_async(self) -> None:
        await asyncio.sleep(self.seconds)


class _Limited(Call):
    """A :class:`Call` that holds a semaphore slot while it runs on the async face."""

    __slots__ = ("semaphore",)

    def __init__(self, semaphore: asyncio.Semaphore | None, function: Any, *args: Any):
        super().__init__(function, *args)
        self.semaphore = semaphore

    async def run_async(self) -> Any:
        if self.semaphore is None:
            return await super().run_async()
        async with self.semaphore:
            return await super().run_async()


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
        return min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)


def _public_url(url: str) -> str:
    """``url`` without user info (``https://user:secret@host/`` → ``https://host/``)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _quantity(value: Any) -> float:
    """A number from the API: ``2.851``, ``"2.851"`` or ``"2.851 ml"``; NaN when absent."""
    if value is None:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    number = text.split()[0] if text else ""
    try:
        return float(number)
    except ValueError:
        raise ValueError(f"not a quantity: {value!r}") from None


def _optional_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number bin metadata can have")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"{text[:20]} is out of range")
    return value


def metadata_from_api(bin_id: str, api: Mapping[str, Any]) -> dict[str, Any]:
    """The local ``bin_metadata`` keys (where the API has them) from an ``/api/bin`` answer,
    plus the answer itself under ``'api'``; ``ml_analyzed`` ``"2.851 ml"`` becomes ``2.851``."""
    converters: dict[str, Any] = {
        "timestamp_iso": str, "instrument": str, "num_triggers": int, "num_images": int,
        "trigger_freq": _quantity, "ml_analyzed": _quantity, "concentration": _quantity,
        "lat": _optional_float, "lng": _optional_float, "size": int, "sample_type": str,
    }  # fmt: skip
    out: dict[str, Any] = {"pid": bin_id}
    for name in API_METADATA_FIELDS:
        if name in api:
            value, convert = api[name], converters[name]
            out[name] = convert(value) if value is not None or convert is _quantity else None
    out["api"] = dict(api)
    return out


class _DashboardBins(_KeyedBins):
    """The dashboard store's one body: URLs, the retry policy, range handling, metadata."""

    _bounded = False  # the async face bounds the requests in flight with a semaphore

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
    ):
        httpx = _httpx()
        parts = urllib.parse.urlsplit(str(base_url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, not {_public_url(str(base_url))!r}")
        if dataset is not None and (not isinstance(dataset, str) or not _DATASET.fullmatch(dataset)):
            raise InvalidIdentifierError(f"invalid dataset name {dataset!r}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
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
        self._semaphore = asyncio.Semaphore(max_concurrency) if self._bounded else None
        self._httpx = httpx
        self._auth = auth
        self._owns_client = client is None
        if client is None:
            client = self._new_client(
                headers=dict(headers or {}),
                timeout=httpx.Timeout(timeout),
                limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
                follow_redirects=True,
                event_hooks={"request": [self._request_hook(tuple(headers or {}))]},
            )
        elif headers:
            raise ValueError("pass headers to the client you inject, or let the store make its client")
        self._client = client

    def _new_client(self, **options: Any) -> Any:
        raise NotImplementedError

    def _request_hook(self, private: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def _keep_headers_home(self, request: Any, private: tuple[str, ...]) -> None:
        """The headers given to the store (API keys, tokens) go to its own origin only: a redirect to
        another host, port or scheme is sent without them (httpx drops only ``Authorization``)."""
        url = request.url
        if (url.scheme, url.host, url.port) != self._origin:
            for name in private:
                request.headers.pop(name, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, dataset={self.dataset!r})"

    # ----- URLs -----

    def _file_url(self, bin_id: str, ext: str) -> str:
        key = bin_key(bin_id, ext)
        return f"{self.base_url}/{self.dataset}/{key}" if self.dataset else f"{self.base_url}/{key}"

    def _api_url(self, bin_id: str) -> str:
        query = f"?{urllib.parse.urlencode({'dataset': self.dataset})}" if self.dataset else ""
        return f"{self.base_url}/api/bin/{validate_bin_id(bin_id)}{query}"

    # ----- HTTP, with the retry policy -----

    def _request(self, method: str, url: str, headers: Mapping[str, str] | None = None) -> Op[Any]:
        """One request, retried after 5xx answers and connection errors; the final response."""
        options: dict[str, Any] = {"headers": headers}
        if self._auth is not None:
            options["auth"] = self._auth
        if self._params:
            options["params"] = self._params
        send = functools.partial(self._client.request, method, url, **options)
        attempt = 0
        while True:
            try:
                response = yield _Limited(self._semaphore, send)
            except self._httpx.TransportError as e:  # connection errors, timeouts: retried
                reason: str = type(e).__name__
                if attempt >= self.retry.retries:
                    raise StoreError(f"{method} {url} failed after {attempt + 1} attempts ({reason})") from e
            except self._httpx.HTTPError as e:  # too many redirects, undecodable body: not retried
                raise StoreError(f"{method} {url} failed ({type(e).__name__})") from e
            else:
                if response.status_code < 500 or attempt >= self.retry.retries:
                    return response
                reason = f"HTTP {response.status_code}"
            delay = self.retry.delay(attempt)
            attempt += 1
            logger.warning(
                "%s %s: %s; retry %d of %d in %.2f s", method, url, reason, attempt, self.retry.retries, delay
            )
            yield Sleep(delay)

    @staticmethod
    def _check(response: Any, method: str, url: str) -> None:
        status = response.status_code
        if status == 404:
            raise NotFoundError(f"{url} does not exist (HTTP 404)")
        if status >= 400:
            raise StoreError(f"{method} {url} failed (HTTP {status})")

    def _get_range(self, url: str, offset: int, length: int) -> Op[tuple[bytes, bytes | None]]:
        """``(bytes [offset, offset + length), None)`` from a 206, or ``(slice, whole body)`` when
        the server ignored the range and sent the file."""
        if length <= 0:
            return b"", None
        response = yield from self._request("GET", url, {"Range": f"bytes={offset}-{offset + length - 1}"})
        if response.status_code == 416:  # the range starts at or past the end of the file
            return b"", None
        self._check(response, "GET", url)
        body = response.content
        if response.status_code != 206:
            return body[offset : offset + length], body
        match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        if match is None:  # a 206 without the range it holds cannot be placed in the file
            raise StoreError(f"GET {url}: a partial answer (206) without a Content-Range for bytes {offset}-")
        start, end, total = int(match[1]), int(match[2]), match[3]
        if start != offset or end > offset + length - 1:
            raise StoreError(
                f"GET {url}: asked for bytes {offset}-{offset + length - 1}, the server sent bytes {start}-{end}"
            )
        if len(body) != end - start + 1:
            kind = "short" if len(body) < end - start + 1 else "long"
            raise FormatError(url, f"{kind} body: {len(body)} bytes for Content-Range bytes {start}-{end}")
        if total != "*" and len(body) < length and offset + len(body) < int(total):
            raise FormatError(
                url, f"short body: {len(body)} of the {length} bytes asked for, in a file of {total} bytes"
            )
        return body, None

    # ----- BinReading primitives -----

    def _describe(self, bin_id: str, ext: str) -> str:
        return self._file_url(bin_id, ext)

    def _cache_namespace(self) -> Hashable:
        return ("dashboard", self.base_url, self.dataset)

    def _read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        url = self._file_url(bin_id, ext)
        response = yield from self._request("GET", url)
        self._check(response, "GET", url)
        return response.content

    def _read_ranges(self, bin_id: str, ext: str, ranges: list[tuple[int, int]]) -> Op[list[bytes]]:
        url = self._file_url(bin_id, ext)
        out: list[bytes] = []
        whole: bytes | None = None
        for offset, length in ranges:
            if whole is not None:  # the server ignores ranges: slice the file it already sent
                out.append(whole[offset : offset + length])
                continue
            data, whole = yield from self._get_range(url, offset, length)
            out.append(data)
        return out

    def _file_version(self, bin_id: str, ext: str) -> Op[Hashable | None]:
        """``None``: raw files on a dashboard do not change, so a cached index is not revalidated."""
        return None
        yield  # a generator

    def _head(self, bin_id: str, ext: str) -> Op[Any]:
        url = self._file_url(bin_id, ext)
        response = yield from self._request("HEAD", url)
        self._check(response, "HEAD", url)
        return response

    def _file_exists(self, bin_id: str, ext: str) -> Op[bool]:
        try:
            yield from self._head(bin_id, ext)
            return True
        except NotFoundError:
            return False

    def _file_size(self, bin_id: str, ext: str) -> Op[int]:
        length = (yield from self._head(bin_id, ext)).headers.get("content-length")
        if length is not None and length.isdigit():
            return int(length)
        return len((yield from self._read_file(bin_id, ext)))

    # ----- metadata -----

    @operation
    def bin_metadata(self, bin_id: str, *, method: str = "api") -> Op[dict[str, Any]]:
        """The bin's metadata from the dashboard's ``/api/bin/{pid}`` (``method='api'``): the keys
        of the local ``bin_metadata`` the API has (``ml_analyzed`` as a float in ml), plus the
        API's answer under ``'api'``. ``'adc'``, ``'hdr'`` or ``'reference'`` compute every key
        from the raw files, as for any store (the ``.roi`` is sized by a HEAD request)."""
        if method != "api":
            return (yield from BinReading.bin_metadata.fn(self, bin_id, method=method))
        url = self._api_url(bin_id)
        response = yield from self._request("GET", url)
        if response.status_code == 404:
            raise NotFoundError(f"no bin {bin_id} on {self.base_url} ({url}: HTTP 404)")
        self._check(response, "GET", url)
        try:
            api = json.loads(response.content, parse_constant=_no_constant, parse_float=_finite)
        except RecursionError:
            raise FormatError(url, "the answer nests deeper than any bin metadata") from None
        except ValueError as e:
            raise FormatError(url, f"the answer is not bin metadata JSON ({e})") from None
        if not isinstance(api, dict):
            raise FormatError(url, "the answer is not a JSON object")
        try:
            return metadata_from_api(bin_id, api)
        except (TypeError, ValueError, OverflowError) as e:
            raise FormatError(url, f"unexpected bin metadata: {e}") from None


class DashboardBinStore(_DashboardBins, SyncFace):
    """A dashboard's raw bins over HTTP, on one ``httpx.Client`` (closed by :meth:`close` or
    ``with``): ``get``/``get_range``/``exists`` by key ``'{pid}.{ext}'``, ``bin_metadata`` and every
    read operation (``read_image`` with a Range request, ``read_images``, ``iter_images``, ...)."""

    def _new_client(self, **options: Any) -> Any:
        return self._httpx.Client(**options)

    def _request_hook(self, private: tuple[str, ...]) -> Any:
        return functools.partial(self._keep_headers_home, private=private)

    def close(self) -> None:
        """Close the HTTP client (unless it was injected)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> DashboardBinStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDashboardBinStore(_DashboardBins, AsyncFace):
    """:class:`DashboardBinStore` for asyncio, on ``httpx.AsyncClient``, with at most
    ``max_concurrency`` requests in flight (close with :meth:`aclose` or ``async with``)."""

    _bounded = True

    def _new_client(self, **options: Any) -> Any:
        return self._httpx.AsyncClient(**options)

    def _request_hook(self, private: tuple[str, ...]) -> Any:
        async def hook(request: Any) -> None:
            self._keep_headers_home(request, private)

        return hook

    async def aclose(self) -> None:
        """Close the HTTP client (unless it was injected)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncDashboardBinStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
