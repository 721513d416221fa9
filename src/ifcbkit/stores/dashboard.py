"""Bins read from an IFCB dashboard (ifcbdb) over HTTP, on httpx (the ``http`` extra).

Raw files come from ``{base_url}/{dataset}/{pid}.{hdr,adc,roi}`` (``{base_url}/data/...`` when
``dataset`` is ``None``), bin metadata from ``{base_url}/api/bin/{pid}?dataset=...``. A ROI is
read with an HTTP ``Range`` request when the server honours it (206). ifcbdb honours none: the
first 200 answer to a Range request marks the server *rangeless*, and from then on a file is
fetched whole once and kept (``file_cache_bytes`` in memory, or ``cache_dir`` on disk).
:class:`DashboardSource` is the bin source; every read method comes with it, sync
(:class:`DashboardBinStore`, on ``httpx.Client``) and async (:class:`AsyncDashboardBinStore`, on
``httpx.AsyncClient``).

Beyond raw files: :meth:`~DashboardBinStore.list_metadata` and ``list_bins`` list a dataset from
``/api/export_metadata`` (by walking ``next_bin_id`` where that endpoint is missing),
``list_datasets`` lists datasets, and ``read_class_scores``, ``read_features`` and ``read_blobs``
read products through the same parsers as local files (a 404 is
:class:`~ifcbkit.errors.ProductNotFoundError`).

One client per store reuses connections; the async store makes its connections and the semaphore
that bounds the requests in flight per event loop (closed as the loop ends), and sends GET and
HEAD requests through httpcore's pool beneath httpx (:data:`LEAN`). Parsing listings and class
scores runs off the event loop. The retry policy, written once for both
faces: up to ``retries`` more attempts after a 5xx answer or a connection error/timeout, with
exponential backoff and jitter; never after a 4xx. 404 is :class:`~ifcbkit.errors.NotFoundError`,
a body shorter than its ``Content-Range`` is a :class:`~ifcbkit.errors.FormatError`, other
failures are :class:`~ifcbkit.errors.StoreError`. Error messages and log records name URLs
without their user info and never carry request headers.

Time and memory stay bounded whatever a server does. ``timeout`` bounds connecting and each read.
``deadline``, when given, bounds each whole call (``read_header``, ``read_image``, ``read_images``,
``bin_metadata``, a product, a listing), its retries and backoff included: no retry starts that the
deadline leaves no time for. Without it, each request alone must end within
:data:`REQUEST_DEADLINE` (600 s) from sending it to the last byte of its answer, and a missed one is
retried, so a server that drips its answer is cut off and long downloads are not. (The sync face
checks as chunks arrive, each read waiting at most what is left.) An answer larger than
``max_bytes[kind]`` (``hdr``/``adc``/``roi`` files and ``api`` JSON, defaults in
:data:`DEFAULT_MAX_BYTES`), or a 206 larger than its range, is refused with a
:class:`~ifcbkit.errors.FormatError` as soon as its ``Content-Length`` or its bytes show it.

With ``cache_dir``, whole files are kept on disk with the validators of the answer that brought
them (``{file}.validators``: ETag, Last-Modified, length); a store checks a kept file with a HEAD
request on its first use and fetches it again if the server has replaced it. An unusable
``cache_dir`` is a :class:`~ifcbkit.errors.StoreError` when the store is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import math
import os
import random
import re
import shutil
import ssl
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import warnings
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple, TypeVar

from ..adc import warn_skipped
from ..atomic import atomic_file
from ..engine.cache import LRUCache, cache_token
from ..engine.fileio import FileExists, ReadRanges
from ..engine.filters import FilesetFilter, TimeLike
from ..engine.reader import BinReader
from ..engine.requests import (
    Blocking,
    Call,
    EmitMany,
    Op,
    Request,
    Shared,
    iterate_async,
    iterate_sync,
    run_async,
    run_sync,
)
from ..engine.source import BinSource
from ..errors import (
    FormatError,
    InvalidIdentifierError,
    MissingDependencyError,
    NotFoundError,
    ProductNotFoundError,
    SkippedBinWarning,
    StoreError,
)
from ..formats.ids import Instruments, bin_key, parse_instruments, validate_bin_id
from ..formats.products import (
    MAX_SCORE_CHARS,
    SCORE_RANGE,
    SCORE_SLACK,
    ClassScoresRows,
    parse_blobs_zip,
    parse_class_scores_csv,
    parse_features_csv,
)
from ..formats.ranges import ByteRange
from ..science.counting import check_threshold, class_counts
from ..science.metrics import MlMethod, check_method, metadata_and_damaged
from ..sources.dashboard.listing import (
    MAX_NUMBER_CHARS,
    ListedBin,
    ListingProblem,
    check_volume,
    date_chunks,
    export_query,
    in_span,
    listed_from_api,
    merge_listings,
    parse_export_metadata,
)
from .base import AsyncBinStore, AsyncSourceKeys, SyncBinStore, SyncSourceKeys

logger = logging.getLogger(__name__)

_DATASET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}", re.ASCII)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)

# The keys of the local ``bin_metadata`` that the dashboard's /api/bin answer also has.
API_METADATA_FIELDS: tuple[str, ...] = (
    "timestamp_iso", "instrument", "num_triggers", "num_images", "trigger_freq", "ml_analyzed",
    "concentration", "lat", "lng", "size", "sample_type",
)  # fmt: skip


@functools.cache
def _default_tls() -> Any:
    """httpx's default TLS context (certifi's roots), made once per process: making one takes about
    50 ms, which every new store (and every unpickled copy on a worker) would otherwise pay."""
    make = getattr(_httpx(), "create_ssl_context", None)
    return True if make is None else make()


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise MissingDependencyError("dashboard stores", "http", "httpx") from None
    return httpx


# The async store sends GET and HEAD requests through httpcore's connection pool, beneath httpx: a
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


class Sleep(Request):
    """Wait: ``time.sleep`` on the sync face, ``asyncio.sleep`` on the async one."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float):
        self.seconds = seconds

    def run_sync(self) -> None:
        time.sleep(self.seconds)

    async def run_async(self) -> None:
        await asyncio.sleep(self.seconds)


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

# Days of bins per /api/export_metadata request: one a month keeps each answer a few thousand rows.
CHUNK_DAYS = 31

# The most bins a listing by walking next_bin_id/previous_bin_id visits (ifcbdb's export caps at 500,000).
MAX_WALK = 500_000


class _Deadline(Exception):
    """An answer did not arrive in full within the request's deadline (retried like a timeout, while
    the call's deadline leaves time)."""


class _Answer(NamedTuple):
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

    def __init__(self, fetch: _Fetch, response: Any):
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
            raise _Deadline

    def answer(self) -> _Answer:
        chunks = self.chunks
        content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return _Answer(self.response.status_code, self.response.headers, content, self.range)


