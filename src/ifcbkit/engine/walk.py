"""Walking a tree of directories: one implementation, for bins and products alike.

Depth-first, in sorted name order; or, given a ``bound`` for directory names, in the order of
keys the visitor gives its items (bins: their sample time, :func:`~ifcbkit.formats.ids.time_key`),
sibling subtrees whose keys interleave merged as they stream (a subtree is opened only when the
merge reaches the lower bound its name promises: a year or day folder is walked alone). All the
subdirectories a directory's visitor enters are listed in one
:class:`~ifcbkit.engine.fileio.ScanDirs` request, so the async face makes one
worker-thread hop per level of the tree, never one per directory or entry. A
*visitor* decides which subdirectories to enter (and with which visitor), which to
skip with a warning (:class:`Skip`), and what to emit for each run of the other
names; the walk itself skips unreadable directories and symlink loops with a
:class:`~ifcbkit.errors.SkippedPathWarning`.
"""

from __future__ import annotations

import contextlib
import os
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from ..adc import warn_user
from ..errors import IfcbError, NotFoundError, SkippedPathWarning
from .fileio import Listing, ScanDirs
from .requests import EmitMany, Op, perform

# What an ordered walk's ``bound`` gives for a directory name: a lower bound of the keys below it.
Bound = Callable[[str], str]


class Skip(NamedTuple):
    """What a visitor's ``enter`` returns for a subdirectory to leave out with a
    :class:`~ifcbkit.errors.SkippedPathWarning` naming its path: why."""

    reason: str


class Visitor(Protocol):
    def enter(self, name: str) -> Visitor | Skip | None:
        """The visitor for subdirectory ``name``, ``None`` to leave it alone, or :class:`Skip` to leave
        it out with a warning."""

    def files(self, listing: Listing, names: list[str]) -> Op[Any]:
        """What to emit for a run of non-directory ``names`` of ``listing`` (a leaf directory's names
        come unsorted: a visitor sorts only what it keeps): a list, in name order; in an ordered walk,
        a :class:`Keyed` batch in key order, for all of a directory's other names at once."""


def warn_skipped(message: str) -> None:
    """A :class:`~ifcbkit.errors.SkippedPathWarning`, attributed to the user's line."""
    warn_user(SkippedPathWarning(message))


def scan_root(root: str, what: str) -> Op[Listing]:
    """The listing of a walk's root: a missing or unreadable root is an error, not a warning."""
    listing = (yield from perform(ScanDirs([root])))[0]
    if listing.error is not None:
        if isinstance(listing.error, FileNotFoundError):
            raise NotFoundError(f"{what} {root} does not exist")
        raise IfcbError(f"cannot list {what} {root}: {listing.error.strerror or listing.error}")
    return listing


def walk(root: str, visitor: Visitor, *, what: str = "directory", bound: Bound | None = None) -> Op[None]:
    """Emit what ``visitor`` makes of the tree under ``root`` (``what`` names the root in errors): in
    name order, or, with ``bound``, in the order of the keys of the ``(key, item)`` pairs the visitor
    gives (``bound(name)`` must not exceed any key under a directory ``name``; ``''`` always holds)."""
    listing = yield from scan_root(root, what)
    if bound is None:
        yield from _walk(listing, visitor, set())
    else:
        yield from _items(_ordered(listing, visitor, set(), bound))


def _children(listing: Listing, visitor: Visitor, seen: set[str]) -> dict[str, Visitor]:
    """The subdirectories to enter, with their visitors (skipped ones are warned about)."""
    children: dict[str, Visitor] = {}
    for name in sorted(listing.dirs):
        child = visitor.enter(name)
        if child is None:
            continue
        if isinstance(child, Skip):
            warn_skipped(f"skipped {os.path.join(listing.path, name)}: {child.reason}")
            continue
        target = listing.linked_dirs.get(name)
        if target is not None:  # a symlink: never into an ancestor, never twice into one place
            here = listing.real_path or ""
            if here == target or here.startswith(target.rstrip(os.sep) + os.sep):
                warn_skipped(f"skipped {os.path.join(listing.path, name)}: symlink loop (to {target})")
                continue
            if target in seen:
                warn_skipped(f"skipped {os.path.join(listing.path, name)}: {target} was already walked")
                continue
            seen.add(target)
        children[name] = child
    return children


def _walk(listing: Listing, visitor: Visitor, seen: set[str]) -> Op[None]:
    children = _children(listing, visitor, seen)
    if not children:  # a leaf (the usual day directory): all its names in one run
        yield from _files(visitor, listing, listing.names)
        return
    scanned = yield from perform(ScanDirs([os.path.join(listing.path, name) for name in children]))
    listings = dict(zip(children, scanned))
    run: list[str] = []
    for name in sorted(listing.names):
        if name not in listing.dirs:
            run.append(name)
            continue
        if name not in children:
            continue
        if run:
            yield from _files(visitor, listing, run)
            run = []
        sub = listings[name]
        if sub.error is not None:
            warn_skipped(f"skipped unreadable directory {sub.path}: {sub.error.strerror or sub.error}")
            continue
        yield from _walk(sub, children[name], seen)
    if run:
        yield from _files(visitor, listing, run)


