"""HDF5 files are read in a child process: a file that hangs or crashes the HDF5 library is a
FormatError within a bounded time, and no child is left behind. Whatever the host does (many open
descriptors, SIGCHLD ignored, SIGTERM mid-read), a read either answers or fails promptly, and the
worker that reads is killed and reaped on every way out."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import h5py
import psutil
import pytest

import ifcbkit
from ifcbkit import FormatError, read_class_scores
from ifcbkit.formats import h5 as h5_reading
from ifcbkit.formats.h5 import H5ReadFailure, read_datasets

PID = "D20240215T150055_IFCB010"
NAMES = ("output_scores", "class_labels", "roi_numbers")


def class_h5() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("class_labels", data=[b"diatom", b"ciliate"])
        f.create_dataset("roi_numbers", data=[1, 2, 3])
        f.create_dataset("output_scores", data=[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _no_workers_yet():
    """Each test starts with no worker: those of other tests would be counted as this one's."""
    h5_reading.stop_workers()


@pytest.fixture
def short_reads(monkeypatch):
    monkeypatch.setattr(h5_reading, "READ_SECONDS", 1.0)


@pytest.fixture
def no_children():
    """Checks that the reads left no child but idle workers (other tests' children aside)."""
    before = {p.pid for p in psutil.Process().children()}
    return lambda: {p.pid for p in psutil.Process().children()} - before <= idle_workers()


def idle_workers() -> set[int]:
    return {worker.pid for worker in h5_reading._idle}


def gone(pid: int, within: float = 3.0) -> bool:
    """Whether process ``pid`` ends (or is a zombie left to a parent other than this one) by then."""
    deadline = time.monotonic() + within
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


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


def test_a_new_interpreter_reads_what_a_worker_reads(tmp_path):
    """Where the platform cannot fork, a new interpreter reads the file."""
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    forked = h5_reading._in_worker(str(path), NAMES)
    fresh = h5_reading._in_interpreter(str(path), NAMES)
    assert forked[0] == fresh[0] == "ok"
    assert [a.tolist() for a in forked[1]] == [a.tolist() for a in fresh[1]]


# ----- one worker for many files -------------------------------------------------------------


def test_one_worker_reads_file_after_file(tmp_path, no_children):
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    read_class_scores(path)
    (worker,) = idle_workers()
    for _ in range(3):
        assert read_class_scores(path).scores[2] == (0.2, 0.8)
    assert idle_workers() == {worker}
    assert no_children()


def test_a_hung_worker_is_killed_and_the_next_read_has_a_new_one(tmp_path, monkeypatch, short_reads, no_children):
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    with monkeypatch.context() as patch:
        patch.setattr(h5_reading, "outcome", lambda source, names: time.sleep(3600))
        with pytest.raises(FormatError, match="did not finish"):
            read_class_scores(path)
        assert h5_reading._live == {} and h5_reading._unreaped == []  # killed and reaped
    assert read_class_scores(path).scores[1] == (0.9, 0.1)
    assert len(idle_workers()) == 1
    assert no_children()


def test_a_worker_is_not_trusted_after_an_error(tmp_path, no_children):
    """An HDF5 error means the library went down a damaged file's paths: the next file gets a new child."""
    good = tmp_path / f"{PID}_class.h5"
    good.write_bytes(class_h5())
    damaged = tmp_path / "x_class.h5"
    damaged.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    read_class_scores(good)
    before = idle_workers()
    with pytest.raises(FormatError, match="not a readable v3 class scores file"):
        read_class_scores(damaged)
    assert idle_workers() == set() and h5_reading._live == {}
    assert read_class_scores(good).scores[1] == (0.9, 0.1)
    assert idle_workers().isdisjoint(before)
    assert no_children()


def test_a_worker_idle_too_long_leaves_and_is_replaced(tmp_path, monkeypatch, no_children):
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    monkeypatch.setattr(h5_reading, "IDLE_SECONDS", 0.3)
    read_class_scores(path)
    (first,) = idle_workers()
    assert gone(first)  # it left by itself, a zombie until the next read reaps it
    assert read_class_scores(path).scores[3] == (0.5, 0.5)
    assert first not in idle_workers() and not psutil.pid_exists(first)
    assert no_children()


