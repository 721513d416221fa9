"""The ``.roi`` image readers where ifcbkit 0.3.1 has them; their home is :mod:`ifcbkit.formats.roi`."""

from __future__ import annotations

from .formats.roi import (
    extract_roi_image,
    extract_roi_images,
    extract_roi_images_from_targets,
)

__all__ = [
    "extract_roi_images_from_targets",
    "extract_roi_images",
    "extract_roi_image",
]
