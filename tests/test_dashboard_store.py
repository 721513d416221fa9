"""Dashboard stores against a local HTTP server on 127.0.0.1 that serves the shared and generated
bins in the dashboard's URL layout: with and without Range support, failing with 503 first,
sending short bodies; every read equals the filesystem store's."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import subprocess
import sys
import time
import traceback
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ifcbkit.errors import FormatError, InvalidIdentifierError, MissingDependencyError, NotFoundError, StoreError
from ifcbkit.identifiers import bin_instrument_id, bin_timestamp
from ifcbkit.stores.dashboard import AsyncDashboardBinStore, DashboardBinStore
from servers import (
    ALL_BINS,
    GENERATED_D,
    GENERATED_I,
    REAL_D,
    REAL_I,
    TRUNCATED,
    DashboardBehaviour,
    DashboardServer,
    free_port,
    outcome,
    reference_stores,
    resolve,
    snapshot,
    temporary_directory,
)

FAST = {"backoff": 0.001}  # retry without waiting long


@pytest.fixture(scope="module")
def generated() -> Iterator[Path]:
    with temporary_directory() as root:
        yield root


@pytest.fixture(scope="module")
def references(real_data: Path, generated: Path) -> dict[str, Any]:
    return reference_stores(real_data, generated)


@pytest.fixture(scope="module")
def files(real_bins: dict[str, Path], generated: Path, references) -> dict[str, Path]:
    """``{pid: base path}`` of the bins the server serves."""
    return {pid: real_bins[pid] if pid in real_bins else generated / pid for pid in references}


@pytest.fixture(scope="module")
def reference_answer(real_data: Path) -> dict[str, Any]:
    """A real ``/api/bin/D20240215T150055_IFCB010`` answer of the WHOI dashboard."""
    return json.loads((real_data.parent / "reference" / "dashboard-api-bin.json").read_text())


@pytest.fixture(scope="module")
def api(references, reference_answer) -> dict[str, dict[str, Any]]:
    """``/api/bin`` answers shaped like the real one: the real answer for the generated bin that
    bears its id, and for the others the local metadata rounded as the dashboard shows it."""
    out = {}
    for pid, fs in references.items():
        if pid == GENERATED_D:
            out[pid] = reference_answer
            continue
        local = fs.bin_metadata(pid)
        answer = dict(reference_answer, timestamp_iso=local["timestamp_iso"], instrument=local["instrument"],
                      num_triggers=local["num_triggers"], num_images=local["num_images"], size=local["size"],
                      trigger_freq=round(local["trigger_freq"], 3), ml_analyzed=f"{local['ml_analyzed']:.3f} ml",
                      concentration=round(local["concentration"], 3), lat=local["lat"], lng=local["lng"],
                      sample_type=local["sample_type"])  # fmt: skip
        out[pid] = json.loads(json.dumps(answer).replace("NaN", "null"))
    return out


@pytest.fixture
def serve(files, api):
    """Start dashboard servers (stopped at teardown): ``serve(ranges=False, fail_first=2, ...)``."""
    with contextlib.ExitStack() as stack:

        def start(dataset: str | None = "mvco", **behaviour: Any) -> DashboardServer:
            server = DashboardServer(files, api, dataset=dataset, behaviour=DashboardBehaviour(**behaviour))
            return stack.enter_context(server)

        yield start


@contextlib.asynccontextmanager
async def dashboard(face: str, url: str, dataset: str | None = "mvco", **options: Any) -> AsyncIterator[Any]:
    if face == "sync":
        with DashboardBinStore(url, dataset, **options) as store:
            yield store
    else:
        async with AsyncDashboardBinStore(url, dataset, **options) as store:
            yield store


# ----- the same as the filesystem store -------------------------------------------------------


@pytest.mark.parametrize("ranges", [True, False], ids=["ranges", "no-ranges"])
@pytest.mark.parametrize("pid", ALL_BINS)
async def test_every_read_equals_the_filesystem_store(face, ranges, pid, serve, references):
    server = serve(ranges=ranges)
    async with dashboard(face, server.url) as store:
        assert await snapshot(store, pid) == await snapshot(references[pid], pid)
    ranged = [r for r in server.requests if r.range is not None and r.status != 404]
    assert ranged and {r.status for r in ranged} <= ({206, 416} if ranges else {200})


async def test_read_image_asks_for_one_range(face, serve, references):
    server = serve()
    roi_id = references[GENERATED_D].list_roi_ids(GENERATED_D)[2]
    async with dashboard(face, server.url) as store:
        image = await resolve(store.read_image(roi_id))
        assert image.tobytes() == references[GENERATED_D].read_image(roi_id).tobytes()
        assert [(r.method, r.path, r.status) for r in server.requests] == [
            ("GET", f"/mvco/{GENERATED_D}.hdr", 200), ("GET", f"/mvco/{GENERATED_D}.adc", 200),
            ("GET", f"/mvco/{GENERATED_D}.roi", 206)]  # fmt: skip
        start, end = map(int, server.requests[-1].range.removeprefix("bytes=").split("-"))
        assert end - start + 1 == image.width * image.height == 1
        server.requests.clear()
        await resolve(store.read_image(f"{GENERATED_I}_00005"))  # a stitched pair: one range
        assert [(r.path[-3:], r.status) for r in server.requests] == [("hdr", 200), ("adc", 200), ("roi", 206)]
        server.requests.clear()
        await resolve(store.read_images(GENERATED_I))
        assert [(r.path, r.range, r.status) for r in server.requests] == [(f"/mvco/{GENERATED_I}.roi", None, 200)]


async def test_without_range_support_the_file_is_downloaded_once_per_read(face, serve, references):
    server = serve(ranges=False)
    async with dashboard(face, server.url) as store:
        images = await resolve(store.read_images(GENERATED_I, [1, 2, 4]))  # several ranges, one download
        expected = references[GENERATED_I].read_images(GENERATED_I, [1, 2, 4])
        assert {t: i.tobytes() for t, i in images.items()} == {t: i.tobytes() for t, i in expected.items()}
        roi_requests = [r for r in server.requests if r.path.endswith(".roi")]
        assert [(r.range is not None, r.status) for r in roi_requests] == [(True, 200)]


# ----- retries, errors ------------------------------------------------------------------------


async def test_5xx_answers_are_retried(face, serve, references, caplog):
    caplog.set_level(logging.WARNING, logger="ifcbkit")
    server = serve(fail_first=2)
    async with dashboard(face, server.url, retries=3, **FAST) as store:
        assert await resolve(store.read_header(REAL_I)) == references[REAL_I].read_header(REAL_I)
    assert server.statuses() == [503, 503, 200, 200]  # two retries of the .hdr, then the .adc
    retries = [r for r in caplog.records if r.name == "ifcbkit.stores.dashboard"]
    assert len(retries) == 2 and all("HTTP 503" in r.getMessage() for r in retries)
    assert f"{server.url}/mvco/{REAL_I}.hdr" in retries[0].getMessage()


async def test_retries_are_bounded(face, serve):
    server = serve(fail_first=100)
    async with dashboard(face, server.url, retries=2, **FAST) as store:
        with pytest.raises(StoreError, match="HTTP 503"):
            await resolve(store.get(f"{REAL_I}.adc"))
    assert server.statuses() == [503, 503, 503]


@pytest.mark.parametrize("status", [400, 403, 404, 410, 429])
async def test_4xx_answers_are_never_retried(face, status, serve):
    server = serve(status=status)
    async with dashboard(face, server.url, retries=3, **FAST) as store:
        error = NotFoundError if status == 404 else StoreError
        with pytest.raises(error, match=f"HTTP {status}"):
            await resolve(store.read_image(f"{REAL_I}_00003"))
    assert server.statuses() == [status]


async def test_connection_errors_are_retried_then_a_store_error(face, caplog):
    caplog.set_level(logging.WARNING, logger="ifcbkit")
    url = f"http://127.0.0.1:{free_port()}"
    async with dashboard(face, url, retries=2, **FAST) as store:
        with pytest.raises(StoreError, match=r"after 3 attempts \(ConnectError\)") as caught:
            await resolve(store.read_header(REAL_D))
    assert f"{url}/mvco/{REAL_D}.hdr" in str(caught.value)
    messages = [r.getMessage() for r in caplog.records if r.name == "ifcbkit.stores.dashboard"]
    assert len(messages) == 2
    for n, message in enumerate(messages, 1):
        assert message.startswith(f"GET {url}/mvco/{REAL_D}.hdr: ConnectError; retry {n} of 2 in ")


async def test_a_short_body_is_a_clear_error(face, serve, references):
    server = serve(short=True)
    roi_id = references[GENERATED_D].list_roi_ids(GENERATED_D)[0]
    async with dashboard(face, server.url) as store:
        assert await resolve(store.read_header(GENERATED_D)) == references[GENERATED_D].read_header(GENERATED_D)
        with pytest.raises(FormatError, match="short body") as caught:
            await resolve(store.read_image(roi_id))
    assert caught.value.source == f"{server.url}/mvco/{GENERATED_D}.roi"
    assert [r.status for r in server.requests][-1] == 206


async def test_missing_bins_are_not_found(face, serve):
    server = serve()
    missing = "D20240215T150056_IFCB010"
    async with dashboard(face, server.url) as store:
        for call in (lambda: store.read_image(f"{missing}_00001"), lambda: store.get(f"{missing}.roi"),
                     lambda: store.bin_metadata(missing), lambda: store.read_header(missing)):  # fmt: skip
            assert await outcome(call) == ("error", "NotFoundError")
        assert await resolve(store.exists(f"{missing}.hdr")) is False
        assert await resolve(store.image_exists(f"{missing}_00001")) is False
    async with dashboard(face, server.url, dataset="other") as elsewhere:
        with pytest.raises(NotFoundError, match=f"{server.url}/other/{REAL_I}.hdr"):
            await resolve(elsewhere.read_header(REAL_I))
        with pytest.raises(NotFoundError, match="dataset=other"):
            await resolve(elsewhere.bin_metadata(REAL_I))


async def test_invalid_input_is_refused_before_any_request(serve):
    server = serve()
    with DashboardBinStore(server.url, "mvco") as store:
        for call in (lambda: store.read_image("../../etc/passwd"), lambda: store.get(f"{REAL_D}/../x.roi"),
                     lambda: store.bin_metadata("D2024")):  # fmt: skip
            with pytest.raises(InvalidIdentifierError):
                call()
        assert store.exists(f"{REAL_I}.exe") is False
    assert server.requests == []
    for bad in ("../x", "a/b", "", "mvco?x=1"):
        with pytest.raises(InvalidIdentifierError):
            DashboardBinStore(server.url, bad)
    for url in ("ftp://127.0.0.1/", "127.0.0.1:80", "http:///path"):
        with pytest.raises(ValueError):
            DashboardBinStore(url)
    with pytest.raises(ValueError):
        DashboardBinStore(server.url, max_concurrency=0)


# ----- metadata -------------------------------------------------------------------------------


async def test_bin_metadata_from_the_api(face, serve, reference_answer):
    server = serve()
    async with dashboard(face, server.url) as store:
        metadata = await resolve(store.bin_metadata(GENERATED_D))
    assert server.requests[0].path == f"/api/bin/{GENERATED_D}"
    assert metadata == {
        "pid": GENERATED_D, "timestamp_iso": "2024-02-15T15:00:55+00:00", "instrument": "IFCB10",
        "num_triggers": 7031, "num_images": 6521, "trigger_freq": 5.874, "ml_analyzed": 2.851,
        "concentration": 2287.189, "lat": 41.325, "lng": -70.5667, "size": 56579281, "sample_type": "",
        "api": reference_answer,
    }  # fmt: skip


@pytest.mark.parametrize("pid", [REAL_D, REAL_I, GENERATED_I, TRUNCATED])
async def test_api_metadata_agrees_with_the_local_metadata(pid, serve, references):
    server = serve(dataset=None)  # no dataset: /data/{pid}.ext and /api/bin/{pid}
    local = references[pid].bin_metadata(pid)
    async with dashboard("async", server.url, dataset=None) as store:
        remote = await store.bin_metadata(pid)
        assert await store.bin_metadata(pid, method="adc") == pytest.approx(local, nan_ok=True)
    assert server.requests[0].path == f"/api/bin/{pid}"
    assert (server.requests[-1].method, server.requests[-1].path) == (
        "HEAD",
        f"/data/{pid}.roi",
    )  # sized, not downloaded
    for key in ("pid", "timestamp_iso", "instrument", "num_triggers", "num_images", "size", "sample_type", "lat",
                "lng"):  # fmt: skip
        assert remote[key] == local[key], key
    for key in ("ml_analyzed", "trigger_freq", "concentration"):
        assert math.isclose(remote[key], local[key], abs_tol=5e-4) or (
            math.isnan(local[key]) and math.isnan(remote[key])
        )
    assert remote["instrument"] == f"IFCB{bin_instrument_id(pid)}"
    assert remote["timestamp_iso"] == bin_timestamp(pid).isoformat()


# ----- credentials, concurrency, connection reuse -----------------------------------------------


async def test_credentials_never_appear_in_errors_or_logs(face, serve, caplog):
    caplog.set_level(logging.DEBUG, logger="ifcbkit")
    secret = "tok-3xQ9-SECRET"
    server = serve(status=500)
    failures = []
    async with dashboard(face, server.url, headers={"Authorization": f"Bearer {secret}"}, retries=1, **FAST) as store:
        for call in (lambda: store.read_image(f"{REAL_I}_00003"), lambda: store.bin_metadata(REAL_I)):
            with pytest.raises(StoreError) as caught:
                await resolve(call())
            failures.append(caught.value)
    assert {r.authorization for r in server.requests} == {f"Bearer {secret}"}  # it was sent
    password = "s3cret-Pa55"
    plain = serve()
    with_user = plain.url.replace("http://", f"http://ifcb:{password}@")
    async with dashboard(face, with_user) as store:
        assert password not in repr(store) and password not in store.base_url
        with pytest.raises(NotFoundError) as caught:
            await resolve(store.read_header("D20240215T150056_IFCB010"))
        failures.append(caught.value)
        assert await resolve(store.read_header(REAL_I))
    token = base64.b64encode(f"ifcb:{password}".encode()).decode()
    assert {r.authorization for r in plain.requests} == {f"Basic {token}"}
    text = "".join("".join(traceback.format_exception(e)) for e in failures)
    text += "\n".join(r.getMessage() for r in caplog.records)
    assert len([r for r in caplog.records if r.name == "ifcbkit.stores.dashboard"]) == 2
    for leaked in (secret, password, token):
        assert leaked not in text


async def test_async_requests_are_bounded_and_reuse_connections(serve, references):
    server = serve(delay=0.02)
    ids = references[REAL_D].list_roi_ids(REAL_D)
    async with AsyncDashboardBinStore(server.url, "mvco", max_concurrency=3) as store:
        await store.read_header(REAL_D)
        images = await asyncio.gather(*(store.read_image(roi_id) for roi_id in ids))
    assert [i.tobytes() for i in images] == [references[REAL_D].read_image(r).tobytes() for r in ids]
    assert len(ids) > 10 and 1 <= server.max_inflight <= 3
    assert len({r.client_port for r in server.requests}) <= 3  # at most one connection per slot


def test_sync_requests_reuse_one_connection(serve, references):
    server = serve()
    with DashboardBinStore(server.url, "mvco") as store:
        for roi_id in references[REAL_D].list_roi_ids(REAL_D)[:8]:
            store.read_image(roi_id)
    assert len(server.requests) == 10 and len({r.client_port for r in server.requests}) == 1


def test_import_without_optional_dependencies():
    """``import ifcbkit`` and its store modules work without httpx, boto3 or aiobotocore; a
    dashboard store then says which extra to install."""
    code = (
        "import sys\n"
        "for name in ('httpx', 'boto3', 'botocore', 'aiobotocore'):\n"
        "    sys.modules[name] = None\n"
        "import ifcbkit, ifcbkit.stores.s3, ifcbkit.stores.dashboard, ifcbkit.stores.caching\n"
        "from ifcbkit.stores.dashboard import DashboardBinStore\n"
        "try:\n"
        "    DashboardBinStore('http://127.0.0.1:9')\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.startswith("MissingDependencyError") and "ifcbkit[http]" in result.stdout
    assert issubclass(MissingDependencyError, ImportError)


@pytest.mark.parametrize(
    ("partial", "error", "match"),
    [
        ("whole", StoreError, r"asked for bytes \d+-\d+, the server sent bytes 0-"),
        ("shifted", StoreError, r"asked for bytes (\d+)-\d+, the server sent bytes (?!\1)"),
        ("unlabelled", StoreError, "without a Content-Range"),
        ("long", FormatError, "long body"),
    ],
)
async def test_a_partial_answer_that_is_not_the_range_asked_for_is_refused(
    face, serve, references, partial, error, match
):
    """Regression (hostile input 2): a 206 with the whole file, or with another range than the one asked
    for, gave an image of the right size made of the wrong bytes; a body longer than the range passed."""
    server = serve(partial=partial)
    roi_id = references[GENERATED_D].list_roi_ids(GENERATED_D)[1]
    async with dashboard(face, server.url) as store:
        with pytest.raises(error, match=match):
            await resolve(store.read_image(roi_id))


@pytest.mark.parametrize(
    "answer", [b'{"num_triggers": 1e400}', b'{"ml_analyzed": NaN}', b"[" * 100_000 + b"]" * 100_000]
)
async def test_hostile_bin_metadata_is_a_format_error(face, serve, answer):
    """Regression (hostile input 15): ``{"num_triggers": 1e400}`` raised OverflowError, deeply nested
    JSON RecursionError."""
    server = serve()
    server.api = {REAL_D: {}}
    original = server._answer

    def answering(method, target, headers, body=b""):
        status, head, body = original(method, target, headers, body)
        return (status, head, answer) if "/api/bin/" in target else (status, head, body)

    server._answer = answering  # type: ignore[method-assign]
    async with dashboard(face, server.url) as store:
        with pytest.raises(FormatError, match=rf"/api/bin/{REAL_D}\?dataset=mvco"):
            await resolve(store.bin_metadata(REAL_D))


async def test_private_headers_are_not_sent_to_another_origin(face, serve):
    """Regression (hostile input 20): a custom ``X-Api-Key`` header was forwarded on a redirect to
    another origin."""
    elsewhere = serve()
    here = serve(redirect_to=elsewhere.url)
    async with dashboard(face, here.url, headers={"X-Api-Key": "s3cr3t"}, **FAST) as store:
        assert await resolve(store.read_header(REAL_D))  # served by the other server, after a 302
    assert {r.api_key for r in here.requests} == {"s3cr3t"}
    assert elsewhere.requests and {r.api_key for r in elsewhere.requests} == {None}


async def test_a_token_in_the_base_url_query_goes_with_requests_not_messages(face, serve):
    """Regression (hostile input 19): a token in the base URL's query string was echoed in ``repr`` and
    errors, and malformed the request URLs."""
    server = serve()
    async with dashboard(face, f"{server.url}/?token=s3cr3t", **FAST) as store:
        assert "s3cr3t" not in repr(store)
        assert await resolve(store.read_header(REAL_D))
        with pytest.raises(NotFoundError) as caught:
            await resolve(store.read_header("D20240215T150056_IFCB010"))
    assert "s3cr3t" not in str(caught.value) and f"{server.url}/mvco/D20240215T150056_IFCB010.hdr" in str(caught.value)
    assert {r.query for r in server.requests} == {"token=s3cr3t"}
    assert {r.path for r in server.requests} == {
        f"/mvco/{REAL_D}.hdr",
        f"/mvco/{REAL_D}.adc",
        "/mvco/D20240215T150056_IFCB010.hdr",
    }  # well-formed: the query is not in the path


async def test_a_dripping_server_is_cut_off_at_the_deadline(face, serve):
    """Regression (hostile input 13): a server dripping 40 bytes every 0.3 s held a request with
    ``timeout=1`` for 12 s, since the timeout bounds each read, not the request."""
    server = serve(drip=0.3)  # the 2.9 KB header would take 21 s
    async with dashboard(face, server.url, timeout=1, deadline=1.5, retries=0) as store:
        started = time.monotonic()
        with pytest.raises(StoreError, match=rf"GET {server.url}/mvco/{REAL_D}\.hdr .*within the 1\.5 s deadline"):
            await resolve(store.read_header(REAL_D))
        elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 2.8  # the deadline, and at most one 0.3 s read past it


async def test_a_deadline_missed_leaves_no_time_for_a_retry(face, serve):
    """``deadline`` bounds the call: a retry would start after it (the per-request bound of a store
    without a deadline is retried: test_dashboard_trust)."""
    server = serve(drip=0.3)
    async with dashboard(face, server.url, timeout=1, deadline=0.5, retries=1, **FAST) as store:
        with pytest.raises(StoreError, match="after 1 attempts"):
            await resolve(store.read_header(REAL_D))
    assert len(server.requests) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_huge_answer_is_refused_without_holding_it(face, serve, chunked):
    """Regression (hostile input 14): a 400 MB ``.hdr`` from a server raised peak memory by 801 MB."""
    server = serve(huge_header=400 << 20, chunked=chunked)
    async with dashboard(face, server.url, retries=0) as store:
        tracemalloc.start()
        try:
            with pytest.raises(FormatError, match=rf"{REAL_D}\.hdr: an answer larger than max_bytes\['hdr'\]"):
                await resolve(store.read_header(REAL_D))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 8 << 20  # the 1 MiB limit and a chunk, not 400 MB


async def test_max_bytes_can_be_raised_for_one_kind(face, serve):
    server = serve(huge_header=3 << 20)
    async with dashboard(face, server.url, max_bytes={"hdr": 4 << 20}) as store:
        header = await resolve(store.read_header(REAL_D))  # 3 MiB of "key: value" lines, read in full
    assert header["key"] == "value"
    with pytest.raises(
        ValueError, match=r"max_bytes takes the keys \['adc', 'api', 'hdr', 'product', 'roi'\], not \['png'\]"
    ):
        DashboardBinStore(server.url, "mvco", max_bytes={"png": 1})


def test_timeouts_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        DashboardBinStore("http://127.0.0.1:9", "mvco", deadline=0)
