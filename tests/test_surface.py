"""The public surface: at most 60 names in ``ifcbkit.__all__``, and every name the 0.3.1 design had
still importable from the module 0.3.1 had it in (the top-level names of 0.3.1's modules: its
functions, classes and constants, and the names its ``__init__`` imported)."""

from __future__ import annotations

import importlib
import inspect

import pytest

import ifcbkit

# Read with ``ast`` from the 0.3.1 design's source (WHOIGit/ifcbkit 0.3.1, src/ifcbkit): module -> names.
NAMES_031 = {
    "ifcbkit": (
        "AsyncBinStore AsyncFilesystemBinStore AsyncFilesystemRoiStore AsyncIfcbDataDirectory "
        "AsyncRoiStore BinImages ClassScoresRows DEFAULT_EXCLUDE DEFAULT_INCLUDE SyncFilesystemRoiStore "
        "SyncIfcbDataDirectory SyncRoiStore __version__ add_target async_blob_path "
        "async_class_scores_path async_features_path async_find_fileset async_find_product_file "
        "async_list_data_dirs async_list_filesets async_list_product_files bin_day_dir bin_images "
        "bin_instrument_id bin_timestamp bin_year detect_pairs extract_roi_image extract_roi_images "
        "extract_roi_images_from_targets infill_stitched_image iter_adc_targets make_fileset_filter "
        "parse_adc_bytes parse_adc_file parse_adc_line parse_bin_id parse_d_style_bin_id parse_hdr "
        "parse_hdr_bytes parse_hdr_file parse_i_style_bin_id parse_pid parse_roi_id parse_target "
        "read_blobs read_class_scores read_features stitch_pair sync_blob_path sync_class_scores_path "
        "sync_features_path sync_find_fileset sync_find_product_file sync_list_data_dirs "
        "sync_list_filesets sync_list_product_files targets_to_dict validate_path"
    ),
    "ifcbkit.adc": (
        "D_STYLE_COLUMNS I_STYLE_COLUMNS iter_adc_targets parse_adc_bytes parse_adc_file parse_adc_line targets_to_dict"
    ),
    "ifcbkit.fileset": (
        "ADCMOD_DIR ADCMOD_EXT AsyncIfcbDataDirectory DEFAULT_EXCLUDE DEFAULT_INCLUDE "
        "SyncIfcbDataDirectory async_find_fileset async_list_data_dirs async_list_filesets "
        "async_resolve_adc_path make_fileset_filter sync_find_fileset sync_list_data_dirs "
        "sync_list_filesets sync_resolve_adc_path validate_path"
    ),
    "ifcbkit.header": (
        "BINARIZE_THRESHOLD BLOB_SIZE_THRESHOLD CONTEXT FLUORESCENCE_PMT_SETTING HDR_COLUMNS HDR_SCHEMA "
        "HUMIDITY SCATTERING_PMT_SETTING TEMPERATURE parse_hdr parse_hdr_bytes parse_hdr_file"
    ),
    "ifcbkit.identifiers": (
        "D_STYLE_PATTERN I_STYLE_PATTERN ROI_ID_PATTERN add_target bin_day_dir bin_instrument_id "
        "bin_timestamp bin_year parse_bin_id parse_d_style_bin_id parse_i_style_bin_id parse_pid "
        "parse_roi_id parse_target"
    ),
    "ifcbkit.products": (
        "ClassScoresRows async_blob_path async_class_scores_path async_features_path "
        "async_find_product_file async_list_product_files async_product_path read_blobs read_class_scores "
        "read_features sync_blob_path sync_class_scores_path sync_features_path sync_find_product_file "
        "sync_list_product_files sync_product_path"
    ),
    "ifcbkit.roi": "extract_roi_image extract_roi_images extract_roi_images_from_targets",
    "ifcbkit.stitching": "BinImages bin_images detect_pairs infill_stitched_image stitch_pair",
    "ifcbkit.stores": "AsyncBinStore AsyncRoiStore SyncRoiStore add_target bin_images parse_adc_bytes parse_roi_id",
    "ifcbkit.stores.caching": "CachingBinStore CachingRoiStore",
    "ifcbkit.stores.filesystem": "AsyncFilesystemBinStore AsyncFilesystemRoiStore SyncFilesystemRoiStore",
    "ifcbkit.stores.s3": (
        "AsyncDictRoiStore AsyncS3BinStore AsyncS3RoiStore IfcbBinKeyTransformer IfcbPidTransformer "
        "S3RoiStore list_roi_ids_from_s3"
    ),
}


def test_all_holds_at_most_60_names_each_importable_once():
    assert len(ifcbkit.__all__) <= 60
    assert len(set(ifcbkit.__all__)) == len(ifcbkit.__all__)
    for name in ifcbkit.__all__:
        assert hasattr(ifcbkit, name), name


@pytest.mark.parametrize("module", sorted(NAMES_031))
def test_every_name_of_031_is_importable_where_031_had_it(module):
    imported = importlib.import_module(module)
    missing = [name for name in NAMES_031[module].split() if not hasattr(imported, name)]
    assert missing == [], f"{module} lacks {missing}"


def test_names_that_left_all_stay_importable_from_the_top():
    public = {name for name, value in vars(ifcbkit).items() if not name.startswith("_") and not inspect.ismodule(value)}
    assert len(public) > 120  # the stores, parsers and helpers of 0.6.0 besides the 60
    assert {"SyncBinStore", "KeyedSource", "AdcTable", "FilesetFilter", "sync_find_fileset"} <= public
