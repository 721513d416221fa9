"""The commands over many bins: ``metrics`` and ``abundance``."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import IfcbError
from ..faces.directory import FilesetFilter
from ..formats.ids import parse_instruments
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
from ..jobs.daily_output import DailyFolder
from ..science.class_rules import DEFAULT_THRESHOLD
from ..science.counting import bin_rows
from ..science.metrics import METADATA_FIELDS, MlMethod
from .carbon import carbon_settings, counting_options

if TYPE_CHECKING:
    pass
from .common import EXIT_ERROR, Progress, data_directory, no_bins, output, path_rules, warn


def _on_dask() -> Any:
    """``ifcbkit.dask``, imported only for ``--scheduler`` (it needs the ``dask`` extra)."""
    from .. import dask

    return dask


def cmd_metrics(args: argparse.Namespace) -> int:
    results: Iterable[dict[str, Any] | BinFailure]
    if args.scheduler is not None:
        done = _on_dask().metrics(
            data_directory(args), method=args.method, start_time=args.start,
            end_time=args.end, instrument=args.instrument, scheduler=args.scheduler,
        )  # fmt: skip
        results = [*done.rows, *done.failures]
    else:
        results = iter_bin_metadata(
            args.root, start_time=args.start, end_time=args.end, instrument=args.instrument, method=args.method,
            workers=args.workers, progress=Progress.for_stderr("metrics"), **path_rules(args),
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

    with output(args.out) as out:
        write_rows_csv(rows(), METADATA_FIELDS, out)
    if not found:
        return no_bins("metrics", args)
    for failure in failures:
        warn("metrics", f"skipped {failure.pid}: {failure.error}")
    for row in damaged:
        warn("metrics", f"{row['pid']}: {row['skipped_lines']} damaged ADC lines skipped (their targets: no image)")
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
    rules = path_rules(args)
    return {
        "source": "local", "root": os.path.realpath(args.root), "products": os.path.realpath(args.products),
        "method": args.method or "adc", "include": sorted(rules["include"]), "exclude": sorted(rules["exclude"]),
        **common,
    }  # fmt: skip


def _abundance(args: argparse.Namespace, plan: DayPlan | None) -> AbundanceResult:
    progress = Progress.for_stderr("abundance")
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
            rules = path_rules(args)
            _, listed = bins_under(args.root, rules["include"], rules["exclude"], args.start, args.end, args.instrument)
            volumes = feature_files(args.products) if args.carbon else None
            pids, scores = plan_days(listed, score_files(args.products), plan, (), volumes)
        result: AbundanceResult = _on_dask().daily_abundance(
            data_directory(args), scores, bins=pids, features=args.products if args.carbon else None,
            method=method, start_time=args.start, end_time=args.end, instrument=args.instrument,
            scheduler=args.scheduler, **counting_options(args),
        )  # fmt: skip
        return result
    return daily_abundance(
        args.root, args.products, method=method, start_time=args.start, end_time=args.end,
        instrument=args.instrument, workers=args.workers, progress=progress, plan=plan, **path_rules(args),
        **counting_options(args),
    )  # fmt: skip


def _note(message: str) -> None:
    print(f"ifcbkit abundance: {message}", file=sys.stderr)


def _finds_a_bin(args: argparse.Namespace) -> bool:
    """Whether the walk of ``args.root`` finds at least one bin in the range asked (it stops at the first)."""
    listed = data_directory(args).list(start_time=args.start, end_time=args.end, instrument=args.instrument)
    return next(iter(listed), None) is not None


def cmd_abundance(args: argparse.Namespace) -> int:
    folder = None
    if args.daily_dir is not None:
        span = FilesetFilter(start_time=args.start, end_time=args.end)
        folder = DailyFolder(
            args.daily_dir, _settings(args), start=span.start, end=span.end, note=_note,
            warn=lambda message: warn("abundance", message), recompute=args.recompute, carbon=args.carbon,
        )  # fmt: skip
    with output(args.out) as out:
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
        return no_bins("abundance", args)  # rather than a warning for each class-score file without its bin
    for skipped in result.skipped:
        warn("abundance", f"skipped {skipped.pid}: {skipped.reason}")
    damaged = [b for b in result.bins if b.skipped_lines]
    for b in damaged:
        warn("abundance", f"{b.pid}: {b.skipped_lines} damaged ADC lines skipped (counted without their targets)")
    if reused:
        _note(f"{len(reused)} days reused from {args.daily_dir} (same settings, whole UTC days, no errors)")
    if not result.bins and not any(reused.values()):
        if not result.skipped and not reused:
            if args.dashboard is None:
                return no_bins("abundance", args)
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
