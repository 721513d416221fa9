"""One direction between stores and sources: a store's source reads through the store's own ``get``
and ``exists`` functions, never back through the store's read methods, so a subclass of a store of
this package that skips ``super().__init__`` gets a clear library error (or, with ``get`` and
``exists`` of its own, works), never a ``RecursionError``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ifcbkit import AsyncFilesystemBinStore, KeyedSource, SyncFilesystemBinStore
from ifcbkit.errors import UnsupportedOperationError
from ifcbkit.testing import CONFORMANCE_D, conformance_bins, conformance_files


class SyncSkipsInit(SyncFilesystemBinStore):
    def __init__(self, root: Path):
        self.where = root  # no super().__init__: no source was set up


class AsyncSkipsInit(AsyncFilesystemBinStore):
    def __init__(self, root: Path):
        self.where = root


class SyncOwnKeys(SyncFilesystemBinStore):
    """Skips ``super().__init__`` but serves ``get`` and ``exists`` itself."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    def get(self, key: str) -> bytes:
        return self.files[key]

    def exists(self, key: str) -> bool:
        return key in self.files


class AsyncOwnKeys(AsyncFilesystemBinStore):
    def __init__(self, files: dict[str, bytes]):
        self.files = files

    async def get(self, key: str) -> bytes:
        return self.files[key]

    async def exists(self, key: str) -> bool:
        return key in self.files


def _message(raised: pytest.ExceptionInfo[UnsupportedOperationError], name: str) -> None:
    assert str(raised.value).startswith(f"{name} has no source to read from")
    assert "super().__init__" in str(raised.value)


def test_sync_subclass_skipping_init_raises_a_library_error(tmp_path: Path) -> None:
    conformance_bins(tmp_path)
    store = SyncSkipsInit(tmp_path)
    with pytest.raises(UnsupportedOperationError) as raised:
        store.read_image(f"{CONFORMANCE_D}_00001")
    _message(raised, "SyncSkipsInit")
    with pytest.raises(UnsupportedOperationError) as raised:
        store.get(f"{CONFORMANCE_D}.hdr")
    _message(raised, "SyncSkipsInit")
    with pytest.raises(UnsupportedOperationError):
        store.exists(f"{CONFORMANCE_D}.hdr")


async def test_async_subclass_skipping_init_raises_a_library_error(tmp_path: Path) -> None:
    conformance_bins(tmp_path)
    store = AsyncSkipsInit(tmp_path)
    with pytest.raises(UnsupportedOperationError) as raised:
        await store.read_image(f"{CONFORMANCE_D}_00001")
    _message(raised, "AsyncSkipsInit")
    with pytest.raises(UnsupportedOperationError) as raised:
        await store.get(f"{CONFORMANCE_D}.adc")
    _message(raised, "AsyncSkipsInit")


def test_sync_subclass_with_its_own_get_and_exists_reads(tmp_path: Path) -> None:
    conformance_bins(tmp_path)
    files = conformance_files(tmp_path)
    store = SyncOwnKeys(files)
    assert store.read_image(f"{CONFORMANCE_D}_00001").size == (12, 7)
    assert sorted(store.list_images(CONFORMANCE_D)) == [1, 3, 4, 5]
    assert isinstance(store.source, KeyedSource)
    assert store.get(f"{CONFORMANCE_D}.hdr") == files[f"{CONFORMANCE_D}.hdr"]


async def test_async_subclass_with_its_own_get_and_exists_reads(tmp_path: Path) -> None:
    conformance_bins(tmp_path)
    store = AsyncOwnKeys(conformance_files(tmp_path))
    assert (await store.read_image(f"{CONFORMANCE_D}_00003")).size == (30, 20)
    assert sorted(await store.list_images(CONFORMANCE_D)) == [1, 3, 4, 5]


def test_keyed_source_holds_functions_not_the_store(tmp_path: Path) -> None:
    conformance_bins(tmp_path)
    store = SyncOwnKeys(conformance_files(tmp_path))
    source = store.source
    assert store not in vars(source).values()
    assert source.describe(CONFORMANCE_D, "hdr") == f"{CONFORMANCE_D}.hdr"
