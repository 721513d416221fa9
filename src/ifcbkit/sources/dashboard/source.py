"""A dashboard's raw bins as a bin source: ``.hdr``/``.adc``/``.roi`` files read whole or by HTTP
``Range`` request; on a *rangeless* server (ifcbdb honours no Range: the first 200 answer to a Range
request tells) each file fetched whole once and kept, in memory, in temporary files, or in
``cache_dir`` checked against the server's validators (:mod:`ifcbkit.sources.dashboard.kept`).
:class:`DashboardSource` holds the dashboard's client, and the listing and product readers that share
it (:class:`~ifcbkit.sources.dashboard.catalog.DashboardCatalog`,
:class:`~ifcbkit.sources.dashboard.products.DashboardProducts`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from ...engine.cache import LRUCache, cache_token
from ...engine.fileio import FileExists, ReadRanges
from ...engine.filters import TimeLike
from ...engine.reader import BinReader
from ...engine.requests import Blocking, Op, Shared, perform
from ...engine.source import BinSource
from ...errors import NotFoundError
from ...formats.ids import bin_key
from ...formats.ranges import ByteRange
from .answers import parse_bin_api
from .catalog import DashboardCatalog
from .client import DashboardClient, RetryPolicy, logger
from .kept import Spills, forget, read_validators, same_version, usable_cache_dir, validators, write_kept
from .products import DashboardProducts
from .transport import Answer

T = TypeVar("T")


class DashboardSource(BinSource):
    """A dashboard's raw files and bin metadata over HTTP (sans-I/O), with range handling and the files
    kept whole from a rangeless server. ``client`` sends every request (URLs, retries, deadlines);
    ``catalog`` lists datasets and bins, ``products`` reads class scores, features and blobs, both
    through that client. ``async_client``: make the client of the async face (per event loop, with a
    semaphore bounding the requests in flight)."""

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
        self.client = DashboardClient(
            base_url, dataset, client=client, headers=headers, timeout=timeout, max_concurrency=max_concurrency,
            retries=retries, backoff=backoff, deadline=deadline, max_bytes=max_bytes, async_client=async_client,
        )  # fmt: skip
        self.catalog = DashboardCatalog(self.client)
        self.products = DashboardProducts(self.client)
        self._settings = {**self.client.settings, "file_cache_bytes": file_cache_bytes, "cache_dir": cache_dir}
        # A server that answers a Range request with the whole file (200) is "rangeless": its files are
        # then fetched whole, once, and kept (by bytes in memory, or in cache_dir) for later reads.
        # None until the first ranged read tells.
        self.rangeless: bool | None = None
        self._files: LRUCache[bytes] = LRUCache(max_size=file_cache_bytes)
        self.cache_dir = None if cache_dir is None else usable_cache_dir(cache_dir, dataset or "data")
        self._fresh: set[tuple[str, str]] = set()  # files in cache_dir found current in this process
        self._spilled = Spills()  # files too big for the memory cache, kept in temporary files

    @property
    def base_url(self) -> str:
        """The dashboard's URL, without credentials."""
        return self.client.base_url

    @property
    def dataset(self) -> str | None:
        """The dataset, or ``None`` for the ``/data/`` routes."""
        return self.client.dataset

    @property
    def timeout(self) -> float:
        """Seconds one request may wait for the server."""
        return self.client.timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, dataset={self.dataset!r})"

    def pickled(self, store: object) -> tuple[str, str | None, dict[str, Any]]:
        """What a pickled store is: its URL, dataset and settings (the copy makes its own client). A
        store with credentials (user info or a query in its URL, headers) or an injected client is not
        pickled: its credentials would travel in the pickle (a Dask task graph, a pool's queue).

        Raises:
            TypeError: for such a store.
        """
        self.client.check_picklable(store)
        return self.base_url, self.dataset, self._settings

    def bounded(self, op: Op[T]) -> Op[T]:
        """``op`` as one call within the store's ``deadline`` (see :meth:`DashboardClient.bounded`)."""
        return self.client.bounded(op)

    def close(self) -> Op[None]:
        """Close the HTTP client (unless it was injected), and remove the temporary files."""
        yield from self.client.close()
        self._spilled.clear()

    # ----- the bin-source primitives -----

    def describe(self, bin_id: str, ext: str) -> str:
        return self.client.file_url(bin_id, ext)

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
            probed = yield from perform(Shared(("range-probe", cache_token(self)), lambda: self._probe(asked)))
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
        url = self.client.file_url(bin_id, ext)
        out: list[bytes] = []
        whole: bytes | None = None
        for offset, length in ranges:
            if whole is not None:  # the server ignores ranges: slice the file it already sent
                out.append(whole[offset : offset + length])
                continue
            data, answer = yield from self.client.get_range(url, ext, offset, length)
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

    def _keep(self, bin_id: str, ext: str, answer: Answer) -> Op[None]:
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
        yield Blocking(write_kept, path, data, validators(answer.headers, len(data)))
        self._fresh.add((bin_id, ext))

    def _kept_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes] | None]:
        """Ranges of a file kept whole (in ``cache_dir``, or in memory), or ``None`` if it is not kept
        (or ``cache_dir`` holds a version the server has since replaced)."""
        path = self._cache_path(bin_id, ext)
        if path is not None:
            if not (yield from perform(FileExists(path))):
                return None
            if (bin_id, ext) not in self._fresh:
                key = ("dashboard-revalidate", cache_token(self), bin_id, ext)
                if not (yield from perform(Shared(key, lambda: self._revalidate(bin_id, ext, path)))):
                    return None
            return (yield from perform(ReadRanges(path, ranges)))
        data = self._files.get((bin_id, ext))
        if data is not None:
            return [r.of(data) for r in ranges]
        if self._spilled.has((bin_id, ext)):
            return (yield from perform(Blocking(self._spilled.read, (bin_id, ext), ranges)))
        return None

    def _revalidate(self, bin_id: str, ext: str, path: str) -> Op[bool]:
        """Whether the file kept at ``path`` (by an earlier process, or store) is the server's current
        version: a HEAD request's ETag, else Last-Modified, else Content-Length against those recorded
        when it was kept. A file that is not is removed, to be fetched again.

        Raises:
            NotFoundError: if the server no longer has the file.
        """
        recorded = yield from perform(Blocking(read_validators, path))
        url = self.client.file_url(bin_id, ext)
        if recorded is not None:
            response = yield from self.client.request("HEAD", url, ext)
            if response.status_code == 404:
                yield Blocking(forget, path)
                raise NotFoundError(f"{url} does not exist (HTTP 404)")
            if response.status_code < 400 and same_version(recorded, validators(response.headers, None)):
                self._fresh.add((bin_id, ext))
                return True
        logger.info("%s: the copy in %s is not the server's current version; fetching it again", url, path)
        yield Blocking(forget, path)
        return False

    def _whole_file_ranges(self, bin_id: str, ext: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        """Ranges of a file fetched whole, once (concurrent first reads share one download)."""
        kept = yield from self._kept_ranges(bin_id, ext, ranges)  # (a probe may have kept it meanwhile)
        if kept is not None:
            return kept
        data = yield from perform(
            Shared(("dashboard-file", cache_token(self), bin_id, ext), lambda: self._fetch_and_keep(bin_id, ext))
        )
        kept = yield from self._kept_ranges(bin_id, ext, ranges)
        if kept is not None:
            return kept
        return [r.of(data) for r in ranges]  # too big for the memory cache

    def _fetch_and_keep(self, bin_id: str, ext: str) -> Op[bytes]:
        answer = yield from self._download(bin_id, ext)
        yield from self._keep(bin_id, ext, answer)
        return answer.content

    def _download(self, bin_id: str, ext: str) -> Op[Answer]:
        url = self.client.file_url(bin_id, ext)
        response = yield from self.client.request("GET", url, ext)
        self.client.check(response, "GET", url)
        return response

    def _head(self, bin_id: str, ext: str) -> Op[Any]:
        url = self.client.file_url(bin_id, ext)
        response = yield from self.client.request("HEAD", url, ext)
        self.client.check(response, "HEAD", url)
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
            url = self.client.file_url(bin_id, ext)
            response = yield from self.client.request("GET", url, ext, {"Range": "bytes=0-0"}, (0, 1))
            self.client.check(response, "GET", url)
            total = response.content_range[2] if response.content_range is not None else ""
            if total.isdigit():
                return int(total)
        return None

    # ----- metadata and listing -----

    default_method = "api"  # bin_metadata: what the dashboard's /api/bin/{pid} says, unless asked otherwise

    def served_metadata(self, bin_id: str, method: str) -> Op[dict[str, Any]] | None:
        """``'api'``: the bin's metadata from the dashboard's ``/api/bin/{pid}``, the keys of the local
        ``bin_metadata`` it has (``ml_analyzed`` as a float in ml), plus its answer under ``'api'``."""
        return self._api_metadata(bin_id) if method == "api" else None

    def _api_metadata(self, bin_id: str) -> Op[dict[str, Any]]:
        url = self.client.api_url(bin_id)
        response = yield from self.client.request("GET", url, "api")
        if response.status_code == 404:
            raise NotFoundError(f"no bin {bin_id} on {self.base_url} ({url}: HTTP 404)")
        self.client.check(response, "GET", url)
        return parse_bin_api(response.content, source=url, pid=bin_id)

    def list_bins(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
        *,
        include_skip: bool = True,
    ) -> Op[None]:
        """The ids of the dataset's bins in time order (:meth:`DashboardCatalog.list_bins`)."""
        return self.catalog.list_bins(start_time, end_time, instrument=instrument, include_skip=include_skip)


def _bounded(read: Callable[..., Op[Any]]) -> Callable[..., Op[Any]]:
    """``read`` (a :class:`BinReader` method) as one call within its source's ``deadline``."""

    @functools.wraps(read)
    def bounded(self: BoundedReader, *args: Any, **kwargs: Any) -> Op[Any]:
        return (yield from self.source.bounded(read(self, *args, **kwargs)))

    return bounded


class BoundedReader(BinReader):
    """A dashboard store's reader: each read is one call within the store's ``deadline`` (the
    reader's methods, each wrapped once below)."""

    source: DashboardSource


for _name in ("read_header", "read_image", "read_images", "list_images", "list_roi_ids", "image_exists",
              "images_exist", "bin_metadata"):  # fmt: skip
    setattr(BoundedReader, _name, _bounded(getattr(BinReader, _name)))
