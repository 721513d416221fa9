"""Generate the project's bundled sample data with ``ifcbkit.testing``.

    python tests/data/generate.py

writes ``tests/data/sample/`` (a small data tree with D-style and I-style bins,
stitched pairs, no-image targets, an empty bin and decoys, whose images are
plankton-like cells, chains, pennates and ciliates drawn below), ``tests/data/products/``
(class scores as the dashboard serves them, for the sample's bins) and
``tests/data/headers/`` (one file per header family variant). The output is
deterministic; ``tests/test_sample_data.py`` checks that the committed files
equal a fresh generation.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ifcbkit.testing import Roi, write_bin

HERE = Path(__file__).resolve().parent


# ----- plankton-like images -------------------------------------------------------------------------
# Cells are drawn as distance fields with soft, defocused edges, a dark rim, a faint bright halo and
# darker plastids inside, on a light background with mild camera noise, much like the dark-on-light
# ROIs of a real instrument (background ~170-210, darkest pixels ~40-120, 1-4 levels between
# neighbours). Only + - * / and square roots are used, which IEEE arithmetic fixes to the last bit, and
# no Pillow drawing, so a fresh generation equals the committed bytes on any platform and Pillow version.

Field = Callable[[float, float], float]  # signed distance to a shape's edge, negative inside


class Canvas:
    """Darkness accumulated over a ``width`` x ``height`` image; :meth:`pixels` renders it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.dark = [0.0] * (width * height)

    def add(self, field: Field, box: tuple[float, float, float, float], profile: Callable[[float], float],
            dx: float = 0.0, dy: float = 0.0) -> None:  # fmt: skip
        """Add ``profile(distance)`` at every pixel centre of ``box`` (x0, y0, x1, y1), clipped to the image,
        for a ``field`` whose origin is at ``(dx, dy)`` on the canvas."""
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(self.width, int(box[2]) + 2), min(self.height, int(box[3]) + 2)
        dark, width = self.dark, self.width
        for y in range(y0, y1):
            row, fy = y * width, y + 0.5 - dy
            for x in range(x0, x1):
                value = profile(field(x + 0.5 - dx, fy))
                if value:
                    dark[row + x] += value

    def pixels(self, rng: random.Random, background: float) -> bytes:
        """The image: ``background`` with a gentle slope, less the darkness, plus mild noise."""
        w, h = self.width, self.height
        gx, gy = rng.uniform(-4, 4) / max(w, 1), rng.uniform(-4, 4) / max(h, 1)
        noise = rng.randbytes(w * h)
        out = bytearray(w * h)
        for y in range(h):
            base = background + gy * (y - h / 2)
            for x in range(w):
                k = y * w + x
                value = base + gx * (x - w / 2) - self.dark[k] + _NOISE[noise[k]]
                out[k] = 0 if value < 0 else 255 if value > 255 else int(value + 0.5)
        return bytes(out)


# 256 noise levels, triangular around 0 with a standard deviation of ~1.3 (the sum of two uniform nibbles).
_NOISE = [((k & 15) + (k >> 4) - 15) * 0.2 for k in range(256)]


def _smooth(t: float) -> float:
    return 0.0 if t <= 0 else 1.0 if t >= 1 else t * t * (3 - 2 * t)


def _bump(t: float) -> float:
    return 0.0 if t <= -1 or t >= 1 else (1 - t * t) ** 2


def cell_profile(fill: float, rim: float, halo: float, soft: float) -> Callable[[float], float]:
    """Darkness across a cell's edge: ``fill`` inside, a ``rim`` at the edge, a bright ``halo`` outside."""
    return lambda d: (fill * _smooth((soft - d) / (2 * soft)) + rim * _bump((d + 0.7 * soft) / (1.4 * soft))
                      - 0.6 * halo * _bump((d - 2.2 * soft) / (1.5 * soft)))  # fmt: skip


