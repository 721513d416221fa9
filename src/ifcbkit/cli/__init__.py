"""The ``ifcbkit`` command line: list bins, show one, extract its images, bin metrics, daily abundance
(with biomass), per-ROI carbon.

Every subcommand has ``--help``. Bad input (a missing root, an unknown or
invalid pid, a bad date, an unwritable output) ends with a one-line message on
stderr and a non-zero exit status, never a traceback. Work over many bins runs
on every core and shows its progress on stderr when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
import urllib.parse
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from .. import __version__
from ..atomic import atomic_file
from ..errors import IfcbError, IfcbWarning, SkippedPathWarning
from ..faces.bins import open_bin
from ..faces.directory import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, FilesetFilter, SyncIfcbDataDirectory
from ..formats.encoding import encode_image
from ..formats.hdr import parse_hdr_file
from ..formats.ids import add_target, parse_bin, parse_instruments
from ..jobs.abundance import (
    AbundanceResult,
    DayPlan,
    daily_abundance,
    feature_files,
    plan_days,
    score_files,
    write_abundance_csv,
    write_bin_csv,
)
from ..jobs.batch import BinFailure, bins_under, iter_bin_metadata
from ..jobs.csv_output import write_rows_csv
from ..jobs.daily_output import MANIFEST_NAME, DailyFolder
from ..science.class_rules import DEFAULT_THRESHOLD
from ..science.counting import bin_rows
from ..science.metrics import METADATA_FIELDS, ML_METHODS, MlMethod
from . import args as cli_args
from .carbon import add_carbon_command, add_carbon_options, carbon_settings, check_carbon_args, counting_options

if TYPE_CHECKING:
    from PIL import Image

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe


# ----- output helpers -------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-safe: NaN becomes null, containers are walked."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """Stdout, or the file at ``path``: created before any work (so an unwritable output fails fast)
    under a temporary name, and renamed to ``path`` only when the run completes."""
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_file(path, "w") as f:
        yield f


def _warn(command: str, message: str) -> None:
    print(f"ifcbkit {command}: warning: {message}", file=sys.stderr)


class _Progress:
    """``done/total`` on one stderr line, redrawn at most ten times a second; only on a terminal."""

    def __init__(self, label: str):
        self.label = label
        self.last = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        self.drawn = True
        sys.stderr.write(f"\r{self.label}: {done}/{total} bins")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    @classmethod
    def for_stderr(cls, label: str) -> _Progress | None:
        return cls(label) if sys.stderr.isatty() else None


# ----- commands -------------------------------------------------------------------------------


def _rules(args: argparse.Namespace) -> dict[str, Any]:
    """``include``/``exclude`` for a data directory: the defaults, or what --include/--exclude say."""
    return {
        "include": args.include if args.include is not None else list(DEFAULT_INCLUDE),
        "exclude": args.exclude if args.exclude is not None else list(DEFAULT_EXCLUDE),
    }


def _directory(args: argparse.Namespace, *, partial: bool = False) -> SyncIfcbDataDirectory:
    """The data directory of ``args.root`` under --include/--exclude; ``partial``: a bin counts with its
    ``.hdr`` alone, so that a command can say which of its other files is missing."""
    rules = _rules(args)
    return SyncIfcbDataDirectory(
        args.root, include=rules["include"], exclude=rules["exclude"], require_adc=not partial,
        require_roi=not partial,
    )  # fmt: skip


def _no_bins(command: str, args: argparse.Namespace) -> int:
    """A walk that found no bin: one line naming the folders it did not enter, and exit 1."""
    rules = _rules(args)
    ranged = getattr(args, "start", None) is not None or getattr(args, "end", None) is not None
    within = (" in that range" if ranged else "") + (" for that instrument" if args.instrument is not None else "")
    message = cli_args.no_bins(args.root, rules["include"], rules["exclude"], within=within)
    print(f"ifcbkit {command}: {message}", file=sys.stderr)
    return EXIT_ERROR


def cmd_ls(args: argparse.Namespace) -> int:
    directory = _directory(args)
    listed: Iterator[dict[str, Any]] = directory.list(
        start_time=args.start, end_time=args.end, instrument=args.instrument
    )
    count = 0
    for fileset in listed:
        print(fileset["pid"])
        count += 1
    return 0 if count else _no_bins("ls", args)


def _bin_paths(args: argparse.Namespace) -> tuple[SyncIfcbDataDirectory, str, dict[str, str | None], str | None]:
    """The directory, bin id and paths of ``args.pid``, with what the bin lacks (or ``None``)."""
    directory = _directory(args, partial=True)  # a bin without .roi or .adc still has its header
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
        _warn("info", missing)
    info = {
        "pid": pid,
        "paths": paths,
        "metadata": None if paths["adc"] is None else directory.bin_metadata(pid, method=args.method),
        "header": _header(directory, pid, paths),
    }
    json.dump(_plain(info), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    return 0


# The header values `show` prints, when the header has them.
_HIGHLIGHTS = ("runTime", "inhibitTime", "temperature", "humidity", "sampleVolume", "binarizeThreshold")


def _contents(args: argparse.Namespace) -> dict[str, Any]:
    directory, pid, paths, missing = _bin_paths(args)
    if missing is not None:
        _warn(args.command, missing)
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
        json.dump(_plain(contents), sys.stdout, indent=2, allow_nan=False)
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


def _on_dask() -> Any:
    """``ifcbkit.dask``, imported only for ``--scheduler`` (it needs the ``dask`` extra)."""
    from .. import dask

    return dask


def cmd_metrics(args: argparse.Namespace) -> int:
    results: Iterable[dict[str, Any] | BinFailure]
    if args.scheduler is not None:
        done = _on_dask().metrics(
            _directory(args), method=args.method, start_time=args.start,
            end_time=args.end, instrument=args.instrument, scheduler=args.scheduler,
        )  # fmt: skip
        results = [*done.rows, *done.failures]
    else:
        results = iter_bin_metadata(
            args.root, start_time=args.start, end_time=args.end, instrument=args.instrument, method=args.method,
            workers=args.workers, progress=_Progress.for_stderr("metrics"), **_rules(args),
        )  # fmt: skip
    failures = []
    damaged: list[dict[str, Any]] = []
    found = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal found
        for result in results:
            found += 1
            if isinstance(result, BinFailure):
                failures.append(result)
            else:
                if result.get("skipped_lines"):
                    damaged.append(result)
                yield result

    with _output(args.out) as out:
        write_rows_csv(rows(), METADATA_FIELDS, out)
    if not found:
        return _no_bins("metrics", args)
    for failure in failures:
        _warn("metrics", f"skipped {failure.pid}: {failure.error}")
    for row in damaged:
        _warn("metrics", f"{row['pid']}: {row['skipped_lines']} damaged ADC lines skipped (their targets: no image)")
    if failures:
        print(f"ifcbkit metrics: {len(failures)} bins could not be read (see the warnings)", file=sys.stderr)
    if damaged:
        print(f"ifcbkit metrics: {len(damaged)} bins had damaged ADC lines skipped (see the warnings)",
              file=sys.stderr)  # fmt: skip
    return EXIT_ERROR if failures or damaged else 0


def _public_url(url: str) -> str:
    """A dashboard URL without credentials, query or fragment (what a manifest may keep)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme.lower(), host.lower(), parts.path.rstrip("/"), "", ""))


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every option that changes an abundance run's numbers, for ``--daily-dir``'s settings key. An
    option added later joins the key by being added here (a file's content by its sha256)."""
    instruments = parse_instruments(args.instrument)
    common = {
        **carbon_settings(args), "instrument": None if instruments is None else sorted(instruments),
        "version": __version__,
    }  # fmt: skip
    if args.dashboard is not None:
        return {"source": "dashboard", "dashboard": _public_url(args.dashboard), "dataset": args.dataset,
                "model": args.model, "method": args.method or "dashboard", **common}  # fmt: skip
    rules = _rules(args)
    return {
        "source": "local", "root": os.path.realpath(args.root), "products": os.path.realpath(args.products),
        "method": args.method or "adc", "include": sorted(rules["include"]), "exclude": sorted(rules["exclude"]),
        **common,
    }  # fmt: skip


def _abundance(args: argparse.Namespace, plan: DayPlan | None) -> AbundanceResult:
    progress = _Progress.for_stderr("abundance")
    if args.dashboard is not None:
        from ..jobs.dashboard_abundance import daily_abundance_from_dashboard

        return daily_abundance_from_dashboard(
            args.dashboard, args.dataset, start_time=args.start, end_time=args.end,
            instrument=args.instrument, method=args.method, model=args.model, max_concurrency=args.connections,
            plan=plan, progress=progress, **counting_options(args),
        )  # fmt: skip
    if not os.path.exists(args.products):
        raise IfcbError(f"products {args.products} does not exist")
    method: MlMethod = args.method or "adc"
    if args.scheduler is not None:
        scores: Any = args.products
        pids: list[str] | None = None
        if plan is not None:  # the days to count, as daily_abundance plans them
            rules = _rules(args)
            _, listed = bins_under(args.root, rules["include"], rules["exclude"], args.start, args.end, args.instrument)
            volumes = feature_files(args.products) if args.carbon else None
            pids, scores = plan_days(listed, score_files(args.products), plan, (), volumes)
        result: AbundanceResult = _on_dask().daily_abundance(
            _directory(args), scores, bins=pids, features=args.products if args.carbon else None,
            method=method, start_time=args.start, end_time=args.end, instrument=args.instrument,
            scheduler=args.scheduler, **counting_options(args),
        )  # fmt: skip
        return result
    return daily_abundance(
        args.root, args.products, method=method, start_time=args.start, end_time=args.end,
        instrument=args.instrument, workers=args.workers, progress=progress, plan=plan, **_rules(args),
        **counting_options(args),
    )  # fmt: skip


def _note(message: str) -> None:
    print(f"ifcbkit abundance: {message}", file=sys.stderr)


def _finds_a_bin(args: argparse.Namespace) -> bool:
    """Whether the walk of ``args.root`` finds at least one bin in the range asked (it stops at the first)."""
    listed = _directory(args).list(start_time=args.start, end_time=args.end, instrument=args.instrument)
    return next(iter(listed), None) is not None


def cmd_abundance(args: argparse.Namespace) -> int:
    folder = None
    if args.daily_dir is not None:
        span = FilesetFilter(start_time=args.start, end_time=args.end)
        folder = DailyFolder(
            args.daily_dir, _settings(args), start=span.start, end=span.end, note=_note,
            warn=lambda message: _warn("abundance", message), recompute=args.recompute, carbon=args.carbon,
        )  # fmt: skip
    with _output(args.out) as out:
        result = _abundance(args, folder)
        rows: list[dict[str, Any]] = result.rows
        if folder is not None:
            rows = folder.rows(result.rows)  # the days counted and the days reused: the requested range only
            folder.record(result)
        if args.per == "bin":
            threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
            write_bin_csv(bin_rows(result.bins, threshold), out, carbon=args.carbon)
        else:
            write_abundance_csv(rows, out, carbon=args.carbon)
    if args.plot is not None:
        from ..jobs.tables import plot_abundance

        plot_abundance(rows, args.plot)
    reused = folder.reused if folder is not None else {}
    if args.dashboard is None and not result.bins and not any(reused.values()) and not _finds_a_bin(args):
        return _no_bins("abundance", args)  # rather than a warning for each class-score file without its bin
    for skipped in result.skipped:
        _warn("abundance", f"skipped {skipped.pid}: {skipped.reason}")
    damaged = [b for b in result.bins if b.skipped_lines]
    for b in damaged:
        _warn("abundance", f"{b.pid}: {b.skipped_lines} damaged ADC lines skipped (counted without their targets)")
    if reused:
        _note(f"{len(reused)} days reused from {args.daily_dir} (same settings, whole UTC days, no errors)")
    if not result.bins and not any(reused.values()):
        if not result.skipped and not reused:
            if args.dashboard is None:
                return _no_bins("abundance", args)
            _note(f"no bins in dataset {args.dataset!r} in that range")
        else:
            _note(f"no bin could be counted ({len(result.skipped)} skipped)")
        return EXIT_ERROR
    errors = sum(skipped.error for skipped in result.skipped)
    if errors:
        _note(f"{errors} bins skipped for errors (see the warnings)")
    if damaged:
        _note(f"{len(damaged)} bins had damaged ADC lines skipped (see the warnings)")
    return EXIT_ERROR if errors or damaged else 0


# ----- the parser -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _threshold(text: str) -> float:
    try:
        value = float(text) if len(text) <= 64 else math.nan
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"not a score from 0 to 1 (class scores are): {cli_args.shown(text)}")
    return value


