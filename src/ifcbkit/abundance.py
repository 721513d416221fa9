"""Abundance: per-bin class counts over a threshold, and daily objects per ml in the long format;
with ``carbon``, biovolume and carbon per class too (docs/carbon.md).

Section 9 of docs/formats.md. Per ROI, the winning class is the one with the
highest score; it counts when that score is at or above the threshold (or under the rule and
per-class thresholds of :mod:`ifcbkit.class_rules`; a class file's own thresholds are honoured
when the caller gives none). A day's
abundance of a class is its summed count over the day's bins divided by the
summed ``ml_analyzed`` of **every** bin that had class scores, including bins
where no ROI passed the threshold. Bins without class scores or without a
computable ``ml_analyzed`` are skipped and reported, never silently dropped; so are, with carbon,
bins with class results but no features file (never counted with zero carbon).

With ``manual``, the class results are ifcb-analysis's manual annotation files (``{pid}.mat``,
:mod:`ifcbkit.manual_classes`) instead of class scores: the same counting over labels that come
precomputed, so their ``threshold`` is empty.
"""

from __future__ import annotations

import math
import os
import statistics
import warnings
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from typing import IO, Any, NamedTuple, Protocol

from .batch import BinFailure, TreeKey, bins_under, metadata_or_failure
from .biomass import ClassBiomass, bin_biomass, roi_biomass
from .biovolumes import BIOVOLUME_COLUMNS, parse_biovolumes, read_biovolumes
from .carbon import (
    DEFAULT_MICRON_FACTOR,
    Convention,
    biovolume_mm3,
    carbon_ug,
    check_convention,
    check_micron_factor,
    per_litre,
)
from .class_results import ClassResult, from_class_scores, read_class_result
from .class_rules import (
    DEFAULT_THRESHOLD,
    PerClassThresholds,
    Rule,
    ThresholdSpec,
    UnknownClassWarning,
    check_rule,
    read_thresholds,
    warn_unknown_classes,
)
from .csv_output import write_rows_csv
from .diatoms import DiatomTable, default_diatoms, read_diatom_list
from .errors import FormatError, IfcbError, InvalidArgumentError, NotFoundError
from .filters import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, FilesetFilter, TimeLike
from .identifiers import parse_bin
from .metrics import MlMethod, check_method
from .parallel import Progress, parallel_map
from .product_files import ProductFile, SyncProductDirectory, parse_product_name, preference
from .products import ClassScoresRows, import_h5py, read_class_scores

__all__ = [
    "ABUNDANCE_CARBON_FIELDS", "ABUNDANCE_FIELDS", "BIN_CARBON_FIELDS", "BIN_FIELDS", "CARBON_FIELDS",
    "NO_CLASS_SCORES", "NO_FEATURES", "AbundanceResult", "BinCounts", "CarbonOptions", "Counting", "DayPlan",
    "Skipped", "bin_rows", "class_counts", "counting", "daily_abundance", "feature_files", "manual_files",
    "summarize_daily", "warn_unknown", "winners", "write_abundance_csv", "write_bin_csv",
]  # fmt: skip

ABUNDANCE_FIELDS: tuple[str, ...] = (
    "date", "latitude", "longitude", "instrument", "class", "count", "ml_analyzed_total", "objects_per_ml",
    "objects_per_L", "threshold", "ml_analyzed_method",
)  # fmt: skip

# With carbon, after the daily columns: what decided the equation, and the class's biomass.
CARBON_FIELDS: tuple[str, ...] = ("diatom", "biovolume_mm3", "carbon_ug", "biovolume_mm3_per_L", "carbon_ug_per_L")
ABUNDANCE_CARBON_FIELDS: tuple[str, ...] = ABUNDANCE_FIELDS + CARBON_FIELDS

# One row per bin and class (``--per bin``); without carbon, the same without the carbon columns.
BIN_CARBON_FIELDS: tuple[str, ...] = (
    "pid", "sample_time", "latitude", "longitude", "instrument", "class", "diatom", "count", "ml_analyzed",
    "objects_per_ml", "objects_per_L", "biovolume_mm3", "carbon_ug", "biovolume_mm3_per_L", "carbon_ug_per_L",
    "threshold", "ml_analyzed_method",
)  # fmt: skip
BIN_FIELDS: tuple[str, ...] = tuple(name for name in BIN_CARBON_FIELDS if name not in CARBON_FIELDS)


