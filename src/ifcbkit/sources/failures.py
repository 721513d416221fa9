"""What a backend raises, as ifcbkit errors: one place translates every store's failures.

A missing key (``KeyError``, ``FileNotFoundError``, a botocore ``ClientError`` whose code is
``NoSuchKey``/``404``/``NotFound``, any exception whose ``response.status_code`` is 404) is
:class:`~ifcbkit.errors.NotFoundError`; other failures are :class:`~ifcbkit.errors.StoreError`
naming the key and the backend's type, never its ``repr`` or message (which may hold credentials).
"""

from __future__ import annotations

from typing import Any

from ..engine.requests import Call, Op, perform
from ..errors import IfcbError, NotFoundError, StoreError

__all__ = ["call_backend", "failure_reason", "is_missing", "is_past_the_end", "translate"]

# Raised by a backend that does not fit the protocol (or a sync face given an async backend):
# a usage error to show as is, not a store failure.
_PASS_THROUGH = (IfcbError, TypeError, AttributeError, NotImplementedError, StopAsyncIteration)
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def is_missing(error: BaseException) -> bool:
    """Whether a backend exception means "no such key" (see the module doc for the variants)."""
    if isinstance(error, (KeyError, FileNotFoundError)):
        return True
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = str((response.get("Error") or {}).get("Code", ""))
        return code in _MISSING_CODES
    return getattr(response, "status_code", None) == 404


def is_past_the_end(error: BaseException | None) -> bool:
    """Whether a failed ranged read asked for a range that starts at or past the end of the
    object (S3's ``InvalidRange``, HTTP 416): with slice semantics, that is empty data."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return (response.get("Error") or {}).get("Code") == "InvalidRange"
    return getattr(response, "status_code", None) == 416


def failure_reason(error: BaseException) -> str:
    """A short description of a backend failure that cannot carry credentials: the exception
    type, plus the error code and HTTP status of a botocore ``ClientError``."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        details = ", ".join(str(v) for v in (code, status and f"HTTP {status}") if v)
        return f"{type(error).__name__}: {details}" if details else type(error).__name__
    status = getattr(response, "status_code", None)
    return f"{type(error).__name__}: HTTP {status}" if status else type(error).__name__


def translate(error: Exception, action: str, where: str) -> Exception:
    """The ifcbkit exception for a backend exception (raise it ``from`` the original)."""
    if isinstance(error, NotFoundError):
        return error
    if is_missing(error):
        return NotFoundError(f"{where} does not exist")
    if isinstance(error, _PASS_THROUGH):
        return error
    return StoreError(f"{action} {where} failed ({failure_reason(error)})")


def call_backend(function: Any, *args: Any, action: str, where: str) -> Op[Any]:
    """Call a backend method (plain or coroutine) and translate what it raises."""
    try:
        return (yield from perform(Call(function, *args)))
    except Exception as e:
        error = translate(e, action, where)
        if error is e:
            raise
        raise error from (None if isinstance(error, NotFoundError) else e)
