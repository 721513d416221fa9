"""Mosaics of a bin's images (the documented path); the home is :mod:`ifcbkit.view.mosaic`."""

from __future__ import annotations

from .view.mosaic import BACKGROUND, Mosaic, Placement, mosaic, mosaic_of_sizes, plan

__all__ = ["BACKGROUND", "Mosaic", "Placement", "mosaic", "mosaic_of_sizes", "plan"]
