"""A PDF a reader can hold, one per language: a cover with the build's facts, a table of contents
with page numbers, bookmarks (the PDF outline) for every chapter and section, and page numbers.

The single-page HTML build of a language is opened in Chromium through Playwright (Debian's
Chromium, not Playwright's own download), a cover and a contents page are written into it, and it
is printed twice: the first print tells on which page each chapter and section landed (read back
from the PDF's named destinations with poppler's ``pdfinfo -dests``; every contents entry links to
its heading, which is what makes Chromium write a destination for it), the second prints the
contents with those numbers. The numbers have a fixed width in both prints, so the contents take
the same room and no heading moves; the second print is checked against the first.

Page numbers are CSS page-margin boxes (``@page { @bottom-center { content: counter(page) } }``,
in Persian digits on Persian pages); the outline is Chromium's own, made from the headings.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hw5lib.publish import i18n

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

WORDS = {
    "fa": {"contents": "فهرست مطالب", "built": "ساخته‌شده در", "commit": "نسخهٔ کد (commit)",
           "profile": "نمایهٔ اجرا", "uncommitted": "با تغییرهای ثبت‌نشده", "unknown": "نامعلوم",
           "edition": "نسخهٔ فارسی", "note": "همهٔ عددها، جدول‌ها و شکل‌های این کتاب از اجرای کد آن آمده‌اند."},
    "en": {"contents": "Contents", "built": "Built on", "commit": "Code version (commit)",
           "profile": "Execution profile", "uncommitted": "with uncommitted changes", "unknown": "unknown",
           "edition": "English edition",
           "note": "Every number, table and figure in this book comes from running its code."},
}


class PdfError(RuntimeError):
    """The PDF could not be printed; the message says why."""


@dataclass(frozen=True)
class BuildFacts:
    """What the cover says about the build."""

    date: str
    commit: str | None
    dirty: bool
    profile: str

    @classmethod
    def collect(cls) -> "BuildFacts":
        from hw5lib.publish.profiles import default_profile
        from hw5lib.publish.provenance import git_commit

        git = git_commit()
        return cls(date=_dt.datetime.now(_dt.timezone.utc).date().isoformat(),
                   commit=git["commit"], dirty=bool(git["dirty"]), profile=default_profile())

    def lines(self, lang: str) -> list[tuple[str, str]]:
        words = WORDS[lang]
        commit = self.commit[:7] if self.commit else words["unknown"]
        if self.commit and self.dirty:
            commit += f" ({words['uncommitted']})"
        date = i18n.persian_digits(self.date, lang) if lang == "fa" else self.date
        return [(words["built"], date), (words["commit"], commit), (words["profile"], self.profile)]


# Written into the single page before printing: the theme's screen furniture goes, each chapter
# starts a page, and the page numbers sit in the bottom margin (not on the cover).
PRINT_CSS = """
@page { size: A4; margin: 18mm 17mm 20mm 17mm;
        @bottom-center { content: counter(page, COUNTER); font-family: FONT; font-size: 9pt; color: #555; } }
@page :first { @bottom-center { content: none; } }
html, body { background: #fff !important; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer, .bd-footer-article,
.bd-footer-content, .prev-next-area, .hw5lib-lang-switch, .search-button-field, .headerlink,
#pst-back-to-top, .skip-link, .header-article-main, .theme-switch-button,
#jb-print-docs-body { display: none !important; }  /* the theme's print header: the cover and contents replace it */
/* sphinx-book-theme's print style hides every "h1:first-of-type" (meant for a page's title): here those are
   the book's and the chapters' titles */
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
.bd-main .bd-content { margin: 0 !important; }
.bd-main, .bd-main .bd-content, .bd-main .bd-content .bd-article-container, .bd-article { max-width: none !important;
        width: 100% !important; padding: 0 !important; margin: 0 !important; }
.bd-container, .bd-page-width { max-width: none !important; }
#hw5lib-cover { height: 240mm; display: flex; flex-direction: column; justify-content: center; break-after: page; }
#hw5lib-cover .hw5lib-cover-title { font-size: 30pt; font-weight: 700; line-height: 1.4; margin-bottom: 6mm; }
#hw5lib-cover .hw5lib-cover-subtitle { font-size: 16pt; margin-bottom: 4mm; color: #333; }
#hw5lib-cover .hw5lib-cover-edition { font-size: 13pt; color: #555; margin-bottom: 24mm; }
#hw5lib-cover .hw5lib-cover-facts { display: grid; grid-template-columns: max-content max-content; gap: 2.5mm 10mm;
        font-size: 11pt; }
#hw5lib-cover .hw5lib-cover-note { margin-top: 18mm; font-size: 10pt; color: #555; }
#hw5lib-contents { break-after: page; }
#hw5lib-contents .hw5lib-contents-title { font-size: 20pt; font-weight: 700; margin-bottom: 8mm; }
#hw5lib-contents a { display: flex; align-items: baseline; color: inherit; text-decoration: none; }
#hw5lib-contents a .hw5lib-dots { flex: 1; border-bottom: 1px dotted #999; margin: 0 2mm; }
#hw5lib-contents a .hw5lib-page { min-width: 3em; text-align: end; font-variant-numeric: tabular-nums; }
#hw5lib-contents .hw5lib-level-1 { font-weight: 700; margin-top: 3mm; }
#hw5lib-contents .hw5lib-level-2 { padding-inline-start: 7mm; font-size: 10.5pt; }
.hw5lib-chapter { break-before: page; }
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }  /* a long line wraps instead of leaving the page */
figure, table, .cell_output img, mjx-container[display="true"] { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
"""

# Finds the documents of the single page (the intro, then each chapter after its
# ``<span id="document-...">``), starts each chapter on a page, lifts a chapter's headings one level
# (h2 -> h1, ...) so that the outline has the chapters at its top level beside the intro, writes the
# cover and the contents, and gives every listed heading an anchor of its own (the section ids of
# a single page are not unique: "id2" in every chapter). Returns the entries: [{id, level, title}].
PREPARE_JS = """
({css, cover, contentsTitle}) => {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const documents = [article.querySelector(":scope > section"),
    ...[...article.querySelectorAll('span[id^="document-"]')].map((marker) => marker.nextElementSibling)]
    .filter((node) => node && node.tagName === "SECTION");
  const headingOf = (section) => section.querySelector(":scope > h1, :scope > h2, :scope > h3, :scope > h4");
  const lift = (heading) => {
    const level = Number(heading.tagName[1]);
    if (level < 2) return heading;
    const lifted = document.createElement("h" + (level - 1));
    for (const attribute of heading.attributes) lifted.setAttribute(attribute.name, attribute.value);
    lifted.append(...heading.childNodes);
    heading.replaceWith(lifted);
    return lifted;
  };
  const entries = [];
  const list = (heading, level) => {
    if (!heading) return;
    const id = "hw5lib-toc-" + entries.length;
    heading.id = id;  // Sphinx puts its ids on the sections, never on their headings
    const copy = heading.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach((link) => link.remove());
    entries.push({id: id, level: level, title: copy.textContent.replace(/\\s+/g, " ").trim()});
  };
  documents.forEach((section, index) => {
    if (index > 0) {
      section.classList.add("hw5lib-chapter");
      section.querySelectorAll("h2, h3, h4, h5, h6").forEach(lift);
    }
    list(headingOf(section), 1);
    for (const sub of section.querySelectorAll(":scope > section")) list(headingOf(sub), 2);
  });
  const coverNode = document.createElement("div");
  coverNode.id = "hw5lib-cover";
  coverNode.innerHTML = cover;
  const contents = document.createElement("div");
  contents.id = "hw5lib-contents";
  const title = document.createElement("div");
  title.className = "hw5lib-contents-title";
  title.textContent = contentsTitle;
  contents.appendChild(title);
  for (const entry of entries) {
    const link = document.createElement("a");
    link.href = "#" + entry.id;
    link.className = "hw5lib-level-" + entry.level;
    const text = document.createElement("span");
    text.textContent = entry.title;
    const dots = document.createElement("span");
    dots.className = "hw5lib-dots";
    const page = document.createElement("span");
    page.className = "hw5lib-page";
    page.dataset.target = entry.id;
    page.textContent = "\\u2007\\u2007\\u2007";
    link.append(text, dots, page);
    contents.appendChild(link);
  }
  article.prepend(coverNode, contents);
  return entries;
}
"""

SET_PAGES_JS = """
(pages) => { for (const node of document.querySelectorAll("#hw5lib-contents .hw5lib-page")) {
  node.textContent = pages[node.dataset.target] || ""; } }
"""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cover_html(title: str, subtitle: str, lang: str, facts: BuildFacts) -> str:
    words = WORDS[lang]
    rows = "".join(f"<div>{_escape(key)}</div><div dir=\"auto\">{_escape(value)}</div>"
                   for key, value in facts.lines(lang))
    subtitle_html = (f'<div class="hw5lib-cover-subtitle">{_escape(subtitle)}</div>'
                     if subtitle and subtitle != title else "")
    return (f'<div class="hw5lib-cover-title">{_escape(title)}</div>{subtitle_html}'
            f'<div class="hw5lib-cover-edition">{_escape(words["edition"])}</div>'
            f'<div class="hw5lib-cover-facts">{rows}</div>'
            f'<div class="hw5lib-cover-note">{_escape(words["note"])}</div>')


def destination_pages(pdf: Path) -> dict[str, int]:
    """Each named destination of ``pdf`` and its page (1-based), from poppler's ``pdfinfo -dests``."""
    result = subprocess.run(["pdfinfo", "-dests", str(pdf)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise PdfError(f"pdfinfo could not read the destinations of {pdf}: {result.stderr.strip()[-300:]} "
                       "(install poppler-utils; scripts/setup does).")
    pages = {}
    for line in result.stdout.splitlines():
        match = re.match(r'\s*(\d+)\s+\[.*?\]\s+"(.*)"\s*$', line)
        if match:
            pages[match[2]] = int(match[1])
    return pages


def _settle(page) -> None:
    """Web fonts loaded, images decoded, MathJax done typesetting (when the page loads it)."""
    page.wait_for_function("document.fonts.status === 'loaded' && [...document.images].every(i => i.complete)")
    page.wait_for_function("!document.querySelector('script[src*=\"mathjax\" i]') "
                           "|| (window.MathJax && MathJax.startup && MathJax.startup.promise)")
    page.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true")


def print_key(html: Path, lang: str, facts: BuildFacts) -> str:
    """What a PDF is made from: the single page (whose links to images and styles carry their
    digests), the language, the cover's facts and this module (its CSS and scripts)."""
    digest = hashlib.sha256()
    for part in (Path(html).read_bytes(), repr((lang, facts)).encode(), Path(__file__).read_bytes()):
        digest.update(part)
    return digest.hexdigest()


def print_book(html: Path, pdf: Path, lang: str, chromium: str, facts: BuildFacts | None = None) -> dict:
    """Print the single-page book ``html`` to ``pdf`` with a cover, contents, outline and page
    numbers; return ``{"entries": [...], "pages": {id: page}, "reused": False}`` (what the contents
    list). A PDF printed from the same page, facts and code is kept (``{"reused": True}``): a rebuild
    with nothing changed prints nothing."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    i18n.check_language(lang)
    facts = facts or BuildFacts.collect()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    key, key_file = print_key(html, lang, facts), pdf.with_name(f".{pdf.name}.key")
    if pdf.is_file() and key_file.is_file() and key_file.read_text() == key:
        return {"reused": True}
    key_file.unlink(missing_ok=True)
    partial = pdf.with_name(f".{pdf.name}.partial")
    font = '"Vazirmatn", "Noto Naskh Arabic", sans-serif' if lang == "fa" else "sans-serif"
    css = PRINT_CSS.replace("COUNTER", "persian" if lang == "fa" else "decimal").replace("FONT", font)
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as scratch:
        browser = None
        try:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(Path(html).resolve().as_uri(), wait_until="load")
            _settle(page)
            book_title = page.evaluate("document.title.split(/\\s+[—|–-]\\s+/).pop().trim()")
            first = page.evaluate("(document.querySelector('article h1') || {}).textContent || ''")
            first = first.replace("#", "").strip()  # the heading's own link sign
            cover = cover_html(book_title, first, lang, facts)
            entries = page.evaluate(PREPARE_JS, {"css": css, "cover": cover, "contentsTitle": WORDS[lang]["contents"]})
            if not entries:
                raise PdfError(f"{html} has no chapters to list (no headings inside sections).")
            page.emulate_media(media="print")
            options = dict(outline=True, tagged=True, print_background=True, prefer_css_page_size=True)
            first_print = Path(scratch) / "first.pdf"
            page.pdf(path=str(first_print), **options)
            pages = destination_pages(first_print)
            missing = [entry["id"] for entry in entries if entry["id"] not in pages]
            if missing:
                raise PdfError(f"Chromium wrote no destination for {len(missing)} headings of {html} "
                               f"(first: {missing[0]}); the contents would lack their page numbers.")
            numbers = {key: i18n.persian_digits(str(value), lang) for key, value in pages.items()}
            page.evaluate(SET_PAGES_JS, numbers)
            page.pdf(path=str(partial), **options)
            listed = {entry["id"]: pages[entry["id"]] for entry in entries}
            printed = destination_pages(partial)
            if any(printed.get(key) != page_number for key, page_number in listed.items()):
                partial.unlink(missing_ok=True)
                raise PdfError("Writing the page numbers into the contents moved a heading to another page.")
        except PlaywrightError as exc:
            partial.unlink(missing_ok=True)
            raise PdfError(f"Chromium ({chromium}) could not print {html}: {str(exc).splitlines()[0]}") from exc
        finally:
            if browser is not None:
                browser.close()
    os.replace(partial, pdf)
    key_file.write_text(key)
    return {"entries": entries, "pages": listed, "reused": False}
