"""Volume analyzed (``ml_analyzed``) and the dashboard's bin metrics, as pure functions.

Section 7 of docs/formats.md, in pure Python (no numpy): the D-style ADC
estimate the dashboard shows (``method='adc'``), the header's times
(``'hdr'``), the ifcb-analysis reference rule that cross-checks the header
against the ADC (``'reference'``) and the I-style ADC algorithm. A bin whose
volume cannot be computed (no ADC rows, all-zero InhibitTime, no header times)
gives NaN values and a ``reason``, never an exception.

Only the ADC columns an algorithm needs are parsed, so metrics over thousands of
bins stay fast.
"""

from __future__ import annotations

import math
import statistics
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from itertools import islice, repeat
from operator import le, mul, sub, truediv
from typing import Any, Literal, NamedTuple

from ..adc import warn_skipped
from ..errors import ArgumentTypeError, FormatError, InvalidArgumentError
from ..formats.adc_table import AdcTable, parse_adc_table
from ..formats.hdr import adc_column_names, parse_hdr_bytes
from ..formats.ids import BinId, parse_bin
from ..formats.index import count_targets
from ..formats.stitching import detect_pairs

MlMethod = Literal["adc", "hdr", "reference"]
ML_METHODS: tuple[str, ...] = ("adc", "hdr", "reference")

D_FLOW_RATE = 0.25  # ml per minute
I_FLOW_RATE = 5 / 48000 * 40  # ml per second (syringe steps)
MIN_PROC_TIME = 0.073  # s
MIN_PROC_TIME_IFCB5_LATE = 0.05  # s, IFCB5 from 2015-06-01 UTC on
IFCB5_SWITCH = datetime(2015, 6, 1, tzinfo=timezone.utc)

D_ADC_COLUMNS = ("ADCtime", "RunTime", "InhibitTime")
I_ADC_COLUMNS = ("trigger", "triggerOpenTime", "frameGrabTime")

_NAN = math.nan

HeaderLike = Mapping[str, Any] | bytes
AdcLike = bytes | AdcTable


def check_method(method: str) -> str:
    """``method`` if it is a volume method (``'adc'``, ``'hdr'``, ``'reference'``).

    Raises:
        InvalidArgumentError: (a ``ValueError``) otherwise.
    """
    if not isinstance(method, str) or method not in ML_METHODS:
        raise InvalidArgumentError("method", f"method must be one of {', '.join(ML_METHODS)}, not {method!r}")
    return method


class MlAnalyzed(NamedTuple):
    """The volume analyzed of one bin and the times it comes from.

    ``ml_analyzed`` in ml, times in seconds; ``inhibit_time`` is the dead time
    (run time minus look time; for I-style bins the summed processing times).
    ``method`` is the method asked for; ``reason`` says why the values are NaN.
    """

    ml_analyzed: float
    look_time: float
    run_time: float
    inhibit_time: float
    method: str
    reason: str | None = None

    @property
    def computable(self) -> bool:
        return not math.isnan(self.ml_analyzed)


# ----- numpy semantics in pure Python ---------------------------------------------------------


def round_half_even(x: float, decimals: int = 0) -> float:
    """``numpy.round(x, decimals)``: scale by 10**decimals, round half to even, scale back."""
    if not math.isfinite(x):
        return x
    scale = 10.0**decimals
    return round(x * scale) / scale


def mode_smallest(values: Sequence[float]) -> float:
    """The most frequent value (ties go to the smallest), ignoring NaN; NaN when there is none."""
    counts = Counter(v for v in values if not math.isnan(v))
    if not counts:
        return _NAN
    top = max(counts.values())
    return min(v for v, c in counts.items() if c == top)


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else _NAN


def _number(header: Mapping[str, Any], key: str) -> float:
    value = header.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _NAN
    return float(value)


# ----- the algorithms -------------------------------------------------------------------------


class _Times(NamedTuple):
    run_time: float
    inhibit_time: float
    reason: str | None = None


