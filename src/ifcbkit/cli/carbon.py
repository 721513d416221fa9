"""The command line's carbon options (``abundance --carbon`` and its kin) and the ``carbon``
command: per-ROI biovolume and carbon of one bin. Kept apart from :mod:`ifcbkit.cli` so that the
options are declared, checked and turned into settings in one place.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from ..atomic import atomic_file
from ..errors import IfcbError
from ..formats.biovolumes import BIOVOLUME_COLUMNS
from ..jobs.daily_output import file_sha256
from ..science.carbon import CONVENTIONS, DEFAULT_MICRON_FACTOR
from ..science.class_rules import DEFAULT_THRESHOLD, RULES, PerClassThresholds, read_thresholds
from ..science.diatoms import read_diatom_list
from . import args as cli_args

__all__ = ["add_carbon_command", "add_carbon_options", "carbon_settings", "check_carbon_args", "counting_options"]

# The options that only mean something with --carbon (dest, flag).
_CARBON_ONLY = (
    ("carbon_convention", "--carbon-convention"), ("micron_factor", "--micron-factor"),
    ("biovolume_column", "--biovolume-column"), ("diatoms", "--diatoms"),
)  # fmt: skip


# µm per pixel: IFCBs have about 0.3; a hundred times that (or a hundredth) is a typo, not an instrument.
_MICRON_FACTOR_RANGE = (1e-3, 100.0)


def micron_factor(text: str) -> float:
    """``--micron-factor``: µm per pixel, above 0.001 and at most 100 (``1/3.4`` is accepted)."""
    value = math.nan
    try:
        if len(text) > 64:
            pass
        elif "/" in text:
            top, _, bottom = text.partition("/")
            value = float(top) / float(bottom)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        pass
    low, high = _MICRON_FACTOR_RANGE
    if not (math.isfinite(value) and low < value <= high):
        raise argparse.ArgumentTypeError(
            f"not a number of µm per pixel above {low:g} and at most {high:g}: {cli_args.shown(text)}"
        )
    return value


def _add_rules(parser: argparse.ArgumentParser, *, rule_default: str | None = "winner") -> None:
    parser.add_argument(
        "--thresholds", metavar="FILE", type=cli_args.path, help="per-class thresholds, a CSV of class,threshold "
        "rows (the others: --threshold, else 0.7)",
    )  # fmt: skip
    parser.add_argument(
        "--rule", choices=RULES, default=rule_default, help="winner (default): the top class counts when its score is "
        "at least its threshold; any-above: the highest-scoring class whose score exceeds its threshold",
    )  # fmt: skip


def _add_carbon(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    parser.add_argument(
        "--carbon-convention", choices=CONVENTIONS, default="ifcb-analysis" if defaults else None,
        help="which Menden-Deuer & Lessard equation diatoms get (default ifcb-analysis; see docs/carbon.md)",
    )  # fmt: skip
    parser.add_argument(
        "--micron-factor", type=micron_factor, default=DEFAULT_MICRON_FACTOR if defaults else None, metavar="F",
        help="µm per pixel (default 1/3.4; some instruments 1/2.77)",
    )  # fmt: skip
    parser.add_argument(
        "--biovolume-column", choices=BIOVOLUME_COLUMNS, default="Biovolume" if defaults else None,
        help="the features column of each ROI's volume in cubic pixels (default Biovolume)",
    )  # fmt: skip
    parser.add_argument(
        "--diatoms", metavar="FILE", type=cli_args.path, help="which classes are diatoms: class names one a line, "
        "or a CSV with a class and a Diatom 0/1 column (default: the bundled table of diatom genera)",
    )  # fmt: skip


def add_carbon_options(parser: argparse.ArgumentParser) -> None:
    """``abundance``'s rules, ``--manual`` and carbon options."""
    _add_rules(parser, rule_default=None)  # None: told apart from an explicit --rule, which --manual refuses
    parser.add_argument(
        "--manual", action="store_true", help="count from ifcb-analysis's manual annotation files ({pid}.mat under "
        "PRODUCTS: each ROI's manual class, else its auto class) instead of class scores; no threshold or rule",
    )  # fmt: skip
    parser.add_argument(
        "--carbon", action="store_true", help="add biovolume and carbon per class (features from PRODUCTS, or "
        "the dashboard's _features.csv)",
    )  # fmt: skip
    parser.add_argument(
        "--per", choices=("day", "bin"), default="day", help="one row per day, instrument and class (default), or "
        "per bin and class",
    )  # fmt: skip
    _add_carbon(parser, defaults=False)


