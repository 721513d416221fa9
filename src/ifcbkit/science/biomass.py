"""Biovolume and carbon per ROI and per class of a bin: class results joined to features.

Each ROI a class claims takes its volume from the features file (``Biovolume`` in cubic
pixels), turns it into µm³ and carbon (:mod:`ifcbkit.science.carbon`) with its class's diatom decision
(:mod:`ifcbkit.science.diatoms`). ROIs no class claims need no feature row, and feature rows of ROIs
without a class are ignored; a claimed ROI without a feature row is an error, never zero carbon.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import FormatError
from ..formats.ids import add_target
from .carbon import (
    DEFAULT_MICRON_FACTOR,
    carbon_pg,
    check_convention,
    check_micron_factor,
    esd_um,
    volume_um3,
)
from .class_results import ClassResult
from .diatoms import DiatomTable, default_diatoms

__all__ = ["ROI_BIOMASS_FIELDS", "ClassBiomass", "RoiBiomass", "bin_biomass", "roi_biomass", "roi_biomass_row"]

ROI_BIOMASS_FIELDS: tuple[str, ...] = ("roi_id", "class", "score", "diatom", "biovolume_um3", "carbon_pg", "esd_um")


class RoiBiomass(NamedTuple):
    """One classified ROI: its id, class, score (``None`` when the labels came without one),
    whether the class is a diatom, its volume in µm³, carbon in pg and equivalent spherical
    diameter in µm."""

    roi_id: str
    class_name: str
    score: float | None
    diatom: bool
    biovolume_um3: float
    carbon_pg: float
    esd_um: float


@dataclass(frozen=True, slots=True)
class ClassBiomass:
    """One class of a bin: how many ROIs, their summed volume in µm³ and carbon in pg."""

    count: int
    biovolume_um3: float
    carbon_pg: float
    diatom: bool


def roi_biomass(
    result: ClassResult,
    biovolumes: Mapping[int, float],
    *,
    pid: str | None = None,
    diatoms: DiatomTable | None = None,
    convention: str = "ifcb-analysis",
    micron_factor: float = DEFAULT_MICRON_FACTOR,
    features_source: str = "<features>",
) -> list[RoiBiomass]:
    """The ROIs a class claims in ``result``, in file order, with volume and carbon.

    ``biovolumes`` is ``{roi_number: cubic pixels}`` (:func:`ifcbkit.formats.biovolumes.read_biovolumes`)
    of the features file ``features_source``; ``pid`` names the bin in ROI ids (default
    ``result.pid``); ``diatoms`` decides diatoms (the bundled genera by default); ``convention``
    and ``micron_factor`` as in :mod:`ifcbkit.science.carbon`.

    Raises:
        FormatError: naming both files for a classified ROI without a feature row.
        ValueError: for an unknown convention, a micron factor that is not above 0, or no pid.
    """
    rules = check_convention(convention)
    factor = check_micron_factor(micron_factor)
    table = default_diatoms() if diatoms is None else diatoms
    bin_id = pid or result.pid
    if not bin_id:
        raise ValueError(f"no bin id for the ROIs of {result.source}: pass pid")
    decided: dict[str, bool] = {}
    out: list[RoiBiomass] = []
    for roi in result.rois:
        name = roi.class_name
        if name is None:
            continue
        cubic = biovolumes.get(roi.roi)
        if cubic is None:
            raise FormatError(
                features_source, f"ROI {roi.roi} is classified as {name!r} in {result.source} but has no feature row"
            )
        diatom = decided.get(name)
        if diatom is None:
            diatom = decided[name] = name in table
        volume = volume_um3(cubic, factor)
        out.append(
            RoiBiomass(
                add_target(bin_id, roi.roi),
                name,
                roi.score,
                diatom,
                volume,
                carbon_pg(volume, diatom, rules),
                esd_um(volume),
            )
        )
    return out


def bin_biomass(
    rows: Iterable[RoiBiomass], class_names: Iterable[str] = (), diatoms: DiatomTable | None = None
) -> dict[str, ClassBiomass]:
    """Per class, the count and summed volume and carbon of ``rows``. Every one of
    ``class_names`` is there, with zeros when no ROI has it (its ``diatom`` decided by
    ``diatoms``, the bundled genera by default)."""
    sums: dict[str, list[Any]] = {}
    for row in rows:
        entry = sums.setdefault(row.class_name, [0, 0.0, 0.0, row.diatom])
        entry[0] += 1
        entry[1] += row.biovolume_um3
        entry[2] += row.carbon_pg
    table: DiatomTable | None = None
    out: dict[str, ClassBiomass] = {}
    for name in class_names:
        if name not in sums:
            table = table or (default_diatoms() if diatoms is None else diatoms)
            out[name] = ClassBiomass(0, 0.0, 0.0, name in table)
    for name, (count, volume, carbon, diatom) in sums.items():
        out[name] = ClassBiomass(count, volume, carbon, diatom)
    return {name: out[name] for name in [*dict.fromkeys([*class_names, *sums])]}


def roi_biomass_row(row: RoiBiomass) -> dict[str, Any]:
    """``row`` as a CSV row of :data:`ROI_BIOMASS_FIELDS` (``diatom`` as ``true``/``false``, no
    score as an empty field)."""
    return {
        "roi_id": row.roi_id,
        "class": row.class_name,
        "score": "" if row.score is None else row.score,
        "diatom": "true" if row.diatom else "false",
        "biovolume_um3": row.biovolume_um3,
        "carbon_pg": row.carbon_pg,
        "esd_um": row.esd_um,
    }
