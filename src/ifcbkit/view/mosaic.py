"""Mosaics: a bin's images packed into one page, largest first, with where each one went.

Images are scaled by ``scale``, sorted by height (then width) from the largest, and packed onto
shelves: each shelf is as tall as its first image, and images go left to right on the first shelf
with room for them. This is the dashboard's way of showing a bin. An image too big for the page is
reported in ``left_out``, never dropped silently. Each placement says where the image is on the page,
so a notebook or web page can map a click back to its ROI.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import IO, NamedTuple

from PIL import Image

from ..errors import InvalidArgumentError
from . import display

BACKGROUND = 200  # the light grey the dashboard's mosaic pages use


class Placement(NamedTuple):
    """One image on the page: its key (target number or ROI id) and its box, in page pixels."""

    key: int | str
    x: int
    y: int
    width: int
    height: int


class Mosaic(NamedTuple):
    """The page, each placed image's box, and the keys of images that did not fit. A notebook shows
    it as its page; :meth:`save` writes the page."""

    image: Image.Image
    placements: list[Placement]
    left_out: list[int | str]

    def save(self, fp: str | os.PathLike[str] | IO[bytes], format: str | None = None) -> None:
        """Write the page (``format`` as Pillow takes it; by default from the file name's extension,
        PNG for a file object)."""
        if format is None and not isinstance(fp, (str, os.PathLike)):
            format = "PNG"
        self.image.save(fp, format)

    def _repr_png_(self) -> bytes:
        return display.png_bytes(self.image)


def mosaic(
    images: Mapping[int | str, Image.Image] | Iterable[tuple[int | str, Image.Image]] | Iterable[Image.Image],
    shape: tuple[int, int] = (600, 800),
    scale: float = 0.33,
    *,
    background: int = BACKGROUND,
) -> Mosaic:
    """Pack ``images`` (``{key: image}``, ``(key, image)`` pairs, or images alone, keyed by their
    position from 0) into a page of ``shape`` = ``(height, width)`` pixels, each scaled by ``scale``.

    Raises:
        ValueError: for a page without pixels or a scale that is not positive.
        TypeError: for an item that is neither an image nor a ``(key, image)`` pair.
    """
    items = list(images.items()) if isinstance(images, Mapping) else [_item(k, x) for k, x in enumerate(images)]
    sizes: list[tuple[int | str, tuple[int, int]]] = [(k, image.size) for k, (_, image) in enumerate(items)]
    by_position = mosaic_of_sizes(sizes, lambda k: items[k][1], shape, scale, background=background)  # type: ignore[index]
    placements = [p._replace(key=items[p.key][0]) for p in by_position.placements]  # type: ignore[index]
    return Mosaic(by_position.image, placements, [items[k][0] for k in by_position.left_out])  # type: ignore[index]


def _item(position: int, item: object) -> tuple[int | str, Image.Image]:
    """A ``(key, image)`` pair from an item of a sequence: an image is keyed by its position."""
    if isinstance(item, Image.Image):
        return position, item
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Image.Image):
        return item[0], item[1]
    raise TypeError(f"mosaic takes images, (key, image) pairs or a {{key: image}} mapping, not {type(item).__name__}")


def plan(
    sizes: Iterable[tuple[int | str, tuple[int, int]]], shape: tuple[int, int] = (600, 800), scale: float = 0.33
) -> tuple[list[Placement], list[int | str]]:
    """Where :func:`mosaic` puts images of these ``(key, (width, height))`` sizes: the placements and the
    keys left out, from the sizes alone (nothing is decoded to decide).

    Raises:
        InvalidArgumentError: (a ``ValueError``) for a page without pixels or a scale that is not a
            positive finite number.
    """
    height, width = shape
    if height < 1 or width < 1:
        raise InvalidArgumentError("shape", f"shape must be (height, width) in pixels, both at least 1, not {shape!r}")
    if not (scale > 0 and math.isfinite(scale)):
        raise InvalidArgumentError("scale", f"scale must be a positive finite number, not {scale!r}")
    scaled = [(key, (max(1, round(w * scale)), max(1, round(h * scale)))) for key, (w, h) in sizes]
    scaled.sort(key=lambda item: (item[1][1], item[1][0]), reverse=True)  # tallest first, then widest
    shelves: list[list[int]] = []  # [y, shelf height, x of its free space]
    placements: list[Placement] = []
    left_out: list[int | str] = []
    for key, (w, h) in scaled:
        spot = _place(shelves, w, h, width, height)
        if spot is None:
            left_out.append(key)
            continue
        placements.append(Placement(key, spot[0], spot[1], w, h))
    return placements, left_out


def mosaic_of_sizes(
    sizes: Iterable[tuple[int | str, tuple[int, int]]],
    load: Callable[[int | str], Image.Image],
    shape: tuple[int, int] = (600, 800),
    scale: float = 0.33,
    *,
    background: int = BACKGROUND,
) -> Mosaic:
    """:func:`mosaic` of images known by their sizes first: only the images that fit on the page are
    loaded (``load(key)``), so a thumbnail of a 40,000-image bin decodes the few dozen it shows.

    Raises:
        ValueError: for a page without pixels or a scale that is not positive.
    """
    placements, left_out = plan(sizes, shape, scale)
    height, width = shape
    page = Image.new("L", (width, height), background)
    for key, x, y, w, h in placements:
        image = load(key)
        page.paste(image.convert("L").resize((w, h)) if (w, h) != image.size else image.convert("L"), (x, y))
    return Mosaic(page, placements, left_out)


def _place(shelves: list[list[int]], w: int, h: int, width: int, height: int) -> tuple[int, int] | None:
    for shelf in shelves:
        y, shelf_height, free_x = shelf
        if h <= shelf_height and free_x + w <= width:
            shelf[2] = free_x + w
            return free_x, y
    top = shelves[-1][0] + shelves[-1][1] if shelves else 0
    if w > width or top + h > height:
        return None
    shelves.append([top, h, w])
    return 0, top
