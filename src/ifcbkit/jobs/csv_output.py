"""Rows as CSV, the way every table this package writes is written (metrics, abundance)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

__all__ = ["csv_value", "write_rows_csv"]


def csv_value(value: Any) -> Any:
    """A CSV cell: empty for ``None`` and NaN; a float with 12 significant digits, written shortest
    (``19.65``, not the ``19.650000000000002`` that ``20.05 - 0.4`` leaves), far finer than any
    instrument's resolution."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return repr(float(f"{value:.12g}"))
    return value


def write_rows_csv(
    rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str], file: IO[str] | str | os.PathLike[str]
) -> None:
    """Write rows as CSV: a header line, then one line per row; NaN and ``None`` are empty cells."""
    if not hasattr(file, "write"):
        with open(file, "w", newline="", encoding="utf-8") as f:
            write_rows_csv(rows, fieldnames, f)
        return
    writer = csv.DictWriter(file, fieldnames=fieldnames, extrasaction="ignore", lineterminator="\n")  # type: ignore[arg-type]
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_value(v) for k, v in row.items()})