def _header_times(header: Mapping[str, Any]) -> _Times:
    run, inhibit = _number(header, "runTime"), _number(header, "inhibitTime")
    missing = [k for k, v in (("runTime", run), ("inhibitTime", inhibit)) if math.isnan(v)]
    return _Times(run, inhibit, f"the header has no {' or '.join(missing)}" if missing else None)


def _d_style_adc_times(adc_time: Sequence[float], run: Sequence[float], inhibit: Sequence[float]) -> _Times:
    """The D-style ADC estimate of run and inhibit time (at least 2 rows), in one pass over the columns
    (no list per row: a million-row ADC costs its three columns)."""
    n = len(inhibit)
    if not any(inhibit):  # every value 0 (NaN is true)
        return _Times(_NAN, _NAN, "InhibitTime is 0 on every ADC row")
    # the good rows: the first, and those whose InhibitTime grew by a plausible step; the mode of the steps
    # between consecutive good rows is the inhibit time one trigger costs
    steps: Counter[float] = Counter()
    rises = array("d", map(sub, islice(inhibit, 1, None), inhibit))
    every_row_good = all(map(math.isfinite, inhibit)) and min(inhibit) > 0 and min(rises) > -0.1 and max(rises) < 5
    if every_row_good:
        # round_half_even(rise, 4) for each step, without a Python call per row
        steps.update(map(truediv, map(round, map(mul, rises, repeat(10.0**4))), repeat(10.0**4)))
        n_good, last_good = n, n - 1
    else:
        n_good, last_good, previous = 1, 0, inhibit[0]
        for i, value in enumerate(islice(inhibit, 1, None), 1):
            if value > 0 and -0.1 < value - previous < 5:
                step = round_half_even(value - inhibit[last_good], 4)
                if not math.isnan(step):
                    steps[step] += 1
                n_good += 1
                last_good = i
            previous = value
    del rises
    if steps:
        top = max(steps.values())
        mode_inhibit = min(v for v, c in steps.items() if c == top)
    else:
        mode_inhibit = _NAN
    runtime_offset = inhibit_offset = 0.0
    if run[1] - adc_time[1] > 10:
        runtime_offset = run[1] - adc_time[1]
        inhibit_offset = inhibit[1] + 2 * mode_inhibit
    n_bad = n - n_good
    if n_bad == 0:
        inhibit_time = inhibit[-1] - inhibit_offset
    else:
        inhibit_time = inhibit[last_good] + n_bad * mode_inhibit - inhibit_offset
    run_time = run[-1] - runtime_offset
    m = min(n, 50)
    runtime2 = adc_time[-1] + _median([run[i] - adc_time[i] for i in range(m)]) - runtime_offset
    if abs(run_time - runtime2) > 0.2:
        run_time = runtime2
    reason = None
    if math.isnan(inhibit_time) and math.isnan(mode_inhibit):
        reason = "no two consecutive good InhibitTime rows to take the inhibit step from"
    elif math.isnan(run_time) or math.isnan(inhibit_time):
        reason = "the ADC RunTime/InhibitTime values are not numbers"
    return _Times(run_time, inhibit_time, reason)


def _d_style_estimate(
    bin_id: str, header: Mapping[str, Any], adc: AdcLike | None, source: str | None, strict: bool = False
) -> _Times:
    """The D-style ADC estimate, falling back to the header without RunTime/InhibitTime or with one row."""
    if adc is None:
        raise ArgumentTypeError("adc", "method 'adc' and 'reference' need the ADC (adc=None given)")
    table = _table(bin_id, header, adc, D_ADC_COLUMNS, source, strict)
    if table is None:
        return _header_times(header)
    if len(table) == 0:
        return _Times(_NAN, _NAN, "the ADC has no rows")
    if len(table) == 1:
        return _header_times(header)
    return _d_style_adc_times(*(table.values(c) for c in D_ADC_COLUMNS))


def _cross_check(header_value: float, adc_value: float) -> float:
    """The reference rule for one time: the ADC value when header/ADC is outside [0.98, 1.02]."""
    if adc_value == 0:  # an infinite ratio
        return adc_value
    ratio = header_value / adc_value if not (math.isnan(header_value) or math.isnan(adc_value)) else _NAN
    return adc_value if ratio < 0.98 or ratio > 1.02 else header_value


