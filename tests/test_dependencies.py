"""A chapter's execution cache is keyed by the hw5lib files its notebook imports, transitively, and
by nothing else of hw5lib; checkpoints by the code that trains, not by a chapter's wording."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hw5lib.publish import dependencies, registry

ROOT = Path(__file__).resolve().parents[1]


def relative(files, root=dependencies.HW5LIB):
    return {file.relative_to(root).as_posix() for file in files}


# what runs chapters and builds the book: no chapter's outputs depend on it
MACHINERY = tuple(f"publish/{name}" for name in ("registry.py", "runner.py", "book.py", "cli.py", "assets.py",
                                                 "dependencies.py", "sphinxext/"))


def notebook(name: str) -> str:
    return (ROOT / "book" / f"{name}.md").read_text(encoding="utf-8")


def test_imports_are_followed_through_packages_relative_imports_and_functions(tmp_path):
    package = tmp_path / "hw5lib"
    for path, text in {
        "__init__.py": "",
        "a/__init__.py": "from .b import thing\n",
        "a/b.py": "def thing():\n    from hw5lib.c import deep\n    return deep\n",
        "c/__init__.py": "",
        "c/deep.py": "from . import sibling\n",
        "c/sibling.py": "",
        "unused.py": "",
    }.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(text)
    cells = "```{code-cell} ipython3\n:tags: [remove-cell]\nfrom hw5lib.a import thing\n```\n"
    assert relative(dependencies.notebook_files(cells, package), package) == {
        "__init__.py", "a/__init__.py", "a/b.py", "c/__init__.py", "c/deep.py", "c/sibling.py"}


def test_a_cell_that_does_not_parse_is_named():
    with pytest.raises(dependencies.DependencyError, match="Cannot parse a chapter's code cell"):
        dependencies.notebook_files("```{code-cell} ipython3\nfrom hw5lib import (\n```\n")


def test_each_chapter_depends_on_its_own_science_and_never_on_the_book_machinery():
    files = {name: relative(dependencies.notebook_files(notebook(name))) for name in registry.NAMES}
    for name, found in files.items():
        assert f"chapters/{name}.py" in found, name
        machinery = [path for path in found if path.startswith(MACHINERY)]
        assert not machinery, (name, machinery)
    kan_users = {name for name, found in files.items() if "kan/layer.py" in found}
    assert kan_users == {"q1_kan", "q1_automl"}
    assert {name for name, found in files.items() if "whisper/model.py" in found} == {"q3_whisper"}
    assert {name for name, found in files.items() if "chapters/q4_digits.py" in found} == {"q4_digits"}


def keys(root: Path) -> dict[str, str]:
    return {name: dependencies.fingerprint(dependencies.notebook_files(notebook(name), root), root)
            for name in registry.NAMES}


def test_touching_the_kan_or_a_chapters_sentence_changes_only_the_chapters_that_import_it(tmp_path):
    copy = tmp_path / "hw5lib"
    shutil.copytree(dependencies.HW5LIB, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = keys(copy)
    with (copy / "kan" / "layer.py").open("a") as source:
        source.write("\n# touched\n")
    after_kan = keys(copy)
    assert {name for name in registry.NAMES if after_kan[name] != before[name]} == {"q1_kan", "q1_automl"}
    with (copy / "chapters" / "q4_digits.py").open("a") as source:
        source.write("\n# a sentence mended\n")
    after_sentence = keys(copy)
    assert {name for name in registry.NAMES if after_sentence[name] != after_kan[name]} == {"q4_digits"}


CHECKPOINT_KEYS = """
import numpy as np
from hw5lib import digits
from hw5lib.whisper import experiments
data = digits.SequenceSet([np.zeros((3, 2), np.float32)], np.array([1]))
print(digits.checkpoint_name("cnn", digits.Recipe(), data, None), experiments._key("pretraining"))
"""


def checkpoint_keys(source_root: Path) -> str:
    result = subprocess.run([sys.executable, "-c", CHECKPOINT_KEYS], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(source_root)}, cwd=source_root)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


def test_checkpoints_are_keyed_by_the_training_code_not_the_chapters_words(tmp_path):
    shutil.copytree(dependencies.HW5LIB, tmp_path / "hw5lib", ignore=shutil.ignore_patterns("__pycache__"))
    digits_key, whisper_key = checkpoint_keys(tmp_path)
    for chapter in ("q4_digits", "q3_whisper"):
        with (tmp_path / "hw5lib" / "chapters" / f"{chapter}.py").open("a") as source:
            source.write("\n# a sentence mended\n")
    assert checkpoint_keys(tmp_path) == [digits_key, whisper_key]
    with (tmp_path / "hw5lib" / "digits" / "training.py").open("a") as source:
        source.write("\n# the loop changed\n")
    with (tmp_path / "hw5lib" / "whisper" / "model.py").open("a") as source:
        source.write("\n# the model changed\n")
    changed = checkpoint_keys(tmp_path)
    assert changed[0] != digits_key and changed[1] != whisper_key
