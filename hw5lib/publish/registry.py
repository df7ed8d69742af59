"""The book's chapters by name: the name of a chapter is its notebook's (``q4_digits`` for
``book/q4_digits.md``), and its module is ``hw5lib.chapters.<name>``. The short keys of earlier
versions (``q1``, ``automl``, ``kan``, ``q2``, ``whisper``, ``q4``) are kept as aliases."""

from __future__ import annotations

import importlib

from hw5lib.publish.chapter import Chapter
from hw5lib.publish.profiles import ParameterError

NAMES = ("q1_distances", "q1_automl", "q1_kan", "q2_vanishing", "q3_whisper", "q4_digits")  # the book's order
ALIASES = {"q1": "q1_distances", "automl": "q1_automl", "kan": "q1_kan", "q2": "q2_vanishing",
           "whisper": "q3_whisper", "q4": "q4_digits"}


def canonical(name: str) -> str:
    """The chapter's name for ``name`` (a name, an alias, or a notebook's file name)."""
    given = str(name).strip()
    key = given[:-3] if given.endswith(".md") else given
    key = ALIASES.get(key, key)
    if key not in NAMES:
        raise ParameterError(f"Unknown chapter {given!r}; the chapters are: {', '.join(NAMES)} "
                             f"(or {', '.join(ALIASES)}).")
    return key


def get(name: str) -> Chapter:
    """The chapter called ``name`` (see :func:`canonical`)."""
    return importlib.import_module(f"hw5lib.chapters.{canonical(name)}").CHAPTER


def all_chapters() -> dict[str, Chapter]:
    """Every chapter, in the book's order."""
    return {name: get(name) for name in NAMES}


def chapter_parameters(name: str, namespace):
    """The validated parameters of chapter ``name`` from a notebook's ``namespace``."""
    return get(name).parameters_from(namespace)
