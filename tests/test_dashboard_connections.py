"""The async dashboard store's connections (``ifcbkit.sources.dashboard.pool``), against a local
dashboard lookalike: kept and reused, checked one per request, replaced when the server closed them,
closed when an answer is cut off; and the async faces' CPU work in one thread, the compute lane
(``ifcbkit.engine.compute``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ifcbkit.errors import StoreError
from ifcbkit.stores.dashboard import AsyncDashboardBinStore
from servers import DashboardBehaviour, DashboardServer, write_generated_bins


@pytest.fixture(scope="module")
def bins(tmp_path_factory) -> dict[str, Path]:
    return write_generated_bins(tmp_path_factory.mktemp("bins"))


@pytest.fixture
def server(bins) -> Iterator[DashboardServer]:
    with DashboardServer(dict(bins), {}) as running:
        yield running


def ports(server: DashboardServer) -> list[int]:
    return [seen.client_port for seen in server.requests]


async def reads(store: AsyncDashboardBinStore, pid: str, n: int) -> list[bytes]:
    """``n`` images read concurrently: one Range request each (the bin's header and ADC are read once,
    before them)."""
    roi_ids = (await store.list_roi_ids(pid))[:4]
    images = await asyncio.gather(*(store.read_image(roi_ids[k % len(roi_ids)]) for k in range(n)))
    return [image.tobytes() for image in images]


async def test_sequential_requests_share_one_connection(server, bins):
    pid = next(iter(bins))
    async with AsyncDashboardBinStore(server.url, "mvco") as store:
        images = [(await reads(store, pid, 1))[0] for _ in range(20)]
    assert len(set(images)) == 1 and len(server.requests) == 22  # the header, the ADC and 20 ranges
    assert len(set(ports(server))) == 1


async def test_concurrent_requests_open_one_connection_per_slot_and_keep_them(server, bins):
    pid = next(iter(bins))
    server.behaviour.delay = 0.02
    async with AsyncDashboardBinStore(server.url, "mvco", max_concurrency=4) as store:
        await reads(store, pid, 16)
        first = set(ports(server))
        await reads(store, pid, 16)
    assert len(first) == 4 and set(ports(server)) == first and server.max_inflight == 4


async def test_each_request_checks_only_the_connection_it_takes(server, bins, monkeypatch):
    """httpcore's pool checked every connection it held at every request and every answer's end
    (a poll and a getpeername each: 20 system calls a request with 8 connections, each a wait for the
    interpreter lock on a busy loop). This pool checks the one it takes."""
    import httpcore

    checks = 0
    real = httpcore.AsyncHTTPConnection.has_expired

    def counted(self: httpcore.AsyncHTTPConnection) -> bool:
        nonlocal checks
        checks += 1
        return real(self)

    monkeypatch.setattr(httpcore.AsyncHTTPConnection, "has_expired", counted)
    pid = next(iter(bins))
    server.behaviour.delay = 0.01
    async with AsyncDashboardBinStore(server.url, "mvco", max_concurrency=8) as store:
        await reads(store, pid, 8)  # eight connections open
        checks = 0
        await reads(store, pid, 40)
    assert len(set(ports(server))) == 8 and 1 <= checks <= 40


async def test_a_connection_the_server_closed_is_replaced_without_a_failed_request(bins):
    pid = next(iter(bins))
    with DashboardServer(dict(bins), {}, behaviour=DashboardBehaviour(keepalive=0.2)) as server:
        async with AsyncDashboardBinStore(server.url, "mvco", retries=0) as store:
            first = await reads(store, pid, 1)
            await asyncio.sleep(0.6)  # the server has closed the idle connection
            assert await reads(store, pid, 1) == first
    assert server.statuses() == [200, 200, 206, 206] and len(set(ports(server))) == 2


async def test_an_answer_cut_off_by_the_deadline_closes_its_connection(server, bins):
    pid = next(iter(bins))
    async with AsyncDashboardBinStore(server.url, "mvco", deadline=0.3, retries=0) as store:
        before = await reads(store, pid, 1)
        pool = store.source.client._loop_state().pool
        assert "busy=0" in repr(pool) and "idle=1" in repr(pool)
        server.behaviour.drip = 0.05  # 40 bytes every 50 ms: an image takes seconds
        with pytest.raises(StoreError, match="deadline"):
            await reads(store, pid, 1)
        assert "busy=0" in repr(pool) and "idle=0" in repr(pool)  # not kept: its answer was not read
        server.behaviour.drip = 0.0
        assert await reads(store, pid, 1) == before
        assert "busy=0" in repr(pool) and "idle=1" in repr(pool)
    *kept, cut, whole = ports(server)
    assert set(kept) == {cut} and whole != cut


# ----- the compute lane -------------------------------------------------------------------------


def test_the_compute_lane_gives_way_after_each_slice_and_other_threads_never_pause():
    from ifcbkit.engine import compute

    def spin() -> tuple[int, float, str]:
        """Work for 50 ms of this thread's CPU time (a loaded machine may stretch it in wall time)."""
        started, ends, pauses = time.perf_counter(), time.thread_time() + 0.05, 0
        due = compute._lane_state.due
        while time.thread_time() < ends:
            compute.give_way()
            if compute._lane_state.due != due:
                pauses, due = pauses + 1, compute._lane_state.due
        return pauses, time.perf_counter() - started, threading.current_thread().name

    pauses, seconds, name = compute.compute_lane().submit(spin).result()
    assert name.startswith("ifcbkit-compute")
    assert 10 <= pauses <= seconds * 1000 + 1  # about one per millisecond of work, never more often
    assert getattr(compute._lane_state, "due", None) is None  # this thread: give_way does nothing
    compute.give_way()
    assert getattr(compute._lane_state, "due", None) is None


