"""Where bins come from: a data directory, object stores (S3, memory) and IFCB dashboards,
each a :class:`~ifcbkit.engine.source.BinSource`."""
