"""Carbon from volume: the three Menden-Deuer & Lessard equations under the three conventions, units, ESD.

Expected values are worked out by hand (``bc -l``: ``e((log_a + b * l(V) / l(10)) * l(10))``), not by
the code under test:

| V (µm³) | protist (-0.665, 0.939) | diatom (-0.541, 0.811) | large diatom (-0.933, 0.881) |
|---------|-------------------------|------------------------|------------------------------|
| 2,000   | 272.0615486960797       | 136.8155077321633      | 94.45118829667805            |
| 3,000   | 398.1226243379282       | 190.0839015993675      | 135.0031262174257            |
| 50,000  | 5588.983584854547       | 1861.506999316802      | 1609.876548039126            |
"""

from __future__ import annotations

import math

import pytest

from ifcbkit.science.carbon import (
    CONVENTIONS,
    DEFAULT_MICRON_FACTOR,
    DIATOM,
    LARGE_DIATOM,
    PROTIST,
    biovolume_mm3,
    carbon_pg,
    carbon_ug,
    check_convention,
    check_micron_factor,
    equation_for,
    esd_um,
    per_litre,
    volume_um3,
)

PROTIST_PG = {2000: 272.0615486960797, 3000: 398.1226243379282, 50000: 5588.983584854547}
DIATOM_PG = {2000: 136.8155077321633, 3000: 190.0839015993675, 50000: 1861.506999316802}
LARGE_PG = {2000: 94.45118829667805, 3000: 135.0031262174257, 50000: 1609.876548039126}

# Per convention, the carbon of a diatom at each volume (non-diatoms: protist everywhere).
DIATOM_BY_CONVENTION = {
    # protist equation below 3000, large-diatom at and above (biovol2carbon.m: >= 3000)
    "ifcb-analysis": {2000: 272.0615486960797, 3000: 135.0031262174257, 50000: 1609.876548039126},
    # large-diatom equation for every diatom
    "irfcb": {2000: 94.45118829667805, 3000: 135.0031262174257, 50000: 1609.876548039126},
    # all-sizes diatom equation at or below 3000, large-diatom above
    "irfcb-auto": {2000: 136.8155077321633, 3000: 190.0839015993675, 50000: 1609.876548039126},
}


def test_the_constants_are_menden_deuer_and_lessard():
    assert (PROTIST.log_a, PROTIST.b) == (-0.665, 0.939)
    assert (DIATOM.log_a, DIATOM.b) == (-0.541, 0.811)
    assert (LARGE_DIATOM.log_a, LARGE_DIATOM.b) == (-0.933, 0.881)
    assert DEFAULT_MICRON_FACTOR == 1 / 3.4


@pytest.mark.parametrize("volume", [2000, 3000, 50000])
def test_each_equation_by_hand(volume):
    assert PROTIST.carbon_pg(volume) == pytest.approx(PROTIST_PG[volume], rel=1e-12)
    assert DIATOM.carbon_pg(volume) == pytest.approx(DIATOM_PG[volume], rel=1e-12)
    assert LARGE_DIATOM.carbon_pg(volume) == pytest.approx(LARGE_PG[volume], rel=1e-12)


@pytest.mark.parametrize("convention", ["ifcb-analysis", "irfcb", "irfcb-auto"])
@pytest.mark.parametrize("volume", [2000, 3000, 50000])
def test_each_convention_by_hand(convention, volume):
    assert carbon_pg(volume, True, convention) == pytest.approx(DIATOM_BY_CONVENTION[convention][volume], rel=1e-12)
    assert carbon_pg(volume, False, convention) == pytest.approx(PROTIST_PG[volume], rel=1e-12)


def test_the_conventions_part_at_the_3000_boundary():
    # exactly 3000: ifcb-analysis switches to large-diatom (>=), irfcb-auto not yet (> 3000)
    assert equation_for(3000, True, "ifcb-analysis") is LARGE_DIATOM
    assert equation_for(3000, True, "irfcb-auto") is DIATOM
    assert equation_for(3000.001, True, "irfcb-auto") is LARGE_DIATOM
    assert equation_for(2999.999, True, "ifcb-analysis") is PROTIST
    assert equation_for(10, True, "irfcb") is LARGE_DIATOM
    assert all(equation_for(v, False, c) is PROTIST for v in (1, 3000, 1e6) for c in CONVENTIONS)


def test_the_default_convention_is_ifcb_analysis():
    assert carbon_pg(2000, True) == pytest.approx(272.0615486960797, rel=1e-12)


def test_zero_volume_has_zero_carbon():
    assert carbon_pg(0.0, True, "irfcb") == 0.0
    assert carbon_pg(0.0, False) == 0.0
    assert esd_um(0.0) == 0.0


def test_volume_from_cubic_pixels():
    # 1000 px³ at 1/3.4 µm per pixel: 1000 / 39.304 µm³
    assert volume_um3(1000) == pytest.approx(25.44270303277020, rel=1e-12)
    # 1000 px³ at 1/2.77 µm per pixel: 1000 / 2.77³
    assert volume_um3(1000, 1 / 2.77) == pytest.approx(47.05011538335046, rel=1e-12)
    assert volume_um3(1000, 2.0) == 8000.0


def test_esd_is_the_diameter_of_a_sphere_of_that_volume():
    # a sphere of diameter 20 µm has volume 4/3 π 10³ = 4188.790204786391 µm³
    assert esd_um(4188.790204786391) == pytest.approx(20.0, rel=1e-12)
    # 1 µm³: 2 * (3 / 4π)^(1/3) = 1.2407009817988
    assert esd_um(1.0) == pytest.approx(1.2407009817988, rel=1e-12)


def test_units():
    assert biovolume_mm3(2.5e9) == pytest.approx(2.5)
    assert carbon_ug(3.0e6) == pytest.approx(3.0)
    # 5 µg found in 4 ml: 1250 µg per litre
    assert per_litre(5.0, 4.0) == pytest.approx(1250.0)
    assert math.isnan(per_litre(5.0, 0.0))


@pytest.mark.parametrize("bad", [0, -0.3, math.nan, math.inf, "0.29", True])
def test_a_micron_factor_must_be_above_zero(bad):
    with pytest.raises(ValueError, match="micron factor"):
        check_micron_factor(bad)


def test_conventions_are_checked():
    assert check_convention("irfcb-auto") == "irfcb-auto"
    with pytest.raises(ValueError, match="ifcb-analysis, irfcb, irfcb-auto"):
        check_convention("matlab")
    with pytest.raises(ValueError, match="convention"):
        equation_for(10, True, "large")  # type: ignore[arg-type]
