"""The README's examples run, print what their comments say, and its commands are the ones CI runs.

Each Python block runs alone, in a fresh interpreter, in a temporary copy of ``tests/data`` laid
out like the repository root (so relative paths work and anything an example writes is thrown
away); a block that defines a coroutine function runs it. A ``print(...)  # text`` line must print
``text`` (``...`` in the comment: what comes before it must start the printed text, several prints
of the line joined with ``, ``).
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}[ \t]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def _quick_start() -> str:
    text = README.read_text()
    m = re.search(r"^## Quick start\s*$(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert m, "README.md has no '## Quick start' section"
    return m.group(1)


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """A temporary directory holding a copy of tests/data, as the working directory."""
    shutil.copytree(ROOT / "tests" / "data", tmp_path / "tests" / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _uncalled_async_functions(tree: ast.Module) -> list[str]:
    defined = [node.name for node in tree.body if isinstance(node, ast.AsyncFunctionDef)]
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return [name for name in defined if name not in used]


def _print_comments(source: str) -> dict[int, str]:
    """``{line number: comment}`` for the lines that are a ``print(...)`` call with a trailing comment."""
    out = {}
    for number, line in enumerate(source.splitlines(), 1):
        m = re.match(r"\s*print\(.*\)\s*#\s?(.*)$", line)
        if m:
            out[number] = m.group(1).strip()
    return out


# Runs one README block in a fresh interpreter, recording what each of its lines prints.
_HARNESS = """
import builtins, json, sys
def recording_print(*args, sep=" ", end="\\n", file=None, flush=False):
    caller = sys._getframe(1)
    if file is None and caller.f_code.co_filename == filename:
        printed.setdefault(str(caller.f_lineno), []).append((sep or " ").join(map(str, args)))
    builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
if __name__ == "__main__":  # (not again in the processes a block's Dask cluster starts)
    source, filename, out = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
    printed = {}
    namespace = {"__name__": "__main__", "print": recording_print}
    exec(compile(source, filename, "exec"), namespace)
    json.dump(printed, open(out, "w"))
"""


def test_python_examples_run_alone_and_print_what_they_say(repo_copy):
    """Each block runs on its own, in a fresh interpreter (as a reader copies one), and every
    ``print(...)  # text`` line prints ``text``."""
    import json

    blocks = _blocks(README.read_text(), "python")
    assert blocks, "README.md has no python examples"
    harness = repo_copy / "harness.py"
    harness.write_text(_HARNESS)
    checked = 0
    for number, source in enumerate(blocks, 1):
        filename = f"<README.md python block {number}>"
        tree = ast.parse(source, filename)
        assert not _uncalled_async_functions(tree), f"{filename} defines a coroutine function it never runs"
        block = repo_copy / f"block{number}.py"
        block.write_text(source)
        out = repo_copy / f"block{number}.json"
        result = subprocess.run([sys.executable, str(harness), str(block), filename, str(out)], cwd=repo_copy,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        assert result.returncode == 0, f"{filename} fails alone:\n{result.stderr}"
        printed = json.loads(out.read_text())
        for line, comment in _print_comments(source).items():
            outputs = printed.get(str(line))
            if not outputs:
                continue
            text = ", ".join(outputs)
            if "..." in comment:
                head = comment.split("...")[0].rstrip(" ,")
                assert text.startswith(head), f"{filename}, line {line}: printed {text!r}, README says {comment!r}"
            else:
                assert text == comment, f"{filename}, line {line}: printed {text!r}, README says {comment!r}"
            checked += 1
    assert checked >= 1 or not any(_print_comments(b) for b in blocks)


def test_readme_test_command_is_what_ci_runs():
    blocks = _blocks(_quick_start(), "sh")
    assert len(blocks) == 2, "the Quick start has two commands: the main job, and the test suite"
    command = blocks[1].strip()
    assert "pytest" in command
    assert command in (ROOT / ".ci" / "run").read_text(), f".ci/run does not run the README's test command {command!r}"


def test_readme_main_job_runs_on_the_sample(repo_copy):
    """The last command of the Quick start's first block (the main job) runs on the bundled sample."""
    command = _blocks(_quick_start(), "sh")[0].strip()
    job = command.split("&&")[-1].strip()
    bin_dir = Path(sys.executable).parent
    argv = []
    for token in shlex.split(job):
        if token.startswith(".venv/bin/"):
            token = str(bin_dir / token.removeprefix(".venv/bin/"))
        argv.append(token)
    if not Path(argv[0]).exists() and shutil.which(argv[0]) is None:
        pytest.fail(f"the README's main job {job!r} needs {argv[0]}, which is not installed")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"{job!r} printed nothing"


def test_readme_command_line_examples_run(repo_copy):
    """Every line of the README's 'Command line' block runs on the bundled sample and succeeds."""
    text = README.read_text()
    m = re.search(r"^## Command line\s*$(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert m, "README.md has no '## Command line' section"
    lines = [line.split("  #")[0].strip() for line in _blocks(m.group(1), "sh")[0].splitlines()]
    commands = [line for line in lines if line]
    assert len(commands) >= 5
    script = Path(sys.executable).parent / "ifcbkit"
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "ifcbkit", command
        result = subprocess.run([str(script), *argv[1:]], capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, f"{command}: {result.stderr}"
    assert (repo_copy / "images" / "IFCB5_2014_100_120000.zip").is_file()
    assert (repo_copy / "metrics.csv").read_text().count("\n") == 6  # a header and the five sample bins
    assert "Guinardia" in (repo_copy / "daily.csv").read_text()


def test_the_readme_refers_only_to_files_in_the_repository():
    """It referred to "the formats doc", which is not in the repository."""
    text = README.read_text()
    assert "formats doc" not in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links to {target}, which is not in the repository"
    for name in re.findall(r"`((?:docs|bench|tests)/[\w./-]+)`", text):
        assert (ROOT / name).exists(), f"README.md names {name}, which is not in the repository"