def min_proc_time(bin_id: BinId) -> float:
    """The I-style minimum processing time: 0.05 s for IFCB5 from 2015-06-01 UTC on, else 0.073 s."""
    if bin_id.instrument == 5 and bin_id.timestamp >= IFCB5_SWITCH:
        return MIN_PROC_TIME_IFCB5_LATE
    return MIN_PROC_TIME


def _first_rows(triggers: Sequence[float]) -> Iterator[int]:
    """The rows where each trigger number first appears (a set only when the triggers are not in order)."""
    if all(map(le, triggers, islice(triggers, 1, None))):  # in order (no NaN): a new trigger is a change
        previous = None
        for i, trigger in enumerate(triggers):
            if trigger != previous:
                yield i
            previous = trigger
        return
    seen: set[float] = set()
    for i, trigger in enumerate(triggers):
        if trigger not in seen:
            seen.add(trigger)
            yield i


def _i_style(bin_id: BinId, table: AdcTable | None, method: str) -> MlAnalyzed:
    if table is None:
        return _nan(method, f"the ADC lacks the {', '.join(I_ADC_COLUMNS)} columns")
    triggers, opens, grabs = (table.values(c) for c in I_ADC_COLUMNS)
    floor = min_proc_time(bin_id)
    last: list[float] = []  # the last kept row's grab time

    def processing_times() -> Iterator[float]:
        previous_grab: float | None = None
        for i in _first_rows(triggers):
            open_time, grab_time = opens[i], grabs[i]
            open_time = open_time + 86400 if open_time < 0 else open_time
            grab_time = grab_time + 86400 if grab_time < 0 else grab_time
            if previous_grab is not None:
                yield max(open_time - previous_grab, floor)
            previous_grab = grab_time
        if previous_grab is not None:
            last.append(previous_grab)

    proc = math.fsum(processing_times())
    if not last:
        return _nan(method, "the ADC has no rows")
    run_time = last[0]
    look_time = run_time - proc - floor
    ml = look_time * I_FLOW_RATE
    reason = "the ADC trigger times are not numbers" if math.isnan(ml) else None
    return MlAnalyzed(ml, look_time, run_time, run_time - look_time, method, reason)


def _nan(method: str, reason: str) -> MlAnalyzed:
    return MlAnalyzed(_NAN, _NAN, _NAN, _NAN, method, reason)


def _from_times(times: _Times, method: str) -> MlAnalyzed:
    look_time = times.run_time - times.inhibit_time
    ml = D_FLOW_RATE * look_time / 60
    reason = times.reason if math.isnan(ml) else None
    if math.isnan(ml) and reason is None:
        reason = "run or inhibit time is not a number"
    return MlAnalyzed(ml, look_time, times.run_time, times.inhibit_time, method, reason)


def _as_header(hdr: HeaderLike, source: str | None) -> Mapping[str, Any]:
    if isinstance(hdr, (bytes, bytearray, memoryview)):
        return parse_hdr_bytes(bytes(hdr), source=source)
    if isinstance(hdr, Mapping):
        return hdr
    raise ArgumentTypeError("hdr", f"hdr must be the .hdr bytes or a parsed header mapping, not {type(hdr).__name__}")


