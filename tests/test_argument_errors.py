"""Every argument a store, a directory or a filter cannot use is an ``IfcbError`` naming the argument,
and still the ``ValueError`` (or ``TypeError``, ``KeyError``) it was in 0.3.1 (moto's S3 server on
127.0.0.1 and real temporary trees)."""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

from ifcbkit import (
    AsyncFilesystemBinStore,
    AsyncIfcbDataDirectory,
    AsyncObjectBinStore,
    AsyncS3BinStore,
    CachingBinStore,
    MemoryStore,
    ObjectBinStore,
    S3BinStore,
    S3RoiStore,
    SyncCachingBinStore,
    SyncFilesystemBinStore,
    SyncIfcbDataDirectory,
)
from ifcbkit.engine.filters import FilesetFilter
from ifcbkit.errors import ArgumentTypeError, IfcbError, InvalidArgumentError, NotFoundError
from ifcbkit.stores import SyncCachingRoiStore, SyncFilesystemRoiStore
from ifcbkit.stores.s3 import IfcbPidTransformer
from ifcbkit.testing import CONFORMANCE_D, conformance_bins, conformance_files, resolve
from servers import aio_session, s3_client_options

KEY = f"{CONFORMANCE_D}.roi"


def _raised(error: type[Exception], call: Any) -> Exception:
    with pytest.raises(IfcbError) as caught:
        call()
    assert isinstance(caught.value, error), type(caught.value).__mro__
    return caught.value


def _argument(error: Exception, argument: str) -> None:
    assert isinstance(error, (InvalidArgumentError, ArgumentTypeError))
    assert error.argument == argument and argument in str(error)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bins")
    conformance_bins(path)
    return path


@pytest.fixture(scope="module")
def bucket(client: Any, root: Path) -> str:
    name = f"ifcbkit-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    store = S3BinStore(name, client, "raw")
    for key, data in conformance_files(root).items():
        store.put(key, data)
    return name


def test_s3_store_arguments(client, bucket):
    for prefix in ("../x", "a//b", "./a", "a/.."):
        error = _raised(ValueError, lambda prefix=prefix: S3BinStore(bucket, client, prefix))
        _argument(error, "s3_prefix")
        assert repr(prefix.strip("/")) in str(error)
    _argument(_raised(TypeError, lambda: S3BinStore(bucket, client, 5)), "s3_prefix")  # type: ignore[arg-type]
    _argument(_raised(ValueError, lambda: S3BinStore("", client)), "s3_bucket")
    _argument(_raised(ValueError, lambda: S3BinStore(bucket, client, layout="tree")), "layout")  # type: ignore[arg-type]
    _argument(_raised(ValueError, lambda: S3RoiStore(bucket, client, file_type="gif")), "file_type")  # type: ignore[arg-type]
    _argument(_raised(ValueError, lambda: ObjectBinStore(MemoryStore(), "../x")), "prefix")
    _raised(ValueError, lambda: IfcbPidTransformer().reverse_transform_key("2024/nothing.txt"))


def _stores(face: str, root: Path, bucket: str, client: Any, aioclient: Any) -> list[Any]:
    memory = MemoryStore()
    ObjectBinStore(memory, "raw")  # the same files in memory
    for key, data in conformance_files(root).items():
        ObjectBinStore(memory, "raw").put(key, data)
    if face == "sync":
        return [
            S3BinStore(bucket, client, "raw"),
            SyncFilesystemBinStore(root),
            ObjectBinStore(memory, "raw"),
            SyncCachingBinStore(fs=root, s3=S3BinStore(bucket, client, "cache")),
        ]
    return [
        AsyncS3BinStore(bucket, aioclient, "raw"),
        AsyncFilesystemBinStore(root),
        AsyncObjectBinStore(memory, "raw"),
        CachingBinStore(fs=root, s3=AsyncS3BinStore(bucket, aioclient, "cache")),
    ]


async def _error(call: Any) -> Exception:
    with pytest.raises(IfcbError) as caught:
        await resolve(call())
    return caught.value


async def test_ranges_and_years(face, root, bucket, client, endpoint):

    async with aio_session().create_client("s3", **s3_client_options(endpoint)) as aioclient:
        for store in _stores(face, root, bucket, client, aioclient):
            assert await resolve(store.get_range(KEY, 0, 3)) == (root / "D2024" / "D20240215" / KEY).read_bytes()[:3]
            error = await _error(lambda store=store: store.get_range(KEY, -5, 3))
            assert isinstance(error, ValueError) and "[-5:3]" in str(error) and KEY in str(error)
            _argument(error, "start")
            error = await _error(lambda store=store: store.get_range(KEY, 10, 5))
            assert isinstance(error, ValueError)
            _argument(error, "end")
            error = await _error(lambda store=store: store.get_range(KEY, "0", 5))
            assert isinstance(error, TypeError)
            _argument(error, "start")
            if hasattr(store, "list_bins"):
                error = await _error(lambda store=store: store.list_bins(year="../"))
                assert isinstance(error, ValueError) and "'../'" in str(error)
                _argument(error, "year")


def test_caching_store_arguments(root, tmp_path):
    _argument(_raised(ValueError, lambda: SyncCachingBinStore()), "fs")
    _argument(_raised(ValueError, lambda: CachingBinStore()), "fs")
    _argument(_raised(TypeError, lambda: SyncCachingBinStore(fs=root, s3=object())), "s3")
    _argument(_raised(TypeError, lambda: SyncCachingBinStore(fs=object())), "fs")
    _argument(_raised(TypeError, lambda: SyncCachingBinStore(fs=root, s3=SyncFilesystemBinStore(root))), "s3")
    png, jpg = SyncFilesystemRoiStore(str(root)), SyncFilesystemRoiStore(str(root), file_type="jpg")
    error = _raised(ValueError, lambda: SyncCachingRoiStore(s3=png, fs=jpg))
    _argument(error, "fs")
    assert "s3: 'png'" in str(error) and "fs: 'jpg'" in str(error)


async def test_directory_and_filter_arguments(face, root):
    directory = SyncIfcbDataDirectory(root) if face == "sync" else AsyncIfcbDataDirectory(root)
    error = await _error(lambda: directory.list(start_time="yesterday"))
    assert isinstance(error, ValueError)
    _argument(error, "start_time")
    error = await _error(lambda: directory.list(end_time=1700000000))
    assert isinstance(error, TypeError)
    _argument(error, "end_time")
    _argument(_raised(ValueError, lambda: FilesetFilter(include=["data", "skip"])), "exclude")
    _argument(_raised(ValueError, lambda: SyncIfcbDataDirectory(root, include=["x"], exclude=["x"])), "exclude")
    error = _raised(ValueError, lambda: SyncFilesystemBinStore(root, require_adc=False, require_roi=True))
    _argument(error, "require_roi")


def test_compatibility_modules_and_the_memory_store(root):
    from ifcbkit.fileset import validate_path

    _argument(_raised(ValueError, lambda: validate_path("data/x.hdr", exclude=["data"], include=["data"])), "exclude")
    error = _raised(KeyError, lambda: MemoryStore().get("nothing"))
    assert isinstance(error, NotFoundError) and "'nothing'" in str(error)


def test_argument_errors_pickle():
    for error in (InvalidArgumentError("start", "start must be 0 or more"), ArgumentTypeError("end", "end: an int")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and again.argument == error.argument and str(again) == str(error)
