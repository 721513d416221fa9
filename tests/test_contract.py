"""The public contract of ifcbkit 0.3.1, which this package implements: names at their module paths,
signatures, return shapes and answers (what is raised, skipped, ``None`` or ``False``), on both
faces, on the shared real bins. Written from that release's documented interface, in our words.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import shutil
import threading
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

import ifcbkit
from helpers import call, resolve
from ifcbkit import (
    AdcLineWarning,
    AsyncFilesystemBinStore,
    AsyncFilesystemRoiStore,
    AsyncIfcbDataDirectory,
    BinImages,
    ClassScoresRows,
    FormatError,
    MissingTargetWarning,
    NotFoundError,
    SyncFilesystemRoiStore,
    SyncIfcbDataDirectory,
)

D_BIN = "D20130526T095207_IFCB013"
I_BIN = "IFCB5_2012_028_081515"
D_TARGETS = [7, 11, 13, 21, 32, 33, 47, 49, 54, 61, 66, 68, 73, 78, 80, 92, 99, 102, 114]

# ----- every public name, where 0.3.1 has it ---------------------------------------------------

NAMES = {
    "ifcbkit": """parse_bin_id parse_roi_id parse_pid add_target bin_timestamp bin_day_dir bin_year bin_instrument_id
        parse_i_style_bin_id parse_d_style_bin_id parse_target parse_hdr parse_hdr_file parse_hdr_bytes
        iter_adc_targets targets_to_dict parse_adc_bytes parse_adc_file parse_adc_line extract_roi_images
        extract_roi_images_from_targets extract_roi_image validate_path make_fileset_filter async_list_filesets
        sync_list_filesets async_list_data_dirs sync_list_data_dirs async_find_fileset sync_find_fileset
        SyncIfcbDataDirectory AsyncIfcbDataDirectory DEFAULT_EXCLUDE DEFAULT_INCLUDE async_find_product_file
        async_list_product_files async_blob_path async_class_scores_path async_features_path read_blobs
        read_class_scores read_features sync_find_product_file sync_list_product_files sync_blob_path
        sync_class_scores_path sync_features_path ClassScoresRows AsyncBinStore SyncRoiStore AsyncRoiStore
        AsyncFilesystemBinStore SyncFilesystemRoiStore AsyncFilesystemRoiStore detect_pairs stitch_pair
        infill_stitched_image BinImages bin_images __version__""",
    "ifcbkit.identifiers": """I_STYLE_PATTERN D_STYLE_PATTERN ROI_ID_PATTERN parse_i_style_bin_id parse_d_style_bin_id
        parse_bin_id bin_timestamp bin_day_dir bin_year bin_instrument_id add_target parse_roi_id parse_target
        parse_pid""",
    "ifcbkit.header": """TEMPERATURE HUMIDITY BINARIZE_THRESHOLD SCATTERING_PMT_SETTING FLUORESCENCE_PMT_SETTING
        BLOB_SIZE_THRESHOLD HDR_SCHEMA HDR_COLUMNS CONTEXT parse_hdr parse_hdr_file parse_hdr_bytes""",
    "ifcbkit.adc": """I_STYLE_COLUMNS D_STYLE_COLUMNS iter_adc_targets targets_to_dict parse_adc_bytes parse_adc_file
        parse_adc_line""",
    "ifcbkit.roi": "extract_roi_images_from_targets extract_roi_images extract_roi_image",
    "ifcbkit.stitching": "detect_pairs stitch_pair infill_stitched_image BinImages bin_images",
    "ifcbkit.fileset": """DEFAULT_EXCLUDE DEFAULT_INCLUDE ADCMOD_DIR ADCMOD_EXT sync_resolve_adc_path
        async_resolve_adc_path validate_path make_fileset_filter async_list_filesets sync_list_filesets
        async_list_data_dirs sync_list_data_dirs async_find_fileset sync_find_fileset SyncIfcbDataDirectory
        AsyncIfcbDataDirectory""",
    "ifcbkit.products": """ClassScoresRows async_find_product_file async_list_product_files async_product_path
        async_blob_path async_class_scores_path async_features_path sync_find_product_file sync_list_product_files
        sync_product_path sync_blob_path sync_class_scores_path sync_features_path read_blobs read_features
        read_class_scores""",
    "ifcbkit.stores": "AsyncBinStore SyncRoiStore AsyncRoiStore",
    "ifcbkit.stores.filesystem": "AsyncFilesystemBinStore SyncFilesystemRoiStore AsyncFilesystemRoiStore",
    "ifcbkit.stores.s3": """IfcbPidTransformer IfcbBinKeyTransformer list_roi_ids_from_s3 AsyncS3BinStore S3RoiStore
        AsyncS3RoiStore AsyncDictRoiStore""",
    "ifcbkit.stores.caching": "CachingBinStore CachingRoiStore",
}


@pytest.mark.parametrize("module", sorted(NAMES))
def test_every_name_is_at_its_module_path(module):
    mod = importlib.import_module(module)
    missing = [name for name in NAMES[module].split() if not hasattr(mod, name)]
    assert missing == []


def test_names_are_the_same_objects_everywhere():
    from ifcbkit import adc, fileset, identifiers, stitching

    assert identifiers.parse_target is identifiers.parse_roi_id is ifcbkit.parse_target
    assert stitching.BinImages is ifcbkit.BinImages and stitching.bin_images is ifcbkit.bin_images
    assert fileset.SyncIfcbDataDirectory is SyncIfcbDataDirectory
    assert adc.parse_adc_line is ifcbkit.parse_adc_line
    assert ifcbkit.__version__ == "0.7.1"


# ----- signatures: 0.3.1's parameters (names, order, kinds, defaults) come first ------------------

FUNCTIONS = {
    "ifcbkit.parse_bin_id": "(bin_id)",
    "ifcbkit.parse_d_style_bin_id": "(bin_id)",
    "ifcbkit.parse_i_style_bin_id": "(bin_id)",
    "ifcbkit.parse_roi_id": "(roi_id)",
    "ifcbkit.parse_pid": "(pid)",
    "ifcbkit.add_target": "(bin_id, target)",
    "ifcbkit.bin_timestamp": "(bin_id)",
    "ifcbkit.bin_day_dir": "(bin_id)",
    "ifcbkit.bin_year": "(bin_id)",
    "ifcbkit.bin_instrument_id": "(bin_id)",
    "ifcbkit.parse_hdr": "(lines)",
    "ifcbkit.parse_hdr_file": "(path)",
    "ifcbkit.parse_hdr_bytes": "(content)",
    "ifcbkit.iter_adc_targets": "(bin_id, adc_bytes)",
    "ifcbkit.targets_to_dict": "(targets, *, extended=False)",
    "ifcbkit.parse_adc_bytes": "(bin_id, adc_bytes, *, extended=False)",
    "ifcbkit.parse_adc_file": "(bin_id, adc_path, *, extended=False)",
    "ifcbkit.parse_adc_line": "(bin_id, line, line_index)",
    "ifcbkit.extract_roi_images_from_targets": "(targets, roi_bytes, rois=None)",
    "ifcbkit.extract_roi_images": "(bin_id, adc_bytes, roi_bytes, rois=None)",
    "ifcbkit.extract_roi_image": "(roi_file, width, height, offset)",
    "ifcbkit.detect_pairs": "(bin_id, adc_data)",
    "ifcbkit.stitch_pair": "(adc_a, adc_b, image_a, image_b)",
    "ifcbkit.infill_stitched_image": "(image, mask)",
    "ifcbkit.bin_images": "(bin_id, adc_bytes, roi_bytes, *, stitch=True)",
    "ifcbkit.BinImages": "(bin_id, adc_data, images, *, stitch=True)",
    "ifcbkit.validate_path": "(filepath, exclude=DEFAULT_EXCLUDE, include=DEFAULT_INCLUDE)",
    "ifcbkit.make_fileset_filter": "(start_time=None, end_time=None, instrument=None)",
    "ifcbkit.sync_list_filesets": """(dirpath, exclude=DEFAULT_EXCLUDE, include=DEFAULT_INCLUDE, sort=True,
        validate=True, require_adc=True, require_roi=True, start_time=None, end_time=None, instrument=None)""",
    "ifcbkit.async_list_filesets": """(dirpath, exclude=DEFAULT_EXCLUDE, include=DEFAULT_INCLUDE, sort=True,
        validate=True, require_adc=True, require_roi=True, start_time=None, end_time=None, instrument=None)""",
    "ifcbkit.sync_list_data_dirs": "(dirpath, exclude=DEFAULT_EXCLUDE, sort=True, prune=True)",
    "ifcbkit.async_list_data_dirs": "(dirpath, exclude=DEFAULT_EXCLUDE, sort=True, prune=True)",
    "ifcbkit.sync_find_fileset": """(dirpath, pid, include=DEFAULT_INCLUDE, exclude=DEFAULT_EXCLUDE, require_adc=True,
        require_roi=True)""",
    "ifcbkit.async_find_fileset": """(dirpath, pid, include=DEFAULT_INCLUDE, exclude=DEFAULT_EXCLUDE,
        require_adc=True, require_roi=True)""",
    "ifcbkit.fileset.sync_resolve_adc_path": "(fileset_dir, pid, root_path)",
    "ifcbkit.fileset.async_resolve_adc_path": "(fileset_dir, pid, root_path)",
    "ifcbkit.sync_find_product_file": "(directory, filename, exhaustive=False)",
    "ifcbkit.async_find_product_file": "(directory, filename, exhaustive=False)",
    "ifcbkit.sync_list_product_files": "(directory, regex)",
    "ifcbkit.async_list_product_files": "(directory, regex)",
    "ifcbkit.products.sync_product_path": "(directory, filename, exhaustive=False)",
    "ifcbkit.products.async_product_path": "(directory, filename, exhaustive=False)",
    "ifcbkit.sync_blob_path": "(directory, pid, version=4)",
    "ifcbkit.async_blob_path": "(directory, pid, version=4)",
    "ifcbkit.sync_features_path": "(directory, pid, version=4)",
    "ifcbkit.async_features_path": "(directory, pid, version=4)",
    "ifcbkit.sync_class_scores_path": "(directory, pid)",
    "ifcbkit.async_class_scores_path": "(directory, pid)",
    "ifcbkit.read_blobs": "(path)",
    "ifcbkit.read_features": "(path)",
    "ifcbkit.read_class_scores": "(path)",
    "ifcbkit.ClassScoresRows": "(class_names, rows)",
    "ifcbkit.SyncIfcbDataDirectory": """(root_path, include=DEFAULT_INCLUDE, exclude=DEFAULT_EXCLUDE, require_adc=True,
        require_roi=True)""",
    "ifcbkit.AsyncIfcbDataDirectory": """(root_path, include=DEFAULT_INCLUDE, exclude=DEFAULT_EXCLUDE,
        require_adc=True, require_roi=True)""",
    "ifcbkit.AsyncFilesystemBinStore": "(root_path, include=DEFAULT_INCLUDE, exclude=DEFAULT_EXCLUDE)",
    "ifcbkit.SyncFilesystemRoiStore": "(base_path, file_type='png')",
    "ifcbkit.AsyncFilesystemRoiStore": "(base_path, file_type='png')",
    "ifcbkit.stores.s3.AsyncS3BinStore": "(s3_bucket, s3_client=None, s3_prefix=None)",
    "ifcbkit.stores.s3.S3RoiStore": "(s3_bucket, s3_client=None, s3_prefix=None)",
    "ifcbkit.stores.s3.AsyncS3RoiStore": "(s3_bucket, s3_client=None, s3_prefix=None)",
    "ifcbkit.stores.s3.AsyncDictRoiStore": "()",
    "ifcbkit.stores.s3.list_roi_ids_from_s3": "(bucket_store, bin_id, prefix='')",
    "ifcbkit.stores.caching.CachingBinStore": "(fs=None, s3=None)",
    "ifcbkit.stores.caching.CachingRoiStore": "(cache=None, s3=None, fs=None)",
}

DIRECTORY_METHODS = {
    "exists": "(pid)", "paths": "(pid)", "list": "(start_time=None, end_time=None, instrument=None)",
    "list_images": "(pid)", "read_images": "(pid, rois=None)", "read_image": "(roi_id)",
}  # fmt: skip
ASYNC_DIRECTORY_METHODS = {**DIRECTORY_METHODS, "images_exist": "(pid, roi_ids)", "image_exists": "(roi_id)"}
BIN_STORE_METHODS = {
    "exists": "(key)", "get": "(key)", "list_images": "(bin_id)", "read_images": "(bin_id, rois=None)",
    "put": "(key, data)", "read_image": "(roi_id)", "get_path": "(key)", "iter_images": "(bin_id, rois=None)",
}  # fmt: skip
ROI_STORE_METHODS = {"get": "(roi_id)", "exists": "(roi_id)", "put": "(roi_id, image_data)"}


def _expected(spec: str) -> inspect.Signature:
    namespace = {"DEFAULT_EXCLUDE": ifcbkit.DEFAULT_EXCLUDE, "DEFAULT_INCLUDE": ifcbkit.DEFAULT_INCLUDE}
    exec(f"def f{' '.join(spec.split())}: pass", namespace)
    return inspect.signature(namespace["f"])


def _assert_extends(actual: inspect.Signature, spec: str, where: str) -> None:
    """``actual`` has 0.3.1's parameters first, and anything more is optional (a default or keyword-only)."""
    expected = list(_expected(spec).parameters.values())
    got = list(actual.parameters.values())
    assert [(p.name, p.kind, p.default) for p in got[: len(expected)]] == [
        (p.name, p.kind, p.default) for p in expected
    ], f"{where}{actual} does not begin with {spec}"
    for extra in got[len(expected) :]:
        optional = extra.default is not inspect.Parameter.empty or extra.kind is inspect.Parameter.VAR_KEYWORD
        assert optional, f"{where}: extra parameter {extra.name} is required"
    annotation = str(actual.return_annotation)
    assert "Op[" not in annotation and "Generator" not in annotation, f"{where} returns {annotation}"


