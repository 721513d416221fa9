"""The sans-I/O engine: requests as data and the loops that run them (sync and async), the
:class:`~ifcbkit.engine.source.BinSource` protocol, bin-level reads over any source, the walk of a
tree, name filters and caches."""
