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
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from .. import __version__
from ..errors import IfcbError, IfcbWarning, SkippedPathWarning
from ..faces.directory import FilesetFilter
from ..jobs.daily_output import MANIFEST_NAME
from ..science.metrics import ML_METHODS
from . import args as cli_args
from .bins import cmd_extract, cmd_info, cmd_ls, cmd_mosaic, cmd_show
from .carbon import add_carbon_command, add_carbon_options, check_carbon_args
from .common import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, warn
from .counts import cmd_abundance, cmd_metrics

# ----- the parser -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


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
        "--threshold", type=cli_args.threshold, default=None, help="a ROI counts when its winning score is at least "
        "this (default: the class file's own thresholds when it has them, else 0.7)",
    )  # fmt: skip
    add_carbon_options(abundance)
    _add_filters(abundance)
    _add_method(abundance, dashboard=True)
    _add_out(abundance, "write the CSV here instead of stdout")
    _add_workers(abundance)
    abundance.set_defaults(run=cmd_abundance)

    add_carbon_command(commands, cli_args.threshold, _add_root)

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
            warn(command, str(message))
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