def check_threshold(threshold: float) -> float:
    """``threshold`` as a float, checked to be a score from 0 to 1.

    Raises:
        InvalidArgumentError: (a ``ValueError``) for anything else.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise InvalidArgumentError(
            "threshold", f"threshold must be a score from 0 to 1 (class scores are), not {threshold!r}"
        )
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
    # The threshold applied to each class (``None`` for labels that came precomputed); ``None``
    # altogether: the run's one threshold (the summary's ``threshold``).
    thresholds: Mapping[str, float | None] | None = None
    biomass: Mapping[str, ClassBiomass] | None = None  # per class, with carbon


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


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _class_threshold(b: BinCounts, name: str, threshold: float | None) -> float | None:
    return threshold if b.thresholds is None else b.thresholds.get(name)


def summarize_daily(bins: Iterable[BinCounts], threshold: float | None = None) -> list[dict[str, Any]]:
    """Long-format rows, one per UTC date, instrument and class, in date, instrument and class order.

    ``ml_analyzed_total`` sums every bin of the group; latitude and longitude are
    the mean of the group's header GPS positions (``None`` when it has none). ``threshold`` is the
    run's one threshold, for bins that carry none per class; a class's ``threshold`` cell is the one
    its bins applied (empty when they differ, or when the labels came precomputed). When the bins
    have biomass, the rows end with :data:`CARBON_FIELDS`: the day's sums over its bins, per litre
    of the day's total volume.
    """
    if threshold is not None:
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
        carbon = any(b.biomass is not None for b in members)
        for name in classes:
            count = sum(b.counts.get(name, 0) for b in members)
            per_ml = _ratio(count, total)
            applied = {_class_threshold(b, name, threshold) for b in members if name in b.counts}
            row = {
                "date": day, "latitude": lat, "longitude": lng, "instrument": f"IFCB{instrument}", "class": name,
                "count": count, "ml_analyzed_total": total, "objects_per_ml": per_ml, "objects_per_L": per_ml * 1000,
                "threshold": applied.pop() if len(applied) == 1 else None, "ml_analyzed_method": ",".join(methods),
            }  # fmt: skip
            if carbon:
                row.update(_day_biomass(members, name, total))
            rows.append(row)
    return rows


def _day_biomass(members: Sequence[BinCounts], name: str, total: float) -> dict[str, Any]:
    found = [b.biomass[name] for b in members if b.biomass is not None and name in b.biomass]
    volume = biovolume_mm3(math.fsum(c.biovolume_um3 for c in found))
    carbon = carbon_ug(math.fsum(c.carbon_pg for c in found))
    return {
        "diatom": _bool(any(c.diatom for c in found)), "biovolume_mm3": volume, "carbon_ug": carbon,
        "biovolume_mm3_per_L": per_litre(volume, total), "carbon_ug_per_L": per_litre(carbon, total),
    }  # fmt: skip


def bin_rows(bins: Iterable[BinCounts], threshold: float | None = None) -> list[dict[str, Any]]:
    """One row per bin and class (``--per bin``, :data:`BIN_CARBON_FIELDS`, or :data:`BIN_FIELDS`
    for bins without biomass), in the order of ``bins`` and of each bin's classes. ``threshold`` as
    in :func:`summarize_daily`."""
    rows = []
    for b in bins:
        parsed = parse_bin(b.pid)
        for name, count in b.counts.items():
            per_ml = _ratio(count, b.ml_analyzed)
            row: dict[str, Any] = {
                "pid": b.pid, "sample_time": parsed.timestamp.isoformat(), "latitude": b.lat, "longitude": b.lng,
                "instrument": f"IFCB{parsed.instrument}", "class": name, "count": count,
                "ml_analyzed": b.ml_analyzed, "objects_per_ml": per_ml, "objects_per_L": per_ml * 1000,
                "threshold": _class_threshold(b, name, threshold), "ml_analyzed_method": b.method,
            }  # fmt: skip
            if b.biomass is not None:
                row.update(_day_biomass([b], name, b.ml_analyzed))
            rows.append(row)
    return rows


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


# ----- how ROIs are counted -------------------------------------------------------------------


class CarbonOptions(NamedTuple):
    """How volumes become carbon (docs/carbon.md): the convention, µm per pixel, the features
    column and the diatom table (``None``: the bundled genera)."""

    convention: Convention = "ifcb-analysis"
    micron_factor: float = DEFAULT_MICRON_FACTOR
    column: str = "Biovolume"
    diatoms: DiatomTable | None = None


class Counting(NamedTuple):
    """How a bin's ROIs are counted: ``thresholds`` (one for every class, per class, or ``None``:
    the class file's own, else 0.7), the ``rule``, and with ``carbon`` their biomass too; with
    ``manual``, from manual annotation files (labels as they are: no thresholds, no rule). A
    :class:`Counting` travels to the workers with each bin."""

    thresholds: ThresholdSpec | None = None
    rule: Rule = "winner"
    carbon: CarbonOptions | None = None
    manual: bool = False

    @property
    def plain(self) -> bool:
        """Whether this is counting as before 0.7: the winner at one threshold, no carbon."""
        return (
            self.rule == "winner" and self.carbon is None and not isinstance(self.thresholds, Mapping)
            and not self.manual
        )  # fmt: skip

    @property
    def run_threshold(self) -> float:
        """The one threshold of the run's bins that carry none per class (the summary's)."""
        return self.thresholds if isinstance(self.thresholds, float) else DEFAULT_THRESHOLD


def counting(
    threshold: float | None = None,
    thresholds: Mapping[str, float] | str | os.PathLike[str] | None = None,
    rule: str = "winner",
    *,
    carbon: bool = False,
    convention: str = "ifcb-analysis",
    micron_factor: float = DEFAULT_MICRON_FACTOR,
    biovolume_column: str = "Biovolume",
    diatoms: DiatomTable | Iterable[str] | str | os.PathLike[str] | None = None,
    manual: bool = False,
) -> Counting:
    """A checked :class:`Counting`: ``threshold`` for every class, ``thresholds`` per class (a
    mapping or a ``class,threshold`` CSV; ``threshold`` or 0.7 for the classes it leaves out),
    ``rule`` (``winner`` or ``any-above``); with ``carbon``, the ``convention``, ``micron_factor``,
    ``biovolume_column`` and ``diatoms`` (a table, class names, or a file for
    :func:`~ifcbkit.diatoms.read_diatom_list`; ``None``: the bundled genera). With ``manual``, from
    manual annotation files, which take no threshold and no rule.

    Raises:
        ValueError: for a threshold outside 0..1, an unknown rule, convention or column, a
            micron factor that is not above 0, or ``manual`` with a threshold or another rule than
            ``winner``; FormatError, NotFoundError: for the files.
    """
    if manual and (threshold is not None or thresholds is not None or rule != "winner"):
        raise ValueError("manual annotations are labels, not scores: they take no threshold, thresholds or rule")
    rule = check_rule(rule)
    one = None if threshold is None else check_threshold(threshold)
    spec: ThresholdSpec | None = one
    if thresholds is not None:
        source = thresholds.source if isinstance(thresholds, PerClassThresholds) else "thresholds"
        if isinstance(thresholds, (str, os.PathLike)):
            source = f"thresholds file {os.fspath(thresholds)}"
            thresholds = read_thresholds(thresholds)
        per_class = {str(name): check_threshold(value) for name, value in thresholds.items()}
        spec = PerClassThresholds(per_class, DEFAULT_THRESHOLD if one is None else one, source)
    options = None
    if carbon:
        if biovolume_column not in BIOVOLUME_COLUMNS:
            raise InvalidArgumentError(
                "biovolume_column",
                f"the biovolume_column is one of {', '.join(BIOVOLUME_COLUMNS)}, not {biovolume_column!r}",
            )
        table: DiatomTable | None
        if diatoms is None or isinstance(diatoms, DiatomTable):
            table = diatoms
        elif isinstance(diatoms, (str, os.PathLike)):
            table = read_diatom_list(diatoms)
        else:
            table = DiatomTable(tuple((str(name), True) for name in diatoms), source="diatoms")
        options = CarbonOptions(check_convention(convention), check_micron_factor(micron_factor), biovolume_column,
                                table)  # fmt: skip
    return Counting(spec, rule, options, manual)


def warn_unknown(how: Counting, class_names: Iterable[str]) -> None:
    """Warn (:class:`~ifcbkit.class_rules.UnknownClassWarning`, once a run) about the classes of
    per-class thresholds and of a diatoms list that no bin's class results have."""
    names = list(dict.fromkeys(class_names))
    if isinstance(how.thresholds, PerClassThresholds):
        warn_unknown_classes(how.thresholds, names, how.thresholds.source, stacklevel=3)
    elif isinstance(how.thresholds, Mapping):
        warn_unknown_classes(how.thresholds, names, "thresholds", stacklevel=3)
    if how.carbon is not None and how.carbon.diatoms is not None:
        how.carbon.diatoms.warn_unknown(names)


