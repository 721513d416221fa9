"""A dashboard's JSON answers, as pure functions over their bytes: finite numbers only, bounded
nesting, and ``/api/bin`` metadata under the keys of the local ``bin_metadata``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ...errors import FormatError
from .listing import MAX_NUMBER_CHARS, check_volume

# The keys of the local ``bin_metadata`` that the dashboard's /api/bin answer also has.
API_METADATA_FIELDS: tuple[str, ...] = (
    "timestamp_iso", "instrument", "num_triggers", "num_images", "trigger_freq", "ml_analyzed",
    "concentration", "lat", "lng", "size", "sample_type",
)  # fmt: skip


def _quantity(value: Any) -> float:
    """A finite number from the API: ``2.851``, ``"2.851"`` or ``"2.851 ml"``; NaN when absent.

    Raises:
        ValueError: for anything else (``"1e400 ml"`` included: it is not a finite number).
    """
    if value is None:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        word = text.split()[0] if text else ""
        if len(word) > MAX_NUMBER_CHARS:
            raise ValueError(f"not a quantity: a number of {len(word)} characters")
        try:
            number = float(word)
        except ValueError:
            raise ValueError(f"not a quantity: {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{str(value)[:40]!r} is not a finite number")
    return number


def _volume(value: Any) -> float:
    return check_volume(_quantity(value))


def _optional_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number bin metadata can have")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"{text[:20]} is out of range")
    return value


def metadata_from_api(bin_id: str, api: Mapping[str, Any]) -> dict[str, Any]:
    """The local ``bin_metadata`` keys (where the API has them) from an ``/api/bin`` answer,
    plus the answer itself under ``'api'``; ``ml_analyzed`` ``"2.851 ml"`` becomes ``2.851``."""
    converters: dict[str, Any] = {
        "timestamp_iso": str, "instrument": str, "num_triggers": int, "num_images": int,
        "trigger_freq": _quantity, "ml_analyzed": _volume, "concentration": _quantity,
        "lat": _optional_float, "lng": _optional_float, "size": int, "sample_type": str,
    }  # fmt: skip
    out: dict[str, Any] = {"pid": bin_id}
    for name in API_METADATA_FIELDS:
        if name in api:
            value, convert = api[name], converters[name]
            out[name] = convert(value) if value is not None or convert in (_quantity, _volume) else None
    out["api"] = dict(api)
    return out


def parse_json(content: bytes, *, source: str) -> Any:
    """A dashboard's JSON answer, with finite numbers only (``NaN``, ``Infinity`` and ``1e400`` are
    refused) and bounded nesting.

    Raises:
        FormatError: naming ``source``.
    """
    try:
        return json.loads(content, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise FormatError(source, "the answer nests deeper than any dashboard answer") from None
    except ValueError as e:
        raise FormatError(source, f"the answer is not JSON ({e})") from None


def parse_bin_api(content: bytes, *, source: str, pid: str) -> dict[str, Any]:
    """:func:`metadata_from_api` of the bytes of an ``/api/bin/{pid}`` answer (a pure function: what
    ``bin_metadata`` and the listing by walking read).

    Raises:
        FormatError: naming ``source`` for an answer that is not bin metadata, or whose volume or
            counts are not finite numbers in range.
    """
    api = parse_json(content, source=source)
    if not isinstance(api, dict):
        raise FormatError(source, "the answer is not a JSON object")
    try:
        return metadata_from_api(pid, api)
    except (TypeError, ValueError, OverflowError) as e:
        raise FormatError(source, f"unexpected bin metadata: {e}") from None
