"""The exception hierarchy: every error ifcbkit raises on bad input is an ``IfcbError``.

Each class also derives from the built-in exception a caller would naturally
catch (``ValueError`` for malformed input, ``KeyError`` for something that is not
there), so ``except KeyError`` keeps working around ifcbkit calls.
"""

from __future__ import annotations

import os


class IfcbError(Exception):
    """Base class of every ifcbkit error."""


class IfcbWarning(UserWarning):
    """Base class of ifcbkit warnings."""


class SkippedPathWarning(IfcbWarning):
    """A directory or file that could not be read (permissions, broken symlink, loop) was skipped."""


class SkippedBinWarning(IfcbWarning):
    """A bin of a listing (a dashboard's row) that could not be read was left out."""


class AdcLineWarning(IfcbWarning):
    """An ADC line whose geometry does not parse was skipped (its target has no image).

    The message names the file and the line. Pass ``strict=True`` to raise
    :class:`FormatError` instead.
    """


class MissingTargetWarning(IfcbWarning):
    """A target asked for in a subset (``rois=``) has no image and was left out of the result."""


class DuplicateBinWarning(IfcbWarning):
    """A bin found a second time in one walk (a symlinked or copied directory) was skipped: the first
    place the walk found it is the one listed."""


class InvalidIdentifierError(IfcbError, ValueError, KeyError):
    """A bin id, ROI id or key that does not match the IFCB naming rules.

    It is a ``ValueError`` (the id is malformed) and a ``KeyError`` (a lookup by
    it finds nothing), as parsing and lookups by id answer in ifcbkit 0.3.1.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class FormatError(IfcbError, ValueError):
    """A file whose bytes do not follow its format.

    ``source`` names the file (a path or a key), ``line`` is its 1-based line
    number when the format is line-oriented.
    """

    def __init__(self, source: str | os.PathLike[str] | None, message: str, *, line: int | None = None):
        self.source = None if source is None else os.fspath(source)
        self.line = line
        self.reason = message
        where = self.source or "<data>"
        if line is not None:
            where = f"{where}, line {line}"
        super().__init__(f"{where}: {message}")


class TruncatedBinError(FormatError):
    """A ROI whose bytes run past the end of the ``.roi`` data."""

    def __init__(self, source: str | os.PathLike[str] | None, target: int, needed: int, size: int):
        self.target = target
        self.needed = needed
        self.size = size
        super().__init__(
            source,
            f"target {target} needs bytes up to {needed} but the ROI data has only {size} bytes (truncated bin)",
        )


class NotFoundError(IfcbError, KeyError):
    """A bin, ROI, file or key that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingFileError(NotFoundError, FileNotFoundError):
    """A local file that is not there (a ``FileNotFoundError`` too, as reading it raised in 0.3.1)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ProductNotFoundError(MissingFileError):
    """A product file that is not under its root."""


class ReadOnlyError(IfcbError, PermissionError, NotImplementedError):
    """A write to a store that does not accept writes (a ``NotImplementedError`` too, as in 0.3.1)."""


class UnsupportedOperationError(IfcbError, NotImplementedError):
    """An operation a store or source does not offer: listing the bins of a store of one's own that
    has only ``get`` and ``exists`` by key (its reads still work). A ``NotImplementedError`` too."""


class StoreError(IfcbError, OSError):
    """A backend failed in a way that is not "not found" (network, server, permissions)."""


class ClosedBinError(IfcbError, ValueError):
    """Images asked of a bin after it was closed (its ``.roi`` is no longer open), as I/O on a closed
    file raises ``ValueError``."""


class InvalidArgumentError(IfcbError, ValueError):
    """An argument whose value ifcbkit cannot use (a key prefix with ``..``, a byte range starting
    before 0, a year that is not one). ``argument`` names the parameter, and so does the message. A
    ``ValueError``, as such arguments raised before."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(message)

    def __reduce__(self) -> tuple[type[InvalidArgumentError], tuple[str, str]]:
        return type(self), (self.argument, str(self))


class ArgumentTypeError(IfcbError, TypeError):
    """An argument of a type ifcbkit cannot use. ``argument`` names the parameter, and so does the
    message. A ``TypeError``, as such arguments raised before."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ArgumentTypeError], tuple[str, str]]:
        return type(self), (self.argument, str(self))


class MissingDependencyError(IfcbError, ImportError):
    """An optional feature whose extra is not installed."""

    def __init__(self, feature: str, extra: str, package: str):
        super().__init__(f"{feature} needs the optional package {package!r}: pip install 'ifcbkit[{extra}]'")
        self.extra = extra
