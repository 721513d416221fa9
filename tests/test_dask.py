"""Metrics, abundance and image extraction on a real Dask cluster: a ``distributed.LocalCluster``
with two worker processes on 127.0.0.1, started and closed by the tests. Every result equals the
serial run's, from local trees and from S3 (moto), and survives a worker killed mid-run."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import distributed
import h5py
import psutil
import pytest
from PIL import Image

import ifcbkit.dask as on_dask
from ifcbkit import SyncIfcbDataDirectory, daily_abundance
from ifcbkit.errors import IfcbError
from ifcbkit.jobs.batch import iter_bin_metadata
from ifcbkit.stores.dashboard import DashboardBinStore
from ifcbkit.stores.s3 import S3BinStore, S3RoiStore
from ifcbkit.testing import Roi, write_bin
from servers import ACCESS_KEY, REGION, SECRET_KEY, DashboardBehaviour, DashboardServer, temporary_directory

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "sample"
PRODUCTS = REPO / "tests" / "data" / "products"
CLASSES = ("diatom", "ciliate", "detritus")
N_GENERATED = 300  # bins over ten days


def start_cluster(**options: Any) -> distributed.LocalCluster:
    # the workers get S3 credentials from their environment, as on a real cluster (never from the graph)
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION}
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
        env=env, **options,
    )  # fmt: skip


def children() -> set[int]:
    """This process's descendants, without multiprocessing's own helpers (its resource tracker and
    fork server live as long as the interpreter, whoever started them)."""
    out = set()
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if not any("resource_tracker" in part or "forkserver" in part for part in process.cmdline()):
                out.add(process.pid)
    return out


def wait_for_no_new_children(before: set[int]) -> set[int]:
    deadline = time.monotonic() + 30
    while children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    return children() - before


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    before = children()
    with start_cluster() as c:
        yield c
    assert wait_for_no_new_children(before) == set()  # every worker and nanny process is gone


@pytest.fixture
def client(cluster) -> Iterator[distributed.Client]:
    with distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def generated() -> Iterator[Path]:
    """A tree of 300 generated bins over ten days, with class scores for all but every seventh."""
    with temporary_directory() as root:
        for b in range(N_GENERATED):
            day, k = divmod(b, N_GENERATED // 10)
            pid = f"D202403{1 + day:02d}T{k // 4:02d}{k % 4 * 15:02d}00_IFCB010"
            timing = [
                {"ADCtime": 2.0 * j, "RunTime": 2.0 * j + 0.05, "InhibitTime": 0.02 * j} for j in range(1, 4 + b % 6)
            ]
            rois = [Roi(width=3 + b % 5, height=2, columns=columns) for columns in timing]
            write_bin(root / "data" / pid[:9], pid, rois, seed=b)
            if b % 7:
                path = root / "products" / f"{pid}_class.h5"
                path.parent.mkdir(exist_ok=True)
                with h5py.File(path, "w") as f:
                    f.create_dataset("class_labels", data=[c.encode() for c in CLASSES])
                    f.create_dataset("roi_numbers", data=list(range(1, 4 + b % 6)))
                    f.create_dataset("output_scores", data=[[(b + j) % 3 / 2, 0.5, 0.25] for j in range(1, 4 + b % 6)])
        yield root


def plain(value: Any) -> Any:
    """NaN as a string, so that rows compare after a round trip through a pickle."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value) if not hasattr(value, "_fields") else value._make(map(plain, value))
    return "nan" if isinstance(value, float) and math.isnan(value) else value


# ----- the same results as a serial run -------------------------------------------------------


@pytest.mark.parametrize("tree", ["sample", "real", "generated"])
def test_metrics_on_the_cluster_equal_the_serial_run(client, tree, real_data, generated):
    root = {"sample": SAMPLE, "real": real_data / "data", "generated": generated / "data"}[tree]
    serial = list(iter_bin_metadata(root, workers=1))
    result = on_dask.metrics(root, scheduler=client)
    assert plain(result.rows) == plain(serial) and result.failures == []
    assert len(result.rows) == {"sample": 5, "real": 2, "generated": N_GENERATED}[tree]
    by_ten = on_dask.metrics(root, method="reference", partition_size=10, scheduler=client)
    assert plain(by_ten.rows) == plain(list(iter_bin_metadata(root, method="reference", workers=1)))


