"""Project rules that are cheap to check: ruff and mypy are clean, the package is typed, nothing imports numpy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
# ``ifcbkit.tables`` build pandas dataframes (the ``pandas`` extra), and their tests read them;
# ``ifcbkit.mat_reading`` reads ifcb-analysis's .mat files with SciPy (the ``mat`` extra), and its
# test writes them.
OPTIONAL = {
    PACKAGE / "dask.py",
    PACKAGE / "tables.py",
    PACKAGE / "mat_reading.py",
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
