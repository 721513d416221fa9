"""Reading MATLAB ``.mat`` files (v5, as ifcb-analysis saves them) with SciPy, the ``mat`` extra.

An optional module, like :mod:`ifcbkit.dask`: SciPy is imported only when a file is read. The
variables come back as plain Python values (lists, strings, floats), so that callers do not
touch NumPy.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import FormatError, MissingDependencyError, MissingFileError

__all__ = ["read_mat_variables"]


def _plain(value: Any) -> Any:
    """NumPy arrays and scalars as lists and Python scalars, MATLAB cells as lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def import_scipy_io() -> Any:
    """``scipy.io``, or :class:`~ifcbkit.errors.MissingDependencyError` naming the ``mat`` extra.

    Raises:
        MissingDependencyError: without SciPy.
    """
    try:
        import scipy.io
    except ImportError:
        raise MissingDependencyError("reading ifcb-analysis .mat class files", "mat", "scipy") from None
    return scipy.io


def read_mat_variables(path: str | os.PathLike[str], names: tuple[str, ...]) -> dict[str, Any]:
    """The variables ``names`` of the ``.mat`` file at ``path`` that it has (absent ones are left
    out), cells as lists, numeric arrays as (nested) lists, squeezed as MATLAB's column and row
    vectors are.

    Raises:
        MissingDependencyError: without SciPy (``pip install 'ifcbkit[mat]'``).
        MissingFileError: if the file does not exist.
        FormatError: naming the file when it is not a readable v4-v7 MAT file (v7.3 files are HDF5).
    """
    source = os.fspath(path)
    scipy_io = import_scipy_io()
    if not os.path.isfile(source):
        raise MissingFileError(f"no .mat file {source}")
    try:
        raw = scipy_io.loadmat(source, variable_names=list(names), simplify_cells=True)
    except NotImplementedError as e:  # scipy's answer to a v7.3 (HDF5) file
        raise FormatError(source, f"a MATLAB v7.3 file, which is not read here ({e})") from None
    except Exception as e:  # scipy raises ValueError, TypeError, OSError, ... on damaged files
        raise FormatError(source, f"not a readable MAT file ({type(e).__name__}: {e})") from None
    return {name: _plain(raw[name]) for name in names if name in raw}
