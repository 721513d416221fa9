"""The ``.roi`` file: raw 8-bit pixels, no header; target k is ``width * height`` bytes at its byteOffset.

Images are mode ``'L'`` PIL images of size ``(width, height)`` that own their
pixels (they never keep a view on a caller's buffer or a memory map alive).
An image whose bytes run past the end of the data is a truncated bin
(:class:`~ifcbkit.errors.TruncatedBinError`), never a shorter image.

Arrays (:func:`read_roi_view`) are the other way round: read-only ``memoryview`` objects of
shape ``(height, width)`` *into* the ROI data (a memory map of a local file, the bytes
downloaded), without a copy per image. A view keeps what it looks into alive: the memory map of a
file stays mapped until its last view is released, even after the file is closed.
"""

from __future__ import annotations

import bisect
import mmap
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import IO, Any, Protocol

from PIL import Image

from ..adc import RoiRecord, iter_roi_records, warn_user
from ..errors import ClosedBinError, FormatError, MissingTargetWarning, NotFoundError, TruncatedBinError
from .ranges import ByteRange

Buffer = bytes | bytearray | memoryview | mmap.mmap


def image_from_bytes(data: bytes, width: int, height: int) -> Image.Image:
    """A mode ``'L'`` image over exactly ``width * height`` bytes (no copy of ``data``)."""
    return Image.frombuffer("L", (width, height), data, "raw", "L", 0, 1)


class RoiReader(Protocol):
    """Something ROI bytes can be read from by offset: a buffer, an open file, prefetched ranges.

    ``size`` is the size of the ``.roi`` data when known; a read past the end
    returns short.
    """

    @property
    def source(self) -> str | None: ...

    @property
    def size(self) -> int | None: ...

    def read(self, offset: int, length: int) -> bytes: ...


class BufferRoiReader:
    """ROI bytes from an in-memory buffer (``bytes``, ``bytearray``, ``mmap``, ...).

    :meth:`read` exports no buffer from ``data`` (slices are copied out), so a memory map can be
    closed while the reader is still referenced; only the views :meth:`view` gives export it
    (closing a memory map they look into raises ``BufferError``, as ``mmap`` does).
    """

    def __init__(self, data: Buffer, *, source: str | None = None):
        if isinstance(data, memoryview):
            data = data.cast("B") if data.format != "B" or data.ndim != 1 else data
        elif not isinstance(data, (bytes, bytearray, mmap.mmap)):
            data = memoryview(data).cast("B")  # other buffer objects (TypeError if not a buffer)
        self._data = data
        self.size = len(data)
        self.source = source

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self._data[offset : offset + length])

    def view(self, offset: int, length: int) -> memoryview:
        """The bytes at ``offset`` as a view into ``data`` (short at its end), no copy."""
        try:
            whole = memoryview(self._data)
        except ValueError:  # a memory map closed by its owner
            raise ClosedBinError(f"{self.source or 'the ROI data'} is closed (its memory map was closed)") from None
        return whole[offset : offset + length]

    def whole(self) -> memoryview:
        """All of ``data`` as one view (no copy)."""
        return self.view(0, self.size)


