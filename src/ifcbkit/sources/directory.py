"""A data directory as a bin source: finding, listing and reading the bins of a tree on disk.

A tree is listed in sample-time order, whatever the naming styles: each directory's bins
sorted by time, and sibling subtrees merged as they stream (a dated directory, ``D2024``,
``D20240215`` or ``IFCB5_2014_100``, is opened only when the listing reaches its first day),
with one ``os.scandir`` per directory; :mod:`ifcbkit.engine.filters` decides
which directories are entered and which bins are kept. One bin is found where its
id puts it (a few ``stat`` calls: the year and day directories the usual layouts
use), and only when those miss, in the directories a listing would find it in, from their
remembered entries (:mod:`ifcbkit.sources.lookup`).

:class:`DirectorySource` is sans-I/O: the data directories
(:mod:`ifcbkit.faces.directory`) and the filesystem stores run its operations on their
sync or async face. The async face lists each level's subdirectories in one
worker-thread hop.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from ..adc import warn_user
from ..engine.cache import LRUCache
from ..engine.fileio import FileVersion, Listing, ReadFile, ReadRanges, ScanDirs, StatFile, StatFiles
from ..engine.filters import EnterRule, FilesetFilter, TimeLike, dir_time_key, not_a_date, not_excluded
from ..engine.requests import Blocking, Op, Request, count_emits, map_emits, perform
from ..engine.source import BinSource
from ..engine.walk import Keyed, Skip, walk, warn_skipped
from ..errors import DuplicateBinWarning, InvalidArgumentError, InvalidIdentifierError, NotFoundError, StoreError
from ..formats.ids import BIN_EXTENSIONS, TimeKeys, bin_day_dir, is_bin_id, time_key, validate_bin_id
from ..formats.ranges import ByteRange
from .lookup import DirEntries, Unknown, fileset_at, implied_dirs, search

ADCMOD_DIR = "adcmod"
ADCMOD_EXT = ".adc.mod"

T = TypeVar("T")


def adcmod_path(root: str | os.PathLike[str], fileset_dir: str, pid: str) -> str:
    """Where a corrected ADC of a bin in ``fileset_dir`` would be: ``adcmod/<day-dir>/<pid>.adc.mod``
    beside the data ``root``, ``<day-dir>`` the name of the bin's directory."""
    day = os.path.basename(os.path.normpath(fileset_dir))
    return os.path.join(os.path.dirname(os.path.abspath(root)), ADCMOD_DIR, day, pid + ADCMOD_EXT)


Fileset = dict[str, Any]

__all__ = ["ADCMOD_DIR", "ADCMOD_EXT", "DirectorySource", "Fileset", "adcmod_path"]


# ----- the data directory ---------------------------------------------------------------------


