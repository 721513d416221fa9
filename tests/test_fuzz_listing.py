"""Fuzzing the dashboard listing readers (pure functions over bytes, no server): any
``export_metadata`` CSV gives bins and problems or a ``FormatError``, any ``/api/bin`` answer gives
metadata or a ``FormatError``; every listed volume is a finite number in range; and the CSV reader
reads what the csv module writes, field for field, with fields of any size."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ifcbkit.errors import FormatError
from ifcbkit.sources.dashboard.listing import csv_records, listed_from_api, merge_listings, parse_export_metadata
from ifcbkit.stores.dashboard import parse_bin_api

SCALE = max(1, int(os.environ.get("IFCBKIT_FUZZ_EXAMPLES", "1")))  # bench/fuzz.py raises it
PARSER = settings(
    max_examples=150 * SCALE,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PIDS = st.sampled_from(["D20240301T010000_IFCB010", "D20240302T120000_IFCB104", "IFCB5_2014_100_120000", "x", ""])
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", "nan", "inf", "-inf", "1e400", "-0.5", "0.25", "1_000", " 7 ", "NaN", "null"]),
    st.integers(300, 6000).map(lambda n: "9" * n),
    st.text(max_size=12),
)
COLUMNS = ["dataset", "pid", "sample_time", "ifcb", "ml_analyzed", "latitude", "longitude", "depth", "cruise",
           "cast", "niskin", "sample_type", "n_images", "comment_summary", "trigger_selection", "skip"]  # fmt: skip
FIELD = st.one_of(NUMBERS, st.text(max_size=30), st.sampled_from(["0", "1", "true", '"', '""', "\r\n", ","]))


def _row(pid: str, fields: list[str]) -> list[str]:
    row = [*fields, *[""] * len(COLUMNS)][: len(COLUMNS)]
    row[1] = pid
    return row


ROWS = st.lists(st.builds(_row, PIDS, st.lists(FIELD, max_size=len(COLUMNS))), max_size=8)


def _written(rows: list[list[str]], header: list[str] = COLUMNS, terminator: str = "\r\n") -> bytes:
    out = io.StringIO()
    # (with "\n" lines the csv module would leave a "\r" unquoted: a CSV no reader reads back)
    writer = csv.writer(out, lineterminator=terminator, quoting=csv.QUOTE_ALL if terminator == "\n" else 0)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def _check_listing(data: bytes) -> None:
    try:
        bins, problems = parse_export_metadata(data, source="https://dashboard/api/export_metadata/mvco")
    except FormatError as e:
        assert e.source == "https://dashboard/api/export_metadata/mvco"
        return
    for listed in bins:
        assert math.isnan(listed.ml_analyzed) or (math.isfinite(listed.ml_analyzed) and listed.ml_analyzed >= 0)
        assert listed.n_images is None or listed.n_images >= 0
        assert listed.line is not None and listed.line >= 2
    for problem in problems:
        assert isinstance(problem.error, FormatError) and problem.error.line is not None
    merged, conflicts = merge_listings(bins)
    assert set(merged).isdisjoint(p.pid for p in conflicts)
    assert set(merged) | {p.pid for p in conflicts} == {b.pid for b in bins}


@PARSER
@given(ROWS, st.sampled_from(["\r\n", "\n"]))
def test_an_export_metadata_csv_gives_bins_and_problems_or_a_format_error(rows, terminator):
    data = _written(rows, terminator=terminator)
    _check_listing(data)
    bins, problems = parse_export_metadata(data, source="export")  # a well-formed CSV: never an error
    assert len(bins) + len(problems) == len(rows)


def _damaged(data: bytes) -> st.SearchStrategy[bytes]:
    n = len(data)
    cut = st.integers(0, n).map(lambda k: data[:k])
    spliced = st.tuples(st.integers(0, n), st.sampled_from([b'"', b",", b"\r", b"\n", b"\xff", b"\x00"])).map(
        lambda t: data[: t[0]] + t[1] + data[t[0] :]
    )
    return st.one_of(cut, spliced)


@PARSER
@given(st.one_of(st.binary(max_size=400), ROWS.map(_written).flatmap(_damaged)))
def test_any_bytes_give_bins_and_problems_or_a_format_error(data):
    _check_listing(data)


@PARSER
@given(
    st.lists(st.lists(st.text(max_size=20), min_size=1, max_size=6), max_size=8),
    st.sampled_from(["\r\n", "\n"]),
    st.integers(0, 300_000),
)
def test_the_csv_reader_reads_what_the_csv_module_writes(rows, terminator, long):
    """Field for field, with one field past the csv module's 131,072-character limit when ``long``."""
    if terminator == "\n":  # (the csv module quotes a field with the line terminator's characters only)
        rows = [[field.replace("\r", "") for field in row] for row in rows]
    rows = [row for row in rows if row != [""]]  # (a record of one empty field is a blank line)
    if rows and long > 150_000:
        rows[0][0] = "x," * (long // 2)
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows(rows)
    got = [fields for _, fields in csv_records(out.getvalue(), source="written")]
    assert got == rows


API_KEYS = ["ml_analyzed", "num_images", "num_triggers", "lat", "lng", "depth", "timestamp_iso", "instrument",
            "trigger_freq", "concentration", "size", "skip", "sample_type"]  # fmt: skip
API_ANSWERS = st.one_of(
    st.dictionaries(
        st.sampled_from(API_KEYS),
        st.one_of(NUMBERS, st.integers(-(10**30), 10**30), st.floats(), st.none(), st.booleans(), st.just([])),
        max_size=8,
    ).map(lambda d: json.dumps(d, allow_nan=True).encode()),
    NUMBERS.map(lambda v: b'{"ml_analyzed": "%s ml"}' % v.encode("utf-8", "surrogatepass")),
    st.binary(max_size=100),
    st.sampled_from([b'{"ml_analyzed": 1e400}', b'{"ml_analyzed": "1e400 ml"}', b'{"lat": NaN}', b"[" * 5000]),
)


@PARSER
@given(API_ANSWERS)
def test_an_api_bin_answer_gives_metadata_or_a_format_error(answer):
    pid = "D20240301T010000_IFCB010"
    source = f"https://dashboard/api/bin/{pid}"
    try:
        metadata = parse_bin_api(answer, source=source, pid=pid)
    except FormatError as e:
        assert e.source == source
        return
    volume = metadata.get("ml_analyzed", math.nan)
    assert math.isnan(volume) or (math.isfinite(volume) and volume >= 0)
    try:
        listed = listed_from_api(pid, metadata["api"], metadata)
    except (ValueError, TypeError, OverflowError):
        return  # what the walk reports as a FormatError naming the URL
    assert math.isnan(listed.ml_analyzed) or listed.ml_analyzed >= 0


def test_an_unclosed_quote_is_a_format_error_in_linear_time():
    """Regression: a regular expression for quoted fields backtracked exponentially on an unclosed
    quote before a long field (the fuzz test above found it)."""
    data = b'pid,ml_analyzed\r\nD20240301T010000_IFCB010,"' + b"x" * 200_000
    try:
        parse_export_metadata(data, source="export")
    except FormatError as e:
        assert e.line == 2 and "never closed" in str(e)
    else:
        raise AssertionError("an unclosed quote was read")


def test_the_csv_field_size_limit_is_only_ever_raised():
    """The csv module's limit is global: lifted to an answer's size when the answer is larger, never lowered."""
    comment = "x" * 150_000
    data = f"pid,ml_analyzed,comment_summary\r\nD20240301T010000_IFCB010,0.5,{comment}\r\n".encode()
    before = csv.field_size_limit()
    try:
        csv.field_size_limit(1_000)
        bins, problems = parse_export_metadata(data, source="export")
        assert problems == [] and bins[0].row["comment_summary"] == comment
        assert len(data) + 1 >= csv.field_size_limit() > len(comment)
        csv.field_size_limit(10**9)
        parse_export_metadata(data, source="export")
        assert csv.field_size_limit() == 10**9
    finally:
        csv.field_size_limit(before)
