"""Carbon from cell volume: the Menden-Deuer & Lessard (2000) equations and the conventions that pick one.

A ROI's volume in µm³ is its ``Biovolume`` (cubic pixels, from the features file) times the cube
of the microns per pixel. Its carbon in pg is ``10 ** (log_a + b * log10(V))`` with one of three
fitted equations: protists other than diatoms, diatoms of all sizes, and diatoms larger than
3000 µm³. Non-diatoms always use the protist equation; where the two tools that IFCB groups
publish with differ is the diatoms, hence :data:`CONVENTIONS`:

- ``ifcb-analysis`` (WHOI's MATLAB ``biovol2carbon.m``): the protist equation, except diatoms of
  V ≥ 3000 µm³, which use the large-diatom equation;
- ``irfcb`` (iRfcb's default, ``diatom_equation = "large"``): every diatom uses the large-diatom
  equation;
- ``irfcb-auto`` (iRfcb's ``diatom_equation = "auto"``): the large-diatom equation above
  3000 µm³, the all-sizes diatom equation at or below it.

Menden-Deuer, S. and Lessard, E. J. (2000), Carbon to volume relationships for dinoflagellates,
diatoms, and other protist plankton. Limnol. Oceanogr. 45(3), 569-579.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

__all__ = [
    "CONVENTIONS", "Convention", "DEFAULT_MICRON_FACTOR", "DIATOM", "Equation", "LARGE_DIATOM",
    "LARGE_DIATOM_VOLUME", "PROTIST", "biovolume_mm3", "carbon_pg", "carbon_ug", "check_convention",
    "check_micron_factor", "equation_for", "esd_um", "per_litre", "volume_um3",
]  # fmt: skip

# µm per pixel of the IFCB camera: 1/3.4 in ifcb-analysis (summarize_biovol_TBclassMVCO.m,
# ``micron_factor = 1/3.4``) and iRfcb (ifcb_extract_biovolumes, ``micron_factor = 1 / 3.4``);
# some instruments use 1/2.77 (commented in the same MATLAB files).
DEFAULT_MICRON_FACTOR = 1 / 3.4

# The size above which the large-diatom equation was fitted: ``>= 3000`` in ifcb-analysis's
# biovol2carbon.m, ``> 3000`` in iRfcb's vol2C_diatom_auto.
LARGE_DIATOM_VOLUME = 3000.0


class Equation(NamedTuple):
    """One carbon-to-volume fit: ``log10 C[pg] = log_a + b * log10 V[µm³]``."""

    name: str
    log_a: float
    b: float

    def carbon_pg(self, volume_um3: float) -> float:
        """Carbon in pg of one cell of ``volume_um3`` (0 for a volume of 0)."""
        if volume_um3 == 0:
            return 0.0
        return float(10 ** (self.log_a + self.b * math.log10(volume_um3)))


# Constants as in ifcb-analysis (analyze_by_class/vol2C_nondiatom.m, vol2C_lgdiatom.m) and iRfcb
# (R/ifcb_helper_functions.R: vol2C_nondiatom, vol2C_diatom, vol2C_lgdiatom); both cite
# Menden-Deuer & Lessard (2000). ifcb-analysis has no all-sizes diatom function.
PROTIST = Equation("protist", -0.665, 0.939)
DIATOM = Equation("diatom", -0.541, 0.811)
LARGE_DIATOM = Equation("large-diatom", -0.933, 0.881)

Convention = Literal["ifcb-analysis", "irfcb", "irfcb-auto"]
CONVENTIONS: tuple[Convention, ...] = ("ifcb-analysis", "irfcb", "irfcb-auto")


def check_convention(convention: str) -> Convention:
    """``convention`` checked to be one of :data:`CONVENTIONS`.

    Raises:
        ValueError: for any other name.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"carbon convention must be one of {', '.join(CONVENTIONS)}, not {convention!r}")
    return convention


def check_micron_factor(micron_factor: float) -> float:
    """``micron_factor`` (µm per pixel) as a float, checked to be finite and above 0.

    Raises:
        ValueError: for anything else.
    """
    if (
        isinstance(micron_factor, bool)
        or not isinstance(micron_factor, (int, float))
        or not math.isfinite(micron_factor)
        or micron_factor <= 0
    ):
        raise ValueError(f"the micron factor (µm per pixel) must be a number above 0, not {micron_factor!r}")
    return float(micron_factor)


def volume_um3(cubic_pixels: float, micron_factor: float = DEFAULT_MICRON_FACTOR) -> float:
    """Volume in µm³ of a ``Biovolume`` in cubic pixels, at ``micron_factor`` µm per pixel."""
    return cubic_pixels * micron_factor**3


def equation_for(volume_um3: float, diatom: bool, convention: Convention = "ifcb-analysis") -> Equation:
    """The equation ``convention`` applies to a cell of ``volume_um3`` (a diatom or not)."""
    if not diatom:
        return PROTIST
    if convention == "irfcb":
        return LARGE_DIATOM
    if convention == "irfcb-auto":
        return LARGE_DIATOM if volume_um3 > LARGE_DIATOM_VOLUME else DIATOM
    if convention == "ifcb-analysis":
        return LARGE_DIATOM if volume_um3 >= LARGE_DIATOM_VOLUME else PROTIST
    raise ValueError(f"carbon convention must be one of {', '.join(CONVENTIONS)}, not {convention!r}")


def carbon_pg(volume_um3: float, diatom: bool, convention: Convention = "ifcb-analysis") -> float:
    """Carbon in pg of one cell of ``volume_um3`` under ``convention``."""
    return equation_for(volume_um3, diatom, convention).carbon_pg(volume_um3)


def esd_um(volume_um3: float) -> float:
    """Equivalent spherical diameter in µm: the diameter of a sphere of ``volume_um3``
    (``2 * (3V / 4π) ** (1/3)``, as ifcb-analysis's biovol2esd.m)."""
    return 2 * float((3 * volume_um3 / (4 * math.pi)) ** (1 / 3))


def biovolume_mm3(total_um3: float) -> float:
    """A biovolume in µm³ in mm³ (times 1e-9), the unit of iRfcb's ``biovolume_mm3``."""
    return total_um3 * 1e-9


def carbon_ug(total_pg: float) -> float:
    """A carbon mass in pg in µg (times 1e-6), the unit of iRfcb's ``carbon_ug``."""
    return total_pg * 1e-6


def per_litre(amount: float, ml_analyzed: float) -> float:
    """``amount`` found in ``ml_analyzed`` ml, per litre (``amount / (ml_analyzed / 1000)``);
    NaN when no volume was analysed."""
    return amount / (ml_analyzed / 1000) if ml_analyzed > 0 else math.nan