def _resolve_name(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("dotted", sorted(FUNCTIONS))
def test_function_and_constructor_signatures(dotted):
    _assert_extends(inspect.signature(_resolve_name(dotted)), FUNCTIONS[dotted], dotted)


def _instances(root: Path, client) -> dict[str, tuple[object, dict[str, str]]]:
    from ifcbkit.stores.caching import CachingBinStore, CachingRoiStore
    from ifcbkit.stores.s3 import AsyncDictRoiStore, AsyncS3BinStore, AsyncS3RoiStore, S3RoiStore

    return {
        "SyncIfcbDataDirectory": (SyncIfcbDataDirectory(root), DIRECTORY_METHODS),
        "AsyncIfcbDataDirectory": (AsyncIfcbDataDirectory(root), ASYNC_DIRECTORY_METHODS),
        "AsyncFilesystemBinStore": (AsyncFilesystemBinStore(root), BIN_STORE_METHODS),
        "AsyncS3BinStore": (AsyncS3BinStore("bucket", client), BIN_STORE_METHODS),
        "CachingBinStore": (CachingBinStore(fs=AsyncFilesystemBinStore(root)), BIN_STORE_METHODS),
        "SyncFilesystemRoiStore": (SyncFilesystemRoiStore(root), ROI_STORE_METHODS),
        "AsyncFilesystemRoiStore": (AsyncFilesystemRoiStore(root), ROI_STORE_METHODS),
        "S3RoiStore": (S3RoiStore("bucket", client), ROI_STORE_METHODS),
        "AsyncS3RoiStore": (AsyncS3RoiStore("bucket", client), ROI_STORE_METHODS),
        "AsyncDictRoiStore": (AsyncDictRoiStore(), ROI_STORE_METHODS),
        "CachingRoiStore": (CachingRoiStore(), ROI_STORE_METHODS),
    }


ASYNC_ITERATORS = {"list", "iter_images"}


def test_method_signatures_on_both_faces(sample_root, client):
    for name, (obj, methods) in _instances(sample_root, client).items():
        asynchronous = name.startswith(("Async", "Caching"))
        for method, spec in methods.items():
            bound = getattr(obj, method)
            _assert_extends(inspect.signature(bound), spec, f"{name}.{method}")
            if asynchronous and method not in ASYNC_ITERATORS:
                assert inspect.iscoroutinefunction(bound), f"{name}.{method} is not awaitable"
            elif not asynchronous:
                assert not inspect.iscoroutinefunction(bound), f"{name}.{method} is a coroutine"


# ----- shapes and answers on the real bins ----------------------------------------------------


@pytest.fixture
def tree(real_data, tmp_path) -> Path:
    """A copy of the real bins as ``data/`` (with an ``adcmod/`` sibling to write into)."""
    root = tmp_path / "data"
    for pid, day in ((D_BIN, "D2013/D20130526"), (I_BIN, "IFCB5_2012_028")):
        (root / day).mkdir(parents=True)
        for ext in ("hdr", "adc", "roi"):
            shutil.copy(real_data / "data" / day / f"{pid}.{ext}", root / day / f"{pid}.{ext}")
    return root


def _bytes(tree: Path, pid: str, ext: str) -> bytes:
    return next(tree.rglob(f"{pid}.{ext}")).read_bytes()


def test_identifiers_are_dicts_and_tuples():
    assert ifcbkit.parse_pid(f"{I_BIN}_00003") == {
        "lid": I_BIN, "timestamp": datetime(2012, 1, 28, 8, 15, 15, tzinfo=timezone.utc), "year": 2012,
        "day_dir": "IFCB5_2012_028", "instrument_id": 5, "target": 3, "roi_id": f"{I_BIN}_00003",
    }  # fmt: skip
    assert "target" not in ifcbkit.parse_pid(D_BIN) and ifcbkit.parse_pid(D_BIN)["day_dir"] == "D20130526"
    assert ifcbkit.parse_bin_id(D_BIN) == {"instrument_id": 13, "year": 2013, "month": 5, "day": 26, "hour": 9,
                                           "minute": 52, "second": 7}  # fmt: skip
    assert ifcbkit.parse_bin_id(I_BIN)["day_of_year"] == 28
    assert ifcbkit.parse_roi_id(f"{D_BIN}_00099") == (D_BIN, 99)
    for bad in ("", "garbage", "X20130526T095207_IFCB013", "D2013052"):
        with pytest.raises(ValueError):
            ifcbkit.parse_bin_id(bad)


def test_adc_shapes(tree):
    adc = _bytes(tree, D_BIN, "adc")
    plain = ifcbkit.parse_adc_bytes(D_BIN, adc)
    assert sorted(plain) == D_TARGETS
    assert plain[99] == {
        "roi_id": f"{D_BIN}_00099",
        "x": plain[99]["x"],
        "y": plain[99]["y"],
        "width": 64,
        "height": 34,
    }
    extended = ifcbkit.parse_adc_bytes(D_BIN, adc, extended=True)
    assert set(extended[99]) == {"roi_id", "x", "y", "width", "height", "trigger", "offset"}
    records = list(ifcbkit.iter_adc_targets(I_BIN, _bytes(tree, I_BIN, "adc")))
    assert [r["target"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert set(records[0]) == {"target", "roi_id", "trigger", "x", "y", "width", "height", "offset"}
    assert ifcbkit.targets_to_dict(records, extended=True) == ifcbkit.parse_adc_bytes(
        I_BIN, _bytes(tree, I_BIN, "adc"), extended=True
    )
    first = _bytes(tree, I_BIN, "adc").decode().splitlines()[0]
    assert ifcbkit.parse_adc_line(I_BIN, first, 0) == {
        "roi_id": f"{I_BIN}_00001", "target": 1, "x": 202, "y": 673, "width": 96, "height": 45, "offset": 1,
    }  # fmt: skip
    assert ifcbkit.parse_adc_bytes(D_BIN, b"") == {}


def test_damaged_adc_lines_are_skipped_with_a_warning_or_raise_when_strict(tree):
    lines = _bytes(tree, I_BIN, "adc").split(b"\n")
    lines[1] = b"this,is,not,a,valid,adc,line"
    damaged = b"\n".join(lines)
    with pytest.warns(AdcLineWarning, match=rf"{I_BIN}\.adc, line 2: damaged ADC line skipped: has 7 columns"):
        adc = ifcbkit.parse_adc_bytes(I_BIN, damaged)
    assert 2 not in adc and sorted(adc) == [1, 3, 4, 5, 6]
    with pytest.raises(FormatError) as info:
        ifcbkit.parse_adc_bytes(I_BIN, damaged, strict=True)
    assert info.value.line == 2
    with pytest.warns(AdcLineWarning):
        assert ifcbkit.parse_adc_line(D_BIN, "bad", 0) is None
    with pytest.raises(FormatError):
        ifcbkit.parse_adc_line(D_BIN, "bad", 0, strict=True)
    # the same on disk, through a data directory and a store, and counted by bin metrics
    path = next(tree.rglob(f"{I_BIN}.adc"))
    path.write_bytes(damaged)
    with pytest.warns(AdcLineWarning, match="line 2"):
        assert sorted(SyncIfcbDataDirectory(tree).list_images(I_BIN)) == [1, 3, 4, 5, 6]
    with pytest.warns(AdcLineWarning):
        assert SyncIfcbDataDirectory(tree).bin_metadata(I_BIN)["skipped_lines"] == 1
    with pytest.raises(FormatError, match="line 2"):
        SyncIfcbDataDirectory(tree, strict=True).list_images(I_BIN)


def test_roi_extraction_and_stitching_shapes(tree, pyifcb_facts):
    adc, roi = _bytes(tree, I_BIN, "adc"), _bytes(tree, I_BIN, "roi")
    raw = ifcbkit.extract_roi_images(I_BIN, adc, roi)
    assert type(raw) is dict and list(raw) == [1, 2, 3, 4, 5, 6]
    assert raw[1].mode == "L" and raw[1].size == (96, 45)
    extended = ifcbkit.parse_adc_bytes(I_BIN, adc, extended=True)
    assert ifcbkit.detect_pairs(I_BIN, extended) == [(3, 4)]
    assert ifcbkit.detect_pairs(D_BIN, ifcbkit.parse_adc_bytes(D_BIN, _bytes(tree, D_BIN, "adc"), extended=True)) == []
    composite, mask = ifcbkit.stitch_pair(extended[3], extended[4], raw[3], raw[4])
    shape = pyifcb_facts[I_BIN]["stitched"]["3"]["shape"]
    assert composite.size == mask.size == (shape[1], shape[0]) and mask.mode == "1"
    assert {mask.getpixel((x, y)) for x in range(mask.width) for y in range(mask.height)} == {0, 1}  # gap: 1
    images = BinImages(I_BIN, extended, raw)  # the 0.3.1 constructor
    assert list(images) == pyifcb_facts[I_BIN]["keys_after_stitching"] and images.pairs == [(3, 4)]
    assert images[3].tobytes() == ifcbkit.bin_images(I_BIN, adc, roi)[3].tobytes()
    assert images.get(4) is None and images.get_raw(1)[1] is None
    assert list(BinImages(I_BIN, extended, raw, stitch=False)) == [1, 2, 3, 4, 5, 6]
    with pytest.warns(MissingTargetWarning, match="9999"):
        assert ifcbkit.extract_roi_images(I_BIN, adc, roi, rois={9999, 1}).keys() == {1}
    with pytest.raises(NotFoundError, match="9999"):
        ifcbkit.extract_roi_images(I_BIN, adc, roi, rois={9999}, strict=True)


DIRECTORIES = {"sync": SyncIfcbDataDirectory, "async": AsyncIfcbDataDirectory}


@pytest.mark.parametrize("face", sorted(DIRECTORIES))
async def test_data_directory_answers(tree, face):
    d = DIRECTORIES[face](str(tree))
    assert d.root_path == str(tree)
    listed = await call(d, "list")
    # in sample-time order (0.3.1 lists in name order; its tests compare sorted ids)
    assert [f["pid"] for f in listed] == [I_BIN, D_BIN] and set(listed[0]) == {"pid", "hdr", "adc", "roi"}
    paths = await call(d, "paths", I_BIN)
    assert paths == {e: str(tree / "IFCB5_2012_028" / f"{I_BIN}.{e}") for e in ("hdr", "adc", "roi")}
    geometry = await call(d, "list_images", I_BIN)
    assert sorted(geometry) == [1, 2, 3, 4, 5, 6]  # the hidden half of the pair is in the ADC dict
    assert set(geometry[4]) == {"roi_id", "x", "y", "width", "height"}
    images = await call(d, "read_images", I_BIN)
    assert isinstance(images, BinImages) and list(images) == [1, 2, 3, 5, 6]
    with pytest.warns(MissingTargetWarning, match="target\\(s\\) 4"):
        subset = await call(d, "read_images", I_BIN, {1, 4})
    assert type(subset) is dict and list(subset) == [1]
    assert (await call(d, "read_image", f"{I_BIN}_00003")).size == images[3].size
    with pytest.raises(KeyError):
        await call(d, "read_image", f"{I_BIN}_00004")
    # not found, for unknown and malformed ids alike, without touching a path
    for bad in ("D20991231T000000_IFCB009", "../../etc/passwd", "garbage"):
        assert await call(d, "exists", bad) is False
        with pytest.raises(KeyError):
            await call(d, "paths", bad)
    with pytest.raises(ValueError):
        await call(d, "read_image", "not_a_roi_id")
    # a corrected ADC beside the root replaces the raw one
    mod = tree.parent / "adcmod" / "IFCB5_2012_028" / f"{I_BIN}.adc.mod"
    mod.parent.mkdir(parents=True)
    mod.write_bytes(_bytes(tree, I_BIN, "adc"))
    assert (await call(DIRECTORIES[face](str(tree)), "paths", I_BIN))["adc"] == str(mod)
    with pytest.raises(ValueError):
        DIRECTORIES[face](str(tree), include=["data"], exclude=["data"])
    with pytest.raises(ValueError):
        DIRECTORIES[face](str(tree), require_adc=False)


async def test_fileset_functions_answer_as_0_3_1(tree):
    # in sample-time order (0.3.1's own tests compare sorted ids)
    assert list(ifcbkit.sync_list_filesets(str(tree))) == [
        (str(tree / "IFCB5_2012_028"), I_BIN), (str(tree / "D2013" / "D20130526"), D_BIN),
    ]  # fmt: skip
    assert [x async for x in ifcbkit.async_list_filesets(str(tree), instrument=5)] == [
        (str(tree / "IFCB5_2012_028"), I_BIN)
    ]
    assert ifcbkit.sync_find_fileset(str(tree), I_BIN) == str(tree / "IFCB5_2012_028" / I_BIN)
    assert await ifcbkit.async_find_fileset(str(tree), "D20991231T000000_IFCB009") is None
    assert list(ifcbkit.sync_list_data_dirs(str(tree))) == [str(tree / "D2013" / "D20130526"),
                                                            str(tree / "IFCB5_2012_028")]  # fmt: skip
    assert ifcbkit.make_fileset_filter() is None
    keep = ifcbkit.make_fileset_filter(instrument=["13"])
    assert keep is not None and keep(D_BIN) and not keep(I_BIN) and not keep("not a bin")
    for bad in ("x", True, ["13", "y"]):
        with pytest.raises(ValueError):
            ifcbkit.make_fileset_filter(instrument=bad)
    assert ifcbkit.validate_path(f"data/D2013/{D_BIN}.hdr") and not ifcbkit.validate_path(f"skip/{D_BIN}.hdr")


def test_products_answer_as_0_3_1(tmp_path):
    import h5py

    (tmp_path / "D2013").mkdir()
    h5 = tmp_path / "D2013" / f"{D_BIN}_class.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("output_scores", data=[[0.1, 0.9], [0.8, 0.2]])
        f.create_dataset("class_labels", data=[b"detritus", b"diatom"])
        f.create_dataset("roi_numbers", data=[7, 11])
    scores = ifcbkit.read_class_scores(h5)
    assert isinstance(scores, ClassScoresRows) and scores.class_names == ["detritus", "diatom"]
    assert scores.rows == [(7, {"detritus": 0.1, "diatom": 0.9}), (11, {"detritus": 0.8, "diatom": 0.2})]
    assert ifcbkit.sync_class_scores_path(tmp_path, D_BIN) == str(h5)
    with pytest.raises(FileNotFoundError):
        ifcbkit.sync_blob_path(tmp_path, D_BIN)
    features = tmp_path / "f.csv"
    features.write_text("roiNumber,Area,Ratio\n7,12,0.5\n11,,1.5\n")
    assert ifcbkit.read_features(features) == [(7, {"Area": 12, "Ratio": 0.5}), (11, {"Ratio": 1.5})]
    assert asyncio.run(ifcbkit.async_find_product_file(tmp_path, h5.name)) == str(h5)
    assert list(ifcbkit.sync_list_product_files(tmp_path, r".*\.h5$")) == [str(h5)]


async def test_stores_answer_as_0_3_1(tree):
    from ifcbkit.stores.caching import CachingBinStore, CachingRoiStore

    store = AsyncFilesystemBinStore(str(tree))
    assert await store.get(f"{I_BIN}.hdr") == _bytes(tree, I_BIN, "hdr")
    assert await store.exists(f"{I_BIN}.roi") is True
    assert await store.exists("garbage.adc") is False
    assert await store.get_path(f"{I_BIN}.adc") == str(tree / "IFCB5_2012_028" / f"{I_BIN}.adc")
    assert await store.get_path("D20991231T000000_IFCB009.adc") is None
    with pytest.raises(KeyError):
        await store.get("D20991231T000000_IFCB009.adc")
    with pytest.raises(NotImplementedError):
        await store.put(f"{I_BIN}.hdr", b"x")
    assert sorted(await store.list_images(I_BIN)) == [1, 2, 3, 4, 5, 6]
    streamed = [(roi_id, image.size) async for roi_id, image in store.iter_images(I_BIN)]
    assert [roi_id for roi_id, _ in streamed] == [f"{I_BIN}_{t:05d}" for t in (1, 2, 3, 5, 6)]
    caching = CachingBinStore(fs=store)
    assert await caching.get_path(f"{I_BIN}.hdr") == str(tree / "IFCB5_2012_028" / f"{I_BIN}.hdr")
    assert (await caching.read_image(f"{I_BIN}_00003")).size == (await store.read_image(f"{I_BIN}_00003")).size
    with pytest.raises(NotImplementedError):
        await caching.put(f"{I_BIN}.hdr", b"x")
    with pytest.raises(ValueError):
        CachingBinStore()
    rois = CachingRoiStore(fs=AsyncFilesystemRoiStore(str(tree)))
    png = await rois.get(f"{D_BIN}_00099")
    assert Image.open(__import__("io").BytesIO(png)).size == (64, 34)
    assert await rois.cache_store.exists(f"{D_BIN}_00099") is True  # the memory tier (cache=None) has it now
    with pytest.raises(KeyError):
        await rois.get(f"{D_BIN}_00001")
    with pytest.raises(RuntimeError):
        await rois.put(f"{D_BIN}_00099", png)
    with pytest.raises(ValueError):
        SyncFilesystemRoiStore(str(tree), "gif")
    assert SyncFilesystemRoiStore(str(tree), ".JPEG").file_type == "jpg"


async def test_a_boto3_client_on_the_async_face_never_blocks_the_loop(endpoint, client):
    import uuid

    from ifcbkit.stores.s3 import AsyncS3BinStore, S3BinStore

    bucket = f"ifcbkit-contract-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    S3BinStore(bucket, client, "p").put(f"{D_BIN}.hdr", b"softwareVersion: 1\n")
    threads: list[int] = []

    def record(**_: object) -> None:
        threads.append(threading.get_ident())

    client.meta.events.register("before-call.s3", record)
    try:
        store = AsyncS3BinStore(s3_bucket=bucket, s3_client=client, s3_prefix="p")
        assert await store.get(f"{D_BIN}.hdr") == b"softwareVersion: 1\n"
        assert await store.exists(f"{D_BIN}.adc") is False
    finally:
        client.meta.events.unregister("before-call.s3", record)
    assert threads and threading.get_ident() not in threads


@pytest.mark.parametrize("face", sorted(DIRECTORIES))
async def test_damaged_lines_on_either_face(tree, face):
    path = next(tree.rglob(f"{D_BIN}.adc"))
    lines = path.read_bytes().split(b"\n")
    lines[6] = b"7,1.5"  # target 7 has an image
    path.write_bytes(b"\n".join(lines))
    with pytest.warns(AdcLineWarning, match=rf"{D_BIN}\.adc, line 7: damaged ADC line skipped"):
        images = await call(DIRECTORIES[face](str(tree)), "read_images", D_BIN)
        assert list(images) == D_TARGETS[1:]
    with pytest.raises(FormatError, match="line 7"):
        await call(DIRECTORIES[face](str(tree), strict=True), "list_images", D_BIN)


class DictBinStore(ifcbkit.AsyncBinStore):
    """A bin store written as 0.3.1 documents it: ``async exists`` and ``async get`` by key."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    async def exists(self, key: str) -> bool:
        return key in self.files

    async def get(self, key: str) -> bytes:
        return self.files[key]


class DictRoiStore(ifcbkit.AsyncRoiStore):
    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}

    async def exists(self, roi_id: str) -> bool:
        return roi_id in self.images

    async def get(self, roi_id: str) -> bytes:
        return self.images[roi_id]

    async def put(self, roi_id: str, image_data: bytes) -> None:
        self.images[roi_id] = image_data


async def test_stores_written_against_0_3_1_get_every_read(tree):
    files = {f"{I_BIN}.{e}": _bytes(tree, I_BIN, e) for e in ("hdr", "adc", "roi")}
    store = DictBinStore(files)
    assert sorted(await store.list_images(I_BIN)) == [1, 2, 3, 4, 5, 6]
    images = await store.read_images(I_BIN)
    assert list(images) == [1, 2, 3, 5, 6] and images.pairs == [(3, 4)]
    reference = SyncIfcbDataDirectory(tree).read_images(I_BIN)
    assert (await store.read_image(f"{I_BIN}_00003")).tobytes() == reference[3].tobytes()
    streamed = [r async for r, _ in store.iter_images(I_BIN, rois=[5, 1])]
    assert streamed == [f"{I_BIN}_00005", f"{I_BIN}_00001"]  # in the order asked, as read_images gives them
    assert await store.get_path(f"{I_BIN}.adc") is None
    with pytest.raises(NotImplementedError):
        await store.put(f"{I_BIN}.adc", b"")
    with pytest.raises(KeyError):
        await store.read_image(f"{D_BIN}_00007")
    rois = DictRoiStore()
    from ifcbkit.stores.caching import CachingRoiStore

    caching = CachingRoiStore(cache=rois, fs=AsyncFilesystemRoiStore(str(tree)))
    png = await caching.get(f"{I_BIN}_00001")
    assert rois.images == {f"{I_BIN}_00001": png}


def test_ids_of_0_3_1_key_helpers():
    from ifcbkit.stores.s3 import IfcbBinKeyTransformer, IfcbPidTransformer, list_roi_ids_from_s3

    assert IfcbPidTransformer().transform_key(f"{D_BIN}_00002") == f"2013/{D_BIN}/00002.png"
    assert IfcbPidTransformer().reverse_transform_key(f"2013/{D_BIN}/00002.png") == f"{D_BIN}_00002"
    assert IfcbBinKeyTransformer().transform_key(f"{I_BIN}.roi") == f"legacy/{I_BIN}.roi"
    assert IfcbBinKeyTransformer().reverse_transform_key(f"legacy/{I_BIN}.roi") == f"{I_BIN}.roi"
    store = ifcbkit.MemoryStore()
    for key in (f"x/2013/{D_BIN}/00011.png", f"x/2013/{D_BIN}/00007.png", f"x/2013/{D_BIN}/notes.txt"):
        store.put(key, b"")
    assert list_roi_ids_from_s3(store, D_BIN, prefix="x") == [f"{D_BIN}_00007", f"{D_BIN}_00011"]


def test_missing_files_are_file_not_found_errors(tmp_path):
    """Regression (hostile input 17): ``parse_hdr_file``/``parse_adc_file`` raised Python's own
    ``FileNotFoundError``; now it is the project's ``MissingFileError``, still a ``FileNotFoundError``
    as 0.3.1 callers expect, naming the file."""
    missing = tmp_path / "D20240215T150055_IFCB010"
    for read in (
        lambda: ifcbkit.parse_hdr_file(f"{missing}.hdr"),
        lambda: ifcbkit.parse_adc_file(D_BIN, f"{missing}.adc"),
        lambda: ifcbkit.read_features(f"{missing}_fea_v4.csv"),
        lambda: list(ifcbkit.read_blobs(f"{missing}_blobs_v4.zip")),
        lambda: ifcbkit.read_class_scores(f"{missing}_class.h5"),
    ):
        with pytest.raises(FileNotFoundError, match=str(missing)) as info:
            read()
        assert isinstance(info.value, KeyError)  # and "not found" to ifcbkit's lookups
        assert isinstance(info.value, ifcbkit.MissingFileError)


def test_warnings_are_ifcbkit_warnings():
    assert issubclass(AdcLineWarning, ifcbkit.IfcbWarning) and issubclass(MissingTargetWarning, ifcbkit.IfcbWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(ifcbkit.parse_pid(D_BIN), Mapping)  # nothing warns on good input
    assert resolve is not None
