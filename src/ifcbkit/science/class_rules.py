"""Which class a ROI goes to, from its class scores and per-class thresholds.

Two rules, both in ifcb-analysis:

- ``winner``: the top-scoring class (the first on ties) counts when its score is **at least**
  its own threshold (``summarize_TBclass.m``: ``maxscore >= adhocthresh``; iRfcb writes its
  ``class_name`` the same way, ``score >= threshold``). Otherwise the ROI has no class.
- ``any-above``: a ROI goes to a class whose score **exceeds** that class's threshold; when
  several do, to the highest-scoring of them (``apply_TBthreshold.m`` and the writers of
  ``TBclass_above_threshold``: ``scores > threshold``). ifcb-analysis settles such a conflict
  with the highest score of *all* classes, which with per-class thresholds can be a class below
  its own threshold; here the ROI stays with the classes that passed.

With one threshold for every class the two rules differ only for a top score exactly at it.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..adc import warn_user
from ..errors import FormatError, IfcbWarning, InvalidArgumentError
from ..formats.files import read_local_file

__all__ = [
    "DEFAULT_THRESHOLD", "RULES", "PerClassThresholds", "Rule", "ThresholdSpec", "UnknownClassWarning", "assign",
    "check_rule", "check_threshold", "parse_thresholds", "read_thresholds", "resolve_thresholds",
    "warn_unknown_classes",
]  # fmt: skip

# ifcbkit's threshold for class files without their own (``abundance --threshold``'s default).
DEFAULT_THRESHOLD = 0.7

Rule = Literal["winner", "any-above"]
RULES: tuple[Rule, ...] = ("winner", "any-above")

# One threshold for every class, or ``{class: threshold}`` (classes it leaves out get the default).
ThresholdSpec = float | Mapping[str, float]


class UnknownClassWarning(IfcbWarning):
    """A file or option names classes the class results do not have (a misspelling, another
    classifier's list); the message names them."""


@dataclass(frozen=True)
class PerClassThresholds(Mapping[str, float]):
    """``{class: threshold}`` with its own threshold for the classes it leaves out (``--thresholds
    FILE`` with ``--threshold X``); ``source`` names where it came from, in warnings."""

    per_class: Mapping[str, float] = field(default_factory=dict)
    default: float = DEFAULT_THRESHOLD
    source: str = "thresholds"

    def __getitem__(self, name: str) -> float:
        return self.per_class[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.per_class)

    def __len__(self) -> int:
        return len(self.per_class)


def check_rule(rule: str) -> Rule:
    """``rule`` checked to be one of :data:`RULES`.

    Raises:
        ValueError: for any other name.
    """
    if rule not in RULES:
        raise ValueError(f"the classification rule must be one of {', '.join(RULES)}, not {rule!r}")
    return rule


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


def read_thresholds(path: str | os.PathLike[str]) -> dict[str, float]:
    """``{class: threshold}`` from a CSV of ``class,threshold`` rows (a header row is optional;
    blank lines and lines starting with ``#`` are skipped).

    Raises:
        FormatError: naming the file and line for a row that is not two fields, a class named
            twice, or a threshold that is not a number from 0 to 1.
        NotFoundError: if the file does not exist.
    """
    source = os.fspath(path)
    return parse_thresholds(read_local_file(source, "thresholds file"), source=source)


def parse_thresholds(data: bytes, *, source: str) -> dict[str, float]:
    """:func:`read_thresholds` of a file's bytes; ``source`` names it in errors.

    Raises:
        FormatError: as :func:`read_thresholds`.
    """
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        text = bytes(data).decode("latin-1")
    reader = csv.reader(io.StringIO(text, newline=""))
    out: dict[str, float] = {}
    first = True
    try:
        for row in reader:
            line = reader.line_num
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 2:
                raise FormatError(source, f"{len(row)} fields, expected class,threshold", line=line)
            name, value = row[0].strip(), row[1].strip()
            try:
                threshold = float(value)
            except ValueError:
                if first:  # the header row
                    first = False
                    continue
                raise FormatError(source, f"threshold of {name!r} is not a number: {value[:40]!r}", line=line) from None
            first = False
            if not name:
                raise FormatError(source, "a threshold without a class name", line=line)
            if not 0 <= threshold <= 1:
                raise FormatError(source, f"threshold of {name!r} must be from 0 to 1, not {value}", line=line)
            if name in out:
                raise FormatError(source, f"class {name!r} appears twice", line=line)
            out[name] = threshold
    except csv.Error as e:
        raise FormatError(source, f"not CSV ({e})", line=reader.line_num) from None
    return out


def warn_unknown_classes(names: Iterable[str], class_names: Iterable[str], what: str) -> list[str]:
    """Warn (:class:`UnknownClassWarning`, at the user's line) about the ``names`` that are not in
    ``class_names``; ``what`` says where they come from (``'--thresholds file t.csv'``). Returns them, sorted."""
    known = set(class_names)
    unknown = sorted(set(names) - known)
    if unknown:
        warn_user(UnknownClassWarning(
            f"{what} names {len(unknown)} class{'es' if len(unknown) > 1 else ''} the class results do not have: "
            + ", ".join(unknown)
        ))  # fmt: skip
    return unknown


def resolve_thresholds(
    class_names: Sequence[str], spec: ThresholdSpec, default: float = DEFAULT_THRESHOLD, *, what: str = "thresholds"
) -> tuple[float, ...]:
    """The threshold of each of ``class_names``: ``spec`` itself when it is a number, else
    ``spec[class]`` or ``default`` (a :class:`PerClassThresholds`' own) for the classes it leaves
    out. Mapping keys that are not in
    ``class_names`` get an :class:`UnknownClassWarning` (``what`` names their source).

    Raises:
        ValueError: for a threshold that is not from 0 to 1.
    """
    if isinstance(spec, PerClassThresholds):
        default, what = spec.default, spec.source
    if isinstance(spec, Mapping):
        default = check_threshold(default)
        checked = {name: check_threshold(value) for name, value in spec.items()}
        warn_unknown_classes(checked, class_names, what)
        return tuple(checked.get(name, default) for name in class_names)
    value = check_threshold(spec)
    return (value,) * len(class_names)


def assign(scores: Sequence[float], thresholds: Sequence[float], rule: Rule = "winner") -> int | None:
    """The index of the class a ROI of ``scores`` goes to under ``rule`` and the per-class
    ``thresholds`` (same order), or ``None``. NaN scores never count."""
    if rule == "winner":
        if scores and sum(scores) == sum(scores):  # no NaN: the first of the highest, at C speed
            top = scores.index(max(scores))
            return top if scores[top] >= thresholds[top] else None
        best: int | None = None
        for i, score in enumerate(scores):
            if not math.isnan(score) and (best is None or score > scores[best]):
                best = i
        return best if best is not None and scores[best] >= thresholds[best] else None
    if rule == "any-above":
        chosen: int | None = None
        for i, score in enumerate(scores):
            if score > thresholds[i] and (chosen is None or score > scores[chosen]):
                chosen = i
        return chosen
    raise ValueError(f"the classification rule must be one of {', '.join(RULES)}, not {rule!r}")
