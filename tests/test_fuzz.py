"""Fuzzing: on any input, every parser and product reader, and the HTTP and S3 read paths, give a
result or the project's own error (never a foreign exception, never wrong pixels), in bounded time.

The example counts here keep the suite under five minutes; ``python bench/fuzz.py`` runs the same
tests with many more examples (``IFCBKIT_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import uuid
import warnings
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import h5py
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ifcbkit import (
    IfcbError,
    bin_images,
    parse_adc_bytes,
    parse_hdr_bytes,
    read_blobs,
    read_class_scores,
    read_features,
)
from ifcbkit.adc import MAX_ROI_SIDE
from ifcbkit.engine.cache import clear_caches
from ifcbkit.errors import FormatError
from ifcbkit.formats import h5 as h5_reading
from ifcbkit.stores import SyncFilesystemBinStore
from ifcbkit.stores.dashboard import DashboardBinStore
from ifcbkit.stores.s3 import S3BinStore
from ifcbkit.testing import Roi, make_bin, stitched_pair
from servers import DashboardBehaviour, DashboardServer, outcome, pixels

SCALE = max(1, int(os.environ.get("IFCBKIT_FUZZ_EXAMPLES", "1")))  # bench/fuzz.py raises it
SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
# parsers: many examples, each within a second (the hostile-input bound), with slack for a busy machine
PARSER = settings(max_examples=150 * SCALE, deadline=timedelta(seconds=2), suppress_health_check=SUPPRESS)
# whole bins through a store and a server: fewer examples, each a few dozen requests
SERVED = settings(max_examples=12 * SCALE, deadline=None, suppress_health_check=SUPPRESS)

D_ID = "D20240215T150055_IFCB010"
I_ID = "IFCB5_2014_100_120000"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Damaged lines and missing targets warn; the fuzz tests look only at results and errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ----- strategies -----------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-inf", "1e400", "-1e300", "0x1F", "1_000", " 7 ", "+3", "--2", "1e-400"]),
    st.integers(300, 6000).map(lambda n: "9" * n),  # past Python's int digit limit
    st.text(max_size=12),
)


def csv_lines(fields: st.SearchStrategy[str], columns: int = 30) -> st.SearchStrategy[bytes]:
    line = st.lists(fields, min_size=0, max_size=columns).map(",".join)
    return st.lists(line, max_size=12).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))


HEADER_LINE = st.one_of(
    st.builds(lambda k, v: f"{k}: {v}", st.text(min_size=0, max_size=20), st.one_of(NUMBERS, st.text(max_size=40))),
    st.builds(lambda v: f'"{v}"', st.text(max_size=40)),
    st.sampled_from(["Sample Date, Time", "Ver 1.0", "runTime: 20.05", "inhibitTime: 0.4", "ADCFileFormat: a,b,c"]),
    st.integers(1000, 20_000).map(lambda n: "1" * n),  # the 2010 family's numeric third line, very long
    st.integers(1000, 50_000).map(lambda n: "x:" + "4" * n),
)
HEADERS = st.one_of(
    st.lists(HEADER_LINE, max_size=15).map(lambda lines: "\r\n".join(lines).encode("utf-8", "surrogatepass")),
    st.binary(max_size=600),
)


def damage(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` cut short, with bytes overwritten, or with bytes inserted."""
    n = len(data)
    cut = st.integers(0, n).map(lambda k: data[:k])
    flips = st.lists(st.tuples(st.integers(0, max(0, n - 1)), st.integers(0, 255)), min_size=1, max_size=8)

    def flipped(changes: list[tuple[int, int]]) -> bytes:
        out = bytearray(data)
        for position, value in changes:
            if out:
                out[position] = value
        return bytes(out)

    spliced = st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=64)).map(
        lambda t: data[: t[0]] + t[1] + data[t[0] :]
    )
    return st.one_of(cut, flips.map(flipped), spliced)


# ----- parsers --------------------------------------------------------------------------------


@PARSER
@given(HEADERS)
def test_parse_hdr_bytes_gives_a_header_or_a_format_error(data):
    try:
        header = parse_hdr_bytes(data, source="fuzz.hdr")
    except FormatError as e:
        assert "fuzz.hdr" in str(e)
        return
    assert isinstance(header, dict)
    assert all(isinstance(v, (str, int, float, list)) or v is None for v in header.values())


