"""A random-access index of one bin's ADC: which targets have images, where, and which are stitched.

Building the index only finds where the ADC's lines are (two arrays of offsets); a
target's line is parsed when it is first asked for. Reading one ROI from a bin with
thousands of targets therefore costs one pass to find the lines and one line parse, not
a full parse; a pass over every ROI parses the geometry columns once, region by region,
into arrays (about 64 bytes a line, where lists of lines and records cost 300).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from itertools import compress, islice
from operator import eq, mul
from typing import Literal, NamedTuple

from ..adc import RoiRecord, _new_record, geometry_positions, geometry_values, no_image, warn_skipped
from ..errors import FormatError, NotFoundError
from .adc_table import Geometry, LineSpans, region_geometry, scan_adc
from .ids import add_target, parse_bin
from .stitching import is_stitch_pair

Role = Literal["single", "first", "second"]


class TargetRole(NamedTuple):
    """How a target with an image appears: alone, as the first half of a pair (under which the
    pair is shown), or as the hidden second half."""

    role: Role
    partner: int | None


class AdcIndex:
    """Geometry of every target of one bin, parsed lazily, plus stitched-pair detection.

    Damaged lines are never reported here (no warning): they are noted in :attr:`damaged`, and the
    passes over the bin report them each time (:meth:`warn_skipped`); asking for such a target by
    number raises :class:`~ifcbkit.errors.FormatError` naming the file and line. With ``strict``,
    every line is parsed at once and a damaged one raises.
    """

    __slots__ = (
        "_data", "_geo", "_odd", "_pairs", "_positions", "_records", "_spans", "bin_id", "damaged", "nbytes",
        "source", "strict", "style",
    )  # fmt: skip

    def __init__(
        self, bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, source: str | None = None,
        strict: bool = False,
    ):  # fmt: skip
        self.bin_id = bin_id
        self.strict = strict
        # {target: (line, problem)} of the damaged lines (skipped: no image), as parsed so far (all of them
        # once a pass over the bin has run)
        self.damaged: dict[int, tuple[int, str]] = {}
        self.style = parse_bin(bin_id).style
        self.source = source or f"{bin_id}.adc"
        self.nbytes = len(data)
        self._data = data
        self._positions = geometry_positions(bin_id, columns)
        self._spans: LineSpans | None = None  # where each line is, for parsing one line at a time
        self._records: dict[int, RoiRecord] = {}  # lines parsed one at a time
        self._geo: Geometry | None = None  # every line's geometry, as arrays, after a pass over the bin
        self._odd: dict[int, RoiRecord] = {}  # records whose numbers do not fit the arrays
        self._pairs: dict[int, int] | None = None
        if strict:  # a damaged line anywhere raises, whatever the operation
            self._parse_all()

    # What one line costs: before a pass, its offsets (16 bytes, with the ADC bytes); after one, its six
    # geometry values (48, with the arrays' slack; the ADC bytes are then let go).
    SPAN_BYTES = 16
    PARSED_BYTES = 56

    def memory(self) -> int:
        """An upper estimate of the bytes this index holds, before or after a pass over every line (a
        cache charges it)."""
        n = len(self)
        return max(self.nbytes + self.SPAN_BYTES * n, self.PARSED_BYTES * n) + 300 * len(self._records)

    def _lines(self) -> LineSpans:
        if self._spans is None:
            self._spans = LineSpans(self._data)
        return self._spans

    def __len__(self) -> int:
        """The number of targets (ADC lines)."""
        return len(self._geo[0]) if self._geo is not None else len(self._lines())

    def __repr__(self) -> str:
        return f"<AdcIndex {self.bin_id}: {len(self)} targets>"

    def record(self, target: int) -> RoiRecord:
        """One target's geometry (:class:`NotFoundError` outside 1..len); a damaged line's target has none."""
        geo = self._geo
        if geo is not None:
            if not 1 <= target <= len(geo[0]):
                raise NotFoundError(f"{self.bin_id} has no target {target} (it has {len(self)})")
            odd = self._odd.get(target) if self._odd else None
            if odd is not None:
                return odd
            i = target - 1
            return _new_record(RoiRecord, (target, geo[0][i], geo[1][i], geo[2][i], geo[3][i], geo[4][i], geo[5][i]))
        r = self._records.get(target)
        if r is None:
            spans = self._lines()
            if not 1 <= target <= len(spans):
                raise NotFoundError(f"{self.bin_id} has no target {target} (it has {len(self)})")
            r = self._parse(spans.line(target), target, spans.line_number(target))
            self._records[target] = r
        return r

    def placement(self, target: int) -> tuple[int, int, int]:
        """``(width, height, offset)`` of a target, as :meth:`record` gives them, without building the
        record once a pass has parsed every line (a pass over many views pays for no tuple but this).

        Raises:
            NotFoundError: outside 1..len, as :meth:`record`.
        """
        geo = self._geo
        if geo is not None and 1 <= target <= len(geo[0]) and not (self._odd and target in self._odd):
            i = target - 1
            return geo[3][i], geo[4][i], geo[5][i]
        r = self.record(target)
        return r.width, r.height, r.offset

    def _parse(self, line: bytes, target: int, line_number: int) -> RoiRecord:
        try:
            values = geometry_values(line, self._positions)
        except ValueError as e:
            if self.strict:
                raise FormatError(self.source, str(e), line=line_number) from None
            self.damaged[target] = (line_number, str(e))
            return no_image(target)
        return _new_record(RoiRecord, (target, *values))

    def _parse_all(self) -> Geometry:
        """Every line's geometry, in one pass over the bytes a region at a time (kept as arrays)."""
        if self._geo is None:
            geo = tuple(array("q") for _ in range(6))
            damaged: dict[int, tuple[int, str]] = {}
            odd: dict[int, RoiRecord] = {}
            for region in scan_adc(self._data, self._positions):
                parts = region_geometry(region, self._positions, self.source, self.strict, damaged, odd)
                for column, part in zip(geo, parts):
                    column.extend(part)
            self.damaged, self._odd = damaged, odd
            self._geo = geo  # type: ignore[assignment]
            self._records, self._spans, self._data = {}, None, b""  # the arrays say all: let the bytes go
        return self._geo  # type: ignore[return-value]

    def damaged_error(self, target: int) -> FormatError:
        """The error for asking for ``target``, whose line was skipped as damaged."""
        line_number, problem = self.damaged[target]
        return FormatError(self.source, f"target {target}: its ADC line is damaged and was skipped ({problem})",
                           line=line_number)  # fmt: skip

    def warn_skipped(self) -> None:
        """An :class:`~ifcbkit.errors.AdcLineWarning` for each damaged line, at the caller's line outside
        ifcbkit (every pass over the bin calls this: a cached index does not stay silent)."""
        self._parse_all()
        warn_skipped(self.source, self.damaged)

    def records(self) -> list[RoiRecord]:
        """Every target's geometry, in order."""
        self._parse_all()
        return [self.record(t) for t in range(1, len(self) + 1)]

    def image_targets(self) -> list[int]:
        """The targets that have an image, in order (stitching not applied)."""
        geo = self._parse_all()
        targets = list(compress(range(1, len(geo[0]) + 1), map(mul, geo[3], geo[4])))
        if self._odd:
            with_image = {t for t, r in self._odd.items() if r.has_image}
            targets = sorted(with_image.union(targets))
        return targets

    def pairs(self) -> list[tuple[int, int]]:
        """The stitched pairs ``(a, b)``; always empty for D-style bins."""
        if self.style != "I":
            return []
        if self._pairs is None:
            self._pairs = dict(_pairs_among(self.image_targets(), self.record))
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
        bin_id, record = self.bin_id, self.record
        out: dict[int, dict[str, int | str]] = {}
        for t in self.image_targets():
            r = record(t)
            out[t] = {"roi_id": add_target(bin_id, t), "x": r.x, "y": r.y, "width": r.width, "height": r.height}
        return out

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
        """How ``target`` appears; :class:`NotFoundError` if it has no image, :class:`FormatError` (naming
        the file and line) if its line was skipped as damaged.

        Decided from the target's neighbours only, so one ROI can be read
        without parsing the whole ADC.
        """
        r = self.record(target)
        if not r.has_image:
            if target in self.damaged:
                raise self.damaged_error(target)
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