def _files(visitor: Visitor, listing: Listing, names: list[str]) -> Op[None]:
    found = yield from visitor.files(listing, names)
    if found:
        yield EmitMany(found)


class Keyed(NamedTuple):
    """What an ordered walk's visitor gives for a directory's files: items and their keys, in key
    order (two sequences, so that a merge bisects the keys and hands on slices of the items). The keys
    may be computed as they are looked at: a merge looks at a few of them (a head, a bisection)."""

    keys: Sequence[str]
    items: list[Any]


class _Stream:
    """One sorted stream of keyed items in a merge: a directory's own files, or a subtree's walk
    (``op``, ``None`` once it has ended), with the batch it has emitted and not yet handed on."""

    __slots__ = ("error", "items", "keys", "op", "pos", "send")

    def __init__(self, op: Op[None] | None, batch: Keyed | None = None):
        self.op = op
        self.keys: Sequence[str] = batch.keys if batch else []
        self.items: list[Any] = batch.items if batch else []
        self.pos = 0
        self.send: Any = None
        self.error: Exception | None = None

    def pull(self) -> Op[None]:
        """Run the subtree's walk until it emits a non-empty batch or ends (its requests pass through)."""
        while self.pos >= len(self.keys) and self.op is not None:
            error, send = self.error, self.send
            self.error = self.send = None
            try:
                item = self.op.throw(error) if error is not None else self.op.send(send)
            except StopIteration:
                self.op = None
                return
            if isinstance(item, Keyed):
                self.keys, self.items = item
                self.pos = 0
                continue
            try:
                self.send = yield item
            except Exception as e:
                self.error = e


def _items(op: Op[None]) -> Op[None]:
    """Run an ordered walk, emitting the items of the batches it yields (its requests pass through)."""
    with contextlib.closing(op):
        send: Any = None
        error: Exception | None = None
        while True:
            try:
                item = op.throw(error) if error is not None else op.send(send)
            except StopIteration:
                return
            send = error = None
            if isinstance(item, Keyed):
                yield EmitMany(item.items)
                continue
            try:
                send = yield item
            except Exception as e:
                error = e


def _ordered(listing: Listing, visitor: Visitor, seen: set[str], bound: Bound) -> Op[None]:
    """Yield :class:`Keyed` batches of the tree under ``listing`` in key order: its own files' batch
    merged with each subtree's, a subtree opened once the merge reaches its name's bound."""
    children = _children(listing, visitor, seen)
    if not children:  # a leaf: its names in one run, sorted by the visitor
        found = yield from visitor.files(listing, listing.names)
        if found.keys:
            yield found
        return
    scanned = yield from perform(ScanDirs([os.path.join(listing.path, name) for name in children]))
    pending = sorted(
        ((bound(name), name, sub) for name, sub in zip(children, scanned)), key=lambda t: (t[0], t[1]), reverse=True
    )  # popped from the end: smallest bound first
    names = [name for name in listing.names if name not in listing.dirs]
    own = (yield from visitor.files(listing, names)) if names else None
    if (own is None or not own.keys) and len(pending) == 1:  # one subtree alone (data/, a year): nothing to merge
        _, name, sub = pending[0]
        if sub.error is not None:
            warn_skipped(f"skipped unreadable directory {sub.path}: {sub.error.strerror or sub.error}")
            return
        yield from _ordered(sub, children[name], seen, bound)
        return
    streams = [_Stream(None, own)] if own is not None and own.keys else []
    try:
        while True:
            for stream in streams:
                yield from stream.pull()
            streams = [stream for stream in streams if stream.pos < len(stream.keys)]
            heads = [stream.keys[stream.pos] for stream in streams]
            if pending and (not heads or pending[-1][0] <= min(heads)):
                _, name, sub = pending.pop()
                if sub.error is not None:
                    warn_skipped(f"skipped unreadable directory {sub.path}: {sub.error.strerror or sub.error}")
                else:
                    streams.append(_Stream(_ordered(sub, children[name], seen, bound)))
                continue
            if not streams:
                return
            first = min(range(len(streams)), key=heads.__getitem__)
            stream = streams[first]
            limits = [head for k, head in enumerate(heads) if k != first] + ([pending[-1][0]] if pending else [])
            keys, start = stream.keys, stream.pos
            end = bisect_right(keys, min(limits), lo=start) if limits else len(keys)
            end = max(end, start + 1)  # its head is the smallest: it goes now
            stream.pos = end
            if start == 0 and end == len(keys):  # the whole batch (the usual case): handed on as it is
                yield Keyed(keys, stream.items)
            else:
                yield Keyed(keys[start:end], stream.items[start:end])
    finally:
        for stream in streams:
            if stream.op is not None:
                stream.op.close()
