"""Work over many bins on a Dask cluster: bins as a bag, metrics as rows or a dataframe, daily
abundance as a reduction, and image extraction into a store (the ``dask`` extra).

A *source* is a data root (a path), a data directory, or a sync bin store (filesystem, S3, a
dashboard, an object store). Every function takes ``bins=`` (ids) for a source that cannot list
its bins, such as a dashboard, or to work on a chosen few. The listing runs here, in the client.
Tasks carry the source once (one key of the graph, kept by each worker) and bin ids, never bin
bytes, and each task holds at most one bin's files at a time. Results come back in listing order
and equal a serial run's, row for row. Stores pickle without secrets: an S3 store makes its client
on the worker with the worker's own credentials (see
:class:`~ifcbkit.stores.s3.S3ClientSettings`), and a dashboard store with credentials refuses to
be pickled.

``scheduler`` is a :class:`distributed.Client`, the address of a running scheduler
(``"tcp://host:8786"``), ``"local"`` (a :class:`distributed.LocalCluster` for the call), or
``None`` (the current Dask client or scheduler).

Nothing here is imported by ``import ifcbkit``; without the extra, this module raises
:class:`~ifcbkit.errors.MissingDependencyError` naming ``ifcbkit[dask]``.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from .atomic import atomic_file
from .errors import ArgumentTypeError, IfcbError, InvalidArgumentError, MissingDependencyError
from .faces.directory import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, FilesetFilter, SyncIfcbDataDirectory, TimeLike
from .formats.encoding import ImageFormat, check_file_type, encode_image
from .formats.ids import bin_timestamp, parse_roi_id, validate_bin_id
from .jobs.abundance import AbundanceResult, abundance_result, counts_or_skipped, feature_files, score_files
from .jobs.batch import BinFailure, metadata_or_failure
from .science.carbon import DEFAULT_MICRON_FACTOR
from .science.counting import Counting, counting, warn_unknown
from .science.metrics import METADATA_FIELDS, MlMethod, check_method

try:
    import dask.bag as db
    from dask.base import tokenize
    from dask.delayed import Delayed, delayed
except ImportError:  # pragma: no cover - exercised in a subprocess without the extra
    raise MissingDependencyError("ifcbkit.dask", "dask", "dask[distributed]") from None

Source = Any  # a data root path, a data directory, or a sync bin store
Scheduler = Any  # a distributed.Client, a scheduler address, "local", or None

# The dtypes of the metrics dataframe, as ``ifcbkit metrics`` writes its columns.
METADATA_DTYPES: dict[str, str] = {
    "pid": "string", "timestamp_iso": "string", "instrument": "string", "num_triggers": "int64",
    "num_images": "int64", "skipped_lines": "int64", "trigger_freq": "float64", "run_time": "float64",
    "look_time": "float64", "ml_analyzed": "float64", "ml_analyzed_method": "string",
    "ml_analyzed_reason": "string", "concentration": "float64", "lat": "float64", "lng": "float64",
    "sample_type": "string", "size": "int64", "temperature": "float64", "humidity": "float64",
}  # fmt: skip


# ----- sources and listings ---------------------------------------------------------------------


def _is_async(obj: Any, method: str) -> bool:
    """Whether ``obj`` is an async store (its ``method`` is a coroutine function)."""
    return inspect.iscoroutinefunction(getattr(obj, method, None))


def as_source(
    source: Source, *, include: Iterable[str] = DEFAULT_INCLUDE, exclude: Iterable[str] = DEFAULT_EXCLUDE
) -> Any:
    """The object tasks read bins from: a data directory for a path, else ``source`` itself.

    Raises:
        TypeError: for an async store (tasks run the sync face: pass the sync store).
    """
    if isinstance(source, (str, os.PathLike)):
        return SyncIfcbDataDirectory(source, include=include, exclude=exclude)
    if _is_async(source, "bin_metadata"):
        raise ArgumentTypeError(
            "source", f"{source!r} is async; Dask tasks read with the sync face: pass its sync twin"
        )
    if not hasattr(source, "bin_metadata"):
        raise ArgumentTypeError(
            "source", f"not a bin source (a data root, a data directory or a bin store): {source!r}"
        )
    return source


def list_bin_ids(
    source: Any,
    *,
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
) -> list[str]:
    """The ids of ``source``'s bins within the filters, in listing order: a bin store's ``list_bins``
    (filtered by time here), or a data directory's walk.

    Raises:
        TypeError: if ``source`` cannot list its bins.
    """
    list_bins = getattr(source, "list_bins", None)
    if list_bins is not None:
        keep = FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument)
        return [pid for pid in _listed(source, start_time, end_time, instrument) if keep((), pid)]
    walk = getattr(source, "list", None)
    if walk is None:
        raise ArgumentTypeError("source", f"{source!r} cannot list its bins")
    listed: Iterator[dict[str, Any]] = walk(start_time, end_time, instrument)
    return [f["pid"] for f in listed]


def _listed(
    source: Any, start_time: TimeLike | None, end_time: TimeLike | None,
    instrument: int | str | Iterable[int | str] | None,
) -> Iterable[str]:  # fmt: skip
    """A store's ``list_bins``, asked for just the time range when it takes one (a dashboard's does:
    the server then sends those bins only, rather than the whole dataset)."""
    parameters = inspect.signature(source.list_bins).parameters
    if "start_time" in parameters and "end_time" in parameters:
        return source.list_bins(start_time, end_time, instrument=instrument)
    return source.list_bins(instrument=instrument)


# Dask spends a few milliseconds on each task; a day of one instrument's bins is 50-150 bins, tens
# of milliseconds of work. Whole days are joined into a partition until it holds this many bins.
MIN_PARTITION_BINS = 500


def _bin_ids(
    source: Any, bins: Iterable[str] | None, start_time: TimeLike | None, end_time: TimeLike | None,
    instrument: int | str | Iterable[int | str] | None,
) -> list[str]:  # fmt: skip
    """The bins to work on: ``bins`` (validated, within the filters) when given, else the source's listing."""
    if bins is None:
        return list_bin_ids(source, start_time=start_time, end_time=end_time, instrument=instrument)
    keep = FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument)
    return [pid for pid in map(validate_bin_id, bins) if keep((), pid)]


