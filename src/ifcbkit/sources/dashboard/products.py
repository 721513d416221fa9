"""A dashboard's products: class scores (and their counts at a threshold), features and blobs, read
over the dashboard's client through the same parsers as local files (a 404 is
:class:`~ifcbkit.errors.ProductNotFoundError`)."""

from __future__ import annotations

import functools
import math
import re
import urllib.parse
from collections.abc import Mapping

from ...engine.compute import Compute, give_way
from ...engine.requests import Op, perform
from ...errors import FormatError, ProductNotFoundError
from ...formats.ids import validate_bin_id
from ...formats.products import (
    MAX_SCORE_CHARS,
    SCORE_RANGE,
    SCORE_SLACK,
    ClassScoresRows,
    parse_blobs_zip,
    parse_class_scores_csv,
    parse_features_csv,
)
from ...science.counting import check_threshold, class_counts
from .client import DashboardClient

Features = list[tuple[int, dict[str, int | float]]]


def class_counts_csv(data: bytes, *, source: str, pid: str, threshold: float) -> tuple[dict[str, int], int]:
    """``(class counts at threshold, rows)`` of a dashboard ``_class_scores.csv``: what
    :func:`~ifcbkit.science.counting.class_counts` gives for :func:`~ifcbkit.formats.products.parse_class_scores_csv`,
    without holding a record per row (the abundance job needs the counts only). A plain file (no
    quotes, every ROI of ``pid`` once, every score a number in range) is counted in one pass over
    its lines; anything else goes through the full parser, which gives the same counts or the same
    error.

    Raises:
        FormatError: naming ``source`` and the line for anything malformed.
    """
    counted = _plain_counts(data, pid, threshold)
    if counted is not None:
        return counted
    scores = parse_class_scores_csv(data, source=source, pid=pid)
    return class_counts(scores, threshold), len(scores.rows)


_ROI_TAIL = re.compile(r"\d{5}|[1-9]\d{5}", re.ASCII)


