"""Sphinx extension that publishes one bilingual source as a Persian and an English book.

How it works (see docs in README, "How the bilingual book is built"):

1. ``source-read``: every document is filtered to the build's ``language`` with
   :func:`hw5lib.publish.i18n.filter_language`; code cells are untouched, so both builds hash to the same
   notebooks and jupyter-cache executes each chapter once.
2. ``html-page-context``: each page gets ``hw5lib_*`` template variables (the URL of the same
   page in the other language, the PDF) used by ``lang-switch.html``.
3. ``build-finished``: the pages written in this build get ``dir`` on their ``<html>`` tag, and
   the primary build (Persian, at the site root) runs the other language's build into ``en/``
   in a child process (:mod:`hw5lib.publish.sphinxext.child`), sharing the execution cache. So a
   plain ``jupyter-book build book/`` produces both books.
4. ``{hw5lib-results}``: a table of every chapter's headline results beside the report's,
   filled at write time from the chapters' glued results (see :mod:`hw5lib.publish.results`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import SphinxError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from hw5lib.publish import assets, dependencies, execute
from hw5lib.publish import i18n
from hw5lib.publish.sphinxext import finish
from hw5lib.publish.sphinxext.child import run_child, start_child

LOGGER = logging.getLogger(__name__)
HERE = Path(__file__).parent


# --- 1. one language per build ------------------------------------------------------------

def _filter_source(app: Sphinx, docname: str, source: list[str]) -> None:
    path = str(app.env.doc2path(docname))
    if path.endswith(".ipynb"):  # an executed run (``hw5lib book --from-run``): outputs kept as they are
        source[0] = i18n.filter_notebook_json(source[0], app.config.language, source=path)
        return
    text, files, key = execute.keyed_source(i18n.filter_language(source[0], app.config.language, source=path))
    if key is not None:
        app.env.hw5lib_dependencies = {**getattr(app.env, "hw5lib_dependencies", {}),
                                       docname: [str(file.relative_to(dependencies.HW5LIB)) for file in files]}
        app.env.hw5lib_keys = {**getattr(app.env, "hw5lib_keys", {}), docname: key}
    source[0] = text


def _fingerprint(paths, base: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(base).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _stored_key(env, docname: str) -> str:
    """The execution key of ``docname`` from the files its last reading found, as they are now."""
    files = [dependencies.HW5LIB / name for name in env.hw5lib_dependencies[docname]]
    return execute.execution_key(files)


def site_fingerprint() -> str:
    """sha256 of this extension's own files (code, templates, CSS): they change every page."""
    return _fingerprint((path for path in HERE.rglob("*") if path.is_file() and "__pycache__" not in path.parts), HERE)


# --- 2. template context -------------------------------------------------------------------

def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    lang = app.config.language
    others = [other for other in app.config.hw5lib_languages if other != lang]
    context["hw5lib_switches"] = [
        {
            "lang": other,
            "label": i18n.LANGUAGE_NAMES[other],
            "url": i18n.switch_url(pagename, lang, other, app.config.hw5lib_primary_language),
        }
        for other in others
    ]
    _drop_duplicate_scripts(context)
    pdf = _pdf_path(app)
    context["hw5lib_pdf_url"] = ("../" * pagename.count("/") + f"_downloads/{pdf.name}") if pdf.exists() else ""
    # pages rendered in this build: build-finished sets their direction
    app.builder.hw5lib_rendered = getattr(app.builder, "hw5lib_rendered", set()) | {pagename}


def _drop_duplicate_scripts(context: dict) -> None:
    """sphinx-thebe and sphinx-togglebutton register their inline scripts twice (once more, at
    another priority, when the environment is re-read); a second ``const`` declaration is a
    SyntaxError in the browser. Keep the first of any scripts with the same file and attributes."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"] = unique


def build_root(app: Sphinx) -> Path:
    """The build folder shared by every language's build (the one holding the execution cache)."""
    return Path(app.env.mystnb_config.execution_cache_path).parent


