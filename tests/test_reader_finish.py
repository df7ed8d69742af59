"""The reader's finish, on a small bilingual book built end to end (both languages, HTML and PDFs)
and read in headless Chromium: figure numbers per chapter and in Persian digits, Latin text
isolated in Persian pages, Arabic script shaped in code, Persian search that folds ZWNJ and Arabic
letters, and PDFs with a cover, contents with page numbers, bookmarks and page numbers.

The whole book gets the same checks in tests/test_book.py; this one is small enough (no code to
execute) to run in a minute."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, chromium_path, outline, page_text, search_site, serve_folder, squash

pytestmark = [pytest.mark.slow, pytest.mark.browser]

INDEX = """::::{fa}
# کتاب آزمایشی
این کتاب فقط برای آزمون است.
::::
::::{en}
# A test book
This book is only for the tests.
::::
"""

CHAPTER_ONE = """::::{fa}
# فصل یک
## بخش نخست
متن فصل یک.

```{figure} dot.png
:name: fig-one

نقطه‌ای تنها.
```

## بخش دوم
متن دیگر.
::::
::::{en}
# Chapter one
## First section
Text of chapter one.

```{figure} dot.png
:name: fig-one

A lonely dot.
```

## Second section
More text.
::::
"""

CHAPTER_TWO = """::::{fa}
# فصل دو
## پیکربندی
این کار با یک فرمان انجام می‌شود و پیکربندی را می‌خواند. مدل گفت «Hello, how are you?» و رفت.

پیام برنامه این بود (`Cannot reach github.com (name or service not known): no network?`) و متن پس از آن ادامه دارد.

```{figure} dot.png
:name: fig-two

نقطهٔ دوم.
```

:::{table} یک جمله در جدول.
:name: tab-two

| مدل | خروجی |
|---|---|
| کوچک | Hello, how are you? |
| رقم 0 | سلام |
:::

```python
# یک توضیح فارسی در کد
x = 1
```
::::
::::{en}
# Chapter two
## Configuration
This is done with one command, which reads the configuration.

```{figure} dot.png
:name: fig-two

The second dot.
```
::::
"""

TITLES = {"fa": ["کتاب آزمایشی", "فصل یک", "فصل دو"], "en": ["A test book", "Chapter one", "Chapter two"]}
SECTIONS = {"fa": [["بخش نخست", "بخش دوم"], ["پیکربندی"]],
            "en": [["First section", "Second section"], ["Configuration"]]}


@pytest.fixture(scope="module")
def toy_book(tmp_path_factory):
    if chromium_path() is None:
        pytest.skip("no Chromium: install Debian's chromium (scripts/setup does)")
    if shutil.which("pdftohtml") is None:
        pytest.skip("poppler-utils not installed")
    from PIL import Image

    root = tmp_path_factory.mktemp("toy")
    shutil.copy2(ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text((ROOT / "_toc.yml").read_text().split("chapters:")[0]
                                   + "chapters:\n  - file: one\n  - file: two\n", encoding="utf-8")
    book = root / "book"
    book.mkdir()
    (book / "_toc.yml").symlink_to("../_toc.yml")
    for name, text in (("index", INDEX), ("one", CHAPTER_ONE), ("two", CHAPTER_TWO)):
        (book / f"{name}.md").write_text(text, encoding="utf-8")
    Image.new("RGB", (40, 30), "navy").save(book / "dot.png")
    result = subprocess.run([sys.executable, "-m", "hw5lib", "book", "--strict", "--root", str(root)],
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "HW5LIB_PROFILE": "smoke"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return root / "_build"


def html(build: Path, lang: str, page: str) -> str:
    return (build / "html" / ("" if lang == "fa" else "en") / f"{page}.html").read_text(encoding="utf-8")


def test_figures_and_tables_are_numbered_per_chapter_in_the_pages_digits(toy_book):
    assert '<span class="caption-number">شکل ۲.۱ </span>' in html(toy_book, "fa", "two")
    assert '<span class="caption-number">جدول ۲.۱ </span>' in html(toy_book, "fa", "two")
    assert '<span class="caption-number">Fig. 2.1 </span>' in html(toy_book, "en", "two")
    assert '<span class="caption-number">Fig. 1.1 </span>' in html(toy_book, "en", "one")
    fa = html(toy_book, "fa", "two")
    assert re.search(r'<span class="section-number">۲\. </span>فصل دو', fa)
    assert re.search(r'href="one.html">۱\. فصل یک', fa)  # the navigation, too
    assert "رقم ۰" in fa and "رقم 0" not in fa  # a table's words


def test_latin_text_in_a_persian_page_keeps_its_own_direction(toy_book):
    fa = html(toy_book, "fa", "two")
    assert re.search(r'<td dir="ltr"><p>Hello, how are you\?</p></td>', fa)
    assert "«<bdi>Hello, how are you?</bdi>»" in fa


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(),
                                              args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
        yield launched
        launched.close()


def test_arabic_script_in_code_is_set_in_a_font_that_joins_it(toy_book, browser, artifacts):
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    tab.goto((toy_book / "html" / "two.html").as_uri())
    tab.wait_for_function("document.fonts.status === 'loaded'")
    code = tab.locator("div.highlight pre").first
    assert "hw5lib Arabic code" in code.evaluate("node => getComputedStyle(node).fontFamily")
    used = tab.evaluate("document.fonts.ready.then(() => [...document.fonts].filter("
                        "f => f.family.includes('hw5lib Arabic code') && f.status === 'loaded').length)")
    assert used >= 1, "the Arabic code font was never loaded for the Persian comment"
    tab.locator("article").screenshot(path=str(artifacts / "finish-fa-two.png"))
    tab.close()


def test_inline_code_in_a_persian_paragraph_is_never_split_across_lines(toy_book, browser, artifacts):
    # split over two lines of a right-to-left paragraph, a left-to-right run's halves are laid out in reversed
    # order; at some width of the page the message would straddle a line end
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    tab.goto((toy_book / "html" / "two.html").as_uri())
    code = tab.locator("p code.literal", has_text="Cannot reach").first
    for width in range(360, 1240, 40):
        tab.set_viewport_size({"width": width, "height": 900})
        lines = code.evaluate("node => node.getClientRects().length")
        assert lines == 1, f"at {width} px the inline code is laid out in {lines} pieces"
    words = code.evaluate("node => [...node.querySelectorAll('span.pre')].map(s => s.getBoundingClientRect().left)")
    assert words[0] < words[1], "the code does not read left to right"
    tab.locator("article").screenshot(path=str(artifacts / "finish-fa-two-inline-code.png"))
    tab.close()


@pytest.fixture(scope="module")
def served(toy_book):
    with serve_folder(toy_book / "html") as site:
        yield site


@pytest.mark.parametrize("query", ["می‌شود", "میشود", "مي\u200cشود", "پيكربندي", "پیکربندی"])
def test_persian_search_folds_zwnj_and_arabic_letters(served, browser, artifacts, query):
    """Typed into the Persian book's search box: with and without the ZWNJ, with Arabic ي and ك."""
    shot = artifacts / "search-fa-without-zwnj.png" if query == "میشود" else None
    found = dict(search_site(browser, served, query, shot))
    assert "two.html" in found and "one.html" not in found, (query, found)
    # the summary shows the words around the match, however the reader spelt it
    assert squash("پیکربندی" if "ربند" in query else "می‌شود") in squash(found["two.html"]), found