class _Fetch(Request):
    """One HTTP request, its body read within a byte limit and a deadline. The sync face streams on
    ``httpx.Client`` and checks the deadline as chunks arrive (each read waits at most the read
    timeout); the async face streams on ``httpx.AsyncClient`` under ``asyncio.wait_for`` and holds a
    semaphore slot while it runs."""

    __slots__ = ("asked", "call_at", "deadline_at", "kind", "limit", "method", "options", "store", "url")

    def __init__(
        self,
        store: DashboardSource,
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
        """Seconds this request may still take (its own bound, and its call's): ``_Deadline`` at 0."""
        now = time.monotonic()
        left = self.store.request_deadline
        if self.call_at is not None:
            left = min(left, self.call_at - now)
        if left <= 0:
            raise _Deadline
        return left

    def _stream_options(self) -> dict[str, Any]:
        store = self.store
        left = self._seconds_left()
        self.deadline_at = time.monotonic() + left
        return {**self.options, "timeout": store._httpx.Timeout(min(store.timeout, left))}

    def run_sync(self) -> _Answer:
        with self.store._client.stream(self.method, self.url, **self._stream_options()) as response:
            body = _Body(self, response)
            for chunk in response.iter_bytes():
                body.add(chunk)
            return body.answer()

    async def _stream(self, client: Any) -> _Answer:
        async with client.stream(self.method, self.url, **self._stream_options()) as response:
            body = _Body(self, response)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
            return body.answer()

    async def _lean_stream(self, pool: Any) -> _Answer | None:
        """The request on the loop's ``httpcore`` pool (see :data:`LEAN`): a GET or HEAD without
        credentials, its answer read as :meth:`_stream` reads httpx's. ``None`` for a redirect, which
        httpx follows (with its rules for headers on another origin)."""
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

    async def run_async(self) -> _Answer:
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
                raise _Deadline from None


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
            return ours(str(error))
    return httpx.TransportError(str(error))


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
    """A finite number from the API: ``2.851``, ``"2.851"`` or ``"2.851 ml"``; NaN when absent.

    Raises:
        ValueError: for anything else (``"1e400 ml"`` included: it is not a finite number).
    """
    if value is None:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        word = text.split()[0] if text else ""
        if len(word) > MAX_NUMBER_CHARS:
            raise ValueError(f"not a quantity: a number of {len(word)} characters")
        try:
            number = float(word)
        except ValueError:
            raise ValueError(f"not a quantity: {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{str(value)[:40]!r} is not a finite number")
    return number


def _volume(value: Any) -> float:
    return check_volume(_quantity(value))


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
        "trigger_freq": _quantity, "ml_analyzed": _volume, "concentration": _quantity,
        "lat": _optional_float, "lng": _optional_float, "size": int, "sample_type": str,
    }  # fmt: skip
    out: dict[str, Any] = {"pid": bin_id}
    for name in API_METADATA_FIELDS:
        if name in api:
            value, convert = api[name], converters[name]
            out[name] = convert(value) if value is not None or convert in (_quantity, _volume) else None
    out["api"] = dict(api)
    return out


