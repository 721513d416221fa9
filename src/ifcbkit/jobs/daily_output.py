"""A folder of day files (``abundance --daily-dir``) that a re-run reuses only when they are right.

Each UTC day's rows go to ``YYYYMMDD_daily_summary_long.csv`` (the dashboard notebook's names and
the long-format columns). Beside them, :data:`MANIFEST_NAME` records for each day the settings it
was made with, the part of the day it covers, the bins it counted and what went wrong. A re-run
reuses a day's file only when the settings key is the same, the file covers the whole UTC day (a day
not yet over never does), no bin had an error, the listing has the same bins as then, and the file
reads back whole with the checksum recorded; anything else is counted again, and
:class:`DailyFolder` says why. Day files and the manifest are replaced atomically, and the manifest
is re-read, merged and written under a lock (``fcntl.flock`` on :data:`LOCK_NAME`), so two runs on
one folder never leave it inconsistent.

The manifest is JSON::

    {"format": "ifcbkit-daily-manifest", "version": 1,
     "days": {"2024-03-01": {
        "file": "20240301_daily_summary_long.csv",   # null for a day with no rows
        "sha256": "...",                               # of the file's bytes (null without a file)
        "settings_key": "...", "settings": {...},      # sha256 of the settings' canonical JSON
        "covered": ["2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00"],
        "complete": true,                              # whole day covered and no errors
        "bins": {"D20240301T000000_IFCB010": "<what the listing said of it>", ...},
        "errors": [{"pid": "...", "reason": "..."}],
        "no_class_scores": ["..."],                    # asked again by every re-run
        "reports": [{"pid": "...", "reason": "..."}],  # other bins left out (not errors)
        "written": "2024-03-05T10:00:00+00:00"}}}
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..atomic import atomic_file
from ..errors import FormatError, IfcbError
from ..formats.ids import parse_bin
from ..science.counting import ABUNDANCE_CARBON_FIELDS, ABUNDANCE_FIELDS
from .abundance import NO_CLASS_SCORES, AbundanceResult, write_abundance_csv

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: atomic replacement only, no lock
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_NAME", "MANIFEST_NAME", "DailyFolder", "covered_span", "day_file_name", "file_sha256", "read_day_file",
    "settings_key",
]  # fmt: skip

MANIFEST_NAME = "ifcbkit-daily-manifest.json"
LOCK_NAME = ".ifcbkit-daily-manifest.lock"
MANIFEST_FORMAT = "ifcbkit-daily-manifest"
MANIFEST_VERSION = 1
DAY_FILE = re.compile(r"(\d{4})(\d{2})(\d{2})_daily_summary_long\.csv", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_INSTRUMENT = re.compile(r"IFCB\d+", re.ASCII)
_FLOATS = (
    "latitude", "longitude", "ml_analyzed_total", "objects_per_ml", "objects_per_L", "threshold", "biovolume_mm3",
    "carbon_ug", "biovolume_mm3_per_L", "carbon_ug_per_L",
)  # fmt: skip
# Cells that may be empty: no GPS, no volume to divide by, a class whose labels came precomputed.
_MAY_BE_EMPTY = ("latitude", "longitude", "ml_analyzed_total", "objects_per_ml", "objects_per_L", "threshold",
                 "biovolume_mm3_per_L", "carbon_ug_per_L")  # fmt: skip

Say = Callable[[str], None]


def day_file_name(day: str) -> str:
    """``YYYYMMDD_daily_summary_long.csv`` for ``'YYYY-MM-DD'``."""
    return f"{day.replace('-', '')}_daily_summary_long.csv"


def settings_key(settings: Mapping[str, Any]) -> str:
    """The sha256 of the settings' canonical JSON: every option that changes numbers is a key of
    ``settings``, so an option added later (a rules or thresholds file: add its :func:`file_sha256`)
    changes the key by being added to the dict."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes (for settings that name a file: its content, not its name, counts)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def covered_span(
    day: str, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """The part ``[from, to)`` of the UTC ``day`` that a run over ``[start, end)`` at ``now`` sees
    (bins after ``now`` cannot be there yet); ``None`` when it sees none of it."""
    first = datetime.combine(date.fromisoformat(day), datetime.min.time(), timezone.utc)
    low = max(first, start) if start is not None else first
    high = min(first + timedelta(days=1), end if end is not None else now, now)
    return (low, high) if low < high else None