def _table(
    bin_id: str, header: Mapping[str, Any], adc: AdcLike, wanted: Sequence[str], source: str | None,
    strict: bool = False,
) -> AdcTable | None:  # fmt: skip
    """Only the ``wanted`` columns of the ADC, or ``None`` when it does not have them all."""
    if isinstance(adc, AdcTable):
        if not all(c in adc for c in wanted):
            return None
        return adc
    if not isinstance(adc, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError("adc", f"adc must be the .adc bytes or an AdcTable, not {type(adc).__name__}")
    columns = adc_column_names(header)
    if columns is not None and not all(c in columns for c in wanted):
        return None
    try:
        return parse_adc_table(bin_id, bytes(adc), columns=columns, usecols=wanted, source=source, strict=strict)
    except KeyError:  # the default columns, cut to a narrower file (22-column D-style ADC)
        return None


def compute_ml_analyzed(
    bin_id: str,
    hdr: HeaderLike,
    adc: AdcLike | None,
    *,
    method: MlMethod = "adc",
    hdr_source: str | None = None,
    adc_source: str | None = None,
) -> MlAnalyzed:
    """The volume analyzed of a bin (section 7 of docs/formats.md).

    ``hdr`` is the parsed header (a mapping, as :func:`~ifcbkit.header.parse_hdr_bytes`
    returns) or the ``.hdr`` bytes; ``adc`` is the ``.adc`` bytes or an
    :class:`~ifcbkit.formats.adc_table.AdcTable` with the needed columns (it may be ``None``
    for ``method='hdr'``). Methods:

    - ``'adc'`` (default): the ADC estimate the dashboard shows; D-style bins fall
      back to the header without RunTime/InhibitTime columns or with a single row.
    - ``'hdr'``: the header's ``runTime`` and ``inhibitTime`` (I-style headers have none: NaN).
    - ``'reference'``: header times, each replaced by the ADC estimate when
      header/ADC is outside [0.98, 1.02] (ifcb-analysis).

    I-style bins use the I-style ADC algorithm for ``'adc'`` and ``'reference'``.
    Not computable: NaN values and a ``reason``.
    """
    return _positive(_ml_analyzed(bin_id, hdr, adc, method, hdr_source, adc_source))


def _positive(result: MlAnalyzed) -> MlAnalyzed:
    """A volume that is not a positive finite number (``inf`` from a damaged time, a negative look time)
    is not computable: NaN, with the reason saying what the times were."""
    ml = result.ml_analyzed
    if math.isnan(ml) or (math.isfinite(ml) and ml > 0):
        return result
    reason = (f"ml_analyzed {ml!r} is not a positive volume (run time {result.run_time!r} s, "
              f"inhibit time {result.inhibit_time!r} s)")  # fmt: skip
    return MlAnalyzed(_NAN, _NAN, result.run_time, result.inhibit_time, result.method, reason)


def _ml_analyzed(
    bin_id: str, hdr: HeaderLike, adc: AdcLike | None, method: MlMethod, hdr_source: str | None,
    adc_source: str | None, strict: bool = False,
) -> MlAnalyzed:  # fmt: skip
    check_method(method)
    parsed = parse_bin(bin_id)
    header = _as_header(hdr, hdr_source)
    if method == "hdr":
        times = _header_times(header)
        if parsed.style == "I" and times.reason is not None:
            return _nan(method, "I-style headers have no run or inhibit time")
        return _from_times(times, method)
    if parsed.style == "I":
        if adc is None:
            raise ArgumentTypeError("adc", f"method {method!r} needs the ADC (adc=None given)")
        return _i_style(parsed, _table(bin_id, header, adc, I_ADC_COLUMNS, adc_source, strict), method)
    estimate = _d_style_estimate(bin_id, header, adc, adc_source, strict)
    if method == "adc":
        return _from_times(estimate, method)
    from_header = _header_times(header)
    times = _Times(
        _cross_check(from_header.run_time, estimate.run_time),
        _cross_check(from_header.inhibit_time, estimate.inhibit_time),
        from_header.reason,
    )
    return _from_times(times, method)


# ----- bin metadata ---------------------------------------------------------------------------


def _num_images(
    bin_id: str, header: Mapping[str, Any], adc: AdcLike, source: str | None, strict: bool
) -> tuple[int, int, dict[int, tuple[int, str]]]:
    """``(num_triggers, num_images after stitching, {target: (line, problem)} of the damaged ADC lines)``."""
    if isinstance(adc, AdcTable):
        geometry = ("trigger", "x", "y", "width", "height")
        if not all(c in adc for c in geometry):
            raise FormatError(source, f"the ADC table lacks the {', '.join(geometry)} columns")
        rows = enumerate(zip(*(adc.column(c) for c in geometry)), 1)
        rois = {k: dict(zip(geometry, row)) for k, row in rows if not any(math.isnan(v) for v in row)}
        images = [t for t, r in rois.items() if r["width"] > 0 and r["height"] > 0]
        pairs = detect_pairs(bin_id, rois)
        skipped = {k: (k, "a geometry value is not a number") for k in range(1, len(adc) + 1) if k not in rois}
        return len(adc), len(images) - len(pairs), skipped
    return count_targets(bin_id, bytes(adc), columns=adc_column_names(header), source=source, strict=strict)


def _coordinate(header: Mapping[str, Any], key: str) -> float | None:
    value = _number(header, key)
    return value if math.isfinite(value) else None


def _ratio(numerator: float, denominator: float) -> float:
    if math.isnan(denominator) or denominator <= 0:
        return _NAN
    return numerator / denominator


def bin_metadata(
    bin_id: str,
    hdr: HeaderLike,
    adc: AdcLike,
    *,
    size: int | None = None,
    method: MlMethod = "adc",
    hdr_source: str | None = None,
    adc_source: str | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """A bin's metrics and metadata, with the keys of the dashboard's ``/api/bin/{id}``.

    ``hdr`` and ``adc`` as for :func:`compute_ml_analyzed` (an ``AdcTable`` must
    have the geometry columns); ``size`` is the byte count of the bin's files.
    ``skipped_lines`` counts the damaged ADC lines that were skipped (their targets have no
    image; each is also reported with an :class:`~ifcbkit.errors.AdcLineWarning`).
    Values are not rounded (the dashboard rounds them for display);
    ``ml_analyzed`` is a float in ml, NaN when not computable (then
    ``ml_analyzed_reason`` says why), and ``trigger_freq`` and ``concentration``
    are NaN when their denominator is not a positive number.

    Raises:
        FormatError: for a damaged ADC line or a field that is not a number, when ``strict``.
    """
    metadata, damaged = metadata_and_damaged(bin_id, hdr, adc, size=size, method=method, hdr_source=hdr_source,
                                             adc_source=adc_source, strict=strict)  # fmt: skip
    warn_skipped(adc_source or f"{bin_id}.adc", damaged)
    return metadata


def metadata_and_damaged(
    bin_id: str, hdr: HeaderLike, adc: AdcLike, *, size: int | None = None, method: MlMethod = "adc",
    hdr_source: str | None = None, adc_source: str | None = None, strict: bool = False,
) -> tuple[dict[str, Any], dict[int, tuple[int, str]]]:  # fmt: skip
    """:func:`bin_metadata` without the warnings: the metadata and the damaged ADC lines skipped
    (``{target: (line, problem)}``), for a caller that reports them itself (at its own caller's line)."""
    parsed = parse_bin(bin_id)
    header = _as_header(hdr, hdr_source)
    num_triggers, num_images, damaged = _num_images(bin_id, header, adc, adc_source, strict)
    skipped_lines = len(damaged)
    ml = _positive(_ml_analyzed(bin_id, header, adc, method, None, adc_source, strict))
    sample_type = header.get("sampleType")
    return {
        "pid": bin_id,
        "timestamp_iso": parsed.timestamp.isoformat(),
        "instrument": f"IFCB{parsed.instrument}",
        "num_triggers": num_triggers,
        "num_images": num_images,
        "skipped_lines": skipped_lines,
        "trigger_freq": _ratio(num_triggers, ml.run_time),
        "run_time": ml.run_time,
        "look_time": ml.look_time,
        "ml_analyzed": ml.ml_analyzed,
        "ml_analyzed_method": ml.method,
        "ml_analyzed_reason": ml.reason,
        "concentration": _ratio(num_images, ml.ml_analyzed),
        "lat": _coordinate(header, "gpsLatitude"),
        "lng": _coordinate(header, "gpsLongitude"),
        "sample_type": "" if sample_type is None else str(sample_type),
        "size": size,
        "temperature": _coordinate(header, "temperature"),
        "humidity": _coordinate(header, "humidity"),
    }, damaged


METADATA_FIELDS: tuple[str, ...] = (
    "pid", "timestamp_iso", "instrument", "num_triggers", "num_images", "skipped_lines", "trigger_freq", "run_time",
    "look_time", "ml_analyzed", "ml_analyzed_method", "ml_analyzed_reason", "concentration", "lat", "lng",
    "sample_type", "size", "temperature", "humidity",
)  # fmt: skip
