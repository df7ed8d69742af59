"""The finish of a written page (hw5lib.publish.sphinxext.finish) and the Persian search language
(hw5lib.publish.sphinxext.search), on small pieces of HTML and text; tests/test_reader_finish.py
checks both on a built book in Chromium."""

import json
import re

import pytest

from hw5lib.data import textnorm
from hw5lib.publish.sphinxext import finish, search


def test_section_figure_and_navigation_numbers_take_persian_digits():
    html = ('<a class="reference internal" href="q2.html">4. Q2</a>'
            '<h1><span class="section-number">4. </span>سوال ۲</h1>'
            '<figcaption><span class="caption-number">شکل 4.12 </span></figcaption>')
    done = finish.localise_numbers(html, "fa")
    assert 'href="q2.html">۴. Q2</a>' in done
    assert '<span class="section-number">۴. </span>' in done
    assert '<span class="caption-number">شکل ۴.۱۲ </span>' in done  # a point, not the decimal ٫
    assert finish.localise_numbers(html, "en") == html


def test_article_text_takes_persian_digits_but_code_maths_and_outputs_keep_theirs():
    html = ('<nav>3 pages</nav><article><p>رقم 0 از 12.5 و Q1.3 و <code class="docutils literal">seed=0</code> و '
            '<span class="math notranslate nohighlight">\\(x_1\\)</span></p>'
            '<div class="cell_output"><pre>loss 0.25</pre></div><td>3,000</td></article>')
    done = finish.finish_page(html, "fa")
    assert "رقم ۰ از ۱۲٫۵ و Q1.3 و" in done
    assert "seed=0" in done and "\\(x_1\\)" in done and "loss 0.25" in done
    assert "۳٬۰۰۰" in done and "<nav>3 pages</nav>" in done  # only the article


def test_text_in_the_other_script_gets_its_own_direction():
    fa = finish.isolate_directions('<body><td><p>Hello, how are you?</p></td><td><p>سلام</p></td>'
                                   '<p>مدل گفت «Hello, how are you?» و رفت.</p><p>TPE در برابر تصادفی</p></body>', "fa")
    assert '<td dir="ltr"><p>Hello, how are you?</p></td>' in fa
    assert "<td><p>سلام</p></td>" in fa
    assert "«<bdi>Hello, how are you?</bdi>»" in fa
    assert "<p>TPE در برابر تصادفی</p>" in fa  # Persian that starts with a Latin word stays right to left
    en = finish.isolate_directions('<body><td>سلام، من دیروز</td><p>plain English</p></body>', "en")
    assert '<td dir="rtl">سلام، من دیروز</td>' in en and "<p>plain English</p>" in en


def test_scripts_are_left_alone():
    html = '<body><script>const t = "<p>Hello?</p>";</script></body>'
    assert finish.isolate_directions(html, "fa") == html


def test_search_index_folds_zwnj_arabic_letters_and_digits():
    persian = search.SearchPersian({})
    words = persian.split("این کار می‌شود با كتاب ي ۱۲ پردازش‌گر")
    assert "میشود" in words and "می" in words and "شود" in words  # whole, and its parts
    assert "کتاب" in words and "كتاب" not in words and "12" in words and "پردازشگر" in words
    for spelling in ("می‌شود", "میشود", "مي\u200cشود", "ميشود"):
        assert search.fold(spelling) == "میشود"


def test_the_browser_folds_with_the_same_map_as_the_index():
    folds = json.loads(re.search(r"const HW5LIB_FOLDS = (\{.*?\});", search.FOLD_JS)[1])
    assert folds == textnorm.spelling_folds("fa") == search.FOLDS
    assert "var splitQuery" in search.FOLD_JS and "var Stemmer" in search.FOLD_JS


@pytest.mark.browser
def test_a_pdf_that_cannot_be_printed_stops_with_one_sentence(tmp_path):
    """(Here, not beside the other PDF tests: Playwright's sync API refuses to start while another
    instance, such as a module's browser fixture, is running in the same thread.)"""
    from conftest import chromium_path
    from hw5lib.publish import pdf

    if chromium_path() is None:
        pytest.skip("no Chromium: install Debian's chromium (scripts/setup does)")

    page = tmp_path / "index.html"
    page.write_text("<html><body><article class='bd-article'><p>no headings</p></article></body></html>")
    with pytest.raises(pdf.PdfError, match="no chapters to list"):
        pdf.print_book(page, tmp_path / "out.pdf", "en", chromium_path())
    with pytest.raises(pdf.PdfError, match="could not print"):
        pdf.print_book(page, tmp_path / "out.pdf", "en", str(tmp_path / "no-chromium-here"))
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob(".*partial"))


@pytest.mark.browser
def test_a_pdf_is_printed_again_only_when_what_it_is_made_from_changed(tmp_path):
    from conftest import chromium_path
    from hw5lib.publish import pdf

    if chromium_path() is None:
        pytest.skip("no Chromium: install Debian's chromium (scripts/setup does)")
    page = tmp_path / "index.html"
    body = ("<article class='bd-article'><section id='a'><h1>Book</h1>"
            "<section id='b'><h2>{}</h2></section></section></article>")
    page.write_text(f"<html><head><title>Book</title></head><body>{body.format('One')}</body></html>")
    facts = pdf.BuildFacts(date="2026-12-05", commit="0123456789", dirty=False, profile="smoke")
    out = tmp_path / "book.pdf"
    first = pdf.print_book(page, out, "en", chromium_path(), facts)
    assert not first["reused"] and [entry["title"] for entry in first["entries"]] == ["Book", "One"]
    assert pdf.print_book(page, out, "en", chromium_path(), facts) == {"reused": True}
    later = pdf.BuildFacts(date="2026-12-06", commit="0123456789", dirty=False, profile="smoke")
    assert not pdf.print_book(page, out, "en", chromium_path(), later)["reused"]  # the cover's date changed
    page.write_text(f"<html><head><title>Book</title></head><body>{body.format('Two')}</body></html>")
    assert [entry["title"] for entry in pdf.print_book(page, out, "en", chromium_path(), later)["entries"]] == \
        ["Book", "Two"]

