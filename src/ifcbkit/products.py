"""Products where ifcbkit 0.3.1 has them: reading them is :mod:`ifcbkit.formats.products`, finding
them in a tree :mod:`ifcbkit.faces.products`."""

from __future__ import annotations

from .faces.products import (
    async_blob_path,
    async_class_scores_path,
    async_features_path,
    async_find_product_file,
    async_list_product_files,
    async_product_path,
    sync_blob_path,
    sync_class_scores_path,
    sync_features_path,
    sync_find_product_file,
    sync_list_product_files,
    sync_product_path,
)
from .formats.products import (
    ClassScoresRows,
    read_blobs,
    read_class_scores,
    read_features,
)

__all__ = [
    "ClassScoresRows",
    "async_find_product_file",
    "async_list_product_files",
    "async_product_path",
    "async_blob_path",
    "async_class_scores_path",
    "async_features_path",
    "sync_find_product_file",
    "sync_list_product_files",
    "sync_product_path",
    "sync_blob_path",
    "sync_class_scores_path",
    "sync_features_path",
    "read_blobs",
    "read_features",
    "read_class_scores",
]
