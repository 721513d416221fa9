"""Abundance: per-bin class counts over a threshold, and daily objects per ml in the long format.

Section 9 of docs/formats.md. Per ROI, the winning class is the one with the
highest score; it counts when that score is at or above the threshold. A day's
abundance of a class is its summed count over the day's bins divided by the
summed ``ml_analyzed`` of **every** bin that had class scores, including bins
where no ROI passed the threshold. Bins without class scores or without a
computable ``ml_analyzed`` are skipped and reported, never silently dropped.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from typing import IO, Any, NamedTuple, Protocol

from .batch import BinFailure, TreeKey, bins_under, metadata_or_failure
from .csv_output import write_rows_csv
from .errors import FormatError, IfcbError, NotFoundError
from .filters import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, FilesetFilter, TimeLike
from .identifiers import parse_bin
from .metrics import MlMethod, check_method
from .parallel import Progress, parallel_map
from .product_files import ProductFile, SyncProductDirectory, parse_product_name, preference
from .products import ClassScoresRows, import_h5py, read_class_scores

__all__ = [
    "ABUNDANCE_FIELDS", "NO_CLASS_SCORES", "AbundanceResult", "BinCounts", "DayPlan", "Skipped", "class_counts",
    "daily_abundance", "summarize_daily", "winners", "write_abundance_csv",
]  # fmt: skip

ABUNDANCE_FIELDS: tuple[str, ...] = (
    "date", "latitude", "longitude", "instrument", "class", "count", "ml_analyzed_total", "objects_per_ml",
    "objects_per_L", "threshold", "ml_analyzed_method",
)  # fmt: skip


def check_threshold(threshold: float) -> float:
    """``threshold`` as a float, checked to be a score from 0 to 1.

    Raises:
        ValueError: for anything else.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a score from 0 to 1 (class scores are), not {threshold!r}")
    return float(threshold)


def winners(scores: ClassScoresRows, threshold: float) -> dict[int, str | None]:
    """``{target: winning class}`` (``None`` where the highest score is below ``threshold``).

    The winner is the class with the highest score, the first one on ties;
    NaN scores never win.
    """
    threshold = check_threshold(threshold)
    out: dict[int, str | None] = {}
    for target, row in scores.scores.items():
        best = None
        for i, score in enumerate(row):
            if not math.isnan(score) and (best is None or score > row[best]):
                best = i
        out[target] = scores.class_names[best] if best is not None and row[best] >= threshold else None
    return out


def class_counts(scores: ClassScoresRows, threshold: float) -> dict[str, int]:
    """How many ROIs each class wins at or above ``threshold`` (every class, 0 when it wins none)."""
    counts = dict.fromkeys(scores.class_names, 0)
    for name in winners(scores, threshold).values():
        if name is not None:
            counts[name] += 1
    return counts


class BinCounts(NamedTuple):
    """One bin's class counts and the volume they were found in."""

    pid: str
    counts: dict[str, int]
    ml_analyzed: float
    method: str
    lat: float | None
    lng: float | None
    skipped_lines: int = 0  # damaged ADC lines skipped while computing the volume (an error for the CLI)


NO_CLASS_SCORES = "no class scores"  # the reason of a bin skipped because it has none (yet)


class DayPlan(Protocol):
    """Which UTC days a run may take from an earlier run instead of counting them (``--daily-dir``).

    The engines call :meth:`reuse` once per day of their listing, with ``{pid: stamp}`` for the
    day's listed bins (the stamp says what the listing knows of the bin, so that a changed bin
    shows). ``None`` means count the day; otherwise the day is left out of the result unless one of
    the returned bins (they had no class scores before) has class scores now, in which case the
    engine counts the day after all and says so with :meth:`recomputed`.
    """

    def reuse(self, day: str, listed: Mapping[str, str]) -> Collection[str] | None: ...

    def recomputed(self, day: str, reason: str) -> None: ...


class Skipped(NamedTuple):
    """A bin left out of an abundance summary, and why. ``error`` is true when something could not
    be read (a bin, a class-score file, a bin missing for its class scores), false when the bin
    simply has nothing to count (no class scores, no volume for an empty bin)."""

    pid: str
    reason: str
    error: bool = False


class AbundanceResult(NamedTuple):
    """Daily rows (long format, see :data:`ABUNDANCE_FIELDS`), the bins they come from, and the bins skipped."""

    rows: list[dict[str, Any]]
    bins: list[BinCounts]
    skipped: list[Skipped]

    def to_pandas(self, *, wide: bool = False, value: str = "objects_per_ml") -> Any:
        """The rows as a pandas DataFrame (the ``pandas`` extra): long, one row per date, instrument
        and class, with ``date`` as a datetime; or ``wide``, dates and instruments by classes, each
        cell the class's ``value`` (``objects_per_ml``, ``count``, ``objects_per_L``).

        Raises:
            MissingDependencyError: without pandas; ValueError: for an unknown ``value``.
        """
        from .tables import abundance_frame

        return abundance_frame(self.rows, wide=wide, value=value)


