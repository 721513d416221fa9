"""``abundance --daily-dir`` over a generated local tree: a re-run reuses a day's file only when it was
made with the same settings, covers the whole UTC day and had no errors; damaged files are counted
again with a warning; the run prints only its range; two runs on one folder leave it consistent. Also
the day-file reader (fuzzed), the manifest's spans and settings key, and the CLI's exit status."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ifcbkit.errors import FormatError
from ifcbkit.jobs.daily_output import MANIFEST_NAME, covered_span, read_day_file, settings_key
from ifcbkit.science.counting import ABUNDANCE_FIELDS
from ifcbkit.testing import Roi, write_bin

CLASSES = ("Guinardia", "Chaetoceros", "detritus")
DAYS = ("2024-03-01", "2024-03-02", "2024-03-03")
HOURS = (3, 9, 15, 21)  # two bins before noon and two after, each day


def pid_of(day: str, hour: int) -> str:
    return f"D{day.replace('-', '')}T{hour:02d}0000_IFCB010"


def write_scores(products: Path, pid: str, n: int) -> None:
    path = products / pid[:9] / f"{pid}_class_scores.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(("pid", *CLASSES))]
    seed = sum(map(ord, pid))
    for t in range(1, n + 1):
        row = ((seed + t) % 5 / 5, (seed + 2 * t) % 7 / 7, 0.3)
        lines.append(",".join((f"{pid}_{t:05d}", *map(repr, row))))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def tree(tmp_path) -> dict[str, Path]:
    """Twelve bins over three days, each with class scores."""
    root, products = tmp_path / "data", tmp_path / "products"
    for b, (day, hour) in enumerate((d, h) for d in DAYS for h in HOURS):
        n = 4 + b % 3
        timing = [{"ADCtime": 2.0 * t, "RunTime": 2.0 * t + 0.05, "InhibitTime": 0.02 * t} for t in range(1, n + 1)]
        rois = [Roi(width=4, height=3, columns=columns) for columns in timing]
        pid = pid_of(day, hour)
        write_bin(root / pid[:9], pid, rois, seed=b)
        write_scores(products, pid, n)
    return {"root": root, "products": products, "daily": tmp_path / "daily", "out": tmp_path / "out.csv"}


def ifcbkit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ifcbkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def run(tree: dict[str, Path], *extra: object, daily: bool = True) -> subprocess.CompletedProcess[str]:
    more = ["--daily-dir", tree["daily"], "--out", tree["out"]] if daily else []
    return ifcbkit("abundance", tree["root"], tree["products"], "--threshold", "0.5", "--workers", "1", *more, *extra)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def manifest(tree: dict[str, Path]) -> dict:
    return json.loads((tree["daily"] / MANIFEST_NAME).read_text())["days"]


# ----- what a re-run reuses --------------------------------------------------------------------


def test_a_half_day_file_is_not_reused_by_a_whole_day_run(tree):
    """Regression: a first run from 12:00 wrote a half-day file that a whole-day re-run reused."""
    first = run(tree, "--start", "2024-03-01T12:00", "--end", "2024-03-02")
    assert first.returncode == 0, first.stderr
    assert manifest(tree)["2024-03-01"]["complete"] is False
    assert manifest(tree)["2024-03-01"]["covered"] == ["2024-03-01T12:00:00+00:00", "2024-03-02T00:00:00+00:00"]
    half = tree["out"].read_text()
    whole = run(tree, "--start", "2024-03-01", "--end", "2024-03-02")
    assert whole.returncode == 0, whole.stderr
    assert "2024-03-01 counted again: the file covers only part of the UTC day" in whole.stderr
    direct = run(tree, "--start", "2024-03-01", "--end", "2024-03-02", daily=False)
    assert tree["out"].read_text() == direct.stdout != half
    assert manifest(tree)["2024-03-01"]["complete"] is True


def test_a_part_of_a_day_never_replaces_its_complete_file(tree):
    assert run(tree, "--start", "2024-03-01", "--end", "2024-03-02").returncode == 0
    whole = (tree["daily"] / "20240301_daily_summary_long.csv").read_bytes()
    part = run(tree, "--start", "2024-03-01T12:00", "--end", "2024-03-02")
    assert part.returncode == 0 and "the complete day in" in part.stderr
    assert "this run sees only part of the UTC day" in part.stderr
    assert (tree["daily"] / "20240301_daily_summary_long.csv").read_bytes() == whole
    direct = run(tree, "--start", "2024-03-01T12:00", "--end", "2024-03-02", daily=False)
    assert tree["out"].read_text() == direct.stdout  # the half day asked for, not the file's whole day


def test_a_day_file_made_with_another_threshold_is_not_reused(tree):
    """Regression: a re-run with another --threshold printed the first run's rows."""
    assert run(tree).returncode == 0
    other = run(tree, "--threshold", "0.9")
    assert other.returncode == 0, other.stderr
    assert "made with other settings (threshold 0.5, now 0.9)" in other.stderr
    direct = run(tree, "--threshold", "0.9", daily=False)
    assert tree["out"].read_text() == direct.stdout
    assert {r["threshold"] for r in rows(direct.stdout)} == {"0.9"}


