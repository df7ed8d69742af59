"""Persian full-text search for the Persian book.

Sphinx has no search language for Persian: the index of ``language: fa`` fell back to English
splitting, so a word written with a zero-width non-joiner (ZWNJ, «می‌شود») was indexed as two words
and a query typed without it («میشود», as many keyboards give it), or with the Arabic letters ي and
ك that Arabic keyboards type for ی and ک, found nothing.

:class:`SearchPersian` folds the index and :data:`FOLD_JS` folds the reader's query with the same map,
:func:`hw5lib.data.textnorm.spelling_folds` (the rules the book also scores transcriptions with):
ZWNJ and direction marks removed, Arabic letters to Persian ones, diacritics and tatweel removed,
digits of every script to Latin. A word written with a ZWNJ is indexed whole and as its parts, so
«می شود» (two words) finds it too.
"""

from __future__ import annotations

import json
import unicodedata

from sphinx.search import SearchLanguage

from hw5lib.data.textnorm import spelling_folds

FOLDS = spelling_folds("fa")
_TABLE = str.maketrans(FOLDS)
_ZWNJ = "\u200c"


def fold(text: str) -> str:
    """``text`` as the index and the query both see it (NFKC, then :data:`FOLDS`)."""
    return unicodedata.normalize("NFKC", text).translate(_TABLE)


SEARCH_MESSAGES = {
    "Search finished, found ${resultCount} page(s) matching the search query.":
        "جستجو پایان یافت: ${resultCount} صفحه با عبارت جستجو جور است.",
}

# The same fold in the reader's browser. It goes into language_data.js as the "stemmer" code (the
# one slot Sphinx inserts unescaped); searchtools.js splits a query with ``splitQuery`` and then
# stems each word, and it keeps a ``splitQuery`` a language defines. The splitting regular
# expression is searchtools.js's own.
FOLD_JS = """
/* hw5lib: Persian search; the query is folded as the index was (hw5lib.publish.sphinxext.search) */
const HW5LIB_FOLDS = %s;
const hw5libFold = (text) => Array.from(text.normalize("NFKC"))
  .map((character) => (character in HW5LIB_FOLDS ? HW5LIB_FOLDS[character] : character)).join("");
var splitQuery = (query) => hw5libFold(query)
  .split(/[^\\p{Letter}\\p{Number}_\\p{Emoji_Presentation}]+/gu)
  .filter((term) => term);
var Stemmer = function() {
  this.stemWord = (word) => hw5libFold(word).toLowerCase();
};
/* A result's summary: the text around the first search word, found in the page's text folded as
   the index was (Sphinx looks for the typed word itself, so «میشود» never found «می‌شود» and every
   summary showed the page's first line: the header's "English PDF") */
if (typeof Search !== "undefined") {
  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    const page = new DOMParser().parseFromString(htmlText, "text/html");
    page.querySelectorAll(".bd-header-article, .hw5lib-lang-switch, .bd-sidebar-secondary, .onlyprint, .cell_input")
      .forEach((node) => node.remove());
    const text = Search.htmlToText(page.documentElement.outerHTML, anchor).replace(/\\s+/g, " ").trim();
    if (text === "") return null;
    let folded = "";
    const origin = [];
    for (let index = 0; index < text.length; index++) {
      const character = text[index];
      for (const part of (character in HW5LIB_FOLDS ? HW5LIB_FOLDS[character] : character).toLowerCase()) {
        folded += part;
        origin.push(index);
      }
    }
    const places = [...keywords].map((word) => folded.indexOf(hw5libFold(word).toLowerCase())).filter((at) => at > -1);
    const start = places.length ? Math.max(origin[Math.min(...places)] - 120, 0) : 0;
    const summary = document.createElement("p");
    summary.classList.add("context");
    summary.textContent = (start ? "..." : "") + text.substr(start, 240).trim()
      + (start + 240 < text.length ? "..." : "");
    return summary;
  };
}
/* the results' section numbers and count in Persian digits, as on the pages */
document.addEventListener("DOMContentLoaded", () => {
  const results = document.getElementById("search-results");
  if (!results) return;
  const persian = (text) => text.replace(/[0-9]/g, (digit) => "۰۱۲۳۴۵۶۷۸۹"[digit]);
  new MutationObserver(() => {
    results.querySelectorAll(".section-number, .search-summary").forEach((node) => {
      const text = persian(node.textContent);
      if (text !== node.textContent) node.textContent = text;
    });
  }).observe(results, {childList: true, subtree: true, characterData: true});
});
/* Sphinx's Persian catalogue (translations.js, loaded before this file) has these search-page
   messages empty, so the page said nothing when a search finished */
if (typeof Documentation !== "undefined" && Documentation.TRANSLATIONS) {
  Object.assign(Documentation.TRANSLATIONS, %s);
}
""" % (json.dumps(FOLDS, ensure_ascii=True, sort_keys=True), json.dumps(SEARCH_MESSAGES, ensure_ascii=True))


class SearchPersian(SearchLanguage):
    lang = "fa"
    language_name = "Persian"
    js_stemmer_code = FOLD_JS
    stopwords: set[str] = set()

    def split(self, input: str) -> list[str]:
        whole = self._word_re.findall(fold(input))
        parts = self._word_re.findall(fold(input.replace(_ZWNJ, " "))) if _ZWNJ in input else []
        return whole + [part for part in parts if part not in whole]

    def stem(self, word: str) -> str:
        return fold(word)
