"""hw5lib.data.textnorm: one spelling for scoring Persian (and English) transcriptions, WER and CER."""

import pytest
from hypothesis import given, strategies as st

from hw5lib.data import textnorm

REFERENCE = "سلام، من دیروز در کلاس پردازش گفتار دیجیتال شرکت کردم"
REPORTED_OUTPUT = "سلام، من تیروز، در کلاس، پردازش گفتار دیشیپال شرکت کردم"  # whisper-base in the report


@pytest.mark.parametrize("raw, expected", [
    ("علي كتاب", "علی کتاب"),                                 # Arabic yeh and kaf
    ("مدرسة", "مدرسه"),                                       # teh marbuta
    ("خانۀ من", "خانه من"),                                   # heh with yeh above (ezafe)
    ("أحمد إمام", "احمد امام"),                               # hamza forms of alef
    ("کِتابْ", "کتاب"),                                        # diacritics
    ("بـــزرگ", "بزرگ"),                                      # tatweel
    ("می‌روم", "میروم"),                                       # ZWNJ
    ("\u200fسلام\u200e", "سلام"),                              # direction marks
    ("«سلام»، خوبی؟ بله؛ خوبم.", "سلام خوبی بله خوبم"),        # Persian and Latin punctuation
    ("۱۲۳ ١٢٣ 123", "123 123 123"),                           # Persian, Arabic-Indic, Latin digits
    ("  چند   فاصله  ", "چند فاصله"),
    ("ﻻ", "لا"),                                               # presentation form (NFKC)
])
def test_persian_spellings_meet(raw, expected):
    assert textnorm.normalise(raw) == expected


def test_english_is_case_and_punctuation_free():
    assert textnorm.normalise("Hello, how are you doing?", "en") == "hello how are you doing"


@given(st.text(alphabet=st.sampled_from(list("سلامیيکك۱١1،؟ \u200c\u064e\u0640.!ABc")), max_size=40))
def test_normalising_twice_changes_nothing(text):
    once = textnorm.normalise(text)
    assert textnorm.normalise(once) == once


def test_the_reports_sentence_loses_a_third_of_its_word_errors_to_punctuation():
    raw = textnorm.error_rates([REFERENCE], [REPORTED_OUTPUT], normalised=False)
    clean = textnorm.error_rates([REFERENCE], [REPORTED_OUTPUT], normalised=True)
    # raw: «تیروز،», «کلاس،» and «دیشیپال» differ from their reference words (3 of 10);
    # normalised: the comma after کلاس is no error, the two misheard words remain (2 of 10)
    assert raw["wer"] == pytest.approx(0.3) and clean["wer"] == pytest.approx(0.2)
    assert 0 < clean["cer"] < raw["cer"] < clean["wer"]


def test_error_rates_pool_over_utterances():
    rates = textnorm.error_rates(["a b c d", "e f"], ["a b x d", "e f"], lang="en")
    assert rates["wer"] == pytest.approx(1 / 6)


@pytest.mark.parametrize("call, message", [
    (lambda: textnorm.normalise(None), "must be a string, got NoneType"),
    (lambda: textnorm.normalise("x", "de"), "Unknown language 'de'"),
    (lambda: textnorm.error_rates("abc", "abd"), "Give lists of sentences"),
    (lambda: textnorm.error_rates(["a"], ["a", "b"]), "1 references and 2 hypotheses"),
    (lambda: textnorm.error_rates(["،؟"], ["a"]), "Reference 0 is empty after normalisation"),
])
def test_bad_input_is_one_clear_sentence(call, message):
    with pytest.raises(textnorm.TextError, match=message):
        call()
