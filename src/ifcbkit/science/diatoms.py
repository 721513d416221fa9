"""Which classes are diatoms: a bundled table of genera, or the user's own list.

Carbon depends on it (diatoms have their own Menden-Deuer & Lessard equations). iRfcb asks
WoRMS for each class's genus; ifcb-analysis reads a table (``IFCB_classlist_type.csv``, a
``CNN_classlist`` column and a 0/1 ``Diatom`` column among other groups). ifcbkit ships a
static table, ``data/diatom_genera.txt`` (its header names its source), matched by genus:
``Chaetoceros_chain`` is a diatom because *Chaetoceros* is in it. A user's file
(:func:`read_diatom_list`) instead names whole classes, as ifcb-analysis's table does.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from ..errors import FormatError
from ..formats.files import read_local_file
from .class_rules import warn_unknown_classes

__all__ = ["DiatomTable", "default_diatoms", "is_diatom", "parse_diatom_list", "read_diatom_list"]

_WORDS = re.compile(r"[_\s-]+")
_CLASS_COLUMNS = ("class", "class_name", "cnn_classlist", "classlist", "name", "taxon")
_DIATOM_COLUMNS = ("diatom", "is_diatom")
_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "no", "n", ""})


def _key(text: str) -> str:
    """A name as compared: case, '.', '_', '-' and spaces ignored (``Pseudo-nitzschia`` ==
    ``pseudo_nitzschia`` == ``Pseudonitzschia``)."""
    return "".join(_WORDS.split(text.strip().casefold())).replace(".", "")


def _genus_keys(name: str) -> tuple[str, ...]:
    words = [w for w in _WORDS.split(name.strip().casefold().replace(".", "")) if w]
    if not words:
        return ()
    return (words[0], words[0] + words[1]) if len(words) > 1 else (words[0],)


@dataclass(frozen=True)
class DiatomTable:
    """Names that mark a class as a diatom.

    ``by_genus``: match a class by its first word (or first two joined), as the bundled table of
    genera does; else by its whole name, as a user's list does. ``entries`` are the names as the
    file wrote them with their decision (``False`` rows of a CSV too), for warnings about names
    that are not classes; ``source`` names the file.
    """

    entries: tuple[tuple[str, bool], ...]
    by_genus: bool = False
    source: str = "<diatoms>"

    @functools.cached_property
    def _keys(self) -> frozenset[str]:
        return frozenset(_key(name) for name, diatom in self.entries if diatom)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if self.by_genus:
            return any(key in self._keys for key in _genus_keys(name))
        return _key(name) in self._keys

    def warn_unknown(self, class_names: Iterable[str]) -> list[str]:
        """Warn (:class:`~ifcbkit.science.class_rules.UnknownClassWarning`) about the names of a user's
        list that none of ``class_names`` has; returns them. The bundled table never warns."""
        if self.by_genus:
            return []
        known = {_key(name) for name in class_names}
        return warn_unknown_classes(
            [name for name, _ in self.entries if _key(name) not in known], [], f"diatoms file {self.source}"
        )


def is_diatom(name: str, table: DiatomTable | None = None) -> bool:
    """Whether class ``name`` is a diatom by ``table`` (the bundled genera by default)."""
    return name in (default_diatoms() if table is None else table)


@functools.lru_cache(maxsize=1)
def default_diatoms() -> DiatomTable:
    """The bundled table of diatom genera and group names (``ifcbkit/data/diatom_genera.txt``)."""
    data = resources.files("ifcbkit").joinpath("data/diatom_genera.txt").read_bytes()
    table = parse_diatom_list(data, source="ifcbkit/data/diatom_genera.txt")
    return DiatomTable(table.entries, by_genus=True, source=table.source)


def read_diatom_list(path: str | os.PathLike[str]) -> DiatomTable:
    """The diatom classes of a file: a plain list (one class name a line, ``#`` comments), or a
    CSV with a class column (``class``, ``class_name`` or ``CNN_classlist``) and a diatom column
    (``Diatom`` or ``is_diatom``: 0/1, true/false, yes/no; blank is 0), as ifcb-analysis's
    ``IFCB_classlist_type.csv``. Classes match by their whole name, case, ``_``, ``-`` and spaces
    ignored.

    Raises:
        FormatError: naming the file and line for a CSV without those columns or with another
            diatom value.
        NotFoundError: if the file does not exist.
    """
    source = os.fspath(path)
    return parse_diatom_list(read_local_file(source, "diatoms file"), source=source)


def parse_diatom_list(data: bytes, *, source: str) -> DiatomTable:
    """:func:`read_diatom_list` of a file's bytes; ``source`` names it in errors.

    Raises:
        FormatError: as :func:`read_diatom_list`.
    """
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        text = bytes(data).decode("latin-1")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    if "," in first:
        return _from_csv(text, source)
    entries = []
    for line in lines:
        name = line.split("#", 1)[0].strip()
        if name:
            entries.append((name, True))
    return DiatomTable(tuple(entries), source=source)


def _from_csv(text: str, source: str) -> DiatomTable:
    rows = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    entries: list[tuple[str, bool]] = []
    name_at = flag_at = 0
    try:
        for row in rows:
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [cell.strip().casefold() for cell in row]
                name_at = next((header.index(c) for c in _CLASS_COLUMNS if c in header), -1)
                flag_at = next((header.index(c) for c in _DIATOM_COLUMNS if c in header), -1)
                if name_at < 0 or flag_at < 0:
                    raise FormatError(
                        source,
                        "a diatoms CSV needs a class column (class or CNN_classlist) and a Diatom column",
                        line=1,
                    )
                continue
            if len(row) <= max(name_at, flag_at):
                raise FormatError(source, f"{len(row)} fields, the header has {len(header)}", line=rows.line_num)
            name, flag = row[name_at].strip(), row[flag_at].strip().casefold()
            if flag not in _TRUE and flag not in _FALSE:
                raise FormatError(
                    source, f"diatom flag of {name!r} is not 0/1 or true/false: {flag!r}", line=rows.line_num
                )
            if name:
                entries.append((name, flag in _TRUE))
    except csv.Error as e:
        raise FormatError(source, f"not CSV ({e})", line=rows.line_num) from None
    return DiatomTable(tuple(entries), source=source)
