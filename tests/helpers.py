"""Test helpers shared across modules: running a method of either face to a plain result."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any


async def resolve(value: Any) -> Any:
    """The value of a sync or async call: awaited, or an iterator (sync or async) collected into a list."""
    if inspect.isawaitable(value):
        return await value
    if hasattr(value, "__aiter__"):
        return [item async for item in value]
    if isinstance(value, Iterator):
        return list(value)
    return value


async def call(obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``obj.method(...)`` on either face and return a plain result (lists for streams)."""
    return await resolve(getattr(obj, method)(*args, **kwargs))