_workers = cli_args.bounded_int(1, cli_args.MAX_WORKERS, "processes")
_connections = cli_args.bounded_int(1, cli_args.MAX_CONNECTIONS, "connections")
_scale = cli_args.positive_float("a scale", cli_args.MAX_SCALE)


def _add_root(parser: argparse.ArgumentParser, *, help: str = "data root", **options: Any) -> None:
    """ROOT, and the --include/--exclude that say which of its directories are walked."""
    parser.add_argument("root", metavar="ROOT", type=cli_args.path, help=help, **options)
    parser.add_argument(
        "--include", action="append", metavar="NAME", type=cli_args.directory_name, help="also walk directories "
        "matching NAME, a directory name or glob pattern (repeatable; by default only 'data' and names like a "
        "bin's year or day, such as D2024 or D20240215)",
    )  # fmt: skip
    parser.add_argument(
        "--exclude", action="append", metavar="NAME", type=cli_args.directory_name, help="never walk directories "
        "matching NAME, a directory name or glob pattern (repeatable; default: skip, beads)",
    )  # fmt: skip


def _add_pid(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", metavar="PID", type=cli_args.pid, help="bin id")


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start", type=cli_args.start_time, help="only bins at or after this UTC date or time (ISO 8601)"
    )
    parser.add_argument("--end", type=cli_args.end_time, help="only bins before this UTC date or time (ISO 8601)")
    parser.add_argument("--instrument", type=cli_args.instrument, help="only this instrument number (10 or IFCB10)")


