"""ifcb-analysis manual annotation files (``{pid}.mat``): how curated training sets are kept.

ifcb-analysis's ``manual_classify`` saves, per bin, with MATLAB's ``save`` (iRfcb writes the same):

- ``classlist``: an n x 3 double matrix, one row per ROI: ROI number, manual class index, auto
  class index (1-based, NaN for none); files of the ``correct`` mode may carry more columns;
- ``class2use_manual``: a 1 x k cell of the class names the manual indexes point into;
- ``list_titles``: ``{'roi number', 'manual', 'auto'}``, naming the columns (older files say
  ``'SVM-auto'`` for the third);
- ``default_class_original``: the class new ROIs started in (a 1 x 1 cell; ``'NaN'`` in old files);
- ``class2use_auto``: the classifier's names the auto indexes point into, or ``[]``.

A ROI's class is its manual class when it has one, otherwise its auto class, otherwise none (such a
ROI is left out of :func:`read_manual_classes`). An auto index points into ``class2use_auto`` when
the file has one, else into ``class2use_manual`` (as ifcb-analysis fills the auto column when
``class2use_auto`` is empty). Reading and writing need SciPy (the ``mat`` extra).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..atomic import atomic_file
from ..errors import FormatError
from ..formats.ids import is_bin_id
from .class_results import UNCLASSIFIED, ClassResult, RoiClass

__all__ = ["ManualClasses", "read_manual_classes", "read_manual_file", "write_manual_classes"]

LIST_TITLES = ("roi number", "manual", "auto")
_VARIABLES = ("classlist", "class2use_manual", "class2use_auto", "list_titles", "default_class_original")


@dataclass(frozen=True)
class ManualClasses:
    """One manual annotation file, read: per ROI (in file order) its manual and auto class
    (``None`` for none), the two class lists and the default class."""

    source: str
    class2use_manual: tuple[str, ...]
    class2use_auto: tuple[str, ...]
    rois: tuple[tuple[int, str | None, str | None], ...]
    default_class: str | None

    @property
    def pid(self) -> str | None:
        """The bin, from the file's name (``{pid}.mat``), when it is one."""
        stem = os.path.splitext(os.path.basename(self.source))[0]
        return stem if is_bin_id(stem) else None

    def classes(self) -> dict[int, str]:
        """``{roi_number: class}``: the manual class, else the auto class; ROIs with neither left out."""
        out: dict[int, str] = {}
        for roi, manual, auto in self.rois:
            chosen = manual if manual is not None else auto
            if chosen is not None:
                out[roi] = chosen
        return out

    def class_result(self) -> ClassResult:
        """The file as class results, like a classifier's: labels precomputed (``thresholds`` and
        ``rule`` are ``None``, scores ``None``). ``"unclassified"`` is no class, as in a class file."""
        names = [n for n in dict.fromkeys((*self.class2use_manual, *self.class2use_auto)) if n != UNCLASSIFIED]
        classes = self.classes()
        rois = []
        for roi, _, _ in self.rois:
            name = classes.get(roi)
            rois.append(RoiClass(roi, None if name == UNCLASSIFIED else name, None))
        return ClassResult(self.source, tuple(names), tuple(rois), None, None, self.pid)


def _strings(source: str, name: str, value: Any) -> tuple[str, ...]:
    """A cell of strings (squeezed to one string when it holds one), or ``[]``, as a tuple."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, list) and not value:
        return ()
    raise FormatError(source, f"{name} is not a cell of class names")


def _column(titles: Sequence[str], wanted: str, default: int) -> int:
    for i, title in enumerate(titles):
        if title.strip().lower() == wanted or (wanted == "auto" and title.strip().lower().endswith("-auto")):
            return i
    return default


def _index(source: str, roi: int, what: str, value: Any, names: Sequence[str], list_name: str) -> str | None:
    """The class a 1-based index names, ``None`` for NaN; a FormatError naming the file and ROI otherwise."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        index = int(value)
        if 1 <= index <= len(names):
            return names[index - 1]
        raise FormatError(source, f"ROI {roi}: {what} class index {index} is beyond {list_name} ({len(names)} classes)")
    raise FormatError(source, f"ROI {roi}: {what} class index {value!r} is not a 1-based class index")