def blob_profile(fill: float, soft: float) -> Callable[[float], float]:
    """Darkness of a soft blob (a plastid, a seta, a cilium)."""
    return lambda d: fill * _smooth((soft - d) / (2 * soft))


def direction(rng: random.Random, spread: float = 1.0) -> tuple[float, float]:
    """A random unit vector, from the rational parametrisation of the circle (no trigonometry), within
    about ``2 * atan(spread)`` of the horizontal either way (the flow lines long cells up)."""
    t = rng.uniform(-spread, spread)
    sign = rng.choice((-1, 1))
    return sign * (1 - t * t) / (1 + t * t), sign * 2 * t / (1 + t * t)


def turn(c: float, s: float, e: float) -> tuple[float, float]:
    """``(c, s)`` turned by about ``e`` radians."""
    c2, s2 = c - e * s, s + e * c
    n = math.sqrt(c2 * c2 + s2 * s2)
    return c2 / n, s2 / n


def ellipse(cx: float, cy: float, a: float, b: float, c: float, s: float) -> Field:
    """An ellipse with semi-axes ``a`` along ``(c, s)`` and ``b`` across (first-order distance)."""
    ia, ib = 1 / (a * a), 1 / (b * b)
    floor = -min(a, b)

    def field(x: float, y: float) -> float:
        u, v = (x - cx) * c + (y - cy) * s, (cy - y) * c + (x - cx) * s
        grad = 2 * math.sqrt(u * u * ia * ia + v * v * ib * ib)
        f = u * u * ia + v * v * ib - 1
        return floor if grad < 1e-9 else max(floor, f / grad)

    return field


def rounded_box(cx: float, cy: float, half_length: float, half_width: float, radius: float,
                c: float, s: float) -> Field:  # fmt: skip
    """A box with rounded corners, ``half_length`` along ``(c, s)`` (exact distance)."""

    def field(x: float, y: float) -> float:
        u, v = abs((x - cx) * c + (y - cy) * s), abs((cy - y) * c + (x - cx) * s)
        qx, qy = u - half_length + radius, v - half_width + radius
        outside = math.sqrt(max(qx, 0) ** 2 + max(qy, 0) ** 2)
        return outside + min(max(qx, qy), 0) - radius

    return field


