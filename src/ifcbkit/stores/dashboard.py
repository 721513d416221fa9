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

The stores here are thin faces over :class:`~ifcbkit.sources.dashboard.source.DashboardSource`, whose
parts live in :mod:`ifcbkit.sources.dashboard`: ``client`` (HTTP, retries, deadlines), ``transport``
(one request), ``source`` (raw files, rangeless servers, kept files), ``catalog`` (listings),
``products`` and ``answers`` (JSON).
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from ..engine.filters import TimeLike
from ..engine.reader import BinReader
from ..engine.requests import iterate_async, iterate_sync, run_async, run_sync
from ..formats.ids import Instruments
from ..formats.products import ClassScoresRows
from ..sources.dashboard import client as _client
from ..sources.dashboard.answers import API_METADATA_FIELDS, metadata_from_api, parse_bin_api, parse_json
from ..sources.dashboard.catalog import CHUNK_DAYS, MAX_WALK, DashboardCatalog, DashboardListing
from ..sources.dashboard.client import DEFAULT_MAX_BYTES, LEAN, REQUEST_DEADLINE, DashboardClient, RetryPolicy
from ..sources.dashboard.kept import MAX_SPILLED
from ..sources.dashboard.products import DashboardProducts, Features, class_counts_csv
from ..sources.dashboard.source import BoundedReader, DashboardSource
from ..sources.dashboard.transport import Sleep
from .base import AsyncBinStore, AsyncSourceKeys, SyncBinStore, SyncSourceKeys

__all__ = [
    "API_METADATA_FIELDS", "CHUNK_DAYS", "DEFAULT_MAX_BYTES", "LEAN", "MAX_SPILLED", "MAX_WALK", "REQUEST_DEADLINE",
    "AsyncDashboardBinStore", "DashboardBinStore", "DashboardBinsBase", "DashboardCatalog", "DashboardClient",
    "DashboardListing", "DashboardProducts", "DashboardSource", "RetryPolicy", "Sleep", "class_counts_csv",
    "metadata_from_api", "parse_bin_api", "parse_json",
]  # fmt: skip


def _rebuilt(cls: type[DashboardBinsBase], base_url: str, dataset: str | None, settings: dict[str, Any]) -> Any:
    return cls(base_url, dataset, **settings)


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
        self.reader: BinReader = BoundedReader(self.source)

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

    def list_datasets(self) -> list[str]:
        """The names of the dashboard's datasets (``/api/list_datasets``).

        Raises:
            StoreError: if the dashboard does not answer; FormatError: for an answer of another shape.
        """
        return run_sync(self.source.catalog.list_datasets())

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
        op = self.source.catalog.list_metadata(
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
        return run_sync(self.source.products.read_class_scores(bin_id, version=version, model=model, n_images=n_images))

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
        op = self.source.products.read_class_counts(bin_id, threshold=threshold, version=version, model=model,
                                           n_images=n_images)  # fmt: skip
        return run_sync(op)

    def read_features(self, bin_id: str, *, version: int | None = None) -> Features:
        """The bin's features (``/{dataset}/{pid}_features.csv``, ``?v=`` for ``version``), read as a
        local ``_features_v4.csv``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL and line.
        """
        return run_sync(self.source.products.read_features(bin_id, version=version))

    def read_blobs(self, bin_id: str, *, version: int | None = None) -> list[tuple[str, bytes]]:
        """The bin's blob images (``/{dataset}/{pid}_blob.zip``, ``?v=`` for ``version``) as
        ``[(roi_id, png_bytes)]``, read as a local ``_blobs_v4.zip``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL.
        """
        return run_sync(self.source.products.read_blobs(bin_id, version=version))

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

    async def list_datasets(self) -> list[str]:
        """Await the names of the dashboard's datasets.

        Raises:
            StoreError: if the dashboard does not answer; FormatError: for an answer of another shape.
        """
        return await run_async(self.source.catalog.list_datasets())

    async def list_metadata(
        self, start_time: TimeLike | None = None, end_time: TimeLike | None = None, *,
        instrument: Instruments = None, include_skip: bool = True, chunk_days: int = CHUNK_DAYS,
    ) -> DashboardListing:  # fmt: skip
        """Await the dataset's bins with their metadata (:meth:`DashboardBinStore.list_metadata`).

        Raises:
            NotFoundError: if the dashboard has no such dataset; StoreError, FormatError: for a
                failing or garbled answer.
        """
        op = self.source.catalog.list_metadata(
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
        op = self.source.products.read_class_scores(bin_id, version=version, model=model, n_images=n_images)
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
        op = self.source.products.read_class_counts(bin_id, threshold=threshold, version=version, model=model,
                                           n_images=n_images)  # fmt: skip
        return await run_async(op)

    async def read_features(self, bin_id: str, *, version: int | None = None) -> Features:
        """Await the bin's features (:meth:`DashboardBinStore.read_features`).

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL and line.
        """
        return await run_async(self.source.products.read_features(bin_id, version=version))

    async def read_blobs(self, bin_id: str, *, version: int | None = None) -> list[tuple[str, bytes]]:
        """Await the bin's blob images (:meth:`DashboardBinStore.read_blobs`).

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL.
        """
        return await run_async(self.source.products.read_blobs(bin_id, version=version))

    async def aclose(self) -> None:
        """Close the HTTP client (unless it was injected)."""
        await run_async(self.source.close())

    async def __aenter__(self) -> AsyncDashboardBinStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Settings(types.ModuleType):
    """This module, whose settings :data:`LEAN` and :data:`REQUEST_DEADLINE` (set here, as the
    documentation says: ``ifcbkit.stores.dashboard.LEAN = False``) reach the client that reads them."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("LEAN", "REQUEST_DEADLINE"):
            setattr(_client, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Settings
