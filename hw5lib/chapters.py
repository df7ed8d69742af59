"""The book's chapters: where each notebook lives and which parameters it takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from hw5lib.profiles import COMMON_PARAMETERS, Parameter, Parameters, ParameterError, resolve

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


@dataclass(frozen=True)
class Chapter:
    name: str
    notebook: str  # relative to book/
    title: dict
    parameters: tuple[Parameter, ...] = ()

    @property
    def path(self) -> Path:
        return BOOK / self.notebook

    @property
    def all_parameters(self) -> tuple[Parameter, ...]:
        return self.parameters + COMMON_PARAMETERS

    def resolve(self, profile: str, given: Mapping[str, Any]) -> Parameters:
        return resolve(self.all_parameters, profile, given)


CHAPTERS: dict[str, Chapter] = {
    chapter.name: chapter
    for chapter in (
        Chapter(
            "q2", "q2_vanishing.md",
            {"fa": "سوال ۲: محو نشویم", "en": "Q2: Let's not vanish"},
            (
                Parameter("symbolic_width", "int", {"smoke": 2, "quick": 3, "full": 3},
                          "units per layer in the SymPy derivation (the formulas do not depend on it)",
                          minimum=1, maximum=4),
                Parameter("check_widths", "int_list", {"smoke": [2, 3], "quick": [2, 3, 5, 8, 16],
                                                       "full": [2, 3, 5, 8, 16, 64, 256]},
                          "layer widths at which the derived gradients are compared with autograd",
                          minimum=1, maximum=4096),
                Parameter("check_trials", "int", {"smoke": 2, "quick": 10, "full": 50},
                          "random networks per width in the autograd comparison", minimum=1, maximum=10_000),
                Parameter("depth", "int", {"smoke": 8, "quick": 40, "full": 100},
                          "blocks in the deep network of the vanishing-gradient experiment", minimum=2, maximum=1000),
                Parameter("width", "int", {"smoke": 16, "quick": 64, "full": 256},
                          "units per block in the deep network", minimum=2, maximum=8192),
                Parameter("batch", "int", {"smoke": 32, "quick": 256, "full": 1024},
                          "samples in the batch whose gradient is measured", minimum=1, maximum=1_000_000),
                Parameter("train_steps", "int", {"smoke": 20, "quick": 300, "full": 2000},
                          "optimisation steps when training the plain and the residual network", minimum=1,
                          maximum=1_000_000),
            ),
        ),
    )
}


def get(name: str) -> Chapter:
    try:
        return CHAPTERS[name]
    except KeyError:
        raise ParameterError(f"Unknown chapter {name!r}; the chapters are: {', '.join(CHAPTERS)}.") from None


def chapter_parameters(name: str, namespace: Mapping[str, Any]) -> Parameters:
    """Validate a notebook's parameters: takes ``profile`` and the chapter's parameter names
    from ``namespace`` (the notebook passes ``globals()`` right after its parameters cell)."""
    chapter = get(name)
    given = {parameter.name: namespace.get(parameter.name) for parameter in chapter.all_parameters}
    return chapter.resolve(namespace.get("profile", "quick"), given)
