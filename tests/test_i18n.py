import pytest
from hypothesis import given, strategies as st

from hw5lib.publish import i18n

SOURCE = """\
::::{fa}
# عنوان
متن
::::
::::{en}
# Title
Text with a {glue:md}`value` inside.
::::

```{code-cell} ipython3
text = '''
::::{en}
not a block: code is never touched
::::
'''
```

Caption: {fa}`شکل` {en}`Figure` one.
"""


def test_keeps_one_language_and_unwraps_it():
    fa = i18n.filter_language(SOURCE, "fa")
    en = i18n.filter_language(SOURCE, "en")
    assert "# عنوان" in fa and "# Title" not in fa
    assert "# Title" in en and "عنوان" not in en
    assert "{glue:md}`value`" in en
    assert "::::{fa}" not in fa.split("```")[0]


def test_code_cells_are_identical_in_both_languages():
    fa = i18n.filter_language(SOURCE, "fa")
    en = i18n.filter_language(SOURCE, "en")
    code = SOURCE.split("```{code-cell} ipython3")[1].split("```")[0]
    assert code in fa and code in en


def test_inline_roles():
    assert i18n.filter_language("Caption: {fa}`شکل` {en}`Figure` one.", "en") == "Caption: Figure one."
    assert i18n.filter_language("Caption: {fa}`شکل` {en}`Figure` one.", "fa") == "Caption: شکل one."


def test_other_roles_are_left_alone():
    line = "See {ref}`fig-x` and {glue:md}`y`."
    assert i18n.filter_language(line, "fa") == line


def test_line_numbers_are_preserved():
    assert i18n.filter_language(SOURCE, "fa").count("\n") == SOURCE.count("\n")


def test_blocks_may_hold_directives_with_shorter_fences():
    text = "::::{en}\n:::{note}\ninside\n:::\n::::\n"
    assert i18n.filter_language(text, "en") == "\n:::{note}\ninside\n:::\n\n"
    assert "inside" not in i18n.filter_language(text, "fa")


def test_unclosed_block_names_the_line():
    with pytest.raises(i18n.LanguageMarkupError, match=r"chapter.md:2: .*never closed"):
        i18n.filter_language("text\n::::{fa}\nمتن\n", "fa", source="chapter.md")


def test_nested_block_is_an_error():
    with pytest.raises(i18n.LanguageMarkupError, match="opens inside"):
        i18n.filter_language("::::{fa}\n::::{en}\n::::\n::::\n", "fa")


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="Language must be one of fa, en"):
        i18n.filter_language("x", "de")


@given(st.text(alphabet=st.characters(blacklist_characters="`:{}"), max_size=200))
def test_text_without_markup_passes_unchanged(text):
    assert i18n.filter_language(text, "fa") == text
    assert i18n.filter_language(text, "en") == text


@pytest.mark.parametrize("page, source, target, expected", [
    ("index", "fa", "en", "en/index.html"),
    ("q2_vanishing", "en", "fa", "../q2_vanishing.html"),
    ("part/chapter", "fa", "en", "../en/part/chapter.html"),
    ("part/chapter", "en", "fa", "../../part/chapter.html"),
])
def test_switch_url_lands_on_the_same_page(page, source, target, expected):
    assert i18n.switch_url(page, source, target) == expected


def test_persian_digits():
    assert i18n.localise_number("-12.5e-3", "fa") == "−۱۲٫۵e−۳"
    assert i18n.localise_number("12.5", "en") == "12.5"
    assert i18n.localise_number("2 and $W_3 x^2$, 4", "fa") == "۲ and $W_3 x^2$, ۴"  # MathJax sets maths' digits
    assert i18n.text_direction("fa") == "rtl" and i18n.text_direction("en") == "ltr"


def test_large_numbers_are_grouped_in_both_languages():
    assert i18n.format_number(1104384) == "1,104,384"
    assert i18n.format_number(1104384, lang="fa") == "۱٬۱۰۴٬۳۸۴"
    assert i18n.format_number(12345.678, "{:.2f}", "fa") == "۱۲٬۳۴۵٫۶۸"
    assert i18n.format_number(2026) == "2026"  # four digits (a year, say) are left alone
    assert i18n.format_number(0.1234567) == "0.1234567"  # decimals are never grouped
    assert i18n.format_number(3000, "{:,}", "fa") == "۳٬۰۰۰"  # an explicit grouping is kept
    assert i18n.format_number("r1104384", lang="en") == "r1104384"  # text is not a number


def test_persian_digits_in_running_text_leave_latin_names_alone():
    assert i18n.persian_digits("رقم 0") == "رقم ۰"
    assert i18n.persian_digits("میانگین 2.5 از 1,250 گفته.") == "میانگین ۲٫۵ از ۱٬۲۵۰ گفته."
    assert i18n.persian_digits("Q1.3، LSTM 2x64، GPT-4، F1، x^3") == "Q1.3، LSTM 2x64، GPT-4، F1، x^3"
    assert i18n.persian_digits("$x_1$ و `seed=0` و -3") == "$x_1$ و `seed=0` و −۳"
    assert i18n.persian_digits("digit 0", "en") == "digit 0"


@pytest.mark.parametrize("low, high, lang, expected", [
    (80, 80, "en", "80"), (70, 80, "en", "between 70 and 80"),
    (80, 80, "fa", "۸۰"), (70, 80, "fa", "بین ۷۰ و ۸۰"), (10000, 12000, "en", "between 10,000 and 12,000")])
def test_a_range_never_reads_between_a_number_and_itself(low, high, lang, expected):
    assert i18n.range_words(low, high, lang) == expected
