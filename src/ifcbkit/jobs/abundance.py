"""Abundance: per-bin class counts over a threshold, and daily objects per ml in the long format;
with ``carbon``, biovolume and carbon per class too (docs/carbon.md).

Section 9 of docs/formats.md. Per ROI, the winning class is the one with the
highest score; it counts when that score is at or above the threshold (or under the rule and
per-class thresholds of :mod:`ifcbkit.science.class_rules`; a class file's own thresholds are honoured
when the caller gives none). A day's
abundance of a class is its summed count over the day's bins divided by the
summed ``ml_analyzed`` of **every** bin that had class scores, including bins
where no ROI passed the threshold. Bins without class scores or without a
computable ``ml_analyzed`` are skipped and reported, never silently dropped; so are, with carbon,
bins with class results but no features file (never counted with zero carbon).

With ``manual``, the class results are ifcb-analysis's manual annotation files (``{pid}.mat``,
:mod:`ifcbkit.science.manual`) instead of class scores: the same counting over labels that come
precomputed, so their ``threshold`` is empty.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from typing import IO, Any, NamedTuple, Protocol

from ..engine.filters import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, FilesetFilter, TimeLike
from ..errors import FormatError, IfcbError, InvalidArgumentError, NotFoundError
from ..faces.products import ProductFile, SyncProductDirectory, parse_product_name, preference
from ..formats.ids import parse_bin
from ..formats.products import import_h5py
from ..science.carbon import (
    DEFAULT_MICRON_FACTOR,
)
from ..science.counting import (
    ABUNDANCE_CARBON_FIELDS,
    ABUNDANCE_FIELDS,
    BIN_CARBON_FIELDS,
    BIN_FIELDS,
    BinCounts,
    Counting,
    as_counting,
    biomass_of,
    classify,
    counting,
    summarize_daily,
    warn_unknown,
)
from ..science.diatoms import DiatomTable
from ..science.metrics import MlMethod, check_method
from .batch import BinFailure, TreeKey, bins_under, metadata_or_failure
from .csv_output import write_rows_csv
from .parallel import Progress, parallel_map
from .tables import abundance_frame

__all__ = [
    "NO_CLASS_SCORES", "NO_FEATURES", "AbundanceResult", "DayPlan", "Skipped", "daily_abundance", "feature_files",
    "manual_files", "write_abundance_csv", "write_bin_csv",
]  # fmt: skip

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
        return abundance_frame(self.rows, wide=wide, value=value)


def write_abundance_csv(
    rows: Iterable[Mapping[str, Any]], file: IO[str] | str | os.PathLike[str], *, carbon: bool = False
) -> None:
    """Write long-format rows as CSV (a header line, then one line per row; NaN and ``None`` are
    empty): :data:`ABUNDANCE_FIELDS`, or :data:`ABUNDANCE_CARBON_FIELDS` with ``carbon``."""
    write_rows_csv(rows, ABUNDANCE_CARBON_FIELDS if carbon else ABUNDANCE_FIELDS, file)


def write_bin_csv(
    rows: Iterable[Mapping[str, Any]], file: IO[str] | str | os.PathLike[str], *, carbon: bool = False
) -> None:
    """Write :func:`bin_rows` as CSV: :data:`BIN_FIELDS`, or :data:`BIN_CARBON_FIELDS` with ``carbon``."""
    write_rows_csv(rows, BIN_CARBON_FIELDS if carbon else BIN_FIELDS, file)


# ----- over a data root -----------------------------------------------------------------------

ScoresSource = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | Iterable[str | os.PathLike[str]]


def score_files(scores: ScoresSource) -> dict[str, str]:
    """``{pid: class-score file}`` from a products root (``_class.h5``, ``_class_v1.mat`` or
    ``_class_scores.csv``; the highest version when a bin has several), one file, a list of files or
    a mapping."""
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
                raise FormatError(
                    source, "not a class-score file name ({pid}_class.h5, {pid}_class_v1.mat or {pid}_class_scores.csv)"
                )
            products.append(ProductFile(*parsed, source))
    best: dict[str, ProductFile] = {}
    for product in products:
        if product.pid not in best or preference(product) < preference(best[product.pid]):
            best[product.pid] = product
    return {pid: product.path for pid, product in best.items()}


def manual_files(products: ScoresSource) -> dict[str, str]:
    """``{pid: manual annotation file}`` from a products root (``{pid}.mat``: the bin id alone before
    ``.mat``; the first in walk order when a bin has several), one file, a list of files or a mapping.

    Raises:
        NotFoundError: for a missing root or file; FormatError: for a file not named ``{pid}.mat``.
    """
    if isinstance(products, Mapping):
        return {pid: os.fspath(path) for pid, path in products.items()}
    if isinstance(products, (str, os.PathLike)) and not os.path.exists(products):
        raise NotFoundError(f"no manual annotations at {os.fspath(products)} (a products root or a {{pid}}.mat file)")
    if isinstance(products, (str, os.PathLike)) and os.path.isdir(products):
        found: dict[str, str] = {}
        for product in SyncProductDirectory(products).list("manual"):
            found.setdefault(product.pid, product.path)
        return found
    out: dict[str, str] = {}
    for path in [products] if isinstance(products, (str, os.PathLike)) else list(products):
        source = os.fspath(path)
        parsed = parse_product_name(os.path.basename(source))
        if parsed is None or parsed[1] != "manual":
            raise FormatError(source, "not a manual annotation file name ({pid}.mat)")
        out.setdefault(parsed[0], source)
    return out


def feature_files(products: ScoresSource) -> dict[str, str]:
    """``{pid: features file}`` under a products root (``_fea_v*.csv`` or ``_features_v*.csv``, the
    highest version when a bin has several), or from a mapping.

    Raises:
        InvalidArgumentError: (a ``ValueError``) for anything else (a class-score file names no
            features); NotFoundError: for a missing root.
    """
    if isinstance(products, Mapping):
        return {pid: os.fspath(path) for pid, path in products.items()}
    if not isinstance(products, (str, os.PathLike)) or not os.path.isdir(products):
        if isinstance(products, (str, os.PathLike)) and not os.path.exists(products):
            raise NotFoundError(f"no products at {os.fspath(products)} (a products root)")
        raise InvalidArgumentError(
            "features",
            f"carbon reads features from a products root (a directory) or {{pid: features file}}, not {products!r}",
        )
    best: dict[str, ProductFile] = {}
    for product in SyncProductDirectory(products).list("features"):
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


def feature_stamp(path: str | None) -> str:
    """:func:`score_stamp` of a features file."""
    if path is None:
        return "no features"
    return score_stamp(path).replace("class scores", "features", 1)


def plan_days(
    pids: Sequence[str],
    files: Mapping[str, str],
    plan: DayPlan | None,
    skip_days: Container[str] = (),
    features: Mapping[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The bins and class-score files left to count once ``plan`` has taken the days it reuses (and
    ``skip_days`` are left out). A bin that had no class scores and has a file now is counted again
    with its whole day. With ``features`` (a carbon run's features files), a bin's stamp says what
    its features file is too."""

    def stamp(pid: str) -> str:
        if features is None:
            return score_stamp(files.get(pid))
        return f"{score_stamp(files.get(pid))}; {feature_stamp(features.get(pid))}"

    reused = set()
    if plan is not None:
        by_day: dict[str, list[str]] = {}
        for pid in pids:
            by_day.setdefault(_day(pid), []).append(pid)
        for day, members in by_day.items():
            if day in skip_days:
                continue
            again = plan.reuse(day, {pid: stamp(pid) for pid in members})
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


