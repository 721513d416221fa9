"""Abundance as pandas tables and as a plot (the ``pandas`` and ``plot`` extras)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from ifcbkit import daily_abundance

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "sample"
PRODUCTS = REPO / "tests" / "data" / "products"


@pytest.fixture(scope="module")
def result():
    return daily_abundance(SAMPLE, PRODUCTS, threshold=0.7, workers=1)


def test_long_and_wide_tables(result):
    long = result.to_pandas()
    assert len(long) == len(result.rows) and list(long["class"]) == [r["class"] for r in result.rows]
    assert str(long["date"].dtype).startswith("datetime64")
    wide = result.to_pandas(wide=True)
    row = next(r for r in result.rows if r["date"] == "2024-02-15" and r["class"] == "Guinardia")
    assert wide.loc[(pd.Timestamp("2024-02-15"), "IFCB10"), "Guinardia"] == pytest.approx(row["objects_per_ml"])
    counts = result.to_pandas(wide=True, value="count")
    assert counts.loc[(pd.Timestamp("2024-02-15"), "IFCB10"), "Guinardia"] == row["count"]
    with pytest.raises(ValueError, match="value must be one of"):
        result.to_pandas(wide=True, value="ml")


def test_the_cli_plots_the_top_classes(tmp_path):
    plot = tmp_path / "top.png"
    done = subprocess.run(
        [sys.executable, "-m", "ifcbkit.cli", "abundance", str(SAMPLE), str(PRODUCTS), "--threshold", "0.7",
         "--out", str(tmp_path / "daily.csv"), "--plot", str(plot)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.size == (900, 450)
        low, high = image.convert("L").getextrema()
        assert low < high
