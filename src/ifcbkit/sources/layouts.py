"""Where bins and ROI images live in an object store: the key layouts."""

from __future__ import annotations

from typing import Literal

from ..errors import ArgumentTypeError, InvalidArgumentError, InvalidIdentifierError
from ..formats.ids import add_target, bin_key, parse_bin, parse_bin_key, parse_roi_id

Layout = Literal["year", "flat"]
LEGACY = "legacy"

__all__ = ["LEGACY", "KeyLayout", "Layout", "make_layout"]


class KeyLayout:
    """Where bins and ROI images live in an object store.

    ``'year'``: ``{prefix/}{year}/{pid}.{ext}`` and ``{prefix/}{year}/{pid}/{target:05d}.png``,
    ``year`` the D-style bin's year or ``legacy`` for I-style bins; ``'flat'``: no year level.
    Ids are validated before they become keys.
    """

    def __init__(self, prefix: str | None = None, layout: Layout = "year", *, prefix_name: str = "prefix"):
        """Keys under ``prefix`` (``prefix_name`` names it in errors: ``s3_prefix`` for S3 stores).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for another layout, or a prefix with an empty,
                ``.`` or ``..`` part; ArgumentTypeError: (a ``TypeError``) for a prefix that is not a string.
        """
        if layout not in ("year", "flat"):
            raise InvalidArgumentError("layout", f"layout must be 'year' or 'flat', not {layout!r}")
        if prefix is not None and not isinstance(prefix, str):
            raise ArgumentTypeError(prefix_name, f"{prefix_name} must be a string, not {type(prefix).__name__}")
        prefix = (prefix or "").strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise InvalidArgumentError(
                prefix_name, f"invalid key prefix {prefix_name}={prefix!r}: a part is empty, '.' or '..'"
            )
        self.prefix = prefix
        self.layout = layout

    def __repr__(self) -> str:
        return f"KeyLayout({self.prefix!r}, {self.layout!r})"

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def group(self, bin_id: str) -> str:
        """The year level of a bin: ``'2024'`` or ``'legacy'`` (``''`` in the flat layout)."""
        parsed = parse_bin(bin_id)
        if self.layout == "flat":
            return ""
        return str(parsed.timestamp.year) if parsed.style == "D" else LEGACY

    def _bin_dir(self, bin_id: str) -> str:
        group = self.group(bin_id)
        return self._root() + (f"{group}/" if group else "")

    def bin_file(self, bin_id: str, ext: str) -> str:
        """The object key of one of a bin's files."""
        return self._bin_dir(bin_id) + bin_key(bin_id, ext)

    def roi_image(self, roi_id: str, file_type: str = "png") -> str:
        """The object key of an encoded ROI image."""
        bin_id, target = parse_roi_id(roi_id)
        return f"{self.roi_prefix(bin_id)}{target:05d}.{file_type}"

    def roi_prefix(self, bin_id: str) -> str:
        """The key prefix of a bin's ROI images."""
        return f"{self._bin_dir(bin_id)}{bin_id}/"

    def parse_roi_image(self, bin_id: str, key: str, file_type: str = "png") -> str | None:
        """The ROI id of one of ``bin_id``'s image keys (``None`` for any other key)."""
        prefix, suffix = self.roi_prefix(bin_id), f".{file_type}"
        number = key[len(prefix) : -len(suffix)] if key.startswith(prefix) and key.endswith(suffix) else ""
        if len(number) in (5, 6) and number.isdigit() and number.isascii() and int(number) >= 1:
            return add_target(bin_id, int(number))
        return None

    def listing_prefixes(self, year: int | str | None = None) -> list[str]:
        """The key prefixes to list for the bins of ``year`` (an int, ``'legacy'`` or ``None``: all).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for any other year.
        """
        root = self._root()
        if year is None or self.layout == "flat":
            return [root]
        if str(year) == LEGACY:
            return [f"{root}{LEGACY}/"]
        if isinstance(year, bool) or not str(year).isdigit() or not str(year).isascii() or len(str(year)) != 4:
            raise InvalidArgumentError("year", f"year must be a 4-digit year or 'legacy', not {year!r}")
        return [f"{root}{int(year)}/", f"{root}{LEGACY}/"]  # I-style bins of that year are under legacy/

    def parse_bin_file(self, key: str) -> tuple[str, str] | None:
        """``(bin_id, ext)`` for the key of a bin file in this layout, ``None`` for any other key."""
        root = self._root()
        if not key.startswith(root):
            return None
        name = key[len(root) :]
        directory, _, name = name.rpartition("/")
        try:
            bin_id, ext = parse_bin_key(name)
        except InvalidIdentifierError:
            return None
        return (bin_id, ext) if directory == self.group(bin_id) else None


def make_layout(prefix: str | None, layout: Layout | KeyLayout, prefix_name: str = "prefix") -> KeyLayout:
    """``layout`` as is when it is a :class:`KeyLayout`, else a new one with ``prefix`` (named
    ``prefix_name`` in errors)."""
    return layout if isinstance(layout, KeyLayout) else KeyLayout(prefix, layout, prefix_name=prefix_name)