@pytest.mark.parametrize("tree", ["sample", "generated"])
def test_abundance_on_the_cluster_equals_the_serial_run(client, tree, generated):
    root, products = (SAMPLE, PRODUCTS) if tree == "sample" else (generated / "data", generated / "products")
    serial = daily_abundance(root, products, threshold=0.5, workers=1)
    result = on_dask.daily_abundance(root, products, threshold=0.5, scheduler=client)
    assert plain(result) == plain(serial)
    assert result.rows and result.skipped
    filtered = on_dask.daily_abundance(root, products, threshold=0.5, start_time="2024-03-03", scheduler=client)
    assert plain(filtered) == plain(daily_abundance(root, products, threshold=0.5, start_time="2024-03-03", workers=1))


def test_metrics_dataframe_has_the_metrics_columns_and_dtypes(client, generated):
    frame = on_dask.metadata_dataframe(generated / "data", partition_size=30)
    assert frame.npartitions == 10
    parts = [part.compute() for part in frame.to_delayed()]
    assert all(part.dtypes.to_dict() == frame.dtypes.to_dict() for part in parts)  # the same in every partition
    assert list(frame.columns) == list(on_dask.METADATA_DTYPES)
    table = frame.compute()
    serial = list(iter_bin_metadata(generated / "data", workers=1))
    assert list(table["pid"]) == [r["pid"] for r in serial]
    assert list(table["ml_analyzed"]) == [r["ml_analyzed"] for r in serial]
    assert list(table["num_images"]) == [r["num_images"] for r in serial]
    assert str(table["num_images"].dtype) == "int64" and str(table["lat"].dtype) == "float64"


def test_bins_are_partitioned_by_whole_days():
    days = [[f"D202403{d:02d}T{k // 60:02d}{k % 60:02d}00_IFCB010" for k in range(n)] for d, n in
            ((1, 300), (2, 150), (3, 60), (4, 700), (5, 20))]  # fmt: skip
    pids = [pid for day in days for pid in day]
    bag = on_dask.bins_bag(pids)
    parts = [part.compute() for part in bag.to_delayed()]
    assert on_dask.MIN_PARTITION_BINS == 500
    assert parts == [days[0] + days[1] + days[2], days[3], days[4]]  # days joined up to 500 bins, never split
    assert [len(p.compute()) for p in on_dask.bins_bag(pids, partition_size=400).to_delayed()] == [400, 400, 400, 30]
    assert on_dask.bins_bag([]).compute() == []
    with pytest.raises(ValueError, match="partition_size must be a positive number of bins"):
        on_dask.bins_bag(pids, partition_size=0)


def test_a_bin_that_cannot_be_read_is_reported(client, tmp_path):
    root = tmp_path / "data"
    for b in range(4):
        pid = f"D20240301T0{b}0000_IFCB010"
        write_bin(root / "D20240301", pid, [Roi(width=3, height=2)] * 3, seed=b)
    bad = root / "D20240301" / "D20240301T010000_IFCB010.hdr"
    bad.write_bytes(b"\x89PNG\r\n not a header")
    result = on_dask.metrics(root, scheduler=client)
    assert [f.pid for f in result.failures] == ["D20240301T010000_IFCB010"] and str(bad) in result.failures[0].error
    assert len(result.rows) == 3
    with pytest.raises(IfcbError, match="cannot read bin D20240301T010000_IFCB010"):
        on_dask.metadata_dataframe(root).compute()


# ----- S3 from the workers --------------------------------------------------------------------


