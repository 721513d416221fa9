"""Stitching of I-style pairs (section 6 of the formats doc), against an independent implementation.

``Ref*`` below is a deliberately plain implementation of section 6, written from the formats
doc with lists of lists and explicit loops. The library (Pillow operations) must agree with it
on every generated pair: pair detection, the composite, the gap mask, the infill value and the
infilled image. A few tiny cases are also worked out by hand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ifcbkit import (
    bin_images,
    detect_pairs,
    infill_stitched_image,
    iter_roi_records,
    parse_adc_bytes,
    stitch_pair,
)
from ifcbkit.formats.stitching import infill_value, is_stitch_pair
from ifcbkit.testing import Roi, make_bin

I_ID = "IFCB5_2014_100_120000"
D_ID = "D20240215T150055_IFCB010"

# --- the independent implementation of section 6 ----------------------------------------------


@dataclass
class RefRoi:
    target: int
    trigger: int
    x: int
    y: int
    width: int
    height: int
    rows: list[list[int]]  # height rows of width pixels


def ref_has_image(r: RefRoi) -> bool:
    return r.width != 0 and r.height != 0


def ref_is_pair(a: RefRoi, b: RefRoi) -> bool:
    if a.trigger != b.trigger:
        return False
    ax2 = a.x + a.width
    ay2 = a.y + a.height
    bx2 = b.x + b.width
    by2 = b.y + b.height
    return a.x < bx2 - 2 and ax2 > b.x + 2 and a.y < by2 - 2 and ay2 > b.y + 2


def ref_pairs(rois: list[RefRoi]) -> list[tuple[int, int]]:
    with_image = [r for r in rois if ref_has_image(r)]
    pairs = []
    for i in range(len(with_image) - 1):
        a = with_image[i]
        b = with_image[i + 1]
        if ref_is_pair(a, b):
            pairs.append((a.target, b.target))
    return pairs


def ref_keys(rois: list[RefRoi]) -> list[int]:
    seconds = [b for _, b in ref_pairs(rois)]
    return [r.target for r in rois if ref_has_image(r) and r.target not in seconds]


def ref_composite(a: RefRoi, b: RefRoi) -> tuple[list[list[int]], list[list[bool]]]:
    left = min(a.x, b.x)
    top = min(a.y, b.y)
    right = max(a.x + a.width, b.x + b.width)
    bottom = max(a.y + a.height, b.y + b.height)
    width = right - left
    height = bottom - top
    composite = [[0 for _ in range(width)] for _ in range(height)]
    gap = [[True for _ in range(width)] for _ in range(height)]
    for roi in (a, b):
        for row in range(roi.height):
            for col in range(roi.width):
                composite[roi.y - top + row][roi.x - left + col] = roi.rows[row][col]
                gap[roi.y - top + row][roi.x - left + col] = False
    return composite, gap


def ref_boundary(gap: list[list[bool]]) -> list[list[bool]]:
    """Section 6.2: the boundary of the cross-dilated gap, after the frame step."""
    height = len(gap)
    width = len(gap[0])

    def inside(y: int, x: int) -> bool:
        return 0 <= y < height and 0 <= x < width

    cross = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    dilated = [[False] * width for _ in range(height)]
    for y in range(height):
        for x in range(width):
            if gap[y][x]:
                dilated[y][x] = True
            for dy, dx in cross:
                if inside(y + dy, x + dx) and gap[y + dy][x + dx]:
                    dilated[y][x] = True
    boundary = [[False] * width for _ in range(height)]
    for y in range(height):
        for x in range(width):
            if not dilated[y][x]:
                continue
            for dy, dx in cross:
                if not inside(y + dy, x + dx) or not dilated[y + dy][x + dx]:
                    boundary[y][x] = True
    # the outer frame takes its inner neighbours: columns first, then rows
    if width >= 2:
        for y in range(height):
            boundary[y][0] = boundary[y][1]
        for y in range(height):
            boundary[y][width - 1] = boundary[y][width - 2]
    if height >= 2:
        boundary[0] = list(boundary[1])
        boundary[height - 1] = list(boundary[height - 2])
    return boundary


def ref_mean(composite: list[list[int]], gap: list[list[bool]]) -> Fraction | None:
    """The exact mean of the composite at the boundary's non-gap pixels (None if there are none)."""
    boundary = ref_boundary(gap)
    values = []
    for y in range(len(gap)):
        for x in range(len(gap[0])):
            if boundary[y][x] and not gap[y][x]:
                values.append(composite[y][x])
    if not values:
        return None
    return Fraction(sum(values), len(values))


