"""Reading bins from any source: the read algorithms, once, over the bin-source protocol.

:class:`BinReader` holds every read operation of data directories and bin stores
(single ROI by id with a cached ADC index and one byte-range read, whole bins,
listings and existence checks, streaming) over a :class:`~ifcbkit.engine.source.BinSource`.
It does no I/O itself: its methods are sans-I/O operations, which the public
classes' sync and async methods run (:mod:`ifcbkit.faces.reads`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from PIL import Image

from ..adc import RoiRecord, warn_skipped, warn_user
from ..errors import FormatError, MissingTargetWarning, NotFoundError
from ..formats.hdr import adc_column_names, parse_hdr_bytes
from ..formats.ids import add_target, parse_roi_id, validate_bin_id
from ..formats.images import BinImages
from ..formats.index import AdcIndex, second_half_error
from ..formats.roi import BufferRoiReader, ChunkRoiReader, plan_ranges
from ..science.metrics import MlMethod, check_method, metadata_and_damaged
from .cache import ADC_INDEX_CACHE
from .requests import Blocking, Emit, Op, Shared, perform
from .source import BinSource

# How much of a ``.roi`` :meth:`BinReader.iter_images` reads at a time.
DEFAULT_CHUNK = 8 * 2**20


@dataclass
class BinIndex:
    """A bin's parsed header and ADC index, as cached; whether it has a ``.roi`` to read images from is
    found out (once) when an existence check first needs it."""

    header: dict[str, Any]
    index: AdcIndex
    has_roi: bool | None = None


def _targets_of(bin_id: str, rois: Iterable[int | str]) -> list[int]:
    targets = []
    for roi in rois:
        if isinstance(roi, str):
            other, target = parse_roi_id(roi)
            if other != bin_id:
                raise NotFoundError(f"ROI {roi} is not in bin {bin_id}")
        elif isinstance(roi, int) and not isinstance(roi, bool):
            target = roi
        else:
            raise TypeError(f"ROIs are target numbers or ROI ids, not {roi!r}")
        targets.append(target)
    return targets


def _report_missing(bin_id: str, missing: list[int], strict: bool) -> None:
    """Targets asked for that have no image: :class:`NotFoundError` when ``strict``, else a
    :class:`~ifcbkit.errors.MissingTargetWarning` at the user's line (they are left out, as in 0.3.1)."""
    if not missing:
        return
    listed = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
    if strict:
        raise NotFoundError(f"{bin_id}: no image for target(s) {listed}")
    warn_user(MissingTargetWarning(f"{bin_id}: no image for target(s) {listed}; left out"))


def _render(images: BinImages, targets: list[int]) -> dict[int, Image.Image]:
    """``{target: image}``, stitching and infilling pairs (run as one blocking step)."""
    return {t: images[t] for t in targets}


