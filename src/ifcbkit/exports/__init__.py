"""Hand-offs to other tools: EcoTaxa and Darwin Core archives."""
