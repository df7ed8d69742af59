"""The results contract: every chapter publishes its headline numbers in one record.

A chapter builds a :class:`ChapterResults`, adds metrics (with the report's number beside each,
when the report gave one), and calls :meth:`ChapterResults.publish`. That glues the record into
the executed notebook (so the book's intro table is filled from the same execution, cached or
not) and, inside ``hw5lib run``, writes ``results.json`` into the run folder with the parameters
and provenance.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hw5lib.publish import i18n
from hw5lib.publish.datanote import data_notice
from hw5lib.io import atomic_write_text

GLUE_KEY = "hw5lib_results"
# a "+json" type stays JSON for nbformat even behind glue's "application/papermill.record/" prefix
MIME = "application/vnd.hw5lib.publish.results+json"
RUN_DIR_ENV = "HW5LIB_RUN_DIR"
DATA_NOTICE = "data_notice"  # glued by publish() for a chapter on recordings: paste it with {glue:md} :format: myst


@dataclass
class Metric:
    key: str
    value: float | int | str | dict | None  # a dict {"fa": ..., "en": ...} for a value in words
    label: dict[str, str]
    fmt: str = "{:.3g}"
    reported: float | int | str | None = None

    def formatted(self, value, lang: str) -> str:
        if value is None:
            return "—"
        if isinstance(value, dict):
            return value[lang]
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, str):
            return i18n.localise_number(value, lang)
        return i18n.format_number(value, self.fmt, lang)


@dataclass
class ChapterResults:
    chapter: str
    title: dict[str, str]
    parameters: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    tables: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, key: str, value, *, fa: str, en: str, fmt: str = "{:.3g}", reported=None) -> None:
        """Record a headline number with its label in both languages and, when the report gave
        one, the report's number. A value in words is given in both languages, as ``{"fa": ..., "en": ...}``."""
        if isinstance(value, dict) and set(value) != set(i18n.LANGUAGES):
            raise ValueError(f"Metric {key!r}: a value in words needs exactly the languages {i18n.LANGUAGES}.")
        if any(metric.key == key for metric in self.metrics):
            raise ValueError(f"Metric {key!r} was already added to the results of {self.chapter}.")
        if hasattr(value, "item"):  # numpy / torch scalars
            value = value.item()
        self.metrics.append(Metric(key, value, {"fa": fa, "en": en}, fmt, reported))

    def add_table(self, name: str, frame) -> None:
        """Record a whole table (a DataFrame) in ``results.json``, one mapping per row; missing
        values become null."""
        if name in self.tables:
            raise ValueError(f"Table {name!r} was already added to the results of {self.chapter}.")
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        self.tables[name] = [{str(column): (value.item() if hasattr(value, "item") else value)
                              for column, value in row.items()} for row in records]

    def __getitem__(self, key: str) -> Metric:
        for metric in self.metrics:
            if metric.key == key:
                return metric
        raise KeyError(key)

    def to_dict(self) -> dict:
        return asdict(self)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {MIME: self.to_dict(), "text/plain": f"<results of {self.chapter}: {len(self.metrics)} metrics>"}

    @classmethod
    def from_dict(cls, data: dict) -> "ChapterResults":
        data = dict(data)
        data["metrics"] = [Metric(**metric) for metric in data.get("metrics", [])]
        return cls(**data)

    @classmethod
    def from_mimebundle(cls, bundle: dict) -> "ChapterResults":
        for mime, payload in bundle.items():
            if mime.endswith(MIME):
                return cls.from_dict(json.loads(payload) if isinstance(payload, str) else payload)
        raise ValueError(f"The glued results hold no {MIME} data (found {sorted(bundle)}).")

    def publish(self) -> Path | None:
        """Glue the record for the book (and, for a chapter on recordings, the admonition saying
    where they came from, as ``data_notice``) and, in a ``hw5lib run``, write ``results.json``."""
        from myst_nb import glue

        from hw5lib.publish.provenance import collect

        self.provenance = collect(seed=self.parameters.get("seed"), data=self.data)
        glue(GLUE_KEY, self, display=False)
        used = recordings(self.data)
        if used:  # the page's admonition on where its recordings came from (pasted near its top)
            notices = [data_notice(record, part=record is not self.data) for record in used]
            glue_value(DATA_NOTICE, {lang: "\n".join(n[lang] for n in notices) for lang in i18n.LANGUAGES})
        run_dir = os.environ.get(RUN_DIR_ENV)
        if not run_dir:
            return None
        path = Path(run_dir) / "results.json"
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str))
        return path