def _pairs_among(targets: list[int], record: Callable[[int], RoiRecord]) -> list[tuple[int, int]]:
    """The stitched pairs among consecutive image ``targets``: only neighbours with one trigger are compared."""
    triggers = [record(t).trigger for t in targets]
    same = compress(range(len(targets) - 1), map(eq, triggers, islice(triggers, 1, None)))
    return [(targets[k], targets[k + 1]) for k in same if is_stitch_pair(record(targets[k]), record(targets[k + 1]))]


def count_targets(
    bin_id: str, data: bytes, *, columns: Sequence[str] | None = None, source: str | None = None,
    strict: bool = False,
) -> tuple[int, int, dict[int, tuple[int, str]]]:  # fmt: skip
    """``(targets, images after stitching, damaged lines)`` of an ADC, in one pass a region at a time:
    nothing is kept per line (bin metrics of a million-line ADC hold its bytes and a few arrays).

    Raises:
        FormatError: for a damaged line when ``strict``, or an ADC whose header names no geometry.
    """
    positions = geometry_positions(bin_id, columns)
    source = source or f"{bin_id}.adc"
    stitched = parse_bin(bin_id).style == "I"
    damaged: dict[int, tuple[int, str]] = {}
    targets = images = pairs = 0
    last: RoiRecord | None = None  # the last image of the regions before
    for region in scan_adc(data, positions):
        odd: dict[int, RoiRecord] = {}
        geo = region_geometry(region, positions, source, strict, damaged, odd)
        first = region.first_target

        def record(t: int, geo: Geometry = geo, odd: dict[int, RoiRecord] = odd, first: int = first) -> RoiRecord:
            found = odd.get(t) if odd else None
            if found is not None:
                return found
            i = t - first
            return _new_record(RoiRecord, (t, geo[0][i], geo[1][i], geo[2][i], geo[3][i], geo[4][i], geo[5][i]))

        with_image = list(compress(range(first, first + region.targets), map(mul, geo[3], geo[4])))
        if odd:
            with_image = sorted({t for t, r in odd.items() if r.has_image}.union(with_image))
        targets += region.targets
        images += len(with_image)
        if stitched and with_image:
            if last is not None and is_stitch_pair(last, record(with_image[0])):
                pairs += 1
            pairs += len(_pairs_among(with_image, record))
            last = record(with_image[-1])
    return targets, images - pairs, damaged


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
