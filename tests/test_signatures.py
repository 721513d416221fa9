"""Public methods and functions have true signatures: every parameter and return annotated, no internal
generator or request type in sight, a docstring, and the async twin of a sync method taking exactly
the same parameters and giving the same result (awaited, or as an async iterator)."""

from __future__ import annotations

import inspect

import pytest

import ifcbkit
import ifcbkit.stores

PAIRS = [
    ("SyncIfcbDataDirectory", "AsyncIfcbDataDirectory"),
    ("SyncFilesystemBinStore", "AsyncFilesystemBinStore"),
    ("SyncFilesystemRoiStore", "AsyncFilesystemRoiStore"),
    ("ObjectBinStore", "AsyncObjectBinStore"),
    ("ObjectRoiStore", "AsyncObjectRoiStore"),
    ("S3BinStore", "AsyncS3BinStore"),
    ("S3RoiStore", "AsyncS3RoiStore"),
    ("DashboardBinStore", "AsyncDashboardBinStore"),
    ("SyncCachingBinStore", "CachingBinStore"),
    ("SyncCachingRoiStore", "CachingRoiStore"),
    ("SyncProductDirectory", "AsyncProductDirectory"),
    ("SyncBinStore", "AsyncBinStore"),
    ("SyncRoiStore", "AsyncRoiStore"),
]
NOT_TWINS = {"close", "aclose"}  # the HTTP client's own life cycle
INTERNAL = ("Op[", "Generator", "Request", "Emit", "_Steps")


def _public(cls: type) -> dict[str, object]:
    """The public methods ifcbkit defines (not those a ``Mapping`` or ``NamedTuple`` brings)."""
    out = {}
    for name in dir(cls):
        member = inspect.getattr_static(cls, name)
        function = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        if function.__module__.startswith("ifcbkit"):
            out[name] = function
    return out


# The bin-source protocol is the sans-I/O core itself: its methods are operations, by design.
SANS_IO = ("BinSource", "KeyedSource")


def _public_names() -> list[str]:
    """Every public name of the top level, not only the ``__all__`` of ``from ifcbkit import *``."""
    return sorted(n for n, v in vars(ifcbkit).items() if not n.startswith("_") and not inspect.ismodule(v))


def _classes() -> list[type]:
    names = set(_public_names()) | set(ifcbkit.stores.__all__)
    found = [getattr(ifcbkit, n, None) or getattr(ifcbkit.stores, n) for n in sorted(names)]
    classes = {c for c in found if isinstance(c, type) and not issubclass(c, (BaseException, tuple, dict))}
    return sorted(classes, key=repr)


def _functions() -> list[object]:
    return [getattr(ifcbkit, n) for n in _public_names() if inspect.isfunction(getattr(ifcbkit, n))]


def _check(where: str, function: object) -> inspect.Signature:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    returns = signature.return_annotation
    assert returns is not inspect.Signature.empty, f"{where}: no return annotation"
    assert not any(t in str(returns) for t in INTERNAL), f"{where} returns {returns}"
    for p in signature.parameters.values():
        if p.name in ("self", "cls"):
            continue
        assert p.annotation is not inspect.Parameter.empty, f"{where}: parameter {p.name} has no annotation"
        assert not any(t in str(p.annotation) for t in INTERNAL), f"{where}: {p.name}: {p.annotation}"
    assert (inspect.getdoc(function) or "").strip(), f"{where} has no docstring"
    return signature


@pytest.mark.parametrize("cls", _classes(), ids=lambda c: c.__name__)
def test_public_methods_have_true_signatures(cls):
    for name, function in _public(cls).items():
        if cls.__name__ in SANS_IO:
            assert str(inspect.signature(function).return_annotation).startswith("Op[") or name in (
                "describe", "cache_token",
            ), name  # fmt: skip
            assert (inspect.getdoc(function) or "").strip() or name in ("read", "exists"), name
            continue
        _check(f"{cls.__name__}.{name}", function)


@pytest.mark.parametrize("function", _functions(), ids=lambda f: f.__name__)
def test_public_functions_have_true_signatures(function):
    _check(function.__name__, function)


@pytest.mark.parametrize(("sync_name", "async_name"), PAIRS)
def test_async_twins_take_the_same_parameters(sync_name, async_name):
    sync_cls, async_cls = (
        getattr(ifcbkit.stores, sync_name, None) or getattr(ifcbkit, sync_name),
        getattr(ifcbkit.stores, async_name, None) or getattr(ifcbkit, async_name),
    )
    sync_methods, async_methods = _public(sync_cls), _public(async_cls)
    assert set(sync_methods) - NOT_TWINS == set(async_methods) - NOT_TWINS
    for name in sorted(set(sync_methods) - NOT_TWINS):
        s, a = inspect.signature(sync_methods[name]), inspect.signature(async_methods[name])
        assert list(s.parameters.values()) == list(a.parameters.values()), f"{async_name}.{name}: {s} vs {a}"
        sync_returns, async_returns = str(s.return_annotation), str(a.return_annotation)
        if sync_returns.startswith("Iterator["):
            assert async_returns == "Async" + sync_returns, f"{async_name}.{name}"
            assert not inspect.iscoroutinefunction(async_methods[name])
        else:
            assert async_returns == sync_returns, f"{async_name}.{name}"
            assert inspect.iscoroutinefunction(async_methods[name]), f"{async_name}.{name} is not awaitable"
            assert not inspect.iscoroutinefunction(sync_methods[name])


def test_bound_methods_show_their_parameters():
    d = ifcbkit.SyncIfcbDataDirectory(".")
    assert str(inspect.signature(d.read_image)) == "(roi_id: 'str', *, stitch: 'bool' = True) -> 'Image.Image'"
    a = ifcbkit.AsyncIfcbDataDirectory(".")
    assert str(inspect.signature(a.list)) == str(inspect.signature(d.list)).replace("Iterator", "AsyncIterator")