def parse_json(content: bytes, *, source: str) -> Any:
    """A dashboard's JSON answer, with finite numbers only (``NaN``, ``Infinity`` and ``1e400`` are
    refused) and bounded nesting.

    Raises:
        FormatError: naming ``source``.
    """
    try:
        return json.loads(content, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise FormatError(source, "the answer nests deeper than any dashboard answer") from None
    except ValueError as e:
        raise FormatError(source, f"the answer is not JSON ({e})") from None


def parse_bin_api(content: bytes, *, source: str, pid: str) -> dict[str, Any]:
    """:func:`metadata_from_api` of the bytes of an ``/api/bin/{pid}`` answer (a pure function: what
    ``bin_metadata`` and the listing by walking read).

    Raises:
        FormatError: naming ``source`` for an answer that is not bin metadata, or whose volume or
            counts are not finite numbers in range.
    """
    api = parse_json(content, source=source)
    if not isinstance(api, dict):
        raise FormatError(source, "the answer is not a JSON object")
    try:
        return metadata_from_api(pid, api)
    except (TypeError, ValueError, OverflowError) as e:
        raise FormatError(source, f"unexpected bin metadata: {e}") from None


def class_counts_csv(data: bytes, *, source: str, pid: str, threshold: float) -> tuple[dict[str, int], int]:
    """``(class counts at threshold, rows)`` of a dashboard ``_class_scores.csv``: what
    :func:`~ifcbkit.science.counting.class_counts` gives for :func:`~ifcbkit.formats.products.parse_class_scores_csv`,
    without holding a record per row (the abundance job needs the counts only). A plain file (no
    quotes, every ROI of ``pid`` once, every score a number in range) is counted in one pass over
    its lines; anything else goes through the full parser, which gives the same counts or the same
    error.

    Raises:
        FormatError: naming ``source`` and the line for anything malformed.
    """
    counted = _plain_counts(data, pid, threshold)
    if counted is not None:
        return counted
    scores = parse_class_scores_csv(data, source=source, pid=pid)
    return class_counts(scores, threshold), len(scores.rows)


_ROI_TAIL = re.compile(r"\d{5}|[1-9]\d{5}", re.ASCII)


def _plain_counts(data: bytes, pid: str, threshold: float) -> tuple[dict[str, int], int] | None:
    """:func:`class_counts_csv` of a plain file, or ``None`` for anything the full parser must judge."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if '"' in text or "\0" in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    lines = text.split("\n")
    header = [name.strip() for name in lines[0].split(",")]
    names = header[1:]
    if header[0] != "pid" or not names or len(set(header)) != len(header):
        return None  # (a class named twice: the full parser keeps the last column's scores for both)
    width = len(header)
    low, high = SCORE_RANGE[0] - SCORE_SLACK, SCORE_RANGE[1] + SCORE_SLACK
    counts = dict.fromkeys(names, 0)
    seen: set[int] = set()
    prefix = pid + "_"
    winners = [0] * len(names)
    for count, line in enumerate(lines[1:], 1):
        if count % 100 == 0:
            time.sleep(0)  # offer the interpreter lock to the event loop's thread (see YIELD_EVERY)
        fields = line.split(",")
        if len(fields) != width:
            if not line.replace(",", "").strip():  # a blank record
                continue
            return None
        roi = fields[0].strip()
        tail = roi[len(prefix) :]
        if not roi.startswith(prefix) or _ROI_TAIL.fullmatch(tail) is None:
            return None
        target = int(tail)
        if target < 1 or target in seen or max(map(len, fields)) > MAX_SCORE_CHARS:
            return None
        seen.add(target)
        try:
            values = list(map(float, fields[1:]))
        except ValueError:
            return None
        if values:
            total = sum(values)
            best = max(values)
            if total != total or total in (math.inf, -math.inf) or best > high or min(values) < low:
                return None  # NaN or infinite (the full parser names it), or out of range
            if best >= threshold:
                winners[values.index(best)] += 1
    for i, name in enumerate(names):
        counts[name] += winners[i]
    return counts, len(seen)


class DashboardSource(BinSource):
    """A dashboard's raw files, metadata, listings and products over HTTP (sans-I/O): URLs, the retry
    policy, range handling. ``async_client``: make an ``httpx.AsyncClient`` and bound the requests in
    flight with a semaphore (the async store's)."""

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
        file_cache_bytes: int = 256 << 20,
        cache_dir: str | os.PathLike[str] | None = None,
        async_client: bool = False,
    ):
        httpx = _httpx()
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
        self._settings = {"timeout": timeout, "max_concurrency": max_concurrency, "retries": self.retry,
                          "deadline": deadline, "max_bytes": dict(max_bytes or {}),
                          "file_cache_bytes": file_cache_bytes, "cache_dir": cache_dir}  # fmt: skip
        # A server that answers a Range request with the whole file (200) is "rangeless": its files are
        # then fetched whole, once, and kept (by bytes in memory, or in cache_dir) for later reads.
        # None until the first ranged read tells.
        self.rangeless: bool | None = None
        self._files: LRUCache[bytes] = LRUCache(max_size=file_cache_bytes)
        self.cache_dir = None if cache_dir is None else _usable_cache_dir(cache_dir, dataset or "data")
        self._fresh: set[tuple[str, str]] = set()  # files in cache_dir found current in this process
        self._spilled = _Spills()  # files too big for the memory cache, kept in temporary files
        if client is not None and headers:
            raise ValueError("pass headers to the client you inject, or let the store make its client")
        self._private = tuple(headers or {})
        self._client_headers = dict(headers or {})
        # The async face makes a client and a semaphore per event loop, when a loop first uses the store
        # (httpx's connections and asyncio's locks belong to the loop that made them).
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
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
            verify=_default_tls(),
        )

    def _new_pool(self) -> Any:
        """The lean path's connection pool (``httpcore``, which httpx itself runs on)."""
        import httpcore

        tls = _default_tls() if self.base_url.startswith("https:") else None  # (made once, for https only)
        return httpcore.AsyncConnectionPool(
            ssl_context=tls if isinstance(tls, ssl.SSLContext) else None, max_connections=self.max_concurrency,
            max_keepalive_connections=self.max_concurrency, keepalive_expiry=5.0,
        )  # fmt: skip

    @property
    def _client(self) -> Any:
        """The HTTP client for the caller: the injected one, the sync face's, or the running loop's."""
        if self._sync_client is not None:
            return self._sync_client
        return self._loop_state().client

    def _loop_state(self) -> _LoopState:
        """The running loop's client and semaphore, made on its first use of the store. Loops that have
        ended are forgotten here (their clients were closed as they ended, see :class:`_LoopState`)."""
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None or state.closed():
            with self._loops_lock:  # (loops in other threads may be making theirs)
                self._forget_ended_loops()
                injected = self._injected
                make = self._new_client if injected is None else lambda: injected
                pool = self._new_pool() if self._lean else None
                semaphore = asyncio.Semaphore(self.max_concurrency)
                state = self._loops[loop] = _LoopState(make, semaphore, self._owns_client, pool)
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

    def pickled(self, store: object) -> tuple[str, str | None, dict[str, Any]]:
        """What a pickled store is: its URL, dataset and settings (the copy makes its own client). A
        store with credentials (user info or a query in its URL, headers) or an injected client is not
        pickled: its credentials would travel in the pickle (a Dask task graph, a pool's queue).

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
        return self.base_url, self.dataset, self._settings

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
        self._spilled.clear()

    # ----- URLs -----

    def _file_url(self, bin_id: str, ext: str) -> str:
        return self._data_url(bin_key(bin_id, ext))

    def _data_url(self, name: str) -> str:
        """``{base}/{dataset}/{name}``, or ``{base}/data/{name}`` on a dashboard used without a dataset."""
        return f"{self.base_url}/{self.dataset}/{name}" if self.dataset else f"{self.base_url}/data/{name}"

    def _api_url(self, bin_id: str) -> str:
        query = f"?{urllib.parse.urlencode({'dataset': self.dataset})}" if self.dataset else ""
        return f"{self.base_url}/api/bin/{validate_bin_id(bin_id)}{query}"

    # ----- HTTP, with the retry policy -----

    def _request(
        self,
        method: str,
        url: str,
        kind: str,
        headers: Mapping[str, str] | None = None,
        asked: tuple[int, int] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Op[_Answer]:
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
            fetch = _Fetch(self, method, url, kind, options, asked)
            delay = self.retry.delay(attempt)
            last = attempt >= self.retry.retries  # (or no time left in the call for a wait and a retry)
            try:
                response = yield fetch
            except _Deadline:
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
    def _check(response: Any, method: str, url: str) -> None:
        status = response.status_code
        if status == 404:
            raise NotFoundError(f"{url} does not exist (HTTP 404)")
        if status >= 400:
            raise StoreError(f"{method} {url} failed (HTTP {status})")

    def _get_range(self, url: str, ext: str, offset: int, length: int) -> Op[tuple[bytes, _Answer | None]]:
        """``(bytes [offset, offset + length), None)`` from a 206, or ``(slice, the whole answer)`` when
        the server ignored the range and sent the file."""
        if length <= 0:
            return b"", None
        response = yield from self._request(
            "GET", url, ext, {"Range": f"bytes={offset}-{offset + length - 1}"}, (offset, length)
        )
        if response.status_code == 416:  # the range starts at or past the end of the file
            return b"", None
        self._check(response, "GET", url)
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

    # ----- the bin-source primitives -----

    def describe(self, bin_id: str, ext: str) -> str:
        return self._file_url(bin_id, ext)

    def cache_token(self) -> Hashable:
        return ("dashboard", self.base_url, self.dataset)

    def read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        return (yield from self._download(bin_id, ext)).content

    def read_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        kept = yield from self._kept_ranges(bin_id, ext, ranges)
        if kept is not None:
            return kept
        if self.rangeless is None:  # the first ranged read tells whether the server honours Range
            asked = (bin_id, ext, tuple(ranges))
            probed = yield Shared(("range-probe", cache_token(self)), lambda: self._probe(asked))
            if probed[0] == asked:
                return probed[1]  # this read was the probe
        if self.rangeless:
            return (yield from self._whole_file_ranges(bin_id, ext, ranges))
        return (yield from self._ranged(bin_id, ext, ranges))

    def _probe(self, asked: tuple[str, str, tuple[ByteRange, ...]]) -> Op[tuple[Any, list[bytes]]]:
        """One ranged read, with concurrent first reads waiting for it: once it is answered, they know
        whether to ask for ranges or for the whole file (downloaded once)."""
        bin_id, ext, ranges = asked
        return asked, (yield from self._ranged(bin_id, ext, list(ranges)))

    def _ranged(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        url = self._file_url(bin_id, ext)
        out: list[bytes] = []
        whole: bytes | None = None
        for offset, length in ranges:
            if whole is not None:  # the server ignores ranges: slice the file it already sent
                out.append(whole[offset : offset + length])
                continue
            data, answer = yield from self._get_range(url, ext, offset, length)
            if answer is not None:  # the first 200 to a Range request: from now on, whole files, kept
                self.rangeless = True
                logger.info("%s ignores Range requests: its files are fetched whole and kept", self.base_url)
                whole = answer.content
                yield from self._keep(bin_id, ext, answer)
            elif length > 0 and self.rangeless is None:
                self.rangeless = False
            out.append(data)
        return out

    def _cache_path(self, bin_id: str, ext: str) -> str | None:
        if self.cache_dir is None:
            return None
        return os.path.join(self.cache_dir, self.dataset or "data", bin_key(bin_id, ext))

    def _keep(self, bin_id: str, ext: str, answer: _Answer) -> Op[None]:
        """Keep a whole file: in memory, or in ``cache_dir`` with the validators of the answer that
        brought it (ETag, Last-Modified, length), which its first use in a later process checks."""
        data = answer.content
        path = self._cache_path(bin_id, ext)
        if path is None:
            if len(data) <= self._files.max_size:
                self._files.put((bin_id, ext), data, size=len(data))
            else:  # too big for memory: a temporary file, so that the next read does not fetch it again
                yield Blocking(self._spilled.put, (bin_id, ext), data)
            return
        yield Blocking(_write_kept, path, data, _validators(answer.headers, len(data)))
        self._fresh.add((bin_id, ext))

    def _kept_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes] | None]:
        """Ranges of a file kept whole (in ``cache_dir``, or in memory), or ``None`` if it is not kept
        (or ``cache_dir`` holds a version the server has since replaced)."""
        path = self._cache_path(bin_id, ext)
        if path is not None:
            if not (yield FileExists(path)):
                return None
            if (bin_id, ext) not in self._fresh:
                key = ("dashboard-revalidate", cache_token(self), bin_id, ext)
                if not (yield Shared(key, lambda: self._revalidate(bin_id, ext, path))):
                    return None
            return (yield ReadRanges(path, ranges))
        data = self._files.get((bin_id, ext))
        if data is not None:
            return [r.of(data) for r in ranges]
        if self._spilled.has((bin_id, ext)):
            return (yield Blocking(self._spilled.read, (bin_id, ext), ranges))
        return None

    def _revalidate(self, bin_id: str, ext: str, path: str) -> Op[bool]:
        """Whether the file kept at ``path`` (by an earlier process, or store) is the server's current
        version: a HEAD request's ETag, else Last-Modified, else Content-Length against those recorded
        when it was kept. A file that is not is removed, to be fetched again.

        Raises:
            NotFoundError: if the server no longer has the file.
        """
        recorded = yield Blocking(_read_validators, path)
        url = self._file_url(bin_id, ext)
        if recorded is not None:
            response = yield from self._request("HEAD", url, ext)
            if response.status_code == 404:
                yield Blocking(_forget, path)
                raise NotFoundError(f"{url} does not exist (HTTP 404)")
            if response.status_code < 400 and _same_version(recorded, _validators(response.headers, None)):
                self._fresh.add((bin_id, ext))
                return True
        logger.info("%s: the copy in %s is not the server's current version; fetching it again", url, path)
        yield Blocking(_forget, path)
        return False

    def _whole_file_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        """Ranges of a file fetched whole, once (concurrent first reads share one download)."""
        kept = yield from self._kept_ranges(bin_id, ext, ranges)  # (a probe may have kept it meanwhile)
        if kept is not None:
            return kept
        data = yield Shared(
            ("dashboard-file", cache_token(self), bin_id, ext), lambda: self._fetch_and_keep(bin_id, ext)
        )
        kept = yield from self._kept_ranges(bin_id, ext, ranges)
        if kept is not None:
            return kept
        return [r.of(data) for r in ranges]  # too big for the memory cache

    def _fetch_and_keep(self, bin_id: str, ext: str) -> Op[bytes]:
        answer = yield from self._download(bin_id, ext)
        yield from self._keep(bin_id, ext, answer)
        return answer.content

    def _download(self, bin_id: str, ext: str) -> Op[_Answer]:
        url = self._file_url(bin_id, ext)
        response = yield from self._request("GET", url, ext)
        self._check(response, "GET", url)
        return response

    def _head(self, bin_id: str, ext: str) -> Op[Any]:
        url = self._file_url(bin_id, ext)
        response = yield from self._request("HEAD", url, ext)
        self._check(response, "HEAD", url)
        return response

    def exists(self, bin_id: str, ext: str) -> Op[bool]:
        try:
            yield from self._head(bin_id, ext)
            return True
        except NotFoundError:
            return False

    def size(self, bin_id: str, ext: str) -> Op[int]:
        known = yield from self.known_size(bin_id, ext)
        return known if known is not None else len((yield from self.read(bin_id, ext)))

    def known_size(self, bin_id: str, ext: str) -> Op[int | None]:
        """The file's size without downloading it: a copy kept here, a HEAD's Content-Length, or (on a
        server that honours Range) the total of a one-byte range; ``None`` when only the whole file
        would tell (a HEAD without a length, on a rangeless server).

        Raises:
            NotFoundError: if the server has no such file.
        """
        data = self._files.get((bin_id, ext))
        if data is not None:
            return len(data)
        length = (yield from self._head(bin_id, ext)).headers.get("content-length", "")
        if length.isdigit():
            return int(length)
        if self.rangeless is False:
            url = self._file_url(bin_id, ext)
            response = yield from self._request("GET", url, ext, {"Range": "bytes=0-0"}, (0, 1))
            self._check(response, "GET", url)
            total = response.content_range[2] if response.content_range is not None else ""
            if total.isdigit():
                return int(total)
        return None

    # ----- metadata -----

    def bin_metadata(self, bin_id: str, *, method: str = "api") -> Op[dict[str, Any]]:
        """The bin's metadata from the dashboard's ``/api/bin/{pid}`` (``method='api'``): the keys
        of the local ``bin_metadata`` the API has (``ml_analyzed`` as a float in ml), plus the
        API's answer under ``'api'``. ``'adc'``, ``'hdr'`` or ``'reference'`` compute every key
        from the raw files, as for any store, without downloading the ``.roi`` (``size`` is ``None`` when
        the server does not tell its length)."""
        return (yield from self.bounded(self._bin_metadata(bin_id, method)))

    def _bin_metadata(self, bin_id: str, method: str) -> Op[dict[str, Any]]:
        if method != "api":
            return (yield from _BoundedReader(self)._bin_metadata(bin_id, method))  # type: ignore[arg-type]
        url = self._api_url(bin_id)
        response = yield from self._request("GET", url, "api")
        if response.status_code == 404:
            raise NotFoundError(f"no bin {bin_id} on {self.base_url} ({url}: HTTP 404)")
        self._check(response, "GET", url)
        return parse_bin_api(response.content, source=url, pid=bin_id)

    # ----- JSON answers -----

    def _api(
        self, path: str, params: Mapping[str, str] | None = None, form: Mapping[str, str] | None = None
    ) -> Op[Any]:
        """The JSON of ``{base}/api/{path}``, or ``None`` for a 404."""
        url = f"{self.base_url}/api/{path}"
        method = "POST" if form is not None else "GET"
        response = yield from self._request(method, url, "api", params=params, form=form)
        if response.status_code == 404:
            return None
        self._check(response, method, url)
        return parse_json(response.content, source=url)

    # ----- listing -----

    def list_datasets(self) -> Op[list[str]]:
        """The names of the dashboard's datasets (``/api/list_datasets``).

        Raises:
            StoreError: if the dashboard does not answer; FormatError: for an answer of another shape.
        """
        answer = yield from self.bounded(self._api("list_datasets"))
        if answer is None:
            raise NotFoundError(f"{self.base_url} has no /api/list_datasets (HTTP 404)")
        names = answer.get("datasets") if isinstance(answer, dict) else None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise FormatError(f"{self.base_url}/api/list_datasets", "not a list of dataset names")
        return names

    def list_metadata(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        *,
        instrument: int | str | Iterable[int | str] | None = None,
        include_skip: bool = True,
        chunk_days: int = CHUNK_DAYS,
    ) -> Op[DashboardListing]:
        """The bins of the dataset within ``[start_time, end_time)`` (and instruments), with the metadata
        the listing carries (time, volume, position, images, skip): from ``/api/export_metadata``, one
        request per ``chunk_days`` days, or, when that endpoint answers nothing, by walking the bins'
        ``previous_bin_id``/``next_bin_id`` from ``/api/closest_bin``. Rows that cannot be read are in
        ``problems`` with their line, never dropped silently; so is a bin listed twice with different
        metadata (left out, with a :class:`~ifcbkit.errors.SkippedBinWarning` naming both values).

        Raises:
            NotFoundError: if the dashboard has no such dataset; StoreError, FormatError: for a
                failing or garbled answer.
        """
        listing, conflicts = yield from self.bounded(
            self._listing(start_time, end_time, instrument, include_skip, chunk_days)
        )
        for problem in conflicts:
            warnings.warn(SkippedBinWarning(f"left out a bin: {problem.error}"), stacklevel=2)
        return listing

    def _listing(
        self,
        start_time: TimeLike | None,
        end_time: TimeLike | None,
        instrument: int | str | Iterable[int | str] | None,
        include_skip: bool,
        chunk_days: int,
    ) -> Op[tuple[DashboardListing, list[ListingProblem]]]:
        """The listing, and the problems among its ``problems`` that are bins listed twice with
        different metadata (:func:`~ifcbkit.sources.dashboard.listing.merge_listings`)."""
        if isinstance(chunk_days, bool) or not isinstance(chunk_days, int) or chunk_days < 1:
            raise ValueError(f"chunk_days must be a positive number of days, not {chunk_days!r}")
        keep = FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument)
        spans = date_chunks(keep.start, keep.end, chunk_days)
        instruments = parse_instruments(instrument)
        path = f"{self.base_url}/api/export_metadata/{self.dataset or ''}"
        rows: list[ListedBin] = []
        problems: list[ListingProblem] = []
        answered = 0
        for start, end in spans:
            params = {**export_query(start, end), "include_skip": "true" if include_skip else "false"}
            if instruments is not None and len(instruments) == 1:
                params["instrument"] = str(next(iter(instruments)))
            response = yield from self._request("GET", path, "api", params=params)
            if response.status_code == 404:  # no bin in this span (or no such endpoint)
                continue
            self._check(response, "GET", path)
            answered += 1
            source = f"{path}?{urllib.parse.urlencode(params)}"
            found, bad = yield Blocking(_listed_in_range, response.content, source, keep)
            rows += found
            problems += bad
        if not answered:
            yield from self._check_dataset()
            return (yield from self._walk(keep, include_skip)), []
        ordered, conflicts = yield Blocking(_merged_in_order, rows, include_skip)
        return DashboardListing(ordered, problems + conflicts, "export_metadata"), conflicts

    def _check_dataset(self) -> Op[None]:
        if self.dataset is None:
            return
        try:
            names = yield from self.list_datasets()
        except NotFoundError:  # a dashboard too old to list its datasets: the walk will tell
            return
        if self.dataset not in names:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise NotFoundError(f"no dataset {self.dataset!r} on {self.base_url} (it has: {shown or 'none'})")

    def _walk(self, keep: FilesetFilter, include_skip: bool) -> Op[DashboardListing]:
        """The listing by walking ``previous_bin_id``/``next_bin_id`` from the bin closest to the start
        (one ``/api/bin`` request per bin: the fallback for dashboards without ``export_metadata``)."""
        query = {"dataset": self.dataset} if self.dataset else {}
        target = keep.start or keep.end or datetime.now(timezone.utc)
        closest = yield from self._api("closest_bin", form={**query, "target_date": target.isoformat()})
        first = closest.get("bin_id") if isinstance(closest, dict) else None
        if not isinstance(first, str):
            return DashboardListing([], [], "walk")
        fetched: dict[str, tuple[ListedBin, dict[str, str | None]] | None] = {}
        found: dict[str, ListedBin] = {}
        problems: list[ListingProblem] = []
        for direction in ("previous_bin_id", "next_bin_id"):
            step: str | None = first
            visited: set[str] = set()
            while step is not None and step not in visited:
                if len(fetched) >= MAX_WALK:  # a chain no dataset has: a server that never ends it
                    raise FormatError(f"{self.base_url}/api/bin", f"more than {MAX_WALK} bins walked; giving up")
                visited.add(step)
                if step not in fetched:
                    try:
                        fetched[step] = yield from self._listed_by_api(validate_bin_id(step))
                    except (FormatError, InvalidIdentifierError) as e:
                        problems.append(ListingProblem(None, e if isinstance(e, FormatError) else FormatError(
                            f"{self.base_url}/api/bin", str(e))))  # fmt: skip
                        break
                got = fetched[step]
                if got is None:
                    break
                listed, links = got
                when = listed.sample_time
                if direction == "previous_bin_id" and keep.start is not None and when < keep.start:
                    break
                if direction == "next_bin_id" and keep.end is not None and when >= keep.end:
                    break
                if in_span(when, keep.start, keep.end) and keep((), listed.pid) and (include_skip or not listed.skip):
                    found[listed.pid] = listed
                step = links[direction]
        ordered = sorted(found.values(), key=lambda b: (b.sample_time, b.pid))
        return DashboardListing(ordered, problems, "walk")

    def _listed_by_api(self, pid: str) -> Op[tuple[ListedBin, dict[str, str | None]] | None]:
        url = self._api_url(pid)
        response = yield from self._request("GET", url, "api")
        if response.status_code == 404:
            return None
        self._check(response, "GET", url)
        metadata = parse_bin_api(response.content, source=url, pid=pid)
        api = metadata["api"]
        try:
            listed = listed_from_api(pid, api, metadata)
        except (TypeError, ValueError, OverflowError) as e:
            raise FormatError(url, f"unexpected bin metadata: {e}") from None
        links = {k: api.get(k) if isinstance(api.get(k), str) else None for k in ("previous_bin_id", "next_bin_id")}
        return listed, links

    def list_bins(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        *,
        instrument: int | str | Iterable[int | str] | None = None,
        include_skip: bool = True,
    ) -> Op[None]:
        """The ids of the dataset's bins in time order (see :meth:`list_metadata`); a row that cannot
        be read is left out with a :class:`~ifcbkit.errors.SkippedBinWarning` naming it."""
        listing, _ = yield from self.bounded(self._listing(start_time, end_time, instrument, include_skip, CHUNK_DAYS))
        for problem in listing.problems:
            warnings.warn(SkippedBinWarning(f"skipped a listed bin: {problem.error}"), stacklevel=2)
        yield EmitMany([b.pid for b in listing.bins])

    # ----- products -----

    def _product(self, bin_id: str, name: str, what: str, params: Mapping[str, str]) -> Op[tuple[bytes, str]]:
        url = self._data_url(name)
        response = yield from self.bounded(self._request("GET", url, "product", params=params))
        if response.status_code == 404:
            raise ProductNotFoundError(f"no {what} for {bin_id} on {self.base_url} ({url}: HTTP 404)")
        self._check(response, "GET", url)
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return response.content, url + query

    def read_class_scores(
        self, bin_id: str, *, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> Op[ClassScoresRows]:  # fmt: skip
        """The bin's class scores from ``/{dataset}/{pid}_class_scores.csv`` (``?v=`` for ``version``,
        ``?model=`` for ``model``, dashboards 5.2 on), read as a local ``_class_scores.csv`` is.
        ``n_images``: the bin's image count in the dashboard's listing; fewer rows is an answer cut
        short. (ifcbdb counts a stitched pair of an I-style bin as one image, as class scores do.)

        Raises:
            ProductNotFoundError: (a ``NotFoundError``) on a 404, and without a dataset (the dashboard
                serves class scores per dataset); FormatError: naming the URL and line, or the URL
                for fewer rows than ``n_images``.
        """
        data, source = yield from self._class_scores_csv(bin_id, version, model)
        scores = yield Blocking(functools.partial(parse_class_scores_csv, data, source=source, pid=bin_id))
        _check_rows(source, len(scores.rows), n_images)
        return scores

    def read_class_counts(
        self, bin_id: str, *, threshold: float, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> Op[dict[str, int]]:  # fmt: skip
        """How many ROIs each class wins at or above ``threshold`` in the bin's class scores
        (:meth:`read_class_scores` and :func:`~ifcbkit.science.counting.class_counts`, with the same errors),
        parsed and counted in one call off the event loop, holding no record per row."""
        threshold = check_threshold(threshold)
        data, source = yield from self._class_scores_csv(bin_id, version, model)
        counts, rows = yield Blocking(
            functools.partial(class_counts_csv, data, source=source, pid=bin_id, threshold=threshold)
        )
        _check_rows(source, rows, n_images)
        return counts

    def _class_scores_csv(self, bin_id: str, version: int | str | None, model: str | None) -> Op[tuple[bytes, str]]:
        bin_id = validate_bin_id(bin_id)
        if self.dataset is None:
            raise ProductNotFoundError(f"class scores are served per dataset: {self!r} has none")
        params = {k: str(v) for k, v in (("v", version), ("model", model)) if v is not None}
        return (yield from self._product(bin_id, f"{bin_id}_class_scores.csv", "class scores", params))

    def read_features(self, bin_id: str, *, version: int | None = None) -> Op[list[tuple[int, dict[str, int | float]]]]:
        """The bin's features (``/{dataset}/{pid}_features.csv``, ``?v=`` for ``version``), read as a
        local ``_features_v4.csv``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL and line.
        """
        bin_id = validate_bin_id(bin_id)
        params = {"v": str(int(version))} if version is not None else {}
        data, source = yield from self._product(bin_id, f"{bin_id}_features.csv", "features", params)
        return (yield Blocking(functools.partial(parse_features_csv, data, source=source)))

    def read_blobs(self, bin_id: str, *, version: int | None = None) -> Op[list[tuple[str, bytes]]]:
        """The bin's blob images (``/{dataset}/{pid}_blob.zip``, ``?v=`` for ``version``) as
        ``[(roi_id, png_bytes)]``, read as a local ``_blobs_v4.zip``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL.
        """
        bin_id = validate_bin_id(bin_id)
        params = {"v": str(int(version))} if version is not None else {}
        data, source = yield from self._product(bin_id, f"{bin_id}_blob.zip", "blobs", params)
        return (yield Blocking(functools.partial(parse_blobs_zip, data, source=source, pid=bin_id)))


def _listed_in_range(content: bytes, source: str, keep: FilesetFilter) -> tuple[list[ListedBin], list[ListingProblem]]:
    """The rows of one ``export_metadata`` answer within ``keep``'s range and instruments (CPU work,
    run off the event loop: 40,000 rows take about 0.2 s). Every row in the whole range counts,
    whichever chunk's answer carries it (a server's day boundaries need not be UTC's)."""
    found, bad = parse_export_metadata(content, source=source)
    return [b for b in found if in_span(b.sample_time, keep.start, keep.end) and keep((), b.pid)], bad


