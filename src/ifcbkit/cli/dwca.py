"""``ifcbkit dwca``: counts to a Darwin Core Archive for OBIS and GBIF (see :mod:`ifcbkit.exports.dwca`)."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import IfcbError
from ..exports.dwca import DatasetMetadata, read_dataset_metadata, read_taxa
from ..science.class_rules import DEFAULT_THRESHOLD, RULES, PerClassThresholds, read_thresholds
from ..science.metrics import ML_METHODS
from . import args as cli_args

__all__ = ["add_dwca_parser", "run_dwca"]


def _number(text: str, limit: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and abs(value) <= limit):  # NaN fails too
        raise argparse.ArgumentTypeError(f"not a {what} in degrees from {-limit:g} to {limit:g}: {text!r}")
    return value


def _latitude(text: str) -> float:
    return _number(text, 90.0, "latitude")


def _longitude(text: str) -> float:
    return _number(text, 180.0, "longitude")


def add_dwca_parser(commands: Any, add_root: Any) -> None:
    """Add the ``dwca`` subcommand to the CLI's subparsers; ``add_root`` adds ROOT and its
    --include/--exclude."""
    parser = commands.add_parser(
        "dwca", help="counts per bin and class as a Darwin Core Archive (OBIS, GBIF)",
        description="Write a Darwin Core Archive zip: an Event core with one event per bin (its time, position "
        "and ml analyzed) and an Occurrence extension with one occurrence per bin and class with a non-zero "
        "count, counted as abundance counts them per bin, from the class scores (or with --manual, the manual "
        "annotation files) under PRODUCTS. See docs/handoffs.md.",
    )  # fmt: skip
    add_root(parser)
    parser.add_argument(
        "products", metavar="PRODUCTS", type=cli_args.path, help="products root: class scores or manual annotations"
    )
    parser.add_argument("--out", required=True, metavar="FILE.zip", type=cli_args.path, help="the archive to write")
    parser.add_argument(
        "--start", type=cli_args.start_time, help="only bins at or after this UTC date or time (ISO 8601)"
    )
    parser.add_argument("--end", type=cli_args.end_time, help="only bins before this UTC date or time (ISO 8601)")
    parser.add_argument("--instrument", type=cli_args.instrument, help="only this instrument number (10 or IFCB10)")
    parser.add_argument(
        "--threshold", type=cli_args.threshold, help="a ROI counts when its winning score is at least this "
        f"(default: the class file's own thresholds when it has them, else {DEFAULT_THRESHOLD})",
    )  # fmt: skip
    parser.add_argument(
        "--thresholds", metavar="FILE", help="per-class thresholds, a CSV of class,threshold rows (the others: "
        f"--threshold, else {DEFAULT_THRESHOLD})",
    )  # fmt: skip
    parser.add_argument("--rule", choices=RULES, help="winner (default) or any-above, as for abundance")
    parser.add_argument(
        "--manual", action="store_true", help="count from ifcb-analysis's manual annotation files ({pid}.mat) "
        "under PRODUCTS instead of class scores; no threshold or rule",
    )  # fmt: skip
    parser.add_argument(
        "--taxa", metavar="FILE", help="a CSV of class,scientificName,scientificNameID rows (a header line "
        "starting with 'class' is optional); classes with an empty scientificName are left out",
    )  # fmt: skip
    parser.add_argument("--latitude", type=_latitude, help="for bins whose header has no position (with --longitude)")
    parser.add_argument("--longitude", type=_longitude, help="for bins whose header has no position (with --latitude)")
    parser.add_argument(
        "--metadata", metavar="FILE.json", help="dataset metadata: a JSON object of title, abstract, licence, "
        "contact, creator (--title, --contact and --licence override it)",
    )  # fmt: skip
    parser.add_argument("--title", help="the dataset's title")
    parser.add_argument("--contact", help="who to write to about the dataset: 'Name <email>'")
    parser.add_argument(
        "--licence", "--license", dest="licence", help="CC0-1.0, CC-BY-4.0, CC-BY-NC-4.0 (read by GBIF) or any text"
    )
    parser.add_argument(
        "--method", choices=ML_METHODS, default="adc", help="how ml_analyzed is computed (default adc, as abundance)"
    )
    parser.add_argument(
        "--workers", type=cli_args.bounded_int(1, cli_args.MAX_WORKERS, "processes"),
        help=f"processes to use, 1 to {cli_args.MAX_WORKERS} (default: every core)",
    )  # fmt: skip
    parser.set_defaults(run=run_dwca, dwca_parser=parser)


def _checked(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``write_dwca``; a usage error (exit 2) for options that do not go together
    or files that cannot be read."""
    parser: argparse.ArgumentParser = args.dwca_parser
    if args.manual:
        given = [flag for flag, value in (("--threshold", args.threshold), ("--thresholds", args.thresholds),
                                          ("--rule", args.rule)) if value is not None]  # fmt: skip
        if given:
            parser.error(f"--manual counts annotated labels, which have no scores: {given[0]} does not go with it")
    if (args.latitude is None) != (args.longitude is None):
        parser.error("give --latitude and --longitude together")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be a positive integer")
    options: dict[str, Any] = {}
    try:
        if args.thresholds is not None:
            found = read_thresholds(args.thresholds)
            options["thresholds"] = PerClassThresholds(found, source=f"--thresholds file {args.thresholds}")
        if args.taxa is not None:
            options["taxa"] = read_taxa(args.taxa)
        metadata = read_dataset_metadata(args.metadata) if args.metadata is not None else DatasetMetadata()
    except IfcbError as e:
        parser.error(str(e))
    options["metadata"] = metadata.updated(title=args.title, contact=args.contact, licence=args.licence)
    return options


def _rules(args: argparse.Namespace) -> dict[str, Any]:
    """The data directory's include/exclude as --include/--exclude give them (its defaults otherwise)."""
    rules: dict[str, Any] = {}
    if args.include is not None:
        rules["include"] = args.include
    if args.exclude is not None:
        rules["exclude"] = args.exclude
    return rules


def run_dwca(args: argparse.Namespace) -> int:
    """Run ``ifcbkit dwca``: write the archive, report what was left out; errors raise for the CLI."""
    from ..exports.dwca import write_dwca

    options = _checked(args)
    done = write_dwca(
        args.root, args.products, args.out, threshold=args.threshold, rule=args.rule or "winner", manual=args.manual,
        latitude=args.latitude, longitude=args.longitude, method=args.method, start_time=args.start,
        end_time=args.end, instrument=args.instrument, workers=args.workers, **options, **_rules(args),
    )  # fmt: skip
    for skipped in done.skipped:
        print(f"ifcbkit dwca: warning: skipped {skipped.pid}: {skipped.reason}", file=sys.stderr)
    print(f"{done.events} events and {done.occurrences} occurrences written to {args.out}")
    errors = sum(s.error for s in done.skipped)
    if errors:
        print(f"ifcbkit dwca: {errors} bins skipped for errors (see the warnings)", file=sys.stderr)
    return 1 if errors else 0
