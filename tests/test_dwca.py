"""Darwin Core Archives (ifcbkit dwca): generated trees with class scores (or manual files) read back
with python-dwca-reader, against ``abundance --per bin`` at the same threshold; taxa, positions,
metadata, hostile class names and unwritable output (issue 25)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from dwca.read import DwCAReader

from ifcbkit.errors import FormatError, IfcbError
from ifcbkit.exports.dwca import DwcaWarning, Taxon, read_taxa, write_dwca
from ifcbkit.testing import Roi, write_bin

DWC = "http://rs.tdwg.org/dwc/terms/"
A, B, C, D = ("D20240301T100000_IFCB010", "D20240301T120000_IFCB010", "D20240302T100000_IFCB010",
              "D20240302T120000_IFCB010")  # fmt: skip
# A class name with every character a CSV or XML writer could get wrong: markup, quotes, a comma, an
# escape character (XML 1.0 cannot carry it) and a line break.
HOSTILE = 'Odd <&> "name", with\x1bcontrol\nand_line'
HOSTILE_WRITTEN = HOSTILE.replace("\x1b", "\\x1b").replace("\n", "\\n")  # every record one line
CLASSES = ("Mesodinium_rubrum", "detritus", HOSTILE)
SCORES = {
    A: [(0.9, 0.05, 0.05), (0.8, 0.1, 0.1), (0.1, 0.85, 0.05), (0.1, 0.1, 0.8)],
    B: [(0.2, 0.2, 0.6), (0.75, 0.2, 0.05), (0.05, 0.05, 0.9)],
    C: [(0.3, 0.3, 0.4), (0.3, 0.3, 0.4)],  # nothing reaches 0.7: an event without occurrences
}
# by hand, at 0.7 and at 0.85
AT_07 = {(A, CLASSES[0]): 2, (A, "detritus"): 1, (A, HOSTILE): 1, (B, CLASSES[0]): 1, (B, HOSTILE): 1}
AT_085 = {(A, CLASSES[0]): 1, (A, "detritus"): 1, (B, HOSTILE): 1}
WORMS = "urn:lsid:marinespecies.org:taxname:232069"


def ml_of(n: int) -> float:
    return 0.25 * (10.0 * n - n) / 60


def timed_rois(n: int) -> list[Roi]:
    return [Roi(width=4, height=3, columns={"ADCtime": 10.0 * k, "RunTime": 10.0 * k, "InhibitTime": float(k)})
            for k in range(1, n + 1)]  # fmt: skip


def write_scores(path: Path, pid: str, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("pid", *CLASSES))
        for target, scores in enumerate(rows, 1):
            writer.writerow((f"{pid}_{target:05d}", *map(repr, scores)))


@pytest.fixture
def tree(tmp_path):
    data, products = tmp_path / "data", tmp_path / "products"
    write_bin(data / "D20240301", A, timed_rois(4), header={"gpsLatitude": 41.5, "gpsLongitude": -70.25})
    write_bin(data / "D20240301", B, timed_rois(3))  # no position in the header
    write_bin(data / "D20240302", C, timed_rois(2), header={"gpsLatitude": 0.0, "gpsLongitude": 0.0})  # no fix
    write_bin(data / "D20240302", D, timed_rois(2))  # no class scores: no event
    for pid, rows in SCORES.items():
        write_scores(products / pid[:9] / f"{pid}_class_scores.csv", pid, rows)
    return {"root": data, "products": products, "tmp": tmp_path}


def ifcbkit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ifcbkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def read_archive(path: Path):
    """``({eventID: event terms}, [occurrence terms])`` through python-dwca-reader, with the row types."""
    with DwCAReader(str(path)) as archive:
        assert archive.descriptor.core.type == DWC + "Event"
        assert [e.type for e in archive.descriptor.extensions] == [DWC + "Occurrence"]
        assert archive.metadata is not None and archive.metadata.tag.endswith("eml")
        events, occurrences = {}, []
        for row in archive:
            assert row.id == row.data[DWC + "eventID"]
            events[row.id] = {k.removeprefix(DWC): v for k, v in row.data.items()}
            for ext in row.extensions:
                occurrences.append({k.removeprefix(DWC): v for k, v in ext.data.items()})
                assert ext.core_id == row.id
        assert not any(archive.orphaned_extension_rows().values())  # every occurrence has its event
    return events, occurrences


def per_bin(tree, *options) -> dict[tuple[str, str], int]:
    out = ifcbkit("abundance", tree["root"], tree["products"], "--per", "bin", "--workers", "1", *options)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    return {(r["pid"], r["class"]): int(r["count"]) for r in rows if int(r["count"])}


def test_archive_reads_back_one_event_per_bin_and_the_per_bin_counts(tree):
    out = tree["tmp"] / "counts.zip"
    result = write_dwca(tree["root"], tree["products"], out, workers=1)
    assert (result.events, result.occurrences) == (3, 5)
    assert [(s.pid, s.reason) for s in result.skipped] == [(D, "no class scores")]
    events, occurrences = read_archive(out)
    assert set(events) == {A, B, C}
    for pid, n in ((A, 4), (B, 3), (C, 2)):
        assert float(events[pid]["sampleSizeValue"]) == pytest.approx(ml_of(n), rel=1e-12)
        assert events[pid]["sampleSizeUnit"] == "millilitres"
    assert events[A]["eventDate"] == "2024-03-01T10:00:00Z" and events[C]["eventDate"] == "2024-03-02T10:00:00Z"
    assert (events[A]["decimalLatitude"], events[A]["decimalLongitude"]) == ("41.5", "-70.25")
    assert (events[B]["decimalLatitude"], events[B]["decimalLongitude"]) == ("", "")  # none: never 0, 0
    assert (events[C]["decimalLatitude"], events[C]["decimalLongitude"]) == ("", "")  # the header's 0, 0: no fix
    counts = {(o["eventID"], o["verbatimIdentification"].replace(HOSTILE_WRITTEN, HOSTILE)): int(o["organismQuantity"])
              for o in occurrences}  # fmt: skip
    assert counts == AT_07 == per_bin(tree)
    for o in occurrences:
        name = o["verbatimIdentification"]
        assert o["occurrenceID"] == f"{o['eventID']}_{name}"
        assert o["scientificName"] == name.replace("_", " ")
        assert (o["organismQuantityType"], o["occurrenceStatus"], o["basisOfRecord"]) == (
            "individuals", "present", "MachineObservation"
        )  # fmt: skip
        assert o["scientificNameID"] == ""
    assert any(o["scientificName"] == "Mesodinium rubrum" for o in occurrences)


def test_cli_at_a_threshold_equals_abundance_per_bin_at_it(tree):
    out = tree["tmp"] / "at085.zip"
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", out, "--threshold", "0.85", "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert f"3 events and 3 occurrences written to {out}" in run.stdout
    assert f"skipped {D}: no class scores" in run.stderr
    _, occurrences = read_archive(out)
    counts = {(o["eventID"], o["verbatimIdentification"].replace(HOSTILE_WRITTEN, HOSTILE)): int(o["organismQuantity"])
              for o in occurrences}  # fmt: skip
    assert counts == AT_085 == per_bin(tree, "--threshold", "0.85")


def test_hostile_class_names_are_quoted_and_escaped_never_raw(tree):
    out = tree["tmp"] / "hostile.zip"
    write_dwca(tree["root"], tree["products"], out, workers=1, metadata=None)
    with zipfile.ZipFile(out) as archive:
        raw = archive.read("occurrence.txt").decode("utf-8")
        for name in archive.namelist():
            assert b"\x1b" not in archive.read(name)
        for name in ("meta.xml", "eml.xml"):
            ET.fromstring(archive.read(name))  # well-formed
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert all(len(row) == len(rows[0]) for row in rows) and len(raw.splitlines()) == len(rows) == 6
    hostile = [row for row in rows if row[4] == HOSTILE_WRITTEN]
    assert len(hostile) == 2 and hostile[0][1] == f"{A}_{HOSTILE_WRITTEN}"
    assert hostile[0][2] == HOSTILE_WRITTEN.replace("_", " ")


def test_taxa_map_names_and_lsids_and_leave_out_classes_mapped_to_nothing(tree):
    taxa = tree["tmp"] / "taxa.csv"
    taxa.write_text(f"class,scientificName,scientificNameID\nMesodinium_rubrum,Mesodinium rubrum,{WORMS}\n"
                    "detritus,,\nbead,,\n")  # fmt: skip
    out = tree["tmp"] / "taxa.zip"
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", out, "--taxa", taxa, "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert "left out: detritus (1 individuals)" in run.stderr
    assert "does not list, named after themselves: Odd" in run.stderr
    _, occurrences = read_archive(out)
    assert {o["verbatimIdentification"] for o in occurrences} == {"Mesodinium_rubrum", HOSTILE_WRITTEN}
    meso = [o for o in occurrences if o["verbatimIdentification"] == "Mesodinium_rubrum"]
    assert [(o["scientificName"], o["scientificNameID"], o["organismQuantity"]) for o in meso] == [
        ("Mesodinium rubrum", WORMS, "2"), ("Mesodinium rubrum", WORMS, "1")
    ]  # fmt: skip
    # the API: a mapping, and the same warnings
    with pytest.warns(DwcaWarning, match="left out: Mesodinium_rubrum"):
        result = write_dwca(tree["root"], tree["products"], out, workers=1,
                            taxa={"Mesodinium_rubrum": "", "detritus": Taxon("Detritus"), HOSTILE: "Odd"})  # fmt: skip
    assert result.left_out == {"Mesodinium_rubrum": 3} and result.unmapped == [] and result.occurrences == 3


def test_read_taxa_with_and_without_a_header(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text(f"Mesodinium_rubrum,Mesodinium rubrum,{WORMS}\n\ndetritus,\nCiliate, Ciliophora \n")
    assert read_taxa(plain) == {"Mesodinium_rubrum": Taxon("Mesodinium rubrum", WORMS), "detritus": Taxon(""),
                                "Ciliate": Taxon("Ciliophora")}  # fmt: skip
    named = tmp_path / "named.csv"
    named.write_text(f"Class,taxonRank,scientificNameID,ScientificName\nMesodinium_rubrum,species,{WORMS},M. r.\n")
    assert read_taxa(named) == {"Mesodinium_rubrum": Taxon("M. r.", WORMS)}
    for text, message in (("a,x\na,y\n", "line 2: class 'a' is listed twice"), (",x\n", "line 1: no class name"),
                          ("a,,urn:x\n", "scientificNameID but no scientificName"), ("a,b,c,d\n", "line 1: 4 cells"),
                          ("class,name\n", "no scientificName column")):  # fmt: skip
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(FormatError, match=message) as info:
            read_taxa(bad)
        assert str(bad) in str(info.value)


def test_bad_taxa_file_is_a_usage_error_naming_it(tree):
    bad = tree["tmp"] / "taxa.csv"
    bad.write_text("detritus,\ndetritus,Detritus\n")
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", tree["tmp"] / "x.zip", "--taxa", bad)
    assert run.returncode == 2 and str(bad) in run.stderr and "line 2" in run.stderr
    assert not (tree["tmp"] / "x.zip").exists()


def test_positions_from_options_fill_only_bins_without_one(tree):
    out = tree["tmp"] / "pos.zip"
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", out, "--latitude", "42.25", "--longitude", "-71",
                  "--workers", "1")  # fmt: skip
    assert run.returncode == 0, run.stderr
    events, _ = read_archive(out)
    assert (events[A]["decimalLatitude"], events[A]["decimalLongitude"]) == ("41.5", "-70.25")
    assert (events[B]["decimalLatitude"], events[B]["decimalLongitude"]) == ("42.25", "-71.0")
    assert (events[C]["decimalLatitude"], events[C]["decimalLongitude"]) == ("42.25", "-71.0")
    with zipfile.ZipFile(out) as archive:
        box = ET.fromstring(archive.read("eml.xml")).find("dataset/coverage/geographicCoverage/boundingCoordinates")
    assert [box.findtext(f"{side}BoundingCoordinate") for side in ("west", "east", "north", "south")] == [
        "-71.0", "-70.25", "42.25", "41.5"
    ]  # fmt: skip
    for options in (("--latitude", "42"), ("--longitude", "-71"), ("--latitude", "91", "--longitude", "0"),
                    ("--latitude", "nan", "--longitude", "0")):  # fmt: skip
        bad = ifcbkit("dwca", tree["root"], tree["products"], "--out", tree["tmp"] / "bad.zip", *options)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, options
    with pytest.raises(ValueError, match="both"):
        write_dwca(tree["root"], tree["products"], out, latitude=42.0)


def test_default_eml_says_it_was_generated_and_what_was_not_given(tree):
    out = tree["tmp"] / "eml.zip"
    write_dwca(tree["root"], tree["products"], out, workers=1)
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["eml.xml", "event.txt", "meta.xml", "occurrence.txt"]
        eml = ET.fromstring(archive.read("eml.xml"))
    assert eml.tag == "{eml://ecoinformatics.org/eml-2.1.1}eml" and eml.get("packageId")
    dataset = eml.find("dataset")
    assert [child.tag for child in dataset] == ["title", "creator", "pubDate", "language", "abstract",
                                                "intellectualRights", "coverage", "contact", "methods"]  # fmt: skip
    assert dataset.findtext("title") == "IFCB counts per class, 2024-03-01 to 2024-03-02 (no title was given)"
    abstract = " ".join(p.text for p in dataset.iter("para"))
    assert "Generated by ifcbkit" in abstract and "not given when it was made: title, abstract, contact, licence" in (
        abstract
    )  # fmt: skip
    assert dataset.findtext("contact/positionName").startswith("not given")
    assert "No licence was given" in dataset.findtext("intellectualRights/para")
    dates = dataset.find("coverage/temporalCoverage/rangeOfDates")
    assert dates.findtext("beginDate/calendarDate") == "2024-03-01"
    assert dates.findtext("endDate/calendarDate") == "2024-03-02"
    assert "threshold" in dataset.findtext("methods/methodStep/description/para")


def test_metadata_from_a_json_file_and_options_with_hostile_text(tree):
    meta = tree["tmp"] / "meta.json"
    title = 'Plankton <at> "Station" & co\x01'
    meta.write_text(json.dumps({"title": "overridden", "abstract": "Hourly IFCB <samples>.", "licence": "CC0-1.0",
                                "creator": {"name": "Lab", "organization": "WHOI & co"}}))  # fmt: skip
    out = tree["tmp"] / "meta.zip"
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", out, "--metadata", meta, "--title", title,
                  "--contact", "Ann Lee <ann@example.org>", "--licence", "CC-BY-4.0", "--workers", "1")  # fmt: skip
    assert run.returncode == 0, run.stderr
    read_archive(out)
    with zipfile.ZipFile(out) as archive:
        dataset = ET.fromstring(archive.read("eml.xml")).find("dataset")
    assert dataset.findtext("title") == title.replace("\x01", "\\x01")
    assert dataset.findtext("contact/individualName/surName") == "Ann Lee"
    assert dataset.findtext("contact/electronicMailAddress") == "ann@example.org"
    assert dataset.findtext("creator/organizationName") == "WHOI & co"
    assert dataset.find("intellectualRights/para/ulink").get("url") == (
        "http://creativecommons.org/licenses/by/4.0/legalcode"
    )
    assert dataset.findtext("abstract/para") == "Hourly IFCB <samples>."
    assert "not given" not in ET.tostring(dataset, encoding="unicode")
    meta.write_text(json.dumps({"titel": "typo"}))
    bad = ifcbkit("dwca", tree["root"], tree["products"], "--out", out, "--metadata", meta)
    assert bad.returncode == 2 and "unknown key 'titel'" in bad.stderr and str(meta) in bad.stderr


def test_unwritable_out_gives_a_clear_error_and_no_partial_zip(tree):
    missing = tree["tmp"] / "no" / "such" / "dir" / "out.zip"
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", missing)
    assert run.returncode == 1
    assert run.stderr.strip() == f"ifcbkit dwca: No such file or directory: {missing}"
    assert not missing.parent.exists()
    directory = tree["tmp"] / "adir"
    directory.mkdir()
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", directory)
    assert run.returncode == 1 and "is a directory" in run.stderr and os.listdir(directory) == []
    # a run that fails after the output was opened leaves the old file as it was, and nothing beside it
    old = tree["tmp"] / "old.zip"
    old.write_bytes(b"an earlier archive")
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", old, "--start", "2030-01-01")
    assert run.returncode == 1 and "could be counted" in run.stderr and "no archive written" in run.stderr
    assert old.read_bytes() == b"an earlier archive"
    assert sorted(p.name for p in tree["tmp"].iterdir()) == ["adir", "data", "old.zip", "products"]
    with pytest.raises(IfcbError, match="no bin under"):
        write_dwca(tree["root"], tree["products"], old, start_time="2030-01-01")


def test_manual_annotations_make_the_occurrences(tree):
    pytest.importorskip("scipy")
    from ifcbkit import write_manual_classes

    write_manual_classes(tree["products"] / f"{A}.mat", {1: "Mesodinium_rubrum", 2: "Mesodinium_rubrum",
                                                         3: "unclassified", 4: "Ciliate"},
                         ["unclassified", "Mesodinium_rubrum", "Ciliate"])  # fmt: skip
    out = tree["tmp"] / "manual.zip"
    result = write_dwca(tree["root"], tree["products"], out, manual=True, workers=1)
    assert (result.events, result.occurrences) == (1, 2)
    events, occurrences = read_archive(out)
    assert list(events) == [A]
    assert {(o["verbatimIdentification"], o["organismQuantity"]) for o in occurrences} == {
        ("Mesodinium_rubrum", "2"), ("Ciliate", "1")
    }  # fmt: skip
    with zipfile.ZipFile(out) as archive:
        assert b"manual annotation files" in archive.read("eml.xml")
    run = ifcbkit("dwca", tree["root"], tree["products"], "--out", out, "--manual", "--threshold", "0.5")
    assert run.returncode == 2 and "--threshold does not go with it" in run.stderr