def _merged_in_order(rows: list[ListedBin], include_skip: bool) -> tuple[list[ListedBin], list[ListingProblem]]:
    """The rows of every answer merged by bin id (chunks that overlap list a bin twice), in time
    order, and the conflicts (off the event loop, as :func:`_listed_in_range`)."""
    bins, conflicts = merge_listings(rows)
    kept = [b for b in bins.values() if include_skip or not b.skip]
    return sorted(kept, key=lambda b: (b.sample_time, b.pid)), conflicts


def _check_rows(source: str, rows: int, n_images: int | None) -> None:
    if n_images is not None and rows < n_images:
        raise FormatError(
            source, f"{rows} rows of class scores for the {n_images} images the listing says"
            " the bin has (an answer cut short, or scores of an older version of the bin)"
        )  # fmt: skip


class DashboardListing(NamedTuple):
    """A dashboard's bins in time order, the rows that could not be read, and how they were listed
    (``'export_metadata'`` or ``'walk'``)."""

    bins: list[ListedBin]
    problems: list[ListingProblem]
    method: str


async def _close_with_loop(state: _LoopState) -> AsyncIterator[None]:
    """Suspended for as long as its loop runs: the loop closes its async generators as it ends
    (``asyncio.run`` does), and this one then closes the state's connections, which belong to that loop."""
    try:
        yield
    finally:
        await state.close_connections()


