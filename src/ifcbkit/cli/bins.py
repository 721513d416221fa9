"""The commands over one bin or a listing: ``ls``, ``info``, ``show``, ``mosaic`` and ``extract``."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import zipfile
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_file
from ..errors import IfcbError
from ..faces.bins import open_bin
from ..faces.directory import SyncIfcbDataDirectory
from ..formats.encoding import encode_image
from ..formats.hdr import parse_hdr_file
from ..formats.ids import add_target, parse_bin
from . import args as cli_args

if TYPE_CHECKING:
    from PIL import Image
from .common import data_directory, no_bins, plain, warn


def cmd_ls(args: argparse.Namespace) -> int:
    directory = data_directory(args)
    listed: Iterator[dict[str, Any]] = directory.list(
        start_time=args.start, end_time=args.end, instrument=args.instrument
    )
    count = 0
    for fileset in listed:
        print(fileset["pid"])
        count += 1
    return 0 if count else no_bins("ls", args)


def _bin_paths(args: argparse.Namespace) -> tuple[SyncIfcbDataDirectory, str, dict[str, str | None], str | None]:
    """The directory, bin id and paths of ``args.pid``, with what the bin lacks (or ``None``)."""
    directory = data_directory(args, partial=True)  # a bin without .roi or .adc still has its header
    pid = parse_bin(args.pid).bin_id
    paths = directory.paths(pid)
    return directory, pid, paths, cli_args.missing_files(pid, paths)


def _complete_bin(args: argparse.Namespace) -> tuple[SyncIfcbDataDirectory, str, dict[str, str | None]]:
    """:func:`_bin_paths` for commands that need images: a bin missing a file is an error saying which."""
    directory, pid, paths, missing = _bin_paths(args)
    if missing is not None:
        raise IfcbError(missing)
    return directory, pid, paths


def _header(directory: SyncIfcbDataDirectory, pid: str, paths: dict[str, str | None]) -> dict[str, Any]:
    if paths["adc"] is None:  # the directory reads a header with its ADC; the .hdr alone is enough here
        return parse_hdr_file(str(paths["hdr"]))
    return directory.read_header(pid)


def cmd_info(args: argparse.Namespace) -> int:
    directory, pid, paths, missing = _bin_paths(args)
    if missing is not None:
        warn("info", missing)
    info = {
        "pid": pid,
        "paths": paths,
        "metadata": None if paths["adc"] is None else directory.bin_metadata(pid, method=args.method),
        "header": _header(directory, pid, paths),
    }
    json.dump(plain(info), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    return 0


# The header values `show` prints, when the header has them.
_HIGHLIGHTS = ("runTime", "inhibitTime", "temperature", "humidity", "sampleVolume", "binarizeThreshold")


def _contents(args: argparse.Namespace) -> dict[str, Any]:
    directory, pid, paths, missing = _bin_paths(args)
    if missing is not None:
        warn(args.command, missing)
    header = _header(directory, pid, paths)
    if paths["adc"] is None:  # no ADC: no targets, no metadata; what the id and the header say
        parsed = parse_bin(pid)
        return {
            "pid": pid, "timestamp": parsed.timestamp.isoformat(), "instrument": f"IFCB{parsed.instrument}",
            "num_triggers": None, "num_images": None, "pairs": [], "has_roi": paths["roi"] is not None,
            "missing": missing, "header": {k: header[k] for k in _HIGHLIGHTS if k in header}, "targets": [],
        }  # fmt: skip
    geometry = directory.list_images(pid)  # every target with an image, both halves of pairs
    roi = paths["roi"]
    shown: set[str] = set()
    pairs: list[list[int]] = []
    if roi is not None:
        with open_bin(roi) as b:  # the pairs and the images shown, from the ADC; no pixels are read
            pairs = [list(pair) for pair in b.images.pairs]
            shown = set(b.roi_ids())
    partner = {b: a for a, b in pairs} | {a: b for a, b in pairs}
    targets = [
        {"target": t, "roi_id": g["roi_id"], "width": g["width"], "height": g["height"], "shown": g["roi_id"] in shown,
         "pair": partner.get(t)}
        for t, g in sorted(geometry.items())
    ]  # fmt: skip
    metadata = directory.bin_metadata(pid)
    return {
        "pid": pid, "timestamp": metadata["timestamp_iso"], "instrument": metadata["instrument"],
        "num_triggers": metadata["num_triggers"], "num_images": metadata["num_images"], "pairs": pairs,
        "has_roi": roi is not None, "missing": missing,
        "header": {k: header[k] for k in _HIGHLIGHTS if k in header}, "targets": targets,
    }  # fmt: skip


def cmd_show(args: argparse.Namespace) -> int:
    contents = _contents(args)
    if args.json:
        json.dump(plain(contents), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    print(f"{contents['pid']}  {contents['timestamp']}  {contents['instrument']}")
    if contents["num_triggers"] is None:
        print("no ADC: targets unknown")
    else:
        counts = f"{contents['num_triggers']} triggers, {contents['num_images']} images"
        print(f"{counts}, {len(contents['pairs'])} stitched pairs" + ("" if contents["has_roi"] else ", no images"))
    for key, value in contents["header"].items():
        print(f"  {key}: {value}")
    print("target  roi_id                           width  height  note")
    for t in contents["targets"]:
        note = "" if t["pair"] is None else (f"pair with {t['pair']}" if t["shown"] else f"shown under {t['pair']}")
        print(f"{t['target']:>6}  {t['roi_id']:<32} {t['width']:>5}  {t['height']:>6}  {note}")
    return 0


def cmd_mosaic(args: argparse.Namespace) -> int:
    from ..view.mosaic import mosaic

    directory, pid, _ = _complete_bin(args)
    images: dict[int | str, Image.Image] = {t: image for t, image in directory.read_images(pid).items()}
    page = mosaic(images, shape=args.shape, scale=args.scale)
    if os.path.isdir(args.out):
        raise IfcbError(f"--out {args.out} is a directory: mosaic writes one PNG file")
    with atomic_file(args.out) as f:
        page.image.save(f, "PNG")
    left = (
        f"; {len(page.left_out)} did not fit (a larger --shape or smaller --scale fits more)" if page.left_out else ""
    )
    print(f"{len(page.placements)} images of {pid} placed in {args.out}{left}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    directory, pid, paths = _complete_bin(args)  # an unknown or incomplete bin fails before anything is written
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise IfcbError(f"--out {args.out} is a file: extract writes into a directory (created if needed)")
    os.makedirs(args.out, exist_ok=True)
    images: Iterable[tuple[str, Image.Image]] = directory.iter_images(pid, stitch=not args.no_stitch)
    pairs: list[tuple[int, int]] = []
    if args.pairs:
        images = itertools.chain(images, _pair_pictures(paths["roi"], pairs))
    count = 0
    if args.zip:
        target = os.path.join(args.out, f"{pid}.zip")
        with atomic_file(target) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
            for roi_id, image in images:
                archive.writestr(f"{roi_id}.{args.format}", encode_image(image, args.format))
                count += 1
    else:
        target = args.out
        for roi_id, image in images:
            data = encode_image(image, args.format)
            with atomic_file(os.path.join(args.out, f"{roi_id}.{args.format}")) as f:
                f.write(data)
            count += 1
    pictures = 2 * len(pairs)
    extra = f" and {pictures} pictures of its stitched pairs" if args.pairs else ""
    print(f"{count - pictures} images of {pid}{extra} written to {target}")
    return 0


def _pair_pictures(roi: str | None, pairs: list[tuple[int, int]]) -> Iterator[tuple[str, Image.Image]]:
    """``({roi_id}_composite, image)`` and ``({roi_id}_mask, gap mask)`` for each stitched pair (the
    pairs are added to ``pairs`` as they are written)."""
    if roi is None:
        return
    with open_bin(roi) as b:
        for a, b_ in b.images.pairs:
            pairs.append((a, b_))
            composite, mask = b.images.get_raw(a)
            roi_id = add_target(b.pid, a)
            yield f"{roi_id}_composite", composite
            yield f"{roi_id}_mask", mask.convert("L")  # type: ignore[union-attr]