class FileRoiReader:
    """ROI bytes from an open binary file: ``os.pread`` when it has a descriptor, else seek + read.

    :meth:`view` maps the file into memory (once, when first asked) and gives views into the
    map. The map is never closed here: it lives as long as this reader or a view of it, and closing
    the file does not invalidate views already taken (their pages stay mapped until the last one is
    released; the map holds its own descriptor). A file truncated by another program while views of
    it are alive is beyond what any memory map can guard: leave bins alone while they are read.
    """

    def __init__(self, file: IO[bytes], *, source: str | None = None):
        self._file = file
        self.source = source if source is not None else _name_of(file)
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self._unmappable = False
        try:
            self._fd: int | None = file.fileno()
            self.size = os.fstat(self._fd).st_size
        except (AttributeError, OSError, ValueError):
            self._fd = None
            with self._lock:
                here = file.tell()
                self.size = file.seek(0, os.SEEK_END)
                file.seek(here)

    def _check_open(self) -> None:
        if getattr(self._file, "closed", False):  # (its descriptor may since name another file)
            where = self.source or "the .roi"
            raise ClosedBinError(f"{where} is closed: read a bin's images before it is closed (inside its with block)")

    def _mapping(self) -> mmap.mmap | None:
        """The file mapped read-only, or ``None`` when it cannot be (no descriptor, empty, a pipe)."""
        if self._map is None and not self._unmappable:
            with self._lock:
                if self._map is None and not self._unmappable:
                    try:
                        if self._fd is None or not self.size:
                            raise ValueError("nothing to map")
                        self._map = mmap.mmap(self._fd, 0, access=mmap.ACCESS_READ)
                    except (OSError, ValueError):
                        self._unmappable = True
        return self._map

    def whole(self) -> memoryview | None:
        """The file's memory map as one view, or ``None`` when it cannot be mapped."""
        self._check_open()
        mapping = self._mapping()
        return None if mapping is None else memoryview(mapping)

    def view(self, offset: int, length: int) -> memoryview:
        """The bytes at ``offset`` as a view into the file's memory map (short at its end); a copy
        read from the file when it cannot be mapped."""
        self._check_open()
        mapping = self._mapping()
        if mapping is None:
            return memoryview(self.read(offset, length))
        return memoryview(mapping)[offset : offset + length]

    def read(self, offset: int, length: int) -> bytes:
        self._check_open()
        if self._fd is not None and hasattr(os, "pread"):
            return os.pread(self._fd, length, offset)
        with self._lock:
            self._file.seek(offset)
            return self._file.read(length)


class ChunkRoiReader:
    """ROI bytes from byte ranges of a ``.roi`` fetched beforehand: ``[((start, length), data), ...]``.

    A chunk shorter than what was asked for means the ``.roi`` ends there: ``size`` is then known, and
    an image past it is a truncated bin (never "not fetched").
    """

    def __init__(self, chunks: Iterable[tuple[tuple[int, int], bytes]], *, source: str | None = None):
        self._chunks: dict[int, bytes] = {}
        self.size: int | None = None
        for (start, length), data in chunks:
            self._chunks[start] = data
            if len(data) < length:
                end = start + len(data)
                self.size = end if self.size is None else min(self.size, end)
        self._starts = sorted(self._chunks)
        self.source = source

    def read(self, offset: int, length: int) -> bytes:
        data = self._chunks.get(offset)
        if data is not None and len(data) <= length:  # a chunk fetched for exactly this image (or cut short)
            return data
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0:
            start = self._starts[i]
            data = self._chunks[start]
            if offset <= start + len(data):
                return data[offset - start : offset - start + length]
        raise ValueError(f"bytes at {offset} of {self.source} were not fetched")

    def view(self, offset: int, length: int) -> memoryview:
        """:meth:`read` as a view into the fetched chunk, no copy."""
        data = self._chunks.get(offset)
        if data is not None and len(data) <= length:
            return memoryview(data)
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0:
            start = self._starts[i]
            data = self._chunks[start]
            if offset <= start + len(data):
                return memoryview(data)[offset - start : offset - start + length]
        raise ValueError(f"bytes at {offset} of {self.source} were not fetched")


def plan_ranges(records: Iterable[RoiRecord], *, max_gap: int = 65536) -> list[ByteRange]:
    """The byte ranges that cover the records' images, merging ranges less than
    ``max_gap`` bytes apart (one read instead of two for a stitched pair)."""
    spans = sorted((r.offset, r.offset + r.nbytes) for r in records)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] <= max_gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [ByteRange(start, end - start) for start, end in merged]


def _name_of(file: Any) -> str | None:
    name = getattr(file, "name", None)
    return os.fspath(name) if isinstance(name, (str, os.PathLike)) else None