class _LoopState:
    """One event loop's semaphore, httpx client (made on first use: the lean path may never need
    it) and lean pool. What the store made is closed when its loop ends (through
    :func:`_close_with_loop`), or by ``aclose``: no connection outlives its loop."""

    __slots__ = ("_client", "make_client", "owned", "pool", "semaphore", "watch")

    def __init__(self, make_client: Any, semaphore: asyncio.Semaphore, owned: bool, pool: Any = None):
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


# Files too big for the memory cache kept at once in temporary files, per store (the most recent).
MAX_SPILLED = 8


class _Spills:
    """Files too big for the memory cache (on a rangeless server, without ``cache_dir``): each is
    written once to a temporary file and its ranges read from there, so a pass over a bin fetches
    it once. The :data:`MAX_SPILLED` most recent are kept; all are removed on ``close``, when the
    store is collected, or at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._directory: str | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def put(self, key: tuple[str, str], data: bytes) -> None:
        """Write ``data`` for ``key`` (a blocking call), dropping the oldest beyond the bound.

        Raises:
            StoreError: if no temporary file can be written.
        """
        try:
            with self._lock:
                if self._directory is None:
                    self._directory = tempfile.mkdtemp(prefix="ifcbkit-dashboard-")
                    self._finalizer = weakref.finalize(self, shutil.rmtree, self._directory, True)
                directory = self._directory
            fd, path = tempfile.mkstemp(dir=directory, suffix=f".{key[1]}")
            with open(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            raise StoreError(f"cannot keep {key[0]}.{key[1]} in a temporary file ({e.strerror or e})") from None
        with self._lock:
            old = self._paths.pop(key, None)
            self._paths[key] = path
            evicted = [old] if old is not None else []
            while len(self._paths) > MAX_SPILLED:
                evicted.append(self._paths.popitem(last=False)[1])
        for name in evicted:
            with contextlib.suppress(OSError):
                os.remove(name)

    def has(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._paths

    def read(self, key: tuple[str, str], ranges: list[ByteRange]) -> list[bytes] | None:
        """Ranges of the file kept for ``key``, or ``None`` if it is not (or no longer) kept."""
        with self._lock:
            path = self._paths.get(key)
            if path is None:
                return None
            self._paths.move_to_end(key)
        try:
            return ReadRanges(path, ranges).run_sync()  # (an open file outlives its removal)
        except FileNotFoundError:
            return None

    def clear(self) -> None:
        """Remove every temporary file."""
        with self._lock:
            self._paths.clear()
            finalizer, self._finalizer, self._directory = self._finalizer, None, None
        if finalizer is not None:
            finalizer()


def _usable_cache_dir(cache_dir: str | os.PathLike[str], folder: str) -> str:
    """``cache_dir`` as a string, once its ``folder`` for this dataset is made and takes files.

    Raises:
        StoreError: naming ``cache_dir`` if it is a file, or cannot be made or written.
    """
    root = os.fspath(cache_dir)
    try:
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        with tempfile.TemporaryFile(dir=os.path.join(root, folder)):
            pass
    except OSError as e:
        raise StoreError(f"cache_dir {root!r} cannot hold files ({e.strerror or type(e).__name__})") from None
    return root


_VALIDATORS = ".validators"  # beside each file kept in cache_dir: JSON of what the server said of it


def _validators(headers: Any, size: int | None) -> dict[str, Any]:
    """What identifies a version of a file in an answer's headers (a HEAD's length from Content-Length)."""
    declared = headers.get("content-length", "")
    length = size if size is not None else int(declared) if declared.isdigit() else None
    return {"etag": headers.get("etag"), "last_modified": headers.get("last-modified"), "length": length}


def _same_version(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether two sets of validators name one version: by ETag when both have one, else by
    Last-Modified and length, else by length (ifcbdb sends only Content-Length)."""
    if recorded.get("etag") and current.get("etag"):
        return bool(recorded["etag"] == current["etag"])
    if current["length"] is None or recorded.get("length") != current["length"]:
        return False
    if recorded.get("last_modified") and current.get("last_modified"):
        return bool(recorded["last_modified"] == current["last_modified"])
    return True


