"""Mosaics: known images packed into a page, largest first; no overlap, inside the page, and every
image placed or reported as not fitting."""

from __future__ import annotations

import itertools

import pytest
from PIL import Image

from ifcbkit.mosaic import BACKGROUND, mosaic


def solid(width: int, height: int, value: int) -> Image.Image:
    return Image.new("L", (width, height), value)


def overlap(a, b) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def test_placements_never_overlap_stay_inside_and_account_for_every_image():
    sizes = [(40, 30), (10, 50), (25, 25), (60, 10), (5, 5), (90, 90), (200, 20), (33, 17), (17, 33), (80, 60)]
    images = {k: solid(w, h, 10 + k) for k, (w, h) in enumerate(sizes)}
    page = mosaic(images, shape=(100, 150), scale=1.0)
    assert page.image.size == (150, 100) and page.image.mode == "L"
    placed = {p.key for p in page.placements}
    assert placed | set(page.left_out) == set(images) and not placed & set(page.left_out)
    assert 6 in page.left_out  # 200 px wide: wider than the page
    for p in page.placements:
        assert p.x >= 0 and p.x + p.width <= 150 and p.y >= 0 and p.y + p.height <= 100
        crop = page.image.crop((p.x, p.y, p.x + p.width, p.y + p.height))
        assert crop.getextrema() == (10 + p.key, 10 + p.key)  # the image itself is there, whole
    for a, b in itertools.combinations(page.placements, 2):
        assert not overlap(a, b), (a, b)
    heights = [images[p.key].height for p in page.placements]
    assert heights[0] == max(heights)  # the tallest first, as the dashboard packs
    covered = sum(p.width * p.height for p in page.placements)
    assert page.image.histogram()[BACKGROUND] == 150 * 100 - covered


def test_scale_and_roi_ids_as_keys():
    page = mosaic([("D20240215T150055_IFCB010_00001", solid(100, 40, 1))], shape=(60, 60), scale=0.5)
    [placement] = page.placements
    assert (placement.key, placement.width, placement.height) == ("D20240215T150055_IFCB010_00001", 50, 20)
    with pytest.raises(ValueError, match="scale must be a positive finite number"):
        mosaic([], scale=0)
    with pytest.raises(ValueError, match="shape must be"):
        mosaic([], shape=(0, 10))
