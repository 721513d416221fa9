"""A Griffe extension for this site: the docstrings' Sphinx cross-reference roles become links.

ifcbkit's docstrings name other objects the way ``help()`` readers and Sphinx know,
``:class:`~ifcbkit.errors.FormatError``` or ``:meth:`BinReader.read```. mkdocstrings renders Markdown
and would show those roles as raw text. Once the package is loaded, every docstring's roles are
replaced by autorefs' optional cross-references: a link where the target is on the site, plain code
where it is not (a private helper, the standard library). A role whose target cannot be resolved
at all becomes plain code too, so no raw role reaches a page.
"""

from __future__ import annotations

import html
import re
from typing import Any

from griffe import Extension, Module, Object

ROLE = re.compile(r":(?:py:)?(?P<role>class|meth|func|data|mod|attr|exc|obj|const|type):`(?P<target>[^`]+)`")


def _resolve(owner: Object, name: str) -> str | None:
    """The full path ``name`` means in ``owner``'s scope, or None."""
    collection = owner.modules_collection
    candidates = [name]
    head, _, rest = name.partition(".")
    try:
        resolved_head = owner.resolve(head)
    except Exception:  # griffe's NameResolutionError, or an alias it cannot follow
        resolved_head = None
    if resolved_head is not None:
        candidates.append(f"{resolved_head}.{rest}" if rest else resolved_head)
    for scope in (owner, *_parents(owner)):  # a method named from its own class or module
        candidates.append(f"{scope.path}.{name}")
    for path in candidates:
        try:
            collection.get_member(path)
        except Exception:
            continue
        return path
    return None


def _parents(obj: Object) -> list[Object]:
    out = []
    parent = obj.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _link(owner: Object, match: re.Match[str]) -> str:
    target = match["target"].strip()
    if "<" in target and target.endswith(">"):  # :class:`text <path>`
        text, _, target = target[:-1].partition("<")
        text, target = text.strip(), target.strip()
    else:
        text = target.split(".")[-1] if target.startswith("~") else target
    target = target.lstrip("~").lstrip(".")
    if match["role"] in ("meth", "func") and not text.endswith(")"):
        text += "()"
    code = f"<code>{html.escape(text.lstrip('~'))}</code>"
    path = _resolve(owner, target)
    if path is None:
        return code
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


class SphinxRoles(Extension):
    """Rewrites the Sphinx roles of every docstring of a loaded package as cross-references."""

    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:
        for obj in _walk(pkg, set()):
            if obj.docstring is not None and ":" in obj.docstring.value:
                obj.docstring.value = ROLE.sub(lambda m, o=obj: _link(o, m), obj.docstring.value)


def _walk(obj: Object, seen: set[str]) -> list[Object]:
    if obj.path in seen:
        return []
    seen.add(obj.path)
    out = [obj]
    for member in obj.members.values():
        if member.is_alias:
            continue
        out.extend(_walk(member, seen))
    return out