def _pdf_path(app: Sphinx) -> Path:
    return build_root(app) / "pdf" / f"hw5lib-{app.config.language}.pdf"


def _publish_pdf(app: Sphinx) -> None:
    pdf = _pdf_path(app)
    if app.builder.name == "html" and pdf.exists():
        target = Path(app.outdir) / "_downloads" / pdf.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pdf, target)


_HTML_TAG = re.compile(r"<html(?![^>]*\bdir=)", re.IGNORECASE)


def _set_direction(app: Sphinx) -> None:
    direction = i18n.text_direction(app.config.language)
    suffix = app.builder.out_suffix if hasattr(app.builder, "out_suffix") else ".html"
    for pagename in getattr(app.builder, "hw5lib_rendered", ()):
        path = Path(app.outdir) / f"{pagename}{suffix}"
        if app.builder.name == "singlehtml":
            path = Path(app.outdir) / "index.html"
        if not path.exists():
            continue
        html = path.read_text(encoding="utf-8")
        updated = _HTML_TAG.sub(f'<html dir="{direction}"', html, count=1)
        updated = finish.finish_page(updated, app.config.language)  # the page's digits, Latin text isolated
        if updated != html:
            path.write_text(updated, encoding="utf-8")


# --- 3. the other language's build -----------------------------------------------------------

def _builds_other_languages(app: Sphinx) -> bool:
    return (app.builder.name == "html" and app.config.language == app.config.hw5lib_primary_language
            and app.config.hw5lib_build_other_languages)


def _other_outdir(app: Sphinx, lang: str) -> Path:
    # built beside the primary book (myst-nb puts its working files next to the output folder,
    # which must not be inside the published site), then moved into place
    return build_root(app) / lang / "html"


def _start_other_languages(app: Sphinx) -> None:
    """With every chapter already in the execution cache, the other languages' books are built
    at the same time as this one (each in its own process), not after it."""
    if not _builds_other_languages(app) or app.env.mystnb_config.execution_mode not in ("cache", "off"):
        return
    app.hw5lib_children = {
        lang: start_child(lang, Path(app.srcdir), _other_outdir(app, lang),
                          Path(app.env.mystnb_config.execution_cache_path), warnings_as_errors=app.warningiserror)
        for lang in app.config.hw5lib_languages if lang != app.config.language}


def _build_finished(app: Sphinx, exception) -> None:
    if exception is not None:
        for child in getattr(app, "hw5lib_children", {}).values():
            child.terminate()
        return
    _set_direction(app)
    _publish_pdf(app)
    if _builds_other_languages(app):
        _build_other_languages(app)


def _build_other_languages(app: Sphinx) -> None:
    started = getattr(app, "hw5lib_children", {})
    for lang in app.config.hw5lib_languages:
        if lang == app.config.language:
            continue
        published = Path(app.outdir) / lang
        outdir = _other_outdir(app, lang)
        if lang in started:
            status = started[lang].wait()
        else:
            LOGGER.info(f"hw5lib: building the '{lang}' book into {published}")
            status = run_child(lang, Path(app.srcdir), outdir, Path(app.env.mystnb_config.execution_cache_path),
                               warnings_as_errors=app.warningiserror)
        if status != 0:
            raise RuntimeError(f"The '{lang}' build failed (exit {status}); its log is above.")
        staging = published.with_name(f".{lang}.staging")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(outdir, staging)
        shutil.rmtree(published, ignore_errors=True)
        staging.rename(published)


# --- 4. the results table --------------------------------------------------------------------

class results_placeholder(nodes.General, nodes.Element):
    """Replaced at write time by a table made from other documents' executions: every chapter's
    results (``{hw5lib-results}``) or how each chapter was executed (``{hw5lib-execution}``)."""


