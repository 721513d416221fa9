"""Reading and writing MATLAB ``.mat`` files (v5, as ifcb-analysis saves them) with SciPy, the ``mat`` extra.

An optional module, like :mod:`ifcbkit.dask`: SciPy is imported only when a file is read or
written. The variables come back as plain Python values (lists, strings, floats), and are written
from plain values (:class:`MatMatrix`, :class:`MatCellRow`), so that callers do not touch NumPy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import IO, Any, NamedTuple

from ..errors import FormatError, MissingDependencyError, MissingFileError

__all__ = ["MatCellRow", "MatMatrix", "read_mat_variables", "write_mat_variables"]


class MatMatrix(NamedTuple):
    """A MATLAB double matrix: ``rows`` of numbers (NaN for none), each ``columns`` wide (the width of a
    matrix without rows; ``MatMatrix((), 0)`` is MATLAB's ``[]``)."""

    rows: Sequence[Sequence[float]]
    columns: int


class MatCellRow(NamedTuple):
    """A MATLAB 1 x n cell array of strings, ``{'a', 'b'}``."""

    strings: Sequence[str]


def _scipy(feature: str) -> Any:
    try:
        import scipy.io
    except ImportError:
        raise MissingDependencyError(feature, "mat", "scipy") from None
    return scipy.io


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
    return _scipy("reading ifcb-analysis .mat class files")


def read_mat_variables(
    path: str | os.PathLike[str], names: tuple[str, ...], *, matrices: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The variables ``names`` of the ``.mat`` file at ``path`` that it has (absent ones are left
    out), cells as lists, numeric arrays as (nested) lists, squeezed as MATLAB's column and row
    vectors are; the numeric variables named in ``matrices`` stay lists of rows (a matrix of one
    row too).

    Raises:
        MissingDependencyError: without SciPy (``pip install 'ifcbkit[mat]'``).
        MissingFileError: if the file does not exist.
        FormatError: naming the file when it is not a readable v4-v7 MAT file (v7.3 files are HDF5).
    """
    source = os.fspath(path)
    scipy_io = _scipy("reading ifcb-analysis .mat files")
    if not os.path.isfile(source):
        raise MissingFileError(f"no .mat file {source}")
    try:
        raw = scipy_io.loadmat(source, variable_names=list(names), simplify_cells=True)
    except NotImplementedError as e:  # scipy's answer to a v7.3 (HDF5) file
        raise FormatError(source, f"a MATLAB v7.3 file, which is not read here ({e})") from None
    except Exception as e:  # scipy raises ValueError, TypeError, OSError, ... on damaged files
        raise FormatError(source, f"not a readable MAT file ({type(e).__name__}: {e})") from None
    out = {}
    for name in names:
        if name in raw:
            value = raw[name]
            numeric = getattr(getattr(value, "dtype", None), "kind", "O") != "O"
            if name in matrices and numeric and value.ndim < 2:
                value = value.reshape(1, -1)  # one row, squeezed to a vector (or a scalar)
            out[name] = _plain(value)
    return out


def write_mat_variables(file: IO[bytes], variables: Mapping[str, MatMatrix | MatCellRow]) -> None:
    """Write ``variables`` to the open binary ``file`` as a compressed v5 (MATLAB -v7) MAT file, as
    MATLAB's ``save`` lays them out: doubles for :class:`MatMatrix`, a 1 x n cell of char rows for
    :class:`MatCellRow`.

    Raises:
        MissingDependencyError: without SciPy (``pip install 'ifcbkit[mat]'``).
        ValueError: for a matrix row that is not ``columns`` wide.
    """
    scipy_io = _scipy("writing ifcb-analysis .mat files")
    import numpy

    out: dict[str, Any] = {}
    for name, value in variables.items():
        if isinstance(value, MatCellRow):
            cell = numpy.empty((1, len(value.strings)) if value.strings else (0, 0), dtype=object)
            for i, text in enumerate(value.strings):
                cell[0, i] = str(text)
            out[name] = cell
        else:
            if any(len(row) != value.columns for row in value.rows):
                raise ValueError(f"{name}: every row must be {value.columns} wide")
            matrix = numpy.array(value.rows, dtype=numpy.float64).reshape(len(value.rows), value.columns)
            out[name] = matrix
    scipy_io.savemat(file, out, do_compression=True, format="5", oned_as="row")
