"""The ``ifcbkit`` command line, end to end, as subprocesses on the bundled sample tree and generated files."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import pytest
from PIL import Image

from ifcbkit import SyncIfcbDataDirectory
from ifcbkit.testing import Roi, write_bin

SAMPLE_PIDS = [  # in sample-time order
    "IFCB5_2014_100_120000",
    "D20240215T150055_IFCB010",
    "D20240215T152410_IFCB010",
    "D20240216T010203_IFCB010",
    "D20240216T020000_IFCB010",
]
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "sample"
PRODUCTS = REPO / "tests" / "data" / "products"


def ifcbkit(*args, cwd=None, **options) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ifcbkit.cli", *map(str, args)]
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(command, text=True, cwd=cwd, timeout=300, **options)


def ok(*args, **options) -> str:
    result = ifcbkit(*args, **options)
    assert result.returncode == 0, result.stderr
    return result.stdout


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def day_files(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith("_daily_summary_long.csv"))


def ml_d(look_time: float) -> float:
    return 0.25 * look_time / 60


@pytest.fixture
def many_bins(tmp_path):
    """Twelve generated bins over two days."""
    root = tmp_path / "many"
    for b in range(12):
        pid = f"D2024030{1 + b // 6}T{b:02d}0000_IFCB010"
        rois = [Roi(width=3, height=2, columns={"ADCtime": 2.0 * k, "RunTime": 2.0 * k + 0.05,
                                                 "InhibitTime": 0.02 * k}) for k in range(1, 6 + b)]  # fmt: skip
        write_bin(root / "data" / pid[:9], pid, rois, seed=b)
    return root


# ----- help and usage ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["ls"], ["info"], ["extract"], ["metrics"], ["abundance"]])
def test_help_everywhere(command):
    out = ok(*command, "--help")
    assert out.startswith(f"usage: ifcbkit {' '.join(command)}".rstrip())
    assert "-h, --help" in out


def test_console_script_and_version():
    script = Path(sys.executable).with_name("ifcbkit")
    if not script.exists():
        pytest.skip("the ifcbkit console script is not installed beside this interpreter")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("ifcbkit ")


# ----- ls and info ------------------------------------------------------------------------------


def test_ls(sample_root):
    assert ok("ls", sample_root).split() == SAMPLE_PIDS
    assert ok("ls", sample_root, "--start", "2024-02-16").split() == SAMPLE_PIDS[3:5]
    assert ok("ls", sample_root, "--end", "2024-02-15T15:10:00Z", "--start", "2024-01-01").split() == SAMPLE_PIDS[1:2]
    assert ok("ls", sample_root, "--instrument", "5").split() == SAMPLE_PIDS[:1]


def test_info(sample_root):
    info = json.loads(ok("info", sample_root, "D20240215T152410_IFCB010"))
    assert info["pid"] == "D20240215T152410_IFCB010"
    assert info["paths"]["roi"].endswith("D20240215/D20240215T152410_IFCB010.roi")
    assert info["header"]["imagerID"] == 10 and info["header"]["gpsLatitude"] == 41.335
    meta = info["metadata"]
    # 30 triggers every 0.5 s (every 6th without an image), RunTime = ADCtime + 0.05, InhibitTime = 0.01 k
    assert (meta["num_triggers"], meta["num_images"], meta["instrument"]) == (30, 25, "IFCB10")
    assert meta["ml_analyzed"] == pytest.approx(ml_d(15.05 - 0.3), rel=1e-12)
    assert meta["timestamp_iso"] == "2024-02-15T15:24:10+00:00" and meta["ml_analyzed_method"] == "adc"
    empty = json.loads(ok("info", sample_root, "D20240216T020000_IFCB010", "--method", "hdr"))["metadata"]
    assert empty["ml_analyzed"] == pytest.approx(ml_d(0.62 - 0.04), rel=1e-12)
    nan = json.loads(ok("info", sample_root, "D20240216T020000_IFCB010"))["metadata"]
    assert nan["ml_analyzed"] is None and nan["concentration"] is None  # NaN is null in JSON


# ----- extract ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("pid", "stitch"), [("IFCB5_2014_100_120000", True), ("D20240215T150055_IFCB010", True),
                                             ("IFCB5_2014_100_120000", False)])  # fmt: skip
def test_extract_zip_decodes_to_the_same_pixels(sample_root, tmp_path, pid, stitch):
    out = tmp_path / "out"
    ok("extract", sample_root, pid, "--out", out, "--zip", *([] if stitch else ["--no-stitch"]))
    directory = SyncIfcbDataDirectory(sample_root)
    images = directory.read_images(pid, stitch=stitch)
    with zipfile.ZipFile(out / f"{pid}.zip") as archive:
        names = archive.namelist()
        assert names == [f"{roi_id}.png" for roi_id in directory.list_roi_ids(pid, stitch=stitch)]
        for target, name in zip(images, names):
            decoded = Image.open(io.BytesIO(archive.read(name)))
            assert decoded.format == "PNG"
            assert decoded.size == images[target].size and decoded.tobytes() == images[target].tobytes()
    assert len(names) == {("IFCB5_2014_100_120000", True): 6, ("IFCB5_2014_100_120000", False): 8,
                          ("D20240215T150055_IFCB010", True): 34}[pid, stitch]  # fmt: skip
    assert sorted(os.listdir(out)) == [f"{pid}.zip"]  # no partial file left behind


def test_extract_files_png_and_jpg(sample_root, tmp_path):
    pid = "IFCB5_2014_100_120000"
    ok("extract", sample_root, pid, "--out", tmp_path / "png")
    directory = SyncIfcbDataDirectory(sample_root)
    images = directory.read_images(pid)
    for target in images:
        with Image.open(tmp_path / "png" / f"{pid}_{target:05d}.png") as decoded:
            assert decoded.tobytes() == images[target].tobytes()
    assert len(os.listdir(tmp_path / "png")) == 6
    ok("extract", sample_root, pid, "--out", tmp_path / "jpg", "--format", "jpg")
    names = sorted(os.listdir(tmp_path / "jpg"))
    assert names == [f"{roi_id}.jpg" for roi_id in directory.list_roi_ids(pid)]
    with Image.open(tmp_path / "jpg" / names[0]) as decoded:
        assert decoded.format == "JPEG" and decoded.size == images[1].size


# ----- metrics ----------------------------------------------------------------------------------


def test_metrics_csv_on_stdout(sample_root):
    rows = csv_rows(ok("metrics", sample_root))
    assert [r["pid"] for r in rows] == SAMPLE_PIDS
    directory = SyncIfcbDataDirectory(sample_root)
    for row in rows:
        meta = directory.bin_metadata(row["pid"])
        for key, value in meta.items():
            if isinstance(value, float):  # 12 significant digits, without binary noise
                assert (row[key] == "") if math.isnan(value) else (row[key] == repr(float(f"{value:.12g}"))), key
            else:
                assert row[key] == ("" if value is None else str(value)), (row["pid"], key)
    first = rows[1]
    assert float(first["ml_analyzed"]) == pytest.approx(ml_d(20.05 - 0.4), rel=1e-12)
    assert first["look_time"] == "19.65"  # not 19.650000000000002
    assert (first["num_images"], first["lat"], first["lng"]) == ("34", "41.325", "-70.5667")
    assert rows[4]["ml_analyzed"] == "" and rows[4]["ml_analyzed_reason"] == "the ADC has no rows"


def test_readme_main_job_works_from_a_fresh_clone(tmp_path, sample_root):
    """``ifcbkit metrics tests/data/sample`` in a fresh clone gives the same CSV as on this tree."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run([git, "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    assert (clone / "tests" / "data" / "sample").is_dir()
    fresh = ok("metrics", "tests/data/sample", cwd=clone)
    assert csv_rows(fresh) == csv_rows(ok("metrics", sample_root))