def ref_infill_value(composite: list[list[int]], gap: list[list[bool]]) -> int:
    mean = ref_mean(composite, gap)
    return 0 if mean is None else round(mean)  # a Fraction rounds half to even, exactly


def ref_infilled(composite: list[list[int]], gap: list[list[bool]]) -> list[list[int]]:
    value = ref_infill_value(composite, gap)
    return [[value if g else p for p, g in zip(prow, grow)] for prow, grow in zip(composite, gap)]


# --- helpers --------------------------------------------------------------------------------


def pixel_rows(image: Image.Image) -> list[list[int]]:
    if image.mode != "L":
        image = image.convert("L")
    w, h = image.size
    data = image.tobytes()
    return [list(data[r * w : (r + 1) * w]) for r in range(h)]


def mask_rows(mask: Image.Image) -> list[list[bool]]:
    return [[v != 0 for v in row] for row in pixel_rows(mask)]


def image_of(rows: list[list[int]]) -> Image.Image:
    return Image.frombytes("L", (len(rows[0]), len(rows)), bytes(v for row in rows for v in row))


def mask_of(rows: list[list[bool]]) -> Image.Image:
    return image_of([[255 if v else 0 for v in row] for row in rows]).convert("1")


def to_specs(rois: list[RefRoi]) -> list[Roi]:
    return [
        Roi(width=r.width, height=r.height, x=r.x, y=r.y, trigger=r.trigger,
            pixels=bytes(v for row in r.rows for v in row) if ref_has_image(r) else None)
        for r in rois
    ]  # fmt: skip


def check_bin(rois: list[RefRoi], bin_id: str = I_ID) -> list[tuple[int, int]]:
    """Write the ROIs as a bin and compare everything the library says with the reference."""
    data = make_bin(bin_id, to_specs(rois))
    pairs = ref_pairs(rois)
    keys = ref_keys(rois)
    by_target = {r.target: r for r in rois}
    firsts = dict(pairs)
    seconds = {b: a for a, b in pairs}

    extended = parse_adc_bytes(bin_id, data.adc, extended=True)
    assert detect_pairs(bin_id, extended) == pairs
    assert detect_pairs(bin_id, {r.target: r for r in iter_roi_records(bin_id, data.adc)}) == pairs

    images = bin_images(bin_id, data.adc, data.roi)
    assert images.pairs == pairs
    assert list(images) == keys
    assert len(images) == len(keys)
    for r in rois:
        if not ref_has_image(r):
            assert r.target not in images
            continue
        if r.target in seconds:
            assert r.target not in images
            with pytest.raises(KeyError):
                images[r.target]
            continue
        assert r.target in images
        if r.target in firsts:
            b = by_target[firsts[r.target]]
            composite, gap = ref_composite(r, b)
            expected = ref_infilled(composite, gap)
            got_composite, got_gap = images.get_raw(r.target)
            assert got_gap.mode == "1"
            assert got_composite.size == (len(composite[0]), len(composite))
            assert pixel_rows(got_composite) == composite
            assert mask_rows(got_gap) == gap
            assert pixel_rows(images[r.target]) == expected
            # the public functions on their own, with ADC dicts as geometry
            ia, ib = image_of(r.rows), image_of(b.rows)
            c2, g2 = stitch_pair(extended[r.target], extended[b.target], ia, ib)
            assert pixel_rows(c2) == composite and mask_rows(g2) == gap
            assert pixel_rows(infill_stitched_image(c2, g2)) == expected
            assert infill_value(c2, g2) == ref_infill_value(composite, gap)
        else:
            image, mask = images.get_raw(r.target)
            assert mask is None
            assert pixel_rows(image) == r.rows
            assert pixel_rows(images[r.target]) == r.rows
    return pairs


