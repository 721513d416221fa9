"""What users hold: data directories, single bins and product directories, each with a sync and
an async face over the engine."""
