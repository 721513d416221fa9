"""Project rules that are cheap to check: ruff and mypy are clean, the package is typed, nothing imports numpy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ifcbkit"
FORBIDDEN = {"numpy", "scipy", "pandas"}


def test_ruff_check_is_clean():
    targets = [t for t in ("src", "tests", "bench") if (ROOT / t).exists()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *targets],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_relaxes_strictness_only_for_the_dask_bridge():
    """Every module of the package is checked strictly, requests and their results included; only
    ``ifcbkit.dask`` is relaxed, because Dask's own annotations are partial. (Third-party modules
    without stubs may still be imported untyped.)"""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    relaxed = {}
    for override in config.get("overrides", []):
        settings = {k: v for k, v in override.items() if k not in ("module", "ignore_missing_imports")}
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        for module in modules:
            if settings and module.startswith("ifcbkit"):
                relaxed[module] = settings
    assert list(relaxed) == ["ifcbkit.dask"], relaxed


def test_package_is_typed():
    assert (PACKAGE / "py.typed").is_file()


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _call_name(node) in ("import_module", "__import__") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value.split(".")[0])
    return names


# Optional modules, outside the core, that the package imports only when asked: ``ifcbkit.dask`` and
# ``ifcbkit.jobs.tables`` build pandas dataframes (the ``pandas`` extra), and their tests read them;
# ``ifcbkit.formats.mat`` reads ifcb-analysis's .mat files with SciPy (the ``mat`` extra), and its
# test writes them.
OPTIONAL = {
    PACKAGE / "dask.py",
    PACKAGE / "jobs" / "tables.py",
    PACKAGE / "formats" / "mat.py",
    ROOT / "tests" / "test_dask.py",
    ROOT / "tests" / "test_tables.py",
    ROOT / "tests" / "test_class_v1_mat.py",
    ROOT / "tests" / "test_arrays.py",  # numpy takes BinImages.array's views without a copy
    ROOT / "tests" / "test_manual_classes.py",  # writes and reads ifcb-analysis manual files with SciPy
}


def test_no_numpy_scipy_or_pandas():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 10
    for path in [*modules, *sorted((ROOT / "tests").rglob("*.py"))]:
        if path in OPTIONAL:
            continue
        bad = _imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}"


def test_the_core_imports_no_numpy_pandas_or_dask():
    """Importing every module but the optional ones loads none of them (h5py brings numpy: only
    reading ``.h5`` class scores imports it)."""
    core = sorted(
        "ifcbkit." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
        if path not in OPTIONAL
    )
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}: importlib.import_module(name.removesuffix('.__init__'))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'scipy', 'pandas', 'dask', 'distributed'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_the_import_check_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy as np\nfrom scipy import ndimage\nimportlib.import_module('pandas')\nimport os\n")
    assert _imported_modules(probe) == {"numpy", "scipy", "pandas", "os"}


# ----- the shape of the package: layers without circles, short modules, a small root --------------


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(package: Path) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``, over every ``import`` and ``from`` anywhere in
    each module (inside functions and ``if TYPE_CHECKING`` too), relative ones resolved; a name
    imported from a package that is one of its modules counts as that module."""
    paths = {_module_name(path, package): path for path in package.rglob("*.py")}
    root = package.name

    def known(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        here = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names if alias.name.split(".")[0] == root)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                if base.split(".")[0] != root:
                    continue
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else known(base))
        graph[module] = {target for target in targets if target and target != module}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles_lazy_imports_included():
    graph = _import_graph(PACKAGE)
    assert len(graph) > 40 and "ifcbkit.adc" in graph["ifcbkit.formats.index"]
    assert _circles(graph) == []


def test_the_circle_check_can_fail(tmp_path):
    """A circle closed only by an import inside a function, and one through ``from . import module``."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub.b import f\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("def f():\n    from ..a import g\n    return g\n")
    (package / "c.py").write_text("from .sub import d\n")
    (package / "sub" / "d.py").write_text("import pkg.c\n")
    (package / "e.py").write_text("from . import a\n")
    graph = _import_graph(package)
    assert graph["pkg.e"] == {"pkg.a"}
    assert _circles(graph) == [["pkg.a", "pkg.sub.b"], ["pkg.c", "pkg.sub.d"]]


def _long_modules(package: Path, limit: int = 600) -> set[str]:
    """The modules of ``package`` over ``limit`` lines, by path inside it."""
    return {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if len(path.read_text().splitlines()) > limit
    }


def test_no_module_over_600_lines():
    assert _long_modules(PACKAGE, 400)  # the check sees the files it guards
    assert _long_modules(PACKAGE) == set()


def test_the_length_check_can_fail(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "short.py").write_text("x = 1\n" * 600)
    (tmp_path / "sub" / "long.py").write_text("x = 1\n" * 601)
    assert _long_modules(tmp_path) == {"sub/long.py"}


# The package root: __init__, the module paths of ifcbkit 0.3.1 (re-exports of their homes below, but
# fileset, still the home of its functions) and a few modules every layer shares or users import by name.
ROOT_MODULES_0_3_1 = {"identifiers", "header", "adc", "roi", "stitching", "fileset", "products", "stores"}
ROOT_OTHERS = {"errors", "atomic", "dask", "testing", "mosaic"}
SUBPACKAGES = {"formats", "engine", "sources", "faces", "science", "jobs", "exports", "view", "cli"}


def test_the_root_holds_only_the_allowed_modules():
    entries = {path.stem for path in PACKAGE.glob("*.py")} | {
        path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()
    }
    assert entries == {"__init__"} | ROOT_MODULES_0_3_1 | ROOT_OTHERS | SUBPACKAGES
    assert len(ROOT_OTHERS) <= 8
