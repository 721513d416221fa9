"""Stitching the two ROIs that old I-style instruments wrote for one object.

Follows section 6 of docs/formats.md pixel for pixel (as pyifcb does): pair
detection between consecutive image targets, the zero-filled composite with its
gap mask, and the infill of the gap with the rounded mean of the pixels on the
boundary of the dilated gap. All pixel work is done with Pillow operations.

:class:`~ifcbkit.formats.images.BinImages` and :func:`~ifcbkit.formats.images.bin_images`, which apply
these to a whole bin, live in :mod:`ifcbkit.formats.images` (:mod:`ifcbkit.stitching` offers them where
ifcbkit 0.3.1 put them).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageChops, ImageStat

from ..adc import MAX_ROI_SIDE
from ..errors import FormatError
from .ids import parse_bin

__all__ = [
    "detect_pairs", "infill_stitched_image", "infill_value", "is_stitch_pair", "stitch_pair",
]  # fmt: skip


def _field(roi: Any, name: str) -> Any:
    return roi.get(name) if isinstance(roi, Mapping) else getattr(roi, name)


def is_stitch_pair(a: Any, b: Any) -> bool:
    """Whether ROIs ``a`` then ``b`` are the two halves of one object.

    Same trigger, and boxes overlapping by more than 2 pixels in both directions.
    ``a`` and ``b`` are ADC records or mappings with ``trigger``, ``x``, ``y``,
    ``width`` and ``height``.
    """
    if _field(a, "trigger") != _field(b, "trigger"):
        return False
    ax, ay = _field(a, "x"), _field(a, "y")
    bx, by = _field(b, "x"), _field(b, "y")
    ax2, ay2 = ax + _field(a, "width"), ay + _field(a, "height")
    bx2, by2 = bx + _field(b, "width"), by + _field(b, "height")
    return bool(ax < bx2 - 2 and ax2 > bx + 2 and ay < by2 - 2 and ay2 > by + 2)


def detect_pairs(bin_id: str, adc_data: Mapping[int, Any]) -> list[tuple[int, int]]:
    """The stitched pairs ``(a, b)`` of a bin, from ``{target: roi}`` such as
    ``parse_adc_bytes(bin_id, adc, extended=True)``; always ``[]`` for D-style bins.

    Only targets with an image take part; every two consecutive ones that pass
    :func:`is_stitch_pair` form a pair.

    Raises:
        InvalidIdentifierError: if ``bin_id`` is not a bin id.
    """
    if parse_bin(bin_id).style != "I":
        return []
    targets = sorted(t for t, r in adc_data.items() if _field(r, "width") > 0 and _field(r, "height") > 0)
    return [(a, b) for a, b in itertools.pairwise(targets) if is_stitch_pair(adc_data[a], adc_data[b])]


def stitch_pair(adc_a: Any, adc_b: Any, image_a: Image.Image, image_b: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The raw composite of a pair and its gap mask (``adc_a``/``adc_b`` have ``x``, ``y``,
    ``width``, ``height``, as mappings or attributes).

    The composite covers both boxes, zero-filled, with ``a`` pasted then ``b``
    (``b`` wins where they overlap). The gap mask (mode ``'1'``) is true on the
    pixels covered by neither box.
    """
    boxes = []
    for roi in (adc_a, adc_b):
        x, y = _field(roi, "x"), _field(roi, "y")
        boxes.append((x, y, x + _field(roi, "width"), y + _field(roi, "height")))
    x0, y0 = min(bx[0] for bx in boxes), min(bx[1] for bx in boxes)
    size = (max(bx[2] for bx in boxes) - x0, max(bx[3] for bx in boxes) - y0)
    if max(size) > MAX_ROI_SIDE:  # two thin crossing halves can span a huge canvas from a few bytes
        raise FormatError(None, f"a stitched pair would make a {size[0]}x{size[1]} image, larger than any "
                                f"camera frame (at most {MAX_ROI_SIDE} px a side)")  # fmt: skip
    composite = Image.new("L", size, 0)
    gap = Image.new("1", size, 1)  # pixel value 1 on the gap, as pixel access reads it in 0.3.1
    for (bx, by, bx2, by2), image in zip(boxes, (image_a, image_b)):
        composite.paste(image, (bx - x0, by - y0))
        gap.paste(0, (bx - x0, by - y0, bx2 - x0, by2 - y0))
    return composite, gap


def _as_l(mask: Image.Image) -> Image.Image:
    return mask.convert("L") if mask.mode != "L" else mask


def _neighbours(mask: Image.Image) -> list[Image.Image]:
    """``mask`` shifted by one pixel in each of the 4 directions; outside the canvas is 0."""
    w, h = mask.size
    return [mask.crop(box) for box in ((-1, 0, w - 1, h), (1, 0, w + 1, h), (0, -1, w, h - 1), (0, 1, w, h + 1))]


def _boundary(gap: Image.Image) -> Image.Image:
    """The boundary of the cross-dilated gap, with its outer frame copied from inside (section 6.2)."""
    dilated = gap
    for shifted in _neighbours(gap):
        dilated = ImageChops.lighter(dilated, shifted)
    eroded = dilated
    for shifted in _neighbours(dilated):
        eroded = ImageChops.darker(eroded, shifted)
    boundary = ImageChops.subtract(dilated, eroded)
    w, h = boundary.size
    if w >= 2:
        boundary.paste(boundary.crop((1, 0, 2, h)), (0, 0))
        boundary.paste(boundary.crop((w - 2, 0, w - 1, h)), (w - 1, 0))
    if h >= 2:
        boundary.paste(boundary.crop((0, 1, w, 2)), (0, 0))
        boundary.paste(boundary.crop((0, h - 2, w, h - 1)), (0, h - 1))
    return boundary


def infill_value(image: Image.Image, mask: Image.Image) -> int:
    """The value the gap is filled with: the mean of the boundary's non-gap pixels, rounded half to even."""
    gap = _as_l(mask)
    data_boundary = ImageChops.subtract(_boundary(gap), gap)
    stat = ImageStat.Stat(image, data_boundary)
    count = stat.count[0]
    return round(stat.sum[0] / count) if count else 0


def infill_stitched_image(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The composite ``image`` of :func:`stitch_pair` with every gap pixel (true in ``mask``) set
    to :func:`infill_value`."""
    filled = image.copy()
    filled.paste(infill_value(image, mask), (0, 0, *image.size), _as_l(mask))
    return filled
