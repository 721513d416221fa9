"""Hostile arguments on every subcommand end in one usage line (exit 2), never a traceback; the help
names only options that exist; every command with a data root takes --include/--exclude; a walk
that finds no bins fails naming the folders it left out; a bin missing a file gets one message in
every command; the library's own argument errors (``InvalidArgumentError``, ``ArgumentTypeError``)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import ifcbkit
from ifcbkit import SyncIfcbDataDirectory, errors
from ifcbkit.cli import build_parser, main
from ifcbkit.engine.filters import FilesetFilter
from ifcbkit.errors import ArgumentTypeError, InvalidArgumentError
from ifcbkit.jobs.parallel import parallel_map
from ifcbkit.jobs.tables import abundance_frame
from ifcbkit.science.counting import check_threshold
from ifcbkit.science.metrics import check_method, compute_ml_analyzed

REPO = Path(__file__).resolve().parents[1]
SAMPLE = str(REPO / "tests" / "data" / "sample")
PRODUCTS = str(REPO / "tests" / "data" / "products")
PID = "D20240215T150055_IFCB010"
SAMPLE_PIDS = {
    "D20240215T150055_IFCB010", "D20240215T152410_IFCB010", "D20240216T010203_IFCB010",
    "D20240216T020000_IFCB010", "IFCB5_2014_100_120000",
}  # fmt: skip
LONG = "x" * 10_000


def ifcbkit_run(*args: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ifcbkit.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


# ----- hostile values, option by option ---------------------------------------------------------

NUMBERS = ["99999999999", "-1", "nan", "inf", "-inf", "1e308", LONG, "9" * 5000]
HOSTILE = {
    "--start": ["9999-12-31T23:59:59.5", "9999-12-31T23:59:59.999999", "0001-01-01T00:00+01:00",
                "9999-12-31T23:59-01:00", "+99999-01-01", "nan", "-1", "99999999999", LONG],
    "--end": ["0001-01-01T00:00:00", "0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00", "inf", LONG],
    "--instrument": ["99999999999", "-1", "nan", "1e308", "\uff11\uff10", LONG],
    "--workers": ["0", "2.5", *NUMBERS],
    "--connections": ["0", "2.5", *NUMBERS],
    "--threshold": ["nan", "inf", "-0.1", "1.5", "1e308", LONG],
    "--micron-factor": ["nan", "inf", "0", "-1", "1e308", "1e-308", "1/0", LONG],
    "--shape": ["99999999999x9999999999", "0x10", "10x0", "-1x5", "nanxinf", "1e308x1", "10x10x10", LONG],
    "--scale": ["0", "-1", "nan", "inf", "1e308", "1000", LONG],
    "path": [LONG, "", "a/" + "y" * 300],
    "PID": [LONG, "", "../../etc/passwd", "D99999999T999999_IFCB1"],
    "name": [LONG, "", "a/b"],
    "--dashboard": [LONG, "ftp://example.org", "http://", "http://example.org:99999999", "example.org"],
    "--dataset": [LONG, "", "a/b", "x\ty"],
    "--model": [LONG, "a/b", "x\ny"],
    "--scheduler": [LONG, ""],
}  # fmt: skip

OUT = "{tmp}/out"
DASHBOARD = ["abundance", "--dashboard", "http://127.0.0.1:9", "--dataset", "d"]
# (command line with every argument valid, {option or positional: kind of value})
COMMANDS: list[tuple[list[str], dict[str, str]]] = [
    (["ls", SAMPLE], {"ROOT": "path", "--start": "--start", "--end": "--end", "--instrument": "--instrument",
                      "--include": "name", "--exclude": "name"}),
    (["info", SAMPLE, PID], {"ROOT": "path", "PID": "PID", "--include": "name", "--exclude": "name"}),
    (["show", SAMPLE, PID], {"ROOT": "path", "PID": "PID", "--include": "name", "--exclude": "name"}),
    (["extract", SAMPLE, PID, "--out", OUT], {"ROOT": "path", "PID": "PID", "--out": "path", "--include": "name"}),
    (["mosaic", SAMPLE, PID, "--out", OUT], {"ROOT": "path", "PID": "PID", "--out": "path", "--shape": "--shape",
                                             "--scale": "--scale", "--exclude": "name"}),
    (["metrics", SAMPLE], {"ROOT": "path", "--start": "--start", "--end": "--end", "--instrument": "--instrument",
                           "--workers": "--workers", "--out": "path", "--scheduler": "--scheduler",
                           "--include": "name"}),
    (["abundance", SAMPLE, PRODUCTS], {"ROOT": "path", "PRODUCTS": "path", "--threshold": "--threshold",
                                       "--workers": "--workers", "--out": "path", "--daily-dir": "path",
                                       "--plot": "path", "--thresholds": "path", "--start": "--start",
                                       "--end": "--end", "--instrument": "--instrument", "--exclude": "name"}),
    (["abundance", SAMPLE, PRODUCTS, "--carbon"], {"--micron-factor": "--micron-factor", "--diatoms": "path"}),
    (DASHBOARD, {"--dashboard": "--dashboard", "--dataset": "--dataset", "--model": "--model",
                 "--connections": "--connections"}),
    (["carbon", SAMPLE, PRODUCTS, PID], {"ROOT": "path", "PRODUCTS": "path", "PID": "PID", "--out": "path",
                                         "--threshold": "--threshold", "--micron-factor": "--micron-factor",
                                         "--include": "name"}),
]  # fmt: skip
POSITIONS = {"ROOT": 1, "PRODUCTS": 2, "PID": 2}


def _cases() -> list[object]:
    cases = []
    for base, options in COMMANDS:
        for option, kind in options.items():
            for n, value in enumerate(HOSTILE[kind]):
                argv = list(base)
                if option in POSITIONS:
                    position = 3 if option == "PID" and base[0] == "carbon" else POSITIONS[option]
                    argv[position] = value
                elif option in argv:
                    argv[argv.index(option) + 1] = value
                else:
                    argv += [option, value]
                cases.append(pytest.param(argv, id=f"{' '.join(base[:1])}-{option}-{n}"))
    return cases


@pytest.mark.parametrize("argv", _cases())
def test_every_hostile_argument_is_one_usage_line(argv, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert err.startswith(f"ifcbkit {argv[0]}: error: ") and err.count("\n") == 1, err
    assert len(err) < 400 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["ls", SAMPLE, "--start", "9999-12-31T23:59:59.5"],
        ["ls", SAMPLE, "--start", "0001-01-01T00:00+01:00"],
        ["metrics", SAMPLE, "--end", "0001-01-01T00:00+01:00"],
        ["mosaic", SAMPLE, PID, "--out", "{tmp}/page.png", "--scale", "1e308"],
        ["mosaic", SAMPLE, PID, "--out", "{tmp}/page.png", "--shape", "99999999999x9999999999"],
        ["metrics", SAMPLE, "--workers", "99999999999"],
        ["ls", SAMPLE, "--instrument", "99999999999999999999999"],
        ["abundance", SAMPLE, PRODUCTS, "--carbon", "--micron-factor", "1e-308"],
    ],
)
def test_the_reported_tracebacks_are_usage_lines_end_to_end(args, tmp_path):
    """The cases found by hand: OverflowError, MemoryError or a run with absurd numbers before."""
    result = ifcbkit_run(*(a.format(tmp=tmp_path) for a in args))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"ifcbkit {args[0]}: error: argument ") and result.stderr.count("\n") == 1
    assert result.stdout == "" and not (tmp_path / "page.png").exists()


def test_the_ends_of_the_calendar_are_valid_bounds():
    """An end a microsecond before year 10000 lists every bin (it overflowed rounding up to a second)."""
    assert set(ifcbkit_run("ls", SAMPLE, "--end", "9999-12-31T23:59:59.999999").stdout.split()) == SAMPLE_PIDS
    assert set(ifcbkit_run("ls", SAMPLE, "--start", "0001-01-01T00:00:00Z").stdout.split()) == SAMPLE_PIDS


# ----- the same in the API ----------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00",
                                  datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))])  # fmt: skip
def test_a_time_off_the_utc_calendar_is_an_invalid_argument(when):
    directory = SyncIfcbDataDirectory(SAMPLE)
    for argument in ("start_time", "end_time"):
        with pytest.raises(InvalidArgumentError) as caught:
            list(directory.list(**{argument: when}))
        assert caught.value.argument == argument and "outside years 1 to 9999 in UTC" in str(caught.value)
        with pytest.raises(InvalidArgumentError):
            FilesetFilter(**{argument: when})


def test_times_at_the_end_of_the_calendar_list_what_they_say():
    directory = SyncIfcbDataDirectory(SAMPLE)
    assert {f["pid"] for f in directory.list(end_time="9999-12-31T23:59:59.999999")} == SAMPLE_PIDS
    assert list(directory.list(start_time="9999-12-31T23:59:59.5")) == []
    assert list(directory.list(start_time=datetime.max)) == []


def test_api_arguments_raise_the_librarys_errors():
    assert ifcbkit.InvalidArgumentError is errors.InvalidArgumentError and "InvalidArgumentError" in ifcbkit.__all__
    assert ifcbkit.ArgumentTypeError is errors.ArgumentTypeError and "ArgumentTypeError" in ifcbkit.__all__
    for workers, error in ((0, InvalidArgumentError), (10**11, InvalidArgumentError), ("2", ArgumentTypeError),
                           (True, ArgumentTypeError), (2.0, ArgumentTypeError)):  # fmt: skip
        with pytest.raises(error) as caught:
            list(parallel_map(abs, [1, 2], workers=workers))  # type: ignore[arg-type]
        assert caught.value.argument == "workers" and "workers" in str(caught.value)
    with pytest.raises(InvalidArgumentError) as caught:
        list(parallel_map(abs, [1, 2], workers=2, pool="cluster"))  # type: ignore[arg-type]
    assert caught.value.argument == "pool"
    for call, argument in (
        (lambda: check_threshold(1.5), "threshold"),
        (lambda: check_threshold(float("nan")), "threshold"),
        (lambda: check_method("volume"), "method"),
        (lambda: abundance_frame([], value="per_gallon"), "value"),
    ):
        with pytest.raises(InvalidArgumentError) as caught:
            call()
        assert isinstance(caught.value, ValueError) and caught.value.argument == argument
    with pytest.raises(ArgumentTypeError) as typed:
        compute_ml_analyzed(PID, 5, None)  # type: ignore[arg-type]
    assert isinstance(typed.value, TypeError) and typed.value.argument == "hdr"
    with pytest.raises(ArgumentTypeError) as typed:
        compute_ml_analyzed(PID, {}, None, method="adc")
    assert typed.value.argument == "adc"


# ----- the help -----------------------------------------------------------------------------------


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_a_help_mentions_exists():
    """``info --help`` and ``metrics --help`` spoke of a --dashboard they do not take."""
    commands = _subcommands()
    assert {"ls", "info", "show", "extract", "mosaic", "metrics", "abundance", "carbon"} <= set(commands)
    for name, parser in commands.items():
        options = {option for action in parser._actions for option in action.option_strings}
        mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", parser.format_help()))
        assert mentioned - options == set(), f"ifcbkit {name} --help mentions options it does not take"


def test_every_command_with_a_data_root_takes_include_and_exclude():
    for name, parser in _subcommands().items():
        if any(action.dest == "root" for action in parser._actions):
            options = {option for action in parser._actions for option in action.option_strings}
            assert {"--include", "--exclude"} <= options, name
            assert "glob pattern" in parser.format_help()


def test_include_and_exclude_reach_every_command(tmp_path):
    """``info``, ``show``, ``mosaic`` and ``extract`` had no --include: a cruise tree's bin was not found."""
    cruise = tmp_path / "root" / "EN627_leg1"
    cruise.mkdir(parents=True)
    for path in Path(SAMPLE, "data", "D2024", "D20240215").glob(f"{PID}.*"):
        shutil.copy(path, cruise / path.name)
    root = tmp_path / "root"
    assert ifcbkit_run("info", root, PID).returncode == 1
    runs = {
        "info": ["info", root, PID], "show": ["show", root, PID],
        "mosaic": ["mosaic", root, PID, "--out", tmp_path / "page.png"],
        "extract": ["extract", root, PID, "--out", tmp_path / "images", "--zip"],
    }  # fmt: skip
    for name, args in runs.items():
        result = ifcbkit_run(*args, "--include", "EN627_leg1")
        assert result.returncode == 0, (name, result.stderr)
    assert (tmp_path / "page.png").stat().st_size > 0 and (tmp_path / "images" / f"{PID}.zip").is_file()
    excluded = ifcbkit_run("show", SAMPLE, PID, "--exclude", "D20240215")
    assert excluded.returncode == 1 and f"no bin {PID} in" in excluded.stderr


