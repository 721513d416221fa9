"""Per-ROI biovolume and carbon of one bin from its products (``ifcbkit carbon``): for QC and size
spectra. The class results and features are found under a products root as ``abundance --carbon``
finds them, and every option means what it means there (docs/carbon.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import IO, Any

from ..errors import NotFoundError, ProductNotFoundError
from ..faces.products import SyncProductDirectory
from ..formats.biovolumes import read_biovolumes
from ..formats.ids import validate_bin_id
from ..science.biomass import ROI_BIOMASS_FIELDS, RoiBiomass, roi_biomass, roi_biomass_row
from ..science.carbon import DEFAULT_MICRON_FACTOR
from ..science.class_results import read_class_result
from ..science.counting import counting
from ..science.diatoms import DiatomTable, default_diatoms
from .csv_output import write_rows_csv

__all__ = ["bin_roi_carbon", "write_roi_carbon_csv"]


def bin_roi_carbon(
    products: str | os.PathLike[str],
    pid: str,
    *,
    threshold: float | None = None,
    thresholds: Mapping[str, float] | str | os.PathLike[str] | None = None,
    rule: str = "winner",
    convention: str = "ifcb-analysis",
    micron_factor: float = DEFAULT_MICRON_FACTOR,
    biovolume_column: str = "Biovolume",
    diatoms: DiatomTable | Iterable[str] | str | os.PathLike[str] | None = None,
) -> list[RoiBiomass]:
    """The ROIs of bin ``pid`` that a class claims, in class-file order, with their volume (µm³),
    carbon (pg) and equivalent spherical diameter (µm), from the class results and features file
    under ``products``. The options are :func:`ifcbkit.daily_abundance`'s; unknown classes in
    ``thresholds`` or ``diatoms`` are warned about.

    Raises:
        ProductNotFoundError: (a ``NotFoundError``) when the bin has no class results or no
            features file there; FormatError: naming the file (and line) for a bad volume, and
            both files for a classified ROI without a feature row; ValueError: for a bad option.
    """
    pid = validate_bin_id(pid)
    how = counting(threshold, thresholds, rule, carbon=True, convention=convention, micron_factor=micron_factor,
                   biovolume_column=biovolume_column, diatoms=diatoms)  # fmt: skip
    assert how.carbon is not None
    if not os.path.isdir(products):
        raise NotFoundError(f"no products root {os.fspath(products)} (a directory)")
    finder = SyncProductDirectory(products)
    score = finder.find(pid, "class_scores")
    if score is None:
        raise ProductNotFoundError(f"no class results for {pid} under {os.fspath(products)}")
    features = finder.find(pid, "features")
    if features is None:
        raise ProductNotFoundError(
            f"no features file for {pid} under {os.fspath(products)} (its class results: {score}); "
            "no carbon without volumes"
        )
    result = read_class_result(score, how.thresholds, how.rule)
    table = how.carbon.diatoms if how.carbon.diatoms is not None else default_diatoms()
    if how.carbon.diatoms is not None:
        how.carbon.diatoms.warn_unknown(result.class_names)
    return roi_biomass(result, read_biovolumes(features, how.carbon.column), pid=pid, diatoms=table,
                       convention=how.carbon.convention, micron_factor=how.carbon.micron_factor,
                       features_source=features)  # fmt: skip


def write_roi_carbon_csv(rows: Iterable[RoiBiomass], file: IO[str] | str | os.PathLike[str]) -> None:
    """Write :func:`bin_roi_carbon`'s rows as CSV (:data:`~ifcbkit.science.biomass.ROI_BIOMASS_FIELDS`)."""
    out: Iterable[dict[str, Any]] = (roi_biomass_row(row) for row in rows)
    write_rows_csv(out, ROI_BIOMASS_FIELDS, file)
