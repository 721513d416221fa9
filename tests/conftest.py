"""Shared fixtures: the bundled sample tree, and the real instrument files named by IFCBKIT_TEST_DATA.

Real data is never copied into the project. When ``IFCBKIT_TEST_DATA`` is unset,
tests that need it skip (saying why); when it is set and the data is not there,
they fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ifcbkit.engine.cache import clear_caches

TESTS = Path(__file__).resolve().parent
SAMPLE = TESTS / "data" / "sample"
HEADERS = TESTS / "data" / "headers"
REAL_DATA_ENV = "IFCBKIT_TEST_DATA"


def _real_data_root() -> Path:
    value = os.environ.get(REAL_DATA_ENV)
    if not value:
        pytest.skip(f"{REAL_DATA_ENV} is not set: real instrument files are not available")
    root = Path(value).resolve()
    if not (root / "data").is_dir():
        pytest.fail(f"{REAL_DATA_ENV}={value} is set but holds no real IFCB data (no data/ directory)")
    return root


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared real-data tree (``ifcb-data``: data/, empty/, partial/)."""
    return _real_data_root()


@pytest.fixture(scope="session")
def pyifcb_facts(real_data: Path) -> dict:
    """What pyifcb computes on the real bins (``reference/pyifcb-facts.json`` beside the data)."""
    path = real_data.parent / "reference" / "pyifcb-facts.json"
    if not path.is_file():
        pytest.fail(f"{REAL_DATA_ENV} is set but {path} is missing")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def real_bins(real_data: Path, pyifcb_facts: dict) -> dict[str, Path]:
    """``{pid: base path}`` of every real bin that has facts, preferring complete triplets."""
    out: dict[str, Path] = {}
    for roi in sorted(real_data.rglob("*.roi")):
        out.setdefault(roi.stem, roi.with_suffix(""))
    missing = set(pyifcb_facts) - set(out)
    if missing:
        pytest.fail(f"real bins missing from {real_data}: {sorted(missing)}")
    return {pid: out[pid] for pid in pyifcb_facts}


@pytest.fixture
def sample_root() -> Path:
    return SAMPLE


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts without cached ADC indexes."""
    clear_caches()
    yield
    clear_caches()


# ----- fixtures several modules share ---------------------------------------------------------


FACES = ("sync", "async")


@pytest.fixture(params=FACES)
def face(request) -> str:
    """Each face: ``'sync'`` or ``'async'`` (the one face list of the suite; what every store does on
    both is :mod:`test_conformance`)."""
    return request.param


@pytest.fixture(params=["sync-directory", "async-directory", "sync-store", "async-store"])
def reader(request):
    """Each of the four filesystem readers: a data directory or a bin store, on either face."""
    from ifcbkit import AsyncFilesystemBinStore, AsyncIfcbDataDirectory, SyncFilesystemBinStore, SyncIfcbDataDirectory

    return {
        "sync-directory": SyncIfcbDataDirectory,
        "async-directory": AsyncIfcbDataDirectory,
        "sync-store": SyncFilesystemBinStore,
        "async-store": AsyncFilesystemBinStore,
    }[request.param]


@pytest.fixture(scope="session")
def endpoint():
    """A real S3 API server (moto) on 127.0.0.1 for the whole session; modules make their own buckets."""
    from servers import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def client(endpoint):
    """A boto3 S3 client on :func:`endpoint`."""
    import boto3

    from servers import s3_client_options

    c = boto3.client("s3", **s3_client_options(endpoint))
    yield c
    c.close()
