"""An amplify-shaped object store in memory."""

from __future__ import annotations

from ..engine.cache import LRUCache
from ..errors import NotFoundError

__all__ = ["MemoryStore"]


class MemoryStore:
    """An amplify-shaped object store in memory, bounded by the total size of its values
    (least recently used first out): the memory tier of a :class:`~ifcbkit.stores.caching.CachingRoiStore`."""

    def __init__(self, max_bytes: int = 64 * 2**20):
        self._entries: LRUCache[bytes] = LRUCache(max_bytes)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._entries)} objects, {self._entries.size} bytes)"

    def get(self, key: str) -> bytes:
        """The value under ``key``.

        Raises:
            NotFoundError: (a ``KeyError``) when there is none.
        """
        value = self._entries.get(key)
        if value is None:
            raise NotFoundError(f"no {key!r} in {self!r}")
        return value

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start:end]`` of the value under ``key``."""
        return self.get(key)[start:end]

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key`` (the least recently used values leave when full)."""
        self._entries.put(key, bytes(data), size=len(data) + 1)

    def exists(self, key: str) -> bool:
        """Whether a value is kept under ``key``."""
        return self._entries.get(key) is not None

    def delete(self, key: str) -> None:
        """Forget the value under ``key``, if any."""
        self._entries.discard(key)

    def keys(self, prefix: str = "") -> list[str]:
        """The keys that start with ``prefix``, sorted."""
        return sorted(k for k in self._entries if isinstance(k, str) and k.startswith(prefix))
