"""Abundance as tables and plots, for analysis: pandas DataFrames (the ``pandas`` extra) and a
time-series figure of the top classes (the ``plot`` extra, matplotlib). pandas and matplotlib are
imported only when a table or a figure is asked for."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ..atomic import atomic_file
from ..errors import InvalidArgumentError, MissingDependencyError
from ..science.counting import ABUNDANCE_FIELDS

ABUNDANCE_VALUES = ("objects_per_ml", "objects_per_L", "count")


def abundance_frame(rows: Iterable[Mapping[str, Any]], *, wide: bool = False, value: str = "objects_per_ml") -> Any:
    """Long-format abundance rows as a DataFrame, or ``wide``: (date, instrument) by class.

    Raises:
        MissingDependencyError: without pandas; InvalidArgumentError (a ``ValueError``): for an unknown ``value``.
    """
    if value not in ABUNDANCE_VALUES:
        raise InvalidArgumentError("value", f"value must be one of {', '.join(ABUNDANCE_VALUES)}, not {value!r}")
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("abundance as a table", "pandas", "pandas") from None

    frame = pd.DataFrame.from_records(list(rows), columns=list(ABUNDANCE_FIELDS))
    frame["date"] = pd.to_datetime(frame["date"])
    if not wide:
        return frame
    return frame.pivot_table(index=["date", "instrument"], columns="class", values=value, aggfunc="first", sort=True)


def plot_abundance(
    rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str], *, top: int = 5, value: str = "objects_per_ml"
) -> list[str]:
    """Plot the ``top`` classes (by total count) over time into a PNG at ``path``: one line per class
    and instrument, dates on the x axis and objects per ml (or per L, or counts) on the y axis.
    Returns the classes plotted.

    Raises:
        MissingDependencyError: without matplotlib; InvalidArgumentError (a ``ValueError``): for an unknown
            ``value``.
    """
    if value not in ABUNDANCE_VALUES:
        raise InvalidArgumentError("value", f"value must be one of {', '.join(ABUNDANCE_VALUES)}, not {value!r}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("abundance plots", "plot", "matplotlib") from None

    rows = list(rows)
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["class"]] += int(row["count"])
    chosen = sorted(totals, key=lambda name: (-totals[name], name))[: max(1, top)]
    series: dict[tuple[str, str], list[tuple[date, float]]] = defaultdict(list)
    for row in rows:
        if row["class"] in chosen:
            series[(row["class"], row["instrument"])].append((date.fromisoformat(str(row["date"])), float(row[value])))
    units = {"objects_per_ml": "objects per ml", "objects_per_L": "objects per L", "count": "objects counted"}[value]
    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=100)
    try:
        for (name, instrument), points in sorted(series.items()):
            points.sort()
            days, values = [p[0] for p in points], [p[1] for p in points]
            axes.plot(days, values, marker="o", label=f"{name} ({instrument})")  # type: ignore[arg-type]
        axes.set_xlabel("date (UTC)")
        axes.set_ylabel(units)
        axes.set_title(f"daily abundance, top {len(chosen)} classes")
        axes.grid(True, alpha=0.3)
        if series:
            axes.legend(fontsize="small")
        figure.autofmt_xdate()
        with atomic_file(path) as f:
            figure.savefig(f, format="png")
    finally:
        plt.close(figure)
    return chosen
