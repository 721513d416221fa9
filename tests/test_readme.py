"""The README's examples run, print what their comments say, and its commands are the ones CI runs.

Python blocks run in order in one namespace, in a temporary copy of ``tests/data`` laid out like
the repository root (so relative paths work and anything an example writes is thrown away).
``async def`` functions a block defines but does not call are run with ``asyncio.run``. A
``print(...)  # text`` line must print ``text`` (``...`` in the comment: what comes before it must
start the printed text, several prints of the line joined with ``, ``).
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
import re
import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
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


def test_python_examples_run_and_print_what_they_say(repo_copy):
    blocks = _blocks(README.read_text(), "python")
    assert blocks, "README.md has no python examples"
    printed: dict[tuple[str, int], list[str]] = defaultdict(list)

    def recording_print(*args, sep=" ", end="\n", file=None, flush=False):
        caller = sys._getframe(1)
        if file is None:
            printed[(caller.f_code.co_filename, caller.f_lineno)].append((sep or " ").join(map(str, args)))
        builtins.print(*args, sep=sep, end=end, file=file, flush=flush)

    namespace: dict = {"__name__": "__readme__", "print": recording_print}
    checked = 0
    for number, source in enumerate(blocks, 1):
        filename = f"<README.md python block {number}>"
        tree = ast.parse(source, filename)
        exec(compile(tree, filename, "exec"), namespace)
        for name in _uncalled_async_functions(tree):
            function = namespace[name]
            required = [p for p in inspect.signature(function).parameters.values() if p.default is p.empty]
            assert not required, f"{filename}: cannot run async {name}() without arguments"
            result = asyncio.run(function())
            assert result is not None, f"{filename}: {name}() returned nothing"
        for line, comment in _print_comments(source).items():
            outputs = printed.get((filename, line))
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
