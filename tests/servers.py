"""Real servers on 127.0.0.1 for the remote-store tests: moto's S3 API server, a byte-counting
TCP proxy, and an IFCB dashboard lookalike on ``http.server``. Each is a context manager that
stops its threads and closes its sockets on exit."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import re
import selectors
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from helpers import resolve

# Dummy credentials for moto (it does not check them); distinctive, so tests can look for leaks.
ACCESS_KEY = "AKIAIFCBKITTESTKEY01"
SECRET_KEY = "ifcbkit-test-secret/Kq7vX2pLmN9"
REGION = "us-east-1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's S3 API server on 127.0.0.1 in a thread; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    werkzeug_logger = logging.getLogger("werkzeug")
    level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.ERROR)  # no access log on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        server._server.server_close()  # stop() leaves the listening socket open
        werkzeug_logger.setLevel(level)


@functools.cache
def aio_session() -> Any:
    """One aiobotocore session for the whole run: a new session loads botocore's S3 model again,
    0.1-0.2 s per client made."""
    from aiobotocore.session import get_session

    return get_session()


def s3_client_options(endpoint: str, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``boto3.client('s3', ...)`` / aiobotocore's ``create_client('s3', ...)``."""
    return {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        **overrides,
    }


class S3Calls:
    """Records the S3 operations a botocore or aiobotocore client makes: ``(operation, key, range)``."""

    def __init__(self, client: Any):
        self.calls: list[tuple[str, str | None, str | None]] = []
        client.meta.events.register("before-parameter-build.s3", self._record)

    def _record(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, params.get("Key"), params.get("Range")))

    def clear(self) -> None:
        self.calls.clear()


class CountingProxy:
    """A TCP proxy on 127.0.0.1 that counts the bytes its upstream server sends back.

    One thread multiplexes every connection with a selector; :meth:`close` stops it and closes
    every socket. Counts are updated before the bytes are forwarded, so once a client has what
    it asked for, ``downstream`` includes it.
    """

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self._target = (parts.hostname, parts.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._downstream = 0
        self._thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)

    @property
    def downstream(self) -> int:
        with self._lock:
            return self._downstream

    def reset(self) -> None:
        with self._lock:
            self._downstream = 0

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wake_w.send(b"x")
        self._thread.join()
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        peers: dict[socket.socket, tuple[socket.socket, bool]] = {}
        try:
            while True:
                for key, _ in selector.select():
                    sock = key.fileobj
                    if sock is self._wake_r:
                        return
                    if sock is self._listener:
                        client, _ = self._listener.accept()
                        client.setblocking(True)
                        upstream = socket.create_connection(self._target)
                        peers[client] = (upstream, False)
                        peers[upstream] = (client, True)
                        selector.register(client, selectors.EVENT_READ)
                        selector.register(upstream, selectors.EVENT_READ)
                        continue
                    if sock not in peers:  # closed with its peer earlier in this round
                        continue
                    assert isinstance(sock, socket.socket)
                    peer, from_upstream = peers[sock]
                    try:
                        data = sock.recv(65536)
                        if data:
                            if from_upstream:
                                with self._lock:
                                    self._downstream += len(data)
                            peer.sendall(data)
                    except OSError:
                        data = b""
                    if not data:
                        for s in (sock, peer):
                            selector.unregister(s)
                            peers.pop(s)
                            s.close()
        finally:
            for s in peers:
                s.close()
            selector.close()


# ----- an IFCB dashboard lookalike ------------------------------------------------------------


class _Listening(ThreadingHTTPServer):
    """A threading HTTP server with a listen backlog like a real web server's: socketserver's default
    of 5 drops the SYNs of a client opening 8 connections at once, which then wait a second to retry."""

    request_queue_size = 128