# --- random bins with many pairs ------------------------------------------------------------


class PairMaker:
    """Random groups of ROIs for one trigger each: pairs of every shape, near misses, runs, no-image rows."""

    KINDS = ("overlap", "concave", "edge", "inside", "contains", "identical", "overlap2", "overlap3",
             "apart", "other_trigger", "run3", "run3_tail", "no_image_between", "single", "no_image")  # fmt: skip

    def __init__(self, seed: int, palette: list[int] | None = None):
        self.rng = random.Random(seed)
        self.palette = palette
        self.rois: list[RefRoi] = []
        self.trigger = 0
        self.kinds: dict[str, int] = {}

    def pixels(self, width: int, height: int) -> list[list[int]]:
        if self.palette is None:
            return [[self.rng.randrange(256) for _ in range(width)] for _ in range(height)]
        return [[self.rng.choice(self.palette) for _ in range(width)] for _ in range(height)]

    def add(self, box: tuple[int, int, int, int] | None, trigger: int) -> None:
        target = len(self.rois) + 1
        if box is None:
            self.rois.append(RefRoi(target, trigger, 0, 0, 0, 0, []))
        else:
            x, y, w, h = box
            self.rois.append(RefRoi(target, trigger, x, y, w, h, self.pixels(w, h)))

    def size(self, low: int = 3, high: int = 14) -> tuple[int, int]:
        return self.rng.randint(low, high), self.rng.randint(low, high)

    def overlapping(self, a: tuple[int, int, int, int], min_overlap: int = 3) -> tuple[int, int, int, int]:
        """A random box overlapping ``a`` by at least ``min_overlap`` pixels in both directions."""
        ax, ay, aw, ah = a
        bw, bh = self.size(min_overlap, 14)
        bx = self.rng.randint(ax + min_overlap - bw, ax + aw - min_overlap)
        by = self.rng.randint(ay + min_overlap - bh, ay + ah - min_overlap)
        return bx, by, bw, bh

    def group(self, kind: str) -> None:
        self.trigger += 1
        t = self.trigger
        rng = self.rng
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        ox, oy = rng.randint(20, 1300), rng.randint(20, 1000)
        w, h = self.size()
        a = (ox, oy, w, h)
        if kind == "overlap":
            self.add(a, t)
            self.add(self.overlapping(a), t)
        elif kind == "concave":  # b down and to the right of a: an L-shaped union, two gap corners
            w, h = self.size(4, 14)
            a = (ox, oy, w, h)
            bw, bh = self.size()
            bx = rng.randint(ox + 1, ox + w - 3)
            by = rng.randint(oy + 1, oy + h - 3)
            bw = max(bw, ox + w - bx + 1)
            bh = max(bh, oy + h - by + 1)
            first, second = a, (bx, by, bw, bh)
            if rng.random() < 0.5:
                first, second = second, first
            self.add(first, t)
            self.add(second, t)
        elif kind == "edge":  # touching the camera's top or left edge
            a = (0 if rng.random() < 0.7 else ox, 0 if rng.random() < 0.7 else oy, w, h)
            b = self.overlapping(a)
            b = (max(b[0], 0), max(b[1], 0), b[2], b[3])
            if not ref_is_pair(RefRoi(0, t, *a, []), RefRoi(0, t, *b, [])):
                b = (a[0], a[1], b[2], b[3])
            self.add(a, t)
            self.add(b, t)
        elif kind in ("inside", "contains"):
            w, h = self.size(6, 16)
            iw, ih = rng.randint(3, w), rng.randint(3, h)
            inner = (ox + rng.randint(0, w - iw), oy + rng.randint(0, h - ih), iw, ih)
            outer = (ox, oy, w, h)
            self.add(outer if kind == "inside" else inner, t)
            self.add(inner if kind == "inside" else outer, t)
        elif kind == "identical":
            self.add(a, t)
            self.add(a, t)
        elif kind in ("overlap2", "overlap3"):  # the edge of the pair rule, in x or y, on either side
            n = 2 if kind == "overlap2" else 3
            bw, bh = self.size()
            side = rng.choice(("left", "right", "top", "bottom"))
            by = rng.randint(oy + 3 - bh, oy + h - 3)
            bx = rng.randint(ox + 3 - bw, ox + w - 3)
            if side == "right":
                bx = ox + w - n
            elif side == "left":
                bx = ox + n - bw
            elif side == "bottom":
                by = oy + h - n
            else:
                by = oy + n - bh
            self.add(a, t)
            self.add((bx, by, bw, bh), t)
        elif kind == "apart":
            self.add(a, t)
            self.add((ox + w + rng.randint(0, 5), oy, *self.size()), t)
        elif kind == "other_trigger":
            self.add(a, t)
            self.trigger += 1
            self.add(self.overlapping(a), self.trigger)
        elif kind == "run3":  # (a, b) and (b, c) both qualify: b and c disappear, a shows a+b only
            b = self.overlapping(a)
            c = self.overlapping(b)
            while not ref_is_pair(RefRoi(0, t, *b, []), RefRoi(0, t, *c, [])):
                c = self.overlapping(b)
            for box in (a, b, c):
                self.add(box, t)
        elif kind == "run3_tail":  # a apart from b, (b, c) a pair
            self.add(a, t)
            b = (ox + w + 10, oy, *self.size())
            self.add(b, t)
            self.add(self.overlapping(b), t)
        elif kind == "no_image_between":  # no-image rows do not separate the halves of a pair
            self.add(a, t)
            for _ in range(rng.randint(1, 2)):
                self.add(None, t)
            self.add(self.overlapping(a), t)
        elif kind == "single":
            self.add(a, t)
        elif kind == "no_image":
            self.add(None, t)
        else:  # pragma: no cover
            raise AssertionError(kind)

    def build(self, n_groups: int) -> list[RefRoi]:
        for kind in self.KINDS:  # every kind at least once, then a random mix
            self.group(kind)
        for _ in range(n_groups):
            self.group(self.rng.choice(self.KINDS))
        return self.rois


