"""Daily abundance straight from an IFCB dashboard: bins and volumes from its listing, class scores
from its ``_class_scores.csv`` route, summed by day as :func:`ifcbkit.daily_abundance` does.

One listing request per month (``/api/export_metadata``) replaces a request per bin, and the class
scores are fetched with bounded concurrency (``max_concurrency`` connections, 8 by default), with
the dashboard store's retries and backoff. The volume of a bin is the dashboard's ``ml_analyzed``
(method ``'dashboard'``), or recomputed from its raw files with ``method='adc'``/``'hdr'``/
``'reference'``. Bins flagged *skip* on the dashboard, and bins without class scores, are reported
in ``skipped``, as are listing rows and class-score files that cannot be read (``error=True``).

With ``carbon``, each bin's features come from ``/{dataset}/{pid}_features.csv`` and its class
results are turned into biovolume and carbon per class as :func:`ifcbkit.daily_abundance` does;
a bin with class scores but no features is skipped (``error=True``), never counted with zero carbon.

A day's volume is the sum over every bin that had class scores, including bins where no ROI reached
the threshold. Summing only the bins that counted something, as the dashboard notebook does, gives
higher concentrations on days with empty bins; on data where every bin counts something, both agree.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Container, Iterable, Mapping
from typing import Any

from ..engine.filters import TimeLike
from ..engine.requests import run_async
from ..errors import IfcbError, ProductNotFoundError
from ..science.carbon import DEFAULT_MICRON_FACTOR
from ..science.counting import BinCounts, Counting, biomass_of, classify_scores, counting, summarize_daily, warn_unknown
from ..science.diatoms import DiatomTable
from ..science.metrics import MlMethod, check_method
from ..sources.dashboard.listing import ListedBin
from ..stores.dashboard import AsyncDashboardBinStore, DashboardListing
from .abundance import NO_CLASS_SCORES, NO_FEATURES, AbundanceResult, DayPlan, Skipped

Progress = Callable[[int, int], None]


async def adaily_abundance_from_dashboard(
    store: AsyncDashboardBinStore,
    *,
    threshold: float | None = None,
    thresholds: Mapping[str, float] | str | None = None,
    rule: str = "winner",
    carbon: bool = False,
    convention: str = "ifcb-analysis",
    micron_factor: float = DEFAULT_MICRON_FACTOR,
    biovolume_column: str = "Biovolume",
    diatoms: DiatomTable | Iterable[str] | str | None = None,
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    method: MlMethod | None = None,
    model: str | None = None,
    version: int | str | None = None,
    skip_days: Container[str] = (),
    progress: Progress | None = None,
    plan: DayPlan | None = None,
) -> AbundanceResult:
    """Daily abundance of the store's dataset over ``[start_time, end_time)`` (see the module doc).
    Bins of the UTC dates in ``skip_days`` (``'YYYY-MM-DD'``: days a re-run already has) are left out,
    and so are the days ``plan`` reuses (see :class:`ifcbkit.jobs.abundance.DayPlan`): their bins that had
    no class scores are asked for them again, and the day is counted if one has them now.
    ``threshold``, ``thresholds``, ``rule`` and the carbon options as in
    :func:`ifcbkit.daily_abundance` (a dashboard's class scores carry no thresholds of their own).

    Raises:
        NotFoundError: for an unknown dataset; ValueError: for a bad threshold, rule, method or
            carbon option.
    """
    how = counting(threshold, thresholds, rule, carbon=carbon, convention=convention, micron_factor=micron_factor,
                   biovolume_column=biovolume_column, diatoms=diatoms)  # fmt: skip
    if method is not None:
        check_method(method)
    listing: DashboardListing = await store.list_metadata(start_time, end_time, instrument=instrument)
    skipped = [
        Skipped(problem.pid or f"line {problem.error.line}", f"unreadable listing row: {problem.error}", error=True)
        for problem in listing.problems
    ]
    days: dict[str, list[ListedBin]] = {}
    for listed in listing.bins:
        day = listed.sample_time.date().isoformat()
        if day not in skip_days:
            days.setdefault(day, []).append(listed)
    reused: dict[str, list[ListedBin]] = {}  # day -> its bins to ask for class scores again
    if plan is not None:
        for day, members in days.items():
            again = plan.reuse(day, {listed.pid: listing_stamp(listed) for listed in members})
            if again is not None:
                reused[day] = [listed for listed in members if listed.pid in again and not listed.skip]
    done = 0
    total = sum(map(len, reused.values()))

    async def count(listed: ListedBin) -> BinCounts | Skipped:
        nonlocal done
        try:
            if how.plain:
                return await _bin_counts(store, listed, how.run_threshold, method, model, version)
            return await _bin_biomass(store, listed, how, method, model, version)
        finally:
            done += 1
            if progress is not None:
                progress(done, total)

    checked = await asyncio.gather(*(count(listed) for members in reused.values() for listed in members))
    results: list[BinCounts | Skipped] = []
    for day, members in list(reused.items()):
        answers, checked = checked[: len(members)], checked[len(members) :]
        changed = [r for r in answers if not (isinstance(r, Skipped) and r.reason == NO_CLASS_SCORES)]
        if changed:  # classified since, or failed now: the day is counted again, with these answers
            now = "has them now" if isinstance(changed[0], BinCounts) else f"now: {changed[0].reason}"
            assert plan is not None
            plan.recomputed(day, f"{len(changed)} of its bins without class scores answer otherwise now "
                                 f"({changed[0].pid} {now})")  # fmt: skip
            del reused[day]
        results += answers
    asked = {r.pid for r in results}
    todo = []
    for day, members in days.items():
        if day in reused:
            continue
        for listed in members:
            if listed.skip:
                skipped.append(Skipped(listed.pid, "flagged skip on the dashboard"))
            elif listed.pid not in asked:
                todo.append(listed)
    total += len(todo)
    results += await asyncio.gather(*(count(listed) for listed in todo))  # the store bounds the connections
    order = {listed.pid: i for i, listed in enumerate(listing.bins)}
    results.sort(key=lambda r: order.get(r.pid, -1))  # listing order, as a run without a plan
    bins = [r for r in results if isinstance(r, BinCounts)]
    skipped += [r for r in results if isinstance(r, Skipped)]
    if bins:
        warn_unknown(how, (name for b in bins for name in b.counts))
    return AbundanceResult(summarize_daily(bins, how.run_threshold), bins, skipped)


async def _volume(
    store: AsyncDashboardBinStore, listed: ListedBin, method: MlMethod | None
) -> tuple[float, str, int] | Skipped:
    """A bin's ``(ml_analyzed, method label, skipped ADC lines)``: the dashboard's volume, or with
    ``method`` one computed from its raw files; a bin without a usable volume is :class:`Skipped`."""
    pid = listed.pid
    volume, label, lines = listed.ml_analyzed, "dashboard", 0
    if method is not None:
        try:
            meta: Mapping[str, Any] = await store.bin_metadata(pid, method=method)
        except IfcbError as e:
            return Skipped(pid, f"unreadable bin: {e}", error=True)
        volume, label, lines = meta["ml_analyzed"], method, int(meta.get("skipped_lines") or 0)
        if meta.get("ml_analyzed_reason"):
            return Skipped(pid, f"no ml_analyzed ({meta['ml_analyzed_reason']})")
    if not (isinstance(volume, float) and math.isfinite(volume) and volume > 0):
        return Skipped(pid, "no ml_analyzed on the dashboard")
    return volume, label, lines


async def _bin_counts(
    store: AsyncDashboardBinStore, listed: ListedBin, threshold: float, method: MlMethod | None,
    model: str | None, version: int | str | None,
) -> BinCounts | Skipped:  # fmt: skip
    pid = listed.pid
    try:
        counts = await _class_counts(store, listed, threshold, model, version)
    except ProductNotFoundError:
        return Skipped(pid, NO_CLASS_SCORES)
    except IfcbError as e:
        return Skipped(pid, f"unreadable class scores: {e}", error=True)
    measured = await _volume(store, listed, method)
    if isinstance(measured, Skipped):
        return measured
    volume, label, lines = measured
    return BinCounts(pid, counts, volume, label, listed.lat, listed.lng, lines)


async def _class_counts(
    store: AsyncDashboardBinStore, listed: ListedBin, threshold: float, model: str | None, version: int | str | None
) -> dict[str, int]:
    """The bin's class counts, parsed and counted off the event loop (the store's ``read_class_counts``)."""
    return await store.read_class_counts(
        listed.pid, threshold=threshold, version=version, model=model, n_images=listed.n_images
    )


async def _bin_biomass(
    store: AsyncDashboardBinStore, listed: ListedBin, how: Counting, method: MlMethod | None,
    model: str | None, version: int | str | None,
) -> BinCounts | Skipped:  # fmt: skip
    """:func:`_bin_counts` under per-class thresholds, another rule, or with carbon (the bin's
    features from ``/{dataset}/{pid}_features.csv``)."""
    pid = listed.pid
    try:
        scores = await store.read_class_scores(pid, version=version, model=model, n_images=listed.n_images)
    except ProductNotFoundError:
        return Skipped(pid, NO_CLASS_SCORES)
    except IfcbError as e:
        return Skipped(pid, f"unreadable class scores: {e}", error=True)
    features: tuple[bytes, str] | None = None
    if how.carbon is not None:
        try:  # the raw bytes: only two columns of ~240 are read (ifcbkit.formats.biovolumes)
            features = await run_async(store.source.products.fetch(pid, f"{pid}_features.csv", "features", {}))
        except ProductNotFoundError:
            return Skipped(pid, f"{NO_FEATURES} ({scores.pid or pid} on {store.base_url})", error=True)
        except IfcbError as e:
            return Skipped(pid, f"no carbon: {e}", error=True)
    measured = await _volume(store, listed, method)
    if isinstance(measured, Skipped):
        return measured
    volume, label, lines = measured
    source = f"{store.base_url}/{store.dataset}/{pid}_class_scores.csv"
    try:
        counts, applied, result = classify_scores(scores, how, source)
    except IfcbError as e:
        return Skipped(pid, f"unreadable class scores: {e}", error=True)
    biomass = None
    if how.carbon is not None and features is not None and result is not None:
        try:
            biomass = biomass_of(result, pid, features[0], how.carbon, features[1])
        except IfcbError as e:
            return Skipped(pid, f"no carbon: {e}", error=True)
    return BinCounts(pid, counts, volume, label, listed.lat, listed.lng, lines, applied, biomass)


def listing_stamp(listed: ListedBin) -> str:
    """What a re-run compares to see that the dashboard changed a bin: its listed volume, image count
    and skip flag."""
    return f"ml_analyzed {listed.ml_analyzed!r}, n_images {listed.n_images}" + (", skip" if listed.skip else "")


def daily_abundance_from_dashboard(
    base_url: str,
    dataset: str,
    *,
    threshold: float | None = None,
    thresholds: Mapping[str, float] | str | None = None,
    rule: str = "winner",
    carbon: bool = False,
    convention: str = "ifcb-analysis",
    micron_factor: float = DEFAULT_MICRON_FACTOR,
    biovolume_column: str = "Biovolume",
    diatoms: DiatomTable | Iterable[str] | str | None = None,
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    max_concurrency: int = 8,
    method: MlMethod | None = None,
    model: str | None = None,
    version: int | str | None = None,
    progress: Progress | None = None,
    skip_days: Container[str] = (),
    plan: DayPlan | None = None,
    **store_options: Any,
) -> AbundanceResult:
    """:func:`adaily_abundance_from_dashboard` on a dashboard store made (and closed) here, with at most
    ``max_concurrency`` connections; ``store_options`` go to :class:`AsyncDashboardBinStore`; the
    other options as in :func:`adaily_abundance_from_dashboard`.

    Raises:
        NotFoundError: for an unknown dataset; StoreError: if the dashboard cannot be reached.
    """

    async def run() -> AbundanceResult:
        async with AsyncDashboardBinStore(base_url, dataset, max_concurrency=max_concurrency, **store_options) as store:
            return await adaily_abundance_from_dashboard(
                store, threshold=threshold, thresholds=thresholds, rule=rule, carbon=carbon, convention=convention,
                micron_factor=micron_factor, biovolume_column=biovolume_column, diatoms=diatoms, start_time=start_time,
                end_time=end_time, instrument=instrument,
                method=method, model=model, version=version, skip_days=skip_days, progress=progress, plan=plan,
            )  # fmt: skip

    return asyncio.run(run())


__all__ = ["adaily_abundance_from_dashboard", "daily_abundance_from_dashboard", "listing_stamp"]
