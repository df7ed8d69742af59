"""Text normalisation for scoring transcriptions, and WER / CER with and without it.

Persian is written with several interchangeable code points, and a word error rate computed on raw
strings counts those differences as errors: Arabic yeh and kaf (ي ك) for Persian yeh and keheh
(ی ک), optional diacritics (harakat), the zero-width non-joiner (ZWNJ) that may or may not join a
prefix to its word, punctuation glued to words («سلام،» against «سلام»), and three sets of digits
(Persian ۰–۹, Arabic-Indic ٠–٩, Latin 0–9). :func:`normalise` maps each of these to one form, so a
score measures recognition, not spelling; :func:`error_rates` reports both, so a reader sees how much
of an error rate was spelling.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

LANGUAGES = ("fa", "en", "zh")

# Arabic letters that Persian text writes with its own code points (Unicode names in the comments)
_LETTERS = str.maketrans({
    "\u064a": "\u06cc",  # ARABIC LETTER YEH -> ARABIC LETTER FARSI YEH
    "\u0649": "\u06cc",  # ARABIC LETTER ALEF MAKSURA -> FARSI YEH
    "\u0643": "\u06a9",  # ARABIC LETTER KAF -> ARABIC LETTER KEHEH
    "\u0629": "\u0647",  # ARABIC LETTER TEH MARBUTA -> HEH
    "\u06c0": "\u0647",  # ARABIC LETTER HEH WITH YEH ABOVE -> HEH (the ezafe is not a spelling to score)
    "\u0623": "\u0627",  # ALEF WITH HAMZA ABOVE -> ALEF
    "\u0625": "\u0627",  # ALEF WITH HAMZA BELOW -> ALEF
    "\u0671": "\u0627",  # ALEF WASLA -> ALEF
})
_DIGITS = str.maketrans({**{chr(0x06F0 + i): str(i) for i in range(10)},
                         **{chr(0x0660 + i): str(i) for i in range(10)}})
_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")          # harakat, superscript alef, tatweel
_INVISIBLE = re.compile("[\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # ZWJ, direction marks, BOM
_ZWNJ = "\u200c"


class TextError(ValueError):
    """Text to score was not what scoring needs; the message says what and what to do."""


def _is_punctuation(character: str) -> bool:
    return unicodedata.category(character).startswith(("P", "S"))


def _characters(pattern: re.Pattern) -> list[str]:
    """The code points a character class of single characters and ranges matches."""
    return [chr(code) for code in range(0x0600, 0x0700) if pattern.fullmatch(chr(code))] + \
        [chr(code) for code in range(0x2000, 0x2070) if pattern.fullmatch(chr(code))] + \
        ["\ufeff"] * bool(pattern.fullmatch("\ufeff"))


def spelling_folds(lang: str = "fa") -> dict[str, str]:
    """Every code point :func:`normalise` rewrites one for one, as ``{character: replacement}``
    ("" to remove it): direction marks and the like; for Persian the Arabic letters, diacritics,
    tatweel and the ZWNJ; digits of every script to Latin. The book's search folds its index and a
    reader's query with this same map, so «ميشود», «می‌شود» and «میشود» are one word."""
    if lang not in LANGUAGES:
        raise TextError(f"Unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}.")
    folds = {character: "" for character in _characters(_INVISIBLE)}
    if lang == "fa":
        folds.update({chr(code): value for code, value in _LETTERS.items()})
        folds.update({character: "" for character in _characters(_DIACRITICS)})
        folds[_ZWNJ] = ""
    folds.update({chr(code): value for code, value in _DIGITS.items()})
    return folds


def normalise(text: str, lang: str = "fa") -> str:
    """One canonical spelling of ``text`` for scoring.

    Every language: NFKC (compatibility forms, presentation forms of Arabic letters), digits of any
    script to Latin, punctuation and symbols to spaces, case folded, runs of spaces to one.
    Persian also: Arabic yeh/kaf/teh marbuta/hamza-alef forms to the Persian letters, diacritics
    and tatweel removed, ZWNJ removed (so «می‌روم» and «میروم» score alike), direction marks
    removed."""
    if not isinstance(text, str):
        raise TextError(f"Text to normalise must be a string, got {type(text).__name__}.")
    if lang not in LANGUAGES:
        raise TextError(f"Unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}.")
    text = unicodedata.normalize("NFKC", text).translate(str.maketrans(spelling_folds(lang)))
    text = "".join(" " if _is_punctuation(character) else character for character in text)
    return " ".join(text.casefold().split())


def error_rates(references: Sequence[str], hypotheses: Sequence[str], lang: str = "fa",
                normalised: bool = True) -> dict[str, float]:
    """Corpus word and character error rates (jiwer: edits over reference length, pooled over the
    utterances), after :func:`normalise` when ``normalised``, else on the strings with only their
    spaces collapsed. Returns ``{"wer": ..., "cer": ...}``."""
    import jiwer

    if isinstance(references, str) or isinstance(hypotheses, str):
        raise TextError("Give lists of sentences, not one string (a string would be read as characters).")
    if len(references) != len(hypotheses):
        raise TextError(f"There are {len(references)} references and {len(hypotheses)} hypotheses; "
                        "each transcription needs its reference.")
    prepare = (lambda text: normalise(text, lang)) if normalised else (lambda text: " ".join(str(text).split()))
    references = [prepare(text) for text in references]
    hypotheses = [prepare(text) for text in hypotheses]
    empty = [index for index, text in enumerate(references) if not text]
    if empty:
        raise TextError(f"Reference {empty[0]} is empty{' after normalisation' if normalised else ''}; "
                        "an error rate needs words to compare with.")
    return {"wer": float(jiwer.wer(references, hypotheses)), "cer": float(jiwer.cer(references, hypotheses))}