# ----- a walk that finds nothing ------------------------------------------------------------------


@pytest.fixture
def cruise_tree(tmp_path: Path) -> Path:
    """Bins under ``EN627_leg1``, ``EN627_leg2`` and ``cruises/AR61`` (none where the walk goes)."""
    root = tmp_path / "cruise"
    days = Path(SAMPLE, "data", "D2024")
    for folder, pid in (("EN627_leg1", PID), ("EN627_leg2", "D20240215T152410_IFCB010"),
                        ("cruises/AR61", "D20240216T010203_IFCB010")):  # fmt: skip
        (root / folder).mkdir(parents=True)
        for path in (days / pid[:9]).glob(f"{pid}.*"):
            shutil.copy(path, root / folder / path.name)
    return root


@pytest.mark.parametrize("command", [["ls"], ["metrics"], ["abundance", "{root}", PRODUCTS]])
def test_a_walk_that_finds_no_bins_fails_naming_the_folders_it_left_out(cruise_tree, command):
    """``metrics`` on a cruise tree wrote a header and no rows with exit 0; the hint was in a warning."""
    args = [a.format(root=cruise_tree) for a in command] if len(command) > 1 else [*command, cruise_tree]
    result = ifcbkit_run(*args)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "warning" not in result.stderr
    line = result.stderr.rstrip("\n")
    assert line.startswith(f"ifcbkit {command[0]}: no bins in {cruise_tree}: the walk did not enter ")
    for folder in ("EN627_leg1", "EN627_leg2", "cruises/AR61"):
        assert folder in line
    flags = re.search(r"; ((?:--include \S+ ?)+) would list them$", line)
    assert flags is not None, line
    listed = ifcbkit_run("ls", cruise_tree, *flags[1].split())  # the advice, followed, lists every bin
    assert listed.returncode == 0 and len(listed.stdout.split()) == 3