@PARSER
@given(st.sampled_from([D_ID, I_ID]), csv_lines(NUMBERS), st.booleans(), st.booleans())
def test_parse_adc_bytes_gives_records_or_a_format_error(pid, data, extended, strict):
    try:
        with quiet():
            records = parse_adc_bytes(pid, data, extended=extended, strict=strict)
    except FormatError as e:
        assert strict, e  # without strict, a damaged line is skipped with a warning
        return
    for target, record in records.items():
        assert isinstance(target, int) and target >= 1
        assert 0 <= record["width"] <= MAX_ROI_SIDE and 0 <= record["height"] <= MAX_ROI_SIDE


def small_bin(pid: str) -> st.SearchStrategy[tuple[bytes, bytes]]:
    """The ADC and ROI bytes of a generated bin of a few small ROIs (pairs for I-style ids)."""
    box = st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(1, 12), st.integers(1, 12))
    if pid == I_ID:
        rois = st.lists(st.tuples(box, box), min_size=1, max_size=4).map(
            lambda pairs: [roi for k, (a, b) in enumerate(pairs, 1) for roi in stitched_pair(k, a, b)]
        )
    else:
        rois = st.lists(box.map(lambda b: Roi(width=b[2], height=b[3], x=b[0], y=b[1])), min_size=1, max_size=6)
    return rois.map(lambda r: make_bin(pid, r)[1:])


@st.composite
def damaged_bins(draw: Any) -> tuple[str, bytes, bytes]:
    pid = draw(st.sampled_from([D_ID, I_ID]))
    adc, roi = draw(small_bin(pid))
    which = draw(st.sampled_from(["adc", "roi", "both", "neither"]))
    if which in ("adc", "both"):
        adc = draw(damage(adc))
    if which in ("roi", "both"):
        roi = draw(damage(roi))
    return pid, adc, roi


@PARSER
@given(damaged_bins(), st.booleans())
def test_bin_images_gives_whole_images_or_an_error(damaged, stitch):
    pid, adc, roi = damaged
    with quiet():
        try:
            images = bin_images(pid, adc, roi, stitch=stitch)
            geometry = parse_adc_bytes(pid, adc, extended=True)
        except IfcbError:
            return
        for target in images:
            try:
                image = images[target]
            except IfcbError:
                continue
            if target not in dict(images.pairs):
                expected = (geometry[target]["width"], geometry[target]["height"])
                assert image.size == expected  # never a silently short image
            assert image.mode == "L" and max(image.size) <= MAX_ROI_SIDE


# ----- product readers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ifcbkit-fuzz-") as directory:
        yield Path(directory)


def write(scratch: Path, name: str, data: bytes) -> Path:
    path = scratch / uuid.uuid4().hex / name
    path.parent.mkdir()
    path.write_bytes(data)
    return path


CSV_HEADER = st.lists(st.text(min_size=0, max_size=10).filter(lambda t: "," not in t), max_size=5)


@PARSER
@given(CSV_HEADER, csv_lines(NUMBERS, columns=7))
def test_read_class_scores_csv_gives_rows_or_a_format_error(scratch, names, body):
    data = ",".join(["pid", *names]).encode() + b"\n" + body
    path = write(scratch, f"{D_ID}_class_scores.csv", data)
    try:
        rows = read_class_scores(path)
    except FormatError as e:
        assert str(path) in str(e)
        return
    assert all(len(row) == len(rows.class_names) for row in rows.scores.values())


@PARSER
@given(CSV_HEADER, csv_lines(NUMBERS, columns=7))
def test_read_features_gives_rows_or_a_format_error(scratch, names, body):
    data = ",".join(["roi_number", *names]).encode() + b"\n" + body
    path = write(scratch, f"{D_ID}_fea_v4.csv", data)
    try:
        rows = read_features(path)
    except FormatError as e:
        assert str(path) in str(e)
        return
    assert all(isinstance(n, int) and isinstance(row, dict) for n, row in rows)


