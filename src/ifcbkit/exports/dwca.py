"""Darwin Core Archives of IFCB counts, for OBIS and GBIF: a bin is a sampling event, a class with
images in it an occurrence.

The archive is a zip of ``meta.xml`` (the Darwin Core text descriptor), ``eml.xml`` (the dataset's
EML 2.1.1 metadata), ``event.txt`` (the core) and ``occurrence.txt`` (an extension whose rows point
at their event by ``eventID``), both UTF-8 CSV with a header line, fields quoted by the csv module
where they need it.

- An event per bin that was counted: ``eventID`` (the bin id), ``eventDate`` (its UTC time, ISO
  8601), ``decimalLatitude`` and ``decimalLongitude`` (the header's GPS position, else the
  caller's, else empty: never 0, 0), ``sampleSizeValue`` (ml analyzed) and ``sampleSizeUnit``
  (``millilitres``), ``samplingProtocol``.
- An occurrence per bin and class with a non-zero count: ``occurrenceID`` (``{bin id}_{class}``),
  ``eventID``, ``scientificName`` (the class name with underscores as spaces, or the taxa file's),
  ``scientificNameID`` (the taxa file's, such as a WoRMS LSID), ``verbatimIdentification`` (the
  class name), ``organismQuantity`` (the count), ``organismQuantityType`` (``individuals``),
  ``occurrenceStatus`` (``present``) and ``basisOfRecord`` (``MachineObservation``).

The counts are the per-bin rows of :func:`ifcbkit.science.counting.bin_rows` over
:func:`ifcbkit.jobs.abundance.daily_abundance`: what ``abundance --per bin`` writes, counted once.
Characters that XML 1.0 cannot carry (control characters other than tab, line feed and carriage
return) are written as backslash escapes (``\\x1b``) in every file; in the data files, so are tab,
line feed and carriage return (``\\t``, ``\\n``, ``\\r``), so that every record is one line for
the line-oriented tools that read archives.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import os
import re
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from .. import __version__
from ..adc import warn_user
from ..atomic import atomic_file
from ..engine.filters import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, TimeLike
from ..errors import FormatError, IfcbError, IfcbWarning, NotFoundError
from ..formats.ids import parse_bin
from ..jobs.abundance import Skipped, daily_abundance
from ..jobs.parallel import Progress
from ..science.class_rules import DEFAULT_THRESHOLD
from ..science.counting import BinCounts, bin_rows
from ..science.metrics import MlMethod

__all__ = [
    "EVENT_TERMS", "OCCURRENCE_TERMS", "Contact", "DatasetMetadata", "DwcaResult", "DwcaWarning", "Taxon",
    "dwc_text", "read_dataset_metadata", "read_taxa", "write_dwca",
]  # fmt: skip

DWC = "http://rs.tdwg.org/dwc/terms/"
EVENT_ROW_TYPE = DWC + "Event"
OCCURRENCE_ROW_TYPE = DWC + "Occurrence"
EVENT_TERMS: tuple[str, ...] = (
    "eventID", "eventDate", "decimalLatitude", "decimalLongitude", "sampleSizeValue", "sampleSizeUnit",
    "samplingProtocol",
)  # fmt: skip
OCCURRENCE_TERMS: tuple[str, ...] = (
    "eventID", "occurrenceID", "scientificName", "scientificNameID", "verbatimIdentification", "organismQuantity",
    "organismQuantityType", "occurrenceStatus", "basisOfRecord",
)  # fmt: skip
EML_NAMESPACE = "eml://ecoinformatics.org/eml-2.1.1"
EML_SCHEMA = "http://rs.gbif.org/schema/eml-gbif-profile/1.1/eml.xsd"
SAMPLING_PROTOCOL = "Imaging FlowCytobot (IFCB): images of particles in a measured volume of water, classified"

# Characters XML 1.0 cannot carry: C0 controls but tab, LF and CR; lone surrogates; U+FFFE, U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# What a data field cannot carry: those, and tab, LF and CR (a record is one line).
_NOT_FIELD = re.compile("[\x00-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

# Licences GBIF reads by machine, by their SPDX identifiers: (title, legal code).
_LICENCES = {
    "cc0-1.0": ("Public Domain (CC0 1.0)", "http://creativecommons.org/publicdomain/zero/1.0/legalcode"),
    "cc-by-4.0": ("Creative Commons Attribution (CC-BY) 4.0 License",
                  "http://creativecommons.org/licenses/by/4.0/legalcode"),
    "cc-by-nc-4.0": ("Creative Commons Attribution Non Commercial (CC-BY-NC) 4.0 License",
                     "http://creativecommons.org/licenses/by-nc/4.0/legalcode"),
}  # fmt: skip


class DwcaWarning(IfcbWarning):
    """What a Darwin Core export left out or named by default (classes mapped to nothing, classes
    the taxa file does not list)."""


def _escape(m: re.Match[str]) -> str:
    char = m[0]
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def dwc_text(value: str, *, field: bool = False) -> str:
    """``value`` with each character XML 1.0 cannot carry as a backslash escape (``\\x1b``,
    ``\\ufffe``); as a data ``field``, tab and line breaks too (``\\t``, ``\\n``, ``\\r``)."""
    return (_NOT_FIELD if field else _NOT_XML).sub(_escape, value)


# ----- taxa -----------------------------------------------------------------------------------


class Taxon(NamedTuple):
    """What a class becomes: its ``scientificName`` (empty: left out of the archive) and
    ``scientificNameID`` (empty when not known)."""

    scientific_name: str
    scientific_name_id: str = ""


def read_taxa(path: str | os.PathLike[str]) -> dict[str, Taxon]:
    """``{class: Taxon}`` from a CSV of ``class,scientificName,scientificNameID`` rows (the third
    column may be left out). A first row whose first cell is ``class`` is a header, and then the
    columns are found by their names (case-insensitive; others are ignored). Blank lines are
    skipped; names are stripped of surrounding spaces.

    Raises:
        FormatError: naming the file and line for a class listed twice, a row without a class, a
            row of more than three cells (without a header), or a ``scientificNameID`` without a
            ``scientificName``; NotFoundError: if it does not exist.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise NotFoundError(f"no taxa file {source}") from None
    except UnicodeDecodeError as e:
        raise FormatError(source, f"not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise FormatError(source, f"not a CSV file ({e})") from None
    columns = (0, 1, 2)
    start = 0
    if rows and rows[0] and rows[0][0].strip().lower() == "class":
        names = [cell.strip().lower() for cell in rows[0]]
        if "scientificname" not in names:
            raise FormatError(source, "line 1: the header has no scientificName column")
        columns = (0, names.index("scientificname"), names.index("scientificnameid") if "scientificnameid" in names
                   else -1)  # fmt: skip
        start = 1
    out: dict[str, Taxon] = {}
    for number, row in enumerate(rows[start:], start + 1):
        if not any(cell.strip() for cell in row):
            continue
        if start == 0 and len(row) > 3:
            raise FormatError(source, f"line {number}: {len(row)} cells, not class,scientificName,scientificNameID")

        def cell(index: int, row: list[str] = row) -> str:
            return row[index].strip() if 0 <= index < len(row) else ""

        name, scientific, identifier = cell(columns[0]), cell(columns[1]), cell(columns[2])
        if not name:
            raise FormatError(source, f"line {number}: no class name")
        if name in out:
            raise FormatError(source, f"line {number}: class {name!r} is listed twice")
        if identifier and not scientific:
            raise FormatError(source, f"line {number}: class {name!r} has a scientificNameID but no scientificName")
        out[name] = Taxon(scientific, identifier)
    return out


# ----- dataset metadata -----------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """A person or an organisation to write to about the dataset: any of a name, an email address
    and an organisation."""

    name: str = ""
    email: str = ""
    organization: str = ""

    @classmethod
    def parse(cls, text: str) -> Contact:
        """``Name <email>``, ``email`` (text with an ``@`` and no space) or ``Name``."""
        text = text.strip()
        m = re.fullmatch(r"(.*?)\s*<([^<>\s]+@[^<>\s]+)>", text)
        if m:
            return cls(name=m[1].strip(), email=m[2])
        if "@" in text and not re.search(r"\s", text):
            return cls(email=text)
        return cls(name=text)

    def __bool__(self) -> bool:
        return bool(self.name or self.email or self.organization)


@dataclass(frozen=True)
class DatasetMetadata:
    """What ``eml.xml`` says of the dataset; what is not given is said to be not given."""

    title: str = ""
    abstract: str = ""
    licence: str = ""
    contact: Contact = field(default_factory=Contact)
    creator: Contact = field(default_factory=Contact)  # default: the contact

    def updated(self, **values: Any) -> DatasetMetadata:
        """A copy with the values given (not ``None`` nor empty) in place of these."""
        given = {k: v for k, v in values.items() if v}
        for key in ("contact", "creator"):
            if isinstance(given.get(key), str):
                given[key] = Contact.parse(given[key])
        return replace(self, **given)


_METADATA_KEYS = ("title", "abstract", "licence", "license", "contact", "creator")


def _contact(source: str, key: str, value: Any) -> Contact:
    if isinstance(value, str):
        return Contact.parse(value)
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"name", "email", "organization"})
        if unknown or not all(isinstance(v, str) for v in value.values()):
            raise FormatError(source, f"{key}: an object of name, email and organization strings")
        return Contact(**value)
    raise FormatError(source, f"{key}: a string ('Name <email>') or an object of name, email and organization")


def read_dataset_metadata(path: str | os.PathLike[str]) -> DatasetMetadata:
    """Dataset metadata from a JSON object of ``title``, ``abstract``, ``licence`` (or ``license``:
    ``CC0-1.0``, ``CC-BY-4.0``, ``CC-BY-NC-4.0`` or any text), ``contact`` and ``creator`` (each
    ``"Name <email>"`` or ``{"name": ..., "email": ..., "organization": ...}``).

    Raises:
        FormatError: naming the file for text that is not such an object, or an unknown key (a typo
            would otherwise be lost); NotFoundError: if it does not exist.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8-sig") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise NotFoundError(f"no metadata file {source}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(source, f"not JSON ({e})") from None
    if not isinstance(data, dict):
        raise FormatError(source, "not a JSON object of title, abstract, licence, contact and creator")
    unknown = sorted(set(data) - set(_METADATA_KEYS))
    if unknown:
        raise FormatError(source, f"unknown key {unknown[0]!r} (known: {', '.join(_METADATA_KEYS)})")
    for key in ("title", "abstract", "licence", "license"):
        if key in data and not isinstance(data[key], str):
            raise FormatError(source, f"{key}: not a string")
    return DatasetMetadata(
        title=data.get("title", ""), abstract=data.get("abstract", ""),
        licence=str(data.get("licence", data.get("license", ""))),
        contact=_contact(source, "contact", data["contact"]) if "contact" in data else Contact(),
        creator=_contact(source, "creator", data["creator"]) if "creator" in data else Contact(),
    )  # fmt: skip


# ----- the archive ----------------------------------------------------------------------------


class DwcaResult(NamedTuple):
    """What went into an archive: its events and occurrences, the bins left out (as ``abundance``
    skips them), and the classes left out (``{class: individuals}``, mapped to nothing) or named
    by default (not in the taxa file)."""

    path: str
    events: int
    occurrences: int
    skipped: list[Skipped]
    left_out: dict[str, int]
    unmapped: list[str]


def _coordinate(value: float | None, limit: float) -> float | None:
    if value is None or isinstance(value, bool) or not math.isfinite(value) or abs(value) > limit:
        return None
    return float(value)


def _position(b: BinCounts, fallback: tuple[float, float] | None) -> tuple[float, float] | None:
    """The bin's header position when it has a real one (not 0, 0: an instrument without a fix), else ``fallback``."""
    lat, lon = _coordinate(b.lat, 90.0), _coordinate(b.lng, 180.0)
    if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):
        return lat, lon
    return fallback


