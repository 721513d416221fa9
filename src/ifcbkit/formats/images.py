"""``BinImages``: a bin's images as a lazy mapping ``{target: PIL image}``, stitched pairs included."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, ItemsView, Iterator, Mapping, Sequence, ValuesView
from typing import IO, Any

from PIL import Image

from ..errors import FormatError, NotFoundError
from ..view import display
from .ids import add_target
from .index import AdcIndex, TargetRole, second_half_error
from .roi import Buffer, RoiReader, read_roi_image, roi_reader, roi_viewer
from .stitching import detect_pairs, infill_stitched_image, stitch_pair

# How many stitched pairs a BinImages keeps (composite, gap mask and infilled image each): enough for
# pair_view, get_raw and a lookup after a stream, bounded whatever the bin's size.
STITCHED_MEMO = 16


class _GivenImages:
    """The layout of a :class:`BinImages` built from decoded images: ``adc_data`` as
    ``parse_adc_bytes(..., extended=True)`` returns it, and ``{target: image}``."""

    def __init__(self, bin_id: str, adc_data: Mapping[int, Mapping[str, Any]], images: Mapping[int, Image.Image]):
        self.bin_id = bin_id
        self.adc = adc_data
        self.images = images
        self.detected = detect_pairs(bin_id, adc_data)
        complete = [(a, b) for a, b in self.detected if a in images and b in images]
        self._firsts = dict(complete)
        self.seconds = {b: a for a, b in complete}

    def pairs(self) -> list[tuple[int, int]]:
        return list(self.detected)

    def firsts(self) -> dict[int, int]:
        """``{a: b}`` for the pairs shown as one image (both halves among the images)."""
        return dict(self._firsts)

    def keys(self, *, stitch: bool = True) -> list[int]:
        return sorted(t for t in self.images if not (stitch and t in self.seconds))

    def role(self, target: int, *, stitch: bool = True) -> TargetRole:
        if target not in self.images:
            raise NotFoundError(f"{self.bin_id} has no image for target {target}")
        if stitch and target in self.seconds:
            return TargetRole("second", self.seconds[target])
        if stitch and target in self._firsts:
            return TargetRole("first", self._firsts[target])
        return TargetRole("single", None)

    def record(self, target: int) -> Mapping[str, Any]:
        return self.adc[target]

    def image(self, target: int) -> Image.Image:
        return self.images[target]


def image_view(image: Image.Image) -> memoryview:
    """A mode ``'L'`` image's pixels as one read-only buffer, a ``memoryview`` of shape ``(height, width)``.

    Raises:
        ValueError: for an image of another mode (arrays are of 8-bit grey images).
    """
    if image.mode != "L":
        raise ValueError(f"arrays are of 8-bit grey (mode 'L') images, not of a mode {image.mode!r} image")
    width, height = image.size
    return memoryview(image.tobytes()).cast("B", (height, width))


class BinImages(Mapping[int, Image.Image]):
    """The images of one bin by target number, built when asked for.

    With stitching (the default, meaningful for I-style bins), the first target of
    each stitched pair maps to the infilled composite of the pair and the second
    target is not a key. :meth:`get_raw` gives the composite and its gap mask.

    ``BinImages(bin_id, adc_data, images)`` builds one from decoded images (the 0.3.1
    constructor: ``adc_data`` from ``parse_adc_bytes(..., extended=True)``, ``images`` as
    ``extract_roi_images`` returns them). Readers build theirs with :meth:`from_index`, over
    an :class:`~ifcbkit.formats.index.AdcIndex` and the ROI data: pixels are then read only for
    the images asked for.

    :meth:`array` and :meth:`arrays` give the pixels as ``memoryview`` objects (``numpy.asarray``
    takes them without a copy): views into the bin's bytes for single ROIs, one buffer for a
    stitched pair's infilled composite.
    """

    index: AdcIndex | _GivenImages

    def __init__(
        self, bin_id: str, adc_data: Mapping[int, Mapping[str, Any]], images: Mapping[int, Image.Image], *,
        stitch: bool = True,
    ):  # fmt: skip
        given = _GivenImages(bin_id, adc_data, images)
        self._setup(given, given.image, lambda: lambda target: image_view(given.image(target)), stitch)

    @classmethod
    def from_index(cls, index: AdcIndex, roi: RoiReader, *, stitch: bool = True) -> BinImages:
        """The images of a bin from its ADC index and a reader of its ROI data."""
        self = cls.__new__(cls)
        record = index.record
        image = lambda target: read_roi_image(roi, record(target))  # noqa: E731
        self._setup(index, image, lambda: roi_viewer(roi, record, index.placement), stitch)
        return self

    def _setup(
        self, index: AdcIndex | _GivenImages, raw: Callable[[int], Image.Image],
        viewer: Callable[[], Callable[[int], memoryview]], stitch: bool,
    ) -> None:  # fmt: skip
        self.index = index
        self.bin_id = index.bin_id
        self.stitch = stitch
        self._raw = raw
        self._viewer = viewer  # gives a function target -> view, for one or many lookups
        self._keys: list[int] | None = None
        # the last few stitched pairs (composite, gap mask, infilled): a stream over the bin holds a few,
        # never all of them
        self._stitched: OrderedDict[int, tuple[Image.Image, Image.Image, Image.Image]] = OrderedDict()

    def __repr__(self) -> str:
        return f"<BinImages {self.bin_id}: {len(self)} images, stitch={self.stitch}>"

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The stitched pairs ``(a, b)`` (empty without stitching and for D-style bins)."""
        return self.index.pairs() if self.stitch else []

    def _all_keys(self) -> list[int]:
        if self._keys is None:
            self._keys = self.index.keys(stitch=self.stitch)
            if isinstance(self.index, AdcIndex):  # a pass over the bin: it says which lines it left out
                self.index.warn_skipped()
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
        except (NotFoundError, FormatError):  # no image, or a line skipped as damaged
            return False

    def _role(self, target: int) -> tuple[str, int | None]:
        if isinstance(target, bool) or not isinstance(target, int):
            raise NotFoundError(f"{self.bin_id}: targets are ints, not {target!r}")
        role, partner = self.index.role(target, stitch=self.stitch)
        if role == "second":
            raise second_half_error(self.bin_id, target, partner, self.index.role)  # type: ignore[arg-type]
        return role, partner

    def _pair(self, a: int, b: int) -> tuple[Image.Image, Image.Image, Image.Image]:
        done = self._stitched.get(a)
        if done is not None:
            self._stitched.move_to_end(a)
        else:
            image_a, image_b = self._raw(a), self._raw(b)
            try:
                composite, gap = stitch_pair(self.index.record(a), self.index.record(b), image_a, image_b)
            except FormatError as e:
                where = getattr(self.index, "source", f"{self.bin_id}.adc")
                raise FormatError(where, f"targets {a} and {b}: {e.reason}") from None
            done = self._stitched[a] = (composite, gap, infill_stitched_image(composite, gap))
            if len(self._stitched) > STITCHED_MEMO:
                self._stitched.popitem(last=False)
        return done

    def __getitem__(self, target: int) -> Image.Image:
        role, partner = self._role(target)
        if role == "first":
            return self._pair(target, partner)[2]  # type: ignore[arg-type]
        return self._raw(target)

    def _images(self) -> Iterator[tuple[int, Image.Image]]:
        """``(target, image)`` in key order, with the roles already known from the keys (no per-key lookup)."""
        firsts = self.index.firsts() if self.stitch else {}
        raw = self._raw
        for target in self._all_keys():
            partner = firsts.get(target)
            if partner is None:
                yield target, raw(target)
            else:
                yield target, self._pair(target, partner)[2]

    def array(self, target: int) -> memoryview:
        """The pixels of ``self[target]`` as a read-only ``memoryview`` of format ``B`` and shape
        ``(height, width)``, equal to the image's.

        A single ROI's view looks into the bin's bytes (the memory map of a local ``.roi``, the
        bytes downloaded otherwise) without a copy; a stitched pair's infilled composite is one
        buffer of its own. ``numpy.asarray(view)`` shares the memory (read-only: ``numpy.array``
        to change pixels). Views stay valid after the bin is closed: they keep what they look into
        alive (see docs/handoffs.md); asking a closed bin for more raises ``ClosedBinError``.

        Raises:
            NotFoundError: if ``target`` is not one of the keys (as ``self[target]``).
            FormatError: for a damaged ADC line's target; TruncatedBinError: for an image whose
                bytes run past the end of the ROI data; ClosedBinError: once the bin is closed.
        """
        role, partner = self._role(target)
        if role == "first":
            return image_view(self._pair(target, partner)[2])  # type: ignore[arg-type]
        return self._viewer()(target)

    def arrays(self) -> Iterator[tuple[int, memoryview]]:
        """``(target, pixels)`` for every key in order, the pixels as :meth:`array` gives them."""
        firsts = self.index.firsts() if self.stitch else {}
        keys = self._all_keys()
        view = self._viewer()
        for target in keys:
            partner = firsts.get(target)
            if partner is None:
                yield target, view(target)
            else:
                yield target, image_view(self._pair(target, partner)[2])

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

    # ----- pictures for notebooks -----

    def grid(self, limit: int = display.GRID_LIMIT, *, columns: int = 6) -> Image.Image:
        """A labelled grid of the first ``limit`` images (target numbers under them), shrunk to fit."""
        shown = list(itertools.islice(self.items(), max(0, limit)))
        return display.grid([(f"{t}", image) for t, image in shown], columns=columns)

    def _repr_png_(self) -> bytes:
        return display.png_bytes(self.grid())

    def pair_view(self, target: int) -> Image.Image:
        """A stitched pair's pictures side by side: the two raw halves, the raw composite, its gap
        mask and the infilled image that ``self[target]`` gives.

        Raises:
            NotFoundError: if ``target`` is not the first target of a stitched pair.
        """
        role, partner = self._role(target)
        if role != "first":
            raise NotFoundError(f"{add_target(self.bin_id, target)} is not the first half of a stitched pair")
        composite, gap, filled = self._pair(target, partner)  # type: ignore[arg-type]
        return display.panels([
            (f"{target}", self._raw(target)), (f"{partner}", self._raw(partner)),  # type: ignore[arg-type]
            ("composite", composite), ("gap mask", gap), ("infilled", filled),
        ])  # fmt: skip


