"""Finding one bin of a data directory: where its id puts it (a few ``stat`` calls), else in the
directories a listing would look in, from their remembered entries.

A listing keeps a bin found in directories that are each not excluded and either included or a
substring of its id (``D2024``, ``D20240215``, ``IFCB5_2012_028``, ``2024``): :func:`search` looks
in exactly those, so ``exists`` is True exactly when :meth:`DirectorySource.list
<ifcbkit.sources.directory.DirectorySource.list>` would yield the bin. Each directory's entries
(one ``os.scandir``) are remembered in :class:`DirEntries` while the directory's ``stat`` is
unchanged: a miss in a day that exists costs one ``stat`` per directory on the way, never a new
listing of a year of day folders.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from typing import Any

from ..engine.cache import LRUCache
from ..engine.fileio import Listing, scan_dir
from ..engine.filters import FilesetFilter, NameRule

Fileset = dict[str, Any]

# A directory changed this recently (nanoseconds) may change again within the same timestamp tick
# (coarse file systems stamp in seconds, FAT in two): its entries are read again until it is older.
RACY_NS = 2_000_000_000

# How many names (over all directories) DirEntries remembers: a 20,000-bin year tree holds about
# 60,400 (some 6 MB of strings and sets).
MAX_NAMES = 200_000


class Unknown(Exception):
    """A directory not remembered, where :meth:`DirEntries.listing` was told not to list it."""


class Dir:
    """One directory's listing, with its subdirectory names by length: the subdirectories whose
    names are in a bin id are found with a set look-up per position of the id and name length,
    not a test of every name (a year directory holds 365)."""

    __slots__ = ("_included", "by_length", "listing")

    def __init__(self, listing: Listing):
        self.listing = listing
        self.by_length: dict[int, set[str]] = {}
        for name in listing.dirs:
            self.by_length.setdefault(len(name), set()).add(name)
        self._included: dict[NameRule, frozenset[str]] = {}

    def children(self, bin_id: str, keep: FilesetFilter) -> list[str]:
        """The subdirectories a listing enters that can hold ``bin_id``, in name order."""
        size = len(bin_id)
        if len(self.listing.dirs) <= 8:  # a few names: test each
            return sorted(
                name for name in self.listing.dirs
                if (name in bin_id or name in keep.included) and name not in keep.excluded
            )  # fmt: skip
        names = {
            part for length, named in self.by_length.items() if length <= size
            for part in [bin_id[i : i + length] for i in range(size - length + 1)] if part in named
        }  # fmt: skip
        included = self._included.get(keep.included)
        if included is None:
            included = self._included[keep.included] = frozenset(n for n in self.listing.dirs if n in keep.included)
        return sorted(name for name in names.union(included) if name not in keep.excluded)


class DirEntries:
    """Directories' entries, each from one ``os.scandir``, remembered while the directory's inode,
    mtime, ctime and mode stay the same (one ``stat`` per look). A directory holding a symlink is
    read afresh each time (its entries' kinds depend on their targets), as is one changed in the
    last :data:`RACY_NS`. Thread-safe."""

    def __init__(self, max_names: int = MAX_NAMES):
        self._cache: LRUCache[tuple[tuple[int, int, int, int], Dir]] = LRUCache(max_size=max_names)

    def listing(self, path: str, scan: bool = True) -> Dir | None:
        """The entries of directory ``path``; ``None`` if it cannot be listed.

        Raises:
            Unknown: without ``scan``, for a directory not remembered.
        """
        cached = self._cache.get(path)
        if cached is None and not scan:
            raise Unknown(path)
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
        if cached is not None and cached[0] == key:
            return cached[1]
        listing, plain = _scan(path)
        if listing.error is not None:
            return None
        entries = Dir(listing)
        if plain and time.time_ns() - st.st_mtime_ns > RACY_NS:
            self._cache.put(path, (key, entries), size=len(listing.names) + 1)
        return entries


def _scan(path: str) -> tuple[Listing, bool]:
    """The directory's listing, and whether it holds no symlink (only then may it be remembered)."""
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return scan_dir(path), False  # the error, as every listing reports it
    if any(entry.is_symlink() for entry in entries):
        return scan_dir(path), False
    names = [entry.name for entry in entries]
    dirs = frozenset(entry.name for entry in entries if entry.is_dir(follow_symlinks=False))
    other = frozenset(entry.name for entry in entries if not entry.is_file(follow_symlinks=False)) - dirs
    files = frozenset(names).difference(dirs, other) if dirs or other else frozenset(names)
    return Listing(path, names, files, dirs, other, {}), True


def search(
    entries: DirEntries, root: str, bin_id: str, keep: FilesetFilter, require_adc: bool, require_roi: bool,
    *, scan: bool = True,
) -> Fileset | None:  # fmt: skip
    """The bin's fileset from the directories a listing would find it in (depth first, in name
    order, as a walk meets them; symlinked directories as a walk follows them), or ``None``.

    Raises:
        Unknown: without ``scan``, when a directory on the way is not remembered.
    """
    hdr = bin_id + ".hdr"
    seen: set[str] = set()
    stack = [root]
    while stack:
        found = entries.listing(stack.pop(), scan)
        if found is None:
            continue
        listing = found.listing
        here = listing.path + os.sep
        children = found.children(bin_id, keep)
        if listing.linked_dirs:
            children = [name for name in children if _may_enter(listing, name, seen)]
        files = listing.files
        if hdr in files and not (
            (require_adc and bin_id + ".adc" not in files) or (require_roi and bin_id + ".roi" not in files)
        ):
            before = [name for name in children if name < hdr]  # a walk meets these first
            for name in before:
                first = search(entries, here + name, bin_id, keep, require_adc, require_roi, scan=scan)
                if first is not None:
                    return first
            return _fileset(here + bin_id, files, bin_id)
        stack.extend(here + name for name in reversed(children))
    return None


def _may_enter(listing: Listing, name: str, seen: set[str]) -> bool:
    """A walk's rule for a symlinked directory: never into an ancestor, never twice into one place."""
    target = listing.linked_dirs.get(name)
    if target is None:
        return True
    here = listing.real_path or ""
    if here == target or here.startswith(target.rstrip(os.sep) + os.sep) or target in seen:
        return False
    seen.add(target)
    return True


def _fileset(base: str, files: frozenset[str], bin_id: str) -> Fileset:
    adc, roi = bin_id + ".adc", bin_id + ".roi"
    return {
        "pid": bin_id, "hdr": base + ".hdr", "adc": base + ".adc" if adc in files else None,
        "roi": base + ".roi" if roi in files else None,
    }  # fmt: skip


@functools.lru_cache(maxsize=4096)
def implied_dirs(bin_id_day: str, include: tuple[str, ...], exclude: NameRule) -> tuple[str, ...]:
    """The directories (relative to the root, each ending in a separator) where the usual layouts put
    the bins of one day (``bin_id_day`` is a bin id up to its day: ``D20240215``, ``IFCB5_2012_028``),
    the most common first: the day directory under its year directory (``D2024/D20240215/``), then
    the day directory alone, the root, and ``2024/D20240215/``, each also below an included directory
    (``data/``). Every one passes the include/exclude rule. (Where a bin is in two of them, this
    order decides; a listing takes the first in walk order.)"""
    if bin_id_day.startswith("D"):
        day, year = bin_id_day, bin_id_day[1:5]
        outer = f"D{year}"
    else:
        day = bin_id_day
        instrument, year = bin_id_day.split("_")[:2]
        outer = f"{instrument}_{year}"
    excluded = {part for part in (outer, day, year, *include) if part in exclude}
    sep, out = os.sep, []
    for mid in ((outer, day), (day,), (), (year, day)):
        for parts in (mid, *((name, *mid) for name in include)):
            if not excluded or excluded.isdisjoint(parts):
                out.append(sep.join(parts) + sep if parts else "")
    return tuple(out)


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def fileset_at(base: str, bin_id: str, require_adc: bool, require_roi: bool) -> Fileset | None:
    """The fileset with base path ``base`` if its ``.hdr`` and the required files are there."""
    hdr, adc, roi = base + ".hdr", base + ".adc", base + ".roi"
    if not _is_file(hdr):
        return None
    has_adc, has_roi = _is_file(adc), _is_file(roi)
    if (require_adc and not has_adc) or (require_roi and not has_roi):
        return None
    return {"pid": bin_id, "hdr": hdr, "adc": adc if has_adc else None, "roi": roi if has_roi else None}
