"""Biovolumes from features files: the two columns, only the fields needed, every bad value named by file and line."""

from __future__ import annotations

import pytest

from ifcbkit import FormatError, NotFoundError
from ifcbkit.formats.biovolumes import parse_biovolumes, read_biovolumes

# The shape of ifcb-features' _features_v4.csv: roi_number first, Biovolume third, summedBiovolume later.
HEADER = "roi_number,Area,Biovolume,EquivDiameter,numBlobs,summedArea,summedBiovolume,Solidity"


def features(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


GOOD = features(
    "1,160,1058.193125,14.27,1,160,1058.193125,0.88",
    "2,6941,153497.2344,94.0,1,6941,153497.2344,0.58",
    "3,442,2345.439209,23.7,4,1049,5147.593414,0.39",
)


def test_biovolume_and_summed_biovolume():
    assert parse_biovolumes(GOOD, source="f.csv") == {1: 1058.193125, 2: 153497.2344, 3: 2345.439209}
    summed = parse_biovolumes(GOOD, source="f.csv", column="summedBiovolume")
    assert summed == {1: 1058.193125, 2: 153497.2344, 3: 5147.593414}


def test_read_from_disk_with_crlf_and_the_old_roi_column(tmp_path):
    path = tmp_path / "D20240101T000000_IFCB001_fea_v2.csv"
    path.write_bytes(b"roiNumber,Biovolume,Area\r\n7,12.5,3\r\n\r\n9,0,4\r\n")
    assert read_biovolumes(path) == {7: 12.5, 9: 0.0}
    with pytest.raises(NotFoundError):
        read_biovolumes(tmp_path / "missing.csv")


def test_a_quoted_line_is_read_as_csv():
    data = features('4,"1,000",77.5,1,1,1,80,1', header="roi_number,Note,Biovolume,a,b,c,summedBiovolume,d")
    assert parse_biovolumes(data, source="f.csv") == {4: 77.5}


def test_fields_after_the_needed_ones_are_not_read():
    # the last field is junk: only roi_number and Biovolume are parsed
    assert parse_biovolumes(features("1,1,2.5,1,1,1,1,not-a-number"), source="f.csv") == {1: 2.5}


@pytest.mark.parametrize(
    ("value", "reason"),
    [("NaN", "finite volume"), ("-3.5", "finite volume"), ("inf", "finite volume"), ("abc", "not a number"),
     ("", "not a number")],
)  # fmt: skip
def test_a_bad_biovolume_names_file_and_line(value, reason):
    data = features("1,1,2.0,1,1,1,1,1", f"2,1,{value},1,1,1,1,1")
    with pytest.raises(FormatError, match=reason) as e:
        parse_biovolumes(data, source="D1_features_v4.csv")
    assert (e.value.source, e.value.line) == ("D1_features_v4.csv", 3)
    assert "D1_features_v4.csv, line 3" in str(e.value)


def test_a_missing_column_is_named():
    data = features("1,2,3", header="roi_number,Area,Perimeter")
    with pytest.raises(FormatError, match="no Biovolume column") as e:
        parse_biovolumes(data, source="f.csv")
    assert e.value.line == 1
    with pytest.raises(FormatError, match="no summedBiovolume column"):
        parse_biovolumes(data, source="f.csv", column="summedBiovolume")
    with pytest.raises(FormatError, match="no ROI number column"):
        parse_biovolumes(features("1,2", header="Area,Biovolume"), source="f.csv")
    with pytest.raises(ValueError, match="Biovolume, summedBiovolume"):
        parse_biovolumes(GOOD, source="f.csv", column="Area")


def test_bad_rows():
    with pytest.raises(FormatError, match="appears twice") as e:
        parse_biovolumes(features("1,1,2,1,1,1,1,1", "1,1,2,1,1,1,1,1"), source="f.csv")
    assert e.value.line == 3
    with pytest.raises(FormatError, match="invalid ROI number"):
        parse_biovolumes(features("x,1,2,1,1,1,1,1"), source="f.csv")
    with pytest.raises(FormatError, match="fields"):
        parse_biovolumes(features("5,1"), source="f.csv")
    with pytest.raises(FormatError, match="empty file"):
        parse_biovolumes(b"", source="f.csv")