NO_FEATURES = "class scores but no features file: no carbon without volumes"


def counts_or_skipped(
    source: Any, pid: str, score_path: str | None, threshold: Counting | float | None, method: MlMethod,
    features_path: str | None = None,
) -> BinCounts | Skipped:  # fmt: skip
    """One bin's class counts (and with carbon, biomass), from ``source`` (a data directory or any
    sync bin store) for its volume, the class-score file at ``score_path`` and, with carbon, the
    features file at ``features_path``; or why it is skipped. ``threshold`` is a :class:`Counting`,
    or one threshold (``None``: the class file's own, else 0.7)."""
    how = as_counting(threshold)
    if score_path is None:
        return Skipped(pid, NO_CLASS_SCORES)
    if how.carbon is not None and features_path is None:
        return Skipped(pid, f"{NO_FEATURES} ({score_path})", error=True)
    meta = metadata_or_failure(source, pid, method)
    if isinstance(meta, BinFailure):
        return Skipped(pid, f"unreadable bin: {meta.error}", error=True)
    if math.isnan(meta["ml_analyzed"]):
        return Skipped(pid, f"no ml_analyzed ({meta['ml_analyzed_reason']})")
    try:
        counts, applied, result = classify(score_path, how)
    except (IfcbError, OSError) as e:
        return Skipped(pid, f"unreadable class scores: {e}", error=True)
    biomass = None
    if how.carbon is not None and features_path is not None and result is not None:
        try:
            biomass = biomass_of(result, pid, features_path, how.carbon)
        except (IfcbError, OSError) as e:
            return Skipped(pid, f"no carbon: {e}", error=True)
    return BinCounts(pid, counts, meta["ml_analyzed"], method, meta["lat"], meta["lng"],
                     int(meta.get("skipped_lines") or 0), applied, biomass)  # fmt: skip


class CountsJob(NamedTuple):
    """One bin's class counts to compute in a worker: the tree, the bin, its class scores and how."""

    tree: TreeKey
    pid: str
    score_path: str | None
    threshold: Counting | float | None
    method: MlMethod
    features_path: str | None = None


