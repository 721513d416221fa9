"""What a dashboard holds: its datasets, and a dataset's bins in time order with the metadata its
listing carries, from ``/api/export_metadata`` (one request per ``chunk_days`` days) or, where that
endpoint is missing, by walking ``previous_bin_id``/``next_bin_id`` from ``/api/closest_bin``. The
answers are parsed by the pure functions of :mod:`ifcbkit.sources.dashboard.listing`; the requests go
through the dashboard's client."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import NamedTuple

from ...adc import warn_user
from ...engine.compute import Compute
from ...engine.filters import FilesetFilter, TimeLike
from ...engine.requests import EmitMany, Op
from ...errors import FormatError, InvalidIdentifierError, NotFoundError, SkippedBinWarning
from ...formats.ids import parse_instruments, validate_bin_id
from .answers import parse_bin_api
from .client import DashboardClient
from .listing import (
    CompactBin,
    ListedBin,
    ListedBins,
    ListingProblem,
    date_chunks,
    export_query,
    in_span,
    listed_from_api,
    merge_rows,
    parse_export_rows,
)

# Days of bins per /api/export_metadata request: one a month keeps each answer a few thousand rows.
CHUNK_DAYS = 31

# The most bins a listing by walking next_bin_id/previous_bin_id visits (ifcbdb's export caps at 500,000).
MAX_WALK = 500_000


class DashboardListing(NamedTuple):
    """A dashboard's bins in time order, the rows that could not be read, and how they were listed
    (``'export_metadata'`` or ``'walk'``). ``bins`` is a sequence: for an export's listing a
    :class:`~ifcbkit.sources.dashboard.listing.ListedBins`, each bin's record made as it is read."""

    bins: Sequence[ListedBin]
    problems: list[ListingProblem]
    method: str


class DashboardCatalog:
    """The datasets and bins of one dashboard, listed through its client (each listing is one call
    within the client's ``deadline``)."""

    def __init__(self, client: DashboardClient):
        self.client = client

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client.base_url!r}, dataset={self.client.dataset!r})"

    def list_datasets(self) -> Op[list[str]]:
        """The names of the dashboard's datasets (``/api/list_datasets``).

        Raises:
            StoreError: if the dashboard does not answer; FormatError: for an answer of another shape.
        """
        answer = yield from self.client.bounded(self.client.api("list_datasets"))
        if answer is None:
            raise NotFoundError(f"{self.client.base_url} has no /api/list_datasets (HTTP 404)")
        names = answer.get("datasets") if isinstance(answer, dict) else None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise FormatError(f"{self.client.base_url}/api/list_datasets", "not a list of dataset names")
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
        listing, conflicts = yield from self.client.bounded(
            self._listing(start_time, end_time, instrument, include_skip, chunk_days)
        )
        for problem in conflicts:
            warn_user(SkippedBinWarning(f"left out a bin: {problem.error}"))
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
        path = f"{self.client.base_url}/api/export_metadata/{self.client.dataset or ''}"
        rows: list[CompactBin] = []
        problems: list[ListingProblem] = []
        answered = 0
        for start, end in spans:
            params = {**export_query(start, end), "include_skip": "true" if include_skip else "false"}
            if instruments is not None and len(instruments) == 1:
                params["instrument"] = str(next(iter(instruments)))
            response = yield from self.client.request("GET", path, "api", params=params)
            if response.status_code == 404:  # no bin in this span (or no such endpoint)
                continue
            self.client.check(response, "GET", path)
            answered += 1
            source = f"{path}?{urllib.parse.urlencode(params)}"
            found, bad = yield Compute(_listed_in_range, response.content, source, keep)
            rows += found
            problems += bad
        if not answered:
            yield from self._check_dataset()
            return (yield from self._walk(keep, include_skip)), []
        ordered, conflicts = yield Compute(_merged_in_order, rows, include_skip)
        return DashboardListing(ListedBins(ordered), problems + conflicts, "export_metadata"), conflicts

    def _check_dataset(self) -> Op[None]:
        if self.client.dataset is None:
            return
        try:
            names = yield from self.list_datasets()
        except NotFoundError:  # a dashboard too old to list its datasets: the walk will tell
            return
        if self.client.dataset not in names:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise NotFoundError(
                f"no dataset {self.client.dataset!r} on {self.client.base_url} (it has: {shown or 'none'})"
            )

    def _walk(self, keep: FilesetFilter, include_skip: bool) -> Op[DashboardListing]:
        """The listing by walking ``previous_bin_id``/``next_bin_id`` from the bin closest to the start
        (one ``/api/bin`` request per bin: the fallback for dashboards without ``export_metadata``)."""
        query = {"dataset": self.client.dataset} if self.client.dataset else {}
        target = keep.start or keep.end or datetime.now(timezone.utc)
        closest = yield from self.client.api("closest_bin", form={**query, "target_date": target.isoformat()})
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
                    raise FormatError(f"{self.client.base_url}/api/bin", f"more than {MAX_WALK} bins walked; giving up")
                visited.add(step)
                if step not in fetched:
                    try:
                        fetched[step] = yield from self._listed_by_api(validate_bin_id(step))
                    except (FormatError, InvalidIdentifierError) as e:
                        problems.append(ListingProblem(None, e if isinstance(e, FormatError) else FormatError(
                            f"{self.client.base_url}/api/bin", str(e))))  # fmt: skip
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
        url = self.client.api_url(pid)
        response = yield from self.client.request("GET", url, "api")
        if response.status_code == 404:
            return None
        self.client.check(response, "GET", url)
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
        listing, _ = yield from self.client.bounded(
            self._listing(start_time, end_time, instrument, include_skip, CHUNK_DAYS)
        )
        for problem in listing.problems:
            warn_user(SkippedBinWarning(f"skipped a listed bin: {problem.error}"))
        bins = listing.bins
        yield EmitMany(bins.pids() if isinstance(bins, ListedBins) else [b.pid for b in bins])

    # ----- products -----


def _listed_in_range(content: bytes, source: str, keep: FilesetFilter) -> tuple[list[CompactBin], list[ListingProblem]]:
    """The rows of one ``export_metadata`` answer within ``keep``'s range and instruments (CPU work,
    run off the event loop: 40,000 rows take about 0.2 s). Every row in the whole range counts,
    whichever chunk's answer carries it (a server's day boundaries need not be UTC's)."""
    found, bad = parse_export_rows(content, source=source)
    return [row for row in found if in_span(row[1], keep.start, keep.end) and keep((), row[0])], bad


def _merged_in_order(rows: list[CompactBin], include_skip: bool) -> tuple[list[CompactBin], list[ListingProblem]]:
    """The rows of every answer merged by bin id (chunks that overlap list a bin twice), in time
    order, and the conflicts (off the event loop, as :func:`_listed_in_range`)."""
    bins, conflicts = merge_rows(rows)
    kept = [row for row in bins.values() if include_skip or not row[7]]
    kept.sort(key=_time_and_pid)
    return kept, conflicts


def _time_and_pid(row: CompactBin) -> tuple[datetime, str]:
    return row[1], row[0]