class DirectorySource(BinSource):
    """The bins of a tree on disk (see the module doc): the bin-source primitives, plus listing
    (:meth:`list`, :meth:`list_data_dirs`) and finding (:meth:`find`, :meth:`paths`, :meth:`has_bin`)."""

    def __init__(
        self, root_path: str | os.PathLike[str], include: Iterable[str], exclude: Iterable[str],
        require_adc: bool, require_roi: bool,
    ):  # fmt: skip
        """The tree at ``root_path`` under the include/exclude rule; a bin counts with its ``.hdr`` and
        the files ``require_adc`` and ``require_roi`` ask for.

        Raises:
            InvalidArgumentError: (a ``ValueError``) if ``include`` and ``exclude`` overlap, or for
                ``require_roi`` without ``require_adc``.
        """
        self.root_path = root_path
        self.root = os.path.abspath(os.fspath(root_path))
        self.include = tuple(include)
        self._last_layout = 0
        self._root_prefix = self.root + os.sep
        self._adcmod: bool | None = None
        self.exclude = tuple(exclude)
        self._filter = FilesetFilter(self.include, self.exclude)  # checks the overlap
        # direct lookups build paths from exact include names only, never from a pattern
        self._lookup_include = tuple(
            name for name in dict.fromkeys(self.include) if name in self._filter.included.names
        )
        if require_roi and not require_adc:
            raise InvalidArgumentError(
                "require_roi", "require_roi=True needs require_adc=True (a .roi is unreadable without its .adc)"
            )
        self.require_adc = require_adc
        self.require_roi = require_roi
        self.adcmod_root = os.path.join(os.path.dirname(self.root), ADCMOD_DIR)
        self._located: LRUCache[Fileset] = LRUCache(max_size=8192)
        self._entries = DirEntries()  # the directories' entries a search looks in

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    # ----- walking ---------------------------------------------------------------------------

    def _walk(
        self, keep: FilesetFilter, enter: EnterRule, emit: Callable[[Fileset], Any] | None, validate: bool = True,
        *, ordered: bool = True,
    ) -> Op[None]:  # fmt: skip
        """Walk the tree, entering the directories ``enter`` allows, and emit ``emit(fileset)`` (unless it
        is ``None``; the fileset itself without ``emit``) for each bin ``keep`` accepts (and, when
        ``validate``, whose directory path passes the include rule): in sample-time order when
        ``ordered``, else in name order."""
        adcmod = _Adcmod(self.adcmod_root)
        yield from adcmod.check()
        visitor = _BinVisitor(self, keep, enter, emit, adcmod, [], validate, ordered=ordered)
        included = keep.included

        def bound(name: str) -> str:  # a dated name promises its dates, unless it is an included name
            return "" if name in included else dir_time_key(name)

        yield from walk(self.root, visitor, what="data directory", bound=bound if ordered else None)

    def _filesets(self, listing: Listing, pids: list[str], checked: list[str], keep: FilesetFilter) -> list[Fileset]:
        """The bins (from the names of their ``.hdr`` files) of one directory that pass the filter and have
        the files this directory requires."""
        for part in checked:
            pids = [pid for pid in pids if part in pid]
        pids = keep.select(pids)
        files = listing.files
        prefix = listing.path + os.sep
        if listing.broken:
            for pid in pids:
                for bad in sorted({f"{pid}.{ext}" for ext in BIN_EXTENSIONS} & listing.broken):
                    warn_skipped(f"skipped {prefix}{bad}: not a readable file (broken symlink?)")
        if listing.dirs:
            for pid in pids:
                for bad in sorted({f"{pid}.{ext}" for ext in BIN_EXTENSIONS} & listing.dirs):
                    warn_skipped(f"skipped {prefix}{bad}: a directory, not a file")
        if not (listing.dirs or listing.broken) and self.require_roi:  # the usual case: complete triplets only
            return [
                {"pid": p, "hdr": f"{prefix}{p}.hdr", "adc": f"{prefix}{p}.adc", "roi": f"{prefix}{p}.roi"}
                for p in pids
                if f"{p}.roi" in files and f"{p}.adc" in files
            ]
        out = []
        for pid in pids:
            hdr, adc, roi = pid + ".hdr", pid + ".adc", pid + ".roi"
            has_adc, has_roi = adc in files, roi in files
            if hdr not in files or (self.require_adc and not has_adc) or (self.require_roi and not has_roi):
                continue
            out.append({
                "pid": pid, "hdr": prefix + hdr, "adc": prefix + adc if has_adc else None,
                "roi": prefix + roi if has_roi else None,
            })  # fmt: skip
        return out

    def list(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
        *,
        validate: bool = True,
    ) -> Op[None]:
        """The bins in the tree as ``{'pid', 'hdr', 'adc', 'roi'}`` dicts (paths; ``None`` for a
        file that is allowed to be missing), in sample-time order across naming styles, within
        ``[start_time, end_time)`` and for the given instrument(s). ``validate=False`` drops the include rule.

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid time; InvalidIdentifierError (a
                ``ValueError``) for an invalid instrument; NotFoundError: if the root does not exist.
        """
        keep = FilesetFilter(self.include, self.exclude, start_time, end_time, instrument)
        if not validate:
            yield from self._walk(keep, not_excluded, None, validate=False)
            return
        listed = yield from count_emits(self._walk(keep, FilesetFilter.enter, None))
        if not listed and start_time is None and end_time is None and instrument is None:
            missed = yield from perform(
                Blocking(_a_bin_the_rule_leaves_out, self.root, tuple(self.include), tuple(self.exclude))
            )
            if missed is not None:  # a tree organised otherwise (by cruise, by station): say why it lists nothing
                folder = os.path.basename(os.path.dirname(missed))
                warn_skipped(
                    f"no bin listed under {self.root}, though it holds {missed}: a bin's directories must be named"
                    f" {sorted(self.include)!r} (include=) or like its year or day (D2024, D20240215, IFCB5_2012_028);"
                    f" include=[{folder!r}] (the command line's --include {folder}) would list it"
                )

    def list_bins(
        self,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        instrument: int | str | Iterable[int | str] | None = None,
    ) -> Op[None]:
        """The ids of the bins :meth:`list` lists, in its order (sample time).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an invalid time; InvalidIdentifierError (a
                ``ValueError``) for an invalid instrument; NotFoundError: if the root does not exist.
        """
        yield from map_emits(self.list(start_time, end_time, instrument), _pid_of)

    def list_data_dirs(self) -> Op[None]:
        """The directories (absolute paths) that directly hold at least one bin, in the order
        :meth:`list` reaches them."""
        emitted: set[str] = set()

        def emit(fileset: Fileset) -> str | None:
            directory: str = os.path.dirname(fileset["hdr"])
            if directory in emitted:
                return None
            emitted.add(directory)
            return directory

        yield from self._walk(self._filter, FilesetFilter.enter, emit)

    # ----- finding one bin -------------------------------------------------------------------

    def _search(self, bin_id: str, scan: bool = True) -> Fileset | None:
        """The bin from the directories a listing would find it in (see :mod:`.lookup`), or ``None``.

        Raises:
            Unknown: without ``scan``, when a directory on the way is not remembered.
        """
        fileset = search(self._entries, self.root, bin_id, self._filter, self.require_adc, self.require_roi, scan=scan)
        if fileset is not None and fileset["adc"] is not None and self._has_adcmod():  # as a listing finds it
            corrected = os.path.join(self.adcmod_root, bin_day_dir(bin_id), bin_id + ADCMOD_EXT)
            fileset["adc"] = corrected if os.path.isfile(corrected) else fileset["adc"]
        return fileset

    def _find_one(self, bin_id: str) -> Fileset | None:
        """The bin where the tree's layout puts it (a ``stat`` of its files), else from the remembered
        entries of the directories that can hold it (a ``stat`` of each), else where the other usual
        layouts put it, else where a listing would find it (all in one worker-thread hop)."""
        fileset = self._direct(bin_id, last_only=True)
        if fileset is not None:
            return fileset
        try:
            return self._search(bin_id, scan=False)
        except Unknown:
            pass
        fileset = self._direct(bin_id)
        return fileset if fileset is not None else self._search(bin_id)

    def _direct(self, bin_id: str, last_only: bool = False) -> Fileset | None:
        """The bin where its id puts it (a few ``stat`` calls), or ``None``; ``last_only``: only in the
        layout that last held a bin (a tree has one layout)."""
        root = self._root_prefix
        day = bin_id[:9] if bin_id.startswith("D") else bin_id.rsplit("_", 1)[0]
        layouts = implied_dirs(day, self._lookup_include, self._filter.excluded)
        last = self._last_layout
        fileset = None
        if last < len(layouts):
            fileset = fileset_at(root + layouts[last] + bin_id, bin_id, self.require_adc, self.require_roi)
        if fileset is None:
            if last_only:
                return None
            for position, layout in enumerate(layouts):
                fileset = fileset_at(root + layout + bin_id, bin_id, self.require_adc, self.require_roi)
                if fileset is not None:
                    self._last_layout = position
                    break
            else:
                return None
        if fileset["adc"] is not None and self._has_adcmod():
            corrected = adcmod_path(self.root, os.path.dirname(fileset["hdr"]), bin_id)
            fileset["adc"] = corrected if os.path.isfile(corrected) else fileset["adc"]
        return fileset

    def _has_adcmod(self) -> bool:
        """Whether an ``adcmod`` directory is beside the root (looked at once: like the files located,
        the answer is remembered for this object's lifetime)."""
        if self._adcmod is None:
            self._adcmod = os.path.isdir(self.adcmod_root)
        return self._adcmod

    def _locate(self, pid: str, *, fresh: bool = False) -> Op[Fileset]:
        """The bin's fileset: remembered, else where its id puts it, else found by a walk of the
        directories that can hold it (concurrent walks for one bin run once)."""
        return (yield from self._locate_bin(_bin_id(pid), fresh))

    def _locate_bin(self, bin_id: str, fresh: bool, explain: bool = True) -> Op[Fileset]:
        fileset = None if fresh else self._located.get(bin_id)
        if fileset is not None:
            return fileset
        fileset = yield from perform(Blocking(self._find_one, bin_id))
        if fileset is None:
            self._located.discard(bin_id)
            missing = (yield from perform(Blocking(self._missing_files, bin_id))) if explain else None
            raise NotFoundError(missing or f"no bin {bin_id} in {self.root}")
        self._located.put(bin_id, fileset)
        return fileset

    def _missing_files(self, bin_id: str) -> str | None:
        """What a bin lacks, when its ``.hdr`` is where its id puts it but a file this directory
        requires is not: the one message every command and method gives for it (``None`` otherwise)."""
        if not (self.require_adc or self.require_roi):
            return None
        day = bin_id[:9] if bin_id.startswith("D") else bin_id.rsplit("_", 1)[0]
        for layout in implied_dirs(day, self._lookup_include, self._filter.excluded):
            base = self._root_prefix + layout + bin_id
            partial = fileset_at(base, bin_id, False, False)
            if partial is not None:
                lacking = [ext for ext in ("adc", "roi") if partial[ext] is None and getattr(self, f"require_{ext}")]
                if lacking:
                    files = " and ".join(f"{base}.{ext}" for ext in lacking)
                    what = " and ".join(f".{ext}" for ext in lacking)
                    return f"bin {bin_id} has no {what} file: {files} is missing"
        return None

    def _locate_checked(self, pid: str, explain: bool = True) -> Op[Fileset]:
        """:meth:`_locate` for questions about the disk itself: a remembered location is checked
        (one ``stat`` per file), and a bin moved or deleted since is searched again."""
        bin_id = _bin_id(pid)
        remembered = self._located.get(bin_id)
        if remembered is not None:
            files = [path for ext in BIN_EXTENSIONS if (path := remembered.get(ext)) is not None]
            if (yield from perform(Blocking(_all_files, files))):
                return remembered
        return (yield from self._locate_bin(bin_id, True, explain))  # not remembered, or no longer there

    def find(self, pid: str) -> Op[Fileset]:
        """The bin's fileset ``{'pid', 'hdr', 'adc', 'roi'}`` (``adc`` is a corrected ``.adc.mod``
        when there is one).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError (a ``ValueError``
                and a ``KeyError``) if ``pid`` is not a bin id (for a ROI id, the message names its bin).
        """
        return dict((yield from self._locate_checked(pid)))

    def paths(self, pid: str) -> Op[dict[str, str | None]]:
        """The bin's ``{'hdr', 'adc', 'roi'}`` paths (``None`` for a file allowed to be missing).

        Raises:
            NotFoundError: (a ``KeyError``) if it is not there; InvalidIdentifierError (a ``ValueError``
                and a ``KeyError``) if ``pid`` is not a bin id (for a ROI id, the message names its bin).
        """
        fileset = yield from self._locate_checked(pid)
        return {"hdr": fileset["hdr"], "adc": fileset["adc"], "roi": fileset["roi"]}

    def has_bin(self, pid: str) -> Op[bool]:
        """Whether the bin is in the tree (with the files this directory requires); ``False`` for
        an id that is not a bin id."""
        try:
            yield from self._locate_checked(pid, explain=False)  # the answer is False: no message is needed
            return True
        except NotFoundError:
            return False
        except InvalidIdentifierError:
            return False

    # ----- the bin-source primitives ----------------------------------------------------------

    def describe(self, bin_id: str, ext: str) -> str:
        fileset = self._located.get(bin_id)
        return (fileset or {}).get(ext) or f"{bin_id}.{ext} under {self.root}"

    def cache_token(self) -> Hashable:
        """The tree and its rules: file versions carry their paths, so directory objects over one
        tree share cached indexes."""
        return ("directory", self.root, self.include, self.exclude, self.require_adc, self.require_roi)

    def _on_file(self, bin_id: str, ext: str, request: Callable[[str], Request[T]]) -> Op[T]:
        """Run a request on one of the bin's files, locating the bin again if the file moved."""
        for fresh in (False, True):
            fileset = yield from self._locate(bin_id, fresh=fresh)
            path = fileset.get(ext)
            if path is None:
                raise NotFoundError(f"bin {bin_id} has no .{ext} file (in {os.path.dirname(fileset['hdr'])})")
            try:
                return (yield from perform(request(path)))
            except FileNotFoundError:
                continue
            except OSError as e:  # unreadable (permissions, a directory, an I/O error): named, never bare
                raise StoreError(f"cannot read {path}: {e.strerror or e}") from e
        raise NotFoundError(f"{path} disappeared while being read")

    def read_file(self, bin_id: str, ext: str) -> Op[bytes]:
        return (yield from self._on_file(bin_id, ext, ReadFile))

    def read_ranges(
        self, bin_id: str, ext: str, ranges: builtins.list[ByteRange]
    ) -> Op[builtins.list[bytes]]:  # ``list`` is also a method here
        return (yield from self._on_file(bin_id, ext, lambda path: ReadRanges(path, ranges)))

    def version(self, bin_id: str, ext: str) -> Op[FileVersion]:
        return (yield from self._on_file(bin_id, ext, StatFile))

    def versions(self, bin_id: str) -> Op[Hashable | None]:
        """Both files' versions in one request (one ``stat`` each)."""
        for fresh in (False, True):
            fileset = yield from self._locate(bin_id, fresh=fresh)
            adc, hdr = fileset.get("adc"), fileset["hdr"]
            if adc is None:
                raise NotFoundError(f"bin {bin_id} has no .adc file (in {os.path.dirname(hdr)})")
            try:
                return (yield from perform(StatFiles([adc, hdr])))
            except FileNotFoundError:
                continue
        raise NotFoundError(f"{bin_id}'s files disappeared while being read")

    def size(self, bin_id: str, ext: str) -> Op[int]:
        return (yield from self._on_file(bin_id, ext, StatFile)).size

    def exists(self, bin_id: str, ext: str) -> Op[bool]:
        try:
            return (yield from self._locate_checked(bin_id, explain=False)).get(ext) is not None
        except NotFoundError:
            return False


