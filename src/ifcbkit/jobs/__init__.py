"""Work over many bins: batches and parallel maps, abundance, carbon per bin, daily outputs and
tables."""
