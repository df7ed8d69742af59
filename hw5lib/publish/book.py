"""Build the whole book: both languages as HTML, and one PDF per language.

``jupyter-book build book/`` alone builds the HTML of both languages (the Sphinx extension runs
the second language). This module adds the PDFs: a single-page build per language printed by
headless Chromium, which shapes Persian correctly. The PDFs are made first, so the HTML pages
that follow link to them.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hw5lib.publish import execute, i18n
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
          root: Path = ROOT, runs=(), jobs: int | None = None) -> dict:
    """Execute the chapters the cache lacks (``jobs`` at a time), then build PDFs (optional) and
    the HTML of both languages; return timings in seconds.

    ``root`` is the folder holding ``_config.yml`` and ``book/`` (a copy, in the tests); ``runs``
    are run folders whose executed chapters replace the book's own execution."""
    timings = {}
    root = Path(root).resolve()
    build_dir = root / "_build"
    source = stage_runs(runs, root) if runs else root / "book"
    cache = build_dir / ".jupyter_cache"
    started = time.perf_counter()
    try:
        execute.execute_book(source, cache, jobs=jobs, timeout=_execution_timeout(root), log=log)
    except execute.ChapterExecutionError as error:
        raise BookBuildError(str(error)) from None
    timings["execute"] = time.perf_counter() - started
    if pdf:
        chromium = find_chromium()

        def make_pdf(lang: str) -> None:
            started = time.perf_counter()
            outdir = build_dir / "singlehtml" / lang
            if run_child(lang, source, outdir, cache, "singlehtml", warnings_as_errors, cwd=root) != 0:
                raise BookBuildError(f"The single-page '{lang}' build failed; its log is above.")
            # a cover, contents with page numbers, bookmarks and page numbers (hw5lib.publish.pdf)
            target = build_dir / "pdf" / f"hw5lib-{lang}.pdf"
            try:
                printed = pdf_book.print_book(outdir / "index.html", target, lang, chromium)
            except pdf_book.PdfError as exc:
                raise BookBuildError(f"The '{lang}' PDF: {exc}") from exc
            timings[f"pdf_{lang}"] = time.perf_counter() - started
            how = "unchanged, kept" if printed.get("reused") else "printed"
            log(f"hw5lib: PDF ({lang}) {target.relative_to(root)} {how} in {timings[f'pdf_{lang}']:.0f} s")

        # the languages side by side: every chapter is in the execution cache, so each build only reads
        with concurrent.futures.ThreadPoolExecutor(len(languages)) as pool:
            for made in [pool.submit(make_pdf, lang) for lang in languages]:
                made.result()
    started = time.perf_counter()
    # -q: Sphinx's warnings and errors, not its status lines (this build's own lines say what it does)
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", "-q",
               str(source.relative_to(root))]
    if warnings_as_errors:
        command += ["-W", "--keep-going"]
    result = subprocess.run(command, cwd=root, env={**os.environ, execute.DONE_ENV: "1"})
    if result.returncode != 0:
        raise BookBuildError("The HTML build failed; its log is above.")
    timings["html"] = time.perf_counter() - started
    log(f"hw5lib: HTML of both languages (jupyter-book build {source.relative_to(root)}/) in {timings['html']:.0f} s")
    return timings


def _execution_timeout(root: Path) -> int | None:
    """``execute: timeout:`` of the book's ``_config.yml`` (seconds per cell), as jupyter-book reads it."""
    import yaml

    config = root / "_config.yml"
    settings = yaml.safe_load(config.read_text(encoding="utf-8")) if config.is_file() else {}
    timeout = ((settings or {}).get("execute") or {}).get("timeout", 30)
    return None if timeout in (None, -1) else int(timeout)
