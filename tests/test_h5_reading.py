"""HDF5 files are read in a child process: a file that hangs or crashes the HDF5 library is a
FormatError within a bounded time, and no child is left behind."""

from __future__ import annotations

import io
import os
import signal
import time

import h5py
import psutil
import pytest

from ifcbkit import FormatError, h5_reading, read_class_scores
from ifcbkit.h5_reading import H5ReadFailure, read_datasets

PID = "D20240215T150055_IFCB010"
NAMES = ("output_scores", "class_labels", "roi_numbers")


def class_h5() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("class_labels", data=[b"diatom", b"ciliate"])
        f.create_dataset("roi_numbers", data=[1, 2, 3])
        f.create_dataset("output_scores", data=[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    return buffer.getvalue()


@pytest.fixture
def short_reads(monkeypatch):
    monkeypatch.setattr(h5_reading, "READ_SECONDS", 1.0)


@pytest.fixture
def no_children():
    """Checks that the reads made no child that outlived them (other tests' children aside)."""
    before = {p.pid for p in psutil.Process().children()}
    return lambda: {p.pid for p in psutil.Process().children()} <= before


def test_a_good_file_reads_in_the_child(tmp_path, no_children):
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    scores = read_class_scores(path)
    assert list(scores.class_names) == ["diatom", "ciliate"]
    assert scores.scores == {1: (0.9, 0.1), 2: (0.2, 0.8), 3: (0.5, 0.5)}
    assert no_children()


def test_a_read_that_never_ends_is_a_format_error_within_the_bound(tmp_path, monkeypatch, short_reads, no_children):
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    monkeypatch.setattr(h5_reading, "outcome", lambda source, names: time.sleep(3600))  # what HDF5 did
    started = time.monotonic()
    with pytest.raises(FormatError, match="did not finish reading it in 1 s") as caught:
        read_class_scores(path)
    assert time.monotonic() - started < 5
    assert str(path) in str(caught.value)
    assert no_children()


def test_a_child_that_dies_is_a_format_error(tmp_path, monkeypatch, no_children):
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    monkeypatch.setattr(h5_reading, "outcome", lambda source, names: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(FormatError, match="crashed"):
        read_class_scores(path)
    assert no_children()


def test_a_damaged_file_that_hangs_the_hdf5_library_is_bounded(tmp_path, short_reads, no_children):
    """One byte of the file above, changed, sends HDF5 round its global heap for ever (found by
    tests/test_fuzz.py); whatever this h5py build does with it, the answer is prompt."""
    damaged = bytearray(class_h5())
    damaged[1456] = 245
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(bytes(damaged))
    started = time.monotonic()
    try:
        read_class_scores(path)
    except FormatError as e:
        assert str(path) in str(e)
    assert time.monotonic() - started < 5
    assert no_children()


def test_missing_datasets_are_named(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("class_labels", data=[b"a"])
    with pytest.raises(H5ReadFailure) as caught:
        read_datasets(str(path), NAMES)
    assert caught.value.missing == ("output_scores", "roi_numbers")


def test_a_new_interpreter_reads_what_a_fork_reads(tmp_path):
    """Where the platform cannot fork, a new interpreter reads the file."""
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    import pickle

    forked = pickle.loads(h5_reading._in_fork(str(path), NAMES))
    fresh = pickle.loads(h5_reading._in_interpreter(str(path), NAMES))
    assert forked[0] == fresh[0] == "ok"
    assert [a.tolist() for a in forked[1]] == [a.tolist() for a in fresh[1]]