@dataclass
class DashboardBehaviour:
    """How the dashboard server answers: Range support, 503s first, short bodies, a fixed status."""

    ranges: bool = True
    fail_first: int = 0  # answer the first N requests with 503
    short: bool = False  # 206 answers carry half the bytes their Content-Range announces
    status: int | None = None  # answer every request with this status
    delay: float = 0.0  # hold each request this long (to observe concurrency)
    partial: str | None = None  # a 206 that lies: "whole", "shifted", "unlabelled" or "long"
    redirect_to: str | None = None  # answer every request with a 302 to this base URL
    drip: float = 0.0  # send bodies 40 bytes at a time, this many seconds apart
    export_metadata: bool = True  # False: a dashboard from before /api/export_metadata (404)
    latency: float = 0.0  # added to every request, as a far-away server's round trip
    huge_header: int = 0  # serve every .hdr as this many bytes of header-like text
    chunked: bool = False  # send bodies with chunked transfer encoding, without a Content-Length
    fail_paths: dict[str, int] = field(default_factory=dict)  # answer a path ending so with 500, its first N times
    keepalive: float = 10.0  # seconds an idle keep-alive connection stays open before the server closes it


@dataclass
class Seen:
    """One request the server answered."""

    method: str
    path: str
    range: str | None
    status: int
    authorization: str | None
    client_port: int
    api_key: str | None = None
    query: str = ""


