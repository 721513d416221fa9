"""A real notebook, run by nbclient on an ipykernel: it opens the shared real I-style bin and shows the
bin, its images and a stitched pair, and every picture comes back as a PNG of the expected layout."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from PIL import Image

from ifcbkit.view import display

REAL_I = "IFCB5_2012_028_081515"


def cell(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


def pngs(output: nbformat.NotebookNode) -> list[Image.Image]:
    data = output.get("data", {})
    return [Image.open(io.BytesIO(base64.b64decode(data["image/png"])))] if "image/png" in data else []


def non_blank(image: Image.Image) -> bool:
    low, high = image.convert("L").getextrema()
    return low < high


def test_a_notebook_shows_a_bin_its_images_and_a_stitched_pair(real_bins: dict[str, Path], tmp_path):
    base = real_bins[REAL_I]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        cell(f"import ifcbkit\nb = ifcbkit.open_bin({str(base) + '.roi'!r})\nb"),
        cell("b.images"),
        cell("a, _ = b.images.pairs[0]\nb.images.pair_view(a)"),
        cell("print(len(b.images), b.images.pairs)"),
    ]
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.kernel_manager_class  # noqa: B018 (the default, a local ipykernel)
    try:
        client.execute()
    finally:
        if client.km is not None:
            client.km.shutdown_kernel(now=True)
    bin_out, images_out, pair_out, printed = (c.outputs for c in notebook.cells)
    [thumbnail] = [png for out in bin_out for png in pngs(out)]
    assert "text/html" in bin_out[0]["data"] and REAL_I in bin_out[0]["data"]["text/html"]
    assert thumbnail.size == (320, 240) and non_blank(thumbnail)  # a mosaic thumbnail, not the whole bin
    [grid] = [png for out in images_out for png in pngs(out)]
    n_images = printed[0]["text"].split()[0]
    columns = min(6, int(n_images))
    rows = -(-min(int(n_images), display.GRID_LIMIT) // columns)
    assert grid.size == (columns * (display.CELL + display.GAP) + display.GAP,
                         rows * (display.CELL + display.LABEL + display.GAP) + display.GAP)  # fmt: skip
    assert non_blank(grid)
    [pair] = [png for out in pair_out for png in pngs(out)]
    assert non_blank(pair)
    panels = columns_of_background(pair)
    assert panels == 5  # two halves, the composite, the gap mask, the infilled image


def columns_of_background(image: Image.Image) -> int:
    """How many panels a pair view has: runs of columns holding something other than background,
    below the label line."""
    gray = image.convert("L")
    body = gray.crop((0, display.GAP + display.LABEL, gray.width, gray.height - display.GAP))
    width, height = body.size
    pixels = body.load()
    busy = [any(pixels[x, y] != display.BACKGROUND for y in range(height)) for x in range(width)]
    return sum(1 for k, b in enumerate(busy) if b and (k == 0 or not busy[k - 1]))