def _as_counting(how: Counting | float | None) -> Counting:
    return how if isinstance(how, Counting) else Counting(None if how is None else check_threshold(how))


Classified = tuple[dict[str, int], dict[str, float | None] | None, ClassResult | None]


def classify(score_path: str, how: Counting) -> Classified:
    """A bin's class counts from its class file (with ``how.manual``, its manual annotation file),
    the threshold applied to each class (``None`` for the run's one threshold) and the
    :class:`~ifcbkit.class_results.ClassResult` (``None`` when counted as before 0.7: a CSV of
    scores at one threshold, NaN scores never winning).

    Raises:
        FormatError, NotFoundError, MissingDependencyError: as
            :func:`~ifcbkit.class_results.read_class_result` (and
            :func:`~ifcbkit.manual_classes.read_manual_file`).
    """
    if how.manual:
        from .manual_classes import read_manual_file

        manual = read_manual_file(score_path).class_result()
        return manual.counts(), _applied(manual), manual
    if how.plain and score_path.lower().endswith(".csv"):
        threshold = DEFAULT_THRESHOLD if how.thresholds is None else float(how.thresholds)  # type: ignore[arg-type]
        return class_counts(read_class_scores(score_path), threshold), None, None
    with warnings.catch_warnings():  # unknown classes: warned about once, by the run
        warnings.simplefilter("ignore", UnknownClassWarning)
        result = read_class_result(score_path, how.thresholds, how.rule)
    return result.counts(), _applied(result), result