@pytest.mark.parametrize(
    ("seed", "palette"),
    [(1, None), (2, None), (3, [10, 11]), (4, [0, 1, 2, 3]), (5, [200, 201]), (6, None), (7, [0, 255])],
)
def test_random_bins_match_the_reference(seed, palette):
    rois = PairMaker(seed, palette).build(60)
    pairs = check_bin(rois)
    assert len(pairs) > 30  # the bin really has many pairs


def test_the_generated_cases_cover_every_shape():
    """The generator does produce what the random tests claim: qualifying and non-qualifying groups."""
    maker = PairMaker(1)
    rois = maker.build(60)
    assert set(maker.kinds) == set(PairMaker.KINDS)
    pairs = ref_pairs(rois)
    by_target = {r.target: r for r in rois}
    triggers_with_pairs = {by_target[a].trigger for a, _ in pairs}
    # runs of three give two pairs for one trigger
    assert any(sum(1 for a, _ in pairs if by_target[a].trigger == t) == 2 for t in triggers_with_pairs)
    # some composites have gaps, some none (nested and identical boxes)
    gaps = [sum(map(sum, ref_composite(by_target[a], by_target[b])[1])) for a, b in pairs]
    assert min(gaps) == 0 and max(gaps) > 0
    # some composites reach the camera's edge
    assert any(min(by_target[a].x, by_target[b].x) == 0 for a, b in pairs)


def test_half_way_means_occur_in_the_random_bins():
    """Rounding half to even is exercised: some generated pairs have a boundary mean of exactly k + 1/2."""
    halves = 0
    for seed, palette in ((3, [10, 11]), (4, [0, 1, 2, 3]), (5, [200, 201]), (7, [0, 255])):
        rois = PairMaker(seed, palette).build(60)
        by_target = {r.target: r for r in rois}
        for a, b in ref_pairs(rois):
            composite, gap = ref_composite(by_target[a], by_target[b])
            mean = ref_mean(composite, gap)
            if mean is not None and mean.denominator == 2:
                halves += 1
    assert halves >= 5