def test_threads_reading_at_once_each_get_a_worker(tmp_path, no_children):
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    results: list[dict] = []

    def read() -> None:
        for _ in range(3):
            results.append(read_class_scores(path).scores)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 18 and all(scores[2] == (0.2, 0.8) for scores in results)
    assert len(idle_workers()) <= h5_reading._MAX_IDLE
    assert no_children()


def test_a_forked_process_reads_with_workers_of_its_own(tmp_path, no_children):
    """A process forked from this one (a fork process pool) must not talk to this one's workers."""
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    read_class_scores(path)
    (mine,) = idle_workers()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: read twice, say with which workers, and leave
        try:
            os.close(read_end)
            answers = [sorted(read_class_scores(path).scores) for _ in range(2)]
            with os.fdopen(write_end, "w") as out:
                json.dump({"answers": answers, "workers": sorted(idle_workers())}, out)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        report = json.load(answer)
    os.waitpid(pid, 0)
    assert report["answers"] == [[1, 2, 3], [1, 2, 3]]
    assert mine not in report["workers"] and len(report["workers"]) == 1
    assert read_class_scores(path).scores[2] == (0.2, 0.8)
    assert idle_workers() == {mine}
    assert no_children()


# ----- odd hosts: each case in a process of its own ------------------------------------------

SOURCE_ROOT = str(Path(ifcbkit.__file__).resolve().parents[1])


def python_env() -> dict[str, str]:
    """The environment for a child interpreter that imports this ifcbkit."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [SOURCE_ROOT, os.environ.get("PYTHONPATH")])))


def run_python(script: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", textwrap.dedent(script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=python_env())


def test_a_good_file_reads_with_more_than_1024_descriptors_open(tmp_path):
    """A busy web backend has thousands of sockets open: the wait for the child cannot use select()."""
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    done = run_python(
        """
        import os, resource, sys
        from ifcbkit import read_class_scores
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
        if wanted < 1200:
            print("skip"); sys.exit()
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
        assert max(held) > 1024
        print(sorted(read_class_scores(sys.argv[1]).scores.items()))
        """,
        str(path),
    )
    if done.stdout.strip() == "skip":
        pytest.skip("the hard limit on open files is under 1200")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[(1, (0.9, 0.1)), (2, (0.2, 0.8)), (3, (0.5, 0.5))]"


def test_with_sigchld_ignored_reads_crashes_and_hangs_are_told_apart(tmp_path):
    """Under SIGCHLD ignored the system reaps children itself (waitpid says ECHILD): a good file
    still reads, and a crash and a hang are still FormatErrors saying which."""
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    done = run_python(
        """
        import json, os, signal, sys, time
        from ifcbkit import FormatError, read_class_scores
        from ifcbkit.formats import h5 as h5_reading
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        h5_reading.READ_SECONDS = 1.0
        def attempt():
            try:
                return sorted(read_class_scores(sys.argv[1]).scores)
            except FormatError as e:
                return str(e)
        answers = [attempt()]
        h5_reading.outcome = lambda source, names: os.kill(os.getpid(), signal.SIGKILL)
        answers.append(attempt())
        h5_reading.outcome = lambda source, names: time.sleep(3600)
        answers.append(attempt())
        print(json.dumps(answers))
        """,
        str(path),
    )
    assert done.returncode == 0, done.stderr
    good, crashed, hung = json.loads(done.stdout)
    assert good == [1, 2, 3]
    assert "crashed" in crashed and str(path) in crashed
    assert "did not finish reading it in 1 s" in hung and str(path) in hung


def test_workers_end_with_the_process(tmp_path):
    """An idle worker is killed at exit. One whose parent was killed leaves by itself: an idle one
    at the end of file on its requests, a hung one by its own alarm, a little after its read's bound."""
    path = tmp_path / f"{PID}_class.h5"
    path.write_bytes(class_h5())
    exits = run_python(
        """
        import sys
        from ifcbkit import read_class_scores
        from ifcbkit.formats import h5 as h5_reading
        read_class_scores(sys.argv[1])
        print(*[worker.pid for worker in h5_reading._idle])
        """,
        str(path),
    )
    assert exits.returncode == 0, exits.stderr
    (worker,) = map(int, exits.stdout.split())
    assert gone(worker, within=0)

    hanging = tmp_path / "hanging" / f"{PID}_class.h5"
    hanging.parent.mkdir()
    os.mkfifo(hanging)  # opening it blocks the reader for ever, as a hung HDF5 library would
    script = """
        import sys, threading, time
        from ifcbkit import FormatError, read_class_scores
        from ifcbkit.formats import h5 as h5_reading
        h5_reading.READ_SECONDS, h5_reading._SELF_DESTRUCT_GRACE = 2.0, 0.5
        def hang():
            try:
                read_class_scores(sys.argv[2])
            except FormatError:
                pass
        threading.Thread(target=hang, daemon=True).start()
        while not h5_reading._live:
            time.sleep(0.01)
        (hung,) = h5_reading._live
        read_class_scores(sys.argv[1])
        print(hung, *[worker.pid for worker in h5_reading._idle], flush=True)
        time.sleep(3600)
        """
    killed = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(path), str(hanging)],
        stdout=subprocess.PIPE, text=True, env=python_env(),
    )  # fmt: skip
    try:
        hung, idle = map(int, killed.stdout.readline().split())
        assert not gone(idle, within=0) and not gone(hung, within=0)
    finally:
        killed.kill()
        killed.wait()
        killed.stdout.close()
    assert gone(idle)
    assert gone(hung, within=5)