def _ratio(count: int, volume: float) -> float:
    return count / volume if volume > 0 else math.nan


def summarize_daily(bins: Iterable[BinCounts], threshold: float) -> list[dict[str, Any]]:
    """Long-format rows, one per UTC date, instrument and class, in date, instrument and class order.

    ``ml_analyzed_total`` sums every bin of the group; latitude and longitude are
    the mean of the group's header GPS positions (``None`` when it has none).
    """
    threshold = check_threshold(threshold)
    groups: dict[tuple[str, int], list[BinCounts]] = {}
    for b in bins:
        parsed = parse_bin(b.pid)
        groups.setdefault((parsed.timestamp.date().isoformat(), parsed.instrument), []).append(b)
    rows = []
    for (day, instrument), members in sorted(groups.items()):
        classes = list(dict.fromkeys(name for b in members for name in b.counts))
        total = math.fsum(b.ml_analyzed for b in members)
        positions = [(b.lat, b.lng) for b in members if b.lat is not None and b.lng is not None]
        lat = statistics.fmean(p[0] for p in positions) if positions else None
        lng = statistics.fmean(p[1] for p in positions) if positions else None
        methods = sorted({b.method for b in members})
        for name in classes:
            count = sum(b.counts.get(name, 0) for b in members)
            per_ml = _ratio(count, total)
            rows.append({
                "date": day, "latitude": lat, "longitude": lng, "instrument": f"IFCB{instrument}", "class": name,
                "count": count, "ml_analyzed_total": total, "objects_per_ml": per_ml, "objects_per_L": per_ml * 1000,
                "threshold": threshold, "ml_analyzed_method": ",".join(methods),
            })  # fmt: skip
    return rows


def write_abundance_csv(rows: Iterable[Mapping[str, Any]], file: IO[str] | str | os.PathLike[str]) -> None:
    """Write long-format rows as CSV (a header line, then one line per row; NaN and ``None`` are empty)."""
    write_rows_csv(rows, ABUNDANCE_FIELDS, file)


# ----- over a data root -----------------------------------------------------------------------

ScoresSource = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | Iterable[str | os.PathLike[str]]


def score_files(scores: ScoresSource) -> dict[str, str]:
    """``{pid: class-score file}`` from a products root, one file, a list of files or a mapping."""
    if isinstance(scores, Mapping):
        return {pid: os.fspath(path) for pid, path in scores.items()}
    if isinstance(scores, (str, os.PathLike)) and not os.path.exists(scores):
        raise NotFoundError(f"no class scores at {os.fspath(scores)} (a products root or a class-score file)")
    if isinstance(scores, (str, os.PathLike)) and os.path.isdir(scores):
        products: list[ProductFile] = list(SyncProductDirectory(scores).list("class_scores"))
    else:
        paths = [scores] if isinstance(scores, (str, os.PathLike)) else list(scores)
        products = []
        for path in paths:
            source = os.fspath(path)
            parsed = parse_product_name(os.path.basename(source))
            if parsed is None or parsed[1] != "class_scores":
                raise FormatError(source, "not a class-score file name ({pid}_class.h5 or {pid}_class_scores.csv)")
            products.append(ProductFile(*parsed, source))
    best: dict[str, ProductFile] = {}
    for product in products:
        if product.pid not in best or preference(product) < preference(best[product.pid]):
            best[product.pid] = product
    return {pid: product.path for pid, product in best.items()}


def _day(pid: str) -> str:
    return parse_bin(pid).timestamp.date().isoformat()


def score_stamp(path: str | None) -> str:
    """What a re-run compares to see that a bin's class scores changed: the file's size and time."""
    if path is None:
        return NO_CLASS_SCORES
    try:
        info = os.stat(path)
    except OSError as e:
        return f"class scores {os.path.basename(path)}: {e.strerror}"
    return f"class scores {os.path.basename(path)} {info.st_size} bytes, mtime {info.st_mtime_ns} ns"