def test_d_style_bins_never_stitch():
    rois = PairMaker(8).build(20)
    data = make_bin(D_ID, to_specs(rois))
    images = bin_images(D_ID, data.adc, data.roi)
    assert images.pairs == []
    assert list(images) == [r.target for r in rois if ref_has_image(r)]
    for r in rois:
        if ref_has_image(r):
            assert pixel_rows(images[r.target]) == r.rows
            assert images.get_raw(r.target)[1] is None


def test_stitch_false_gives_every_image_raw():
    rois = PairMaker(9).build(20)
    data = make_bin(I_ID, to_specs(rois))
    images = bin_images(I_ID, data.adc, data.roi, stitch=False)
    assert images.pairs == []
    assert list(images) == [r.target for r in rois if ref_has_image(r)]
    assert all(pixel_rows(images[r.target]) == r.rows for r in rois if ref_has_image(r))


# --- property tests on the pixel functions directly ---------------------------------------


@st.composite
def two_boxes(draw):
    """Two boxes near each other (any relation: apart, overlapping, nested) with their pixels."""
    boxes = []
    for _ in range(2):
        w, h = draw(st.integers(1, 9)), draw(st.integers(1, 9))
        x, y = draw(st.integers(0, 10)), draw(st.integers(0, 10))
        pixels = draw(st.lists(st.integers(0, 255), min_size=w * h, max_size=w * h))
        boxes.append(RefRoi(len(boxes) + 1, 1, x, y, w, h, [pixels[r * w : (r + 1) * w] for r in range(h)]))
    return boxes


@settings(max_examples=150, deadline=None)
@given(two_boxes())
def test_stitch_pair_and_infill_match_the_reference(boxes):
    a, b = boxes
    composite, gap = ref_composite(a, b)
    got_composite, got_gap = stitch_pair(
        {"x": a.x, "y": a.y, "width": a.width, "height": a.height},
        {"x": b.x, "y": b.y, "width": b.width, "height": b.height}, image_of(a.rows), image_of(b.rows),
    )  # fmt: skip
    assert pixel_rows(got_composite) == composite
    assert mask_rows(got_gap) == gap
    geometry_a = {"trigger": 1, "x": a.x, "y": a.y, "width": a.width, "height": a.height}
    geometry_b = {"trigger": 1, "x": b.x, "y": b.y, "width": b.width, "height": b.height}
    assert is_stitch_pair(geometry_a, geometry_b) == ref_is_pair(a, b)
    if len(gap) >= 2 and len(gap[0]) >= 2:
        assert pixel_rows(infill_stitched_image(got_composite, got_gap)) == ref_infilled(composite, gap)


@st.composite
def canvas_and_mask(draw):
    w, h = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    pixels = draw(st.lists(st.sampled_from([0, 1, 2, 3, 100, 255]), min_size=w * h, max_size=w * h))
    gap = draw(st.lists(st.booleans(), min_size=w * h, max_size=w * h))
    return [pixels[r * w : (r + 1) * w] for r in range(h)], [gap[r * w : (r + 1) * w] for r in range(h)]


@settings(max_examples=200, deadline=None)
@given(canvas_and_mask())
def test_infill_on_any_mask_matches_the_reference(case):
    """The infill rule on arbitrary gap masks (not only pair-shaped ones), mode '1' or 'L' masks."""
    composite, gap = case
    expected = ref_infilled(composite, gap)
    image = image_of(composite)
    assert infill_value(image, mask_of(gap)) == ref_infill_value(composite, gap)
    assert pixel_rows(infill_stitched_image(image, mask_of(gap))) == expected
    assert pixel_rows(infill_stitched_image(image, mask_of(gap).convert("L"))) == expected
    assert pixel_rows(image) == composite  # the composite itself is not modified


