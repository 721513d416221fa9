"""The ``.hdr`` parser where ifcbkit 0.3.1 has it; its home is :mod:`ifcbkit.formats.hdr`."""

from __future__ import annotations

from .formats.hdr import (
    BINARIZE_THRESHOLD,
    BLOB_SIZE_THRESHOLD,
    CONTEXT,
    FLUORESCENCE_PMT_SETTING,
    HDR_COLUMNS,
    HDR_SCHEMA,
    HUMIDITY,
    SCATTERING_PMT_SETTING,
    TEMPERATURE,
    parse_hdr,
    parse_hdr_bytes,
    parse_hdr_file,
)

__all__ = [
    "TEMPERATURE",
    "HUMIDITY",
    "BINARIZE_THRESHOLD",
    "SCATTERING_PMT_SETTING",
    "FLUORESCENCE_PMT_SETTING",
    "BLOB_SIZE_THRESHOLD",
    "HDR_SCHEMA",
    "HDR_COLUMNS",
    "CONTEXT",
    "parse_hdr",
    "parse_hdr_file",
    "parse_hdr_bytes",
]
