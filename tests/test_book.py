"""Build both books (and their PDFs) from a copy of the sources, with the network disabled, and
read them as a visitor would, in real headless Chromium. Screenshots and PDF pages go to
tests/artifacts/ for a person to look at.

The book is built on the quick profile, the one readers get (``HW5LIB_TEST_BOOK_PROFILE=smoke``
gives a fast local pass of the same checks)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import chromium_path, offline, outline, page_text, squash
from hw5lib.data.audio import shared_fsdd

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PROFILE = os.environ.get("HW5LIB_TEST_BOOK_PROFILE", "quick")
DATA_PAGES = ("q1_distances", "q1_automl", "q1_kan", "q3_whisper", "q4_digits")  # chapters on recordings
CHAPTER_PAGES = ("index", "q1_distances", "q1_automl", "q1_kan", "q2_vanishing", "q3_whisper", "q4_digits")
PAGES = [(lang, page) for lang in ("fa", "en") for page in CHAPTER_PAGES]


@pytest.fixture(scope="module")
def built(project_copy):
    """The whole book, both languages, HTML (Sphinx warnings as errors) and PDFs, built offline."""
    if chromium_path() is None:
        pytest.skip("no Chromium: install Debian's chromium (scripts/setup does)")
    command, env = offline([sys.executable, "-c", "import sys; from hw5lib.publish import book; "
                            "book.build(pdf=True, warnings_as_errors=True, root=sys.argv[1])", str(project_copy)],
                           {**os.environ, "HW5LIB_PROFILE": PROFILE})
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, \
        f"the offline {PROFILE} build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return project_copy / "_build"


def test_no_page_asks_for_anything_remote(built):
    """Scripts, styles, fonts and images all come from the build: a reader offline sees the same book."""
    remote = re.compile(r'<(?:script|link|img|source)\b[^>]*?\b(?:src|href)="(https?:)?//[^"]+"', re.I)
    pages = sorted((built / "html").rglob("*.html"))
    assert len(pages) >= 2 * len(CHAPTER_PAGES)
    found = {str(page.relative_to(built)): match.group(0)[:120] for page in pages
             for match in [remote.search(page.read_text(encoding="utf-8"))] if match}
    assert not found, f"pages that fetch from the network: {found}"
    styles = [path for path in (built / "html").rglob("*.css") if "@import url(http" in path.read_text(errors="ignore")]
    assert not styles, styles


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api  # a dev dependency: a broken install fails, never skips

    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield launched
        launched.close()


def page_path(build: Path, lang: str, page: str) -> Path:
    return build / "html" / ("" if lang == "fa" else "en") / f"{page}.html"


@pytest.fixture()
def visit(browser, built):
    """Open a page offline; return it with the console errors and the network requests it made."""
    opened = []

    def _visit(lang, page):
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        # generous: on a loaded 2-core machine typesetting a page of maths can pass the 30 s default
        context.set_default_timeout(120_000)
        tab = context.new_page()
        log = {"errors": [], "remote": []}
        tab.on("console", lambda message: message.type == "error" and log["errors"].append(message.text))
        tab.on("pageerror", lambda error: log["errors"].append(str(error)))
        tab.on("requestfailed", lambda request: log["errors"].append(f"failed: {request.url}"))

        def refuse_remote(route):
            # a remote fetch is a failure to report, not something to wait for: on a machine
            # without internet it can hang instead of failing, so it is refused at once
            log["remote"].append(route.request.url)
            route.abort()

        context.route(lambda url: url.startswith(("http:", "https:")), refuse_remote)
        tab.goto(page_path(built, lang, page).as_uri(), wait_until="load")
        # settled means: web fonts loaded, every image decoded and MathJax done typesetting; no
        # "network idle" wait, whose 500 ms quiet window a busy 2-core machine may never give
        tab.wait_for_function("document.fonts.status === 'loaded' "
                              "&& [...document.images].every(i => i.complete)")
        # a page that loads MathJax (not every page has maths): wait until it has typeset
        tab.wait_for_function("!document.querySelector('script[src*=\"mathjax\" i]') "
                              "|| (window.MathJax && MathJax.startup && MathJax.startup.promise)")
        tab.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true")
        opened.append(context)
        return tab, log

    yield _visit
    for context in opened:
        context.close()


@pytest.mark.parametrize("lang, page", PAGES)
def test_page_reads_right(visit, artifacts, lang, page):
    tab, log = visit(lang, page)
    html = tab.locator("html")
    assert html.get_attribute("lang") == lang
    assert html.get_attribute("dir") == ("rtl" if lang == "fa" else "ltr")
    tab.screenshot(path=str(artifacts / f"{lang}-{page}.png"), full_page=True)
    text = tab.locator("article").inner_text()
    assert "$$" not in text and "\\begin{aligned}" not in text, "raw TeX left on the page"
    images = tab.eval_on_selector_all("article img", "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth > 0])")
    assert all(ok for _, ok in images), [src for src, ok in images if not ok]
    if page in DATA_PAGES:  # where the page's recordings came from, in a box above its first section
        box = tab.locator("article .admonition").first
        title = box.locator(".admonition-title").inner_text()
        real = page != "q3_whisper" and shared_fsdd() is not None
        if real:
            assert title == ("داده" if lang == "fa" else "Data") and "FSDD" in box.inner_text()
        else:
            assert title == ("گوینده‌های ساختگی" if lang == "fa" else "Synthetic speakers")
            assert "HW5LIB_OFFLINE" in box.inner_text() or page == "q3_whisper", "the reason is given"
        assert tab.evaluate("""() => { const box = document.querySelector('article .admonition');
            const section = document.querySelector('article section section');
            return !section || !!(box.compareDocumentPosition(section) & Node.DOCUMENT_POSITION_FOLLOWING); }""")
    if page == "q2_vanishing":
        assert len(images) == 2  # gradient norms and training curves (the error table is HTML)
        assert tab.locator("mjx-container").count() > 10
        heading = tab.locator("article h1").first.inner_text()
        assert ("محو نشویم" in heading) if lang == "fa" else ("not vanish" in heading)
    if page == "q1_distances":
        assert len(images) == 7  # speaker distances, generalisation, drift, sweep, KL, estimators, MMD loss
        assert tab.locator("article table").count() == 1  # the closing methods, a real table
        heading = tab.locator("article h1").first.inner_text()
        assert ("فاصلهٔ میان توزیع‌ها" in heading) if lang == "fa" else ("Distances between distributions" in heading)
        conclusion = tab.locator("article section").last.inner_text()
        assert ("بیشترین کمک" in conclusion or "هیچ روشی" in conclusion) if lang == "fa" else \
            ("helped most" in conclusion or "no method" in conclusion)
    if page == "q1_automl":
        assert len(images) == 2  # trials of both searches, parameter importances
        assert tab.locator("article table").count() == 3  # the libraries, the search space, the final comparison
        heading = tab.locator("article h1").first.inner_text()
        assert ("جست‌وجوی معماری عصبی" in heading) if lang == "fa" else ("neural architecture search" in heading)
        assert "TPE" in text and ("Auto-WEKA" in text and "TransmogrifAI" in text)
    if page == "q1_kan":
        assert len(images) == 3  # accuracy against parameters, the edge functions, forgetting
        assert tab.locator("article table").count() == 4  # scaling, snapped edges, digits, Table 1
        heading = tab.locator("article h1").first.inner_text()
        assert ("کولموگروف" in heading) if lang == "fa" else ("Kolmogorov" in heading)
        verdicts = tab.locator("article section").last.inner_text()
        assert verdicts.count("برقرار") + verdicts.count("نیمه:") >= 4 if lang == "fa" else \
            sum(verdicts.count(word) for word in ("Held:", "Partly:", "Did not hold:")) >= 4
        assert tab.locator("mjx-container").count() > 5  # the theorem, the layer and the recovered formula
    if page == "q3_whisper":
        assert len(images) == 1  # training curves of every strategy
        # the two sentences, before/after, the report's Table 2, examples, strategies
        assert tab.locator("article table").count() == 6
        heading = tab.locator("article h1").first.inner_text()
        topic = "یادگیری انتقالی" if lang == "fa" else "transfer learning"
        assert "Whisper" in heading and topic in heading
        assert "你好" in text and "سلام، من دیروز در کلاس پردازش گفتار دیجیتال شرکت کردم" in text
    if page == "q4_digits":
        assert len(images) == 5  # class distribution, curves and confusions for both recipes
        assert tab.locator("article table").count() == 7  # speakers, splits, ablation, models, unheard, levers, crowd
        heading = tab.locator("article h1").first.inner_text()
        assert ("ارقام گفته‌شده" in heading) if lang == "fa" else ("Spoken-digit recognition" in heading)
        assert ("40" in text and "LSTM 2x64" in text) if lang == "en" else ("۴۰" in text)
    if lang == "fa":
        font = tab.evaluate("getComputedStyle(document.querySelector('article p')).fontFamily")
        assert "Vazirmatn" in font
        loaded = tab.evaluate("document.fonts.ready.then(() => [...document.fonts]"
                              ".filter(f => f.family.includes('Vazirmatn') && f.status === 'loaded').length)")
        assert loaded >= 1, "the Vazirmatn web font did not load"
        code_direction = tab.evaluate("getComputedStyle(document.querySelector('div.highlight pre') "
                                      "|| document.body).direction")
        assert code_direction == "ltr" or page == "index"
    assert log["remote"] == [], f"fetched from the network: {log['remote']}"
    assert log["errors"] == [], log["errors"]


@pytest.mark.parametrize("lang, page", PAGES)
def test_switch_lands_on_the_same_page_in_the_other_language(visit, lang, page):
    tab, _ = visit(lang, page)
    other = "en" if lang == "fa" else "fa"
    tab.locator("article .hw5lib-switch, .bd-header-article .hw5lib-switch").first.click()
    tab.wait_for_load_state("load")
    assert tab.url.endswith(("/en/" if other == "en" else "/html/") + f"{page}.html"), tab.url
    assert tab.locator("html").get_attribute("lang") == other


def test_results_table_is_filled_from_the_chapter(visit):
    tab, _ = visit("en", "index")
    table = tab.locator("table.hw5lib-results")
    assert table.count() == 1
    cells = table.inner_text()
    assert "Q2: Let's not vanish" in cells and "final training loss, residual" in cells
    assert "Data" in table.locator("th").all_inner_texts() and "no recordings" in cells  # Q2 uses none
    assert ("FSDD, real" if shared_fsdd() is not None else "synthetic:") in cells
    assert "Q1: Distances between distributions" in cells and "best closing method" in cells
    tab_fa, _ = visit("fa", "index")
    assert "هزینهٔ پایانی آموزش" in tab_fa.locator("table.hw5lib-results").inner_text()


def test_each_chapter_executed_once_for_both_languages(built):
    """The execution stage ran every chapter before Sphinx read it, and both languages' builds
    found it in the cache: one cached notebook per chapter, none executed again by myst-nb."""
    from jupyter_cache import get_cache

    records = get_cache(str(built / ".jupyter_cache")).list_cache_records()
    names = sorted(Path(record.uri).stem for record in records)
    assert names == sorted(CHAPTER_PAGES[1:]), names


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_execution_page_says_how_each_chapter_ran(visit, lang):
    tab, _ = visit(lang, "execution")
    table = tab.locator("article table")
    assert table.count() == 1
    rows = table.locator("tbody tr")
    assert rows.count() == len(CHAPTER_PAGES) - 1
    for index in range(rows.count()):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells[1] == PROFILE and cells[3] in ("cpu", "cuda", "mps"), cells
        assert ("اجرا" in cells[-1]) if lang == "fa" else ("executed" in cells[-1]), cells
    assert rows.first.locator("a").count() == 1  # the chapter's name links to it


@pytest.mark.parametrize("lang, words", [("fa", ["پس‌انتشار", "شبکه"]), ("en", ["not vanish", "Fig. 1"])])
def test_pdf_per_language(built, artifacts, lang, words):
    pdf = built / "pdf" / f"hw5lib-{lang}.pdf"
    assert pdf.stat().st_size > 50_000
    assert (built / "html" / ("" if lang == "fa" else "en") / "_downloads" / pdf.name).exists()
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    normalised = text.replace("\u200c", "")
    for word in words:
        assert word.replace("\u200c", "") in normalised, word
    if lang == "en":
        assert "شکل" not in text, "Persian words in the English PDF"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    if lang == "fa":
        assert "Vazirmatn" in fonts
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "4", str(pdf), str(artifacts / f"pdf-{lang}")],
                   check=True)


CHAPTERS = CHAPTER_PAGES[1:]
TOC_PAGES = (*CHAPTERS, "execution")  # the TOC's pages after the intro; the execution page has no sections


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_pdf_has_cover_contents_and_bookmarks_for_every_chapter(built, lang):
    """The bookmarks hold the intro and each chapter at their top level (in the TOC's order), with
    their sections beneath; the cover and the contents come first."""
    pdf = built / "pdf" / f"hw5lib-{lang}.pdf"
    marks = outline(pdf)
    assert len(marks) == 1 + len(TOC_PAGES), [title for title, _, _ in marks]
    for (title, page, sections), name in zip(marks[1:], TOC_PAGES):
        heading = re.sub(r"<[^>]+>", "", re.search(r"<h1>(.*?)</h1>", page_path(built, lang, name).read_text(
            encoding="utf-8"), re.S)[1]).replace("#", "")
        # the same letters (pdftohtml may move a Persian title's number and words about)
        assert sorted(re.sub(r"[\W\d_]", "", heading)) == sorted(re.sub(r"[\W\d_]", "", title)), (title, heading)
        assert sections or name not in CHAPTERS, f"{title}: no sections in the bookmarks"
    pages = [page for _, page, _ in marks]
    assert pages == sorted(pages) and pages[0] >= 3
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert pages[-1] < int(re.search(r"Pages:\s+(\d+)", info)[1]) <= 400  # the last chapter has pages of its own
    assert squash("فهرست مطالب" if lang == "fa" else "Contents") in squash(page_text(pdf, 2))
    cover = page_text(pdf, 1)
    assert PROFILE in cover and ("نسخهٔ فارسی" if lang == "fa" else "English edition").split()[-1] in cover


@pytest.mark.parametrize("query, page", [("پس‌انتشار", "q2_vanishing"), ("پسانتشار", "q2_vanishing"),
                                         ("كولموگروف", "q1_kan"), ("كولموگروف آرنولد", "q1_kan")])
def test_persian_search_finds_the_page(built, browser, artifacts, query, page):
    """Typed into the Persian book's search box: with and without the ZWNJ, with Arabic ك."""
    from conftest import search_site, serve_folder

    with serve_folder(built / "html") as site:
        found = search_site(browser, site, query, artifacts / f"search-fa-{page}.png")
    assert any(link.startswith(f"{page}.html") for link, _ in found), (query, found)


def test_book_from_a_run_shows_that_run(built, project_copy, tmp_path, monkeypatch):
    """A run's executed chapter replaces the chapter's execution in the book, outputs and all (the
    other chapters come from the execution cache of the book built above, on its profile)."""
    import json

    from hw5lib.publish import book, runner

    monkeypatch.setenv("HW5LIB_PROFILE", PROFILE)
    run_dir = runner.run_chapter("q2", "smoke", {"depth": 7, "train_steps": 5}, output=tmp_path, progress=False)
    book.build(pdf=False, root=project_copy, runs=[run_dir], log=lambda message: None)
    page = (project_copy / "_build" / "html" / "en" / "q2_vanishing.html").read_text(encoding="utf-8")
    assert "a stack of 7 layers" in page.replace("\n", " ")
    intro = (project_copy / "_build" / "html" / "en" / "index.html").read_text(encoding="utf-8")
    assert "smoke · " in intro  # the results table says which run the numbers came from
    staged = project_copy / "_build" / "staged" / "book"
    assert json.loads((staged / "q2_vanishing.ipynb").read_text())["metadata"]["mystnb"]["execution_mode"] == "off"
    with pytest.raises(book.BookBuildError, match="not a finished run folder"):
        book.stage_runs([tmp_path / "nothing-here"], project_copy)


# Hard-coded in sphinx-book-theme's templates (no translation call): left as they are, in English.
UNTRANSLATABLE = {"Main", "Page", "Toggle primary sidebar", "Toggle secondary sidebar"}


@pytest.mark.parametrize("page", CHAPTER_PAGES)
def test_persian_navigation_is_persian(built, page):
    import re

    html = page_path(built, "fa", page).read_text(encoding="utf-8")
    body = re.sub(r"<script.*?</script>", "", html[html.find("<body"):], flags=re.S)
    labels = set(re.findall(r'(?:title|aria-label|placeholder)="([^"]+)"', body))
    english = {label for label in labels
               if re.search(r"[A-Za-z]{3,}", label) and not re.search(r"[\u0600-\u06ff]", label)
               and label not in UNTRANSLATABLE and label not in {"English", "PDF"}}
    assert not english, f"English navigation words on a Persian page: {sorted(english)}"
    for phrase in ("Back to top", "Skip to main content", "Contents", "By hw5lib"):
        assert phrase not in body