@dataclass
class DashboardServer:
    """An IFCB dashboard lookalike, answering as ifcbdb does (``dashboard/urls.py`` and ``views.py``):

    - raw files at ``/{dataset}/{pid}.{ext}`` and ``/data/{pid}.{ext}`` (Range requests only when
      the behaviour says so: ifcbdb's ``FileResponse`` honours none);
    - ``/api/bin/{pid}?dataset=`` (``api``, or made from ``catalog`` with previous/next bin ids);
    - with a ``catalog`` (``{pid: metadata}``): ``/api/export_metadata/{dataset}`` as ifcbdb's CSV
      (``start_date``/``end_date`` inclusive, ``instrument``, ``include_skip``; 404 when nothing
      matches), ``/api/list_datasets`` and ``POST /api/closest_bin``;
    - ``products`` (``{pid: {kind: path}}``): ``/{dataset}/{pid}_class_scores.csv``,
      ``_features.csv`` and ``_blob.zip`` (also under ``/data/`` but for class scores);
    - 404 for anything else. ``served`` counts the body bytes sent per path.

    Raw files carry only a Content-Length, as ifcbdb's ``FileResponse`` does; with ``validators``
    also an ETag (of their bytes) and a Last-Modified (their mtime), as a caching proxy adds.
    ``listing_utc_offset``: the hours east of UTC in which ``start_date``/``end_date`` are days (a
    dashboard whose days are not UTC's).
    """

    files: Mapping[str, Path]  # pid -> base path (without extension)
    api: Mapping[str, dict[str, Any]]  # pid -> /api/bin JSON
    dataset: str | None = "mvco"
    behaviour: DashboardBehaviour = field(default_factory=DashboardBehaviour)
    requests: list[Seen] = field(default_factory=list)
    catalog: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    products: Mapping[str, Mapping[str, Path]] = field(default_factory=dict)
    validators: bool = False
    listing_utc_offset: float = 0.0

    def __post_init__(self) -> None:
        from collections import Counter

        self.served: Counter[str] = Counter()
        self._order = sorted(self.catalog)
        self._lock = threading.Lock()
        self._count = 0
        self._inflight = 0
        self.max_inflight = 0
        self._server = _Listening(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = False  # server_close() joins the handler threads
        self._server.block_on_close = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="dashboard", daemon=True)

    def __enter__(self) -> DashboardServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def statuses(self, path_suffix: str = "") -> list[int]:
        return [r.status for r in self.requests if r.path.endswith(path_suffix)]

    # ----- the ifcbdb API over the catalog -----

    def _api_bin(self, pid: str) -> dict[str, Any]:
        meta = self.catalog[pid]
        k = self._order.index(pid)
        return {
            "previous_bin_id": self._order[k - 1] if k > 0 else None,
            "next_bin_id": self._order[k + 1] if k + 1 < len(self._order) else None,
            "lat": meta.get("lat"), "lng": meta.get("lng"), "depth": meta.get("depth"), "timestamp_iso":
            meta["timestamp_iso"], "instrument": meta["instrument"], "num_triggers": meta.get("num_triggers", 0),
            "num_images": meta["num_images"], "ml_analyzed": f"{meta['ml_analyzed']:.3f} ml",
            "size": meta.get("size", 0),
            "skip": bool(meta.get("skip")), "sample_type": meta.get("sample_type") or "", "cruise": "", "cast": "",
            "niskin": None, "tags": [], "datasets": [self.dataset], "primary_dataset": self.dataset,
            "trigger_freq": 0.0, "concentration": 0.0,
        }  # fmt: skip

    def _ifcbdb_api(
        self, method: str, path: str, query: Mapping[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        from datetime import datetime, timedelta, timezone

        if path == "/api/list_datasets":
            return 200, {"Content-Type": "application/json"}, json.dumps({"datasets": [self.dataset]}).encode()
        if path == "/api/closest_bin" and method == "POST":
            form = parse_qs(body.decode())
            if form.get("dataset", [None])[0] != self.dataset:
                return 404, {}, b"no such dataset"
            target = datetime.fromisoformat(form["target_date"][0])
            closest = min(self._order, key=lambda p: abs(_when(p) - target))
            return 200, {"Content-Type": "application/json"}, json.dumps({"bin_id": closest}).encode()
        match = re.fullmatch(r"/api/export_metadata/([^/]*)", path)
        if match is None:
            return None
        if not self.behaviour.export_metadata or match[1] != (self.dataset or ""):
            return 404, {}, b"no bins match the given query"
        start = query.get("start_date", [None])[0]
        end = query.get("end_date", [None])[0]
        shift = timedelta(hours=self.listing_utc_offset)  # local midnight, in UTC
        low = datetime.fromisoformat(start).replace(tzinfo=timezone.utc) - shift if start else None
        high = (
            datetime.fromisoformat(end).replace(tzinfo=timezone.utc) + timedelta(days=1) - shift if end else None
        )  # inclusive
        instrument = query.get("instrument", [None])[0]
        include_skip = query.get("include_skip", ["true"])[0].lower() == "true"
        rows = []
        for pid in self._order:
            meta = self.catalog[pid]
            when = _when(pid)
            if (
                (low and when < low)
                or (high and when > high)
                or (instrument and meta["instrument"] != f"IFCB{instrument}")
            ):
                continue
            if meta.get("skip") and not include_skip:
                continue
            rows.append(meta)
        if not rows:
            return 404, {}, b"no bins match the given query"
        out = io.StringIO()
        out.write("dataset,pid,sample_time,ifcb,ml_analyzed,latitude,longitude,depth,cruise,cast,niskin,sample_type,"
                  "n_images,comment_summary,trigger_selection,skip\r\n")  # fmt: skip
        for meta in rows:
            lat, lng = meta.get("lat"), meta.get("lng")
            out.write(",".join([
                self.dataset or "", meta["pid"], str(_when(meta["pid"])), meta["instrument"].removeprefix("IFCB"),
                repr(meta["ml_analyzed"]), "" if lat is None else repr(lat), "" if lng is None else repr(lng),
                str(meta.get("depth", "")), "", "", "", meta.get("sample_type") or "", str(meta["num_images"]), "", "",
                "1" if meta.get("skip") else "0",
            ]) + "\r\n")  # fmt: skip
        return 200, {"Content-Type": "text/csv"}, out.getvalue().encode()

    def _answer(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self._count += 1
            count = self._count
        b = self.behaviour
        if b.status is not None:
            return b.status, {}, b"nope"
        if b.redirect_to is not None:
            return 302, {"Location": b.redirect_to + target}, b""
        if count <= b.fail_first:
            return 503, {}, b"busy"
        url = urlsplit(target)
        for suffix in b.fail_paths:
            with self._lock:
                if url.path.endswith(suffix) and b.fail_paths[suffix] > 0:
                    b.fail_paths[suffix] -= 1
                    return 500, {}, b"internal error"
        query = parse_qs(url.query)
        if self.catalog:
            answer = self._ifcbdb_api(method, url.path, query, body)
            if answer is not None:
                return answer
        match = re.fullmatch(r"/api/bin/([^/]+)", url.path)
        if match is not None:
            pid = match[1]
            answers = self.api or {p: self._api_bin(p) for p in self.catalog if p == pid}
            if pid not in answers or query.get("dataset", [None])[0] != self.dataset:
                return 404, {}, b"no such bin"
            return 200, {"Content-Type": "application/json"}, json.dumps(answers[pid]).encode()
        if url.path.startswith("/data/"):
            name = url.path[len("/data/") :]
        elif self.dataset and url.path.startswith(f"/{self.dataset}/"):
            name = url.path[len(f"/{self.dataset}/") :]
        else:
            return 404, {}, b"not found"
        product = re.fullmatch(r"(.+)_(class_scores\.csv|features\.csv|blob\.zip)", name)
        if product is not None:
            kind = {"class_scores.csv": "class_scores", "features.csv": "features", "blob.zip": "blobs"}[product[2]]
            found = self.products.get(product[1], {}).get(kind)
            if found is None or (kind == "class_scores" and url.path.startswith("/data/")):
                return 404, {}, b"no such product"
            return 200, {}, Path(found).read_bytes()
        pid, _, ext = name.rpartition(".")
        if b.huge_header and ext == "hdr":
            return 200, {}, _Huge(b.huge_header)
        path = self.files[pid].with_suffix(f".{ext}") if pid in self.files and ext in ("hdr", "adc", "roi") else None
        if path is None or not path.is_file():
            return 404, {}, b"not found"
        data = path.read_bytes()
        asked = re.fullmatch(r"bytes=(\d+)-(\d+)", headers.get("Range") or "")
        if not b.ranges or asked is None:
            return 200, self._validators(path, data), data
        start, end = int(asked[1]), min(int(asked[2]), len(data) - 1)
        if start >= len(data):
            return 416, {"Content-Range": f"bytes */{len(data)}"}, b""
        body = data[start : end + 1]
        if b.short:
            body = body[: len(body) // 2]
        if b.partial == "whole":  # the whole file, labelled as such
            return 206, {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}, data
        if b.partial == "shifted":  # the bytes after the ones asked for, labelled as such
            shifted = data[start + 1 : end + 2]
            return 206, {"Content-Range": f"bytes {start + 1}-{start + len(shifted)}/{len(data)}"}, shifted
        if b.partial == "unlabelled":  # the whole file, without a Content-Range
            return 206, {}, data
        if b.partial == "long":  # more bytes than the range, labelled as the range
            return 206, {"Content-Range": f"bytes {start}-{end}/{len(data)}"}, data[start : end + 100]
        return 206, {"Content-Range": f"bytes {start}-{end}/{len(data)}"}, body

    def _validators(self, path: Path, data: bytes) -> dict[str, str]:
        if not self.validators:
            return {}
        import hashlib
        from email.utils import formatdate

        return {"ETag": f'"{hashlib.sha256(data).hexdigest()[:32]}"',
                "Last-Modified": formatdate(path.stat().st_mtime, usegmt=True)}  # fmt: skip

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
            timeout = 10  # an idle keep-alive connection ends its thread

            def setup(self) -> None:
                self.timeout = server.behaviour.keepalive
                super().setup()

            def _handle(self, with_body: bool) -> None:
                with server._lock:
                    server._inflight += 1
                    server.max_inflight = max(server.max_inflight, server._inflight)
                length = int(self.headers.get("Content-Length") or 0)
                request_body = self.rfile.read(length) if length else b""
                try:
                    if server.behaviour.delay or server.behaviour.latency:
                        time.sleep(server.behaviour.delay + server.behaviour.latency)
                    status, headers, body = server._answer(self.command, self.path, self.headers, request_body)
                finally:
                    with server._lock:
                        server._inflight -= 1
                server.requests.append(
                    Seen(self.command, urlsplit(self.path).path, self.headers.get("Range"), status,
                         self.headers.get("Authorization"), self.client_address[1], self.headers.get("X-Api-Key"),
                         urlsplit(self.path).query)
                )  # fmt: skip
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                behaviour = server.behaviour
                if behaviour.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not with_body:
                    return
                with server._lock:
                    server.served[urlsplit(self.path).path] += len(body)
                size = 40 if behaviour.drip else 1 << 16
                try:
                    for start in range(0, len(body), size):
                        piece = bytes(body[start : start + size])
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if behaviour.chunked else piece)
                        self.wfile.flush()
                        if behaviour.drip:
                            time.sleep(behaviour.drip)
                    if behaviour.chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):  # the client gave up on the answer
                    self.close_connection = True

            def do_GET(self) -> None:
                self._handle(True)

            def do_HEAD(self) -> None:
                self._handle(False)

            def do_POST(self) -> None:
                self._handle(True)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _when(pid: str) -> Any:
    from ifcbkit.identifiers import bin_timestamp

    return bin_timestamp(pid)


class _Huge:
    """``size`` bytes of header-like text, made a slice at a time (the server never holds them)."""

    LINE = b"key: value\n" * 6000

    def __init__(self, size: int):
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, part: slice) -> bytes:
        start, stop, _ = part.indices(self.size)
        offset = start % 11  # where in its "key: value\n" line the slice starts
        return self.LINE[offset : offset + stop - start]


# ----- bins to serve, and what a store says about them -----------------------------------------

# Generated bins (beside the shared real ones): a D-style bin with no-image targets, an I-style
# bin with stitched pairs, a bin whose .roi ends early, and a partial bin (no .roi).
REAL_D = "D20130526T095207_IFCB013"
REAL_I = "IFCB5_2012_028_081515"
EMPTY = ["D20150411T205456_IFCB012", "IFCB5_2017_001_033645"]
GENERATED_D = "D20240215T150055_IFCB010"
GENERATED_I = "IFCB5_2014_100_120000"
TRUNCATED = "D20240216T010203_IFCB010"
PARTIAL = "D20240216T020000_IFCB010"


def write_generated_bins(root: Path) -> dict[str, Path]:
    """Write the generated bins into ``root``; ``{pid: base path}`` of the complete ones."""
    from ifcbkit.testing import Roi, stitched_pair, write_bin

    d_rois = [Roi(40, 30), Roi(), Roi(25, 60, x=3, y=4), Roi(1, 1), Roi(), Roi(64, 48), Roi(33, 17)]
    i_rois = [Roi(20, 30, x=5, y=5), *stitched_pair(2, (10, 10, 40, 30), (30, 20, 40, 30)), Roi(12, 9),
              *stitched_pair(5, (0, 0, 16, 16), (8, 8, 16, 16)), Roi()]  # fmt: skip
    out = {}
    for pid, rois, seed in ((GENERATED_D, d_rois, 1), (GENERATED_I, i_rois, 2), (TRUNCATED, d_rois, 3)):
        out[pid] = write_bin(root, pid, rois, seed=seed).hdr.with_suffix("")
    roi = out[TRUNCATED].with_suffix(".roi")
    roi.write_bytes(roi.read_bytes()[:-600])  # the last image starts past the end, the one before runs past it
    write_bin(root, PARTIAL, d_rois[:3]).roi.unlink()
    return out


@contextlib.contextmanager
def temporary_directory() -> Iterator[Path]:
    """A directory for generated bins, removed with everything in it on exit."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ifcbkit-test-") as path:
        yield Path(path)


def reference_stores(real_data: Path, generated_root: Path) -> dict[str, Any]:
    """``{pid: filesystem bin store holding it}`` for the shared real bins and the generated ones
    (written into ``generated_root``): what every remote store must equal."""
    from ifcbkit.stores import SyncFilesystemBinStore

    write_generated_bins(generated_root)
    data = SyncFilesystemBinStore(real_data)
    empty = SyncFilesystemBinStore(real_data / "empty")
    local = SyncFilesystemBinStore(generated_root, require_roi=False)
    return {REAL_D: data, REAL_I: data, **dict.fromkeys(EMPTY, empty),
            **dict.fromkeys([GENERATED_D, GENERATED_I, TRUNCATED, PARTIAL], local)}  # fmt: skip


ALL_BINS = [REAL_D, REAL_I, *EMPTY, GENERATED_D, GENERATED_I, TRUNCATED, PARTIAL]


def bin_files(references: Mapping[str, Any]) -> dict[str, dict[str, bytes]]:
    """``{pid: {ext: bytes}}`` of every file the reference stores hold."""
    return {
        pid: {ext: fs.get(f"{pid}.{ext}") for ext in ("hdr", "adc", "roi") if fs.exists(f"{pid}.{ext}")}
        for pid, fs in references.items()
    }


async def outcome(call: Any) -> Any:
    """What a store call gives, or ``('error', ExceptionType)`` for an ifcbkit error."""
    from ifcbkit.errors import IfcbError

    try:
        return await resolve(call())
    except IfcbError as e:
        return ("error", type(e).__name__)


def pixels(image: Any) -> tuple[str, tuple[int, int], bytes]:
    return image.mode, image.size, image.tobytes()


async def snapshot(store: Any, pid: str) -> dict[str, Any]:
    """Everything a bin store says about one bin (sync or async face): header, listing, every
    image by each read path, existence checks, raw file bytes, and the errors on the way."""
    from ifcbkit.errors import IfcbError

    out: dict[str, Any] = {}
    out["header"] = await outcome(lambda: store.read_header(pid))
    out["metadata"] = _nan_free(await outcome(lambda: store.bin_metadata(pid, method="adc")))
    ids = await outcome(lambda: store.list_roi_ids(pid))
    out["ids"] = ids
    ids = ids if isinstance(ids, list) else []
    probes = sorted({*ids, *(f"{pid}_{t:05d}" for t in (1, 2, 3, 4, 6, 7, 999))})
    out["read_image"] = {
        r: await outcome(lambda r=r: _map(store.read_image(r), pixels)) for r in probes
    }  # fmt: skip
    out["unstitched"] = {r: await outcome(lambda r=r: _map(store.read_image(r, stitch=False), pixels)) for r in probes}
    out["image_exists"] = {r: await resolve(store.image_exists(r)) for r in probes}
    out["images_exist"] = await outcome(lambda: store.images_exist(pid, probes))
    images = await outcome(lambda: store.read_images(pid))
    if isinstance(images, tuple):
        out["read_images"] = images
    else:
        every = {}
        for target in images:
            try:
                every[target] = pixels(images[target])
            except IfcbError as e:
                every[target] = ("error", type(e).__name__)
        out["read_images"] = every
    out["some_images"] = await outcome(
        lambda: _map(store.read_images(pid, ids[:2]), lambda d: {t: pixels(i) for t, i in d.items()})
    )
    streamed: list[Any] = []
    try:
        iterator = store.iter_images(pid, chunk_size=4096)
        if hasattr(iterator, "__aiter__"):
            async for roi_id, image in iterator:
                streamed.append((roi_id, pixels(image)))
        else:
            for roi_id, image in iterator:
                streamed.append((roi_id, pixels(image)))
    except IfcbError as e:
        streamed.append(("error", type(e).__name__))
    out["iter_images"] = streamed
    for ext in ("hdr", "adc", "roi"):
        key = f"{pid}.{ext}"
        out[f"get {ext}"] = await outcome(lambda key=key: store.get(key))
        out[f"range {ext}"] = await outcome(lambda key=key: store.get_range(key, 10, 4000))
        out[f"exists {ext}"] = await resolve(store.exists(key))
    return out


def _nan_free(value: Any) -> Any:
    """NaN (which equals nothing) as the string ``'nan'``, so that results compare."""
    if isinstance(value, dict):
        return {k: _nan_free(v) for k, v in value.items()}
    return "nan" if isinstance(value, float) and value != value else value


def _map(value: Any, function: Any) -> Any:
    """``function`` applied to a call's result, awaiting it first when it is a coroutine."""
    import inspect

    if inspect.isawaitable(value):

        async def mapped() -> Any:
            return function(await value)

        return mapped()
    return function(value)
