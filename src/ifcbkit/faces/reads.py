"""The read methods every data directory and bin store has, on the sync and the async face.

Each method is an explicit shell over one :class:`~ifcbkit.engine.reader.BinReader`
operation: the sync face runs it in the calling thread (no event loop), the async
face awaits it. A class gets these methods by inheriting :class:`SyncBinReads` or
:class:`AsyncBinReads` and setting ``self.reader``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeVar, cast

from PIL import Image

from ..engine.reader import DEFAULT_CHUNK, BinReader
from ..engine.requests import iterate_async, iterate_sync, run_async, run_sync
from ..formats.images import BinImages

F = TypeVar("F", bound=Callable[..., Any])


def with_pid(method: F) -> F:
    """``method`` (a face's read of one bin) with its ``bin_id`` parameter named ``pid``, as the 0.3.1
    data directories name it (its stores say ``bin_id``): the same shell, docstring and engine
    operation, not a second definition."""
    signature = inspect.signature(method)
    parameters = [p.replace(name="pid") if p.name == "bin_id" else p for p in signature.parameters.values()]
    shell: Callable[..., Any]
    if inspect.iscoroutinefunction(method):

        async def shell(self: Any, *args: Any, **kwargs: Any) -> Any:
            if "pid" in kwargs:
                kwargs["bin_id"] = kwargs.pop("pid")
            return await method(self, *args, **kwargs)

    else:

        def shell(self: Any, *args: Any, **kwargs: Any) -> Any:
            if "pid" in kwargs:
                kwargs["bin_id"] = kwargs.pop("pid")
            return method(self, *args, **kwargs)

    functools.update_wrapper(shell, method)
    setattr(shell, "__signature__", signature.replace(parameters=parameters))  # noqa: B010 (inspect reads it)
    return cast(F, shell)


class _Reads:
    reader: BinReader

    @property
    def strict(self) -> bool:
        """Whether damaged ADC lines and unknown targets raise instead of warning."""
        return self.reader.strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self.reader.strict = value


class SyncBinReads(_Reads):
    """The read methods, run in the calling thread."""

    def read_header(self, bin_id: str) -> dict[str, Any]:
        """The bin's parsed header (``{}`` for an empty one).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return run_sync(self.reader.read_header(bin_id))

    def read_image(self, roi_id: str, *, stitch: bool = True) -> Image.Image:
        """One ROI image by id, reading only its bytes (both halves of a stitched pair, composited
        and infilled). With stitching, the second target of a pair is not an image.

        Raises:
            NotFoundError: (a ``KeyError``) for an unknown bin or target; TruncatedBinError when the
                image is cut short; InvalidIdentifierError for a malformed id.
        """
        return run_sync(self.reader.read_image(roi_id, stitch=stitch))

    def read_images(
        self, bin_id: str, rois: Iterable[int | str] | None = None, *, stitch: bool = True
    ) -> BinImages | dict[int, Image.Image]:
        """All of a bin's images (a :class:`~ifcbkit.formats.images.BinImages`, the ``.roi`` read once), or
        ``{target: image}`` for the ROIs in ``rois`` (target numbers or ROI ids), reading only those.

        Targets of ``rois`` that are not images of the bin (no image, the hidden half of a stitched
        pair) are left out with a :class:`~ifcbkit.errors.MissingTargetWarning`.

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there, or, when ``strict``, for such targets.
            FormatError: for damaged data when ``strict``; TruncatedBinError when an image is cut short.
        """
        return run_sync(self.reader.read_images(bin_id, rois, stitch=stitch))

    def list_images(self, bin_id: str) -> dict[int, dict[str, Any]]:
        """The bin's ADC geometry ``{target: {'roi_id', 'x', 'y', 'width', 'height'}}`` for every
        target with an image (both halves of a stitched pair), as ``parse_adc_bytes`` gives it.

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return run_sync(self.reader.list_images(bin_id))

    def list_roi_ids(self, bin_id: str, *, stitch: bool = True) -> list[str]:
        """The ROI ids of the bin's images, in order (with stitching, without the hidden halves).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return run_sync(self.reader.list_roi_ids(bin_id, stitch=stitch))

    def image_exists(self, roi_id: str, *, stitch: bool = True) -> bool:
        """Whether a ROI image exists: ``False`` for an unknown bin, a target without an image and,
        with stitching, the second half of a stitched pair.

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return run_sync(self.reader.image_exists(roi_id, stitch=stitch))

    def images_exist(self, bin_id: str, roi_ids: Iterable[str], *, stitch: bool = True) -> dict[str, bool]:
        """``{roi_id: exists}`` for ROIs of one bin, with one ADC lookup (all ``False`` for an unknown bin).

        Raises:
            InvalidIdentifierError: (a ``KeyError``) for an id that is not a ROI id.
        """
        return run_sync(self.reader.images_exist(bin_id, roi_ids, stitch=stitch))

    def iter_images(
        self, bin_id: str, rois: Iterable[int | str] | None = None, *, stitch: bool = True,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> Iterator[tuple[str, Image.Image]]:  # fmt: skip
        """``(roi_id, image)`` over the bin (or the ROIs in ``rois``, as :meth:`read_images` takes
        them), reading the ``.roi`` in chunks of about ``chunk_size`` bytes: the whole bin is never held.

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return iterate_sync(self.reader.iter_images(bin_id, rois, stitch=stitch, chunk_size=chunk_size))

    def bin_metadata(self, bin_id: str, *, method: str | None = None) -> dict[str, Any]:
        """The bin's metrics like the dashboard's ``/api/bin/{id}`` (see
        :func:`ifcbkit.science.metrics.bin_metadata`) by the volume ``method`` (``'adc'``, the default,
        ``'hdr'`` or ``'reference'``); ``size`` counts the files that exist. A dashboard store serves
        ``'api'``, its default: the keys of the local ``bin_metadata`` its ``/api/bin/{pid}`` has
        (``ml_analyzed`` as a float in ml), plus that answer under ``'api'``; its other methods never
        download the ``.roi`` (``size`` is ``None`` when the server does not tell its length).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin's header or ADC is not there; FormatError for
                an unreadable one or an unexpected answer; ValueError for an unknown ``method``.
        """
        return run_sync(self.reader.bin_metadata(bin_id, method=method))


class AsyncBinReads(_Reads):
    """The read methods of :class:`SyncBinReads`, awaitable; no call blocks the event loop."""

    async def read_header(self, bin_id: str) -> dict[str, Any]:
        """Await :meth:`SyncBinReads.read_header`: the bin's parsed header.

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return await run_async(self.reader.read_header(bin_id))

    async def read_image(self, roi_id: str, *, stitch: bool = True) -> Image.Image:
        """Await one ROI image by id (:meth:`SyncBinReads.read_image`).

        Raises:
            NotFoundError: (a ``KeyError``) for an unknown bin or target; TruncatedBinError when cut short.
        """
        return await run_async(self.reader.read_image(roi_id, stitch=stitch))

    async def read_images(
        self, bin_id: str, rois: Iterable[int | str] | None = None, *, stitch: bool = True
    ) -> BinImages | dict[int, Image.Image]:
        """Await a bin's images, or those of ``rois`` (:meth:`SyncBinReads.read_images`).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there (or a ROI, when ``strict``).
        """
        return await run_async(self.reader.read_images(bin_id, rois, stitch=stitch))

    async def list_images(self, bin_id: str) -> dict[int, dict[str, Any]]:
        """Await the bin's ADC geometry by target (:meth:`SyncBinReads.list_images`).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return await run_async(self.reader.list_images(bin_id))

    async def list_roi_ids(self, bin_id: str, *, stitch: bool = True) -> list[str]:
        """Await the ROI ids of the bin's images, in order (:meth:`SyncBinReads.list_roi_ids`).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return await run_async(self.reader.list_roi_ids(bin_id, stitch=stitch))

    async def image_exists(self, roi_id: str, *, stitch: bool = True) -> bool:
        """Await whether a ROI image exists (:meth:`SyncBinReads.image_exists`).

        Raises:
            InvalidIdentifierError: (a ``KeyError``) if ``roi_id`` is not a ROI id.
        """
        return await run_async(self.reader.image_exists(roi_id, stitch=stitch))

    async def images_exist(self, bin_id: str, roi_ids: Iterable[str], *, stitch: bool = True) -> dict[str, bool]:
        """Await ``{roi_id: exists}`` for ROIs of one bin (:meth:`SyncBinReads.images_exist`).

        Raises:
            InvalidIdentifierError: (a ``KeyError``) for an id that is not a ROI id.
        """
        return await run_async(self.reader.images_exist(bin_id, roi_ids, stitch=stitch))

    def iter_images(
        self, bin_id: str, rois: Iterable[int | str] | None = None, *, stitch: bool = True,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> AsyncIterator[tuple[str, Image.Image]]:  # fmt: skip
        """``async for`` over ``(roi_id, image)`` in chunks (:meth:`SyncBinReads.iter_images`).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin is not there.
        """
        return iterate_async(self.reader.iter_images(bin_id, rois, stitch=stitch, chunk_size=chunk_size))

    async def bin_metadata(self, bin_id: str, *, method: str | None = None) -> dict[str, Any]:
        """Await the bin's metrics (:meth:`SyncBinReads.bin_metadata`).

        Raises:
            NotFoundError: (a ``KeyError``) if the bin's header or ADC is not there.
        """
        return await run_async(self.reader.bin_metadata(bin_id, method=method))