class _Items(ItemsView[int, Image.Image]):
    _mapping: BinImages

    def __iter__(self) -> Iterator[tuple[int, Image.Image]]:
        return self._mapping._images()


class _Values(ValuesView[Image.Image]):
    _mapping: BinImages

    def __iter__(self) -> Iterator[Image.Image]:
        return (image for _, image in self._mapping._images())


def bin_images(
    bin_id: str, adc_bytes: bytes, roi_bytes: Buffer | IO[bytes], *, stitch: bool = True, strict: bool = False,
    columns: Sequence[str] | None = None,
) -> BinImages:  # fmt: skip
    """The images of a bin from its ADC bytes and its ROI data, stitched pairs included.

    ``roi_bytes`` may be the ``.roi`` bytes, a memory map of it, or an open binary
    file: only the images asked for are read from it. ``columns`` are the
    header's ADC column names, if it names them. Damaged ADC lines are skipped with a
    warning at each pass over the images (``strict=True``: :class:`~ifcbkit.errors.FormatError` at once),
    and asking for a damaged line's target is a ``FormatError`` naming the line.

    Raises:
        InvalidIdentifierError: if ``bin_id`` is not a bin id.
        FormatError: for a damaged ADC line when ``strict``, and for a damaged line's target when
            asked for; TruncatedBinError: for an image
            whose bytes run past the end of the ROI data, when it is read.
    """
    index = AdcIndex(bin_id, adc_bytes, columns=columns, strict=strict)
    return BinImages.from_index(index, roi_reader(roi_bytes, source=f"{bin_id}.roi"), stitch=stitch)
