"""A chapter of the book, as its notebook sees it: name, title, parameters, the report's numbers.

Each notebook ``book/<name>.md`` has a module ``hw5lib.chapters.<name>`` that declares one
:class:`Chapter`. The notebook's preamble is one call::

    from hw5lib.chapters import q2_vanishing as chapter
    P, results = chapter.setup(globals())

which validates the parameters cell (``P``), sets the book's figure style and starts the
chapter's :class:`~hw5lib.publish.results.ChapterResults` (``results``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from hw5lib.publish.profiles import COMMON_PARAMETERS, Parameter, Parameters, resolve

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"


@dataclass(frozen=True)
class Reported:
    """A number the report gave, and where in the report it stands (section, table or figure)."""

    value: float | int | str
    where: str


@dataclass(frozen=True)
class Chapter:
    name: str  # the notebook's name: book/<name>.md, hw5lib/chapters/<name>.py, runs/<name>-<time>/
    title: dict[str, str]
    parameters: tuple[Parameter, ...] = ()
    reported: Mapping[str, Reported] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def notebook(self) -> str:
        return f"{self.name}.md"

    @property
    def path(self) -> Path:
        return BOOK / self.notebook

    @property
    def all_parameters(self) -> tuple[Parameter, ...]:
        return self.parameters + COMMON_PARAMETERS

    def resolve(self, profile: str | None, given: Mapping[str, Any]) -> Parameters:
        return resolve(self.all_parameters, profile, given)

    def parameters_from(self, namespace: Mapping[str, Any]) -> Parameters:
        """Validate a notebook's parameters: ``profile`` and the chapter's parameter names are read
        from ``namespace`` (the notebook passes ``globals()`` right after its parameters cell)."""
        given = {parameter.name: namespace.get(parameter.name) for parameter in self.all_parameters}
        return self.resolve(namespace.get("profile"), given)

    def setup(self, namespace: Mapping[str, Any]):
        """The notebook's preamble: its validated parameters and the chapter's results record,
        with the book's figure style set."""
        from hw5lib.publish.plotting import style
        from hw5lib.publish.results import ChapterResults

        parameters = self.parameters_from(namespace)
        style()
        return parameters, ChapterResults(self.name, dict(self.title), parameters=parameters.as_dict())

    def report(self, key: str, scale: float = 1.0):
        """The report's number ``key`` (times ``scale``, e.g. 100 for a percentage), for a table or
        a metric's ``reported``; None when the report gave none."""
        entry = self.reported.get(key)
        if entry is None:
            return None
        return entry.value * scale if isinstance(entry.value, (int, float)) else entry.value
