"""Which of hw5lib's source files a chapter's outputs depend on: the modules its notebook imports,
followed through their own imports (absolute and relative, at any depth of the file, so lazy
imports inside functions count too), with every package ``__init__`` on the way.

The execution cache of a chapter is keyed by these files (:func:`fingerprint`), so editing
``hw5lib/kan/`` re-executes the chapters that import the KAN and no other, and editing a
sentence in ``hw5lib/chapters/q4_digits.py`` re-executes Q4 alone.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from pathlib import Path

PACKAGE = "hw5lib"
HW5LIB = Path(__file__).resolve().parents[1]

_CODE_CELL = re.compile(r"^(?P<fence>`{3,}|~{3,})\{code-cell\}[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S)


class DependencyError(ValueError):
    """A chapter's code cannot be parsed, so what it imports cannot be known."""


def code_cells(source: str) -> list[str]:
    """The code of every ``{code-cell}`` of a MyST notebook, without its ``:option:`` lines."""
    cells = []
    for match in _CODE_CELL.finditer(source):
        lines = match["body"].split("\n")
        while lines and lines[0].startswith(":"):
            lines.pop(0)
        cells.append("\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))))
    return cells


def _module_file(name: str, root: Path) -> Path | None:
    """The file of module ``name`` (dotted, starting with hw5lib) under ``root`` (the hw5lib folder)."""
    parts = name.split(".")[1:]
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imported_modules(code: str, current: str | None = None, is_package: bool = False) -> set[str]:
    """hw5lib modules (dotted names) that ``code`` may import: for ``from hw5lib.x import y`` both
    ``hw5lib.x`` and ``hw5lib.x.y`` (``y`` may be a submodule; a name that is not one is dropped
    later). ``current`` is the module holding the code, for its relative imports."""
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        where = current or "a chapter's code cell"
        raise DependencyError(f"Cannot parse {where} (line {error.lineno}: {error.msg}).") from None
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if current is None:
                    continue
                anchor = current.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if alias.name != "*"}
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)}


@lru_cache(maxsize=None)
def _imports_of(path: Path, mtime_ns: int, root: Path) -> frozenset[str]:
    name = _module_name(path, root)
    return frozenset(imported_modules(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"))


def module_files(modules: set[str], root: Path = HW5LIB) -> list[Path]:
    """Every source file of ``modules`` and of what they import, transitively (sorted)."""
    seen: dict[str, Path] = {}
    pending = set().union(*(_with_parents(name) for name in modules)) if modules else set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        path = _module_file(name, root)
        if path is None:  # a function or class imported by name, not a module
            continue
        seen[name] = path
        for imported in _imports_of(path, path.stat().st_mtime_ns, root):
            pending |= _with_parents(imported) - set(seen)
    return sorted(set(seen.values()))


def notebook_files(source: str, root: Path = HW5LIB) -> list[Path]:
    """The hw5lib source files a MyST notebook's code depends on."""
    modules: set[str] = set()
    for cell in code_cells(source):
        modules |= imported_modules(cell)
    return module_files(modules, root)


def fingerprint(files, root: Path = HW5LIB) -> str:
    """sha256 of ``files`` (paths and contents); a file that has gone counts as changed."""
    digest = hashlib.sha256()
    for path in sorted(Path(file) for file in files):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes() if path.is_file() else b"\0missing")
    return digest.hexdigest()[:16]