def test_a_one_day_run_prints_only_that_day(tree):
    """Regression: a run for one day printed every day already in the folder."""
    assert run(tree).returncode == 0
    one = run(tree, "--start", "2024-03-02", "--end", "2024-03-03")
    assert one.returncode == 0, one.stderr
    assert {r["date"] for r in rows(tree["out"].read_text())} == {"2024-03-02"}
    assert "1 days reused" in one.stderr


def test_an_empty_range_fails_with_no_bins_even_with_days_in_the_folder(tree):
    """Regression: a range with no bins printed the folder's old days with exit 0."""
    assert run(tree).returncode == 0
    empty = run(tree, "--start", "2024-04-01", "--end", "2024-04-02")
    assert empty.returncode == 1
    assert "no bins in" in empty.stderr and "in that range" in empty.stderr
    assert rows(tree["out"].read_text()) == []


@pytest.mark.parametrize(
    ("damage", "where"),
    [
        (lambda data: data[: data.rindex(b"\n", 0, len(data) - 1) + 20], "line 4: the last row is cut short"),
        (lambda data: data.replace(b"date,", b"day,", 1), "line 1: no date column"),
        (lambda data: data.replace(b"Chaetoceros", "Chætoceros".encode("latin-1")), "line 3: not UTF-8"),
    ],
    ids=["cut-row", "no-date-column", "latin-1"],
)
def test_a_damaged_day_file_is_counted_again_with_a_warning_naming_it(tree, damage, where):
    """Regression: a cut row was read as data, a file without a date column ended in a traceback, and a
    Latin-1 file failed without naming it."""
    first = run(tree)
    assert first.returncode == 0, first.stderr
    everything = tree["out"].read_text()
    file = tree["daily"] / "20240302_daily_summary_long.csv"
    file.write_bytes(damage(file.read_bytes()))
    again = run(tree)
    assert again.returncode == 0, again.stderr
    assert f"ifcbkit abundance: warning: {file}, {where}" in again.stderr
    assert "2024-03-02 is counted again" in again.stderr and "Traceback" not in again.stderr
    assert tree["out"].read_text() == everything
    assert file.read_text() == "".join(line + "\n" for line in everything.splitlines()[:1]) + "".join(
        line + "\n" for line in everything.splitlines() if line.startswith("2024-03-02")
    )


def test_a_day_file_changed_behind_the_manifests_back_is_counted_again(tree):
    assert run(tree).returncode == 0
    everything = tree["out"].read_text()
    file = tree["daily"] / "20240303_daily_summary_long.csv"
    file.write_text(file.read_text().replace(",0.5,adc", ",0.6,adc", 1))  # still a well-formed file
    again = run(tree)
    assert f"{file} changed since it was written" in again.stderr
    assert tree["out"].read_text() == everything


def test_recompute_counts_every_day_again(tree):
    assert run(tree).returncode == 0
    everything = tree["out"].read_text()
    assert "3 days reused" in run(tree).stderr
    again = run(tree, "--recompute")
    assert again.returncode == 0, again.stderr
    assert "--recompute: every day in" in again.stderr and "reused" not in again.stderr
    assert tree["out"].read_text() == everything


def test_a_bin_without_class_scores_is_counted_once_it_has_them(tree):
    """Regression: a day file written while a bin had no class scores was reused after it got them."""
    late = pid_of("2024-03-02", 9)
    scores = tree["products"] / late[:9] / f"{late}_class_scores.csv"
    kept = scores.read_bytes()
    scores.unlink()
    first = run(tree)
    assert first.returncode == 0 and f"skipped {late}: no class scores" in first.stderr
    assert manifest(tree)["2024-03-02"]["no_class_scores"] == [late]
    scores.write_bytes(kept)
    again = run(tree)
    assert again.returncode == 0, again.stderr
    assert "2024-03-02 counted again" in again.stderr
    assert tree["out"].read_text() == run(tree, daily=False).stdout


def test_a_day_with_a_damaged_adc_line_is_an_error_and_not_complete(tree):
    adc = tree["root"] / "D20240301" / f"{pid_of('2024-03-01', 3)}.adc"
    adc.write_bytes(b"1,2,three\n" + adc.read_bytes())
    first = run(tree)
    assert first.returncode == 1
    assert f"{pid_of('2024-03-01', 3)}: 1 damaged ADC lines skipped" in first.stderr
    assert manifest(tree)["2024-03-01"]["complete"] is False
    again = run(tree)
    assert again.returncode == 1 and "2024-03-01 counted again: 1 bins had errors then" in again.stderr


