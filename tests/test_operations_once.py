"""Each bin-level operation is defined once in the engine, with one thin shell per face (issue 22)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import ifcbkit

PACKAGE = Path(ifcbkit.__file__).parent
OPERATIONS = ("bin_metadata", "read_image", "read_images", "list_images")


def class_level_definitions(package: Path, names: tuple[str, ...]) -> Counter[str]:
    """How many times each of ``names`` is defined as a method in a class body anywhere under ``package``
    (module-level functions of the same name do not count)."""
    found: Counter[str] = Counter()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in names:
                        found[item.name] += 1
    return found


def test_each_operation_is_defined_at_most_four_times():
    """The engine, the sync face, the async face, and ``Bin``'s by-target reads."""
    counts = class_level_definitions(PACKAGE, OPERATIONS)
    assert all(counts[name] >= 1 for name in OPERATIONS)  # the scan sees them
    assert {name: n for name, n in counts.items() if n > 4} == {}


def test_the_count_can_fail(tmp_path):
    shell = "class C{}:\n    def read_image(self): pass\n    async def list_images(self): pass\n"
    shells = "".join(shell.format(i) for i in range(5))
    (tmp_path / "a.py").write_text("def read_image(): pass\n" + shells)
    assert class_level_definitions(tmp_path, OPERATIONS) == {"read_image": 5, "list_images": 5}