@pytest.fixture
def s3_sample(endpoint) -> Iterator[S3BinStore]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY)  # fmt: skip
    bucket = f"ifcbkit-dask-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    store = S3BinStore(bucket, client, "raw")
    for fileset in SyncIfcbDataDirectory(SAMPLE).list():
        for ext in ("hdr", "adc", "roi"):
            store.put(f"{fileset['pid']}.{ext}", Path(fileset[ext]).read_bytes())
    yield store
    client.close()


def test_an_s3_store_works_from_the_workers(client, s3_sample, tmp_path):
    # an S3 store lists in sample-time order, as a directory does
    serial = list(iter_bin_metadata(SAMPLE, workers=1))
    result = on_dask.metrics(s3_sample, scheduler=client)
    assert [r["pid"] for r in result.rows] == [r["pid"] for r in serial]
    for ours, theirs in zip(result.rows, serial):  # the same numbers as from the files on disk
        assert plain({k: v for k, v in ours.items() if k != "size"}) == plain(
            {k: v for k, v in theirs.items() if k != "size"}
        )
    abundance = on_dask.daily_abundance(s3_sample, PRODUCTS, threshold=0.7, scheduler=client)
    assert abundance.rows == daily_abundance(SAMPLE, PRODUCTS, threshold=0.7, workers=1).rows
    # images from S3 into an S3 ROI store, once
    rois = S3RoiStore(s3_sample.bucket, s3_sample.client, "rois")
    first = on_dask.extract_images(s3_sample, rois, scheduler=client)
    again = on_dask.extract_images(s3_sample, rois, scheduler=client)
    total = sum(len(SyncIfcbDataDirectory(SAMPLE).list_roi_ids(r["pid"])) for r in serial)
    assert (first.written, first.present, again.written, again.present) == (total, 0, 0, total)
    roi_id = SyncIfcbDataDirectory(SAMPLE).list_roi_ids("IFCB5_2014_100_120000")[1]
    with Image.open(io.BytesIO(rois.get(roi_id))) as stored:
        assert stored.tobytes() == SyncIfcbDataDirectory(SAMPLE).read_image(roi_id).tobytes()


