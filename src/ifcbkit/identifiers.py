"""IFCB identifiers where ifcbkit 0.3.1 has them; their home is :mod:`ifcbkit.formats.ids`."""

from __future__ import annotations

from .formats.ids import (
    D_STYLE_PATTERN,
    I_STYLE_PATTERN,
    ROI_ID_PATTERN,
    add_target,
    bin_day_dir,
    bin_instrument_id,
    bin_timestamp,
    bin_year,
    parse_bin_id,
    parse_d_style_bin_id,
    parse_i_style_bin_id,
    parse_pid,
    parse_roi_id,
    parse_target,
)

__all__ = [
    "I_STYLE_PATTERN",
    "D_STYLE_PATTERN",
    "ROI_ID_PATTERN",
    "parse_i_style_bin_id",
    "parse_d_style_bin_id",
    "parse_bin_id",
    "bin_timestamp",
    "bin_day_dir",
    "bin_year",
    "bin_instrument_id",
    "add_target",
    "parse_roi_id",
    "parse_target",
    "parse_pid",
]
