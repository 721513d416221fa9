"""The ``ifcbkit`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .directory import SyncIfcbDataDirectory
from .errors import IfcbError


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=_json_default)
    sys.stdout.write("\n")


def cmd_ls(args: argparse.Namespace) -> int:
    directory = SyncIfcbDataDirectory(args.root)
    for fileset in directory.list(start_time=args.start, end_time=args.end, instrument=args.instrument):
        print(fileset["pid"])
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    directory = SyncIfcbDataDirectory(args.root)
    header = directory.read_header(args.pid)
    images = directory.list_images(args.pid)
    _print_json({"pid": args.pid, "paths": directory.paths(args.pid), "num_images": len(images), "header": header})
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ifcbkit", description="Read IFCB raw data.")
    parser.add_argument("--version", action="version", version=f"ifcbkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = commands.add_parser("ls", help="list the bins under a data root", description="List the bins under ROOT.")
    ls.add_argument("root", metavar="ROOT")
    ls.add_argument("--start", help="only bins at or after this UTC time (ISO 8601)")
    ls.add_argument("--end", help="only bins before this UTC time (ISO 8601)")
    ls.add_argument("--instrument", help="only this instrument number")
    ls.set_defaults(run=cmd_ls)

    info = commands.add_parser("info", help="a bin's header and image count as JSON", description="Show one bin.")
    info.add_argument("root", metavar="ROOT")
    info.add_argument("pid", metavar="PID")
    info.set_defaults(run=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (IfcbError, OSError, ValueError) as e:
        print(f"ifcbkit {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
