"""Test helpers shared across modules: running a method of either face to a plain result."""

from __future__ import annotations

from typing import Any

from ifcbkit.testing import resolve


async def call(obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``obj.method(...)`` on either face and return a plain result (lists for streams)."""
    return await resolve(getattr(obj, method)(*args, **kwargs))
