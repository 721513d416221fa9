"""Computations over parsed data: volume analyzed and bin metrics, class rules and results,
carbon, biomass, diatoms and manual classes."""
