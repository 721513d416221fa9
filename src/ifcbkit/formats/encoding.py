"""Encoding ROI images as PNG or JPEG bytes, as ROI stores hold them."""

from __future__ import annotations

import io
from typing import Literal

from PIL import Image

from ..errors import InvalidArgumentError

__all__ = ["ImageFormat", "check_file_type", "encode_image"]

ImageFormat = Literal["png", "jpg"]
_PIL_FORMATS = {"png": "PNG", "jpg": "JPEG"}


def check_file_type(file_type: str) -> ImageFormat:
    """The image type ROI stores encode, ``'png'`` or ``'jpg'`` (``'.PNG'`` and ``'jpeg'`` are accepted
    spellings); :class:`~ifcbkit.errors.InvalidArgumentError` (a ``ValueError``) otherwise."""
    normal = file_type.lower().lstrip(".") if isinstance(file_type, str) else file_type
    normal = "jpg" if normal == "jpeg" else normal
    if normal not in _PIL_FORMATS:
        raise InvalidArgumentError("file_type", f"Unsupported file_type: {file_type!r} (expected 'png' or 'jpg')")
    return normal  # type: ignore[return-value]


def encode_image(image: Image.Image, file_type: ImageFormat = "png") -> bytes:
    """An image encoded as PNG or JPEG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, _PIL_FORMATS[check_file_type(file_type)])
    return buffer.getvalue()
