"""``BinImages``: a bin's images as a lazy mapping ``{target: PIL image}``, stitched pairs included."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, Sequence, ValuesView
from typing import IO

from PIL import Image

from .errors import NotFoundError
from .identifiers import add_target
from .index import AdcIndex
from .roi import Buffer, RoiReader, read_roi_image, roi_reader
from .stitching import infill_stitched_image, stitch_pair


class BinImages(Mapping[int, Image.Image]):
    """The images of one bin by target number, built when asked for.

    With stitching (the default, meaningful for I-style bins), the first target of
    each stitched pair maps to the infilled composite of the pair and the second
    target is not a key. :meth:`get_raw` gives the composite and its gap mask.
    Pixels are read from the ROI source only for the images asked for.
    """

    def __init__(self, index: AdcIndex, roi: RoiReader, *, stitch: bool = True):
        self.index = index
        self.bin_id = index.bin_id
        self.stitch = stitch
        self._roi = roi
        self._keys: list[int] | None = None
        self._stitched: dict[int, tuple[Image.Image, Image.Image, Image.Image]] = {}

    def __repr__(self) -> str:
        return f"<BinImages {self.bin_id}: {len(self)} images, stitch={self.stitch}>"

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The stitched pairs ``(a, b)`` (empty without stitching and for D-style bins)."""
        return self.index.pairs() if self.stitch else []

    def _all_keys(self) -> list[int]:
        if self._keys is None:
            self._keys = self.index.keys(stitch=self.stitch)
        return self._keys

    def __iter__(self) -> Iterator[int]:
        return iter(self._all_keys())

    def __len__(self) -> int:
        return len(self._all_keys())

    def __contains__(self, target: object) -> bool:
        if not isinstance(target, int) or isinstance(target, bool):
            return False
        try:
            return self.index.role(target, stitch=self.stitch).role != "second"
        except NotFoundError:
            return False

    def _role(self, target: int) -> tuple[str, int | None]:
        if isinstance(target, bool) or not isinstance(target, int):
            raise NotFoundError(f"{self.bin_id}: targets are ints, not {target!r}")
        role, partner = self.index.role(target, stitch=self.stitch)
        if role == "second":
            raise NotFoundError(
                f"{add_target(self.bin_id, target)} is the second half of the stitched pair "
                f"({partner}, {target}); its image is under target {partner}"
            )
        return role, partner

    def _pair(self, a: int, b: int) -> tuple[Image.Image, Image.Image, Image.Image]:
        done = self._stitched.get(a)
        if done is None:
            ra, rb = self.index.record(a), self.index.record(b)
            composite, gap = stitch_pair(ra, read_roi_image(self._roi, ra), rb, read_roi_image(self._roi, rb))
            done = self._stitched[a] = (composite, gap, infill_stitched_image(composite, gap))
        return done

    def __getitem__(self, target: int) -> Image.Image:
        role, partner = self._role(target)
        if role == "first":
            return self._pair(target, partner)[2]  # type: ignore[arg-type]
        return read_roi_image(self._roi, self.index.record(target))

    def _images(self) -> Iterator[tuple[int, Image.Image]]:
        """``(target, image)`` in key order, with the roles already known from the keys (no per-key lookup)."""
        firsts = dict(self.pairs)
        record = self.index.record
        for target in self._all_keys():
            partner = firsts.get(target)
            if partner is None:
                yield target, read_roi_image(self._roi, record(target))
            else:
                yield target, self._pair(target, partner)[2]

    def items(self) -> ItemsView[int, Image.Image]:
        return _Items(self)

    def values(self) -> ValuesView[Image.Image]:
        return _Values(self)

    def get_raw(self, target: int) -> tuple[Image.Image, Image.Image | None]:
        """``(composite, gap_mask)`` for a stitched target, ``(image, None)`` otherwise."""
        role, partner = self._role(target)
        if role == "first":
            composite, gap, _ = self._pair(target, partner)  # type: ignore[arg-type]
            return composite, gap
        return self[target], None

    def roi_ids(self) -> list[str]:
        """The ROI ids of the keys, in order."""
        return [add_target(self.bin_id, t) for t in self]


class _Items(ItemsView[int, Image.Image]):
    _mapping: BinImages

    def __iter__(self) -> Iterator[tuple[int, Image.Image]]:
        return self._mapping._images()


class _Values(ValuesView[Image.Image]):
    _mapping: BinImages

    def __iter__(self) -> Iterator[Image.Image]:
        return (image for _, image in self._mapping._images())


def bin_images(
    bin_id: str, adc_bytes: bytes, roi: Buffer | IO[bytes], *, stitch: bool = True,
    columns: Sequence[str] | None = None,
) -> BinImages:  # fmt: skip
    """The images of a bin from its ADC bytes and its ROI data.

    ``roi`` may be the ``.roi`` bytes, a memory map of it, or an open binary
    file: only the images asked for are read from it. ``columns`` are the
    header's ADC column names, if it names them.
    """
    index = AdcIndex(bin_id, adc_bytes, columns=columns)
    return BinImages(index, roi_reader(roi, source=f"{bin_id}.roi"), stitch=stitch)