class BinReader:
    """The read operations of data directories and bin stores over one source (sans-I/O; see the
    module doc). ``strict``: damaged ADC lines (anywhere in the bin, whatever the operation) and unknown
    targets raise instead of warning."""

    def __init__(self, source: BinSource, *, strict: bool = False):
        self.source = source
        self.strict = strict

    def __repr__(self) -> str:
        return f"BinReader({self.source!r}, strict={self.strict})"

    # ----- building blocks ------------------------------------------------------------------

    def _bin_index(self, bin_id: str) -> Op[BinIndex]:
        """The bin's header and ADC index, from the per-process cache when neither file changed (each
        carries its own version: the header names the ADC's columns)."""
        validate_bin_id(bin_id)
        # concurrent reads of one bin share one look at its files' versions (on the async face)
        token = self.source.cache_token()
        versions = yield from perform(Shared(("versions", token, bin_id), lambda: self.source.versions(bin_id)))
        key = (token, bin_id, versions, self.strict)
        entry = ADC_INDEX_CACHE.get(key)
        if entry is None:  # concurrent cold reads of one bin load it once
            entry = yield from perform(Shared(("index", key), lambda: self._load_index(bin_id, key)))
        return entry

    def _load_index(self, bin_id: str, key: Hashable) -> Op[BinIndex]:
        hdr = yield from self.source.read(bin_id, "hdr")
        adc = yield from self.source.read(bin_id, "adc")
        entry = yield from perform(Blocking(self._parse_index, bin_id, hdr, adc))
        ADC_INDEX_CACHE.put(key, entry, size=entry.index.memory() + 4 * len(hdr) + 1024)
        return entry

    def _parse_index(self, bin_id: str, hdr: bytes, adc: bytes) -> BinIndex:
        header = parse_hdr_bytes(hdr, source=self.source.describe(bin_id, "hdr"))
        index = AdcIndex(
            bin_id,
            adc,
            columns=adc_column_names(header),
            source=self.source.describe(bin_id, "adc"),
            strict=self.strict,
        )
        return BinIndex(header, index)

    def _fetch_images(self, index: AdcIndex, records: Iterable[RoiRecord], *, stitch: bool) -> Op[BinImages]:
        """A :class:`BinImages` over just the byte ranges these records need."""
        ranges = plan_ranges(records)
        chunks = yield from self.source.read_ranges(index.bin_id, "roi", ranges)
        reader = ChunkRoiReader(zip(ranges, chunks), source=self.source.describe(index.bin_id, "roi"))
        return BinImages.from_index(index, reader, stitch=stitch)

    @staticmethod
    def _records_for(index: AdcIndex, target: int, stitch: bool) -> list[RoiRecord]:
        role, partner = index.role(target, stitch=stitch)
        if role == "second":
            raise second_half_error(index.bin_id, target, partner, index.role)  # type: ignore[arg-type]
        if role == "first":
            return [index.record(target), index.record(partner)]  # type: ignore[arg-type]
        return [index.record(target)]

    # ----- operations -----------------------------------------------------------------------

    def read_header(self, bin_id: str) -> Op[dict[str, Any]]:
        """The bin's parsed header."""
        return (yield from self._bin_index(bin_id)).header

    def read_image(self, roi_id: str, *, stitch: bool = True) -> Op[Image.Image]:
        """One ROI image by id, reading only its bytes (both halves for a stitched pair).

        With stitching, the second target of a stitched pair does not exist.
        """
        bin_id, target = parse_roi_id(roi_id)
        index = (yield from self._bin_index(bin_id)).index
        records = self._records_for(index, target, stitch)
        images = yield from self._fetch_images(index, records, stitch=stitch)
        if len(records) > 1:  # a stitched pair: composite and infill are CPU work, off the event loop
            return (yield from perform(Blocking(images.__getitem__, target)))
        return images[target]

    def _present(self, index: AdcIndex, targets: list[int], stitch: bool) -> list[int]:
        """The targets (in order, once each) that are images of the bin; the others are reported
        (a warning, or an error when strict) and left out, as in 0.3.1. A target whose ADC line was
        skipped as damaged is a :class:`FormatError` naming the file and line: it never goes missing silently."""
        present: list[int] = []
        missing: list[int] = []
        for t in dict.fromkeys(targets):
            try:
                (present if index.role(t, stitch=stitch).role != "second" else missing).append(t)
            except NotFoundError:
                missing.append(t)
        _report_missing(index.bin_id, missing, self.strict)
        return present

    def read_images(
        self, bin_id: str, rois: Iterable[int | str] | None = None, *, stitch: bool = True
    ) -> Op[BinImages | dict[int, Image.Image]]:
        """All of a bin's images (a :class:`BinImages` over the whole ``.roi``, read once), or
        ``{target: image}`` for the ROIs in ``rois`` (target numbers or ROI ids), reading only those;
        targets that are not images of the bin are left out with a warning (an error when strict)."""
        index = (yield from self._bin_index(bin_id)).index
        if rois is None:
            data = yield from self.source.read(bin_id, "roi")
            return BinImages.from_index(index, BufferRoiReader(data, source=self.source.describe(bin_id, "roi")),
                                        stitch=stitch)  # fmt: skip
        targets = self._present(index, _targets_of(bin_id, rois), stitch)
        records = [r for t in targets for r in self._records_for(index, t, stitch)]
        images = yield from self._fetch_images(index, records, stitch=stitch)
        if len(records) > len(targets):  # stitched pairs among them: render off the event loop
            return (yield from perform(Blocking(_render, images, targets)))
        return {t: images[t] for t in targets}

    def list_images(self, bin_id: str) -> Op[dict[int, dict[str, Any]]]:
        """The bin's ADC geometry ``{target: {'roi_id', 'x', 'y', 'width', 'height'}}`` for every target
        with an image (both halves of a stitched pair), as ``parse_adc_bytes`` gives it."""
        index = (yield from self._bin_index(bin_id)).index
        geometry = yield from perform(Blocking(index.geometry))
        index.warn_skipped()
        return geometry

    def list_roi_ids(self, bin_id: str, *, stitch: bool = True) -> Op[list[str]]:
        """The ROI ids of the bin's images, in order (with stitching, without the hidden halves)."""
        index = (yield from self._bin_index(bin_id)).index
        roi_ids = yield from perform(Blocking(functools.partial(index.roi_ids, stitch=stitch)))
        index.warn_skipped()
        return roi_ids

    def image_exists(self, roi_id: str, *, stitch: bool = True) -> Op[bool]:
        """Whether a ROI image exists (``False`` for an unknown bin, a target without an image and,
        with stitching, the second half of a stitched pair)."""
        bin_id, _ = parse_roi_id(roi_id)
        return (yield from self.images_exist(bin_id, [roi_id], stitch=stitch))[roi_id]

    def images_exist(self, bin_id: str, roi_ids: Iterable[str], *, stitch: bool = True) -> Op[dict[str, bool]]:
        """``{roi_id: exists}`` for ROIs of one bin, with one ADC lookup (``False`` for an unknown bin)."""
        roi_ids = list(roi_ids)
        parsed = [parse_roi_id(r) for r in roi_ids]
        try:
            entry = yield from self._bin_index(bin_id)
            if entry.has_roi is None:
                entry.has_roi = yield from self.source.exists(bin_id, "roi")
            index: AdcIndex | None = entry.index if entry.has_roi else None
        except NotFoundError:
            index = None
        out = {}
        for roi_id, (other, target) in zip(roi_ids, parsed):
            exists = False
            if index is not None and other == bin_id:
                with contextlib.suppress(NotFoundError, FormatError):  # no image, or a damaged line
                    exists = index.role(target, stitch=stitch).role != "second"
            out[roi_id] = exists
        return out

    def iter_images(
        self, bin_id: str, rois: Iterable[int | str] | None = None, *, stitch: bool = True,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> Op[None]:  # fmt: skip
        """Stream ``(roi_id, image)`` over the bin (or the ROIs in ``rois``, as :meth:`read_images`
        takes them), reading the ``.roi`` in chunks of about ``chunk_size`` bytes, so the whole bin is
        never held."""
        index = (yield from self._bin_index(bin_id)).index
        if rois is None:
            keys = yield from perform(Blocking(functools.partial(index.keys, stitch=stitch)))
            index.warn_skipped()  # every pass over the bin says which lines it left out
        else:
            keys = self._present(index, _targets_of(bin_id, rois), stitch)
        batch: list[int] = []
        records: list[RoiRecord] = []
        low = high = 0
        for position, target in enumerate(keys):
            needed = self._records_for(index, target, stitch)
            if not batch:
                low, high = needed[0].offset, needed[0].offset
            low = min(low, *(r.offset for r in needed))
            high = max(high, *(r.offset + r.nbytes for r in needed))
            batch.append(target)
            records.extend(needed)
            if high - low >= chunk_size or position == len(keys) - 1:
                images = yield from self._fetch_images(index, records, stitch=stitch)
                rendered = yield from perform(Blocking(_render, images, batch))  # a chunk's images, off the event loop
                for t, image in rendered.items():
                    yield Emit((add_target(bin_id, t), image))
                batch, records = [], []

    def bin_metadata(self, bin_id: str, *, method: str | None = None) -> Op[dict[str, Any]]:
        """The bin's metrics like the dashboard's ``/api/bin/{id}`` (see :func:`ifcbkit.science.metrics.bin_metadata`)
        by the volume ``method`` (``'adc'``, ``'hdr'``, ``'reference'``; the source's default when
        ``None``), or as the source serves it (a dashboard's ``'api'``). ``size`` counts the files that
        exist (a missing ``.roi`` counts 0 bytes; ``None`` when the source cannot tell its size without
        reading it whole)."""
        validate_bin_id(bin_id)
        method = self.source.default_method if method is None else method
        served = self.source.served_metadata(bin_id, method)
        if served is not None:
            return (yield from served)
        volume = cast(MlMethod, check_method(method))
        hdr = yield from self.source.read(bin_id, "hdr")
        adc = yield from self.source.read(bin_id, "adc")
        try:
            roi_size = yield from self.source.known_size(bin_id, "roi")
        except NotFoundError:
            roi_size = 0
        adc_source = self.source.describe(bin_id, "adc")
        compute = functools.partial(
            metadata_and_damaged, bin_id, hdr, adc, size=None if roi_size is None else len(hdr) + len(adc) + roi_size,
            method=volume, hdr_source=self.source.describe(bin_id, "hdr"), adc_source=adc_source, strict=self.strict,
        )  # fmt: skip
        metadata, damaged = yield from perform(Blocking(compute))
        warn_skipped(adc_source, damaged)  # here, not in the worker thread: at the caller's line
        return metadata