def plan_days(
    pids: Sequence[str], files: Mapping[str, str], plan: DayPlan | None, skip_days: Container[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """The bins and class-score files left to count once ``plan`` has taken the days it reuses (and
    ``skip_days`` are left out). A bin that had no class scores and has a file now is counted again
    with its whole day."""
    reused = set()
    if plan is not None:
        by_day: dict[str, list[str]] = {}
        for pid in pids:
            by_day.setdefault(_day(pid), []).append(pid)
        for day, members in by_day.items():
            if day in skip_days:
                continue
            again = plan.reuse(day, {pid: score_stamp(files.get(pid)) for pid in members})
            if again is None:
                continue
            found = sorted(pid for pid in again if pid in files)
            if found:
                plan.recomputed(day, f"{len(found)} bins without class scores have them now ({found[0]} ...)")
            else:
                reused.add(day)
    if not skip_days and not reused:
        return list(pids), dict(files)

    def kept(pid: str) -> bool:
        day = _day(pid)
        return day not in reused and day not in skip_days

    return [p for p in pids if kept(p)], {p: f for p, f in files.items() if kept(p)}


def counts_or_skipped(
    source: Any, pid: str, score_path: str | None, threshold: float, method: MlMethod
) -> BinCounts | Skipped:
    """One bin's class counts, from ``source`` (a data directory or any sync bin store) for its volume
    and the class-score file at ``score_path``, or why it is skipped."""
    if score_path is None:
        return Skipped(pid, NO_CLASS_SCORES)
    meta = metadata_or_failure(source, pid, method)
    if isinstance(meta, BinFailure):
        return Skipped(pid, f"unreadable bin: {meta.error}", error=True)
    if math.isnan(meta["ml_analyzed"]):
        return Skipped(pid, f"no ml_analyzed ({meta['ml_analyzed_reason']})")
    try:
        scores = read_class_scores(score_path)
    except (IfcbError, OSError) as e:
        return Skipped(pid, f"unreadable class scores: {e}", error=True)
    return BinCounts(pid, class_counts(scores, threshold), meta["ml_analyzed"], method, meta["lat"], meta["lng"],
                     int(meta.get("skipped_lines") or 0))  # fmt: skip


class CountsJob(NamedTuple):
    """One bin's class counts to compute in a worker: the tree, the bin, its class scores and how."""

    tree: TreeKey
    pid: str
    score_path: str | None
    threshold: float
    method: MlMethod


def counts_job(job: CountsJob) -> BinCounts | Skipped:
    """A :class:`CountsJob` in a worker."""
    return counts_or_skipped(job.tree.directory(), job.pid, job.score_path, job.threshold, job.method)


def abundance_result(
    counted: Iterable[BinCounts | Skipped], pids: Sequence[str], files: Mapping[str, str], keep: FilesetFilter,
    where: str, threshold: float,
) -> AbundanceResult:  # fmt: skip
    """The daily summary of per-bin results (in listing order), with the bins skipped: those of
    ``counted``, then class-score files in ``files`` that pass ``keep`` but name no listed bin."""
    bins: list[BinCounts] = []
    skipped: list[Skipped] = []
    for result in counted:
        if isinstance(result, BinCounts):
            bins.append(result)
        else:
            skipped.append(result)
    listed = set(pids)
    for pid in sorted(set(files) - listed):
        if keep((), pid):
            skipped.append(Skipped(pid, f"class scores ({files[pid]}) but no raw bin under {where}", error=True))
    return AbundanceResult(summarize_daily(bins, threshold), bins, skipped)


def daily_abundance(
    data_root: str | os.PathLike[str],
    scores: ScoresSource,
    *,
    threshold: float,
    method: MlMethod = "adc",
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    include: Iterable[str] = DEFAULT_INCLUDE,
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
    workers: int | None = None,
    progress: Progress | None = None,
    skip_days: Container[str] = (),
    plan: DayPlan | None = None,
) -> AbundanceResult:
    """Daily abundance of every class over the bins under ``data_root`` that have class scores.

    ``scores`` is a products root (searched for ``_class.h5`` and
    ``_class_scores.csv``; ``.h5`` wins when a bin has both), class-score files,
    or ``{pid: path}``. Bins without class scores, without a computable
    ``ml_analyzed`` or that cannot be read are in ``skipped``, and so are
    class-score files whose bin is not under ``data_root`` (within the same
    time range and instruments). Bins are processed on ``workers`` processes. Bins of the UTC dates
    in ``skip_days`` (``'YYYY-MM-DD'``: days a re-run already has) are left out, and so are the days
    ``plan`` reuses (see :class:`DayPlan`).
    """
    threshold = check_threshold(threshold)
    check_method(method)
    key, pids = bins_under(data_root, include, exclude, start_time, end_time, instrument)
    pids, files = plan_days(pids, score_files(scores), plan, skip_days)
    if any(path.lower().endswith((".h5", ".hdf5")) for path in files.values()):
        import_h5py()  # fail once, here, rather than in every worker
    jobs = [CountsJob(key, pid, files.get(pid), threshold, method) for pid in pids]
    counted = parallel_map(counts_job, jobs, workers=workers, progress=progress)
    keep = FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument)
    return abundance_result(counted, pids, files, keep, key.root, threshold)
