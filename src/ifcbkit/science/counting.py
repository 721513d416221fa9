"""Counting ROIs into classes: the winning class over a threshold (or class rules), per-bin counts
and, with carbon, biomass; and the daily rows they sum to (section 9 of docs/formats.md). The
drivers over a data root are :mod:`ifcbkit.jobs.abundance`."""

from __future__ import annotations

import math
import os
import statistics
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ..errors import InvalidArgumentError
from ..formats.biovolumes import BIOVOLUME_COLUMNS, parse_biovolumes, read_biovolumes
from ..formats.ids import parse_bin
from ..formats.products import ClassScoresRows, read_class_scores
from ..science.biomass import ClassBiomass, bin_biomass, roi_biomass
from ..science.carbon import (
    DEFAULT_MICRON_FACTOR,
    Convention,
    biovolume_mm3,
    carbon_ug,
    check_convention,
    check_micron_factor,
    per_litre,
)
from ..science.class_results import ClassResult, from_class_scores, read_class_result
from ..science.class_rules import (
    DEFAULT_THRESHOLD,
    PerClassThresholds,
    Rule,
    ThresholdSpec,
    UnknownClassWarning,
    check_rule,
    check_threshold,
    read_thresholds,
    warn_unknown_classes,
)
from ..science.diatoms import DiatomTable, default_diatoms, read_diatom_list

__all__ = [
    "ABUNDANCE_CARBON_FIELDS", "ABUNDANCE_FIELDS", "BIN_CARBON_FIELDS", "BIN_FIELDS", "CARBON_FIELDS",
    "BinCounts", "CarbonOptions", "Classified", "Counting", "biomass_of", "bin_rows", "check_threshold", "class_counts",
    "as_counting", "classify", "classify_scores", "counting", "summarize_daily", "warn_unknown", "winners",
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
    :func:`~ifcbkit.science.diatoms.read_diatom_list`; ``None``: the bundled genera). With ``manual``, from
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
    """Warn (:class:`~ifcbkit.science.class_rules.UnknownClassWarning`, once a run) about the classes of
    per-class thresholds and of a diatoms list that no bin's class results have."""
    names = list(dict.fromkeys(class_names))
    if isinstance(how.thresholds, PerClassThresholds):
        warn_unknown_classes(how.thresholds, names, how.thresholds.source)
    elif isinstance(how.thresholds, Mapping):
        warn_unknown_classes(how.thresholds, names, "thresholds")
    if how.carbon is not None and how.carbon.diatoms is not None:
        how.carbon.diatoms.warn_unknown(names)


def as_counting(how: Counting | float | None) -> Counting:
    return how if isinstance(how, Counting) else Counting(None if how is None else check_threshold(how))


Classified = tuple[dict[str, int], dict[str, float | None] | None, ClassResult | None]


def classify(score_path: str, how: Counting) -> Classified:
    """A bin's class counts from its class file (with ``how.manual``, its manual annotation file),
    the threshold applied to each class (``None`` for the run's one threshold) and the
    :class:`~ifcbkit.science.class_results.ClassResult` (``None`` when counted as before 0.7: a CSV of
    scores at one threshold, NaN scores never winning).

    Raises:
        FormatError, NotFoundError, MissingDependencyError: as
            :func:`~ifcbkit.science.class_results.read_class_result` (and
            :func:`~ifcbkit.science.manual.read_manual_file`).
    """
    if how.manual:
        from ..science.manual import read_manual_file

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