def _read_files(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--thresholds and --diatoms read now: a bad file is a usage error, before any work."""
    args.thresholds_map = args.diatom_table = None
    try:
        if args.thresholds is not None:
            found = read_thresholds(args.thresholds)
            args.thresholds_map = PerClassThresholds(found, source=f"--thresholds file {args.thresholds}")
        if getattr(args, "diatoms", None) is not None:
            args.diatom_table = read_diatom_list(args.diatoms)
    except IfcbError as e:
        parser.error(str(e))


def check_carbon_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors of the carbon options (one line, exit 2), and their files read."""
    if args.command == "carbon":
        _read_files(parser, args)
        return
    if args.command != "abundance":
        return
    if args.per == "bin" and args.daily_dir is not None:
        parser.error("--per bin writes one table of bins; --daily-dir writes day files: choose one")
    if args.per == "bin" and args.plot is not None:
        parser.error("--plot draws daily abundance; it does not go with --per bin")
    if args.manual:
        given = [flag for flag, value in (("--threshold", args.threshold), ("--thresholds", args.thresholds),
                                          ("--rule", args.rule)) if value is not None]  # fmt: skip
        if given:
            parser.error(f"--manual counts annotated labels, which have no scores: {given[0]} does not go with it")
        if args.dashboard is not None:
            parser.error("--manual reads manual annotation files under PRODUCTS; a dashboard serves class scores")
        if args.scheduler is not None:
            parser.error("--manual runs on this machine's processes (--workers), not on --scheduler")
    args.rule = args.rule or "winner"
    if not args.carbon:
        given = [flag for dest, flag in _CARBON_ONLY if getattr(args, dest) is not None]
        if given:
            parser.error(f"{given[0]} goes with --carbon")
    else:
        args.carbon_convention = args.carbon_convention or "ifcb-analysis"
        args.micron_factor = args.micron_factor or DEFAULT_MICRON_FACTOR
        args.biovolume_column = args.biovolume_column or "Biovolume"
        if args.dashboard is None and args.products is not None and not os.path.isdir(args.products):
            parser.error(f"--carbon reads features from a products root: {args.products} is not a directory")
    _read_files(parser, args)


def counting_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``daily_abundance`` (and its dashboard and Dask twins) for these options."""
    options: dict[str, Any] = {"threshold": args.threshold, "thresholds": args.thresholds_map, "rule": args.rule}
    if getattr(args, "manual", False):
        options["manual"] = True
    if getattr(args, "carbon", True):
        options.update(carbon=True, convention=args.carbon_convention, micron_factor=args.micron_factor,
                       biovolume_column=args.biovolume_column, diatoms=args.diatom_table)  # fmt: skip
    return options


def carbon_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What these options add to ``--daily-dir``'s settings key: every one that changes numbers (a
    file by the sha256 of its content), ``manual`` among them (manual files or class scores)."""
    settings: dict[str, Any] = {
        "threshold": args.threshold, "rule": args.rule,
        "thresholds_sha256": None if args.thresholds is None else file_sha256(args.thresholds),
        "carbon": bool(args.carbon), "manual": bool(getattr(args, "manual", False)),
    }  # fmt: skip
    if args.carbon:
        settings.update({
            "carbon_convention": args.carbon_convention, "micron_factor": args.micron_factor,
            "biovolume_column": args.biovolume_column,
            "diatoms_sha256": None if args.diatoms is None else file_sha256(args.diatoms),
        })  # fmt: skip
    return settings


# ----- ifcbkit carbon ---------------------------------------------------------------------------


@contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_file(path, "w") as f:
        yield f


def cmd_carbon(args: argparse.Namespace) -> int:
    from ..faces.directory import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, SyncIfcbDataDirectory
    from ..formats.ids import parse_bin
    from ..jobs.bin_carbon import bin_roi_carbon, write_roi_carbon_csv

    pid = parse_bin(args.pid).bin_id
    include = args.include if args.include is not None else list(DEFAULT_INCLUDE)
    exclude = args.exclude if args.exclude is not None else list(DEFAULT_EXCLUDE)
    SyncIfcbDataDirectory(args.root, include=include, exclude=exclude, require_roi=False).paths(pid)  # unknown: fails
    with _output(args.out) as out:
        rows = bin_roi_carbon(
            args.products, pid, threshold=args.threshold, thresholds=args.thresholds_map, rule=args.rule,
            convention=args.carbon_convention, micron_factor=args.micron_factor,
            biovolume_column=args.biovolume_column, diatoms=args.diatom_table,
        )  # fmt: skip
        write_roi_carbon_csv(rows, out)
    return 0


def add_carbon_command(commands: Any, threshold: Any, add_root: Any) -> None:
    """The ``carbon`` subcommand; ``threshold`` is the CLI's ``--threshold`` type, ``add_root`` adds ROOT
    and its --include/--exclude."""
    carbon = commands.add_parser(
        "carbon", help="per-ROI biovolume and carbon of one bin, as CSV",
        description="Each classified ROI of bin PID with its class, score, diatom decision, volume (µm³), carbon "
        "(pg) and equivalent spherical diameter (µm), from its class results and features file under PRODUCTS "
        "(docs/carbon.md). For QC and size spectra.",
    )  # fmt: skip
    add_root(carbon, help="data root (the bin must be there)")
    carbon.add_argument(
        "products", metavar="PRODUCTS", type=cli_args.path, help="products root: class results and features"
    )
    carbon.add_argument("pid", metavar="PID", type=cli_args.pid, help="bin id")
    carbon.add_argument("--out", metavar="FILE.csv", type=cli_args.path, help="write the CSV here instead of stdout")
    carbon.add_argument(
        "--threshold", type=threshold, default=None, help="a threshold for every class (default: the class file's "
        f"own, else {DEFAULT_THRESHOLD})",
    )  # fmt: skip
    _add_rules(carbon)
    _add_carbon(carbon, defaults=True)
    carbon.set_defaults(run=cmd_carbon)
