"""Walking a tree of directories: one implementation, for bins and products alike.

Depth-first, in sorted name order (chronological for standard layouts). All the
subdirectories a directory's visitor enters are listed in one
:class:`~ifcbkit.fileio.ScanDirs` request, so the async face makes one
worker-thread hop per level of the tree, never one per directory or entry. A
*visitor* decides which subdirectories to enter (and with which visitor), which to
skip with a warning (:class:`Skip`), and what to emit for each run of the other
names; the walk itself skips unreadable directories and symlink loops with a
:class:`~ifcbkit.errors.SkippedPathWarning`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, NamedTuple, Protocol

from .errors import IfcbError, NotFoundError, SkippedPathWarning
from .faces import EmitMany, Op
from .fileio import Listing, ScanDirs


class Skip(NamedTuple):
    """What a visitor's ``enter`` returns for a subdirectory to leave out with a
    :class:`~ifcbkit.errors.SkippedPathWarning` naming its path: why."""

    reason: str


class Visitor(Protocol):
    def enter(self, name: str) -> Visitor | Skip | None:
        """The visitor for subdirectory ``name``, ``None`` to leave it alone, or :class:`Skip` to leave
        it out with a warning."""

    def files(self, listing: Listing, names: list[str]) -> Op[list[Any]]:
        """What to emit, in name order, for a run of non-directory ``names`` of ``listing`` (a leaf
        directory's names come unsorted: a visitor sorts only what it keeps)."""


def warn_skipped(message: str) -> None:
    warnings.warn(message, SkippedPathWarning, stacklevel=3)


def scan_root(root: str, what: str) -> Op[Listing]:
    """The listing of a walk's root: a missing or unreadable root is an error, not a warning."""
    listing = (yield ScanDirs([root]))[0]
    if listing.error is not None:
        if isinstance(listing.error, FileNotFoundError):
            raise NotFoundError(f"{what} {root} does not exist")
        raise IfcbError(f"cannot list {what} {root}: {listing.error.strerror or listing.error}")
    return listing


def walk(root: str, visitor: Visitor, *, what: str = "directory") -> Op[None]:
    """Emit what ``visitor`` makes of the tree under ``root`` (``what`` names the root in errors)."""
    listing = yield from scan_root(root, what)
    yield from _walk(listing, visitor, set())


def _walk(listing: Listing, visitor: Visitor, seen: set[str]) -> Op[None]:
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
    if not children:  # a leaf (the usual day directory): all its names in one run
        yield from _files(visitor, listing, listing.names)
        return
    scanned = yield ScanDirs([os.path.join(listing.path, name) for name in children])
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
