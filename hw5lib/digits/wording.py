"""The Q4 chapter's findings, written from the run's numbers (to move into the chapter module)."""

from __future__ import annotations

from typing import Sequence

from hw5lib.chapters.common import MODEL_NAMES
from hw5lib.digits.models import parameter_count
from hw5lib.digits.sets import DigitsError

# The report's test accuracies (its Figures 10, 13, 15, 17; AudioMNIST, "80/20", 30 epochs).
REPORTED = {"lstm_2x64": 0.400, "lstm_1x128": 0.455, "bilstm_2x64": 0.435, "bilstm_1x128": 0.465}


# --- what the numbers say ------------------------------------------------------------------------

def _number(text: str, lang: str) -> str:
    from hw5lib.publish.i18n import localise_number

    return localise_number(text, lang)


def _pct(value: float, lang: str) -> str:
    return _number(f"{100 * value:.1f}", lang)


# The chapter's claims are sentences that follow this run's numbers, so that no profile or data set
# can make the prose say what its tables contradict.

def _language(lang: str) -> bool:
    if lang not in ("fa", "en"):
        raise DigitsError(f"Unknown language {lang!r}; choose fa or en.")
    return lang == "fa"


def report_finding(report_lstm: float, report_epochs: int, lang: str) -> str:
    """What the report's recipe, re-run, says about the report's 40%."""
    fa = _language(lang)
    if report_lstm >= 0.8:
        report = ("پس معماری علت دقت ۴۰ درصدی گزارش نیست." if fa else
                  "So the architecture does not explain the report's 40%.")
    else:
        report = (f"در این اجرا این دستور هنوز همگرا نشده است: با نرخ یادگیری ۰٫۰۰۰۱، "
                  f"{_number(str(report_epochs), lang)} دوره روی این تعداد گفته، به‌روزرسانی‌های کمی است. "
                  "جدول حذف این اثر را از علت‌های دیگر جدا می‌کند." if fa else
                  f"In this run the recipe has not converged: at a learning rate of 0.0001, {report_epochs} epochs "
                  "on this many clips are few updates. The ablation below separates that from the other causes.")
    return report


def ablation_finding(ablation_rows: Sequence[dict], lang: str) -> str:
    """Whether the ablation's last row shows the report's list of reasons to be wrong."""
    fa = _language(lang)
    last = ablation_rows[-1]["accuracy"] if ablation_rows else float("nan")
    if last >= 0.9:
        ablation = ("فهرست دلیل‌های گزارش (مدل ضعیف، وابستگی‌های بلندمدت، کمبود اطلاعات در MFCC، حساسیت به نویز) با "
                    "این جدول نمی‌خواند: همان مدل با همان ۱۳ ضریب، با محور زمان درست و دادهٔ کامل و آموزش درست، به "
                    f"{_pct(last, lang)}٪ می‌رسد." if fa else
                    "The report's list of reasons (a weak model, long-term dependencies, too little information in "
                    "MFCCs, sensitivity to noise) does not fit this table: the same model on the same 13 coefficients, "
                    f"with the right time axis, all the data and proper training, reaches {_pct(last, lang)}%.")
    else:
        ablation = (f"در این اجرا حتی سطر آخر {_pct(last, lang)}٪ است: برای LSTM یک‌سویه داده یا دوره‌ها کم است "
                    "(نمایهٔ `full` همهٔ داده و ۶۰ دوره را اجرا می‌کند)؛ جدول مدل‌ها در پایین نشان می‌دهد مدل‌های "
                    "دوسویه و پیچشی با همین داده چه می‌کنند." if fa else
                    f"In this run even the last row reaches only {_pct(last, lang)}%: the unidirectional LSTM has too "
                    "little data or too few epochs here (the `full` profile runs all the data for 60 epochs); the "
                    "model table below shows what the bidirectional and convolutional models make of the same data.")
    return ablation


def disjoint_finding(model: str, unheard: float, random_split_accuracy: float, lang: str) -> str:
    """How the best model on unheard speakers compares with the same model on the random split."""
    fa = _language(lang)
    name, gap = MODEL_NAMES[model][lang], random_split_accuracy - unheard
    if gap > 0.005:
        return (f"بهترین مدل روی گویندهٔ نشنیده «{name}» است با میانگین {_pct(unheard, lang)}٪، یعنی "
                f"{_pct(gap, lang)} واحد درصد کمتر از همان مدل در تقسیم تصادفی. این فاصله بهای شنیدن صدایی تازه است "
                "و تقسیم تصادفی آن را پنهان می‌کند؛ عددی که باید گزارش شود همین است." if fa else
                f"On an unheard speaker the best model is \"{name}\" with a mean of {_pct(unheard, lang)}%, "
                f"{_pct(gap, lang)} points below the same model on the random split. That gap is the price of a new "
                "voice, which the random split hides; it is the number to report.")
    return (f"بهترین مدل روی گویندهٔ نشنیده «{name}» است با میانگین {_pct(unheard, lang)}٪، هم‌تراز یا بهتر از "
            f"همان مدل در تقسیم تصادفی ({_pct(random_split_accuracy, lang)}٪). در این داده صداها به هم نزدیک‌اند "
            "(صداهای ساختگی یک موتور گفتار چنین‌اند)؛ روی ضبط‌های واقعی این دو عدد از هم فاصله می‌گیرند." if fa else
            f"On an unheard speaker the best model is \"{name}\" with a mean of {_pct(unheard, lang)}%, level with or "
            f"above the same model on the random split ({_pct(random_split_accuracy, lang)}%). The voices of these "
            "data are close to each other (synthetic voices of one speech engine are); on real recordings the two "
            "numbers part.")


def conclusion(ours: dict, disjoint: tuple[str, float], lang: str) -> str:
    """The chapter's last paragraph. ``ours``: model -> accuracy with our recipe on the random
    split; ``disjoint``: (model, mean accuracy on unheard speakers)."""
    fa = _language(lang)
    name = lambda model: MODEL_NAMES[model][lang]
    best = max(ours, key=ours.get)
    cnn_smaller = "cnn" in ours and parameter_count("cnn", 40) < parameter_count("lstm_2x64", 13)
    text = (
        f"بهترین مدل روی تقسیم تصادفی «{name(best)}» با {_pct(ours[best], lang)}٪ است و روی گویندهٔ نشنیده "
        f"«{name(disjoint[0])}» با {_pct(disjoint[1], lang)}٪؛ LSTM دولایهٔ گزارش با دستور ما به "
        f"{_pct(ours.get('lstm_2x64', float('nan')), lang)}٪ می‌رسد (گزارش: ۴۰٪)."
        if fa else
        f"The best model on the random split is \"{name(best)}\" with {_pct(ours[best], lang)}%, and on an unheard "
        f"speaker \"{name(disjoint[0])}\" with {_pct(disjoint[1], lang)}%; the report's LSTM 2x64 with our recipe "
        f"reaches {_pct(ours.get('lstm_2x64', float('nan')), lang)}% (the report: 40%).")
    if cnn_smaller:
        text += (" CNN این فصل پارامترهای کمتری از LSTM دولایه دارد، پس هرجا بهتر است، دلیلش «پارامترهای بیشتر» "
                       "(توضیح گزارش) نیست." if fa else
                       " This chapter's CNN has fewer parameters than the LSTM 2x64, so wherever it does better, "
                       "\"more parameters\" (the report's explanation) is not the reason.")
    return text