def test_task_graphs_carry_bin_ids_and_no_credentials(s3_sample, monkeypatch):
    bag = on_dask.metadata_bag(s3_sample)
    graph = cloudpickle.dumps(dict(bag.__dask_graph__()))
    assert SECRET_KEY.encode() not in graph and ACCESS_KEY.encode() not in graph
    assert b"D20240215T150055_IFCB010" in graph
    assert len(graph) < 20_000  # ids and one copy of the store, no bin bytes (the sample's .roi alone is 65 KB)
    restored = pickle.loads(pickle.dumps(s3_sample))
    with pytest.raises(IfcbError, match="NoCredentialsError"):  # a copy brings no credentials of its own
        restored.read_header("D20240215T150055_IFCB010")
    for name, value in (("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)):
        monkeypatch.setenv(name, value)
    restored = pickle.loads(pickle.dumps(s3_sample))  # it uses those of the process it is in
    assert restored.read_header("D20240215T150055_IFCB010") == s3_sample.read_header("D20240215T150055_IFCB010")


def test_a_dashboard_store_works_from_the_workers(client):
    """The client lists the dashboard's bins (or takes them from ``bins=``); the workers read the raw files
    over HTTP."""
    directory = SyncIfcbDataDirectory(SAMPLE)
    listed = list(directory.list())
    files = {f["pid"]: Path(f["hdr"]).with_suffix("") for f in listed}
    catalog = {f["pid"]: directory.bin_metadata(f["pid"]) for f in listed}
    serial = list(iter_bin_metadata(SAMPLE, workers=1))
    # (the workers keep their connections: the server closes them when idle, rather than wait 10 s for them)
    with DashboardServer(files, {}, catalog=catalog, behaviour=DashboardBehaviour(keepalive=0.5)) as server:
        store = DashboardBinStore(server.url, "mvco")
        listed_there = on_dask.metrics(store, scheduler=client)  # the dashboard's own listing
        chosen = on_dask.metrics(store, bins=list(files)[:2], scheduler=client)
        store.close()
    in_time_order = sorted(serial, key=lambda row: row["timestamp_iso"])  # as the dashboard lists them
    assert plain(listed_there.rows) == plain(in_time_order) and listed_there.failures == []
    assert plain(chosen.rows) == plain(serial[:2])
    assert {r.client_port for r in server.requests}  # the workers asked the server


def test_every_store_pickles_and_reads_the_same_after(tmp_path, s3_sample, monkeypatch):
    from ifcbkit import AsyncIfcbDataDirectory
    from ifcbkit.stores import AsyncFilesystemBinStore, SyncFilesystemBinStore, SyncFilesystemRoiStore
    from ifcbkit.stores.objectstore import MemoryStore, ObjectBinStore, ObjectRoiStore

    for name, value in (("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)):
        monkeypatch.setenv(name, value)
    pid = "IFCB5_2014_100_120000"
    roi_id = f"{pid}_00002"
    memory = MemoryStore()
    objects = ObjectBinStore(memory)
    for fileset in SyncIfcbDataDirectory(SAMPLE).list():
        for ext in ("hdr", "adc", "roi"):
            objects.put(f"{fileset['pid']}.{ext}", Path(fileset[ext]).read_bytes())
    expected = SyncIfcbDataDirectory(SAMPLE).read_image(roi_id).tobytes()
    readers = [SyncIfcbDataDirectory(SAMPLE), SyncFilesystemBinStore(SAMPLE), objects, s3_sample]
    for reader in readers:
        copy = pickle.loads(pickle.dumps(reader))
        assert type(copy) is type(reader) and copy.read_image(roi_id).tobytes() == expected, reader
    for other in (AsyncIfcbDataDirectory(SAMPLE), AsyncFilesystemBinStore(SAMPLE), SyncFilesystemRoiStore(SAMPLE),
                  ObjectRoiStore(memory), S3RoiStore(s3_sample.bucket, s3_sample.client)):  # fmt: skip
        assert type(pickle.loads(pickle.dumps(other))) is type(other)


def test_a_dashboard_store_with_credentials_is_not_pickled():
    with pytest.raises(TypeError, match="holds credentials"):
        pickle.dumps(DashboardBinStore("http://reader:s3cr3t@127.0.0.1:9", "mvco"))
    with pytest.raises(TypeError, match="holds credentials"):
        pickle.dumps(DashboardBinStore("http://127.0.0.1:9", "mvco", headers={"X-Api-Key": "s3cr3t"}))
    plain_store = pickle.loads(pickle.dumps(DashboardBinStore("http://127.0.0.1:9", "mvco", timeout=3)))
    assert (plain_store.base_url, plain_store.dataset, plain_store.timeout) == ("http://127.0.0.1:9", "mvco", 3.0)


# ----- images, idempotently -------------------------------------------------------------------


def test_extract_images_into_a_directory_is_idempotent(client, tmp_path):
    out = tmp_path / "images"
    first = on_dask.extract_images(SAMPLE, out, scheduler=client)
    directory = SyncIfcbDataDirectory(SAMPLE)
    expected = {r: directory.read_image(r) for f in directory.list() for r in directory.list_roi_ids(f["pid"])}
    assert (first.written, first.present, first.failures) == (len(expected), 0, [])
    for roi_id, image in expected.items():
        with Image.open(out / roi_id.rsplit("_", 1)[0] / f"{roi_id}.png") as decoded:
            assert decoded.tobytes() == image.tobytes()
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    removed = next(iter(stamp))
    removed.unlink()
    again = on_dask.extract_images(SAMPLE, out, scheduler=client)
    assert (again.written, again.present) == (1, len(expected) - 1)  # only the missing image is written
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items() if p != removed)
    assert not list(out.rglob("*.part"))


# ----- faults and clean-up --------------------------------------------------------------------


def test_a_worker_killed_mid_run_does_not_change_the_result(client, generated, tmp_path):
    root = generated / "data"
    go = tmp_path / "go"

    class Held(SyncIfcbDataDirectory):  # pickled by value: a worker needs nothing from this module
        def bin_metadata(self, bin_id, *, method="adc"):
            while not go.exists():  # every task waits until the test has killed a worker
                time.sleep(0.01)
            return super().bin_metadata(bin_id, method=method)

    serial = list(iter_bin_metadata(root, workers=1))
    future = client.compute(on_dask.metadata_bag(Held(root), partition_size=20))
    deadline = time.monotonic() + 60
    while sum(map(len, client.processing().values())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # both workers are inside a task
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    os.kill(victim, signal.SIGKILL)
    go.touch()
    results = future.result(timeout=120)
    assert plain(results) == plain(serial)
    assert victim not in client.run(os.getpid).values()  # the nanny started a new worker


def test_a_cluster_started_for_a_run_is_closed_and_leaves_no_process():
    before = children()
    result = on_dask.metrics(SAMPLE, scheduler="local")
    assert len(result.rows) == 5
    assert wait_for_no_new_children(before) == set()


# ----- the command line -----------------------------------------------------------------------


def cli(*args: Any, **options: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ifcbkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, **options)  # fmt: skip


def test_the_cli_runs_on_a_scheduler(cluster, generated, tmp_path):
    serial = cli("metrics", generated / "data", "--workers", "1")
    assert serial.returncode == 0
    on_cluster = cli("metrics", generated / "data", "--scheduler", cluster.scheduler_address)
    assert on_cluster.returncode == 0, on_cluster.stderr
    assert on_cluster.stdout == serial.stdout  # row for row, byte for byte
    out = tmp_path / "daily.csv"
    args = ("abundance", generated / "data", generated / "products", "--threshold", "0.5")
    local = cli(*args, "--out", out, "--scheduler", "local")
    assert local.returncode == 0, local.stderr
    assert out.read_text() == cli(*args, "--workers", "1").stdout
    assert next(csv.DictReader(io.StringIO(out.read_text())))["date"] == "2024-03-01"


BLOCK_DASK = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
sys.meta_path.insert(0, Blocker())
import ifcbkit, ifcbkit.cli, ifcbkit.stores, ifcbkit.stores.s3, ifcbkit.stores.dashboard
assert not [m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")]
sys.exit(ifcbkit.cli.main(sys.argv[1:]))
"""


def test_without_the_extra_nothing_imports_dask_and_the_flag_says_what_to_install():
    ok = subprocess.run(
        [sys.executable, "-c", BLOCK_DASK, "ls", str(SAMPLE)], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == "IFCB5_2014_100_120000"
    flagged = subprocess.run([sys.executable, "-c", BLOCK_DASK, "metrics", str(SAMPLE), "--scheduler", "local"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert flagged.returncode == 1
    assert flagged.stderr.strip() == (
        "ifcbkit metrics: ifcbkit.dask needs the optional package 'dask[distributed]': pip install 'ifcbkit[dask]'"
    )


def test_carbon_on_the_cluster_equals_the_serial_run(client, tmp_path):
    """abundance --carbon on the cluster: the same biomass, rows and skipped bins (the bin without
    features) as a serial run, per-class thresholds and the rule travelling with the tasks."""
    from test_abundance_carbon import carbon_tree

    tree = carbon_tree(tmp_path)
    options = {"carbon": True, "convention": "irfcb-auto", "thresholds": {"Guinardia": 0.8}, "rule": "any-above"}
    serial = daily_abundance(tree["root"], tree["products"], workers=1, **options)
    on_cluster = on_dask.daily_abundance(tree["root"], tree["products"], scheduler=client, **options)
    assert plain(on_cluster) == plain(serial)
    assert [b.pid for b in on_cluster.bins] == ["D20240301T100000_IFCB010", "D20240301T120000_IFCB010"]
    assert on_cluster.bins[0].biomass["Chaetoceros_chain"].carbon_pg == pytest.approx(136.8155077321634)
    assert [s.pid for s in on_cluster.skipped] == ["D20240301T140000_IFCB010"]
