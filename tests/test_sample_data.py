"""The committed sample data is exactly what ``tests/data/generate.py`` generates, and it all reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ifcbkit import adc_column_names, bin_images, parse_adc_table, parse_hdr_file

DATA = Path(__file__).resolve().parent / "data"


def _load_generator():
    spec = importlib.util.spec_from_file_location("ifcbkit_sample_generator", DATA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_sample_equals_a_fresh_generation(tmp_path):
    _load_generator().generate(tmp_path)
    for sub in ("sample", "products", "headers"):
        fresh, committed = _files(tmp_path / sub), _files(DATA / sub)
        assert sorted(fresh) == sorted(committed), sub
        for name, content in fresh.items():
            assert content == committed[name], f"tests/data/{sub}/{name} differs from a fresh generation"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["headers", "products", "sample"]


def test_generation_is_deterministic(tmp_path):
    generator = _load_generator()
    generator.generate(tmp_path / "one")
    generator.generate(tmp_path / "two")
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_every_sample_bin_reads():
    bins = sorted((DATA / "sample").rglob("*.hdr"))
    assert len(bins) == 7
    total_images = 0
    for hdr in bins:
        pid = hdr.stem
        header = parse_hdr_file(hdr)
        columns = adc_column_names(header)
        adc = hdr.with_suffix(".adc").read_bytes()
        table = parse_adc_table(pid, adc, columns=columns)
        images = bin_images(pid, adc, hdr.with_suffix(".roi").read_bytes(), columns=columns)
        for target in images:
            image = images[target]
            assert image.mode == "L" and image.size[0] > 0 and image.size[1] > 0
        total_images += len(images)
        if pid.startswith("D"):
            assert header["triggerCount"] == len(table)
            assert header["roiCount"] == len(images)
    assert total_images > 80


def test_sample_has_what_the_tests_rely_on():
    sample = DATA / "sample"
    i_bin = sample / "data" / "IFCB5_2014_100" / "IFCB5_2014_100_120000"
    images = bin_images(i_bin.name, i_bin.with_suffix(".adc").read_bytes(), i_bin.with_suffix(".roi").read_bytes())
    assert images.pairs == [(2, 3), (7, 8)]
    assert len(images) == 6
    empty = sample / "data" / "D2024" / "D20240216" / "D20240216T020000_IFCB010"
    assert empty.with_suffix(".adc").stat().st_size == 0 and empty.with_suffix(".roi").stat().st_size == 0
    assert (sample / "data" / "skip" / "D20240215T160000_IFCB010.roi").is_file()
    assert (sample / "notes" / "D20240215T170000_IFCB010.roi").is_file()


def test_sample_products_score_the_sample_bins():
    """Every sample bin with images has class scores for exactly its ROI ids; one bin has no confident ROI."""
    from ifcbkit import SyncIfcbDataDirectory, add_target, read_class_scores

    directory = SyncIfcbDataDirectory(DATA / "sample")
    files = {p.name.removesuffix("_class_scores.csv"): p for p in (DATA / "products").rglob("*_class_scores.csv")}
    with_images = [f["pid"] for f in directory.list() if directory.list_roi_ids(f["pid"])]
    assert sorted(files) == sorted(with_images)
    for pid, path in files.items():
        scores = read_class_scores(path)
        assert [add_target(pid, t) for t in scores.scores] == directory.list_roi_ids(pid)
    timid = read_class_scores(files["D20240216T010203_IFCB010"])
    assert max(max(row) for row in timid.scores.values()) < 0.7


def _largest_d_style_bin(directory) -> str:
    return max((f["pid"] for f in directory.list() if f["pid"].startswith("D")),
               key=lambda pid: len(directory.list_roi_ids(pid)))  # fmt: skip


def test_the_sample_mosaic_page_is_mostly_images(tmp_path):
    """``ifcbkit mosaic`` of the largest D-style sample bin on a 300x400 page at scale 1 is mostly
    images, not background: by the placements' area and by the written page's pixels."""
    import subprocess
    import sys

    from PIL import Image

    from ifcbkit import SyncIfcbDataDirectory
    from ifcbkit.view.mosaic import BACKGROUND, plan

    directory = SyncIfcbDataDirectory(DATA / "sample")
    pid = _largest_d_style_bin(directory)
    assert pid == "D20240215T150055_IFCB010"
    sizes = [(g["roi_id"], (g["width"], g["height"])) for g in directory.list_images(pid).values()]
    placements, _ = plan(sizes, (300, 400), 1)
    assert sum(p.width * p.height for p in placements) / (300 * 400) > 0.75
    out = tmp_path / "page.png"
    done = subprocess.run([sys.executable, "-m", "ifcbkit.cli", "mosaic", str(DATA / "sample"), pid, "--shape",
                           "300x400", "--scale", "1", "--out", str(out)], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(out) as page:
        pixels = page.tobytes()
    assert sum(1 for p in pixels if p != BACKGROUND) / len(pixels) > 0.7


def test_sample_images_look_like_camera_images_of_cells():
    """Every sample image is smooth (neighbouring pixels mostly differ by a few levels, as on a camera,
    not by ~85 as random bytes do), light (median 185-225) with a dark object in it, and the sizes span
    small cells to long chains; the whole sample with its products stays under 1 MB."""
    from statistics import median

    from ifcbkit import SyncIfcbDataDirectory

    directory = SyncIfcbDataDirectory(DATA / "sample", include=["data", "notes"], exclude=[])
    widths = []
    for fileset in directory.list():
        for roi_id, image in directory.iter_images(fileset["pid"], stitch=False):
            width = image.size[0]
            pixels = image.tobytes()
            steps = [abs(pixels[k] - pixels[k + 1]) for k in range(len(pixels) - 1) if (k + 1) % width]
            assert median(steps) <= 4 and sum(steps) / len(steps) < 12, roi_id
            assert 185 <= median(pixels) <= 225 and min(pixels) < 150, roi_id
            widths.append(width)
    assert min(widths) < 48 and max(widths) >= 200
    size = sum(p.stat().st_size for sub in ("sample", "products") for p in (DATA / sub).rglob("*") if p.is_file())
    assert size < 1_000_000
