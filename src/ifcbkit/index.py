"""A random-access index of one bin's ADC: which targets have images, where, and which are stitched.

Building the index only splits the ADC into lines; a target's line is parsed
when it is first asked for. Reading one ROI from a bin with thousands of
targets therefore costs one line split and one line parse, not a full parse;
reading every ROI parses each line once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

from .adc import RoiRecord, geometry_positions, no_image, parse_roi_record, split_adc_lines
from .errors import NotFoundError
from .identifiers import add_target, parse_bin
from .stitching import detect_pairs, is_stitch_pair

Role = Literal["single", "first", "second"]


class TargetRole(NamedTuple):
    """How a target with an image appears: alone, as the first half of a pair (under which the
    pair is shown), or as the hidden second half."""

    role: Role
    partner: int | None


class AdcIndex:
    """Geometry of every target of one bin, parsed lazily, plus stitched-pair detection."""

    __slots__ = (
        "_all", "_lines", "_pairs", "_positions", "_records", "bin_id", "damaged", "nbytes", "source", "strict",
        "style",
    )  # fmt: skip

    def __init__(
        self, bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, source: str | None = None,
        strict: bool = False,
    ):  # fmt: skip
        self.bin_id = bin_id
        self.strict = strict
        self.damaged: set[int] = set()  # targets whose line was damaged (skipped: no image), as parsed so far
        self.style = parse_bin(bin_id).style
        self.source = source or f"{bin_id}.adc"
        self.nbytes = len(data)
        self._positions = geometry_positions(bin_id, columns)
        self._lines = split_adc_lines(data)
        self._records: dict[int, RoiRecord] = {}
        self._all: list[RoiRecord] | None = None
        self._pairs: dict[int, int] | None = None

    # What one line costs once split and parsed: its bytes object, list slot, record and memo entry.
    LINE_OVERHEAD = 300

    def memory(self) -> int:
        """An upper estimate of the bytes this index holds once every line is parsed (a cache charges it:
        short-line ADCs hold several times their size)."""
        return self.nbytes + self.LINE_OVERHEAD * len(self._lines.lines)

    def __len__(self) -> int:
        """The number of targets (ADC lines)."""
        return len(self._lines.lines)

    def __repr__(self) -> str:
        return f"<AdcIndex {self.bin_id}: {len(self)} targets>"

    def record(self, target: int) -> RoiRecord:
        """One target's geometry (:class:`NotFoundError` outside 1..len)."""
        r = self._records.get(target)
        if r is None:
            if not 1 <= target <= len(self._lines.lines):
                raise NotFoundError(f"{self.bin_id} has no target {target} (it has {len(self)})")
            line = self._lines.lines[target - 1]
            r = self._parse(line, target)
            self._records[target] = r
        return r

    def _parse(self, line: bytes, target: int) -> RoiRecord:
        r = parse_roi_record(line, target, self._positions, self.source, self._lines.line_number(target), self.strict)
        if r is None:
            self.damaged.add(target)
            return no_image(target)
        return r

    def records(self) -> list[RoiRecord]:
        """Every target's geometry, in order."""
        if self._all is None:  # one pass over the lines, without the per-target memo
            split, positions, source, strict = self._lines, self._positions, self.source, self.strict
            done = self._records
            records = [
                done.get(t) or parse_roi_record(line, t, positions, source, split.line_number(t), strict)
                for t, line in enumerate(split.lines, 1)
            ]
            for t, r in enumerate(records, 1):
                if r is None:
                    self.damaged.add(t)
                    records[t - 1] = no_image(t)
            self._all = done_records = records  # type: ignore[assignment]
            self._records = dict(enumerate(done_records, 1))  # type: ignore[arg-type]
            return done_records  # type: ignore[return-value]
        return self._all

    def image_targets(self) -> list[int]:
        """The targets that have an image, in order (stitching not applied)."""
        return [r.target for r in self.records() if r.has_image]

    def pairs(self) -> list[tuple[int, int]]:
        """The stitched pairs ``(a, b)``; always empty for D-style bins."""
        if self.style != "I":
            return []
        if self._pairs is None:
            self._pairs = dict(detect_pairs(self.bin_id, {r.target: r for r in self.records()}))
        return list(self._pairs.items())

    def firsts(self) -> dict[int, int]:
        """``{a: b}`` for the stitched pairs, shown under ``a``."""
        return dict(self.pairs())

    def keys(self, *, stitch: bool = True) -> list[int]:
        """The targets shown as images: with stitching, the second of each pair is left out."""
        if not stitch or self.style != "I":
            return self.image_targets()
        seconds = {b for _, b in self.pairs()}
        return [t for t in self.image_targets() if t not in seconds]

    def geometry(self) -> dict[int, dict[str, int | str]]:
        """``{target: {'roi_id', 'x', 'y', 'width', 'height'}}`` for the targets with an image."""
        bin_id = self.bin_id
        return {
            r.target: {"roi_id": add_target(bin_id, r.target), "x": r.x, "y": r.y, "width": r.width, "height": r.height}
            for r in self.records()
            if r.width and r.height
        }

    def roi_ids(self, *, stitch: bool = True) -> list[str]:
        """The ROI ids of the bin's images, in order (with stitching, without the hidden halves)."""
        return [add_target(self.bin_id, t) for t in self.keys(stitch=stitch)]

    def _neighbour_image(self, target: int, step: int) -> RoiRecord | None:
        t = target + step
        while 1 <= t <= len(self):
            r = self.record(t)
            if r.has_image:
                return r
            t += step
        return None

    def role(self, target: int, *, stitch: bool = True) -> TargetRole:
        """How ``target`` appears; :class:`NotFoundError` if it has no image.

        Decided from the target's neighbours only, so one ROI can be read
        without parsing the whole ADC.
        """
        r = self.record(target)
        if not r.has_image:
            raise NotFoundError(f"{add_target(self.bin_id, target)} has no image")
        if not stitch or self.style != "I":
            return TargetRole("single", None)
        previous = self._neighbour_image(target, -1)
        if previous is not None and is_stitch_pair(previous, r):
            return TargetRole("second", previous.target)
        following = self._neighbour_image(target, +1)
        if following is not None and is_stitch_pair(r, following):
            return TargetRole("first", following.target)
        return TargetRole("single", None)


def second_half_error(bin_id: str, target: int, partner: int, role: Callable[[int], TargetRole]) -> NotFoundError:
    """The error for asking for ``target``, the second half of the stitched pair ``(partner, target)``
    (``role`` says how each target appears): it names the target whose image shows it, or says that
    none does. In a run a, b, c of one trigger both (a, b) and (b, c) are pairs, and the image
    under a is the composite of a and b only, so c's pixels are in no image."""
    name = add_target(bin_id, target)
    shown = partner
    while (above := role(shown)).role == "second":
        shown = above.partner  # type: ignore[assignment]
    if shown == partner:
        return NotFoundError(
            f"{name} is the second half of the stitched pair ({partner}, {target}); its image is under target {partner}"
        )
    return NotFoundError(
        f"{name} is the second half of the stitched pair ({partner}, {target}), and target {partner} is itself"
        f" hidden, in the pair shown under target {shown}: no image holds target {target}"
    )