class ResultsDirective(SphinxDirective):
    has_content = False
    table = "results"

    def run(self):
        self.env.hw5lib_results_docs = getattr(self.env, "hw5lib_results_docs", set()) | {self.env.docname}
        return [results_placeholder(table=self.table)]


class ExecutionDirective(ResultsDirective):
    table = "execution"


# --- 5. the chapters executed side by side before the pages are read -------------------------

def _execute_chapters(app: Sphinx) -> None:
    """The primary build (not a child) executes the chapters that the cache lacks, several at
    once, before Sphinx reads a page (see :mod:`hw5lib.publish.execute`)."""
    config = app.env.mystnb_config
    if (not app.config.hw5lib_build_other_languages or config.execution_mode != "cache"
            or os.environ.get(execute.DONE_ENV)):  # hw5lib book ran it (its record says what it executed)
        return
    try:
        execute.execute_book(Path(app.srcdir), Path(config.execution_cache_path),
                             timeout=config.execution_timeout, log=LOGGER.info)
    except execute.ChapterExecutionError as error:
        raise SphinxError(str(error)) from None


def _outdated(app, env, added, changed, removed):
    outdated = set()
    keys = getattr(env, "hw5lib_keys", {})
    for docname in set(getattr(env, "hw5lib_dependencies", {})) & env.found_docs:
        # a file this chapter imports, or the profile, changed since its last reading: read it
        # again, which re-executes it under its new cache key (other chapters keep theirs)
        if keys.get(docname) != _stored_key(env, docname):
            outdated.add(docname)
    site = site_fingerprint()
    if getattr(env, "hw5lib_site_fingerprint", None) != site:
        # templates or CSS changed: Sphinx copies static files and renders pages only when some
        # page is out of date, so mark them all (re-reading them hits the execution cache)
        outdated |= env.found_docs
    env.hw5lib_site_fingerprint = site
    pdf_available = _pdf_path(app).exists()
    if getattr(env, "hw5lib_pdf_available", None) != pdf_available:
        outdated |= env.found_docs  # every page links to its language's PDF, or must stop doing so
    env.hw5lib_pdf_available = pdf_available
    # the results and execution tables show other documents' outputs and how they were made:
    # rewrite them whenever any document is re-read or the chapters were executed anew
    executions = json.dumps(execute.last_record(build_root(app)).get("last", {}).get("chapters", []))
    if added or changed or removed or outdated or getattr(env, "hw5lib_executions", None) != executions:
        outdated |= getattr(env, "hw5lib_results_docs", set())
    env.hw5lib_executions = executions
    return sorted(outdated)


def _fill_results(app: Sphinx, doctree, docname: str) -> None:
    from hw5lib.publish import results

    placeholders = list(doctree.findall(results_placeholder))
    if not placeholders:
        return
    if any(placeholder.get("table") == "execution" for placeholder in placeholders):
        execution = execute.execution_table(execute.last_record(build_root(app)), app.config.language)
    glue_folder = Path(app.env.mystnb_config.output_folder)
    records = []
    for other in sorted(app.env.found_docs):
        glue_file = glue_folder / f"{other}.glue.json"
        if not glue_file.exists():
            continue
        glued = json.loads(glue_file.read_text(encoding="utf-8"))
        bundle = glued.get(results.GLUE_KEY)
        if bundle:
            records.append((other, results.ChapterResults.from_mimebundle(bundle["data"])))
    table = results.summary_table(records, app.config.language)
    for placeholder in placeholders:
        chosen = execution if placeholder.get("table") == "execution" else table
        placeholder.replace_self(_table_node(chosen, app, docname))