def classify_scores(scores: ClassScoresRows, how: Counting, source: str) -> Classified:
    """:func:`classify` of class scores already read (from a dashboard); ``source`` names them."""
    if how.plain:
        threshold = DEFAULT_THRESHOLD if how.thresholds is None else float(how.thresholds)  # type: ignore[arg-type]
        return class_counts(scores, threshold), None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownClassWarning)
        result = from_class_scores(scores, how.thresholds, how.rule, source=source)
    return result.counts(), _applied(result), result


def _applied(result: ClassResult) -> dict[str, float | None]:
    if result.thresholds is None:
        return dict.fromkeys(result.class_names)
    return {name: result.thresholds.get(name) for name in result.class_names}


def biomass_of(
    result: ClassResult, pid: str, features: bytes | str, options: CarbonOptions, source: str | None = None
) -> dict[str, ClassBiomass]:
    """Per class, the biomass of a bin's class results with its features file (a path, or its
    bytes with ``source`` naming it).

    Raises:
        FormatError: naming the features file (and line) for a bad volume, and both files for a
            classified ROI without a feature row; NotFoundError: for a missing file.
    """
    if isinstance(features, str):
        source = features
        volumes = read_biovolumes(features, options.column)
    else:
        source = source or "<features>"
        volumes = parse_biovolumes(features, source=source, column=options.column)
    table = options.diatoms if options.diatoms is not None else default_diatoms()
    rows = roi_biomass(result, volumes, pid=pid, diatoms=table, convention=options.convention,
                       micron_factor=options.micron_factor, features_source=source)  # fmt: skip
    return bin_biomass(rows, result.class_names, table)


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
    how = _as_counting(threshold)
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
    how = _as_counting(threshold)
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
        from .mat_reading import import_scipy_io

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
    :mod:`ifcbkit.class_rules`). With ``carbon``, each class's biovolume and carbon too (the rows
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