def words(text: str) -> str:
    return re.sub(r"[\d۰-۹.]", "", squash(text))


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_pdf_has_a_cover_contents_outline_and_page_numbers(toy_book, artifacts, lang):
    pdf = toy_book / "pdf" / f"hw5lib-{lang}.pdf"
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                                             check=True).stdout)[1])
    assert 5 <= pages <= 20, pages  # cover, contents, the intro and a page per chapter at least
    # the bookmarks: the intro and each chapter at the top level, their sections beneath
    marks = outline(pdf)
    titles = [title for title, _, _ in marks]
    digits = str.maketrans("12", "۱۲") if lang == "fa" else str.maketrans("", "")
    expected = [TITLES[lang][0]] + [f"{n}. {t}".translate(digits) for n, t in zip((1, 2), TITLES[lang][1:])]
    # (pdftohtml may put a Persian title's leading number after its words: compared without it)
    assert [words(t) for t in titles] == [words(t) for t in expected], titles
    assert all(number in title for number, title in zip("۱۲" if lang == "fa" else "12", titles[1:])), titles
    for (_, _, children), sections in zip(marks[1:], SECTIONS[lang]):
        assert [squash(t) for t, _, _ in children] == [squash(s) for s in sections]
    chapter_pages = [page for _, page, _ in marks]
    assert chapter_pages == sorted(chapter_pages) and chapter_pages[0] >= 3  # after the cover and contents
    # the cover: the book's title and the build's facts
    cover = page_text(pdf, 1)
    expected_words = {"fa": ("تمرین", "اجرا", "smoke"), "en": ("Homework 5", "Execution profile", "smoke")}[lang]
    for word in expected_words:
        assert squash(word) in squash(cover), (word, cover)
    from hw5lib.publish.provenance import git_commit

    commit = git_commit()["commit"]
    if commit:
        assert commit[:7] in cover
    # the contents: every chapter with the page its bookmark points to
    contents = page_text(pdf, 2)
    assert squash("فهرست مطالب" if lang == "fa" else "Contents") in squash(contents)
    for title, page, _ in marks:
        number = str(page).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) if lang == "fa" else str(page)
        line = next((line for line in contents.splitlines() if squash(title)[-4:] in squash(line)), None)
        assert line is not None and re.search(rf"(?<!\d){number}(?!\d)", line), (title, page, contents)
    # page numbers in the margin from the third page on (the cover has none)
    third = page_text(pdf, 3).split()
    assert ("۳" if lang == "fa" else "3") in third
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "4", str(pdf), str(artifacts / f"toy-pdf-{lang}")],
                   check=True)

