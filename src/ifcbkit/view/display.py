"""Pictures for notebooks: labelled grids of images, and the panels of a stitched pair.

Jupyter shows a :class:`~ifcbkit.faces.bins.Bin` as a summary line and a mosaic thumbnail, a
:class:`~ifcbkit.formats.images.BinImages` as a labelled grid of its first :data:`GRID_LIMIT` images, and
``images.pair_view(target)`` as the two raw halves, the raw composite, the gap mask and the
infilled image side by side. Every picture is a small PNG, never the whole bin at full size.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

GRID_LIMIT = 24  # images shown for a BinImages in a notebook
CELL = 96  # the side of a grid cell, in pixels: images are shrunk into it, never enlarged
LABEL = 12  # the height of a label line under each cell
GAP = 4  # pixels between panels and cells
BACKGROUND = 255
INK = 0


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_data_uri(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def _fit(image: Image.Image, side: int) -> Image.Image:
    scale = min(1.0, side / max(image.width, image.height))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("L").resize(size) if size != image.size else image.convert("L")


def grid(labelled: Sequence[tuple[str, Image.Image]], *, columns: int = 6, cell: int = CELL) -> Image.Image:
    """The images in cells of ``cell`` pixels, ``columns`` to a row, each labelled underneath."""
    columns = max(1, min(columns, len(labelled) or 1))
    rows = max(1, -(-len(labelled) // columns))
    width, height = columns * (cell + GAP) + GAP, rows * (cell + LABEL + GAP) + GAP
    page = Image.new("L", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(page)
    for k, (label, image) in enumerate(labelled):
        x, y = GAP + (k % columns) * (cell + GAP), GAP + (k // columns) * (cell + LABEL + GAP)
        fitted = _fit(image, cell)
        page.paste(fitted, (x + (cell - fitted.width) // 2, y + (cell - fitted.height) // 2))
        draw.text((x, y + cell), label[:18], fill=INK)
    return page


def panels(labelled: Sequence[tuple[str, Image.Image]]) -> Image.Image:
    """The images side by side at their own size (a stitched pair's pictures), labelled above."""
    images = [image.convert("L") for _, image in labelled]
    height = max(image.height for image in images) + LABEL
    width = sum(image.width for image in images) + GAP * (len(images) + 1)
    page = Image.new("L", (width, height + 2 * GAP), BACKGROUND)
    draw = ImageDraw.Draw(page)
    x = GAP
    for (label, _), image in zip(labelled, images):
        draw.text((x, GAP), label, fill=INK)
        page.paste(image, (x, GAP + LABEL))
        x += image.width + GAP
    return page


def summary_html(summary: str, picture: Image.Image | None) -> str:
    """A summary line and, when there is one, a picture, as notebook HTML."""
    out = f"<div><code>{html.escape(summary)}</code>"
    if picture is not None:
        out += f'<br><img src="{png_data_uri(picture)}" alt="{html.escape(summary)}">'
    return out + "</div>"