def roi_reader(roi: Buffer | IO[bytes], *, source: str | None = None) -> RoiReader:
    """Wrap a buffer (``bytes``, ``mmap``, ...) or an open binary file as a :class:`RoiReader`."""
    if isinstance(roi, (BufferRoiReader, FileRoiReader, ChunkRoiReader)):
        return roi
    if hasattr(roi, "read") and hasattr(roi, "seek") and not isinstance(roi, mmap.mmap):
        return FileRoiReader(roi, source=source)  # type: ignore[arg-type]
    try:
        return BufferRoiReader(roi, source=source)
    except TypeError:
        pass
    raise TypeError(f"a ROI source must be a bytes-like object or a binary file, not {type(roi).__name__}")


def read_roi_bytes(reader: RoiReader, record: RoiRecord) -> bytes:
    """Exactly the bytes of one target's image, or :class:`TruncatedBinError`."""
    n = record.nbytes
    end = record.offset + n
    if reader.size is not None and end > reader.size:
        raise TruncatedBinError(reader.source, record.target, end, reader.size)
    data = reader.read(record.offset, n)
    if len(data) != n:  # the data ends early (or the file shrank since we looked at its size)
        raise TruncatedBinError(reader.source, record.target, end, record.offset + len(data))
    return data


def read_roi_view(reader: RoiReader, record: RoiRecord) -> memoryview:
    """One target's pixels as a read-only ``memoryview`` of format ``B`` and shape ``(height, width)``:
    a view into the reader's data when it can give one (``view``), without a copy; else one
    buffer read for it. ``numpy.asarray`` takes it without copying.

    Raises:
        TruncatedBinError: if the image's bytes run past the end of the data.
        ClosedBinError: if the file or memory map it reads is closed.
    """
    n = record.nbytes
    end = record.offset + n
    if reader.size is not None and end > reader.size:
        raise TruncatedBinError(reader.source, record.target, end, reader.size)
    view = getattr(reader, "view", None)
    data = view(record.offset, n) if view is not None else memoryview(reader.read(record.offset, n))
    if len(data) != n:  # the data ends early (or the file shrank since we looked at its size)
        raise TruncatedBinError(reader.source, record.target, end, record.offset + len(data))
    return data.toreadonly().cast("B", (record.height, record.width))


def roi_viewer(
    reader: RoiReader, record: Callable[[int], RoiRecord],
    placement: Callable[[int], tuple[int, int, int]] | None = None,
) -> Callable[[int], memoryview]:  # fmt: skip
    """A function giving :func:`read_roi_view` of a target (``record`` gives its geometry, or
    ``placement`` its ``(width, height, offset)`` alone, cheaper), for a pass over many: the reader's
    whole data is looked up once, then each view is a slice of it.

    Raises:
        ClosedBinError: if the file or memory map the reader reads is closed.
    """
    whole_of = getattr(reader, "whole", None)
    whole: memoryview | None = whole_of() if whole_of is not None else None
    if whole is None:
        return lambda target: read_roi_view(reader, record(target))
    data: memoryview = whole.toreadonly()
    limit = len(data) if reader.size is None else min(reader.size, len(data))
    source = reader.source

    if placement is None:
        placement = lambda target: (lambda r: (r.width, r.height, r.offset))(record(target))  # noqa: E731

    def view(target: int) -> memoryview:
        width, height, offset = placement(target)
        end = offset + width * height
        if end > limit:
            raise TruncatedBinError(source, target, end, limit)
        return data[offset:end].cast("B", (height, width))

    return view


def read_roi_image(reader: RoiReader, record: RoiRecord) -> Image.Image:
    """One target's image from a :class:`RoiReader`."""
    return image_from_bytes(read_roi_bytes(reader, record), record.width, record.height)