def _table_node(table: dict, app: Sphinx, docname: str):
    """A docutils table from ``{"header": [...], "rows": [[cell, ...], ...]}``; a cell is text or
    ``(text, docname)`` for a link to that chapter."""
    if not table["rows"]:
        return nodes.paragraph(text=table["empty"])
    group = nodes.tgroup(cols=len(table["header"]))
    for _ in table["header"]:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    row = nodes.row()
    for title in table["header"]:
        row += nodes.entry("", nodes.paragraph(text=title))
    head += row
    group += head
    body = nodes.tbody()
    for cells in table["rows"]:
        row = nodes.row()
        for cell in cells:
            para = nodes.paragraph()
            if isinstance(cell, tuple):
                text, target = cell
                ref = nodes.reference("", text, internal=True,
                                      refuri=app.builder.get_relative_uri(docname, target))
                para += ref
            else:
                para += nodes.Text(cell)
            row += nodes.entry("", para)
        body += row
    group += body
    node = nodes.table("", group, classes=["hw5lib-results"])
    return node


def _compile_catalogues() -> Path:
    """Compile the theme words this package translates (locale/<lang>/LC_MESSAGES/*.po) to .mo
    files in a cache folder keyed by their content, which Sphinx then merges with the themes'."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    sources = sorted((HERE / "locale").glob("*/LC_MESSAGES/*.po"))
    target = assets.assets_dir() / f"locale-{_fingerprint(sources, HERE)}"
    if not target.is_dir():
        staging = target.with_name(f".{target.name}.{os.getpid()}")
        for po in sources:
            mo = staging / po.relative_to(HERE / "locale").with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source, mo.open("wb") as compiled:
                write_mo(compiled, read_po(source))
        try:
            staging.rename(target)
        except OSError:  # another build compiled them first
            shutil.rmtree(staging, ignore_errors=True)
    return target


# --- set-up ------------------------------------------------------------------------------------

def _config_inited(app: Sphinx, config) -> None:
    i18n.check_language(config.language)
    # per-language configuration values (title, author, ...): one book's words, not the other's
    for name, value in (config.hw5lib_language_config or {}).get(config.language, {}).items():
        config[name] = value
    # merged, not replaced: jupyter-book computes html_theme_options (launch buttons, repository);
    # "*" applies to every language, a language's own entry holds words the theme takes as options
    extra = config.hw5lib_theme_options or {}
    config.html_theme_options = {**(config.html_theme_options or {}), **extra.get("*", {}),
                                 **extra.get(config.language, {})}
    found = assets.ensure_all(log=lambda message: LOGGER.info(message))
    config.html_static_path = list(config.html_static_path) + [str(HERE / "static"), str(assets.assets_dir())]
    config.templates_path = [str(HERE / "templates")] + list(config.templates_path)
    mathjax = found["mathjax"].relative_to(assets.assets_dir()) / "es5" / "tex-chtml.js"
    config.mathjax_path = mathjax.as_posix()
    config.mathjax3_config = {**(config.mathjax3_config or {}),
                              "chtml": {"matchFontHeight": False}}


def setup(app: Sphinx) -> dict:
    app.add_config_value("hw5lib_languages", list(i18n.LANGUAGES), "env")
    app.add_config_value("hw5lib_primary_language", i18n.PRIMARY_LANGUAGE, "env")
    app.add_config_value("hw5lib_build_other_languages", True, "")
    app.add_config_value("hw5lib_language_config", {}, "html")
    app.add_config_value("hw5lib_theme_options", {}, "html")
    app.connect("config-inited", _config_inited)
    app.connect("source-read", _filter_source)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _build_finished)
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-resolved", _fill_results)
    locale = _compile_catalogues()
    for catalogue in ("sphinx", "booktheme"):
        app.add_message_catalog(catalogue, str(locale))
    app.add_node(results_placeholder)
    app.add_directive("hw5lib-results", ResultsDirective)
    app.add_directive("hw5lib-execution", ExecutionDirective)
    app.connect("builder-inited", _execute_chapters, priority=900)  # after myst-nb has read its configuration
    app.connect("builder-inited", _start_other_languages, priority=901)  # once every chapter is cached
    app.add_css_file("hw5lib.css")
    from hw5lib.publish.sphinxext.search import SearchPersian

    app.add_search_language(SearchPersian)  # the Persian book's index and queries, folded alike
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
