"""``BinSource.list_bins``: what the sources that the conformance suite cannot tell apart do (a store
of one's own that cannot list, the union of caching tiers, an object store's time range)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ifcbkit import MemoryStore, ObjectBinStore, SyncBinStore, SyncCachingBinStore
from ifcbkit.engine.requests import iterate_sync
from ifcbkit.errors import IfcbError, UnsupportedOperationError
from ifcbkit.testing import CONFORMANCE_D, CONFORMANCE_I, conformance_bins, conformance_files, write_bin

CACHE_ONLY = "D20230601T120000_IFCB010"


class GetExistsStore(SyncBinStore):
    """A store of one's own: ``get`` and ``exists`` by key."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    def __repr__(self) -> str:
        return "GetExistsStore(2 bins)"

    def get(self, key: str) -> bytes:
        return self.files[key]

    def exists(self, key: str) -> bool:
        return key in self.files


def test_a_store_of_ones_own_says_it_cannot_list_and_still_reads(tmp_path: Path) -> None:
    conformance_bins(tmp_path)
    store = GetExistsStore(conformance_files(tmp_path))
    with pytest.raises(UnsupportedOperationError) as raised:
        list(iterate_sync(store.source.list_bins()))
    assert isinstance(raised.value, IfcbError) and isinstance(raised.value, NotImplementedError)
    assert str(raised.value).startswith("GetExistsStore(2 bins) cannot list its bins")
    assert store.read_header(CONFORMANCE_D)["roiCount"] == 4
    assert len(store.read_images(CONFORMANCE_I)) == 3


def _caching(tmp_path: Path) -> SyncCachingBinStore:
    """Files on disk (the conformance bins), and a cache holding a copy of one and a bin of its own."""
    conformance_bins(tmp_path / "data")
    cache = ObjectBinStore(MemoryStore())
    files = conformance_files(tmp_path / "data")
    for key in (f"{CONFORMANCE_D}.hdr", f"{CONFORMANCE_D}.adc", f"{CONFORMANCE_D}.roi"):
        cache.put(key, files[key])
    only = write_bin(tmp_path / "elsewhere", CACHE_ONLY, [(4, 4, 0, 0)])
    for path in only[1:]:
        cache.put(path.name, path.read_bytes())
    return SyncCachingBinStore(fs=tmp_path / "data", s3=cache)


def test_caching_tiers_list_each_bin_once_in_time_order(tmp_path: Path) -> None:
    store = _caching(tmp_path)
    assert list(iterate_sync(store.source.list_bins())) == [CONFORMANCE_I, CACHE_ONLY, CONFORMANCE_D]
    assert list(iterate_sync(store.source.list_bins("2023-01-01", "2024-01-01"))) == [CACHE_ONLY]
    assert list(iterate_sync(store.source.list_bins(instrument=10))) == [CACHE_ONLY, CONFORMANCE_D]
    assert store.exists(f"{CACHE_ONLY}.hdr")  # listed as exists finds it


def test_an_object_stores_time_range_leaves_its_year_listing_as_it_was(tmp_path: Path) -> None:
    store = _caching(tmp_path).s3
    assert list(store.list_bins(2023)) == [CACHE_ONLY]  # the store's list_bins: by year
    assert list(iterate_sync(store.source.list_bins("2023-06-01T12:00:00", "2023-06-01T12:00:01"))) == [CACHE_ONLY]
    assert list(iterate_sync(store.source.list_bins(end_time="2023-06-01T12:00:00"))) == []
    assert list(iterate_sync(store.source.list_bins(instrument="IFCB010"))) == [CACHE_ONLY, CONFORMANCE_D]