def _whole(day: str, span: tuple[datetime, datetime] | None) -> bool:
    first = datetime.combine(date.fromisoformat(day), datetime.min.time(), timezone.utc)
    return span == (first, first + timedelta(days=1))


def read_day_file(data: bytes, source: str, day: str | None = None, *, carbon: bool = False) -> list[dict[str, str]]:
    """The rows of a day file (cells as written), checked to be whole: UTF-8, the abundance columns
    (with ``carbon``, :data:`~ifcbkit.jobs.abundance.ABUNDANCE_CARBON_FIELDS`), every row complete, with a
    date (``day`` when given), an instrument, a class and numbers where numbers go. Pure over
    ``data``.

    Raises:
        FormatError: naming ``source`` and the line of the first damage.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise FormatError(source, f"not UTF-8 (byte {e.start})", line=line) from None
    if text and not text.endswith("\n"):
        raise FormatError(source, "the last row is cut short (no end of line)", line=text.count("\n") + 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    fields = ABUNDANCE_CARBON_FIELDS if carbon else ABUNDANCE_FIELDS
    rows: list[dict[str, str]] = []
    try:
        header = next(reader, None)
        if header is None:
            raise FormatError(source, "empty: no header line", line=1)
        if tuple(header) != fields:
            missing = [name for name in fields if name not in header]
            what = f"no {missing[0]} column" if missing else "columns out of order or extra columns"
            raise FormatError(source, f"{what}: not the abundance columns", line=1)
        for cells in reader:
            line = reader.line_num
            if len(cells) != len(fields):
                raise FormatError(source, f"{len(cells)} cells, not {len(fields)}", line=line)
            row = dict(zip(fields, cells, strict=True))
            _check_row(row, source, line, day)
            rows.append(row)
    except csv.Error as e:
        raise FormatError(source, f"not CSV: {e}", line=reader.line_num) from None
    return rows


def _check_row(row: Mapping[str, str], source: str, line: int, day: str | None) -> None:
    if not _DATE.fullmatch(row["date"]) or (day is not None and row["date"] != day):
        raise FormatError(source, f"date {row['date']!r} is not {day or 'a YYYY-MM-DD date'}", line=line)
    if not _INSTRUMENT.fullmatch(row["instrument"]):
        raise FormatError(source, f"instrument {row['instrument']!r} is not IFCBn", line=line)
    if not row["class"]:
        raise FormatError(source, "no class", line=line)
    if not (row["count"].isascii() and row["count"].isdigit()):
        raise FormatError(source, f"count {row['count']!r} is not a whole number", line=line)
    if "diatom" in row and row["diatom"] not in ("true", "false"):
        raise FormatError(source, f"diatom {row['diatom'][:40]!r} is not true or false", line=line)
    for name in _FLOATS:
        cell = row.get(name)
        if cell is None or (cell == "" and name in _MAY_BE_EMPTY):
            continue
        try:
            value = float(cell) if len(cell) < 64 else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise FormatError(source, f"{name} {cell[:40]!r} is not a finite number", line=line)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class DailyFolder:
    """A ``--daily-dir`` for one run: the :class:`ifcbkit.jobs.abundance.DayPlan` the engines consult,
    the rows of the days it reuses, and :meth:`record`, which writes the days the run counted.

    ``settings`` holds every option that changes numbers; ``start``/``end`` are the run's range (UTC);
    ``note`` hears why a day is counted again, ``warn`` about damaged files; ``recompute`` reuses
    nothing; ``carbon``: the day files have the carbon columns.
    """

    def __init__(
        self, path: str | os.PathLike[str], settings: Mapping[str, Any], *, start: datetime | None,
        end: datetime | None, note: Say, warn: Say, recompute: bool = False, now: datetime | None = None,
        carbon: bool = False,
    ):  # fmt: skip
        self.path = os.fspath(path)
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise IfcbError(f"--daily-dir {self.path} is not a directory")
        os.makedirs(self.path, exist_ok=True)
        self.settings = json.loads(json.dumps(dict(settings), default=str))  # as the manifest will hold them
        self.key = settings_key(self.settings)
        self.start, self.end = start, end
        self.now = now or _now()
        self.note, self.warn = note, warn
        self.recompute = recompute
        self.carbon = carbon  # day files with the carbon columns
        self.manifest_path = os.path.join(self.path, MANIFEST_NAME)
        self.reused: dict[str, list[dict[str, str]]] = {}  # day -> its rows, as the file holds them
        self.listed: dict[str, dict[str, str]] = {}  # day -> {pid: stamp}, every day the engine listed
        if recompute:
            note(f"--recompute: every day in {self.path} is counted again")

    # ----- the manifest, under the lock -----

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        with open(os.path.join(self.path, LOCK_NAME), "a") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        """The manifest's days (empty when there is none; a damaged one warns and counts as none)."""
        try:
            with open(self.manifest_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        try:
            manifest = json.loads(data.decode("utf-8"))
            if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("days"), dict):
                raise ValueError("not an ifcbkit daily manifest")
            if manifest.get("version") != MANIFEST_VERSION:
                raise ValueError(f"manifest version {manifest.get('version')!r}, not {MANIFEST_VERSION}")
        except (ValueError, AttributeError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            self.warn(f"{self.manifest_path} cannot be read ({e}): every day in {self.path} is counted again")
            return {}
        days: dict[str, Any] = manifest["days"]
        return days

    # ----- the plan -----

    def reuse(self, day: str, listed: Mapping[str, str]) -> Collection[str] | None:
        """The bins without class scores of ``day``'s reusable file (see the module doc), or ``None``
        (with a note saying why) when the day must be counted."""
        self.listed[day] = dict(listed)
        if self.recompute:
            return None
        name = day_file_name(day)
        file = os.path.join(self.path, name)
        with self._locked(exclusive=False):
            entry = self._load().get(day)
            if not isinstance(entry, dict):
                if os.path.exists(file):
                    self.note(f"{day} counted again: {file} is not in {MANIFEST_NAME} (an older ifcbkit or "
                              "another program wrote it)")  # fmt: skip
                return None
            why = self._why_not(day, entry, listed)
            if why is not None:
                self.note(f"{day} counted again: {why}")
                return None
            rows = self._read(day, entry, file)
        if rows is None:
            return None
        self.reused[day] = rows
        return [str(pid) for pid in entry.get("no_class_scores", [])]

    def recomputed(self, day: str, reason: str) -> None:
        """The engine counts ``day`` after all (a bin got class scores)."""
        self.reused.pop(day, None)
        self.note(f"{day} counted again: {reason}")

    def _why_not(self, day: str, entry: Mapping[str, Any], listed: Mapping[str, str]) -> str | None:
        if entry.get("settings_key") != self.key:
            old = _mapping(entry.get("settings"))
            names = sorted(set(old) | set(self.settings))
            changed = [f"{k} {old.get(k)!r}, now {self.settings.get(k)!r}" for k in names
                       if old.get(k) != self.settings.get(k)]  # fmt: skip
            return f"made with other settings ({'; '.join(changed) or 'another settings key'})"
        covered = entry.get("covered")
        span = covered_span(day, self.start, self.end, self.now)
        if not _whole(day, span):
            seen = "none" if span is None else f"{_iso(span[0])} to {_iso(span[1])}"
            return f"this run sees only part of the UTC day ({seen})"
        if not (isinstance(covered, list) and len(covered) == 2 and _whole(day, _parse_span(covered))):
            return f"the file covers only part of the UTC day ({covered})"
        errors = entry.get("errors") or []
        if errors or entry.get("complete") is not True:
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            return f"{len(errors)} bins had errors then ({first.get('pid')}: {first.get('reason')})"
        before = _mapping(entry.get("bins"))
        if before != dict(listed):
            new = sorted(set(listed) - set(before))
            gone = sorted(set(before) - set(listed))
            changed = sorted(p for p in set(listed) & set(before) if listed[p] != before[p])
            parts = [f"{len(new)} new bins" if new else "", f"{len(gone)} bins gone" if gone else "",
                     f"{len(changed)} bins changed ({changed[0]}: {before[changed[0]]}, now {listed[changed[0]]})"
                     if changed else ""]  # fmt: skip
            return f"the listing differs from the file's ({', '.join(p for p in parts if p)})"
        return None

    def _read(self, day: str, entry: Mapping[str, Any], file: str) -> list[dict[str, str]] | None:
        """The rows of a reusable day's file, or ``None`` (with a warning) when it is not whole."""
        if entry.get("file") is None:
            if os.path.exists(file):
                self.warn(f"{file} is not what {MANIFEST_NAME} says (no rows that day); {day} is counted again")
                return None
            return []
        try:
            with open(file, "rb") as f:
                data = f.read()
        except OSError as e:
            self.note(f"{day} counted again: {file}: {e.strerror}")
            return None
        try:
            rows = read_day_file(data, file, day, carbon=self.carbon)
        except FormatError as e:
            self.warn(f"{e}; {day} is counted again")
            return None
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            self.warn(f"{file} changed since it was written (its sha256 is not the one in {MANIFEST_NAME}); "
                      f"{day} is counted again")  # fmt: skip
            return None
        return rows

    # ----- after the run -----

    def record(self, result: AbundanceResult) -> None:
        """Write each day the run counted (its file, atomically, and its manifest entry), keeping a
        complete day of the same settings when this run saw only part of it."""
        per_day: dict[str, dict[str, Any]] = {}

        def of(day: str) -> dict[str, Any]:
            return per_day.setdefault(day, {"errors": [], "no_class_scores": [], "reports": []})

        everywhere: list[dict[str, str]] = []  # errors that name no day: they mark every day counted
        for b in result.bins:
            if b.skipped_lines:
                of(_day(b.pid))["errors"].append(
                    {"pid": b.pid, "reason": f"{b.skipped_lines} damaged ADC lines skipped"}
                )
        for s in result.skipped:
            day = _day_or_none(s.pid)
            item = {"pid": s.pid, "reason": s.reason}
            if s.error:
                (everywhere if day is None else of(day)["errors"]).append(item)
            elif day is not None and s.reason == NO_CLASS_SCORES:
                of(day)["no_class_scores"].append(s.pid)
            elif day is not None:
                of(day)["reports"].append(item)
        days = sorted((set(self.listed) | set(per_day)) - set(self.reused))
        rows_of: dict[str, list[dict[str, Any]]] = {}
        for row in result.rows:
            rows_of.setdefault(row["date"], []).append(row)
        written = _iso(_now())
        with self._locked(exclusive=True):
            manifest = self._load()
            for day in days:
                found = of(day)
                span = covered_span(day, self.start, self.end, self.now)
                errors = found["errors"] + everywhere
                whole = _whole(day, span)
                old = manifest.get(day)
                if (not whole and isinstance(old, dict) and old.get("settings_key") == self.key
                        and old.get("complete") is True):  # fmt: skip
                    self.note(f"{day}: the complete day in {self.path} is kept; this run's part of it is only printed")
                    continue
                name = day_file_name(day)
                file = os.path.join(self.path, name)
                digest = None
                if rows_of.get(day):
                    out = io.StringIO(newline="")
                    write_abundance_csv(rows_of[day], out, carbon=self.carbon)
                    data = out.getvalue().encode("utf-8")
                    with atomic_file(file, "wb") as f:
                        f.write(data)
                    digest = hashlib.sha256(data).hexdigest()
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(file)
                manifest[day] = {
                    "file": name if digest else None, "sha256": digest, "settings_key": self.key,
                    "settings": self.settings, "covered": None if span is None else [_iso(span[0]), _iso(span[1])],
                    "complete": whole and not errors, "bins": self.listed.get(day, {}), "errors": errors,
                    "no_class_scores": sorted(found["no_class_scores"]), "reports": found["reports"],
                    "written": written,
                }  # fmt: skip
            body = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "days": dict(sorted(manifest.items()))}
            with atomic_file(self.manifest_path, "w") as f:
                json.dump(body, f, indent=1, allow_nan=False)
                f.write("\n")

    def rows(self, computed: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The run's rows: those it counted and those of the days it reused, in date order."""
        rows: list[dict[str, Any]] = list(computed)
        for day_rows in self.reused.values():
            rows += day_rows
        rows.sort(key=lambda row: str(row["date"]))
        return rows


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _parse_span(covered: Sequence[Any]) -> tuple[datetime, datetime] | None:
    try:
        return datetime.fromisoformat(str(covered[0])), datetime.fromisoformat(str(covered[1]))
    except (ValueError, TypeError):
        return None


def _day(pid: str) -> str:
    return parse_bin(pid).timestamp.date().isoformat()


def _day_or_none(pid: str) -> str | None:
    try:
        return _day(pid)
    except (IfcbError, ValueError):
        return None
