"""ifcbkit: read IFCB (Imaging FlowCytobot) raw data and products, exact to the pixel.

Pure Python on Pillow: identifiers, the three raw formats (``.hdr``, ``.adc``,
``.roi``), stitching of I-style pairs, data directories and stores with sync and
async faces over one implementation; volume analyzed and bin metrics, products
(blobs, features, class scores) and daily abundance.

This top level holds the public names of ifcbkit 0.3.1, where that release has
them, and the additions users reach for: the stores, the bin-source protocol
(:class:`BinSource`, :class:`ByteRange`, :class:`KeyedSource`) and the
parsers. ``__all__`` lists the 60 a user needs; the others stay importable.
Everything else is in the module its name says (``ifcbkit.engine.filters``,
``ifcbkit.engine.reader``, ``ifcbkit.stores.s3``, ...).
"""

__version__ = "0.7.1"

# ruff: noqa: F401 (the names outside __all__ are imported to stay importable from here)

from .adc import (
    D_STYLE_COLUMN_NAMES,
    D_STYLE_COLUMNS,
    I_STYLE_COLUMN_NAMES,
    I_STYLE_COLUMNS,
    RoiRecord,
    iter_adc_targets,
    iter_roi_records,
    normalize_column_name,
    parse_adc_bytes,
    parse_adc_file,
    parse_adc_line,
    targets_to_dict,
)
from .engine.source import BinSource, KeyedSource
from .errors import (
    AdcLineWarning,
    ArgumentTypeError,
    ClosedBinError,
    DuplicateBinWarning,
    FormatError,
    IfcbError,
    IfcbWarning,
    InvalidArgumentError,
    InvalidIdentifierError,
    MissingDependencyError,
    MissingFileError,
    MissingTargetWarning,
    NotFoundError,
    ProductNotFoundError,
    ReadOnlyError,
    SkippedBinWarning,
    StoreError,
    TruncatedBinError,
)
from .faces.bins import Bin, open_bin
from .faces.directory import (
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    AsyncIfcbDataDirectory,
    FilesetFilter,
    SyncIfcbDataDirectory,
)
from .faces.products import (
    AsyncProductDirectory,
    ProductFile,
    SyncProductDirectory,
    async_blob_path,
    async_class_scores_path,
    async_features_path,
    async_find_product_file,
    async_list_product_files,
    sync_blob_path,
    sync_class_scores_path,
    sync_features_path,
    sync_find_product_file,
    sync_list_product_files,
)
from .fileset import (
    async_find_fileset,
    async_list_data_dirs,
    async_list_filesets,
    make_fileset_filter,
    sync_find_fileset,
    sync_list_data_dirs,
    sync_list_filesets,
    validate_path,
)
from .formats.adc_table import AdcTable, parse_adc_table
from .formats.hdr import adc_column_names, parse_hdr, parse_hdr_bytes, parse_hdr_file
from .formats.ids import (
    BinId,
    Pid,
    add_target,
    bin_day_dir,
    bin_instrument_id,
    bin_timestamp,
    bin_year,
    parse_bin,
    parse_bin_id,
    parse_d_style_bin_id,
    parse_i_style_bin_id,
    parse_id,
    parse_pid,
    parse_roi_id,
    parse_target,
)
from .formats.images import BinImages, bin_images
from .formats.index import AdcIndex
from .formats.products import ClassScoresRows, read_blobs, read_class_scores, read_features
from .formats.ranges import ByteRange
from .formats.roi import extract_roi_image, extract_roi_images, extract_roi_images_from_targets
from .formats.stitching import detect_pairs, infill_stitched_image, stitch_pair
from .jobs.abundance import AbundanceResult, daily_abundance, write_abundance_csv
from .jobs.batch import BinFailure, iter_bin_metadata
from .science.counting import BinCounts, class_counts, summarize_daily
from .science.manual import read_manual_classes, write_manual_classes
from .science.metrics import (
    ML_METHODS,
    MlAnalyzed,
    bin_metadata,
    compute_ml_analyzed,
)
from .stores import (
    AsyncBinStore,
    AsyncDashboardBinStore,
    AsyncFilesystemBinStore,
    AsyncFilesystemRoiStore,
    AsyncObjectBinStore,
    AsyncObjectRoiStore,
    AsyncRoiStore,
    AsyncS3BinStore,
    AsyncS3RoiStore,
    CachingBinStore,
    CachingRoiStore,
    DashboardBinStore,
    MemoryStore,
    ObjectBinStore,
    ObjectRoiStore,
    S3BinStore,
    S3RoiStore,
    SyncBinStore,
    SyncCachingBinStore,
    SyncCachingRoiStore,
    SyncFilesystemBinStore,
    SyncFilesystemRoiStore,
    SyncRoiStore,
)

# What a user needs, at most 60 names (``from ifcbkit import *``). Every other name imported above
# stays importable from here (0.3.1 had no ``__all__``; its names stay where 0.3.1 had them).
__all__ = [
    "__version__",
    # reading bins: one bin, data and product directories, the bin-source protocol
    "Bin", "open_bin", "SyncIfcbDataDirectory", "AsyncIfcbDataDirectory", "SyncProductDirectory",
    "AsyncProductDirectory", "BinSource", "ByteRange",
    # stores
    "SyncFilesystemBinStore", "AsyncFilesystemBinStore", "S3BinStore", "AsyncS3BinStore", "DashboardBinStore",
    "AsyncDashboardBinStore", "MemoryStore", "SyncCachingBinStore", "CachingBinStore", "ObjectBinStore",
    # the formats: identifiers, header, ADC, ROI, stitching, products
    "parse_bin", "parse_bin_id", "parse_pid", "parse_roi_id", "parse_hdr", "parse_adc_bytes", "parse_adc_file",
    "parse_adc_table", "AdcIndex", "extract_roi_image", "stitch_pair", "bin_images", "read_blobs", "read_features",
    "read_class_scores",
    # science and jobs
    "bin_metadata", "compute_ml_analyzed", "iter_bin_metadata", "class_counts", "daily_abundance",
    "write_abundance_csv", "read_manual_classes", "write_manual_classes",
    # the errors and warnings users catch
    "IfcbError", "IfcbWarning", "FormatError", "NotFoundError", "StoreError", "InvalidIdentifierError",
    "InvalidArgumentError", "ArgumentTypeError", "MissingFileError", "ProductNotFoundError", "TruncatedBinError",
    "ReadOnlyError", "MissingDependencyError", "ClosedBinError", "AdcLineWarning", "SkippedBinWarning",
    "DuplicateBinWarning", "MissingTargetWarning",
]  # fmt: skip