async def test_class_scores_are_counted_in_the_compute_lane_not_on_the_loop(tmp_path, monkeypatch):
    """The counting of every bin's class scores ran in the default executor's threads, up to six of
    them computing at once while the loop waited behind them for the interpreter lock."""
    from ifcbkit.sources.dashboard import products

    pids = [f"D20240301T{h:02d}0000_IFCB010" for h in range(24)]
    catalog, files = {}, {}
    for h, pid in enumerate(pids):
        rows = [f"{pid}_{t:05d},{(t * 7 + h) % 10 / 10:.1f},{1 - (t * 7 + h) % 10 / 10:.1f}" for t in range(1, 201)]
        path = tmp_path / f"{pid}_class_scores.csv"
        path.write_text("pid,Diatom,Ciliate\n" + "\n".join(rows) + "\n")
        files[pid] = {"class_scores": path}
        catalog[pid] = {"pid": pid, "timestamp_iso": f"2024-03-01T{h:02d}:00:00+00:00", "instrument": "IFCB10",
                        "num_images": 200, "ml_analyzed": 5.0, "lat": 41.3, "lng": -70.6}  # fmt: skip
    threads: list[str] = []
    real = products.class_counts_csv

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(products, "class_counts_csv", recorded)
    from ifcbkit.jobs.dashboard_abundance import adaily_abundance_from_dashboard

    with DashboardServer({}, {}, catalog=catalog, products=files) as server:
        async with AsyncDashboardBinStore(server.url, "mvco", max_concurrency=8) as store:
            result = await adaily_abundance_from_dashboard(
                store, threshold=0.5, start_time="2024-03-01", end_time="2024-03-02"
            )  # fmt: skip
    expected = {"Diatom": 0, "Ciliate": 0}
    for h in range(24):
        for t in range(1, 201):
            diatom = (t * 7 + h) % 10 / 10
            if max(diatom, 1 - diatom) >= 0.5:
                expected["Diatom" if diatom >= 1 - diatom else "Ciliate"] += 1
    counted = {row["class"]: row["count"] for row in result.rows}
    assert counted == expected
    assert len(threads) == 24 and set(threads) == {threads[0]} and threads[0].startswith("ifcbkit-compute")