def _class_h5() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("class_labels", data=[b"diatom", b"ciliate"])
        f.create_dataset("roi_numbers", data=[1, 2, 3])
        f.create_dataset("output_scores", data=[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    return buffer.getvalue()


CLASS_H5 = _class_h5()


@pytest.fixture(scope="module", autouse=True)
def _short_hdf5_reads() -> Iterator[None]:
    """A damaged ``.h5`` can hang or crash the HDF5 library: the child that reads it is given half a
    second here (real files take milliseconds), within the examples' deadline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(h5_reading, "READ_SECONDS", 0.5)
        yield


@PARSER
@given(damage(CLASS_H5))
def test_read_class_scores_h5_gives_rows_or_a_format_error(scratch, data):
    path = write(scratch, f"{D_ID}_class.h5", data)
    try:
        rows = read_class_scores(path)
    except FormatError as e:
        assert str(path) in str(e)
        return
    assert all(len(row) == len(rows.class_names) for row in rows.scores.values())


def _blobs_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for target in (1, 2):
            archive.writestr(f"{D_ID}_{target:05d}.png", bytes(range(200)) * target)
    return buffer.getvalue()


BLOBS_ZIP = _blobs_zip()


@PARSER
@given(damage(BLOBS_ZIP))
def test_read_blobs_gives_members_or_a_format_error(scratch, data):
    path = write(scratch, f"{D_ID}_blobs_v4.zip", data)
    try:
        blobs = list(read_blobs(path))
    except FormatError as e:
        assert str(path) in str(e)
        return
    assert all(isinstance(roi_id, str) and isinstance(png, bytes) for roi_id, png in blobs)


# ----- the HTTP and S3 read paths -------------------------------------------------------------

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)
API_KEYS = st.sampled_from(["num_triggers", "num_images", "ml_analyzed", "lat", "lng", "size", "trigger_freq"])
API_ANSWERS = st.one_of(
    st.dictionaries(API_KEYS, JSON, max_size=7).map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=100),
    st.sampled_from([b'{"num_triggers": 1e400}', b'{"lat": NaN}', b"[" * 5000 + b"]" * 5000]),
)


@pytest.fixture(scope="module")
def served(scratch) -> Iterator[tuple[DashboardServer, Path]]:
    """One dashboard lookalike for the module, serving the bin files written under ``scratch/served``."""
    root = scratch / "served"
    root.mkdir()
    files = {pid: root / pid for pid in (D_ID, I_ID)}
    with DashboardServer(files, {}) as server:
        yield server, root


@SERVED
@given(API_ANSWERS)
def test_bin_metadata_from_any_api_answer_is_metadata_or_a_format_error(served, answer):
    server, _ = served
    server.behaviour = DashboardBehaviour()
    original = DashboardServer._answer

    def answering(method, target, headers, body=b""):
        if "/api/bin/" in target:
            return 200, {"Content-Type": "application/json"}, answer
        return original(server, method, target, headers, body)

    server._answer = answering  # type: ignore[method-assign]
    try:
        with DashboardBinStore(server.url, "mvco", retries=0) as store:
            try:
                metadata = store.bin_metadata(D_ID)
            except FormatError as e:
                assert f"/api/bin/{D_ID}" in str(e)
                return
        assert metadata["pid"] == D_ID and isinstance(metadata["api"], dict)
    finally:
        del server._answer


def compact_snapshot(store: Any, pid: str, probes: list[str] | None = None) -> dict[str, Any]:
    """What a store says about a bin, on the sync face: header, ids, each image (of its ids, or of
    ``probes``), the whole bin."""
    import asyncio

    async def take() -> dict[str, Any]:
        nonlocal probes
        out: dict[str, Any] = {"header": await outcome(lambda: store.read_header(pid))}
        ids = await outcome(lambda: store.list_roi_ids(pid))
        out["ids"] = ids
        if probes is None:
            probes = sorted({*(ids if isinstance(ids, list) else []), f"{pid}_00001", f"{pid}_00002"})
        out["images"] = {r: await outcome(lambda r=r: pixels(store.read_image(r))) for r in probes}
        out["all"] = await outcome(lambda: {t: pixels(i) for t, i in store.read_images(pid).items()})
        return out

    with quiet():
        return asyncio.run(take())


def write_bin_files(root: Path, pid: str, files: tuple[bytes, bytes, bytes]) -> None:
    for ext, data in zip(("hdr", "adc", "roi"), files):
        (root / f"{pid}.{ext}").write_bytes(data)


@st.composite
def damaged_triplets(draw: Any) -> tuple[str, tuple[bytes, bytes, bytes]]:
    pid = draw(st.sampled_from([D_ID, I_ID]))
    adc, roi = draw(small_bin(pid))
    hdr = make_bin(pid, [Roi(width=2, height=2)]).hdr
    which = draw(st.sampled_from(["hdr", "adc", "roi", "none"]))
    files = {"hdr": hdr, "adc": adc, "roi": roi}
    if which != "none":
        files[which] = draw(damage(files[which]))
    return pid, (files["hdr"], files["adc"], files["roi"])


BEHAVIOURS = st.builds(
    DashboardBehaviour,
    ranges=st.booleans(),
    fail_first=st.integers(0, 2),
    short=st.booleans(),
    status=st.sampled_from([None, None, None, 404, 500, 403]),
    partial=st.sampled_from([None, None, "whole", "shifted", "unlabelled", "long"]),
    chunked=st.booleans(),
)


@SERVED
@given(damaged_triplets(), BEHAVIOURS)
def test_a_dashboard_gives_the_filesystem_answer_or_an_error(served, scratch, triplet, behaviour):
    """Whatever the bin's bytes and however the server misbehaves, every read through the dashboard
    store equals the filesystem store's on the same bytes, or is an ifcbkit error: never other pixels."""
    server, root = served
    pid, files = triplet
    write_bin_files(root, pid, files)
    clear_caches()  # a dashboard's files never change, so its store trusts a cached index
    expected = compact_snapshot(SyncFilesystemBinStore(root), pid)
    server.behaviour = behaviour
    clear_caches()
    with DashboardBinStore(server.url, "mvco", retries=2, backoff=0.001, timeout=5, deadline=10) as store:
        got = compact_snapshot(store, pid, list(expected["images"]))
    server.behaviour = DashboardBehaviour()
    assert_same_or_error(got, expected)


def assert_same_or_error(got: Any, expected: Any) -> None:
    if isinstance(got, tuple) and got and got[0] == "error":
        return
    if isinstance(expected, dict) and isinstance(got, dict):
        assert got.keys() == expected.keys()
        for key in expected:
            assert_same_or_error(got[key], expected[key])
        return
    assert got == expected


@pytest.fixture(scope="module")
def fuzz_bucket(client) -> str:
    name = f"ifcbkit-fuzz-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    return name


@SERVED
@given(damaged_triplets())
def test_s3_gives_exactly_the_filesystem_answer(scratch, client, fuzz_bucket, triplet):
    """On S3 (moto) a damaged bin reads exactly as on disk: the same values, the same errors."""
    pid, files = triplet
    root = scratch / uuid.uuid4().hex
    root.mkdir()
    write_bin_files(root, pid, files)
    s3 = S3BinStore(fuzz_bucket, client, "raw")
    for ext, data in zip(("hdr", "adc", "roi"), files):
        s3.put(f"{pid}.{ext}", data)
    assert compact_snapshot(s3, pid) == compact_snapshot(SyncFilesystemBinStore(root), pid)


def test_a_blobs_zip_member_with_an_empty_name_is_skipped_not_an_index_error(tmp_path):
    """Found by the fuzz test above: a flipped byte in a central directory record can give a member an
    empty name, and zipfile's ``ZipInfo.is_dir()`` then raises IndexError; such a member is no image."""
    import io
    import zipfile

    from PIL import Image

    from ifcbkit import read_blobs

    png = io.BytesIO()
    Image.new("1", (4, 3)).save(png, "PNG")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("D20240215T150055_IFCB010_00001.png", png.getvalue())
        archive.writestr("x", b"not an image")
    data = bytearray(buffer.getvalue())
    central = data.rindex(b"PK\x01\x02")  # the last member's central record: its name is one byte, "x"
    data[central + 28 : central + 30] = (0).to_bytes(2, "little")  # the name's length, now 0
    data[central + 46 : central + 47] = b""
    end = data.rindex(b"PK\x05\x06")
    size = int.from_bytes(data[end + 12 : end + 16], "little") - 1
    data[end + 12 : end + 16] = size.to_bytes(4, "little")
    path = tmp_path / "D20240215T150055_IFCB010_blobs_v4.zip"
    path.write_bytes(bytes(data))
    assert [name for name, _ in read_blobs(path)] == ["D20240215T150055_IFCB010_00001"]