def _plain_counts(data: bytes, pid: str, threshold: float) -> tuple[dict[str, int], int] | None:
    """:func:`class_counts_csv` of a plain file, or ``None`` for anything the full parser must judge."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if '"' in text or "\0" in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    lines = text.split("\n")
    header = [name.strip() for name in lines[0].split(",")]
    names = header[1:]
    if header[0] != "pid" or not names or len(set(header)) != len(header):
        return None  # (a class named twice: the full parser keeps the last column's scores for both)
    width = len(header)
    low, high = SCORE_RANGE[0] - SCORE_SLACK, SCORE_RANGE[1] + SCORE_SLACK
    counts = dict.fromkeys(names, 0)
    seen: set[int] = set()
    prefix = pid + "_"
    winners = [0] * len(names)
    for count, line in enumerate(lines[1:], 1):
        if not count & 15:
            give_way()  # (in the compute lane: see ifcbkit.engine.compute)
        fields = line.split(",")
        if len(fields) != width:
            if not line.replace(",", "").strip():  # a blank record
                continue
            return None
        roi = fields[0].strip()
        tail = roi[len(prefix) :]
        if not roi.startswith(prefix) or _ROI_TAIL.fullmatch(tail) is None:
            return None
        target = int(tail)
        if target < 1 or target in seen or max(map(len, fields)) > MAX_SCORE_CHARS:
            return None
        seen.add(target)
        try:
            values = list(map(float, fields[1:]))
        except ValueError:
            return None
        if values:
            total = sum(values)
            best = max(values)
            if total != total or total in (math.inf, -math.inf) or best > high or min(values) < low:
                return None  # NaN or infinite (the full parser names it), or out of range
            if best >= threshold:
                winners[values.index(best)] += 1
    for i, name in enumerate(names):
        counts[name] += winners[i]
    return counts, len(seen)


class DashboardProducts:
    """The products of one dashboard, read through its client (each read is one call within the
    client's ``deadline``)."""

    def __init__(self, client: DashboardClient):
        self.client = client

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client.base_url!r}, dataset={self.client.dataset!r})"

    def fetch(self, bin_id: str, name: str, what: str, params: Mapping[str, str]) -> Op[tuple[bytes, str]]:
        """The bytes of the product file ``name`` (``what``, for messages) and the URL they came from.

        Raises:
            ProductNotFoundError: on a 404; StoreError: for a failing answer.
        """
        url = self.client.data_url(name)
        response = yield from self.client.bounded(self.client.request("GET", url, "product", params=params))
        if response.status_code == 404:
            raise ProductNotFoundError(f"no {what} for {bin_id} on {self.client.base_url} ({url}: HTTP 404)")
        self.client.check(response, "GET", url)
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return response.content, url + query

    def read_class_scores(
        self, bin_id: str, *, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> Op[ClassScoresRows]:  # fmt: skip
        """The bin's class scores from ``/{dataset}/{pid}_class_scores.csv`` (``?v=`` for ``version``,
        ``?model=`` for ``model``, dashboards 5.2 on), read as a local ``_class_scores.csv`` is.
        ``n_images``: the bin's image count in the dashboard's listing; fewer rows is an answer cut
        short. (ifcbdb counts a stitched pair of an I-style bin as one image, as class scores do.)

        Raises:
            ProductNotFoundError: (a ``NotFoundError``) on a 404, and without a dataset (the dashboard
                serves class scores per dataset); FormatError: naming the URL and line, or the URL
                for fewer rows than ``n_images``.
        """
        data, source = yield from self._class_scores_csv(bin_id, version, model)
        scores = yield from perform(Compute(functools.partial(parse_class_scores_csv, data, source=source, pid=bin_id)))
        _check_rows(source, len(scores.rows), n_images)
        return scores

    def read_class_counts(
        self, bin_id: str, *, threshold: float, version: int | str | None = None, model: str | None = None,
        n_images: int | None = None,
    ) -> Op[dict[str, int]]:  # fmt: skip
        """How many ROIs each class wins at or above ``threshold`` in the bin's class scores
        (:meth:`read_class_scores` and :func:`~ifcbkit.science.counting.class_counts`, with the same errors),
        parsed and counted in one call off the event loop, holding no record per row."""
        threshold = check_threshold(threshold)
        data, source = yield from self._class_scores_csv(bin_id, version, model)
        counts, rows = yield from perform(
            Compute(functools.partial(class_counts_csv, data, source=source, pid=bin_id, threshold=threshold))
        )
        _check_rows(source, rows, n_images)
        return counts

    def _class_scores_csv(self, bin_id: str, version: int | str | None, model: str | None) -> Op[tuple[bytes, str]]:
        bin_id = validate_bin_id(bin_id)
        if self.client.dataset is None:
            raise ProductNotFoundError(f"class scores are served per dataset: {self!r} has none")
        params = {k: str(v) for k, v in (("v", version), ("model", model)) if v is not None}
        return (yield from self.fetch(bin_id, f"{bin_id}_class_scores.csv", "class scores", params))

    def read_features(self, bin_id: str, *, version: int | None = None) -> Op[Features]:
        """The bin's features (``/{dataset}/{pid}_features.csv``, ``?v=`` for ``version``), read as a
        local ``_features_v4.csv``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL and line.
        """
        bin_id = validate_bin_id(bin_id)
        params = {"v": str(int(version))} if version is not None else {}
        data, source = yield from self.fetch(bin_id, f"{bin_id}_features.csv", "features", params)
        return (yield from perform(Compute(functools.partial(parse_features_csv, data, source=source))))

    def read_blobs(self, bin_id: str, *, version: int | None = None) -> Op[list[tuple[str, bytes]]]:
        """The bin's blob images (``/{dataset}/{pid}_blob.zip``, ``?v=`` for ``version``) as
        ``[(roi_id, png_bytes)]``, read as a local ``_blobs_v4.zip``.

        Raises:
            ProductNotFoundError: on a 404; FormatError: naming the URL.
        """
        bin_id = validate_bin_id(bin_id)
        params = {"v": str(int(version))} if version is not None else {}
        data, source = yield from self.fetch(bin_id, f"{bin_id}_blob.zip", "blobs", params)
        return (yield from perform(Compute(functools.partial(parse_blobs_zip, data, source=source, pid=bin_id))))


def _check_rows(source: str, rows: int, n_images: int | None) -> None:
    if n_images is not None and rows < n_images:
        raise FormatError(
            source, f"{rows} rows of class scores for the {n_images} images the listing says"
            " the bin has (an answer cut short, or scores of an older version of the bin)"
        )  # fmt: skip