def test_two_runs_on_one_folder_leave_it_consistent(tree):
    base = [sys.executable, "-m", "ifcbkit.cli", "abundance", tree["root"], tree["products"], "--workers", "1",
            "--daily-dir", tree["daily"]]  # fmt: skip
    runs = [
        subprocess.Popen([*map(str, base), "--threshold", threshold], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
        for threshold in ("0.5", "0.9", "0.5", "0.9")
    ]  # fmt: skip
    for process in runs:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    days = manifest(tree)
    assert sorted(days) == list(DAYS)
    for day, entry in days.items():
        data = (tree["daily"] / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        thresholds = {r["threshold"] for r in read_day_file(data, entry["file"], day)}
        assert thresholds == {str(entry["settings"]["threshold"])}  # the file was made with its entry's settings
    assert not [p for p in tree["daily"].iterdir() if p.name.endswith(".part")]
    final = run(tree)
    assert final.returncode == 0
    assert tree["out"].read_text() == run(tree, daily=False).stdout


# ----- the pieces ----------------------------------------------------------------------------------


def test_a_day_not_yet_over_is_never_whole():
    now = datetime(2024, 3, 2, 15, 30, tzinfo=timezone.utc)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    assert covered_span("2024-03-01", start, None, now) == (start, start + timedelta(days=1))
    assert covered_span("2024-03-02", start, None, now) == (start + timedelta(days=1), now)
    assert covered_span("2024-03-02", start, start + timedelta(days=5), now)[1] == now
    assert covered_span("2024-03-03", start, None, now) is None


def test_the_settings_key_changes_with_any_setting_added():
    base = {"threshold": 0.5, "source": "local"}
    assert settings_key(base) == settings_key(dict(reversed(base.items())))
    assert settings_key(base) != settings_key({**base, "carbon": "menden-deuer"})
    assert settings_key(base) != settings_key({**base, "threshold": 0.7})


@given(st.binary(max_size=600) | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
@settings(max_examples=300, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_any_bytes_give_rows_or_a_format_error(data):
    try:
        parsed = read_day_file(data, "day.csv")
    except FormatError as e:
        assert e.source == "day.csv" and e.line is not None and e.line >= 1
    else:
        assert all(len(r) == 11 and r["date"] for r in parsed)


@given(st.lists(st.sampled_from(["2024-03-01", "", "x", "3", "0.5", "IFCB10", "nan", "inf", "1e400", '"a\nb"']),
                min_size=11, max_size=11), st.integers(0, 11))  # fmt: skip
@settings(max_examples=300, deadline=timedelta(seconds=2))
def test_fuzz_rows_near_the_format_give_rows_or_a_format_error(cells, cut):
    header = ",".join(ABUNDANCE_FIELDS) + "\n"
    data = (header + ",".join(cells[:cut]) + "\n" + ",".join(cells[cut:]) + "\n").encode()
    try:
        parsed = read_day_file(data, "day.csv", "2024-03-01")
    except FormatError as e:
        assert e.source == "day.csv" and e.line is not None and e.line >= 2
    else:
        for row in parsed:
            assert row["date"] == "2024-03-01" and row["count"].isdigit() and row["threshold"] not in ("", "nan")


def test_carbon_days_are_reused_only_with_the_same_carbon_settings(tmp_path):
    """--carbon day files carry the carbon columns and read back; the convention, micron factor and
    the diatoms file's content are in the settings key, and so is each bin's features file."""
    from test_abundance_carbon import carbon_tree

    tree = carbon_tree(tmp_path)
    (tree["products"] / "D20240301" / "D20240301T140000_IFCB010_class_scores.csv").unlink()  # no error that day
    diatoms = tmp_path / "diatoms.txt"
    diatoms.write_text("Guinardia\n")
    base = ["abundance", tree["root"], tree["products"], "--carbon", "--diatoms", diatoms, "--workers", "1",
            "--daily-dir", tmp_path / "daily"]  # fmt: skip
    first = ifcbkit(*base)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0].endswith(",diatom,biovolume_mm3,carbon_ug,biovolume_mm3_per_L,carbon_ug_per_L")
    again = ifcbkit(*base)
    assert "1 days reused" in again.stderr and again.stdout == first.stdout
    other = ifcbkit(*base, "--carbon-convention", "irfcb-auto")
    assert "carbon_convention 'ifcb-analysis', now 'irfcb-auto'" in other.stderr and other.stdout != first.stdout
    diatoms.write_text("Guinardia\nChaetoceros_chain\n")
    changed = ifcbkit(*base, "--carbon-convention", "irfcb-auto")
    assert "diatoms_sha256" in changed.stderr
    features = tree["products"] / "D20240301" / "D20240301T100000_IFCB010_fea_v2.csv"
    features.write_text(features.read_text().replace(",7,", ",8,"))
    touched = ifcbkit(*base, "--carbon-convention", "irfcb-auto")
    assert "counted again: the listing differs" in touched.stderr and "features" in touched.stderr
    plain = ifcbkit("abundance", tree["root"], tree["products"], "--workers", "1", "--daily-dir", tmp_path / "daily")
    assert "carbon True, now False" in plain.stderr
    assert plain.stdout.splitlines()[0] == ",".join(ABUNDANCE_FIELDS)
