"""One bin's class results, whatever file they came from: per ROI, its class (or none) and score.

Counting and carbon need the same thing from a classifier's output: which class each ROI went to,
with what score, under which threshold. The files in the wild say it differently:

- the dashboard's ``_class_scores.csv`` and WHOI's ``_class.h5``: scores only; a rule and
  thresholds (:mod:`ifcbkit.science.class_rules`) decide, 0.7 for every class unless told otherwise;
- the SMHI / iRfcb ``_class.h5``: also ``thresholds`` (per class) and ``class_name`` (the labels
  after them, ``"unclassified"`` below). Without thresholds from the caller, the file's own are
  applied; a file with labels but no thresholds gives its labels as they are;
- ifcb-analysis's ``_class_v1.mat``: ``TBscores``, ``roinum``, ``class2useTB`` (the classes, then
  ``"unclassified"``), ``TBclass`` (the winners) and ``TBclass_above_threshold`` (the labels
  after the classifier's per-class thresholds, ``"unclassified"`` below them). Without thresholds
  from the caller, those labels are used as they are.

Labels taken as they are have no threshold: :attr:`ClassResult.thresholds` is ``None``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import FormatError
from ..formats.h5 import H5ReadFailure, read_datasets
from ..formats.ids import is_bin_id
from ..formats.products import ClassScoresRows, check_score, read_class_scores
from .class_rules import DEFAULT_THRESHOLD, Rule, ThresholdSpec, assign, check_rule, resolve_thresholds

__all__ = [
    "UNCLASSIFIED", "ClassResult", "RoiClass", "from_class_scores", "read_class_h5", "read_class_result",
    "read_class_v1_mat",
]  # fmt: skip

# The label ifcb-analysis and iRfcb give a ROI below its class's threshold.
UNCLASSIFIED = "unclassified"

_SUFFIXES = ("_class_v1.mat", "_class.h5", "_class.hdf5", "_class_scores.csv")


@dataclass(frozen=True, slots=True)
class RoiClass:
    """One ROI's outcome: its class (``None`` when no class claims it) and the score of that
    class (of the top class when there is none; ``None`` when the file has no scores)."""

    roi: int
    class_name: str | None
    score: float | None


@dataclass(frozen=True)
class ClassResult:
    """A bin's class results: :attr:`rois` in file order.

    ``thresholds`` is the threshold applied to each class, ``None`` where the labels came
    precomputed (a v1 ``TBclass_above_threshold``, an h5 ``class_name`` without thresholds);
    ``rule`` likewise. ``source`` names the file in errors; ``pid`` is the bin, when known.
    """

    source: str
    class_names: tuple[str, ...]
    rois: tuple[RoiClass, ...]
    thresholds: Mapping[str, float] | None
    rule: Rule | None
    pid: str | None = None

    def threshold(self, class_name: str) -> float | None:
        """The threshold applied to ``class_name`` (``None`` for precomputed labels)."""
        return None if self.thresholds is None else self.thresholds.get(class_name)

    def classes(self) -> dict[int, str]:
        """``{roi_number: class}`` of the ROIs a class claims."""
        return {r.roi: r.class_name for r in self.rois if r.class_name is not None}

    def counts(self) -> dict[str, int]:
        """How many ROIs each class claims: every class, 0 when it claims none."""
        out = dict.fromkeys(self.class_names, 0)
        for r in self.rois:
            if r.class_name is not None:
                out[r.class_name] = out.get(r.class_name, 0) + 1
        return out


def _pid_of(source: str) -> str | None:
    name = os.path.basename(source)
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and is_bin_id(name[: -len(suffix)]):
            return name[: -len(suffix)]
    return None


def _checked_row(source: str, roi: int, names: Sequence[str], row: Sequence[Any]) -> tuple[float, ...]:
    """``row`` as scores, each checked as every class-score reader checks it (:func:`check_score`)."""
    if len(row) == len(names) and row:
        try:
            values = tuple(map(float, row))
        except (TypeError, ValueError):
            pass
        else:  # the usual case, checked at C speed: a NaN makes the sum NaN, an infinity the min or max
            total = sum(values)
            if total == total and min(values) >= 0 and max(values) <= 1:
                return values
    if len(row) != len(names):
        raise FormatError(source, f"ROI {roi}: {len(row)} scores for {len(names)} classes")
    out = []
    for name, value in zip(names, row):
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise FormatError(source, f"ROI {roi}, class {name!r}: not a score: {str(value)[:40]!r}") from None
        why = check_score(score)
        if why is not None:
            raise FormatError(source, f"ROI {roi}, class {name!r}: not a score: {why}")
        out.append(score)
    return tuple(out)


def _by_rule(
    source: str,
    pid: str | None,
    names: Sequence[str],
    scores: Sequence[tuple[int, tuple[float, ...]]],
    applied: Sequence[float],
    rule: Rule,
) -> ClassResult:
    rois = []
    for roi, row in scores:
        index = assign(row, applied, rule)
        if index is None:
            rois.append(RoiClass(roi, None, max(row) if row else None))
        else:
            rois.append(RoiClass(roi, names[index], row[index]))
    return ClassResult(source, tuple(names), tuple(rois), dict(zip(names, applied)), rule, pid)


def from_class_scores(
    scores: ClassScoresRows,
    thresholds: ThresholdSpec | None = None,
    rule: str = "winner",
    *,
    source: str,
    file_thresholds: Sequence[float] | None = None,
) -> ClassResult:
    """Class results of ``scores`` (a ``_class_scores.csv`` or ``_class.h5`` read by
    :func:`ifcbkit.products.read_class_scores`, or from a dashboard) under ``rule`` and
    ``thresholds`` (one for every class, or ``{class: threshold}`` with 0.7 for the others; unknown
    classes in it are warned about). Without ``thresholds``, ``file_thresholds`` (the file's own,
    one per class) apply, else 0.7. ``source`` names the file in errors.

    Raises:
        FormatError: naming ``source`` for a score that is not a finite number from 0 to 1.
        ValueError: for an unknown rule or a threshold outside 0..1.
    """
    rule = check_rule(rule)
    names = list(scores.class_names)
    if thresholds is not None:
        applied = resolve_thresholds(names, thresholds, what="thresholds")
    elif file_thresholds is not None:
        applied = tuple(file_thresholds)
    else:
        applied = (DEFAULT_THRESHOLD,) * len(names)
    rows = [(roi, _checked_row(source, roi, names, _values(row, names))) for roi, row in scores.rows]
    return _by_rule(source, scores.pid or _pid_of(source), names, rows, applied, rule)


def _values(row: Mapping[str, float], names: Sequence[str]) -> tuple[float, ...]:
    """The scores of ``names`` in ``row``, NaN where it has none."""
    if len(row) == len(names):
        try:
            return tuple([row[n] for n in names])
        except KeyError:
            pass
    return tuple(row.get(n, math.nan) for n in names)


def _labelled(
    source: str,
    pid: str | None,
    names: Sequence[str],
    scores: Sequence[tuple[int, tuple[float, ...]]],
    labels: Sequence[Any],
    what: str,
) -> ClassResult:
    if len(labels) != len(scores):
        raise FormatError(source, f"{what} has {len(labels)} labels for {len(scores)} ROIs")
    index = {name: i for i, name in enumerate(names)}
    rois = []
    for (roi, row), label in zip(scores, labels):
        text = _text(label)
        if text == UNCLASSIFIED:
            rois.append(RoiClass(roi, None, max(row) if row else None))
        elif text in index:
            rois.append(RoiClass(roi, text, row[index[text]]))
        else:
            raise FormatError(source, f"ROI {roi}: {what} {text!r} is not one of the file's classes")
    return ClassResult(source, tuple(names), tuple(rois), None, None, pid)


def _text(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_H5_EXTRAS = ("thresholds", "class_name", "class_labels_above_threshold")


def _h5_extras(source: str) -> dict[str, Any]:
    names: tuple[str, ...] = _H5_EXTRAS
    for _ in range(2):  # the second time without the datasets the file does not have
        try:
            return dict(zip(names, read_datasets(source, names)))
        except H5ReadFailure as e:
            if not e.missing:
                raise FormatError(source, f"not a readable class scores file ({e.reason})") from None
            names = tuple(n for n in names if n not in e.missing)
            if not names:
                return {}
    return {}


def read_class_h5(
    path: str | os.PathLike[str], thresholds: ThresholdSpec | None = None, rule: str = "winner"
) -> ClassResult:
    """Class results of a ``_class.h5``: WHOI's (scores only) or SMHI / iRfcb's (with
    ``thresholds`` and ``class_name``). The caller's ``thresholds`` win; else the file's own
    thresholds apply under ``rule`` (a NaN threshold, iRfcb's "none", is 0: the class is always
    taken); else its ``class_name`` labels are taken as they are; else 0.7 for every class.

    Raises:
        FormatError: naming the file for anything malformed, a score that is not a finite
            number from 0 to 1 or a threshold outside 0..1 in the file.
        NotFoundError: if it does not exist; MissingDependencyError: without h5py.
    """
    source = os.fspath(path)
    scores = read_class_scores(source)
    if thresholds is not None:
        return from_class_scores(scores, thresholds, rule, source=source)
    extras = _h5_extras(source)
    names = list(scores.class_names)
    if "thresholds" in extras:
        own = _file_thresholds(source, names, extras["thresholds"])
        return from_class_scores(scores, None, rule, source=source, file_thresholds=own)
    labels = extras.get("class_name", extras.get("class_labels_above_threshold"))
    if labels is None:
        return from_class_scores(scores, None, rule, source=source)
    check_rule(rule)
    rows = [
        (roi, _checked_row(source, roi, names, tuple(row.get(n, math.nan) for n in names))) for roi, row in scores.rows
    ]
    flat = labels.tolist() if hasattr(labels, "tolist") else labels
    return _labelled(source, scores.pid or _pid_of(source), names, rows, _as_list(flat), "class_name")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _file_thresholds(source: str, names: Sequence[str], values: Any) -> tuple[float, ...]:
    flat = _as_list(values.tolist() if hasattr(values, "tolist") else values)
    flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in flat]
    if len(flat) != len(names):
        raise FormatError(source, f"{len(flat)} thresholds for {len(names)} classes")
    out = []
    for name, value in zip(names, flat):
        try:
            threshold = float(value)
        except (TypeError, ValueError):
            raise FormatError(source, f"threshold of {name!r} is not a number ({str(value)[:40]})") from None
        if math.isnan(threshold):
            threshold = 0.0
        if not 0 <= threshold <= 1:
            raise FormatError(source, f"threshold of {name!r} is {threshold!r}, not from 0 to 1")
        out.append(threshold)
    return tuple(out)


_MAT_VARIABLES = ("class2useTB", "TBscores", "roinum", "TBclass_above_threshold")


def read_class_v1_mat(
    path: str | os.PathLike[str], thresholds: ThresholdSpec | None = None, rule: str = "winner"
) -> ClassResult:
    """Class results of an ifcb-analysis ``_class_v1.mat`` (needs SciPy, the ``mat`` extra). The
    caller's ``thresholds`` apply to ``TBscores`` under ``rule``; without them the file's
    ``TBclass_above_threshold`` labels are taken as they are (``"unclassified"``: no class), or,
    in a file without them, 0.7 for every class.

    Raises:
        FormatError: naming the file for a missing variable, shapes that do not agree, a label
            that is not one of ``class2useTB`` or a score that is not a finite number from 0 to 1.
        NotFoundError: if it does not exist; MissingDependencyError: without SciPy.
    """
    from ..formats.mat import read_mat_variables

    source = os.fspath(path)
    rule = check_rule(rule)
    found = read_mat_variables(source, _MAT_VARIABLES)
    missing = [name for name in _MAT_VARIABLES[:3] if name not in found]
    if missing:
        raise FormatError(source, f"not a class v1 file: no {', '.join(missing)}")
    names = [_text(name) for name in _as_list(found["class2useTB"])]
    numbers = _as_list(found["roinum"])
    matrix = found["TBscores"]
    if isinstance(matrix, (int, float)):
        matrix = [[matrix]]  # one ROI and one class
    if numbers and len(numbers) == 1 and matrix and not isinstance(matrix[0], list):
        matrix = [matrix]  # one ROI: MATLAB's 1 x C row was squeezed
    if not isinstance(matrix, list):
        raise FormatError(source, "TBscores is not a matrix")
    width = len(matrix[0]) if matrix and isinstance(matrix[0], list) else len(names) - 1
    if names and names[-1] == UNCLASSIFIED and len(names) == width + 1:
        names = names[:-1]
    if len(matrix) != len(numbers):
        raise FormatError(source, f"TBscores has {len(matrix)} rows but roinum has {len(numbers)}")
    rows = []
    seen = set()
    for number, row in zip(numbers, matrix):
        roi = _roi(source, number)
        if roi in seen:
            raise FormatError(source, f"ROI number {roi} appears twice")
        seen.add(roi)
        rows.append((roi, _checked_row(source, roi, names, _as_list(row))))
    pid = _pid_of(source)
    if thresholds is not None:
        return _by_rule(source, pid, names, rows, resolve_thresholds(names, thresholds), rule)
    if "TBclass_above_threshold" in found:
        return _labelled(
            source, pid, names, rows, _as_list(found["TBclass_above_threshold"]), "TBclass_above_threshold"
        )
    return _by_rule(source, pid, names, rows, (DEFAULT_THRESHOLD,) * len(names), rule)


def _roi(source: str, value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not number.is_integer() or not 1 <= number <= 999_999:
        raise FormatError(source, f"invalid ROI number {value!r}")
    return int(number)


def read_class_result(
    path: str | os.PathLike[str], thresholds: ThresholdSpec | None = None, rule: str = "winner"
) -> ClassResult:
    """Class results of any class file: ``_class_scores.csv``, ``_class.h5`` (either flavour) or
    ``_class_v1.mat``, by its name; ``thresholds`` and ``rule`` as in :func:`read_class_h5` and
    :func:`read_class_v1_mat`.

    Raises:
        FormatError: naming the file for anything malformed or a name of no class file format.
        NotFoundError: if it does not exist; MissingDependencyError: without h5py or SciPy.
    """
    source = os.fspath(path)
    lower = source.lower()
    if lower.endswith((".h5", ".hdf5")):
        return read_class_h5(source, thresholds, rule)
    if lower.endswith(".mat"):
        return read_class_v1_mat(source, thresholds, rule)
    if lower.endswith(".csv"):
        return from_class_scores(read_class_scores(source), thresholds, rule, source=source)
    raise FormatError(source, "class results are read from _class_scores.csv, _class.h5 or _class_v1.mat files")