def _partitions(pids: Sequence[str], partition_size: int | None) -> list[list[str]]:
    """Consecutive runs of ``pids``: whole UTC days, joined until each run holds at least
    :data:`MIN_PARTITION_BINS` (``partition_size=None``), or runs of ``partition_size`` bins."""
    if partition_size is None:
        runs: list[list[str]] = [[]]
        for _, day in itertools.groupby(pids, key=lambda pid: bin_timestamp(pid).date()):
            if len(runs[-1]) >= MIN_PARTITION_BINS:
                runs.append([])
            runs[-1].extend(day)
        return runs if runs[0] else []
    if isinstance(partition_size, bool) or not isinstance(partition_size, int) or partition_size < 1:
        raise InvalidArgumentError(
            "partition_size", f"partition_size must be a positive number of bins, not {partition_size!r}"
        )
    return [list(pids[k : k + partition_size]) for k in range(0, len(pids), partition_size)]


def bins_bag(pids: Sequence[str], *, partition_size: int | None = None) -> db.Bag:
    """A bag of bin ids in their order: partitions of whole UTC days (a day is never split; days are
    joined up to :data:`MIN_PARTITION_BINS` bins), or of ``partition_size`` bins."""
    groups = _partitions(pids, partition_size) or [[]]
    name = f"ifcbkit-bins-{tokenize(groups)}"
    return db.Bag({(name, i): group for i, group in enumerate(groups)}, name, len(groups))  # one task each


def _shared(source: Any) -> Delayed:
    """``source`` as one key of the graph: sent to each worker once, not once per task."""
    return delayed(source, pure=False)


# ----- running on a scheduler -------------------------------------------------------------------


