"""Memory proportional to the work: compact ADC columns, thumbnails that decode what they show, a bounded
stitched-pair memo. (Byte and time figures for big bins are in bench/memory.py.)"""

from __future__ import annotations

import tracemalloc
from array import array

import ifcbkit.formats.adc_table
from ifcbkit import bin_images, parse_adc_table
from ifcbkit.faces.bins import Bin
from ifcbkit.formats.images import STITCHED_MEMO
from ifcbkit.formats.index import AdcIndex
from ifcbkit.formats.roi import FileRoiReader
from ifcbkit.mosaic import mosaic
from ifcbkit.science.metrics import D_ADC_COLUMNS, bin_metadata
from ifcbkit.testing import D_STYLE_COLUMN_NAMES, Roi, make_bin, stitched_pair, write_bin
from ifcbkit.view import display

D_ID = "D20240215T150055_IFCB010"
I_ID = "IFCB5_2014_100_120000"


def test_bin_metadata_peaks_under_three_times_the_adc_and_parses_only_the_columns_it_needs(monkeypatch):
    """A million-line ADC cost 13 times its size: every line split into a list of fields and held."""
    data = make_bin(D_ID, [Roi(2, 2) if k % 7 == 0 else Roi() for k in range(20_000)])
    asked: set[int] = set()
    real = ifcbkit.formats.adc_table.region_floats

    def counting(region, indices, *args):
        asked.update(indices)
        return real(region, indices, *args)

    monkeypatch.setattr(ifcbkit.formats.adc_table, "region_floats", counting)
    tracemalloc.start()
    try:
        meta = bin_metadata(D_ID, data.hdr, data.adc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert meta["num_triggers"] == 20_000 and meta["num_images"] == len(range(0, 20_000, 7))
    assert peak <= 3 * len(data.adc), (peak, len(data.adc))
    assert asked == {D_STYLE_COLUMN_NAMES.index(c) for c in D_ADC_COLUMNS}


def test_tables_and_indexes_hold_arrays_not_lists():
    data = make_bin(D_ID, [Roi(3, 2) for _ in range(1000)])
    table = parse_adc_table(D_ID, data.adc)
    assert isinstance(table.values("RunTime"), array) and table.values("RunTime").typecode == "d"
    assert table.column("RunTime") == list(table.values("RunTime"))
    assert table.row(3)["width"] == 3.0
    index = AdcIndex(D_ID, data.adc)
    assert len(index.keys()) == 1000
    assert index._data == b""  # the geometry arrays hold what the bytes said
    assert all(isinstance(column, array) and column.typecode == "q" for column in index._geo)


class CountingBin(Bin):
    """A bin that counts the images it reads from its ``.roi``."""

    reads = 0

    def _roi(self) -> FileRoiReader:
        reader = super()._roi()
        real = reader.read

        def read(offset: int, length: int) -> bytes:
            self.reads += 1
            return real(offset, length)

        reader.read = read  # type: ignore[method-assign]
        return reader


def test_a_thumbnail_decodes_only_the_images_it_shows(tmp_path):
    rois = [Roi(100 + k % 50, 90 + k % 40) for k in range(300)]
    paths = write_bin(tmp_path, D_ID, rois)
    with CountingBin(str(paths.hdr), str(paths.adc), str(paths.roi), pid=D_ID) as b:
        png = b._repr_png_()
        reads = b.reads
        shown = mosaic(b.images.items(), shape=(240, 320), scale=0.33)  # decoding every image, as before
    assert 0 < len(shown.placements) < 100
    assert reads == len(shown.placements)  # the 300 images were not all read
    assert png == display.png_bytes(shown.image)


def test_a_stream_over_stitched_pairs_holds_a_bounded_memo():
    specs = [roi for k in range(1, 101) for roi in stitched_pair(k, (10, 10, 20, 16), (25, 20, 20, 16))]
    data = make_bin(I_ID, specs)
    images = bin_images(I_ID, data.adc, data.roi)
    streamed = {t: image.tobytes() for t, image in images.items()}
    assert len(streamed) == 100
    assert len(images._stitched) <= STITCHED_MEMO
    fresh = bin_images(I_ID, data.adc, data.roi)
    assert all(fresh[t].tobytes() == pixels for t, pixels in streamed.items())  # the same images, recomputed
    composite, gap = images.get_raw(1)  # an evicted pair is made again
    assert composite.size == (35, 26) and gap is not None