def test_metrics_parallel_equals_serial_and_filters(many_bins, tmp_path):
    serial = ok("metrics", many_bins, "--workers", "1")
    assert len(csv_rows(serial)) == 12
    assert ok("metrics", many_bins, "--workers", "2") == serial
    ok("metrics", many_bins, "--out", tmp_path / "metrics.csv")
    assert (tmp_path / "metrics.csv").read_text() == serial
    day2 = csv_rows(ok("metrics", many_bins, "--start", "2024-03-02", "--method", "reference"))
    assert [r["pid"] for r in day2] == [f"D20240302T{b:02d}0000_IFCB010" for b in range(6, 12)]
    assert {r["ml_analyzed_method"] for r in day2} == {"reference"}


def test_metrics_reports_unreadable_bins_and_goes_on(many_bins):
    bad = many_bins / "data" / "D20240301" / "D20240301T000000_IFCB010.hdr"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a header\n")
    damaged = many_bins / "data" / "D20240301" / "D20240301T010000_IFCB010.adc"
    damaged.write_bytes(b"1,2,three\n" + damaged.read_bytes())
    result = ifcbkit("metrics", many_bins)
    assert result.returncode == 1  # every readable bin is in the CSV, and the run says it is not all
    assert result.stderr.endswith(
        "ifcbkit metrics: 1 bins could not be read (see the warnings)\n"
        "ifcbkit metrics: 1 bins had damaged ADC lines skipped (see the warnings)\n"
    )
    rows = csv_rows(result.stdout)
    assert len(rows) == 11  # the unreadable bin is reported; the damaged line is counted
    assert [r["skipped_lines"] for r in rows[:2]] == ["1", "0"]
    assert f"{damaged}, line 1: damaged ADC line skipped" in result.stderr
    assert "ifcbkit metrics: warning: skipped D20240301T000000_IFCB010: " in result.stderr
    assert str(bad) in result.stderr and "Traceback" not in result.stderr