def segment(x0: float, y0: float, x1: float, y1: float, radius: float) -> Field:
    """A thick line from ``(x0, y0)`` to ``(x1, y1)`` (exact distance)."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy or 1.0

    def field(x: float, y: float) -> float:
        t = min(1.0, max(0.0, ((x - x0) * dx + (y - y0) * dy) / length2))
        ex, ey = x - x0 - t * dx, y - y0 - t * dy
        return math.sqrt(ex * ex + ey * ey) - radius

    return field


class Drawing:
    """An organism as shapes around the origin, each with its box and profile, and the box it fills."""

    def __init__(self) -> None:
        self.parts: list[tuple[Field, tuple[float, float, float, float], Callable[[float], float]]] = []
        self.extent = [0.0, 0.0, 0.0, 0.0]

    def add(self, field: Field, box: tuple[float, float, float, float], profile: Callable[[float], float], *,
            soft: float, counts: bool = True) -> None:  # fmt: skip
        margin = 4 * soft + 2
        box = (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)
        self.parts.append((field, box, profile))
        if counts:  # setae and cilia stick out of the box, as they do on the instrument
            e = self.extent
            self.extent = [min(e[0], box[0]), min(e[1], box[1]), max(e[2], box[2]), max(e[3], box[3])]

    def oval(self, cx: float, cy: float, a: float, b: float, c: float, s: float,
             profile: Callable[[float], float], soft: float, counts: bool = True) -> None:  # fmt: skip
        ex, ey = math.sqrt(a * a * c * c + b * b * s * s), math.sqrt(a * a * s * s + b * b * c * c)
        self.add(ellipse(cx, cy, a, b, c, s), (cx - ex, cy - ey, cx + ex, cy + ey), profile, soft=soft, counts=counts)

    def line(self, x0: float, y0: float, x1: float, y1: float, radius: float, fill: float, soft: float) -> None:
        box = (min(x0, x1) - radius, min(y0, y1) - radius, max(x0, x1) + radius, max(y0, y1) + radius)
        self.add(segment(x0, y0, x1, y1, radius), box, blob_profile(fill, soft), soft=soft, counts=False)

    def plastids(self, rng: random.Random, cx: float, cy: float, a: float, b: float, c: float, s: float,
                 n: int) -> None:  # fmt: skip
        """``n`` darker bodies scattered inside an ellipse."""
        for _ in range(n):
            u, v = rng.uniform(-0.6, 0.6) * a, rng.uniform(-0.55, 0.55) * b
            size = rng.uniform(0.12, 0.3) * min(a, b) + 1.5
            pc, ps = direction(rng)
            soft = rng.uniform(0.9, 1.8)
            self.oval(cx + u * c - v * s, cy + u * s + v * c, size * rng.uniform(1, 1.7), size, pc, ps,
                      blob_profile(rng.uniform(18, 45), soft), soft)  # fmt: skip

    def render(self, width: int, height: int, dx: float, dy: float) -> Canvas:
        """Draw into a ``width`` x ``height`` canvas with the origin moved to ``(dx, dy)``."""
        canvas = Canvas(width, height)
        for field, box, profile in self.parts:
            canvas.add(field, (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy), profile, dx, dy)
        return canvas


def _soft(rng: random.Random) -> float:
    return rng.uniform(1.3, 2.8)  # some cells in focus, some a little out of it


def round_cell(rng: random.Random, size: float) -> Drawing:
    """A round or oval cell (a dinoflagellate, a centric diatom seen from above) of diameter ``size``."""
    drawing, soft = Drawing(), _soft(rng)
    a = size / 2
    b = a / rng.uniform(1.0, 1.4)
    c, s = direction(rng)
    drawing.oval(0, 0, a, b, c, s, cell_profile(rng.uniform(10, 25), rng.uniform(55, 100), rng.uniform(8, 18), soft),
                 soft)  # fmt: skip
    drawing.plastids(rng, 0, 0, a, b, c, s, rng.randint(2, 7))
    return drawing


def _downhill(c: float, s: float) -> tuple[float, float]:
    """The direction ``(c, s)`` or its mirror that runs from top left to bottom right."""
    return abs(c), abs(s)


def chain(rng: random.Random, cells: int, length: float, width: float, setae: bool, downhill: bool = False) -> Drawing:
    """A chain of ``cells`` cylindrical diatom cells, each ``length`` x ``width``, gently bending;
    ``setae``: long thin spines from each joint (as Chaetoceros has); ``downhill``: running from top
    left to bottom right (as the two halves of a stitched pair cut it)."""
    drawing, soft = Drawing(), _soft(rng)
    c, s = direction(rng, 0.2)
    bend = rng.uniform(-0.08, 0.08)
    if downhill:
        (c, s), bend = _downhill(c, s), abs(bend)
    gap = rng.uniform(1.5, 5)
    profile = cell_profile(rng.uniform(8, 18), rng.uniform(50, 90), rng.uniform(6, 14), soft)
    x = y = 0.0
    for k in range(cells):
        ex, ey = (length * abs(c) + width * abs(s)) / 2, (length * abs(s) + width * abs(c)) / 2
        drawing.add(rounded_box(x, y, length / 2, width / 2, min(width, length) * 0.3, c, s),
                    (x - ex, y - ey, x + ex, y + ey), profile, soft=soft)  # fmt: skip
        drawing.plastids(rng, x, y, length / 2, width / 2, c, s, rng.randint(1, 3))
        if setae and k < cells - 1:
            jx, jy = x + c * (length + gap) / 2, y + s * (length + gap) / 2
            for side in (-1, 1):
                ex, ey = jx - s * side * width * 0.45, jy + c * side * width * 0.45
                for lean in (-1, 1):
                    sc, ss = turn(-s * side, c * side, lean * rng.uniform(0.4, 0.9))
                    reach = rng.uniform(0.8, 1.8) * width
                    drawing.line(ex, ey, ex + sc * reach, ey + ss * reach, 0.5, rng.uniform(12, 24), 0.9)
        c, s = turn(c, s, bend)
        x, y = x + c * (length + gap), y + s * (length + gap)
    return drawing


def pennate(rng: random.Random, length: float, width: float, downhill: bool = False) -> Drawing:
    """A long, thin pennate diatom with two plastid bands along it (``downhill``: see :func:`chain`)."""
    drawing, soft = Drawing(), _soft(rng) * 0.8
    c, s = direction(rng, 0.15)
    if downhill:
        c, s = _downhill(c, s)
    a, b = length / 2, width / 2
    drawing.oval(0, 0, a, b, c, s, cell_profile(rng.uniform(12, 22), rng.uniform(60, 100), rng.uniform(8, 16), soft),
                 soft)  # fmt: skip
    for side in (-1, 1):
        u = side * a * rng.uniform(0.2, 0.35)
        drawing.oval(u * c, u * s, a * 0.35, b * 0.45, c, s, blob_profile(rng.uniform(20, 40), 1.2), 1.2)
    return drawing


def ciliate(rng: random.Random, size: float) -> Drawing:
    """A ciliate: a large oval of fine granules with a crown of cilia at one end."""
    drawing, soft = Drawing(), _soft(rng)
    c, s = direction(rng, 0.4)
    a, b = size / 2, size / 2 / rng.uniform(1.2, 1.6)
    drawing.oval(0, 0, a, b, c, s, cell_profile(rng.uniform(6, 14), rng.uniform(40, 70), rng.uniform(8, 15), soft),
                 soft)  # fmt: skip
    for _ in range(rng.randint(10, 18)):
        u, v = rng.uniform(-0.7, 0.7) * a, rng.uniform(-0.6, 0.6) * b
        r = rng.uniform(1.5, 3.5)
        drawing.oval(u * c - v * s, u * s + v * c, r, r, 1, 0, blob_profile(rng.uniform(12, 30), 1.0), 1.0)
    for _ in range(rng.randint(9, 16)):  # cilia around the front end: points of the ellipse past u = 0.55 a
        t = rng.uniform(-0.55, 0.55)
        pu, pv = a * (1 - t * t) / (1 + t * t), b * 2 * t / (1 + t * t)
        nu, nv = pu / (a * a), pv / (b * b)
        n = math.sqrt(nu * nu + nv * nv)
        reach = rng.uniform(4, 9)
        qu, qv = pu + nu / n * reach, pv + nv / n * reach
        drawing.line(pu * c - pv * s, pu * s + pv * c, qu * c - qv * s, qu * s + qv * c, 0.6, rng.uniform(18, 32), 0.9)
    return drawing


def detritus(rng: random.Random, size: float) -> Drawing:
    """A small irregular clump of a few overlapping soft blobs."""
    drawing, soft = Drawing(), _soft(rng)
    for _ in range(rng.randint(2, 4)):
        c, s = direction(rng)
        a = size * rng.uniform(0.2, 0.4)
        x, y = rng.uniform(-0.25, 0.25) * size, rng.uniform(-0.2, 0.2) * size
        drawing.oval(x, y, a, a * rng.uniform(0.6, 1), c, s, cell_profile(rng.uniform(20, 45), rng.uniform(20, 50),
                     rng.uniform(4, 10), soft), soft)  # fmt: skip
    return drawing


def organism(rng: random.Random, big: bool = False) -> Drawing:
    """One of the kinds a bin holds, mostly small things as in real water; ``big``: a large one."""
    kind = (
        rng.choice(("chain", "chain", "ciliate", "pennate"))
        if big
        else rng.choices(("round", "detritus", "chain", "pennate", "ciliate"), weights=(30, 20, 25, 17, 8))[0]
    )
    if kind == "round":
        return round_cell(rng, rng.uniform(14, 60))
    if kind == "detritus":
        return detritus(rng, rng.uniform(12, 32))
    if kind == "chain":
        cells = rng.randint(5, 9) if big else rng.randint(2, 5)
        return chain(rng, cells, rng.uniform(14, 34), rng.uniform(12, 30), setae=rng.random() < 0.4)
    if kind == "pennate":
        return pennate(rng, rng.uniform(110, 220) if big else rng.uniform(40, 120), rng.uniform(7, 16))
    return ciliate(rng, rng.uniform(70, 120) if big else rng.uniform(40, 75))


def render_roi(rng: random.Random, drawing: Drawing, background: float, multiple: int = 1) -> tuple[int, int, bytes]:
    """The drawing framed by a margin as an instrument frames its ROIs: ``(width, height, pixels)``,
    the width a multiple of ``multiple`` (8 on D-style instruments)."""
    x0, y0, x1, y1 = drawing.extent
    width, height = int(x1 - x0) + 1, int(y1 - y0) + 1
    width = -(-width // multiple) * multiple
    canvas = drawing.render(width, height, (width - (x1 - x0)) / 2 - x0, -y0)
    return width, height, canvas.pixels(rng, background)


def _d_rois(rng: random.Random, n: int, *, t0: float = 0.0, big: int = 0, background: float = 205) -> list[Roi]:
    """n triggers of a D-style bin: about one in six without an image, times that advance by 0.5 s;
    ``big`` of the images are large organisms (long chains, large ciliates and pennates)."""
    rois = []
    large = set(rng.sample([k for k in range(1, n + 1) if k % 6], big))
    for k in range(1, n + 1):
        t = t0 + 0.5 * k
        columns = {"ADCtime": t, "GrabTimeStart": t, "GrabTimeEnd": t + 0.04, "RunTime": t + 0.05,
                   "InhibitTime": round(0.01 * k, 6)}  # fmt: skip
        if k % 6 == 0:
            rois.append(Roi(columns=columns))
        else:
            w, h, pixels = render_roi(rng, organism(rng, big=k in large), background, multiple=8)
            x, y = rng.randrange(0, CAMERA[0] - w), rng.randrange(0, CAMERA[1] - h)
            rois.append(Roi(width=w, height=h, x=x, y=y, pixels=pixels, columns=columns))
    return rois


CAMERA = (1380, 1034)  # the camera's frame, in which ROIs are placed


def _single(rng: random.Random, drawing: Drawing, x: int, y: int, trigger: int) -> Roi:
    w, h, pixels = render_roi(rng, drawing, I_BACKGROUND)
    return Roi(width=w, height=h, x=x, y=y, trigger=trigger, pixels=pixels)


def _pair(rng: random.Random, drawing: Drawing, x: int, y: int, trigger: int) -> list[Roi]:
    """One organism cut in two overlapping ROIs of one trigger, as old instruments wrote a stitched pair:
    the first takes the top left of its box, the second the bottom right, leaving two corners to no ROI."""
    width, height, pixels = render_roi(rng, drawing, I_BACKGROUND)
    a = (0, 0, width * 6 // 10, height * 3 // 4)
    b = (width * 4 // 10, height // 5, width - width * 4 // 10, height - height // 5)
    rois = []
    for bx, by, bw, bh in (a, b):
        crop = b"".join(pixels[(by + r) * width + bx : (by + r) * width + bx + bw] for r in range(bh))
        rois.append(Roi(width=bw, height=bh, x=x + bx, y=y + by, trigger=trigger, pixels=crop))
    return rois


I_BACKGROUND = 200.0


def _i_rois(rng: random.Random) -> list[Roi]:
    """An I-style bin with two stitched pairs, a same-trigger non-overlapping pair and a no-image trigger."""
    rois = [_single(rng, round_cell(rng, 40), 100, 200, 1)]
    rois += _pair(rng, chain(rng, 4, 30, 22, setae=True, downhill=True), 210, 400, 2)
    rois += [_single(rng, detritus(rng, 24), 10, 10, 3), _single(rng, round_cell(rng, 22), 400, 400, 3)]
    rois += [Roi(trigger=4)]
    rois += _pair(rng, pennate(rng, 90, 12, downhill=True), 20, 5, 5)
    rois += [_single(rng, ciliate(rng, 56), 600, 300, 6)]
    for k, roi in enumerate(rois):
        roi.columns = {"triggerOpenTime": 0.3 * roi.trigger - 0.1, "frameGrabTime": 0.3 * roi.trigger + 0.02,
                       "processingEndTime": 0.3 * roi.trigger + 0.05 + 0.001 * k}  # fmt: skip
    return rois


def generate_sample(root: Path) -> None:
    rng = random.Random(20240215)
    day1 = root / "data" / "D2024" / "D20240215"
    day2 = root / "data" / "D2024" / "D20240216"
    gps = {"gpsLatitude": 41.325, "gpsLongitude": -70.5667}
    write_bin(day1, "D20240215T150055_IFCB010", _d_rois(rng, 40, big=6, background=207), header=gps, seed=1)
    write_bin(day1, "D20240215T152410_IFCB010", _d_rois(rng, 30, big=3, background=203),
              header={**gps, "gpsLatitude": 41.335}, seed=2)  # fmt: skip
    write_bin(day2, "D20240216T010203_IFCB010", _d_rois(rng, 24, big=2, background=198), seed=3)
    write_bin(day2, "D20240216T020000_IFCB010", [], header={"runTime": 0.62, "inhibitTime": 0.04}, seed=4)
    write_bin(root / "data" / "IFCB5_2014_100", "IFCB5_2014_100_120000", _i_rois(rng), seed=5)
    # decoys the default include/exclude rules must not list
    write_bin(root / "data" / "skip", "D20240215T160000_IFCB010", _d_rois(rng, 3), seed=6)
    write_bin(root / "notes", "D20240215T170000_IFCB010", _d_rois(rng, 3), seed=7)


CLASSES = ("Chaetoceros", "Guinardia", "Skeletonema", "detritus")


def generate_products(data: Path, root: Path) -> None:
    """``{pid}_class_scores.csv`` for every sample bin with images: seeded scores whose winner is
    confident (>= 0.7) for most ROIs; in ``D20240216T010203_IFCB010`` no ROI reaches 0.7."""
    from ifcbkit import SyncIfcbDataDirectory

    directory = SyncIfcbDataDirectory(data)
    rng = random.Random(7)
    for fileset in sorted(directory.list(), key=lambda f: f["pid"]):  # the seeded draws in id order
        pid = fileset["pid"]
        roi_ids = directory.list_roi_ids(pid)
        if not roi_ids:
            continue
        timid = pid == "D20240216T010203_IFCB010"
        lines = ["pid," + ",".join(CLASSES)]
        for roi_id in roi_ids:
            winner = rng.randrange(len(CLASSES))
            top = rng.uniform(0.3, 0.65) if timid else rng.choice((rng.uniform(0.72, 0.98), rng.uniform(0.4, 0.6)))
            rest = [rng.uniform(0, (1 - top) / len(CLASSES)) for _ in CLASSES]
            scores = [top if i == winner else rest[i] for i in range(len(CLASSES))]
            lines.append(roi_id + "," + ",".join(f"{s:.4f}" for s in scores))
        day = root / os.path.relpath(os.path.dirname(fileset["hdr"]), data / "data")
        day.mkdir(parents=True, exist_ok=True)
        (day / f"{pid}_class_scores.csv").write_text("\n".join(lines) + "\n")


_V1_CONTEXT = (
    '"Imaging FlowCytobot Acquisition Software version 1.0; October 2005"\r\n'
    '"Heidi M. Sosik and Robert J. Olson"\r\n'
    '"Woods Hole Oceanographic Institution"\r\n'
)

HEADERS = {
    # 2005 family: no values at all (the oldest files), then 3, 5 and 6 value columns
    "v1_0values.hdr": _V1_CONTEXT + '"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl) BlobSizeThresh"\r\n',
    "v1_3values.hdr": _V1_CONTEXT
    + '"SyringeStatus =  1"\r\n"Temp Humidity BinarizeThresh"\r\n'
    + '" 12.75"," 40.5"," 25"\r\n',
    "v1_5values.hdr": _V1_CONTEXT
    + '"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl)"\r\n'
    + '" 9.5"," 51.25"," 28"," .7"," .55"\r\n',
    "v1_6values.hdr": _V1_CONTEXT
    + '"SyringeStatus =  0"\r\n"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl) BlobSizeThresh"\r\n'
    + '" 11.4799732421875"," 32.167437512207"," 30"," .675"," .6"," 10"\r\n',
    # 2010 free-text family with a Sample Date line
    "v2_2010_sample_date.hdr": "Imaging FlowCytobot Acquisition Software version 2.0; May 2010\r\n"
    + "Sample Date: 06/28/2010 14:37:12\r\n"
    + "run time = 1197.363 s  inhibit time = 38.952 s\r\n"
    + "18.25 temperature, 45.5 humidity\r\n",
    # key: value family, 2013 and 2022 spellings of the ADC columns
    "kv_2013.hdr": "softwareVersion: Imaging FlowCytobot Acquisition Software version 2.0, build 380; May 2010\n"
    "Housekeeping firmware version 31\n"
    "sampleTime: 2013-05-26T09:52:07Z\n"
    "imagerID: 13\t\nDataFilePath: c:/Data\t\nrunTime: 1231.024861\t\ninhibitTime: 11.622980\t\n"
    "altSamplePortNumber: 0\t\nautoWindowsShutdown: 0\t\nrunType: NORMAL\n"
    "ADCFileFormat: trigger#, ADC_time, PMTA, PMTB, PMTC, PMTD, peakA, peakB, peakC, peakD, time of flight, "
    "grabtimestart, grabtimeend, ROIx, ROIy, ROIwidth, ROIheight,start_byte, comparator_out, STartPoint, "
    "SignalLength, status, runTime, inhibitTime\n",
    "kv_2022.hdr": "SoftwareVersion: IFCBacquire 2.3.1.0\n"
    "sampleTime: Jul/17/2022 16:17:39.00 UTC\t\n"
    "imagerID: 127\t\nrunTime: 1200.004\t\ninhibitTime: 27.3\t\ntriggerCount: 7031\t\nroiCount: 6521\t\n"
    "gpsLatitude: 41.325\t\ngpsLongitude: -70.5667\t\nsampleType: Normal\t\nFlashlampOn: True\t\n"
    "outputFileDirectory: D:\\data\\{0}\t\n"
    "ADCFileFormat: trigger#, ADCtime, PMTA, PMTB, PMTC, PMTD, PeakA, PeakB, PeakC, PeakD, TimeOfFlight, "
    "GrabTimeStart, GrabTimeEnd, RoiX, RoiY, RoiWidth, RoiHeight, StartByte, ComparatorOut, StartPoint, "
    "SignalLength, Status, RunTime, InhibitTime\n",
}


def generate_headers(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in HEADERS.items():
        (root / name).write_bytes(text.encode("latin-1"))


def generate(target: Path = HERE) -> None:
    for sub in ("sample", "products", "headers"):
        shutil.rmtree(target / sub, ignore_errors=True)
    generate_sample(target / "sample")
    generate_products(target / "sample", target / "products")
    generate_headers(target / "headers")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