@contextlib.contextmanager
def scheduler_client(scheduler: Scheduler) -> Iterator[Any]:
    """The :class:`distributed.Client` for ``scheduler`` (see the module doc); one made here is
    closed on exit, with its cluster for ``"local"``.

    Raises:
        MissingDependencyError: if ``distributed`` is not installed.
    """
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError("running on a Dask cluster", "dask", "dask[distributed]") from None
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is None:
        yield distributed.get_client()
        return
    if scheduler == "local":
        with (
            distributed.LocalCluster(processes=True, threads_per_worker=1, dashboard_address=":0") as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    with distributed.Client(str(scheduler)) as client:
        yield client


def _compute(collection: Any, scheduler: Scheduler) -> Any:
    with scheduler_client(scheduler) as client:
        return client.compute(collection).result()


def _gather(bag: db.Bag, scheduler: Scheduler) -> list[Any]:
    """A bag's items in order, each partition gathered here (not concatenated on a worker first)."""
    with scheduler_client(scheduler) as client:
        parts = client.gather(client.compute(bag.to_delayed()))
    return [item for part in parts for item in part]


# ----- metrics ----------------------------------------------------------------------------------


def _metadata_partition(pids: list[str], source: Any, method: MlMethod) -> list[dict[str, Any] | BinFailure]:
    return [metadata_or_failure(source, pid, method) for pid in pids]


def metadata_bag(
    source: Source,
    *,
    method: MlMethod = "adc",
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    partition_size: int | None = None,
    bins: Iterable[str] | None = None,
) -> db.Bag:
    """A bag of each bin's :meth:`~ifcbkit.faces.reads.SyncBinReads.bin_metadata` (a dict, or the
    :class:`~ifcbkit.jobs.batch.BinFailure` that says why the bin could not be read), in listing order.

    Raises:
        ValueError: for an unknown ``method``; TypeError: for a source that cannot list its bins.
    """
    check_method(method)
    reader = as_source(source)
    pids = _bin_ids(reader, bins, start_time, end_time, instrument)
    return bins_bag(pids, partition_size=partition_size).map_partitions(_metadata_partition, _shared(reader), method)


class MetricsResult(NamedTuple):
    """Bin metrics in listing order (the rows of ``ifcbkit metrics``), and the bins that could not be read."""

    rows: list[dict[str, Any]]
    failures: list[BinFailure]


def metrics(
    source: Source,
    *,
    method: MlMethod = "adc",
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    partition_size: int | None = None,
    bins: Iterable[str] | None = None,
    scheduler: Scheduler = None,
) -> MetricsResult:
    """Every bin's metrics, computed on ``scheduler``: the same rows, in the same order, as a serial
    :func:`~ifcbkit.jobs.batch.iter_bin_metadata`, and the bins that failed (never dropped silently).

    Raises:
        MissingDependencyError: without ``distributed``; ValueError: for an unknown ``method``.
    """
    bag = metadata_bag(source, method=method, start_time=start_time, end_time=end_time, instrument=instrument,
                       partition_size=partition_size, bins=bins)  # fmt: skip
    results = _gather(bag, scheduler)
    rows = [r for r in results if not isinstance(r, BinFailure)]
    return MetricsResult(rows, [r for r in results if isinstance(r, BinFailure)])


def _frame(results: list[dict[str, Any] | BinFailure]) -> Any:
    import pandas as pd

    failed = [r for r in results if isinstance(r, BinFailure)]
    if failed:
        raise IfcbError(f"cannot read bin {failed[0].pid}: {failed[0].error} (and {len(failed) - 1} more)"
                        if len(failed) > 1 else f"cannot read bin {failed[0].pid}: {failed[0].error}")  # fmt: skip
    frame = pd.DataFrame.from_records(results, columns=list(METADATA_FIELDS))
    return frame.astype(METADATA_DTYPES)


def metadata_dataframe(
    source: Source,
    *,
    method: MlMethod = "adc",
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    partition_size: int | None = None,
    bins: Iterable[str] | None = None,
) -> Any:
    """The metrics as a lazy ``dask.dataframe`` (needs pandas): the columns of ``ifcbkit metrics``
    with the dtypes of :data:`METADATA_DTYPES` in every partition. A bin that cannot be read fails the
    computation, naming it; :func:`metrics` reports such bins and goes on.

    Raises:
        MissingDependencyError: without pandas or ``dask.dataframe``.
    """
    try:
        import dask.dataframe as dd
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("metrics as a dataframe", "pandas", "pandas") from None
    bag = metadata_bag(source, method=method, start_time=start_time, end_time=end_time, instrument=instrument,
                       partition_size=partition_size, bins=bins)  # fmt: skip
    meta = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in METADATA_DTYPES.items()})
    parts = [delayed(_frame)(part) for part in bag.to_delayed()]
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


