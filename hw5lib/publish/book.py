"""Build the whole book: both languages as HTML, and one PDF per language.

``jupyter-book build book/`` alone builds the HTML of both languages (the Sphinx extension runs
the second language). This module adds the PDFs: a single-page build per language printed by
headless Chromium, which shapes Persian correctly. The PDFs are made first, so the HTML pages
that follow link to them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hw5lib.publish import i18n
from hw5lib.publish import pdf as pdf_book
from hw5lib.publish.sphinxext.child import run_child

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BookBuildError(RuntimeError):
    """A step of the book build failed; the message names it."""


def find_chromium() -> str:
    explicit = os.environ.get("HW5LIB_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BookBuildError("No Chromium found for the PDFs; install Debian's 'chromium' (scripts/setup does) "
                         "or set HW5LIB_CHROMIUM to a Chromium or Chrome binary.")


def stage_runs(runs, root: Path = ROOT) -> Path:
    """A copy of ``book/`` in which each run's chapter is that run's executed notebook.

    The notebook is marked not to be executed again, so the book shows the run's own outputs (a
    ``full`` run made on a GPU, say) while every other chapter executes as usual. Returns the
    staged source folder, which sits under ``_build`` so jupyter-book still finds ``_config.yml``.
    """
    import json

    from hw5lib.publish import registry as chapters

    root = Path(root).resolve()
    staged = root / "_build" / "staged" / "book"
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(root / "book", staged, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    for run in runs:
        run = Path(run)
        results = run / "results.json"
        if not results.is_file():
            raise BookBuildError(f"{run} is not a finished run folder (no results.json); give a folder that "
                                 "`python -m hw5lib run` made.")
        name = json.loads(results.read_text(encoding="utf-8"))["chapter"]
        chapter = chapters.get(name)
        executed = run / f"{name}.ipynb"
        if not executed.is_file():
            raise BookBuildError(f"{run} has no executed notebook {executed.name}.")
        notebook = json.loads(executed.read_text(encoding="utf-8"))
        notebook.setdefault("metadata", {}).setdefault("mystnb", {})["execution_mode"] = "off"
        target = staged / Path(chapter.notebook).with_suffix(".ipynb")
        (staged / chapter.notebook).unlink()
        target.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    return staged


def build(pdf: bool = True, warnings_as_errors: bool = False, languages=i18n.LANGUAGES, log=print,
          root: Path = ROOT, runs=()) -> dict:
    """Build PDFs (optional) then the HTML of both languages; return timings in seconds.

    ``root`` is the folder holding ``_config.yml`` and ``book/`` (a copy, in the tests); ``runs``
    are run folders whose executed chapters replace the book's own execution."""
    timings = {}
    root = Path(root).resolve()
    build_dir = root / "_build"
    source = stage_runs(runs, root) if runs else root / "book"
    cache = build_dir / ".jupyter_cache"
    if pdf:
        chromium = find_chromium()
        for lang in languages:
            started = time.perf_counter()
            outdir = build_dir / "singlehtml" / lang
            log(f"hw5lib: single-page '{lang}' build for the PDF ...")
            if run_child(lang, source, outdir, cache, "singlehtml", warnings_as_errors, cwd=root) != 0:
                raise BookBuildError(f"The single-page '{lang}' build failed; its log is above.")
            # a cover, contents with page numbers, bookmarks and page numbers (hw5lib.publish.pdf)
            try:
                pdf_book.print_book(outdir / "index.html", build_dir / "pdf" / f"hw5lib-{lang}.pdf", lang, chromium)
            except pdf_book.PdfError as exc:
                raise BookBuildError(f"The '{lang}' PDF: {exc}") from exc
            timings[f"pdf_{lang}"] = time.perf_counter() - started
    started = time.perf_counter()
    log(f"hw5lib: HTML build of both languages (jupyter-book build {source.relative_to(root)}/) ...")
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
               str(source.relative_to(root))]
    if warnings_as_errors:
        command += ["-W", "--keep-going"]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise BookBuildError("The HTML build failed; its log is above.")
    timings["html"] = time.perf_counter() - started
    return timings