def _check_fallback(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise ValueError("give both latitude and longitude, or neither")
    lat, lon = _coordinate(latitude, 90.0), _coordinate(longitude, 180.0)
    if lat is None or lon is None:
        raise ValueError(f"not a position in degrees: latitude {latitude!r}, longitude {longitude!r}")
    return lat, lon


def _number(value: float) -> str:
    return repr(float(value))


def _event_date(pid: str) -> str:
    return parse_bin(pid).timestamp.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows([dwc_text(cell, field=True) for cell in row] for row in rows)
    return text.getvalue().encode("utf-8")


def _table(parent: ET.Element, tag: str, row_type: str, location: str, terms: Sequence[str], key: str) -> None:
    table = ET.SubElement(parent, tag, {
        "encoding": "UTF-8", "fieldsTerminatedBy": ",", "linesTerminatedBy": "\\n", "fieldsEnclosedBy": '"',
        "ignoreHeaderLines": "1", "rowType": row_type,
    })  # fmt: skip
    ET.SubElement(ET.SubElement(table, "files"), "location").text = location
    ET.SubElement(table, key, {"index": "0"})
    for index, term in enumerate(terms):
        ET.SubElement(table, "field", {"index": str(index), "term": DWC + term})


def meta_xml() -> bytes:
    """The archive's descriptor: the Event core (``event.txt``) and the Occurrence extension
    (``occurrence.txt``), each column's Darwin Core term, ``eml.xml`` as the metadata."""
    archive = ET.Element("archive", {"xmlns": "http://rs.tdwg.org/dwc/text/", "metadata": "eml.xml"})
    _table(archive, "core", EVENT_ROW_TYPE, "event.txt", EVENT_TERMS, "id")
    _table(archive, "extension", OCCURRENCE_ROW_TYPE, "occurrence.txt", OCCURRENCE_TERMS, "coreid")
    return _xml(archive)


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def _text(parent: ET.Element, tag: str, text: str, attributes: Mapping[str, str] | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag, dict(attributes or {}))
    element.text = dwc_text(text)
    return element


def _party(parent: ET.Element, tag: str, who: Contact, nobody: str) -> None:
    party = ET.SubElement(parent, tag)
    if not who:
        _text(party, "positionName", nobody)
        return
    if who.name:
        _text(ET.SubElement(party, "individualName"), "surName", who.name)
    if who.organization:
        _text(party, "organizationName", who.organization)
    if not who.name and not who.organization:
        _text(party, "positionName", "contact")
    if who.email:
        _text(party, "electronicMailAddress", who.email)


def _rights(parent: ET.Element, licence: str) -> None:
    rights = ET.SubElement(ET.SubElement(parent, "intellectualRights"), "para")
    if not licence:
        rights.text = "No licence was given when this archive was made: its terms of use are not known."
        return
    known = _LICENCES.get(licence.strip().lower())
    if known is None:
        rights.text = dwc_text(licence)
        return
    rights.text = "This work is licensed under a "
    link = ET.SubElement(rights, "ulink", {"url": known[1]})
    _text(link, "citetitle", known[0])
    link.tail = "."


class _Summary(NamedTuple):
    """What the EML says of the data itself."""

    pids: list[str]
    positions: list[tuple[float, float]]
    source: str  # how the classes were decided


def eml_xml(metadata: DatasetMetadata, summary: _Summary, *, today: datetime.date | None = None) -> bytes:
    """The dataset's EML 2.1.1 document (GBIF's metadata profile): what ``metadata`` gives, and
    for what it does not, a statement that it was not given; the bins' time span and positions as
    coverage; how the archive was made as its methods."""
    given = {"title": metadata.title, "abstract": metadata.abstract, "contact": metadata.contact,
             "licence": metadata.licence}  # fmt: skip
    missing = [name for name, value in given.items() if not value]
    days = sorted(parse_bin(pid).timestamp.date() for pid in summary.pids)
    package = uuid.uuid5(uuid.NAMESPACE_URL, "ifcbkit-dwca:" + ",".join(sorted(summary.pids)) + summary.source)
    root = ET.Element("eml:eml", {
        "xmlns:eml": EML_NAMESPACE, "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:schemaLocation": f"{EML_NAMESPACE} {EML_SCHEMA}", "packageId": str(package), "system": "ifcbkit",
        "scope": "system", "xml:lang": "en",
    })  # fmt: skip
    dataset = ET.SubElement(root, "dataset")
    span = f"{days[0]} to {days[-1]}" if days else "no bins"
    title = metadata.title or f"IFCB counts per class, {span} (no title was given)"
    _text(dataset, "title", title, {"xml:lang": "en"})
    nobody = "not given: no contact was given when this archive was made"
    _party(dataset, "creator", metadata.creator or metadata.contact, nobody)
    _text(dataset, "pubDate", (today or datetime.date.today()).isoformat())
    _text(dataset, "language", "en")
    abstract = ET.SubElement(dataset, "abstract")
    if metadata.abstract:
        _text(abstract, "para", metadata.abstract)
    _text(abstract, "para", (
        f"Counts of images per class from {len(summary.pids)} Imaging FlowCytobot (IFCB) bins, each a sampling "
        f"event, {summary.source}. Generated by ifcbkit {__version__}"
        + (f"; not given when it was made: {', '.join(missing)}." if missing else ".")
    ))  # fmt: skip
    _rights(dataset, metadata.licence)
    coverage = ET.SubElement(dataset, "coverage")
    if summary.positions:
        geographic = ET.SubElement(coverage, "geographicCoverage")
        _text(geographic, "geographicDescription", "The positions of the IFCB bins")
        box = ET.SubElement(geographic, "boundingCoordinates")
        lats, lons = [p[0] for p in summary.positions], [p[1] for p in summary.positions]
        for tag, value in (("west", min(lons)), ("east", max(lons)), ("north", max(lats)), ("south", min(lats))):
            _text(box, f"{tag}BoundingCoordinate", _number(value))
    if days:
        dates = ET.SubElement(ET.SubElement(coverage, "temporalCoverage"), "rangeOfDates")
        _text(ET.SubElement(dates, "beginDate"), "calendarDate", days[0].isoformat())
        _text(ET.SubElement(dates, "endDate"), "calendarDate", days[-1].isoformat())
    if not len(coverage):
        dataset.remove(coverage)
    _party(dataset, "contact", metadata.contact, nobody)
    step = ET.SubElement(ET.SubElement(dataset, "methods"), "methodStep")
    _text(ET.SubElement(step, "description"), "para", (
        f"Made by ifcbkit {__version__} (ifcbkit dwca): one event per IFCB bin, with the volume analyzed "
        f"(sampleSizeValue, millilitres); one occurrence per class with a non-zero count in the bin, its count as "
        f"organismQuantity; {summary.source}."
    ))  # fmt: skip
    return _xml(root)


def _source(manual: bool, threshold: float | None, thresholds: Any, rule: str) -> str:
    if manual:
        return "classes from ifcb-analysis manual annotation files (each ROI's manual class, else its auto class)"
    one = "the class files' own thresholds, else 0.7" if threshold is None else f"threshold {threshold}"
    if thresholds is not None:
        one = f"per-class thresholds (others: {one})"
    return f"classes from classifier scores under the {rule} rule at {one}"


def write_dwca(
    data_root: str | os.PathLike[str],
    products: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    threshold: float | None = None,
    thresholds: Mapping[str, float] | str | os.PathLike[str] | None = None,
    rule: str = "winner",
    manual: bool = False,
    taxa: Mapping[str, Taxon | str] | str | os.PathLike[str] | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    metadata: DatasetMetadata | str | os.PathLike[str] | None = None,
    method: MlMethod = "adc",
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    instrument: int | str | Iterable[int | str] | None = None,
    include: Iterable[str] = DEFAULT_INCLUDE,
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
    workers: int | None = None,
    progress: Progress | None = None,
) -> DwcaResult:
    """Write a Darwin Core Archive of the bins under ``data_root`` with class results under
    ``products`` to the zip ``out`` (see the module doc for its content).

    The counts are :func:`~ifcbkit.jobs.abundance.daily_abundance`'s, under the same ``threshold``,
    ``thresholds``, ``rule`` and ``manual`` (manual annotation files instead of class scores),
    ``method`` and bin selection. ``taxa`` (``{class: Taxon or scientificName}`` or a file for
    :func:`read_taxa`) names the classes; a class mapped to an empty name is left out, and one the
    mapping lacks keeps its own name, each warned about (:class:`DwcaWarning`). A bin without a
    header position takes ``latitude`` and ``longitude`` when given, else has none. ``metadata``
    (or a JSON file for :func:`read_dataset_metadata`) fills ``eml.xml``. The zip appears complete
    under ``out`` or not at all.

    Raises:
        IfcbError: when no bin could be counted, or ``out`` is a directory; NotFoundError: for a
            missing root or file; FormatError: for a bad taxa, metadata or thresholds file;
            ValueError: for a bad threshold, rule or position, or a threshold with ``manual``;
            OSError: if ``out`` cannot be written.
    """
    fallback = _check_fallback(latitude, longitude)
    names = read_taxa(taxa) if isinstance(taxa, (str, os.PathLike)) else dict(taxa or {})
    mapping = {name: Taxon(value) if isinstance(value, str) else value for name, value in names.items()}
    about = read_dataset_metadata(metadata) if isinstance(metadata, (str, os.PathLike)) else metadata
    if os.path.isdir(out):
        raise IfcbError(f"{os.fspath(out)} is a directory: the Darwin Core Archive is one zip file")
    with atomic_file(out) as f:  # an unwritable out fails here, before any counting
        result = daily_abundance(
            data_root, products, threshold=threshold, thresholds=thresholds, rule=rule, manual=manual,
            method=method, start_time=start_time, end_time=end_time, instrument=instrument, include=include,
            exclude=exclude, workers=workers, progress=progress,
        )  # fmt: skip
        if not result.bins:
            why = f"{len(result.skipped)} bins skipped, e.g. {result.skipped[0].pid}: {result.skipped[0].reason}" \
                if result.skipped else "no bins in that range"  # fmt: skip
            raise IfcbError(f"no bin under {os.fspath(data_root)} could be counted ({why}): no archive written")
        events = []
        positions = []
        for b in result.bins:
            where = _position(b, fallback)
            if where is not None:
                positions.append(where)
            lat, lon = ("", "") if where is None else (_number(where[0]), _number(where[1]))
            events.append([b.pid, _event_date(b.pid), lat, lon, _number(b.ml_analyzed), "millilitres",
                           SAMPLING_PROTOCOL])  # fmt: skip
        occurrences = []
        left_out: dict[str, int] = {}
        unmapped: dict[str, None] = {}
        run_threshold = None if manual else (DEFAULT_THRESHOLD if threshold is None else threshold)
        for row in bin_rows(result.bins, run_threshold):
            name, count = row["class"], row["count"]
            if count <= 0:
                continue
            taxon = mapping.get(name)
            if taxon is None:
                if mapping:
                    unmapped[name] = None
                taxon = Taxon(name.replace("_", " "))
            if not taxon.scientific_name:
                left_out[name] = left_out.get(name, 0) + count
                continue
            occurrences.append([
                row["pid"], f"{row['pid']}_{name}", taxon.scientific_name, taxon.scientific_name_id, name,
                str(count), "individuals", "present", "MachineObservation",
            ])  # fmt: skip
        summary = _Summary([b.pid for b in result.bins], positions, _source(manual, threshold, thresholds, rule))
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.xml", meta_xml())
            archive.writestr("eml.xml", eml_xml(about or DatasetMetadata(), summary))
            archive.writestr("event.txt", _csv(EVENT_TERMS, events))
            archive.writestr("occurrence.txt", _csv(OCCURRENCE_TERMS, occurrences))
    if left_out:
        listed = ", ".join(f"{name} ({n} individuals)" for name, n in sorted(left_out.items()))
        warn_user(DwcaWarning(f"classes mapped to no scientificName, left out: {listed}"))
    if unmapped:
        warn_user(
            DwcaWarning(
                f"classes the taxa mapping does not list, named after themselves: {', '.join(sorted(unmapped))}"
            )
        )
    return DwcaResult(os.fspath(out), len(events), len(occurrences), result.skipped, left_out, sorted(unmapped))