# --- hand-derived cases -------------------------------------------------------------------
#
# a = (x=100, y=200, 5x4), b = (x=102, y=201, 5x4), one trigger. Canvas: x 100..106, y 200..204 (7x5).
# In canvas coordinates (x, y) the gap is (5,0), (6,0) (right of a, above b) and (0,4), (1,4)
# (below a, left of b). Dilating it adds (4,0), (5,1), (6,1), (0,3), (1,3), (2,4); every dilated
# pixel touches the outside, so all ten are boundary. The frame step then gives column 0 := column 1
# and column 6 := column 5 (both unchanged), row 0 := row 1 (drops (4,0)) and row 4 := row 3
# (drops (2,4)). The boundary's non-gap pixels are (5,1), (6,1) (b's pixels (3,0), (4,0)) and
# (0,3), (1,3) (a's pixels (0,3), (1,3)). A "data pixels next to the gap" rule would also take
# (4,0) from a and (2,4) from b, which hold 100 and 200 here and would move the mean far away.


def hand_pair(v1: int, v2: int, v3: int, v4: int) -> list[RefRoi]:
    a_rows = [[100] * 5 for _ in range(4)]
    a_rows[3][0], a_rows[3][1] = v1, v2
    b_rows = [[200] * 5 for _ in range(4)]
    b_rows[0][3], b_rows[0][4] = v3, v4
    return [RefRoi(1, 1, 100, 200, 5, 4, a_rows), RefRoi(2, 1, 102, 201, 5, 4, b_rows)]


@pytest.mark.parametrize(("values", "fill"), [((1, 2, 3, 4), 2), ((2, 3, 4, 5), 4), ((10, 10, 10, 11), 10),
                                              ((0, 0, 0, 1), 0), ((5, 6, 6, 6), 6), ((7, 7, 7, 9), 8)])  # fmt: skip
def test_hand_derived_pair(values, fill):
    v1, v2, v3, v4 = values
    rois = hand_pair(*values)
    data = make_bin(I_ID, to_specs(rois))
    images = bin_images(I_ID, data.adc, data.roi)
    assert images.pairs == [(1, 2)] and list(images) == [1]
    composite, gap = images.get_raw(1)
    assert composite.size == (7, 5)
    assert pixel_rows(composite) == [
        [100, 100, 100, 100, 100, 0, 0],
        [100, 100, 200, 200, 200, v3, v4],
        [100, 100, 200, 200, 200, 200, 200],
        [v1, v2, 200, 200, 200, 200, 200],
        [0, 0, 200, 200, 200, 200, 200],
    ]
    X, o = True, False
    assert mask_rows(gap) == [
        [o, o, o, o, o, X, X],
        [o, o, o, o, o, o, o],
        [o, o, o, o, o, o, o],
        [o, o, o, o, o, o, o],
        [X, X, o, o, o, o, o],
    ]
    assert infill_value(composite, gap) == fill
    assert pixel_rows(images[1]) == [
        [100, 100, 100, 100, 100, fill, fill],
        [100, 100, 200, 200, 200, v3, v4],
        [100, 100, 200, 200, 200, 200, 200],
        [v1, v2, 200, 200, 200, 200, 200],
        [fill, fill, 200, 200, 200, 200, 200],
    ]
    assert ref_infill_value(pixel_rows(composite), mask_rows(gap)) == fill  # the reference agrees


def test_hand_derived_no_data_boundary_gives_zero():
    # a = (0, 0, 4x3), b = (1, 0, 4x4): the only gap pixel is (0, 3), in the canvas corner. Its dilation
    # {(0,3), (1,3), (0,2)} is all boundary, but the frame step wipes it: column 0 := column 1 puts
    # (0,2) to 0, then row 3 := row 2 (now all 0) clears (0,3) and (1,3). No boundary pixel: value 0.
    a = RefRoi(1, 4, 0, 0, 4, 3, [[50] * 4 for _ in range(3)])
    b = RefRoi(2, 4, 1, 0, 4, 4, [[60] * 4 for _ in range(4)])
    data = make_bin(I_ID, to_specs([a, b]))
    images = bin_images(I_ID, data.adc, data.roi)
    composite, gap = images.get_raw(1)
    assert mask_rows(gap) == [[False] * 5, [False] * 5, [False] * 5, [True] + [False] * 4]
    assert pixel_rows(composite) == [[50, 60, 60, 60, 60]] * 3 + [[0, 60, 60, 60, 60]]
    assert infill_value(composite, gap) == 0
    assert pixel_rows(images[1]) == pixel_rows(composite)


