"""The documentation builds with ``mkdocs build --strict``: the user guide and an API reference made
from the docstrings, with no warning (a broken link or a bad docstring fails the build)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


RAW_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|data|mod|attr|exc|obj):`")


def test_mkdocs_build_strict(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    reference = (tmp_path / "site" / "reference" / "ifcbkit" / "index.html").read_text()
    assert "parse_bin" in reference and "InvalidIdentifierError" in reference  # made from the docstrings
    assert (tmp_path / "site" / "formats" / "index.html").is_file()
    pages = {page: page.read_text() for page in (tmp_path / "site").rglob("*.html")}
    # docstrings' Sphinx roles are rendered as links (docs/griffe_roles.py), never as raw text
    raw = [(page.name, role) for page, text in pages.items() for role in RAW_ROLE.findall(text)]
    assert raw == []
    links = sum(text.count('class="autorefs autorefs-internal"') for text in pages.values())
    assert links > 300
    # inherited members are shown: the async directory's page lists the read methods of its base
    stores = (tmp_path / "site" / "reference" / "stores" / "index.html").read_text()
    for method in ("read_image", "read_header", "bin_metadata", "iter_images", "list"):
        assert f'id="ifcbkit.faces.directory.AsyncIfcbDataDirectory.{method}"' in stores, method


def test_the_store_guide_examples_run_and_pass_the_conformance_suite():
    """docs/stores.md's store of one's own, and its conformance test, run as written."""
    import re

    blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "stores.md").read_text(), re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/stores.md", "exec"), namespace)
    suite = namespace["TestDictStore"]
    tests = [name for name in dir(suite) if name.startswith("test_")]
    assert len(tests) >= 8
    suite.setup_class()
    try:
        for name in tests:
            getattr(suite(), name)()
    finally:
        suite.teardown_class()
