"""Bounded in-process caches: parsed ADC indexes and located filesets.

Entries are keyed by what identifies a file's content (for files: path, inode,
size and ``st_mtime_ns``), so a rewritten file is a different key and is never
served stale; the bound is on the sum of the entries' sizes.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """A thread-safe least-recently-used mapping bounded by total size (each entry states its size)."""

    def __init__(self, max_size: int):
        self.max_size = max_size
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._size

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V, size: int = 1) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]
            if size > self.max_size:
                return
            self._entries[key] = (value, size)
            self._size += size
            while self._size > self.max_size:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= evicted

    def __getstate__(self) -> dict[str, object]:
        """Picklable (for process pools): the entries and the bound, without the lock."""
        with self._lock:
            return {"max_size": self.max_size, "entries": list(self._entries.items())}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.max_size = state["max_size"]  # type: ignore[assignment]
        self._entries = OrderedDict(state["entries"])  # type: ignore[call-overload]
        self._size = sum(size for _, size in self._entries.values())
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Hashable]:
        """The keys as they are now (a snapshot), least recently used first."""
        with self._lock:
            return iter(list(self._entries))

    def discard(self, key: Hashable) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0


def cache_token(owner: object) -> str:
    """A token naming ``owner``'s entries in the process-wide caches: unique to the object, never
    reused (unlike ``id()``, which a new object can get once the old one is collected), and kept by
    a pickled copy (so a copy in a worker process shares its own entries only)."""
    token = getattr(owner, "_cache_token", None)
    if token is None:
        token = uuid.uuid4().hex
        owner._cache_token = token  # type: ignore[attr-defined]
    return token


# Parsed ADC indexes (with their bin's header), bounded by the ADC bytes they hold.
ADC_INDEX_CACHE: LRUCache[Any] = LRUCache(max_size=256 * 2**20)


def clear_caches() -> None:
    """Forget every cached ADC index (for example before a cold-read measurement)."""
    ADC_INDEX_CACHE.clear()
