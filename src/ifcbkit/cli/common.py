"""What the commands share: exit statuses, output, warnings as lines, progress, the data root."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from ..atomic import atomic_file
from ..faces.directory import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, SyncIfcbDataDirectory
from . import args as cli_args

if TYPE_CHECKING:
    pass

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe


# ----- output helpers -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """JSON-safe: NaN becomes null, containers are walked."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@contextlib.contextmanager
def output(path: str | None) -> Iterator[IO[str]]:
    """Stdout, or the file at ``path``: created before any work (so an unwritable output fails fast)
    under a temporary name, and renamed to ``path`` only when the run completes."""
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_file(path, "w") as f:
        yield f


def warn(command: str, message: str) -> None:
    print(f"ifcbkit {command}: warning: {message}", file=sys.stderr)


class Progress:
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
    def for_stderr(cls, label: str) -> Progress | None:
        return cls(label) if sys.stderr.isatty() else None


# ----- commands -------------------------------------------------------------------------------


def path_rules(args: argparse.Namespace) -> dict[str, Any]:
    """``include``/``exclude`` for a data directory: the defaults, or what --include/--exclude say."""
    return {
        "include": args.include if args.include is not None else list(DEFAULT_INCLUDE),
        "exclude": args.exclude if args.exclude is not None else list(DEFAULT_EXCLUDE),
    }


def data_directory(args: argparse.Namespace, *, partial: bool = False) -> SyncIfcbDataDirectory:
    """The data directory of ``args.root`` under --include/--exclude; ``partial``: a bin counts with its
    ``.hdr`` alone, so that a command can say which of its other files is missing."""
    rules = path_rules(args)
    return SyncIfcbDataDirectory(
        args.root, include=rules["include"], exclude=rules["exclude"], require_adc=not partial,
        require_roi=not partial,
    )  # fmt: skip


def no_bins(command: str, args: argparse.Namespace) -> int:
    """A walk that found no bin: one line naming the folders it did not enter, and exit 1."""
    rules = path_rules(args)
    ranged = getattr(args, "start", None) is not None or getattr(args, "end", None) is not None
    within = (" in that range" if ranged else "") + (" for that instrument" if args.instrument is not None else "")
    message = cli_args.no_bins(args.root, rules["include"], rules["exclude"], within=within)
    print(f"ifcbkit {command}: {message}", file=sys.stderr)
    return EXIT_ERROR