def _pid_of(fileset: Fileset) -> tuple[str]:
    return (fileset["pid"],)


def _bin_id(pid: str) -> str:
    """``pid`` if it is a bin id (one pattern match); else the error says what it is (a ROI id: whose)."""
    return pid if is_bin_id(pid) else validate_bin_id(pid)


def _all_files(paths: list[str]) -> bool:
    return all(os.path.isfile(path) for path in paths)


# How far :func:`_a_bin_the_rule_leaves_out` looks (directories) for a bin an empty listing missed.
_PROBE_DIRS = 2000


def _a_bin_the_rule_leaves_out(root: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> str | None:
    """The path of a ``.hdr`` named like a bin in a directory the include rule does not enter (and
    that is not excluded), within the first :data:`_PROBE_DIRS` directories; ``None`` if there is none."""
    keep = FilesetFilter(list(include), list(exclude))
    stack = [(root, False)]  # (directory, inside a directory the rule leaves out)
    for _ in range(_PROBE_DIRS):
        if not stack:
            return None
        directory, left_out = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda entry: entry.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in keep.excluded:
                    stack.append((entry.path, left_out or not keep.enter(entry.name)))
            elif left_out and entry.name.endswith(".hdr") and is_bin_id(entry.name[:-4]):
                return entry.path
    return None


# Above this many names in one run, a visitor matches them in a worker thread on the async face
# (30,000 bins in one folder take about 100 ms to sort and match: too long to hold the event loop).
_BIG_RUN = 3000


class _BinVisitor:
    """What a data-directory walk does in each directory: bins from the ``.hdr`` names, and into which
    subdirectories to go (with the filter narrowed to the subtree, see :meth:`FilesetFilter.within`)."""

    __slots__ = ("adcmod", "checked", "directory", "emit", "enter_rule", "keep", "listed", "ordered", "validate")

    def __init__(
        self, directory: DirectorySource, keep: FilesetFilter, enter_rule: EnterRule,
        emit: Callable[[Fileset], Any] | None, adcmod: _Adcmod, checked: list[str], validate: bool = True,
        listed: _Listed | None = None, *, ordered: bool = False,
    ):  # fmt: skip
        self.validate = validate
        self.ordered = ordered  # emit (time key, item) pairs sorted by key
        self.listed = listed if listed is not None else _Listed()
        self.directory = directory
        self.keep = keep
        self.enter_rule = enter_rule
        self.emit = emit
        self.adcmod = adcmod
        self.checked = checked  # path components not in include: each must be a substring of every bin id

    def enter(self, name: str) -> _BinVisitor | Skip | None:
        if not self.enter_rule(self.keep, name):
            # a listing says why it leaves out a dated name that is no date (D20241399): no bin of a
            # valid id can be under it (a search for one bin enters only that bin's dates anyway)
            if (
                self.enter_rule is FilesetFilter.enter
                and name not in self.keep.included
                and name not in self.keep.excluded
            ):
                reason = not_a_date(name)
                if reason is not None:
                    return Skip(f"{reason}, so no bin can be under it")
            return None
        checked = self.checked
        if self.validate and name not in self.keep.included:  # a part inside another needs no test of its own
            checked = [part for part in checked if part not in name] + [name]
        return _BinVisitor(
            self.directory, self.keep.within(name), self.enter_rule, self.emit, self.adcmod, checked, self.validate,
            self.listed, ordered=self.ordered,
        )  # fmt: skip

    def files(self, listing: Listing, names: list[str]) -> Op[Any]:
        big = len(names) > _BIG_RUN  # a flat folder of thousands of bins: match them off the event loop
        if not self.adcmod.present:
            return (
                (yield from perform(Blocking(self._matched, listing, names))) if big else self._matched(listing, names)
            )
        found = (yield from perform(Blocking(self._found, listing, names))) if big else self._found(listing, names)
        for fileset in found:
            if fileset["adc"] is not None:
                fileset["adc"] = (yield from self.adcmod.find(fileset["pid"])) or fileset["adc"]
        return self._emitted(found)

    def _matched(self, listing: Listing, names: list[str]) -> Any:
        return self._emitted(self._found(listing, names))

    def _emitted(self, found: list[Fileset]) -> Any:
        """What the walk emits for a directory's bins (in name order): the emitted items, in a
        :class:`~ifcbkit.engine.walk.Keyed` batch in sample-time order when the walk is ordered."""
        if not self.ordered:
            if self.emit is None:
                return found
            return [item for item in map(self.emit, found) if item is not None]
        if not (found and found[0]["pid"][0] == "D" == found[-1]["pid"][0]):  # (D-style ids sort as their times)
            found = sorted(found, key=_fileset_time)
        if self.emit is None:
            return Keyed(TimeKeys([f["pid"] for f in found]), found)
        kept = [(f["pid"], item) for f in found if (item := self.emit(f)) is not None]
        return Keyed(TimeKeys([pid for pid, _ in kept]), [item for _, item in kept])

    def _found(self, listing: Listing, names: list[str]) -> list[Fileset]:
        pids = sorted([n[:-4] for n in names if n.endswith(".hdr")])
        found = self.directory._filesets(listing, pids, self.checked, self.keep) if pids else []
        return self.listed.keep_first(found) if found else found


def _fileset_time(fileset: Fileset) -> str:
    return time_key(fileset["pid"])


class _Listed:
    """The bins one walk has listed so far: a bin id is listed once, where the walk first finds it (a
    symlinked year directory, or a copy of a day, would list it twice)."""

    __slots__ = ("paths",)

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}

    def keep_first(self, found: list[Fileset]) -> list[Fileset]:
        again = self.paths.keys() & {f["pid"] for f in found}
        if again:
            for fileset in found:
                if fileset["pid"] in again:
                    warn_user(DuplicateBinWarning(
                        f"skipped {fileset['hdr']}: bin {fileset['pid']} was already listed from "
                        f"{self.paths[fileset['pid']]}"
                    ))  # fmt: skip
            found = [f for f in found if f["pid"] not in again]
        self.paths.update((f["pid"], f["hdr"]) for f in found)
        return found


class _Adcmod:
    """Finds corrected ADC files ``adcmod/<day-dir>/<pid>.adc.mod`` beside the data root, for one walk."""

    def __init__(self, root: str):
        self.root = root
        self.present = False
        self.listings: dict[str, Listing] = {}

    def check(self) -> Op[None]:
        self.present = (yield from perform(ScanDirs([self.root])))[0].error is None

    def find(self, pid: str) -> Op[str | None]:
        day = bin_day_dir(pid)
        listing = self.listings.get(day)
        if listing is None:
            listing = self.listings[day] = (yield from perform(ScanDirs([os.path.join(self.root, day)])))[0]
        name = pid + ADCMOD_EXT
        if name in listing.files:
            return os.path.join(listing.path, name)
        return None