def test_progress_only_on_a_terminal(many_bins):
    quiet = ifcbkit("metrics", many_bins, "--workers", "2")
    assert quiet.returncode == 0 and quiet.stderr == ""
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals here")
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "ifcbkit.cli", "metrics", str(many_bins), "--workers", "2"],
            stdout=subprocess.PIPE, stderr=slave,
        )  # fmt: skip
        os.close(slave)
        slave = -1
        stdout, _ = process.communicate(timeout=300)
        terminal = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    assert process.returncode == 0 and len(csv_rows(stdout.decode())) == 12
    assert b"metrics: 12/12 bins" in terminal


# ----- abundance --------------------------------------------------------------------------------

CLASSES = ("diatom", "ciliate", "detritus")


def write_h5(path, scores):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("class_labels", data=[c.encode() for c in CLASSES])
        f.create_dataset("roi_numbers", data=list(scores))
        f.create_dataset("output_scores", data=[list(row) for row in scores.values()])


def write_scores_csv(path, pid, scores):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(("pid", *CLASSES))]
    lines += [",".join((f"{pid}_{t:05d}", *map(repr, row))) for t, row in scores.items()]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def sample_products(tmp_path):
    products = tmp_path / "products"
    # diatom, diatom, ciliate, none (0.6 < 0.7), detritus (exactly 0.7)
    write_h5(products / "D2024" / "D20240215T150055_IFCB010_class.h5",
             {1: (0.9, 0.05, 0.05), 2: (0.8, 0.1, 0.1), 3: (0.1, 0.75, 0.15), 4: (0.6, 0.3, 0.1),
              5: (0.2, 0.1, 0.7)})  # fmt: skip
    # nothing over the threshold: the bin's volume still counts
    write_scores_csv(products / "D2024" / "D20240215T152410_IFCB010_class_scores.csv", "D20240215T152410_IFCB010",
                     {k: (0.4, 0.3, 0.3) for k in range(1, 26)})  # fmt: skip
    # the empty bin has scores (none) but no ml_analyzed
    write_scores_csv(products / "D2024" / "D20240216T020000_IFCB010_class_scores.csv", "D20240216T020000_IFCB010",
                     {})  # fmt: skip
    write_scores_csv(products / "IFCB5_2014_100_120000_class_scores.csv", "IFCB5_2014_100_120000",
                     {1: (0.05, 0.9, 0.05), 2: (0.95, 0.0, 0.05)})  # fmt: skip
    return products


