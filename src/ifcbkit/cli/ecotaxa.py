"""``ifcbkit ecotaxa``: bins to an EcoTaxa import zip (see :mod:`ifcbkit.exports.ecotaxa`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..errors import IfcbError
from ..science.class_rules import DEFAULT_THRESHOLD, RULES, ThresholdSpec, read_thresholds
from . import args as cli_args


def add_ecotaxa_parser(commands: Any, add_root: Any) -> None:
    """Add the ``ecotaxa`` subcommand to the CLI's subparsers; ``add_root`` adds ROOT and its
    --include/--exclude."""
    parser = commands.add_parser(
        "ecotaxa", help="bins to an EcoTaxa import zip (images, features, predicted classes)",
        description="Write an EcoTaxa import zip: for each PID, ecotaxa_{pid}.tsv with one row per image "
        "(after stitching) and the images as {roi_id}.png. With --products, a bin's features file adds "
        "object_* columns and its class results (_class.h5, _class_scores.csv or _class_v1.mat) the "
        "predicted object_annotation_category, under the same threshold options as abundance.",
    )  # fmt: skip
    add_root(parser)
    parser.add_argument("pids", metavar="PID", nargs="+", help="bin ids")
    parser.add_argument("--out", required=True, metavar="FILE.zip", help="the zip to write")
    parser.add_argument("--products", metavar="DIR", help="products root: features and class results")
    thresholds = parser.add_mutually_exclusive_group()
    thresholds.add_argument(
        "--threshold", type=cli_args.threshold, help="one threshold for every class (default: the class file's own "
        f"thresholds or labels, else {DEFAULT_THRESHOLD})",
    )  # fmt: skip
    thresholds.add_argument(
        "--thresholds", metavar="FILE", help=f"per-class thresholds, a CSV of class,threshold rows (others: "
        f"{DEFAULT_THRESHOLD})",
    )  # fmt: skip
    parser.add_argument(
        "--rule", choices=RULES, default="winner", help="winner: the top class counts at or above its threshold "
        "(default); any-above: the highest-scoring class above its threshold",
    )  # fmt: skip
    parser.set_defaults(run=run_ecotaxa)


def run_ecotaxa(args: argparse.Namespace) -> int:
    """Run ``ifcbkit ecotaxa``: print what went in; errors raise for the CLI to report."""
    from ..exports.ecotaxa import write_ecotaxa

    if args.products is not None and not os.path.isdir(args.products):
        raise IfcbError(f"products {args.products} is not a directory")
    spec: ThresholdSpec | None = args.threshold
    if args.thresholds is not None:
        spec = read_thresholds(args.thresholds)
    done = write_ecotaxa(
        args.root, args.pids, args.out, products=args.products, thresholds=spec, rule=args.rule,
        include=args.include, exclude=args.exclude,
    )  # fmt: skip
    for info in done:
        parts = [f"{info.images} images"]
        if args.products is not None:
            parts.append("features" if info.features else "no features file")
            parts.append("predicted classes" if info.classes else "no class results")
        if info.position is None:
            parts.append("no position")
        print(f"{info.pid}: {', '.join(parts)}", file=sys.stderr)
    print(f"{sum(i.images for i in done)} images of {len(done)} bins written to {args.out}")
    return 0