def test_hand_derived_nested_boxes_have_no_gap():
    outer = RefRoi(1, 9, 10, 10, 6, 5, [[r * 6 + c for c in range(6)] for r in range(5)])
    inner = RefRoi(2, 9, 11, 11, 3, 3, [[250] * 3 for _ in range(3)])
    data = make_bin(I_ID, to_specs([outer, inner]))
    images = bin_images(I_ID, data.adc, data.roi)
    assert images.pairs == [(1, 2)]
    composite, gap = images.get_raw(1)
    expected = [[r * 6 + c for c in range(6)] for r in range(5)]
    for r in range(1, 4):
        for c in range(1, 4):
            expected[r][c] = 250  # b wins in the overlap
    assert pixel_rows(composite) == expected
    assert not any(any(row) for row in mask_rows(gap))
    assert pixel_rows(images[1]) == expected
    # the other way round: the big box second covers the small one completely
    data = make_bin(I_ID, to_specs([RefRoi(1, 9, 11, 11, 3, 3, inner.rows), RefRoi(2, 9, 10, 10, 6, 5, outer.rows)]))
    assert pixel_rows(bin_images(I_ID, data.adc, data.roi)[1]) == outer.rows


@pytest.mark.parametrize(
    ("b_box", "is_pair"),
    [((17, 10, 10, 10), True), ((18, 10, 10, 10), False),  # b to the right: overlap 3, 2
     ((3, 10, 10, 10), True), ((2, 10, 10, 10), False),  # b to the left
     ((10, 17, 10, 10), True), ((10, 18, 10, 10), False),  # below
     ((10, 3, 10, 10), True), ((10, 2, 10, 10), False),  # above
     # the formula decides, not the width of the overlap: a narrow box well inside a passes
     ((13, 13, 3, 3), True), ((13, 13, 2, 10), True), ((13, 13, 10, 1), True),
     ((10, 13, 3, 3), True), ((9, 13, 3, 3), False), ((17, 13, 3, 3), True), ((18, 13, 3, 3), False),
     ((30, 30, 5, 5), False), ((10, 20, 10, 10), False), ((20, 10, 10, 10), False)],
)  # fmt: skip
def test_pair_rule_edges(b_box, is_pair):
    a = (10, 10, 10, 10)
    rois = [RefRoi(1, 7, *a, [[1] * 10 for _ in range(10)]),
            RefRoi(2, 7, *b_box, [[2] * b_box[2] for _ in range(b_box[3])])]  # fmt: skip
    assert ref_is_pair(*rois) is is_pair
    data = make_bin(I_ID, to_specs(rois))
    images = bin_images(I_ID, data.adc, data.roi)
    assert images.pairs == ([(1, 2)] if is_pair else [])
    assert list(images) == ([1] if is_pair else [1, 2])
    # a different trigger never pairs
    rois[1].trigger = 8
    data = make_bin(I_ID, to_specs(rois))
    assert bin_images(I_ID, data.adc, data.roi).pairs == []


def test_run_of_three():
    box = (50, 50, 8, 8)
    rois = [RefRoi(1, 3, *box, [[10] * 8] * 8), RefRoi(2, 3, 52, 51, 8, 8, [[20] * 8] * 8),
            RefRoi(3, 3, 54, 52, 8, 8, [[30] * 8] * 8), RefRoi(4, 4, 0, 0, 3, 3, [[40] * 3] * 3)]  # fmt: skip
    data = make_bin(I_ID, to_specs(rois))
    images = bin_images(I_ID, data.adc, data.roi)
    assert images.pairs == [(1, 2), (2, 3)]
    assert list(images) == [1, 4]
    composite, _ = images.get_raw(1)
    assert composite.size == (10, 9)  # a and b only: c's box (to x 62, y 60) is not in the canvas
    assert 30 not in set(composite.tobytes())
    assert 2 not in images and 3 not in images
