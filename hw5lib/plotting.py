"""Figures: one look for the whole book, glued for captioning and saved into the run folder.

Figure text stays language-neutral (symbols, numbers, mathematics) because Matplotlib does not
shape Persian; captions, which carry the words, are written in each language in the chapter.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hw5lib.io import atomic_write_bytes  # noqa: E402
from hw5lib.results import RUN_DIR_ENV  # noqa: E402

PALETTE = {"plain": "#d62728", "residual": "#1f77b4", "reference": "#7f7f7f"}


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
    """Glue one copy of ``frame`` per language (``<name>_fa``, ``<name>_en``) with translated
    headers and digits, so a chapter shows each language its own table from a single run.
    Inside a ``hw5lib run`` the frame is also saved as ``tables/<name>.csv``."""
    from myst_nb import glue

    from hw5lib import i18n

    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        path = Path(run_dir) / "tables" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
    for lang, columns in headers.items():
        if len(columns) != frame.shape[1]:
            raise ValueError(f"Table {name!r} has {frame.shape[1]} columns but {len(columns)} '{lang}' headers.")
        localised = frame.copy()
        for column in localised.columns:
            localised[column] = [
                i18n.localise_number(number_format.format(value) if isinstance(value, float) else str(value), lang)
                for value in localised[column]
            ]
        localised.columns = columns
        glue(f"{name}_{lang}", localised.style.hide(axis="index"), display=False)