def test_a_range_without_bins_fails(tmp_path):
    result = ifcbkit_run("metrics", SAMPLE, "--start", "2030-01-01")
    assert result.returncode == 1
    assert result.stderr.startswith(f"ifcbkit metrics: no bins in {SAMPLE} in that range")
    assert ifcbkit_run("ls", SAMPLE, "--instrument", "77").stderr.startswith(
        f"ifcbkit ls: no bins in {SAMPLE} for that instrument"
    )


# ----- a bin missing a file -----------------------------------------------------------------------


def test_a_bin_missing_a_file_gets_one_message_in_every_command(tmp_path):
    """``extract`` and ``mosaic`` said "no bin ... in ROOT" for a bin without .roi; ``info`` and ``show``
    each said it their own way."""
    root = tmp_path / "root"
    folder = root / "data" / "D20240215"
    folder.mkdir(parents=True)
    day = Path(SAMPLE, "data", "D2024", "D20240215")
    no_adc = "D20240215T152410_IFCB010"
    for ext in ("hdr", "adc"):
        shutil.copy(day / f"{PID}.{ext}", folder / f"{PID}.{ext}")
    for ext in ("hdr", "roi"):
        shutil.copy(day / f"{no_adc}.{ext}", folder / f"{no_adc}.{ext}")
    messages = {
        PID: f"bin {PID} has no .roi file ({folder / PID}.roi is missing; it has its .hdr and .adc): it has no images",
        no_adc: f"bin {no_adc} has no .adc file ({folder / no_adc}.adc is missing; it has its .hdr and .roi): it has "
        "no targets and no images",
    }  # fmt: skip
    for pid, message in messages.items():
        for command in ("info", "show"):
            result = ifcbkit_run(command, root, pid)
            assert result.returncode == 0, result.stderr
            assert result.stderr == f"ifcbkit {command}: warning: {message}\n"
            assert pid in result.stdout
        for command in ("extract", "mosaic"):
            result = ifcbkit_run(command, root, pid, "--out", tmp_path / "out")
            assert result.returncode == 1 and result.stderr == f"ifcbkit {command}: {message}\n"
            assert not (tmp_path / "out").exists()
    info = ifcbkit_run("info", root, no_adc).stdout
    assert '"metadata": null' in info and '"imagerID": 10' in info  # the header, from the .hdr alone
    assert "no ADC: targets unknown" in ifcbkit_run("show", root, no_adc).stdout


def test_dask_arguments_raise_the_librarys_errors():
    on_dask = pytest.importorskip("ifcbkit.dask")
    with pytest.raises(InvalidArgumentError) as caught:
        on_dask.bins_bag([PID], partition_size=0)
    assert caught.value.argument == "partition_size"
    with pytest.raises(ArgumentTypeError) as typed:
        on_dask.as_source(42)
    assert typed.value.argument == "source" and isinstance(typed.value, TypeError)