def test_sigterm_during_a_hung_read_ends_the_cli_with_143_and_kills_the_reader(tmp_path, sample_root):
    """A named pipe as the class-score file: opening it blocks the reader for ever, as a hung HDF5
    library would. SIGTERM ends the run within seconds, and the reader with it."""
    scores = tmp_path / f"{PID}_class.h5"
    os.mkfifo(scores)
    command = [sys.executable, "-m", "ifcbkit.cli", "abundance", str(sample_root), str(scores), "--workers", "1"]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=python_env())
    readers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 10
        while not readers and time.monotonic() < deadline:
            readers = psutil.Process(cli.pid).children()
            time.sleep(0.02)
        assert len(readers) == 1, "no reader started"
        time.sleep(0.2)  # the reader is in its read, the CLI in its wait
        assert cli.poll() is None
        cli.send_signal(signal.SIGTERM)
        _, stderr = cli.communicate(timeout=5)
    finally:  # whatever happened, nothing of this test is left running
        for reader in readers:
            with contextlib.suppress(psutil.NoSuchProcess):
                reader.kill()
        cli.kill()
        cli.communicate()
    assert cli.returncode == 143, stderr
    assert "interrupted by SIGTERM" in stderr
    assert gone(readers[0].pid, within=0)


def test_sigterm_during_a_hung_read_in_a_process_pool_ends_the_cli_within_seconds(tmp_path, sample_root):
    """The same hung read in a pool process (``--workers 2``): the run does not wait for the pool's
    hung job (up to the read's 30 s limit) but stops it, and no process of the run is left."""
    scores = tmp_path / f"{PID}_class.h5"
    os.mkfifo(scores)
    command = [sys.executable, "-m", "ifcbkit.cli", "abundance", str(sample_root), str(scores), "--workers", "2"]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=python_env())
    family: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 20
        readers: list[psutil.Process] = []
        while not readers and time.monotonic() < deadline:
            family = psutil.Process(cli.pid).children(recursive=True)
            readers = [p for p in family if p.ppid() != cli.pid]  # a pool process's own child
            time.sleep(0.02)
        assert readers, "no reader started in the pool"
        time.sleep(0.3)
        assert cli.poll() is None
        family = psutil.Process(cli.pid).children(recursive=True)
        cli.send_signal(signal.SIGTERM)
        cli.wait(timeout=8)  # the run ends (its pipes may stay open a moment longer, held by a pool process)
        left = [p for p in family if not gone(p.pid, within=10)]
        described = []
        for p in left:
            with contextlib.suppress(psutil.Error):
                described.append((p.pid, p.ppid(), " ".join(p.cmdline())[:80]))
    finally:
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        cli.kill()
        _, stderr = cli.communicate()
    assert cli.returncode == 143, stderr
    assert "interrupted by SIGTERM" in stderr
    assert not left, described