def read_manual_file(path: str | os.PathLike[str]) -> ManualClasses:
    """An ifcb-analysis manual annotation file, read (needs SciPy, the ``mat`` extra).

    Raises:
        FormatError: naming the file for a file without ``classlist`` or ``class2use_manual``, a
            ROI number that is not a positive integer or appears twice, or a class index (naming
            the ROI) that is not a whole number within its class list.
        NotFoundError: if it does not exist; MissingDependencyError: without SciPy.
    """
    from ..formats.mat import read_mat_variables

    source = os.fspath(path)
    found = read_mat_variables(source, _VARIABLES, matrices=("classlist",))
    missing = [name for name in _VARIABLES[:2] if name not in found]
    if missing:
        raise FormatError(source, f"not a manual annotation file: no {', '.join(missing)}")
    manual_names = _strings(source, "class2use_manual", found["class2use_manual"])
    auto_value = found.get("class2use_auto", [])
    auto_names = () if isinstance(auto_value, (int, float)) else _strings(source, "class2use_auto", auto_value)
    titles = _strings(source, "list_titles", found.get("list_titles", list(LIST_TITLES)))
    default = found.get("default_class_original")
    default_class = default[0] if isinstance(default, list) and len(default) == 1 else default
    matrix = found["classlist"]
    if not isinstance(matrix, list) or not all(isinstance(row, list) for row in matrix):
        raise FormatError(source, "classlist is not a matrix")
    manual_col, auto_col = _column(titles, "manual", 1), _column(titles, "auto", 2)
    rois = []
    seen: set[int] = set()
    for row in matrix:
        number = row[0] if row else math.nan
        if not isinstance(number, (int, float)) or not float(number).is_integer() or not 1 <= number <= 999_999:
            raise FormatError(source, f"classlist: invalid ROI number {number!r}")
        roi = int(number)
        if roi in seen:
            raise FormatError(source, f"classlist: ROI {roi} appears twice")
        seen.add(roi)
        manual = row[manual_col] if manual_col < len(row) else math.nan
        auto = row[auto_col] if auto_col < len(row) else math.nan
        auto_list, auto_list_name = (auto_names, "class2use_auto") if auto_names else (manual_names, "class2use_manual")
        rois.append((
            roi,
            _index(source, roi, "manual", manual, manual_names, "class2use_manual"),
            _index(source, roi, "auto", auto, auto_list, auto_list_name),
        ))  # fmt: skip
    return ManualClasses(
        source, manual_names, auto_names, tuple(rois), default_class if isinstance(default_class, str) else None
    )


def read_manual_classes(path: str | os.PathLike[str]) -> dict[int, str]:
    """``{roi_number: class}`` of an ifcb-analysis manual annotation file (``{pid}.mat``): each ROI's
    manual class, else its auto class; ROIs with neither are left out. Needs SciPy (the ``mat`` extra).

    Raises:
        FormatError: naming the file (and the ROI) for anything malformed, among them a class index
            beyond ``class2use_manual``.
        NotFoundError: if it does not exist; MissingDependencyError: without SciPy.
    """
    return read_manual_file(path).classes()


def write_manual_classes(
    path: str | os.PathLike[str], labels: Mapping[int, str | None], class2use: Sequence[str], *,
    rois: int | None = None, default_class: str | None = None,
) -> None:  # fmt: skip
    """Write a manual annotation file that ifcb-analysis and iRfcb read: ``labels`` (``{roi_number:
    class}``, ``None`` for none) as manual indexes into ``class2use``, one ``classlist`` row per ROI
    from 1 to ``rois`` (default: the highest ROI labelled; unlabelled rows NaN), no auto classes
    (``class2use_auto = []``), and ``default_class_original`` ``{default_class}`` (default: the first
    of ``class2use``, ifcb-analysis's ``unclassified`` by convention). The file appears complete or not
    at all. Needs SciPy (the ``mat`` extra).

    Raises:
        ValueError: for a ROI number that is not a positive integer (or beyond ``rois``), a class
            that is not in ``class2use``, class names that are empty or repeated.
        MissingDependencyError: without SciPy; OSError: if the file cannot be written.
    """
    from ..formats.mat import MatCellRow, MatMatrix, write_mat_variables

    names = [str(name) for name in class2use]
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise ValueError("class2use must be one or more distinct, non-empty class names")
    index = {name: i + 1 for i, name in enumerate(names)}
    default = names[0] if default_class is None else default_class
    if default not in index:
        raise ValueError(f"default class {default!r} is not in class2use")
    for roi, name in labels.items():
        if isinstance(roi, bool) or not isinstance(roi, int) or roi < 1:
            raise ValueError(f"ROI numbers are positive integers, not {roi!r}")
        if name is not None and name not in index:
            raise ValueError(f"ROI {roi}: class {name!r} is not in class2use")
    count = max(labels, default=0) if rois is None else rois
    if count < max(labels, default=0):
        raise ValueError(f"rois={rois} but ROI {max(labels)} is labelled")
    rows = []
    for roi in range(1, count + 1):
        name = labels.get(roi)
        rows.append((float(roi), math.nan if name is None else float(index[name]), math.nan))
    variables: dict[str, MatMatrix | MatCellRow] = {
        "classlist": MatMatrix(rows, 3),
        "class2use_manual": MatCellRow(names),
        "class2use_auto": MatMatrix((), 0),
        "list_titles": MatCellRow(LIST_TITLES),
        "default_class_original": MatCellRow([default]),
    }
    with atomic_file(path) as f:
        write_mat_variables(f, variables)
