"""The reader's finish of a written page: numbers in the page's digits and Latin text isolated.

Run on every HTML page a build writes (and on the single page the PDF is printed from), after
Sphinx and the theme are done, because the numbers this touches are made in many places (the
section numbers of headings and of the navigation, the "Fig. 4.2" of captions, the numbers of
cross-references) from tuples of integers that Sphinx joins itself.

- Persian pages: those numbers in Persian digits («شکل ۴.۲», «۴. سوال ۲»; the point between a
  chapter's and a figure's number stays a point: it is not a decimal separator), and so are the
  numbers of the article's text that an author or a generated table wrote in Latin digits («رقم 0»),
  except in code, outputs, mathematics and Latin names (Q1.3, LSTM 2x64).
- Direction: a paragraph or table cell written wholly in the other script than the page's (an
  English sentence in a Persian table, a Persian transcription in an English one) gets its own
  ``dir``, so its final "?" or "." stands at its own end; a quotation «...» wholly in Latin script
  inside Persian text is isolated with ``<bdi>``.
"""

from __future__ import annotations

import re

_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_NUMBER_SPANS = re.compile(
    r'(<span class="(?:section-number|caption-number|std std-numref)">)([^<]*)(</span>)')
# a navigation link whose text starts with a section number: "<a ... href="q2.html">4. Q2 ..."
_NUMBERED_LINK = re.compile(r'(<a class="reference internal"[^>]*>\s*)(\d+(?:\.\d+)*\.\s)')
_ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"<(p|td|th)((?:\s[^>]*)?)>(.*?)</\1>", re.S)
_SCRIPT = re.compile(r"(<script\b.*?</script>)", re.S | re.I)
_LATIN_QUOTE = re.compile(r"«([^«»<>]+)»")


def localise_numbers(html: str, lang: str) -> str:
    """Section, figure, table and reference numbers in Persian digits on a Persian page."""
    if lang != "fa":
        return html
    html = _NUMBER_SPANS.sub(lambda m: m[1] + m[2].translate(_DIGITS) + m[3], html)
    return _NUMBERED_LINK.sub(lambda m: m[1] + m[2].translate(_DIGITS), html)


_ARTICLE = re.compile(r"(<article\b.*?</article>|<footer\b.*?</footer>)", re.S)  # the text and its footer
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_KEEP_TAGS = {"code", "pre", "kbd", "samp", "script", "style", "svg", "math", "mjx-container", "tt", "var"}
# elements whose text is code or mathematics, or a program's output: their digits are as written
_KEEP_CLASS = re.compile(r'class="[^"]*\b(?:math|highlight|cell_output|output|notranslate|docutils literal)\b')


def localise_text_digits(html: str) -> str:
    """The numbers of a Persian article's text (and of the page's footer: "last updated") in
    Persian digits (:func:`hw5lib.publish.i18n.persian_digits`:
    Latin names such as Q1.3 or LSTM 2x64 keep theirs), outside code, outputs and mathematics."""
    from hw5lib.publish.i18n import persian_digits

    def article(match: re.Match) -> str:
        out, stack = [], []
        for token in _TAG_OR_TEXT.split(match[1]):
            if token.startswith("<"):
                out.append(token)
                name = re.match(r"</?\s*([A-Za-z][\w-]*)", token)
                if not name or token.startswith(("<!", "<?")) or token.endswith("/>"):
                    continue
                tag = name[1].lower()
                if token.startswith("</"):
                    while stack and stack.pop()[0] != tag:
                        pass
                elif tag not in _VOID:
                    keeping = (stack and stack[-1][1]) or tag in _KEEP_TAGS or bool(_KEEP_CLASS.search(token))
                    stack.append((tag, keeping))
            else:
                out.append(token if stack and stack[-1][1] else persian_digits(token))
        return "".join(out)

    return _ARTICLE.sub(article, html)


def _script_direction(text: str) -> str | None:
    """"ltr" for text with Latin letters and no Arabic-script ones, "rtl" for the reverse, else None."""
    arabic, latin = bool(_ARABIC_LETTER.search(text)), bool(_LATIN_LETTER.search(text))
    if latin and not arabic:
        return "ltr"
    if arabic and not latin:
        return "rtl"
    return None


def isolate_directions(html: str, lang: str) -> str:
    """Give a paragraph or cell written wholly in the other direction's script its own ``dir``, and
    isolate a Latin quotation «...» in Persian text."""
    page = "rtl" if lang == "fa" else "ltr"
    body_start = html.find("<body")
    head, body = (html[:body_start], html[body_start:]) if body_start >= 0 else ("", html)

    def block(match: re.Match) -> str:
        tag, attributes, inner = match[1], match[2], match[3]
        if "dir=" in attributes or "<pre" in inner or "highlight" in attributes:
            return match[0]
        direction = _script_direction(_TAG.sub("", inner))
        if direction is None or direction == page:
            if page == "rtl" and "«" in inner:
                inner = _LATIN_QUOTE.sub(lambda q: f"«<bdi>{q[1]}</bdi>»" if _script_direction(q[1]) == "ltr" else q[0],
                                         inner)
                return f"<{tag}{attributes}>{inner}</{tag}>"
            return match[0]
        return f'<{tag}{attributes} dir="{direction}">{inner}</{tag}>'

    parts = _SCRIPT.split(body)  # scripts are left as they are
    return head + "".join(part if index % 2 else _BLOCK.sub(block, part) for index, part in enumerate(parts))


def finish_page(html: str, lang: str) -> str:
    html = localise_numbers(html, lang)  # first: "4.2" of a figure is not the decimal ۴٫۲
    if lang == "fa":
        html = localise_text_digits(html)
    return isolate_directions(html, lang)