def extract_roi_image(roi_file: IO[bytes], width: int, height: int, offset: int, *, target: int = 0) -> Image.Image:
    """Read one ``width x height`` image at ``offset`` of an open binary file (seek + read)."""
    if width <= 0 or height <= 0:
        raise FormatError(_name_of(roi_file), f"target {target}: no image (size {width}x{height})")
    if offset < 0:
        raise FormatError(_name_of(roi_file), f"target {target}: negative byte offset {offset}")
    roi_file.seek(offset)
    data = roi_file.read(width * height)
    if len(data) != width * height:
        size = roi_file.seek(0, os.SEEK_END) if offset > 0 and not data else offset + len(data)
        raise TruncatedBinError(_name_of(roi_file), target, offset + width * height, size)
    return image_from_bytes(data, width, height)


def report_missing(bin_id: str, missing: Iterable[int], strict: bool) -> None:
    """Targets asked for in a subset that have no image: :class:`NotFoundError` when ``strict``, else
    a :class:`~ifcbkit.errors.MissingTargetWarning` at the user's line (they are left out, as in ifcbkit 0.3.1)."""
    missing = list(missing)
    if not missing:
        return
    listed = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
    if strict:
        raise NotFoundError(f"{bin_id}: no image for target(s) {listed}")
    warn_user(MissingTargetWarning(f"{bin_id}: no image for target(s) {listed}; left out"))


def _record_of(t: Mapping[str, Any]) -> RoiRecord:
    return RoiRecord(t["target"], t.get("trigger", 0), t["x"], t["y"], t["width"], t["height"], t["offset"])


def _extract(
    bin_id: str, records: Iterable[RoiRecord], roi_bytes: Buffer, rois: Collection[int] | None, strict: bool
) -> dict[int, Image.Image]:
    reader = BufferRoiReader(roi_bytes, source=f"{bin_id}.roi" if bin_id else None)
    wanted = None if rois is None else set(rois)
    out: dict[int, Image.Image] = {}
    for r in records:
        if wanted is None or r.target in wanted:
            out[r.target] = read_roi_image(reader, r)
    if wanted is not None:
        report_missing(bin_id or "ROI data", sorted(wanted.difference(out)), strict)
    return out


def extract_roi_images_from_targets(
    targets: Iterable[Mapping[str, Any]], roi_bytes: Buffer, rois: Collection[int] | None = None, *,
    strict: bool = False,
) -> dict[int, Image.Image]:  # fmt: skip
    """``{target: image}`` from records of :func:`~ifcbkit.adc.iter_adc_targets` (in their order), for
    every record or only those in ``rois``, without stitching and without parsing the ADC again.

    Targets of ``rois`` that have no record are left out with a
    :class:`~ifcbkit.errors.MissingTargetWarning`.

    Raises:
        NotFoundError: for such targets when ``strict``.
        TruncatedBinError: for an image whose bytes run past the end of ``roi_bytes``.
    """
    targets = list(targets)
    first = targets[0].get("roi_id") if targets else None
    bin_id = first.rpartition("_")[0] if isinstance(first, str) else ""
    return _extract(bin_id, map(_record_of, targets), roi_bytes, rois, strict)


def extract_roi_images(
    bin_id: str, adc_bytes: bytes, roi_bytes: Buffer, rois: Collection[int] | None = None, *, strict: bool = False
) -> dict[int, Image.Image]:
    """``{target: image}`` for every target with an image (or only those in ``rois``), in ADC order,
    without stitching.

    Damaged ADC lines and targets of ``rois`` without an image are left out with a warning.

    Raises:
        FormatError: for a damaged ADC line, NotFoundError: for a target of ``rois`` without an
            image, both when ``strict``.
        TruncatedBinError: for an image whose bytes run past the end of ``roi_bytes``.
    """
    records = (r for r in iter_roi_records(bin_id, adc_bytes, strict=strict) if r.width and r.height)
    return _extract(bin_id, records, roi_bytes, rois, strict)
