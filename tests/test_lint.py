"""The house rules, checked rather than trusted: the layers (import-linter's contract in
pyproject.toml), ruff, and notebooks that are prose and short calls."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MAX_CELL_LINES = 15


def run(*command):
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_layers_hold():
    """hw5lib.chapters over hw5lib.publish over the science over its data over the base."""
    result = run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_ruff_finds_nothing():
    result = run(str(BIN / "ruff"), "check", "hw5lib", "tests", "bench", "--output-format", "concise")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def code_cells(path: Path) -> list[list[str]]:
    """Each code cell's lines that count: not blank, not a cell option (``:tags: ...``)."""
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)
    return [[line for line in cell.splitlines() if line.strip() and not line.startswith(":")] for cell in cells]


NOTEBOOKS = sorted((ROOT / "book").glob("*.md"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebooks_are_prose_and_short_calls(notebook):
    for number, lines in enumerate(code_cells(notebook), 1):
        defined = [line for line in lines if re.match(r"\s*(def|class|async def) ", line)
                   or re.match(r"\s*\w+\s*=\s*lambda\b", line)]
        assert not defined, f"{notebook.name}, code cell {number} defines {defined[0].strip()!r}: move it into hw5lib"
        assert len(lines) <= MAX_CELL_LINES, (f"{notebook.name}, code cell {number} has {len(lines)} lines "
                                              f"(at most {MAX_CELL_LINES}): move the logic into its chapter module")


def test_the_rule_checker_sees_cells_and_their_lines(tmp_path):
    """The notebook check above must be able to fail: a cell with a function and 16 lines is caught."""
    sample = tmp_path / "sample.md"
    body = "def f():\n    return 1\n" + "".join(f"x{i} = {i}\n" for i in range(14))
    sample.write_text(f"# t\n\n```{{code-cell}} ipython3\n:tags: [remove-cell]\n\n{body}```\n", encoding="utf-8")
    (cell,) = code_cells(sample)
    assert len(cell) == 16 and cell[0] == "def f():"
    with pytest.raises(AssertionError, match="defines 'def f\\(\\):'"):
        test_notebooks_are_prose_and_short_calls(sample)


def test_every_chapter_notebook_starts_with_the_one_preamble():
    """After the parameters cell: ``from hw5lib.chapters import <name> as chapter`` and ``chapter.setup``;
    nothing of what runs chapters and builds the book."""
    from hw5lib.publish import registry

    for name in registry.NAMES:
        cells = code_cells(ROOT / "book" / f"{name}.md")
        preamble = "\n".join(cells[1])
        assert f"from hw5lib.chapters import {name} as chapter" in preamble, name
        assert "P, results = chapter.setup(globals())" in preamble, name
        for lines in cells:
            machinery = [line for line in lines if re.search(r"hw5lib\.publish(\.| import )(registry|runner|book|cli|"
                                                             r"sphinxext|dependencies)\b", line)]
            assert not machinery, f"{name} imports the book machinery: {machinery[0]}"