def _write_kept(path: str, data: bytes, validators: Mapping[str, Any]) -> None:
    """Keep ``data`` at ``path`` and its validators beside it (the old ones go first: a file
    without validators is fetched again, never trusted).

    Raises:
        StoreError: naming the path if it cannot be written.
    """
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + _VALIDATORS)
        with atomic_file(path) as f:
            f.write(data)
        with atomic_file(path + _VALIDATORS) as f:
            f.write(json.dumps(dict(validators)).encode())
    except OSError as e:
        raise StoreError(f"cannot keep {path} in cache_dir ({e.strerror or type(e).__name__})") from None


def _read_validators(path: str) -> dict[str, Any] | None:
    """The validators kept beside ``path``, or ``None`` when they are missing, unreadable, or do not
    match the file kept (a damaged cache)."""
    try:
        with open(path + _VALIDATORS, "rb") as f:
            recorded = json.loads(f.read(1 << 16))
        size = os.path.getsize(path)
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("length") != size:
        return None
    return recorded


def _forget(path: str) -> None:
    for name in (path + _VALIDATORS, path):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f"cannot remove {name} from cache_dir ({e.strerror or type(e).__name__})") from None


class _BoundedReader(BinReader):
    """A dashboard store's reader: each read is one call within the store's ``deadline``."""

    source: DashboardSource

    def read_header(self, bin_id: str) -> Op[dict[str, Any]]:
        return (yield from self.source.bounded(super().read_header(bin_id)))

    def read_image(self, roi_id: str, *, stitch: bool = True) -> Op[Any]:
        return (yield from self.source.bounded(super().read_image(roi_id, stitch=stitch)))

    def read_images(self, bin_id: str, rois: Iterable[int | str] | None = None, *, stitch: bool = True) -> Op[Any]:
        return (yield from self.source.bounded(super().read_images(bin_id, rois, stitch=stitch)))

    def list_images(self, bin_id: str) -> Op[dict[int, dict[str, Any]]]:
        return (yield from self.source.bounded(super().list_images(bin_id)))

    def list_roi_ids(self, bin_id: str, *, stitch: bool = True) -> Op[list[str]]:
        return (yield from self.source.bounded(super().list_roi_ids(bin_id, stitch=stitch)))

    def image_exists(self, roi_id: str, *, stitch: bool = True) -> Op[bool]:
        return (yield from self.source.bounded(super().image_exists(roi_id, stitch=stitch)))

    def images_exist(self, bin_id: str, roi_ids: Iterable[str], *, stitch: bool = True) -> Op[dict[str, bool]]:
        return (yield from self.source.bounded(super().images_exist(bin_id, roi_ids, stitch=stitch)))

    def bin_metadata(self, bin_id: str, *, method: MlMethod = "adc") -> Op[dict[str, Any]]:
        """As any reader's, but the ``.roi`` is never downloaded to learn its size (a volume does not
        need it): its size comes from :meth:`DashboardSource.known_size`, and ``size`` is ``None``
        when the server does not tell it."""
        return (yield from self.source.bounded(self._bin_metadata(bin_id, method)))

    def _bin_metadata(self, bin_id: str, method: MlMethod) -> Op[dict[str, Any]]:
        validate_bin_id(bin_id)
        check_method(method)
        hdr = yield from self.source.read(bin_id, "hdr")
        adc = yield from self.source.read(bin_id, "adc")
        try:
            roi_size = yield from self.source.known_size(bin_id, "roi")
        except NotFoundError:
            roi_size = 0  # a missing .roi counts 0 bytes, as for any store
        adc_source = self.source.describe(bin_id, "adc")
        compute = functools.partial(
            metadata_and_damaged, bin_id, hdr, adc, size=None if roi_size is None else len(hdr) + len(adc) + roi_size,
            method=method, hdr_source=self.source.describe(bin_id, "hdr"), adc_source=adc_source, strict=self.strict,
        )  # fmt: skip
        metadata, damaged = yield Blocking(compute)
        warn_skipped(adc_source, damaged)  # here, not in the worker thread: at the caller's line
        return metadata