_HEADER = {
    "fa": ["فصل", "اجرا", "داده", "کمیت", "این کتاب", "گزارش"],
    "en": ["Chapter", "Run", "Data", "Quantity", "This book", "Report"],
}
_NO_RECORDINGS = {"fa": "بدون ضبط صدا", "en": "no recordings"}


def recordings(data: dict) -> list[dict]:
    """The records of recordings in a chapter's ``data`` (``DigitSet.describe()`` and the like,
    which name a ``source``): ``data`` itself, or those among its values."""
    if "source" in data:
        return [data]
    return [value for value in data.values() if isinstance(value, dict) and "source" in value]


def data_words(data: dict, lang: str) -> str:
    """Which recordings a chapter's numbers came from, in a few words: the source, whether real or
    synthetic, speakers and clips."""
    words = []
    for record in recordings(data):
        real = not record.get("synthetic", True)
        if lang == "fa":
            kind = f"{record['source']}، واقعی" if real else "ساختگی"
            words.append(f"{kind}: {i18n.format_number(record['speakers'], lang=lang)} گوینده، "
                         f"{i18n.format_number(record['clips'], '{:,}', lang)} گفته")
        else:
            kind = f"{record['source']}, real" if real else "synthetic"
            words.append(f"{kind}: {i18n.counted(record['speakers'], 'speaker' if real else 'voice')}, "
                         f"{i18n.counted(record['clips'], 'clip', fmt='{:,}')}")
    return "; ".join(words) or _NO_RECORDINGS[lang]
_EMPTY = {
    "fa": "هنوز هیچ فصلی اجرا نشده است.",
    "en": "No chapter has been executed yet.",
}


def summary_table(records: list[tuple[str, ChapterResults]], lang: str) -> dict:
    """Rows of (chapter link, run, data, metric, our value, reported value) in ``lang``; the run
    says which profile and device produced the numbers, the data which recordings."""
    i18n.check_language(lang)
    rows = []
    for docname, record in records:
        run = " · ".join(str(record.parameters[key]) for key in ("profile", "device") if key in record.parameters)
        for index, metric in enumerate(record.metrics):
            first = index == 0
            rows.append([(record.title.get(lang, record.chapter), docname) if first else "", run if first else "",
                         data_words(record.data, lang) if first else "", metric.label[lang],
                         metric.formatted(metric.value, lang),
                         metric.formatted(metric.reported, lang)])
    return {"header": _HEADER[lang], "rows": rows, "empty": _EMPTY[lang]}


def glue_value(name: str, value, fmt: str = "{}") -> None:
    """Glue a value for inline prose, the one way the book glues text: ``name`` for the English
    page and ``name_fa`` for the Persian one; paste with ``{glue:md}`name``` and ``{glue:md}`name_fa```.

    ``value`` is a number or text, formatted with ``fmt`` (numbers of five digits or more with
    their thousands grouped, the Persian copy in Persian digits: :func:`hw5lib.publish.i18n.format_number`), or
    words in both languages, ``{"fa": ..., "en": ...}``."""
    from IPython.display import Markdown
    from myst_nb import glue

    if isinstance(value, dict):
        if set(value) != set(i18n.LANGUAGES):
            raise ValueError(f"Glued text {name!r} needs exactly the languages {i18n.LANGUAGES}, got {sorted(value)}.")
        english, persian = value["en"], value["fa"]
    else:  # a number: thousands grouped (1,104,384 / ۱٬۱۰۴٬۳۸۴), Persian digits on the Persian page
        english, persian = i18n.format_number(value, fmt, "en"), i18n.format_number(value, fmt, "fa")
    glue(name, Markdown(english), display=False)
    glue(f"{name}_fa", Markdown(persian), display=False)