def test_abundance(sample_root, sample_products, tmp_path):
    out = tmp_path / "daily.csv"
    result = ifcbkit("abundance", sample_root, sample_products, "--threshold", "0.7", "--out", out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "ifcbkit abundance: warning: skipped D20240216T010203_IFCB010: no class scores",
        "ifcbkit abundance: warning: skipped D20240216T020000_IFCB010: no ml_analyzed (the ADC has no rows)",
    ]
    rows = csv_rows(out.read_text())
    assert list(rows[0]) == ["date", "latitude", "longitude", "instrument", "class", "count", "ml_analyzed_total",
                             "objects_per_ml", "objects_per_L", "threshold", "ml_analyzed_method"]  # fmt: skip
    # I-style bin: look time 1.82 - 5 * 0.18 - 0.073 s at 5/48000*40 ml/s
    ml_i = (1.82 - 5 * 0.18 - 0.073) * 5 / 48000 * 40
    ml_day = ml_d(20.05 - 0.4) + ml_d(15.05 - 0.3)
    expected = [
        ("2014-04-10", "", "", "IFCB5", "diatom", 1, ml_i),
        ("2014-04-10", "", "", "IFCB5", "ciliate", 1, ml_i),
        ("2014-04-10", "", "", "IFCB5", "detritus", 0, ml_i),
        ("2024-02-15", 41.33, -70.5667, "IFCB10", "diatom", 2, ml_day),
        ("2024-02-15", 41.33, -70.5667, "IFCB10", "ciliate", 1, ml_day),
        ("2024-02-15", 41.33, -70.5667, "IFCB10", "detritus", 1, ml_day),
    ]
    assert len(rows) == len(expected)
    for row, (day, lat, lng, instrument, name, count, total) in zip(rows, expected):
        assert (row["date"], row["instrument"], row["class"], int(row["count"])) == (day, instrument, name, count)
        if lat == "":
            assert row["latitude"] == row["longitude"] == ""
        else:
            assert float(row["latitude"]) == pytest.approx(lat) and float(row["longitude"]) == pytest.approx(lng)
        assert float(row["ml_analyzed_total"]) == pytest.approx(total, rel=1e-12)
        assert float(row["objects_per_ml"]) == pytest.approx(count / total, rel=1e-12)
        assert float(row["objects_per_L"]) == pytest.approx(count / total * 1000, rel=1e-12)
        assert (row["threshold"], row["ml_analyzed_method"]) == ("0.7", "adc")
    # to stdout, from one class-score file
    single = sample_products / "IFCB5_2014_100_120000_class_scores.csv"
    one = ifcbkit("abundance", sample_root, single, "--instrument", "5")
    assert [r["count"] for r in csv_rows(one.stdout)] == ["1", "1", "0"]


# ----- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["ls", "{tmp}/nowhere"], 1, "ifcbkit ls: data directory {tmp}/nowhere does not exist"),
        (["metrics", "{tmp}/nowhere"], 1, "ifcbkit metrics: data directory {tmp}/nowhere does not exist"),
        (["info", "{sample}", "D20990101T000000_IFCB010"], 1, "ifcbkit info: no bin D20990101T000000_IFCB010 in"),
        (["info", "{sample}", "../../etc/passwd"], 2, "ifcbkit info: error: argument PID: not an IFCB bin id: '../../"),
        (["extract", "{sample}", "D20240215T150055_IFCB01X", "--out", "{tmp}/x"], 2, "argument PID: not a D-style"),
        (["extract", "{sample}", "D20990101T000000_IFCB010", "--out", "{tmp}/x"], 1, "ifcbkit extract: no bin"),
        (
            ["extract", "{sample}", "IFCB5_2014_100_120000", "--out", "{hdr}"],
            1,
            "ifcbkit extract: --out {hdr} is a file",
        ),
        (["info", "{sample}", "D20240215T150055_IFCB010_00003"], 1, "that is a ROI id: its bin is D20240215T150055"),
        (["ls", "{sample}", "--start", "2024-02-30"], 2, "ifcbkit ls: error: argument --start: not an ISO 8601"),
        (["metrics", "{sample}", "--end", "yesterday"], 2, "ifcbkit metrics: error: argument --end: not an ISO"),
        (["ls", "{sample}", "--instrument", "ten"], 2, "ifcbkit ls: error: argument --instrument: not an instrument"),
        (["metrics", "{sample}", "--out", "{tmp}/no/such/dir/m.csv"], 1, "ifcbkit metrics: No such file or directory"),
        (["metrics", "{sample}", "--workers", "0"], 2, "ifcbkit metrics: error: argument --workers"),
        (["abundance", "{sample}", "{tmp}/none"], 1, "ifcbkit abundance: products {tmp}/none does not exist"),
        (["abundance", "{sample}", "{sample}", "--threshold", "high"], 2, "--threshold: not a score from 0 to 1"),
        (["frobnicate"], 2, "ifcbkit: error: argument COMMAND: invalid choice"),
    ],
)
def test_bad_input_is_one_line_without_traceback(sample_root, tmp_path, args, status, message):
    hdr = sample_root / "data" / "D2024" / "D20240215" / "D20240215T150055_IFCB010.hdr"  # a file, not a directory
    fill = {"tmp": str(tmp_path), "sample": str(sample_root), "hdr": str(hdr)}
    result = ifcbkit(*(a.format(**fill) for a in args))
    assert result.returncode == status
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert message.format(**fill) in result.stderr
    assert not (tmp_path / "x").exists() or not os.listdir(tmp_path / "x")


