"""ifcbkit: read IFCB (Imaging FlowCytobot) raw data and products, exact to the pixel.

Pure Python on Pillow: identifiers, the three raw formats (``.hdr``, ``.adc``,
``.roi``), stitching of I-style pairs, data directories and stores with sync and
async faces over one implementation.
"""

__version__ = "0.1.0"

from .adc import (
    D_STYLE_COLUMNS,
    I_STYLE_COLUMNS,
    AdcTable,
    RoiRecord,
    iter_adc_targets,
    normalize_column_name,
    parse_adc_bytes,
    parse_adc_file,
    parse_adc_table,
)
from .bins import Bin, open_bin
from .directory import (
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    AsyncIfcbDataDirectory,
    SyncIfcbDataDirectory,
    async_find_fileset,
    async_list_data_dirs,
    async_list_filesets,
    make_fileset_filter,
    sync_find_fileset,
    sync_list_data_dirs,
    sync_list_filesets,
    validate_path,
)
from .errors import (
    FormatError,
    IfcbError,
    IfcbWarning,
    InvalidIdentifierError,
    MissingDependencyError,
    NotFoundError,
    ReadOnlyError,
    StoreError,
    TruncatedBinError,
)
from .header import adc_column_names, parse_hdr, parse_hdr_bytes, parse_hdr_file
from .identifiers import (
    add_target,
    bin_day_dir,
    bin_instrument_id,
    bin_timestamp,
    bin_year,
    parse_bin_id,
    parse_d_style_bin_id,
    parse_i_style_bin_id,
    parse_pid,
    parse_roi_id,
)
from .images import BinImages, bin_images
from .index import AdcIndex
from .roi import extract_roi_image, extract_roi_images
from .stitching import detect_pairs, infill_stitched_image, stitch_pair
from .stores import (
    AsyncBinStore,
    AsyncFilesystemBinStore,
    AsyncFilesystemRoiStore,
    AsyncRoiStore,
    SyncBinStore,
    SyncFilesystemBinStore,
    SyncFilesystemRoiStore,
    SyncRoiStore,
)

__all__ = [
    "DEFAULT_EXCLUDE",
    "DEFAULT_INCLUDE",
    "D_STYLE_COLUMNS",
    "I_STYLE_COLUMNS",
    "AdcIndex",
    "AdcTable",
    "AsyncBinStore",
    "AsyncFilesystemBinStore",
    "AsyncFilesystemRoiStore",
    "AsyncIfcbDataDirectory",
    "AsyncRoiStore",
    "Bin",
    "BinImages",
    "FormatError",
    "IfcbError",
    "IfcbWarning",
    "InvalidIdentifierError",
    "MissingDependencyError",
    "NotFoundError",
    "ReadOnlyError",
    "RoiRecord",
    "StoreError",
    "SyncBinStore",
    "SyncFilesystemBinStore",
    "SyncFilesystemRoiStore",
    "SyncIfcbDataDirectory",
    "SyncRoiStore",
    "TruncatedBinError",
    "__version__",
    "adc_column_names",
    "add_target",
    "async_find_fileset",
    "async_list_data_dirs",
    "async_list_filesets",
    "bin_day_dir",
    "bin_images",
    "bin_instrument_id",
    "bin_timestamp",
    "bin_year",
    "detect_pairs",
    "extract_roi_image",
    "extract_roi_images",
    "infill_stitched_image",
    "iter_adc_targets",
    "make_fileset_filter",
    "normalize_column_name",
    "open_bin",
    "parse_adc_bytes",
    "parse_adc_file",
    "parse_adc_table",
    "parse_bin_id",
    "parse_d_style_bin_id",
    "parse_hdr",
    "parse_hdr_bytes",
    "parse_hdr_file",
    "parse_i_style_bin_id",
    "parse_pid",
    "parse_roi_id",
    "stitch_pair",
    "sync_find_fileset",
    "sync_list_data_dirs",
    "sync_list_filesets",
    "validate_path",
]
