"""Figures: one look for the whole book, glued for captioning and saved into the run folder.

Figure text stays language-neutral (symbols, numbers, mathematics) because Matplotlib does not
shape Persian; captions, which carry the words, are written in each language in the chapter.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hw5lib.io import atomic_write_bytes  # noqa: E402
from hw5lib.publish.results import RUN_DIR_ENV  # noqa: E402

PALETTE = {"plain": "#d62728", "residual": "#1f77b4", "reference": "#7f7f7f", "train": "#1f77b4",
           "validation": "#ff7f0e",
           "kan": "#1f77b4", "mlp": "#d62728"}


def style() -> None:
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=1.0)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def publish_figure(name: str, fig) -> Path | None:
    """Glue ``fig`` under ``name`` (the chapter captions it with ``{glue:figure}``) and, inside a
    ``hw5lib run``, save it as ``figures/<name>.png`` in the run folder."""
    from IPython.display import Image
    from myst_nb import glue

    buffer = io.BytesIO()
    # no timestamp in the PNG, so the same run gives the same bytes
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    png = buffer.getvalue()
    path = None
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        path = Path(run_dir) / "figures" / f"{name}.png"
        atomic_write_bytes(path, png)
    glue(name, Image(data=png, format="png"), display=False)
    return path


def publish_table(name: str, frame, headers: dict[str, list[str]], number_format: str = "{:.3g}"):
    """Glue one Markdown table per language (``<name>_fa``, ``<name>_en``) with translated headers
    and digits. A chapter pastes it with ``{glue:md}`` inside a ``{table}`` directive, so it is a
    real numbered table with a caption in each language. ``frame`` is one DataFrame, or a mapping
    from language to DataFrame when cells hold words that differ by language. Inside a
    ``hw5lib run`` the (English, when there is one) frame is also saved as ``tables/<name>.csv``."""
    from IPython.display import Markdown
    from myst_nb import glue

    frames = dict(frame) if isinstance(frame, Mapping) else {lang: frame for lang in headers}
    missing = sorted(set(headers) - set(frames))
    if missing:
        raise ValueError(f"Table {name!r} has headers but no rows for {', '.join(missing)}.")
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        path = Path(run_dir) / "tables" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frames.get("en", next(iter(frames.values()))).to_csv(path, index=False)
    for lang, columns in headers.items():
        if len(columns) != frames[lang].shape[1]:
            raise ValueError(f"Table {name!r} has {frames[lang].shape[1]} columns but {len(columns)} '{lang}' headers.")
        glue(f"{name}_{lang}", Markdown(markdown_table(frames[lang], columns, lang, number_format)), display=False)


def markdown_table(frame, columns: list[str], lang: str, number_format: str = "{:.3g}") -> str:
    """A pipe table of ``frame`` with ``columns`` as headers and numbers in ``lang``'s digits."""
    from hw5lib.publish import i18n

    def cell(value) -> str:
        if hasattr(value, "item"):  # numpy scalars
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            text = i18n.persian_digits(str(value), lang)  # words: the digits of Latin names stay
        else:
            text = i18n.format_number(value, number_format if isinstance(value, float) else "{}", lang)
        return text.replace("|", "\\|")

    columns = [i18n.persian_digits(str(column), lang) for column in columns]  # «رقم 0» -> «رقم ۰»
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