def test_broken_pipe_is_quiet(many_bins):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        result = ifcbkit("metrics", many_bins, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == ""


def test_a_threshold_outside_0_to_1_is_refused():
    """Regression (hostile input 27): ``--threshold 1.5`` silently counted nothing."""
    for bad in ("1.5", "-0.1", "nan"):
        result = ifcbkit("abundance", SAMPLE, PRODUCTS, "--threshold", bad)
        assert result.returncode == 2 and "not a score from 0 to 1" in result.stderr and result.stdout == ""


def test_a_start_after_the_end_is_refused():
    """Regression (hostile input 28): ``--start`` later than ``--end`` silently listed nothing."""
    for command in ("ls", "metrics"):
        result = ifcbkit(command, SAMPLE, "--start", "2024-03-01", "--end", "2024-02-01")
        assert result.returncode == 2 and "--start 2024-03-01 is not before --end 2024-02-01" in result.stderr


def test_an_abundance_run_that_counts_no_bin_fails(tmp_path):
    """Regression (hostile input 29): every bin skipped exited 0 with a header-only CSV."""
    result = ifcbkit("abundance", SAMPLE, tmp_path, "--threshold", "0.7")  # a products root with no scores
    assert result.returncode == 1
    assert "no bin could be counted (5 skipped)" in result.stderr
    assert "skipped D20240215T150055_IFCB010: no class scores" in result.stderr


# ----- interruptions ----------------------------------------------------------------------------

# The CLI in a subprocess, with one step made slow (0.2 s per bin or image) so a signal lands mid-run.
SLOW_RUN = """
import sys, time
import ifcbkit.cli as cli, ifcbkit.cli.bins as bins, ifcbkit.jobs.batch as batch
def slow(function):
    def wrapper(*args):
        time.sleep(0.2)
        return function(*args)
    return wrapper
batch.metadata_job = slow(batch.metadata_job)
bins.encode_image = slow(bins.encode_image)
sys.exit(cli.main(sys.argv[1:]))
"""


def interrupt(signum: int, args: list, ready) -> subprocess.CompletedProcess:
    """Run ``ifcbkit ARGS`` slowly, send ``signum`` once ``ready()`` holds, and wait for the exit."""
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not ready() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def partial_files(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.endswith(".part")]


@pytest.mark.parametrize(
    ("signum", "status", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")]
)
def test_an_interrupted_metrics_run_leaves_no_output_and_fails(many_bins, tmp_path, signum, status, name):
    """Regression (hostile input 4): ``metrics --out`` interrupted by Ctrl-C or SIGTERM left a well-formed
    CSV with some of the rows under its final name."""
    out = tmp_path / "metrics.csv"

    def some_bins_done() -> bool:
        if not partial_files(tmp_path):
            return False
        time.sleep(0.5)  # two or three of the twelve 0.2 s bins
        return True

    result = interrupt(signum, ["metrics", many_bins, "--workers", "1", "--out", out], some_bins_done)
    assert result.returncode == status
    assert f"ifcbkit metrics: interrupted by {name} before the run finished" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and partial_files(tmp_path) == []


def test_an_interrupted_extract_leaves_only_complete_images(sample_root, tmp_path):
    """Regression (hostile input 4): ``extract`` without ``--zip`` left PNGs under final names, one of them
    truncated."""
    out = tmp_path / "images"
    pid = "D20240215T150055_IFCB010"
    written = lambda: out.is_dir() and len(os.listdir(out)) >= 3  # noqa: E731
    result = interrupt(signal.SIGTERM, ["extract", sample_root, pid, "--out", out], written)
    assert result.returncode == 143 and "interrupted by SIGTERM" in result.stderr
    names = sorted(os.listdir(out))
    assert 3 <= len(names) < 34 and partial_files(out) == []
    images = SyncIfcbDataDirectory(sample_root).read_images(pid)
    for name in names:
        with Image.open(out / name) as decoded:
            assert decoded.tobytes() == images[int(name[-9:-4])].tobytes()  # each one whole


def test_an_interrupted_zip_extract_leaves_no_zip(sample_root, tmp_path):
    started = lambda: bool(partial_files(tmp_path))  # noqa: E731
    result = interrupt(signal.SIGINT, ["extract", sample_root, "D20240215T150055_IFCB010", "--out", tmp_path, "--zip"],
                       started)  # fmt: skip
    assert result.returncode == 130
    assert os.listdir(tmp_path) == []


def test_outputs_get_the_usual_permissions(sample_root, tmp_path):
    out = tmp_path / "metrics.csv"
    ok("metrics", sample_root, "--out", out)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_abundance_exits_non_zero_when_a_bin_was_skipped_for_an_error(sample_root, sample_products, tmp_path):
    """Batch work survives bad bins: a damaged class-score file is reported, the others are counted."""
    bad = sample_products / "IFCB5_2014_100_120000_class_scores.csv"
    bad.write_text("pid,diatom\nIFCB5_2014_100_120000_00001,very high\n")
    out = tmp_path / "daily.csv"
    result = ifcbkit("abundance", sample_root, sample_products, "--threshold", "0.7", "--out", out)
    assert result.returncode == 1
    assert f"skipped IFCB5_2014_100_120000: unreadable class scores: {bad}, line 2" in result.stderr
    assert result.stderr.endswith("ifcbkit abundance: 1 bins skipped for errors (see the warnings)\n")
    assert {r["date"] for r in csv_rows(out.read_text())} == {"2024-02-15"}  # the good bins are all there


def test_abundance_daily_files_from_a_local_tree_and_a_resumed_run(sample_root, sample_products, tmp_path):
    daily, out = tmp_path / "daily", tmp_path / "all.csv"
    args = ["abundance", sample_root, sample_products, "--threshold", "0.7", "--daily-dir", daily, "--out", out]
    first = ifcbkit(*args)
    assert first.returncode == 0, first.stderr
    assert day_files(daily) == ["20140410_daily_summary_long.csv", "20240215_daily_summary_long.csv"]
    assert (daily / "ifcbkit-daily-manifest.json").is_file()
    everything = out.read_text()
    assert csv_rows((daily / "20240215_daily_summary_long.csv").read_text()) == [
        r for r in csv_rows(everything) if r["date"] == "2024-02-15"]  # fmt: skip
    (daily / "20140410_daily_summary_long.csv").unlink()
    again = ifcbkit(*args)
    assert again.returncode == 0 and "2 days reused from" in again.stderr  # 2024-02-15 and 2024-02-16 (no rows)
    assert "2014-04-10 counted again: " in again.stderr
    assert out.read_text() == everything


def test_a_tree_organised_by_cruise_fails_and_include_lists_it(tmp_path, sample_root):
    """A cruise-named tree (``ROOT/cruise1/*.hdr``) listed nothing, with exit 0 and no hint."""
    cruise = tmp_path / "cruise1"
    cruise.mkdir()
    for path in (sample_root / "data" / "D2024" / "D20240215").glob("D20240215T150055_IFCB010.*"):
        shutil.copy(path, cruise / path.name)
    silent = ifcbkit("ls", tmp_path)
    assert silent.returncode == 1 and silent.stdout == ""
    assert silent.stderr.count("\n") == 1 and "warning:" not in silent.stderr
    assert f"ifcbkit ls: no bins in {tmp_path}: the walk did not enter cruise1," in silent.stderr
    assert silent.stderr.rstrip().endswith("--include cruise1 would list them")
    assert ok("ls", tmp_path, "--include", "cruise1") == "D20240215T150055_IFCB010\n"
    rows = csv_rows(ok("metrics", tmp_path, "--include", "cruise1"))
    assert [r["pid"] for r in rows] == ["D20240215T150055_IFCB010"]
    assert ok("ls", sample_root, "--exclude", "D2024") == "IFCB5_2014_100_120000\n"


def test_info_on_a_bin_without_roi_shows_its_header_and_says_so(real_data):
    """``info`` on a bin without ``.roi`` said "no bin ... in ...", though its header and ADC are readable."""
    result = ifcbkit("info", real_data / "partial", "IFCB5_2012_028_081515")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["paths"]["roi"] is None and info["metadata"]["num_images"] == 5 and info["header"]
    roi = real_data / "partial" / "IFCB5_2012_028_081515.roi"
    assert result.stderr == (f"ifcbkit info: warning: bin IFCB5_2012_028_081515 has no .roi file ({roi} is missing; "
                             "it has its .hdr and .adc): it has no images\n")  # fmt: skip


def test_show_lists_targets_sizes_and_pairs(sample_root):
    text = ok("show", sample_root, "IFCB5_2014_100_120000")
    assert "9 triggers, 6 images, 2 stitched pairs" in text.splitlines()[1]
    assert any(line.split()[:4] == ["3", "IFCB5_2014_100_120000_00003", "91", "74"] and "shown under 2" in line
               for line in text.splitlines())  # fmt: skip
    contents = json.loads(ok("show", sample_root, "IFCB5_2014_100_120000", "--json"))
    assert contents["pairs"] == [[2, 3], [7, 8]] and contents["num_images"] == 6
    directory = SyncIfcbDataDirectory(sample_root)
    geometry = directory.list_images("IFCB5_2014_100_120000")
    assert [(t["target"], t["width"], t["height"]) for t in contents["targets"]] == [
        (t, g["width"], g["height"]) for t, g in sorted(geometry.items())]  # fmt: skip


def test_mosaic_writes_a_page_of_the_bins_images(sample_root, tmp_path):
    out = tmp_path / "page.png"
    printed = ok("mosaic", sample_root, "D20240215T150055_IFCB010", "--out", out, "--shape", "300x400", "--scale", "1")
    with Image.open(out) as page:
        assert page.size == (400, 300) and page.getextrema()[0] < 200  # images on a light background
    assert printed.startswith("11 images of D20240215T150055_IFCB010 placed in")
    small = ok("mosaic", sample_root, "D20240215T150055_IFCB010", "--out", out, "--shape", "100x100", "--scale", "1")
    assert "did not fit" in small
    bad = ifcbkit("mosaic", sample_root, "D20240215T150055_IFCB010", "--out", out, "--shape", "big")
    assert bad.returncode == 2 and "not a page size HEIGHTxWIDTH" in bad.stderr


def test_extract_pairs_writes_each_pairs_composite_and_gap_mask(sample_root, tmp_path):
    pid = "IFCB5_2014_100_120000"
    printed = ok("extract", sample_root, pid, "--out", tmp_path, "--pairs")
    assert printed.startswith(f"6 images of {pid} and 4 pictures of its stitched pairs written to")
    with ifcbkit_bin(sample_root, pid) as b:
        for a, _ in b.images.pairs:
            composite, mask = b.images.get_raw(a)
            with Image.open(tmp_path / f"{pid}_{a:05d}_composite.png") as written:
                assert written.tobytes() == composite.tobytes()
            with Image.open(tmp_path / f"{pid}_{a:05d}_mask.png") as written:
                assert written.tobytes() == mask.convert("L").tobytes()


def ifcbkit_bin(root, pid):
    import ifcbkit

    return ifcbkit.open_bin(SyncIfcbDataDirectory(root).paths(pid)["roi"])


def test_metrics_exits_1_when_it_skipped_a_damaged_adc_line(many_bins):
    """Regression: a skipped damaged ADC line (the only problem of the run) exited 0."""
    damaged = many_bins / "data" / "D20240301" / "D20240301T010000_IFCB010.adc"
    damaged.write_bytes(b"1,2,three\n" + damaged.read_bytes())
    result = ifcbkit("metrics", many_bins, "--workers", "1")
    assert result.returncode == 1
    assert "D20240301T010000_IFCB010: 1 damaged ADC lines skipped" in result.stderr
    assert result.stderr.endswith("ifcbkit metrics: 1 bins had damaged ADC lines skipped (see the warnings)\n")
    assert len(csv_rows(result.stdout)) == 12  # the bin is in the table, with skipped_lines 1


def test_an_unwritable_output_names_the_path_given(sample_root):
    """Regression: the message named the hidden temporary file beside the target."""
    result = ifcbkit("metrics", sample_root, "--out", "/proc/forbidden.csv")
    assert result.returncode == 1
    assert result.stderr.rstrip("\n").endswith(": /proc/forbidden.csv") and ".part" not in result.stderr