# ----- abundance --------------------------------------------------------------------------------


def _counts_partition(
    pids: list[str], source: Any, files: dict[str, str], how: Counting, method: MlMethod,
    features: dict[str, str] | None = None,
) -> list[Any]:  # fmt: skip
    return [counts_or_skipped(source, pid, files.get(pid), how, method, None if features is None else features.get(pid))
            for pid in pids]  # fmt: skip


def daily_abundance(
    source: Source,
    scores: Any,
    *,
    threshold: float | None = None,
    thresholds: Any = None,
    rule: str = "winner",
    carbon: bool = False,
    features: Any = None,
    convention: str = "ifcb-analysis",
    micron_factor: float = DEFAULT_MICRON_FACTOR,
    biovolume_column: str = "Biovolume",
    diatoms: Any = None,
    method: MlMethod = "adc",
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    partition_size: int | None = None,
    bins: Iterable[str] | None = None,
    scheduler: Scheduler = None,
) -> AbundanceResult:
    """:func:`ifcbkit.daily_abundance` on a cluster: per-bin class counts (and with ``carbon``,
    biomass) in tasks, summed by day in a reduction; the same rows, bins and skipped bins as a
    serial run, with the same options. Class-score files (``scores``: a products root, files, or
    ``{pid: path}``) and features files (``features``, default ``scores``) are found here and read
    by the workers, so they must see the same paths (a shared file system).

    Raises:
        ValueError: for a threshold outside 0..1, an unknown ``method``, rule or convention;
            NotFoundError: if ``scores`` does not exist.
    """
    how = counting(threshold, thresholds, rule, carbon=carbon, convention=convention, micron_factor=micron_factor,
                   biovolume_column=biovolume_column, diatoms=diatoms)  # fmt: skip
    check_method(method)
    reader = as_source(source)
    pids = _bin_ids(reader, bins, start_time, end_time, instrument)
    files = score_files(scores)
    volumes = feature_files(scores if features is None else features) if carbon else None
    keep = FilesetFilter(start_time=start_time, end_time=end_time, instrument=instrument)
    bag = bins_bag(pids, partition_size=partition_size).map_partitions(
        _counts_partition, _shared(reader), _shared(files), how, method, _shared(volumes)
    )
    where = str(getattr(reader, "root", reader))
    reduced = bag.reduction(list, _Summary(pids, files, keep, where, how), split_every=False)
    result: AbundanceResult = _compute(reduced, scheduler)
    if result.bins:  # here, not on the worker that summed them
        warn_unknown(how, (name for b in result.bins for name in b.counts))
    return result


class _Summary:
    """The reduction's last step: every partition's per-bin results, in order, to the daily summary."""

    def __init__(self, pids: list[str], files: dict[str, str], keep: FilesetFilter, where: str, how: Counting):
        self.args = (pids, files, keep, where, how)

    def __call__(self, parts: Iterable[list[Any]]) -> AbundanceResult:
        pids, files, keep, where, how = self.args
        return abundance_result(itertools.chain.from_iterable(parts), pids, files, keep, where, how, warn=False)


# ----- image extraction -------------------------------------------------------------------------