def _rebuilt(cls: type[DashboardBinsBase], base_url: str, dataset: str | None, settings: dict[str, Any]) -> Any:
    return cls(base_url, dataset, **settings)


Features = list[tuple[int, dict[str, int | float]]]


class DashboardBinsBase:
    """What both faces of a dashboard store hold: a :class:`DashboardSource` and its reader."""

    _async_client = False

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
        file_cache_bytes: int = 256 << 20,
        cache_dir: str | os.PathLike[str] | None = None,
    ):
        """A dashboard at ``base_url`` (user info and a query in it become credentials kept out of
        messages), its ``dataset`` (``None``: the ``/data/`` routes).

        Raises:
            ValueError: for a URL that is not http(s), a bad setting, or headers with an injected client.
            InvalidIdentifierError: for a malformed dataset name.
            MissingDependencyError: without httpx (the ``http`` extra).
        """
        self.source = DashboardSource(
            base_url, dataset, client=client, headers=headers, timeout=timeout, max_concurrency=max_concurrency,
            retries=retries, backoff=backoff, deadline=deadline, max_bytes=max_bytes,
            file_cache_bytes=file_cache_bytes, cache_dir=cache_dir, async_client=self._async_client,
        )  # fmt: skip
        self.reader: BinReader = _BoundedReader(self.source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, dataset={self.dataset!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """A pickled store is its URL, dataset and settings; see :meth:`DashboardSource.pickled`."""
        return (_rebuilt, (type(self), *self.source.pickled(self)))

    @property
    def base_url(self) -> str:
        """The dashboard's URL, without credentials."""
        return self.source.base_url

    @property
    def dataset(self) -> str | None:
        """The dataset, or ``None`` for the ``/data/`` routes."""
        return self.source.dataset

    @property
    def timeout(self) -> float:
        """Seconds one request may wait for the server."""
        return self.source.timeout

    @property
    def rangeless(self) -> bool | None:
        """Whether the server ignores Range requests (``None`` until the first ranged read tells; set it
        to skip that probe)."""
        return self.source.rangeless

    @rangeless.setter
    def rangeless(self, value: bool | None) -> None:
        self.source.rangeless = value


class DashboardBinStore(DashboardBinsBase, SyncSourceKeys, SyncBinStore):
    """A dashboard's raw bins over HTTP, on one ``httpx.Client`` (closed by :meth:`close` or
    ``with``): ``get``/``get_range``/``exists`` by key ``'{pid}.{ext}'``, ``bin_metadata`` and every
    read method (``read_image`` with a Range request, ``read_images``, ``iter_images``, ...)."""

    def bin_metadata(self, bin_id: str, *, method: str = "api") -> dict[str, Any]:
        """The bin's metadata from the dashboard's ``/api/bin/{pid}`` (``method='api'``): the keys
        of the local ``bin_metadata`` the API has (``ml_analyzed`` as a float in ml), plus the
        API's answer under ``'api'``. ``'adc'``, ``'hdr'`` or ``'reference'`` compute every key
        from the raw files, as for any store, without downloading the ``.roi`` (``size`` is ``None`` when
        the server does not tell its length).

        Raises:
            NotFoundError: (a ``KeyError``) for an unknown bin; FormatError: for an unexpected answer.
        """
        return run_sync(self.source.bin_metadata(bin_id, method=method))

    def list_datasets(self) -> list[str]:
        """The names of the dashboard's datasets (``/api/list_datasets``).

        Raises:
            StoreError: if the dashboard does not answer; FormatError: for an answer of another shape.
        """
        return run_sync(self.source.list_datasets())

    def list_metadata(
        self, start_time: TimeLike | None = None, end_time: TimeLike | None = None, *,
        instrument: Instruments = None, include_skip: bool = True, chunk_days: int = CHUNK_DAYS,
    ) -> DashboardListing:  # fmt: skip
        """The bins of the dataset within ``[start_time, end_time)`` (and instruments), with the
        metadata the listing carries (time, volume, position, images, skip): from
        ``/api/export_metadata``, one request per ``chunk_days`` days, or by walking the bins from
        ``/api/closest_bin``. Rows that cannot be read are in ``problems``, never dropped silently.

        Raises:
            NotFoundError: if the dashboard has no such dataset; StoreError, FormatError: for a
                failing or garbled answer.
        """
        op = self.source.list_metadata(
            start_time, end_time, instrument=instrument, include_skip=include_skip, chunk_days=chunk_days
        )
        return run_sync(op)

    def list_bins(
        self, start_time: TimeLike | None = None, end_time: TimeLike | None = None, *,
        instrument: Instruments = None, include_skip: bool = True,
    ) -> Iterator[str]:  # fmt: skip
        """The ids of the dataset's bins in time order (see :meth:`list_metadata`); a row that cannot
        be read is left out with a :class:`~ifcbkit.errors.SkippedBinWarning` naming it.

        Raises:
            NotFoundError: if the dashboard has no such dataset.
        """
        return iterate_sync(
            self.source.list_bins(start_time, end_time, instrument=instrument, include_skip=include_skip)
        )

    def read_class_scores(
        self, bin_id: str, *, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> ClassScoresRows:  # fmt: skip
        """The bin's class scores from ``/{dataset}/{pid}_class_scores.csv`` (``?v=`` for ``version``,
        ``?model=`` for ``model``, dashboards 5.2 on), read as a local ``_class_scores.csv`` is.
        ``n_images`` (the listing's): fewer rows than that is an answer cut short.

        Raises:
            ProductNotFoundError: (a ``NotFoundError``) on a 404, and without a dataset (the dashboard
                serves class scores per dataset); FormatError: naming the URL and line, or the URL
                for fewer rows than ``n_images``.
        """
        return run_sync(self.source.read_class_scores(bin_id, version=version, model=model, n_images=n_images))

    def read_class_counts(
        self, bin_id: str, *, threshold: float, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> dict[str, int]:  # fmt: skip
        """How many ROIs each class of the bin's class scores wins at or above ``threshold``: what
        ``class_counts(read_class_scores(...), threshold)`` gives, parsed and counted in one step
        without a record per row (and off the event loop on the async face).

        Raises:
            ProductNotFoundError: (a ``NotFoundError``) on a 404, and without a dataset; FormatError:
                naming the URL and line, or the URL for fewer rows than ``n_images``; ValueError: for
                a threshold that is not a score.
        """
        op = self.source.read_class_counts(bin_id, threshold=threshold, version=version, model=model,
                                           n_images=n_images)  # fmt: skip
        return run_sync(op)

    def read_features(self, bin_id: str, *, version: int | None = None) -> Features:
        """The bin's features (``/{dataset}/{pid}_features.csv``, ``?v=`` for ``version``), read as a
        local ``_features_v4.csv``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL and line.
        """
        return run_sync(self.source.read_features(bin_id, version=version))

    def read_blobs(self, bin_id: str, *, version: int | None = None) -> list[tuple[str, bytes]]:
        """The bin's blob images (``/{dataset}/{pid}_blob.zip``, ``?v=`` for ``version``) as
        ``[(roi_id, png_bytes)]``, read as a local ``_blobs_v4.zip``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL.
        """
        return run_sync(self.source.read_blobs(bin_id, version=version))

    def close(self) -> None:
        """Close the HTTP client (unless it was injected)."""
        run_sync(self.source.close())

    def __enter__(self) -> DashboardBinStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDashboardBinStore(DashboardBinsBase, AsyncSourceKeys, AsyncBinStore):
    """:class:`DashboardBinStore` for asyncio, on ``httpx.AsyncClient``, with at most
    ``max_concurrency`` requests in flight (close with :meth:`aclose` or ``async with``)."""

    _async_client = True

    async def bin_metadata(self, bin_id: str, *, method: str = "api") -> dict[str, Any]:
        """Await the bin's metadata (:meth:`DashboardBinStore.bin_metadata`).

        Raises:
            NotFoundError: (a ``KeyError``) for an unknown bin; FormatError: for an unexpected answer.
        """
        return await run_async(self.source.bin_metadata(bin_id, method=method))

    async def list_datasets(self) -> list[str]:
        """Await the names of the dashboard's datasets.

        Raises:
            StoreError: if the dashboard does not answer; FormatError: for an answer of another shape.
        """
        return await run_async(self.source.list_datasets())

    async def list_metadata(
        self, start_time: TimeLike | None = None, end_time: TimeLike | None = None, *,
        instrument: Instruments = None, include_skip: bool = True, chunk_days: int = CHUNK_DAYS,
    ) -> DashboardListing:  # fmt: skip
        """Await the dataset's bins with their metadata (:meth:`DashboardBinStore.list_metadata`).

        Raises:
            NotFoundError: if the dashboard has no such dataset; StoreError, FormatError: for a
                failing or garbled answer.
        """
        op = self.source.list_metadata(
            start_time, end_time, instrument=instrument, include_skip=include_skip, chunk_days=chunk_days
        )
        return await run_async(op)

    def list_bins(
        self, start_time: TimeLike | None = None, end_time: TimeLike | None = None, *,
        instrument: Instruments = None, include_skip: bool = True,
    ) -> AsyncIterator[str]:  # fmt: skip
        """``async for`` over the ids of the dataset's bins in time order (:meth:`DashboardBinStore.list_bins`).

        Raises:
            NotFoundError: if the dashboard has no such dataset.
        """
        op = self.source.list_bins(start_time, end_time, instrument=instrument, include_skip=include_skip)
        return iterate_async(op)

    async def read_class_scores(
        self, bin_id: str, *, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> ClassScoresRows:  # fmt: skip
        """Await the bin's class scores (:meth:`DashboardBinStore.read_class_scores`).

        Raises:
            ProductNotFoundError: (a ``NotFoundError``) on a 404, and without a dataset; FormatError:
                naming the URL and line, or the URL for fewer rows than ``n_images``.
        """
        op = self.source.read_class_scores(bin_id, version=version, model=model, n_images=n_images)
        return await run_async(op)

    async def read_class_counts(
        self, bin_id: str, *, threshold: float, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> dict[str, int]:  # fmt: skip
        """Await the bin's class counts at ``threshold`` (:meth:`DashboardBinStore.read_class_counts`).

        Raises:
            ProductNotFoundError: (a ``NotFoundError``) on a 404, and without a dataset; FormatError:
                naming the URL and line, or the URL for fewer rows than ``n_images``.
        """
        op = self.source.read_class_counts(bin_id, threshold=threshold, version=version, model=model,
                                           n_images=n_images)  # fmt: skip
        return await run_async(op)

    async def read_features(self, bin_id: str, *, version: int | None = None) -> Features:
        """Await the bin's features (:meth:`DashboardBinStore.read_features`).

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL and line.
        """
        return await run_async(self.source.read_features(bin_id, version=version))

    async def read_blobs(self, bin_id: str, *, version: int | None = None) -> list[tuple[str, bytes]]:
        """Await the bin's blob images (:meth:`DashboardBinStore.read_blobs`).

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL.
        """
        return await run_async(self.source.read_blobs(bin_id, version=version))

    async def aclose(self) -> None:
        """Close the HTTP client (unless it was injected)."""
        await run_async(self.source.close())

    async def __aenter__(self) -> AsyncDashboardBinStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
