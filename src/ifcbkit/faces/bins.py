"""``open_bin``: one bin on disk as an object, its files opened once."""

from __future__ import annotations

import os
from datetime import datetime
from types import TracebackType
from typing import IO, Any

from PIL import Image

from ..errors import ClosedBinError, InvalidArgumentError, NotFoundError
from ..formats.adc_table import AdcTable, parse_adc_table
from ..formats.hdr import adc_column_names, parse_hdr_bytes
from ..formats.ids import BIN_EXTENSIONS, add_target, parse_bin
from ..formats.images import BinImages
from ..formats.index import AdcIndex
from ..formats.roi import FileRoiReader
from ..view import display


def bin_paths(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{'pid', 'hdr', 'adc', 'roi'}`` for a path to any of a bin's three files or to its base path."""
    path = os.fspath(path)
    base, ext = os.path.splitext(path)
    if ext.lstrip(".") not in BIN_EXTENSIONS:
        base = path
    pid = os.path.basename(base)
    parse_bin(pid)
    return {"pid": pid, **{e: f"{base}.{e}" for e in BIN_EXTENSIONS}}


class Bin:
    """One bin: header, ADC, images. Use as a context manager, or call :meth:`close`.

    The header and ADC are read when the bin is opened; the ``.roi`` is opened
    once and images are read from it as they are asked for.
    """

    def __init__(self, hdr: str, adc: str, roi: str | None, *, pid: str):
        self.pid = pid
        self.paths = {"hdr": hdr, "adc": adc, "roi": roi}
        try:
            with open(hdr, "rb") as f:
                self.header: dict[str, Any] = parse_hdr_bytes(f.read(), source=hdr)
            with open(adc, "rb") as f:
                self._adc_bytes = f.read()
        except FileNotFoundError as e:
            raise NotFoundError(f"bin {pid}: missing {e.filename}") from None
        self.columns = adc_column_names(self.header)
        self.index = AdcIndex(pid, self._adc_bytes, columns=self.columns, source=adc)
        self._roi_file: IO[bytes] | None = None
        self.closed = False
        self._images: dict[bool, BinImages] = {}
        self._adc: AdcTable | None = None

    def __repr__(self) -> str:
        return f"<Bin {self.pid}>"

    @property
    def timestamp(self) -> datetime:
        """The sample time (aware, UTC)."""
        return parse_bin(self.pid).timestamp

    @property
    def adc(self) -> AdcTable:
        """Every column of every ADC line, by canonical name."""
        if self._adc is None:
            self._adc = parse_adc_table(self.pid, self._adc_bytes, columns=self.columns, source=self.paths["adc"])
        return self._adc

    def _roi(self) -> FileRoiReader:
        if self.paths["roi"] is None:
            raise NotFoundError(f"bin {self.pid} has no .roi file")
        if self.closed:
            raise ClosedBinError(f"bin {self.pid} is closed: read its images inside its with block")
        if self._roi_file is None:
            try:
                self._roi_file = open(self.paths["roi"], "rb")  # noqa: SIM115 (closed by close())
            except FileNotFoundError:
                raise NotFoundError(f"bin {self.pid}: missing {self.paths['roi']}") from None
        return FileRoiReader(self._roi_file, source=self.paths["roi"])

    def get_images(self, *, stitch: bool = True) -> BinImages:
        """The bin's images (stitched by default), read lazily from the open ``.roi``."""
        if stitch not in self._images:
            self._images[stitch] = BinImages.from_index(self.index, self._roi(), stitch=stitch)
        return self._images[stitch]

    @property
    def images(self) -> BinImages:
        """The bin's images with stitching: ``{target: image}``."""
        return self.get_images()

    def read_image(self, target: int, *, stitch: bool = True) -> Image.Image:
        """One image by target number."""
        return self.get_images(stitch=stitch)[target]

    def roi_ids(self, *, stitch: bool = True) -> list[str]:
        """The ROI ids of the bin's images, in order (with stitching, without the hidden halves)."""
        return [add_target(self.pid, t) for t in self.get_images(stitch=stitch)]

    # ----- pictures for notebooks -----

    def _summary(self) -> str:
        stored = "no .roi" if self.paths["roi"] is None else f"{len(self.images)} images"
        return f"{self.pid}  {self.timestamp.isoformat()}  {stored}"

    def _thumbnail(self) -> Image.Image | None:
        if self.paths["roi"] is None or self.closed:
            return None
        from ..view.mosaic import mosaic_of_sizes

        images = self.images
        # the page is planned from the ADC geometry alone: only the images it shows are read and decoded
        return mosaic_of_sizes(self._image_sizes(images), images.__getitem__, shape=(240, 320), scale=0.33).image  # type: ignore[arg-type]

    def _image_sizes(self, images: BinImages) -> list[tuple[int | str, tuple[int, int]]]:
        """``(target, (width, height))`` of each image, a stitched pair's being its composite's."""
        firsts = images.index.firsts() if images.stitch else {}
        record = self.index.record
        sizes: list[tuple[int | str, tuple[int, int]]] = []
        for t in images:
            a = record(t)
            partner = firsts.get(t)
            if partner is None:
                sizes.append((t, (a.width, a.height)))
                continue
            b = record(partner)
            sizes.append((t, (max(a.x + a.width, b.x + b.width) - min(a.x, b.x),
                              max(a.y + a.height, b.y + b.height) - min(a.y, b.y))))  # fmt: skip
        return sizes

    def _repr_html_(self) -> str:
        return display.summary_html(self._summary(), self._thumbnail())

    def _repr_png_(self) -> bytes | None:
        thumbnail = self._thumbnail()
        return None if thumbnail is None else display.png_bytes(thumbnail)

    def close(self) -> None:
        """Release the open ``.roi``; asking a closed bin for images raises ``ValueError``, as a closed file does."""
        self.closed = True
        if self._roi_file is not None:
            self._roi_file.close()
            self._roi_file = None
        self._images.clear()

    def __enter__(self) -> Bin:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_bin(path: str | os.PathLike[str]) -> Bin:
    """Open a bin from a path to its ``.hdr``, ``.adc`` or ``.roi``, or to its base path (no extension).

    A bin without a ``.roi`` opens (header and ADC are usable); asking it for
    images raises :class:`~ifcbkit.errors.NotFoundError`.

    Raises:
        InvalidArgumentError: (a ``ValueError``) for a directory: a tree of bins is a
            :class:`~ifcbkit.faces.directory.SyncIfcbDataDirectory` (or ``AsyncIfcbDataDirectory``).
        InvalidIdentifierError: if the file name is not a bin id; NotFoundError if the ``.hdr`` or
            ``.adc`` is missing.
    """
    if os.path.isdir(path) and not os.path.isfile(os.fspath(path) + ".hdr"):
        raise InvalidArgumentError(
            "path",
            f"{os.fspath(path)} is a directory, not a bin: open a tree of bins with"
            f" SyncIfcbDataDirectory({os.fspath(path)!r}) (AsyncIfcbDataDirectory for asyncio), or give open_bin"
            " the path of one bin's .hdr, .adc or .roi",
        )
    paths = bin_paths(path)
    roi = paths["roi"] if os.path.exists(paths["roi"]) else None
    return Bin(paths["hdr"], paths["adc"], roi, pid=paths["pid"])