def _add_method(parser: argparse.ArgumentParser, *, dashboard: bool = False) -> None:
    also = "; with --dashboard the default is the dashboard's own ml_analyzed, and --method recomputes it"
    also = f"{also} from the raw files" if dashboard else ""
    parser.add_argument(
        "--method", choices=ML_METHODS, default=None if dashboard else "adc",
        help="how ml_analyzed is computed: adc (the dashboard's ADC estimate, default), hdr (header times) or "
        f"reference (header times cross-checked against the ADC, 2%% rule){also}",
    )  # fmt: skip


def _add_out(parser: argparse.ArgumentParser, help: str, *, required: bool = False, metavar: str = "FILE") -> None:
    parser.add_argument("--out", required=required, metavar=metavar, type=cli_args.path, help=help)


def _add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=_workers, help=f"processes to use, 1 to {cli_args.MAX_WORKERS} (default: every core)"
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", type=cli_args.text("a scheduler address"),
        help="run on this Dask scheduler (tcp://host:8786), or 'local' for a LocalCluster; needs ifcbkit[dask]",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ifcbkit", description="Read IFCB (Imaging FlowCytobot) raw data and products.")
    parser.add_argument("--version", action="version", version=f"ifcbkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = commands.add_parser("ls", help="list the bins under a data root", description="List the bins under ROOT.")
    _add_root(ls)
    _add_filters(ls)
    ls.set_defaults(run=cmd_ls)

    info = commands.add_parser(
        "info", help="one bin's metadata and header as JSON",
        description="Print one bin's paths, metadata (as the dashboard's /api/bin) and header as JSON.",
    )  # fmt: skip
    _add_root(info)
    _add_pid(info)
    _add_method(info)
    info.set_defaults(run=cmd_info)

    extract = commands.add_parser(
        "extract", help="write a bin's images to files or a zip",
        description="Write a bin's ROI images to DIR as {roi_id}.png (or .jpg), or to DIR/{pid}.zip with --zip.",
    )  # fmt: skip
    _add_root(extract)
    _add_pid(extract)
    _add_out(extract, "output directory (created if needed)", required=True, metavar="DIR")
    extract.add_argument("--format", choices=("png", "jpg"), default="png", help="image format (default png)")
    extract.add_argument("--zip", action="store_true", help="write one zip archive DIR/{pid}.zip")
    extract.add_argument("--no-stitch", action="store_true", help="keep both halves of stitched I-style pairs")
    extract.add_argument(
        "--pairs", action="store_true",
        help="also write each stitched pair's raw composite and gap mask ({roi_id}_composite, {roi_id}_mask)",
    )  # fmt: skip
    extract.set_defaults(run=cmd_extract)

    show = commands.add_parser(
        "show", help="what a bin contains: targets, ROI ids, sizes, stitched pairs",
        description="List a bin's targets with their ROI ids and sizes, its stitched pairs and header highlights.",
    )  # fmt: skip
    _add_root(show)
    _add_pid(show)
    show.add_argument("--json", action="store_true", help="print JSON, for scripts")
    show.set_defaults(run=cmd_show)

    mosaic = commands.add_parser(
        "mosaic", help="a page of a bin's images, largest first",
        description="Pack a bin's images (stitched) into one PNG page, largest first, as the dashboard shows them.",
    )  # fmt: skip
    _add_root(mosaic)
    _add_pid(mosaic)
    _add_out(mosaic, "the PNG to write", required=True)
    mosaic.add_argument(
        "--shape", type=cli_args.page_shape, default=(600, 800), metavar="HxW",
        help=f"page size in pixels, each side 1 to {cli_args.MAX_PAGE_SIDE} (default 600x800)",
    )  # fmt: skip
    mosaic.add_argument(
        "--scale", type=_scale, default=0.33, help=f"image scale, above 0 and at most {cli_args.MAX_SCALE:g} "
        "(default 0.33)",
    )  # fmt: skip
    mosaic.set_defaults(run=cmd_mosaic)

    metrics = commands.add_parser(
        "metrics", help="one CSV row of metrics per bin",
        description="Bin metrics (triggers, images, run and look time, ml_analyzed, concentration, position...) "
        "as CSV, one row per bin, on stdout or in --out.",
    )  # fmt: skip
    _add_root(metrics)
    _add_filters(metrics)
    _add_method(metrics)
    _add_out(metrics, "write the CSV here instead of stdout")
    _add_workers(metrics)
    metrics.set_defaults(run=cmd_metrics)

    abundance = commands.add_parser(
        "abundance", help="daily objects per ml of each class, as CSV",
        description="Daily abundance per class (long format CSV) from the bins under ROOT and their class scores "
        "(_class.h5, _class_v1.mat or _class_scores.csv) under PRODUCTS; with --carbon, biovolume and carbon per "
        "class from the features files there too (docs/carbon.md). Bins without class scores or ml_analyzed are "
        "skipped with a warning, and with --carbon so are bins without features.",
    )  # fmt: skip
    _add_root(abundance, help="data root (not with --dashboard)", nargs="?")
    abundance.add_argument(
        "products", metavar="PRODUCTS", nargs="?", type=cli_args.path,
        help="products root, or one class-score file (not with --dashboard)",
    )  # fmt: skip
    abundance.add_argument(
        "--plot", metavar="FILE.png", type=cli_args.path,
        help="also plot the top classes' objects per ml over time (needs ifcbkit[plot])",
    )  # fmt: skip
    abundance.add_argument(
        "--dashboard", metavar="URL", type=cli_args.dashboard_url,
        help="an IFCB dashboard to read bins and class scores from",
    )  # fmt: skip
    abundance.add_argument(
        "--dataset", metavar="NAME", type=cli_args.name("a dataset name"),
        help="the dashboard's dataset (with --dashboard)",
    )  # fmt: skip
    abundance.add_argument(
        "--model", type=cli_args.name("a model name"),
        help="the dashboard's classifier model for class scores (dashboards 5.2 on)",
    )  # fmt: skip
    abundance.add_argument(
        "--connections", type=_connections, default=8,
        help=f"requests in flight to the dashboard, 1 to {cli_args.MAX_CONNECTIONS} (default 8)",
    )  # fmt: skip
    abundance.add_argument(
        "--daily-dir", metavar="DIR", type=cli_args.path, help="also write DIR/YYYYMMDD_daily_summary_long.csv per "
        f"day, with DIR/{MANIFEST_NAME}; a re-run reuses a day only if it was made with the same settings, covers "
        "the whole UTC day and had no errors (and asks again for bins that had no class scores)",
    )  # fmt: skip
    abundance.add_argument(
        "--recompute", action="store_true", help="with --daily-dir: count every day again, reusing nothing"
    )
    abundance.add_argument(
        "--threshold", type=_threshold, default=None, help="a ROI counts when its winning score is at least this "
        "(default: the class file's own thresholds when it has them, else 0.7)",
    )  # fmt: skip
    add_carbon_options(abundance)
    _add_filters(abundance)
    _add_method(abundance, dashboard=True)
    _add_out(abundance, "write the CSV here instead of stdout")
    _add_workers(abundance)
    abundance.set_defaults(run=cmd_abundance)

    add_carbon_command(commands, _threshold, _add_root)

    from .ecotaxa import add_ecotaxa_parser

    add_ecotaxa_parser(commands, _add_root)

    from .dwca import add_dwca_parser

    add_dwca_parser(commands, _add_root)
    return parser


def _message(error: BaseException) -> str:
    if isinstance(error, OSError) and not isinstance(error, IfcbError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error) or type(error).__name__


# How the data directory's warning about an empty listing begins: the commands that walk a tree say
# more (every folder left out, and exit 1), so it is not shown twice.
_EMPTY_LISTING = "no bin listed under "


def _show_warnings_as_lines(command: str) -> None:
    """ifcbkit's warnings (damaged ADC lines, skipped paths) as one ``warning:`` line each on stderr."""
    default = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:  # fmt: skip
        if issubclass(category, SkippedPathWarning) and str(message).startswith(_EMPTY_LISTING):
            return  # the command says it, with every folder the walk left out, and exits 1
        if issubclass(category, IfcbWarning):
            _warn(command, str(message))
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _check_sources(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command != "abundance":
        return
    if args.recompute and args.daily_dir is None:
        parser.error("--recompute goes with --daily-dir")
    if args.dashboard is not None:
        if args.root is not None or args.products is not None:
            parser.error("--dashboard reads bins and class scores from the dashboard: give no ROOT or PRODUCTS")
        if not args.dataset:
            parser.error("--dashboard needs --dataset NAME")
        if args.scheduler is not None:
            parser.error("--scheduler runs local trees on a cluster; a dashboard is read from here")
    elif args.root is None or args.products is None:
        parser.error("give ROOT and PRODUCTS, or --dashboard URL --dataset NAME")
    elif args.dataset is not None or args.model is not None:
        parser.error("--dataset and --model go with --dashboard")


def _check_range(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    if start is not None and end is not None:
        keep = FilesetFilter(start_time=start, end_time=end)
        if keep.start is not None and keep.end is not None and keep.start >= keep.end:
            parser.error(f"--start {start} is not before --end {end}: no bin can be in that range")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds as after Ctrl-C."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_range(parser, args)
    _check_sources(parser, args)
    check_carbon_args(parser, args)
    _show_warnings_as_lines(args.command)
    try:
        with _sigterm_unwinds():
            status: int = args.run(args)
            return status
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep Python from complaining at exit
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (IfcbError, OSError, ValueError) as e:
        print(f"ifcbkit {args.command}: {_message(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as e:
        terminated = isinstance(e, _Terminated)
        print(
            f"ifcbkit {args.command}: interrupted by {'SIGTERM' if terminated else 'SIGINT'} before the run finished;"
            " no output file was left incomplete under its name",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED

