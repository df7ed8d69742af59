"""Two languages in one source.

A chapter holds both languages side by side. Block content is fenced per language::

    ::::{fa}
    ## عنوان
    متن فارسی
    ::::
    ::::{en}
    ## Title
    English text
    ::::

and short inline text (captions, table cells) uses a role pair: ``{fa}`شکل` {en}`Figure```.
``filter_language`` keeps one language and unwraps it, so headings inside a block become real
headings; code cells are never touched, which is what lets both builds share one execution.

A block closes at the first line that repeats its opening fence exactly (same number of
colons), so a block may contain directives fenced with fewer colons or with backticks.
"""

from __future__ import annotations

import re

LANGUAGES = ("fa", "en")
RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur"})
PRIMARY_LANGUAGE = "fa"

_BLOCK_OPEN = re.compile(r"^(?P<fence>:{3,})\{(?P<lang>[a-z]{2})\}\s*$")
_CODE_CELL_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})\{code-cell\}")
_INLINE = re.compile(r"\{(?P<lang>[a-z]{2})\}`(?P<text>[^`]*)`")


class LanguageMarkupError(ValueError):
    """A language block that is never closed, or is opened inside another one."""


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"Language must be one of {', '.join(LANGUAGES)}, got {lang!r}.")
    return lang


def _filter_inline(line: str, lang: str) -> str:
    def replace(match: re.Match) -> str:
        if match["lang"] not in LANGUAGES:
            return match[0]
        return match["text"] if match["lang"] == lang else ""

    if "}`" not in line:
        return line
    filtered = _INLINE.sub(replace, line)
    # removing one language's text can leave a double or trailing space between the pair
    return re.sub(r"(?<=\S) {2,}(?=\S)", " ", filtered).rstrip() if filtered != line else line


def filter_language(text: str, lang: str, source: str = "<text>") -> str:
    """Keep ``lang`` and drop every other language's blocks and inline roles.

    Line count is preserved (dropped lines become empty) so that Sphinx's line numbers in
    warnings still point at the source.
    """
    check_language(lang)
    out: list[str] = []
    block_fence: str | None = None
    block_keep = True
    block_line = 0
    code_fence: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if code_fence is not None:
            out.append(line)
            if line.strip() == code_fence:
                code_fence = None
            continue
        if block_fence is not None and line.rstrip() == block_fence:
            block_fence = None
            out.append("")
            continue
        opened = _BLOCK_OPEN.match(line)
        if opened and opened["lang"] in LANGUAGES:
            if block_fence is not None:
                raise LanguageMarkupError(
                    f"{source}:{number}: a {{{opened['lang']}}} block opens inside the block opened on "
                    f"line {block_line}; close that one first with {block_fence!r}."
                )
            block_fence, block_keep, block_line = opened["fence"], opened["lang"] == lang, number
            out.append("")
            continue
        if block_fence is not None and not block_keep:
            out.append("")
            continue
        code = _CODE_CELL_OPEN.match(line)
        if code:
            code_fence = code["fence"]
            out.append(line)
            continue
        out.append(_filter_inline(line, lang))
    if block_fence is not None:
        raise LanguageMarkupError(
            f"{source}:{block_line}: the language block opened here is never closed; add a line "
            f"{block_fence!r} after its last line."
        )
    return "\n".join(out)


def text_direction(lang: str) -> str:
    return "rtl" if lang in RTL_LANGUAGES else "ltr"


def switch_url(pagename: str, from_lang: str, to_lang: str, primary: str = PRIMARY_LANGUAGE) -> str:
    """Relative URL of the same page in the other language's book.

    The primary language's book is the site root and every other language lives in a
    sub-folder named after it (``en/``), so a relative link works under any site path and from
    ``file://``.
    """
    depth = pagename.count("/")
    up = "../" * depth
    if from_lang != primary:
        up += "../"
    target = "" if to_lang == primary else f"{to_lang}/"
    return f"{up}{target}{pagename}.html"


_PERSIAN_DIGITS = str.maketrans("0123456789.-", "۰۱۲۳۴۵۶۷۸۹٫−")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 1,250 -> 1٬250: the Persian thousands separator


def localise_number(text: str, lang: str) -> str:
    """Write the digits of an already formatted number in the language's own digits; inline
    mathematics (``$...$``) keeps its digits, as MathJax sets them."""
    if lang != "fa":
        return text
    parts = re.split(r"(\$[^$]*\$)", text)
    return "".join(part if part.startswith("$") and part.endswith("$") and len(part) > 1
                   else _THOUSANDS.sub("٬", part).translate(_PERSIAN_DIGITS) for part in parts)


_GROUPABLE = re.compile(r"(?<![\d.,٫\w])(\d{5,})(?!\d)")  # an integer part of five digits or more
# a run of Latin letters, digits and the marks numbers are written with: "0", "2.5", "Q1.3", "2x64"
_LATIN_TOKEN = re.compile(r"[A-Za-z0-9_.,^\-]+")
_PERSIAN_ONLY_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def _persian_token(match: re.Match) -> str:
    token = match[0]
    if re.search(r"[A-Za-z_]", token):  # a name written in Latin script (Q1, F1, LSTM 2x64): as it is
        return token
    token = re.sub(r"(?<=\d)\.(?=\d)", "٫", token)          # decimal point
    token = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "٬", token)  # thousands separator
    token = re.sub(r"(?:^|(?<=\s))-(?=\d)", "−", token)      # minus sign
    return token.translate(_PERSIAN_ONLY_DIGITS)


def group_digits(text: str) -> str:
    """Group the thousands of every integer part of five digits or more: ``1104384`` ->
    ``1,104,384`` (four digits, a year say, are left alone; decimals are never grouped)."""
    return _GROUPABLE.sub(lambda match: f"{int(match[1]):,}", text)


def format_number(value, fmt: str = "{}", lang: str = "en") -> str:
    """The one way a number is written for a reader: ``fmt``, thousands grouped (five digits or
    more) and, for Persian, Persian digits and separators (``1,104,384`` / ``۱٬۱۰۴٬۳۸۴``).
    Text (a value that is already words) only has its digits localised."""
    check_language(lang)
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    text = fmt.format(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = group_digits(text)
    return localise_number(text, lang)


def persian_digits(text: str, lang: str = "fa") -> str:
    """Write in Persian digits the numbers of running text or a table header («رقم 0» ->
    «رقم ۰», «2.5» -> «۲٫۵»), leaving alone the digits of names written in Latin script
    (Q1.3, F1, GPT-4, LSTM 2x64), of inline mathematics and of inline code; a sentence's full
    stop stays a full stop. A no-op for a language other than Persian."""
    if lang != "fa":
        return text
    parts = re.split(r"(\$[^$]*\$|`[^`]*`)", text)
    return "".join(part if len(part) > 1 and part[0] == part[-1] and part[0] in "$`"
                   else _LATIN_TOKEN.sub(_persian_token, part) for part in parts)


def range_words(low, high, lang: str, fmt: str = "{}") -> str:
    """«between 70 and 80» / «بین ۷۰ و ۸۰», or the one number when both ends are the same
    («80», never «between 80 and 80»), to stand before a noun in a sentence."""
    low_text, high_text = format_number(low, fmt, lang), format_number(high, fmt, lang)
    if low_text == high_text:
        return low_text
    return f"بین {low_text} و {high_text}" if lang == "fa" else f"between {low_text} and {high_text}"


def counted(count, noun: str, plural: str | None = None, fmt: str = "{}") -> str:
    """An English count and its noun in the right number: «1 voice», «3 voices», «1,200 clips»
    (Persian nouns after a number stay singular, so this is for English text only)."""
    return f"{format_number(count, fmt)} {noun if count == 1 else plural or noun + 's'}"


LANGUAGE_NAMES = {"fa": "فارسی", "en": "English"}


def filter_notebook_json(text: str, lang: str, source: str = "<notebook>") -> str:
    """``filter_language`` for an .ipynb document (an executed run): markdown cells are filtered,
    code cells and their outputs are left exactly as they were."""
    import json

    notebook = json.loads(text)
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        body = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cell["source"] = filter_language(body, lang, source=f"{source} (cell {index})")
    return json.dumps(notebook, ensure_ascii=False)
