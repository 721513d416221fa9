"""Byte ranges: the one way a part of a file is written, from the ROI planner to every source."""

from __future__ import annotations

from typing import NamedTuple


class ByteRange(NamedTuple):
    """``length`` bytes from ``offset`` of a file; read short at the end of the file."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        """The offset just past the range (slice semantics)."""
        return self.offset + self.length

    @classmethod
    def between(cls, start: int, end: int) -> ByteRange:
        """The range ``[start:end]`` (slice semantics).

        Raises:
            ValueError: for a negative start or an end before the start.
        """
        if start < 0 or end < start:
            raise ValueError(f"invalid range [{start}:{end}]")
        return cls(start, end - start)

    def of(self, data: bytes) -> bytes:
        """This range of ``data`` (short at its end)."""
        return data[self.offset : self.offset + self.length]