class _DirectoryTarget:
    """Images as files ``{root}/{pid}/{roi_id}.{file_type}``, each written whole or not at all."""

    def __init__(self, root: str | os.PathLike[str], file_type: ImageFormat):
        self.root = os.fspath(root)
        self.file_type = check_file_type(file_type)

    def stored(self, pid: str) -> set[str]:
        try:
            names = os.listdir(os.path.join(self.root, pid))
        except FileNotFoundError:
            return set()
        suffix = f".{self.file_type}"
        return {name[: -len(suffix)] for name in names if name.endswith(suffix)}

    def write(self, roi_id: str, image: Any) -> None:
        directory = os.path.join(self.root, parse_roi_id(roi_id)[0])
        os.makedirs(directory, exist_ok=True)
        with atomic_file(os.path.join(directory, f"{roi_id}.{self.file_type}")) as f:
            f.write(encode_image(image, self.file_type))


class _StoreTarget:
    """Images in a sync ROI store (``put``; ``list_roi_ids`` or ``exists`` to see what is there)."""

    def __init__(self, store: Any):
        if _is_async(store, "put"):
            raise ArgumentTypeError(
                "store", f"{store!r} is async; Dask tasks write with the sync face: pass its sync twin"
            )
        self.store = store
        self.file_type = check_file_type(getattr(store, "file_type", "png"))

    def stored(self, pid: str) -> set[str] | None:
        listing = getattr(self.store, "list_roi_ids", None)
        return set(listing(pid)) if listing is not None else None

    def write(self, roi_id: str, image: Any) -> None:
        self.store.put(roi_id, encode_image(image, self.file_type))


class ExtractResult(NamedTuple):
    """What an extraction did: images written, images already there, bins that failed."""

    written: int
    present: int
    failures: list[BinFailure]


def _extract_partition(pids: list[str], source: Any, target: Any, stitch: bool) -> list[tuple[int, int] | BinFailure]:
    out: list[tuple[int, int] | BinFailure] = []
    for pid in pids:
        try:
            out.append(_extract_bin(source, target, pid, stitch))
        except (IfcbError, OSError) as e:
            out.append(BinFailure(pid, str(e)))
    return out


def _extract_bin(source: Any, target: Any, pid: str, stitch: bool) -> tuple[int, int]:
    roi_ids = source.list_roi_ids(pid, stitch=stitch)
    stored = target.stored(pid)
    if stored is None:
        stored = {r for r in roi_ids if target.store.exists(r)}
    missing = [r for r in roi_ids if r not in stored]
    written = 0
    if missing:
        for roi_id, image in source.iter_images(pid, missing, stitch=stitch):  # one chunk of the .roi at a time
            target.write(roi_id, image)
            written += 1
    return written, len(roi_ids) - len(missing)


def extract_images(
    source: Source,
    target: Any,
    *,
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    stitch: bool = True,
    file_type: ImageFormat = "png",
    partition_size: int | None = None,
    bins: Iterable[str] | None = None,
    scheduler: Scheduler = None,
) -> ExtractResult:
    """Write every image of the bins into ``target``, in parallel and idempotently: an image already
    there is not written again, so an interrupted run can simply be run again.

    ``target`` is a directory (images go to ``{target}/{pid}/{roi_id}.{file_type}``, each file
    written whole or not at all) or a sync ROI store such as
    :class:`~ifcbkit.stores.s3.S3RoiStore` (in its own file type).

    Raises:
        MissingDependencyError: without ``distributed``; TypeError: for an async store.
    """
    reader = as_source(source)
    sink = _DirectoryTarget(target, file_type) if isinstance(target, (str, os.PathLike)) else _StoreTarget(target)
    pids = _bin_ids(reader, bins, start_time, end_time, instrument)
    bag = bins_bag(pids, partition_size=partition_size).map_partitions(
        _extract_partition, _shared(reader), _shared(sink), stitch
    )
    results = _gather(bag, scheduler)
    counts = [r for r in results if not isinstance(r, BinFailure)]
    return ExtractResult(
        sum(w for w, _ in counts), sum(p for _, p in counts), [r for r in results if isinstance(r, BinFailure)]
    )


__all__ = [
    "METADATA_DTYPES", "ExtractResult", "MetricsResult", "as_source", "bins_bag", "daily_abundance",
    "extract_images", "list_bin_ids", "metadata_bag", "metadata_dataframe", "metrics", "scheduler_client",
]  # fmt: skip
