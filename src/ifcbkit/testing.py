"""Synthetic IFCB bins with known answers, for tests and benchmarks.

``write_bin`` writes a valid ``.hdr``/``.adc``/``.roi`` triplet whose geometry,
pixels and ADC columns are chosen by the caller, in the layout real instruments
use: D-style (key: value header, 24 ADC columns) or I-style (2005 header, 15 ADC
columns with a trailing comma). No-image targets get width and height 0 and an
offset equal to the ``.roi`` size so far, as on real instruments.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .adc import D_STYLE_COLUMN_NAMES, I_STYLE_COLUMN_NAMES
from .identifiers import parse_bin

# The 2022 spelling of the D-style column names, as a header's ADCFileFormat.
D_STYLE_ADC_FORMAT = (
    "trigger#, ADCtime, PMTA, PMTB, PMTC, PMTD, PeakA, PeakB, PeakC, PeakD, TimeOfFlight, GrabTimeStart, "
    "GrabTimeEnd, RoiX, RoiY, RoiWidth, RoiHeight, StartByte, ComparatorOut, StartPoint, SignalLength, Status, "
    "RunTime, InhibitTime"
)


@dataclass
class Roi:
    """One synthetic target (one ADC line).

    ``width``/``height`` 0 make a trigger without an image. ``trigger`` defaults to
    the target number (I-style stitched pairs share one). ``pixels`` are the image
    bytes (default: seeded random bytes). ``columns`` override other ADC values by
    canonical name (``ADCtime``, ``RunTime``, ``InhibitTime``, ``triggerOpenTime``, ...).
    """

    width: int = 0
    height: int = 0
    x: int = 0
    y: int = 0
    trigger: int | None = None
    pixels: bytes | None = None
    columns: dict[str, float] = field(default_factory=dict)


RoiSpec = Roi | tuple | Mapping[str, Any]


class BinBytes(NamedTuple):
    hdr: bytes
    adc: bytes
    roi: bytes


class BinPaths(NamedTuple):
    pid: str
    hdr: Path
    adc: Path
    roi: Path


def _as_roi(spec: RoiSpec) -> Roi:
    if isinstance(spec, Roi):
        return spec
    if isinstance(spec, Mapping):
        return Roi(**spec)
    return Roi(*spec)


def _format(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}"


def _default_columns(style: str, target: int, trigger: int) -> dict[str, float]:
    # Plausible, monotone times: a trigger every 0.5 s.
    t = trigger * 0.5
    if style == "D":
        return {
            "ADCtime": t, "GrabTimeStart": t, "GrabTimeEnd": t + 0.04, "RunTime": t + 0.05,
            "InhibitTime": trigger * 0.01, "TimeOfFlight": -999, "ComparatorOut": -999,
        }  # fmt: skip
    return {"processingEndTime": t + 0.03, "triggerOpenTime": t - 0.2, "frameGrabTime": t + 0.01}


def make_bin(
    bin_id: str,
    rois: Sequence[RoiSpec] = (),
    *,
    header: Mapping[str, Any] | None = None,
    header_text: str | None = None,
    seed: int = 0,
    roi_prefix: bytes = b"",
    roi_suffix: bytes = b"",
) -> BinBytes:
    """The bytes of a synthetic bin (see :func:`write_bin`)."""
    style = parse_bin(bin_id).style
    names = D_STYLE_COLUMN_NAMES if style == "D" else I_STYLE_COLUMN_NAMES
    specs = [_as_roi(spec) for spec in rois]
    rng = random.Random(seed)
    roi = bytearray(roi_prefix)
    lines = []
    for target, spec in enumerate(specs, 1):
        trigger = spec.trigger if spec.trigger is not None else target
        values: dict[str, float] = dict.fromkeys(names, 0)
        values.update(_default_columns(style, target, trigger))
        values.update(trigger=trigger, x=spec.x, y=spec.y, width=spec.width, height=spec.height)
        values["byteOffset"] = len(roi)
        if spec.width and spec.height:
            n = spec.width * spec.height
            pixels = spec.pixels if spec.pixels is not None else rng.randbytes(n)
            if len(pixels) != n:
                raise ValueError(f"target {target}: {len(pixels)} pixel bytes for a {spec.width}x{spec.height} ROI")
            roi += pixels
        unknown = sorted(set(spec.columns) - set(names))
        if unknown:
            raise ValueError(f"target {target}: no {style}-style ADC column {', '.join(map(repr, unknown))}")
        values.update(spec.columns)
        line = ",".join(_format(values[n]) for n in names)
        lines.append(line + ("," if style == "I" else ""))
    roi += roi_suffix
    adc = "".join(line + "\r\n" if style == "I" else line + "\n" for line in lines).encode()
    if header_text is None:
        n_images = sum(1 for spec in specs if spec.width and spec.height)
        header_text = _header_text(style, bin_id, len(specs), n_images, header or {})
    return BinBytes(header_text.encode("latin-1"), adc, bytes(roi))


def _header_text(style: str, bin_id: str, n_triggers: int, n_images: int, values: Mapping[str, Any]) -> str:
    if style == "I":
        v = {"temperature": 11.5, "humidity": 32.25, **values}
        return (
            '"Imaging FlowCytobot Acquisition Software version 1.0; October 2005"\r\n'
            '"Heidi M. Sosik and Robert J. Olson"\r\n'
            '"Woods Hole Oceanographic Institution"\r\n'
            '"SyringeStatus =  0"\r\n'
            '"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl) BlobSizeThresh"\r\n'
            f'" {v["temperature"]}"," {v["humidity"]}"," 30"," .675"," .6"," 10"\r\n'
        )
    timestamp = parse_bin(bin_id).timestamp
    fields: dict[str, Any] = {
        "softwareVersion": "Imaging FlowCytobot Acquisition Software version 2.0; May 2010",
        "sampleTime": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "imagerID": parse_bin(bin_id).instrument,
        "runType": "NORMAL",
        "sampleType": "Normal",
        "triggerCount": n_triggers,
        "roiCount": n_images,
        "runTime": 1200.5,
        "inhibitTime": 12.25,
        "temperature": 20.5,
        "humidity": 30.25,
        "ADCFileFormat": D_STYLE_ADC_FORMAT,
    }
    fields.update(values)
    return "".join(f"{k}: {v}\t\n" if k != "ADCFileFormat" else f"{k}: {v}\n" for k, v in fields.items())


def write_bin(directory: str | os.PathLike[str], bin_id: str, rois: Sequence[RoiSpec] = (), **options: Any) -> BinPaths:
    """Write a synthetic bin ``{bin_id}.hdr/.adc/.roi`` into ``directory`` (created if needed).

    ``rois`` are :class:`Roi` objects, ``(width, height, x, y, trigger)``
    tuples or dicts; ``header`` overrides header values and ``header_text``
    replaces the header entirely. Returns the three paths.
    """
    data = make_bin(bin_id, rois, **options)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = BinPaths(bin_id, directory / f"{bin_id}.hdr", directory / f"{bin_id}.adc", directory / f"{bin_id}.roi")
    for path, content in zip(paths[1:], data):
        path.write_bytes(content)
    return paths


def stitched_pair(trigger: int, a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> list[Roi]:
    """Two I-style ROIs of one trigger with boxes ``(x, y, width, height)``: a stitched pair when they overlap."""
    return [Roi(x=a[0], y=a[1], width=a[2], height=a[3], trigger=trigger),
            Roi(x=b[0], y=b[1], width=b[2], height=b[3], trigger=trigger)]  # fmt: skip
