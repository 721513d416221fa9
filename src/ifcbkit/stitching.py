"""Stitching where ifcbkit 0.3.1 has it; its home is :mod:`ifcbkit.formats.stitching` (and
:mod:`ifcbkit.formats.images` for :class:`BinImages`)."""

from __future__ import annotations

from .formats.images import (
    BinImages,
    bin_images,
)
from .formats.stitching import (
    detect_pairs,
    infill_stitched_image,
    stitch_pair,
)

__all__ = [
    "detect_pairs",
    "stitch_pair",
    "infill_stitched_image",
    "BinImages",
    "bin_images",
]