def counts_job(job: CountsJob) -> BinCounts | Skipped:
    """A :class:`CountsJob` in a worker."""
    return counts_or_skipped(job.tree.directory(), job.pid, job.score_path, job.threshold, job.method,
                             job.features_path)  # fmt: skip


def abundance_result(
    counted: Iterable[BinCounts | Skipped], pids: Sequence[str], files: Mapping[str, str], keep: FilesetFilter,
    where: str, threshold: Counting | float | None, *, warn: bool = True,
) -> AbundanceResult:  # fmt: skip
    """The daily summary of per-bin results (in listing order), with the bins skipped: those of
    ``counted``, then class-score files in ``files`` that pass ``keep`` but name no listed bin.
    Classes of per-class thresholds or a diatoms list that no bin has are warned about (with ``warn``)."""
    how = as_counting(threshold)
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
    if bins and warn:
        warn_unknown(how, (name for b in bins for name in b.counts))
    return AbundanceResult(summarize_daily(bins, how.run_threshold), bins, skipped)


def _needed_extras(files: Mapping[str, str]) -> None:
    """Fail once, here, rather than in every worker, for a file format whose extra is missing."""
    if any(path.lower().endswith((".h5", ".hdf5")) for path in files.values()):
        import_h5py()
    if any(path.lower().endswith(".mat") for path in files.values()):
        from ..formats.mat import import_scipy_io

        import_scipy_io()


def daily_abundance(
    data_root: str | os.PathLike[str],
    scores: ScoresSource,
    *,
    threshold: float | None = None,
    thresholds: Mapping[str, float] | str | os.PathLike[str] | None = None,
    rule: str = "winner",
    carbon: bool = False,
    features: ScoresSource | None = None,
    convention: str = "ifcb-analysis",
    micron_factor: float = DEFAULT_MICRON_FACTOR,
    biovolume_column: str = "Biovolume",
    diatoms: DiatomTable | Iterable[str] | str | os.PathLike[str] | None = None,
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
    manual: bool = False,
) -> AbundanceResult:
    """Daily abundance of every class over the bins under ``data_root`` that have class scores.

    ``scores`` is a products root (searched for ``_class.h5``, ``_class_v1.mat`` and
    ``_class_scores.csv``; ``.h5`` wins when a bin has several), class-score files,
    or ``{pid: path}``. ``threshold`` applies to every class (``None``: a class file's own
    thresholds when it has them, else 0.7), ``thresholds`` per class (a mapping or a
    ``class,threshold`` CSV), under ``rule`` (``winner`` or ``any-above``; see
    :mod:`ifcbkit.science.class_rules`). With ``carbon``, each class's biovolume and carbon too (the rows
    end with :data:`CARBON_FIELDS`), from the features files under ``features`` (a products root or
    ``{pid: path}``; default: ``scores``, a products root), under ``convention``, ``micron_factor``,
    ``biovolume_column`` and ``diatoms`` (see :func:`counting` and docs/carbon.md). With ``manual``,
    ``scores`` holds ifcb-analysis's manual annotation files instead (``{pid}.mat``, see
    :func:`manual_files`): each ROI counts in its manual class, else its auto class; no threshold or
    rule may be given, and the rows' ``threshold`` is empty.

    Bins without class scores, without a computable ``ml_analyzed`` or that cannot be read are in
    ``skipped``, and so are class-score files whose bin is not under ``data_root`` (within the same
    time range and instruments) and, with carbon, bins with class scores but no features file or a
    damaged one (``error=True``: never counted with zero carbon). Bins are processed on ``workers``
    processes. Bins of the UTC dates in ``skip_days`` (``'YYYY-MM-DD'``: days a re-run already has)
    are left out, and so are the days ``plan`` reuses (see :class:`DayPlan`).

    Raises:
        ValueError: for a bad threshold, rule, convention, column or micron factor, or a threshold
            or rule with ``manual``; FormatError: for a bad thresholds or diatoms file; NotFoundError:
            for a missing root.
    """
    how = counting(threshold, thresholds, rule, carbon=carbon, convention=convention, micron_factor=micron_factor,
                   biovolume_column=biovolume_column, diatoms=diatoms, manual=manual)  # fmt: skip
    check_method(method)
    found = manual_files(scores) if manual else score_files(scores)
    volumes = feature_files(scores if features is None else features) if carbon else None
    key, pids = bins_under(data_root, include, exclude, start_time, end_time, instrument)
    pids, files = plan_days(pids, found, plan, skip_days, volumes)
    _needed_extras(files)
    jobs = [CountsJob(key, pid, files.get(pid), how, method, None if volumes is None else volumes.get(pid))
            for pid in pids]  # fmt: skip
    counted = parallel_map(counts_job, jobs, workers=workers, progress=progress)
    keep = FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument)
    return abundance_result(counted, pids, files, keep, key.root, how)
