"""The ``.adc`` parser where ifcbkit 0.3.1 has it; its home is :mod:`ifcbkit.formats.adc`."""

from __future__ import annotations

from .formats.adc import (
    D_STYLE_COLUMNS,
    I_STYLE_COLUMNS,
    iter_adc_targets,
    parse_adc_bytes,
    parse_adc_file,
    parse_adc_line,
    targets_to_dict,
)

__all__ = [
    "I_STYLE_COLUMNS",
    "D_STYLE_COLUMNS",
    "iter_adc_targets",
    "targets_to_dict",
    "parse_adc_bytes",
    "parse_adc_file",
    "parse_adc_line",
]
