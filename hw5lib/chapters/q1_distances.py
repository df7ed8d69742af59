"""Q1.1-1.2: distances between distributions and the methods that bring two of them closer.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q1_distances.md`` is prose and short calls into this module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hw5lib.chapters.common import source_words, spoken_digits
from hw5lib.data import audio
from hw5lib.publish.chapter import Chapter
from hw5lib.publish.i18n import check_language, localise_number
from hw5lib.publish.plotting import PALETTE
from hw5lib.publish.profiles import Parameter
from hw5lib.publish.results import ChapterResults, glue_value

if TYPE_CHECKING:  # the science itself (torch among it) is imported by the notebook, not by the CLI
    from hw5lib.distances.drift import Detection
    from hw5lib.distances.speaker_shift import CrossSpeaker

# the report answered Q1.1-1.2 in prose (definitions and a list of methods): it gave no numbers
REPORTED = {}

CHAPTER = Chapter(
    "q1_distances",
    {"fa": "سوال ۱: فاصلهٔ میان توزیع‌ها و نزدیک کردن آن‌ها",
     "en": "Q1: Distances between distributions, and bringing them closer"},
    (
        *spoken_digits({"smoke": 3, "quick": 6, "full": 12}, {"smoke": 4, "quick": 15, "full": 50}),
        Parameter("max_frames", "int", {"smoke": 100, "quick": 400, "full": 1000},
                  "MFCC frames per sample in each optimal-transport and MMD distance", minimum=20,
                  maximum=5000),
        Parameter("mmd_steps", "int", {"smoke": 20, "quick": 300, "full": 1000},
                  "Adam steps of the MMD-minimising affine map", minimum=1, maximum=100_000),
        Parameter("estimator_sizes", "int_list", {"smoke": [50, 200],
                                                  "quick": [30, 100, 300, 1000, 3000, 10000],
                                                  "full": [30, 100, 300, 1000, 3000, 10000, 30000]},
                  "sample sizes at which the KL estimators are compared with the closed form",
                  minimum=10, maximum=1_000_000),
        Parameter("estimator_repeats", "int", {"smoke": 3, "quick": 20, "full": 100},
                  "independent samples per size in the estimator comparison", minimum=2, maximum=10_000),
        Parameter("stream_length", "int", {"smoke": 2000, "quick": 6000, "full": 20000},
                  "transactions in the monitored stream (the change comes halfway)", minimum=1000,
                  maximum=10_000_000),
        Parameter("false_alarm_rate", "float", 0.01,
                  "share of normal windows allowed over the detection threshold", minimum=1e-4, maximum=0.5),
    ),
    reported=REPORTED,
)
setup = CHAPTER.setup


def _percent(value: float) -> float:
    return 100 * value


# --- the data ------------------------------------------------------------------------------------



def load_speech(P) -> tuple[audio.DigitSet, list[np.ndarray]]:
    """The chapter's spoken digits and each clip's MFCCs, (frames, 13)."""
    digits = audio.load_sized_digits(P.data, P.speakers, P.clips_per_digit, seed=P.seed)
    return digits, audio.extract(digits.audio, digits.sample_rate, kind="mfcc", progress=False)


def glue_data(digits: audio.DigitSet) -> None:
    """The data section's numbers and the data set's name in both languages."""
    glue_value("q1_source", source_words(digits.source))
    glue_value("q1_clips", len(digits))
    glue_value("q1_speakers", len(digits.speaker_names))
    glue_value("q1_rate", digits.sample_rate)


# --- use 1: every speaker is a domain -----------------------------------------------------------

def speaker_distances_figure(matrices: dict[str, pd.DataFrame]):
    """Two heatmaps, W1 and MMD², of :func:`speaker_shift.speaker_distance_matrix`'s speakers x speakers."""
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2))
    for ax, (key, label) in zip(axes, (("w1", "$W_1$"), ("mmd2", r"$\mathrm{MMD}^2$"))):
        sns.heatmap(matrices[key], annot=len(matrices[key]) <= 8, fmt=".2f", cmap="rocket_r", square=True, ax=ax,
                    cbar_kws={"shrink": 0.8}, annot_kws={"size": 8})
        ax.set_title(label)
        ax.tick_params(axis="y", labelrotation=0)
        ax.set_xlabel("")
        ax.set_ylabel("")
    return fig


def glue_speaker_distances(matrices: dict[str, pd.DataFrame]) -> None:
    """The smallest and largest W1 between two different speakers, and the furthest pair."""
    w1 = matrices["w1"].to_numpy()
    diagonal = np.eye(len(w1), dtype=bool)
    off_diagonal = w1[~diagonal]
    pair = np.unravel_index(np.argmax(np.where(diagonal, -np.inf, w1)), w1.shape)
    glue_value("q1_far_pair", f"{matrices['w1'].index[pair[0]]}–{matrices['w1'].columns[pair[1]]}")
    glue_value("q1_w1_min", off_diagonal.min(), "{:.2f}")
    glue_value("q1_w1_max", off_diagonal.max(), "{:.2f}")


# --- use 2: a speaker the model has not heard ---------------------------------------------------

def held_out_baseline(shift: CrossSpeaker) -> pd.DataFrame:
    """One row per held-out speaker (the index) without any method: its w1, mmd2 and accuracy."""
    return shift.table[shift.table["method"] == "none"].set_index("target")


def generalisation_figure(baseline: pd.DataFrame, within: float):
    """Accuracy on each held-out speaker against its W1 to the training speakers, and the 80/20
    accuracy (``within``, a share) as a dashed line."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.scatter(baseline["w1"], 100 * baseline["accuracy"], color=PALETTE["plain"], zorder=3)
    for name, row in baseline.iterrows():
        ax.annotate(name, (row["w1"], 100 * row["accuracy"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(100 * within, color=PALETTE["residual"], linestyle="--", label="80/20")
    ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(r"$W_1$(held-out speaker, training speakers)")
    ax.set_ylabel("accuracy (%)")
    return fig


def report_generalisation(results: ChapterResults, baseline: pd.DataFrame, within: float) -> None:
    """Glue the within- and cross-speaker accuracies, the worst speaker and Spearman's rho between
    distance and accuracy (nan with fewer than three speakers); record the two accuracies."""
    from scipy import stats

    rho = stats.spearmanr(baseline["w1"], baseline["accuracy"]).statistic if len(baseline) > 2 else float("nan")
    glue_value("q1_within", _percent(within), "{:.1f}")
    glue_value("q1_cross", _percent(baseline["accuracy"].mean()), "{:.1f}")
    glue_value("q1_cross_min", _percent(baseline["accuracy"].min()), "{:.1f}")
    glue_value("q1_worst_speaker", baseline["accuracy"].idxmin())
    glue_value("q1_rho", rho, "{:.2f}")
    glue_value("q1_n_held_out", len(baseline))
    results.add("within_speaker_accuracy", _percent(within), fmt="{:.1f}%",
                fa="دقت، همهٔ گویندگان در آموزش و آزمون (٪)", en="accuracy, every speaker in training and test (%)")
    results.add("cross_speaker_accuracy", _percent(baseline["accuracy"].mean()), fmt="{:.1f}%",
                fa="دقت روی گویندهٔ نشنیده، بی‌تطبیق (٪)", en="accuracy on an unheard speaker, no adaptation (%)")


# --- use 3: the report's fraud example ----------------------------------------------------------

def drift_figure(stream: np.ndarray, change_at: int, ends: np.ndarray, scores: np.ndarray, detection: Detection):
    """Top: the stream and the change; bottom: each window's distance (ending at ``ends``), the
    threshold and the first alarm of ``detection``."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    top.plot(np.arange(len(stream)), stream, ",", color=PALETTE["reference"], alpha=0.6)
    top.axvline(change_at, color="black", linestyle=":")
    top.set_ylabel(r"$\log$ amount")
    bottom.plot(ends, scores, color=PALETTE["residual"])
    bottom.axhline(detection.threshold, color=PALETTE["plain"], linestyle="--")
    bottom.axvline(change_at, color="black", linestyle=":")
    if detection.first_alarm is not None:
        bottom.axvline(detection.first_alarm, color=PALETTE["plain"])
    bottom.set_ylabel(r"$H$(window, reference)")
    bottom.set_xlabel("transaction")
    return fig


def report_drift(results: ChapterResults, detection: Detection, window: int, false_alarm_rate: float) -> None:
    """Glue the monitor's settings, the delay ("—" when no alarm rang) and the false-alarm share;
    record the last two."""
    glue_value("q1_alpha", false_alarm_rate)
    glue_value("q1_window", window)
    glue_value("q1_delay", detection.delay if detection.delay is not None else "—")
    glue_value("q1_false_alarms", _percent(detection.false_alarm_rate), "{:.1f}")
    results.add("drift_detection_delay", detection.delay, fmt="{}",
                fa="تأخیر تشخیص تقلب (تعداد تراکنش)", en="fraud detection delay (transactions)")
    results.add("drift_false_alarm_rate", _percent(detection.false_alarm_rate), fmt="{:.1f}%",
                fa="نرخ هشدار نادرست پیش از تغییر (٪)", en="false-alarm rate before the change (%)")


# --- the definitions, seen on Gaussians -----------------------------------------------------------

SHIFTS = np.linspace(0, 6, 49)
"""The means mu of N(mu, 1) compared with N(0, 1) in the shift sweep."""


def shift_sweep_figure(shifts: np.ndarray, sweep: dict[str, np.ndarray]):
    """Left: the bounded measures of :func:`demos.shift_sweep` against the shift; right, on a log
    scale: the unbounded ones."""
    import seaborn as sns

    fig, (bounded, unbounded) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for name, color in zip(("TV", "Hellinger", "JS"), sns.color_palette("deep", 3)):
        bounded.plot(shifts, sweep[name], label=name, color=color)
    bounded.axhline(np.log(2), color=PALETTE["reference"], linestyle=":", linewidth=1)
    bounded.text(0.1, np.log(2), r"$\log 2$", va="bottom", fontsize=8, color=PALETTE["reference"])
    bounded.set_xlabel(r"$\mu$")
    bounded.legend(fontsize=8)
    for name, color in zip(("KL", "chi-square", "W1", "MMD²"), sns.color_palette("deep", 7)[3:]):
        label = {"chi-square": r"$\chi^2$", "W1": "$W_1$"}.get(name, name)
        unbounded.semilogy(shifts[1:], np.maximum(sweep[name][1:], 1e-4), label=label, color=color)
    unbounded.set_xlabel(r"$\mu$")
    unbounded.legend(fontsize=8)
    return fig


def glue_shift_sweep(shifts: np.ndarray, sweep: dict[str, np.ndarray]) -> None:
    """TV and KL at the shift nearest 3."""
    at_3 = np.argmin(np.abs(shifts - 3))
    glue_value("q1_tv_at_3", sweep["TV"][at_3], "{:.3f}")
    glue_value("q1_kl_at_3", sweep["KL"][at_3], "{:.2f}")


def kl_directions_figure(fits: dict):
    """The mixture p of :func:`demos.kl_direction_fits` and the Gaussians fitted in each direction."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.fill_between(fits["grid"], fits["p"], color=PALETTE["reference"], alpha=0.35, label="$p$")
    ax.plot(fits["grid"], fits["forward"]["density"], color=PALETTE["residual"], label=r"$\arg\min_q KL(p\|q)$")
    ax.plot(fits["grid"], fits["reverse"]["density"], color=PALETTE["plain"], label=r"$\arg\min_q KL(q\|p)$")
    ax.set_xlim(-9, 9)
    ax.set_xlabel("$x$")
    ax.legend(fontsize=8)
    return fig


def glue_kl_directions(fits: dict) -> None:
    glue_value("q1_forward_sd", fits["forward"]["sd"], "{:.2f}")
    glue_value("q1_reverse_mean", fits["reverse"]["mean"], "{:.2f}")


def estimators_figure(convergence: dict):
    """Median and quartiles of each KL estimator of :func:`demos.estimator_convergence` against n,
    and the closed form."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for key, color, label in (("histogram", PALETTE["plain"], "histogram (plug-in)"),
                              ("knn", PALETTE["residual"], "1-NN")):
        values = convergence[key]
        ax.plot(convergence["sizes"], np.median(values, axis=1), "o-", color=color, label=label)
        ax.fill_between(convergence["sizes"], np.quantile(values, 0.25, axis=1), np.quantile(values, 0.75, axis=1),
                        color=color, alpha=0.2)
    ax.axhline(convergence["truth"], color="black", linestyle="--", label="closed form")
    ax.set_xscale("log")
    ax.set_xlabel("$n$")
    ax.set_ylabel(r"$\widehat{KL}$")
    ax.legend(fontsize=8)
    return fig


def glue_estimators(convergence: dict) -> None:
    """The closed form, and the median estimates at the smallest and largest sample sizes."""
    glue_value("q1_kl_truth", convergence["truth"], "{:.3f}")
    glue_value("q1_n_largest", int(convergence["sizes"][-1]))
    glue_value("q1_hist_at_largest", np.median(convergence["histogram"][-1]), "{:.3f}")
    glue_value("q1_knn_at_largest", np.median(convergence["knn"][-1]), "{:.3f}")
    glue_value("q1_hist_at_smallest", np.median(convergence["histogram"][0]), "{:.3f}")
    glue_value("q1_n_smallest", int(convergence["sizes"][0]))


# --- bringing two distributions closer ----------------------------------------------------------

METHOD_LABELS = {
    "none": {"en": "none (baseline)", "fa": "هیچ (پایه)"},
    "utterance CMVN": {"en": "per-utterance CMVN", "fa": "CMVN هر گفته"},
    "speaker CMVN": {"en": "per-speaker CMVN", "fa": "CMVN هر گوینده"},
    "speaker CMVN + VTLN": {"en": "per-speaker CMVN + VTLN (the warp closest in MMD²)",
                            "fa": "CMVN هر گوینده + VTLN (پیچشی که در MMD² نزدیک‌ترین است)"},
    "mean-variance matching": {"en": "mean and variance matched to the training speakers",
                               "fa": "هم‌سان‌سازی میانگین و واریانس با گویندگان آموزش"},
    "quantile matching": {"en": "quantile (histogram) matching", "fa": "تطبیق چندک‌ها (هیستوگرام)"},
    "smoothing": {"en": "smoothing (5-frame moving average)", "fa": "هموارسازی (میانگین متحرک ۵ قابی)"},
    "CORAL": {"en": "CORAL", "fa": "CORAL"},
    "MMD affine map": {"en": "affine map minimising MMD", "fa": "نگاشت آفین با کمینه‌سازی MMD"},
    "augmentation": {"en": "augmentation: every training clip also at 0.9x and 1.1x speed",
                     "fa": "افزایش داده: هر گفتهٔ آموزش با سرعت ۰٫۹ و ۱٫۱ برابر هم"},
    "speaker CMVN + augmentation": {"en": "per-speaker CMVN + augmentation", "fa": "CMVN هر گوینده + افزایش داده"},
}
"""The methods of :data:`speaker_shift.ADAPTATIONS`, named in the book's two languages."""

METHODS_HEADERS = {
    "fa": ["روش", "W₁ پس از روش", "MMD² پس از روش", "دقت (٪)", "تغییر دقت (واحد درصد)"],
    "en": ["method", "W₁ after", "MMD² after", "accuracy (%)", "change in accuracy (points)"],
}


def methods_tables(summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per language, one row per method of a :meth:`CrossSpeaker.summary`: its name, W1 and MMD²
    after the method, accuracy (%) and its change against no method (points)."""
    none = summary.loc["none"]
    table = pd.DataFrame({
        "method": list(summary.index),
        "w1": summary["w1"].to_numpy(),
        "mmd2": summary["mmd2"].to_numpy(),
        "accuracy": 100 * summary["accuracy"].to_numpy(),
        "change": 100 * (summary["accuracy"] - none["accuracy"]).to_numpy(),
    })
    return {lang: table.assign(method=[METHOD_LABELS[m][lang] for m in table["method"]]) for lang in ("fa", "en")}


def mmd_loss_figure(loss_curves: dict[str, np.ndarray]):
    """Each held-out speaker's MMD² loss curve of the affine map, as a 10-step moving average."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for name, curve in loss_curves.items():
        ax.plot(pd.Series(curve).rolling(10, min_periods=1).mean(), linewidth=1.2, label=name)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\mathrm{MMD}^2$")
    ax.legend(fontsize=7, ncol=2)
    return fig


# methods that give the new speaker's features the first moments (or the whole marginals) of the
# training speakers' features, without looking at any label
_MOMENT_MATCHING = {"speaker CMVN", "mean-variance matching", "quantile matching", "CORAL"}
# methods that make more training voices instead of moving the new one (matching by generation)
_GENERATIVE = {"augmentation", "speaker CMVN + augmentation"}


def conclusion(summary: pd.DataFrame, test_clips: int, lang: str) -> str:
    """The chapter's closing paragraph, written from a :meth:`CrossSpeaker.summary`: which method
    helped most, by how much, and the reason that fits the method that won. Methods within one
    clip of one held-out speaker (``1 / test_clips``) of the best count as tied with it."""
    check_language(lang)
    accuracy = summary["accuracy"]
    baseline = float(accuracy["none"])
    best = str(accuracy.drop("none").idxmax())
    gain = float(accuracy[best]) - baseline
    resolution = 1.0 / max(test_clips, 1)  # one clip of one held-out speaker
    tied = [m for m in accuracy.drop("none").index if m != best and accuracy[best] - accuracy[m] <= resolution]
    names = [METHOD_LABELS[m][lang] for m in [best, *tied]]
    sign = {"en": "%", "fa": "٪"}[lang]

    def num(value):
        return localise_number(f"{100 * value:.1f}", lang) + sign

    if gain <= resolution:
        text = {"en": f"On this data no method beat the baseline ({num(baseline)}) by more than one test clip: "
                      "the speakers differ less than the words do, and the classifier already generalises.",
                "fa": f"روی این داده هیچ روشی بیش از یک گفتهٔ آزمون از پایه ({num(baseline)}) بهتر نبود: "
                      "تفاوت گویندگان کمتر از تفاوت واژه‌هاست و دسته‌بند خود به‌خوبی تعمیم می‌یابد."}[lang]
        return text
    if tied:
        listed = {"en": ", ".join(names[:-1]) + " and " + names[-1],
                  "fa": "، ".join(names[:-1]) + " و " + names[-1]}[lang]
        lead = {"en": (f"The methods that helped most here, within one test clip of each other, are {listed}: "
                       f"held-out speakers' accuracy rose from {num(baseline)} to {num(float(accuracy[best]))}."),
                "fa": (f"بیشترین کمک را در این داده، با فاصلهٔ کمتر از یک گفتهٔ آزمون از هم، {listed} کردند: "
                       f"دقت روی گویندهٔ کنار گذاشته از {num(baseline)} به {num(float(accuracy[best]))} رسید.")}[lang]
    else:
        lead = {"en": (f"The method that helped most here is {names[0]}: held-out speakers' accuracy rose from "
                       f"{num(baseline)} to {num(float(accuracy[best]))}."),
                "fa": (f"بیشترین کمک را در این داده {names[0]} کرد: دقت روی گویندهٔ کنار گذاشته از "
                       f"{num(baseline)} به {num(float(accuracy[best]))} رسید.")}[lang]
    if best in _MOMENT_MATCHING:
        why = {"en": ("A speaker's voice and microphone move the whole cloud of cepstral frames (a shift and a "
                      "stretch of each coefficient), while the word is in how the frames move in time. A map "
                      "fitted to the speaker's own unlabelled frames removes the first and keeps the second."),
               "fa": ("صدا و میکروفن هر گوینده کل ابر قاب‌های کپسترال را جابه‌جا و کشیده می‌کند (یک انتقال و "
                      "یک مقیاس برای هر ضریب)، حال آنکه واژه در چگونگی تغییر قاب‌ها در زمان است. نگاشتی که "
                      "روی قاب‌های بی‌برچسب خود گوینده برازش شود اولی را می‌زداید و دومی را نگه می‌دارد.")}[lang]
    elif best in _GENERATIVE:
        why = {"en": ("Augmentation leaves the new speaker alone: it makes more training voices (each clip also "
                      "faster and slower, i.e. with a shorter and a longer vocal tract) until they cover the new "
                      "one; matching by generation."),
               "fa": ("افزایش داده به گویندهٔ تازه دست نمی‌زند: صداهای آموزشی بیشتری می‌سازد (هر گفته تندتر و "
                      "کندتر، یعنی با مجرای صوتی کوتاه‌تر و بلندتر) تا صدای تازه را بپوشانند؛ هم‌سان‌سازی با "
                      "تولید.")}[lang]
        if best != "augmentation":
            why += {"en": " Per-speaker CMVN then removes what is left of each voice's shift and stretch.",
                    "fa": " سپس CMVN هر گوینده آنچه از جابه‌جایی و کشیدگی هر صدا مانده است را می‌زداید."}[lang]
    elif best == "speaker CMVN + VTLN":
        why = {"en": ("A longer or shorter vocal tract scales every formant by about the same factor; warping the new "
                      "speaker's frequency axis by the factor that brings their frames closest to the training "
                      "frames undoes that scale, and per-speaker CMVN the shift and stretch that are left."),
               "fa": ("مجرای صوتی بلندتر یا کوتاه‌تر همهٔ سازندها را تقریباً با یک ضریب جابه‌جا می‌کند؛ پیچاندن محور "
                      "بسامد گویندهٔ تازه با ضریبی که قاب‌هایش را به قاب‌های آموزش نزدیک‌تر از همه می‌کند این "
                      "مقیاس را برمی‌گرداند، و CMVN هر گوینده جابه‌جایی و کشیدگی باقی‌مانده را.")}[lang]
    elif best == "MMD affine map":
        why = {"en": ("Minimising MMD fits the whole frame distribution, not only its moments, so it can also "
                      "undo a rotation of the cepstral cloud; it needs more steps and a kernel bandwidth."),
               "fa": ("کمینه‌سازی MMD کل توزیع قاب‌ها را برازش می‌کند، نه فقط گشتاورها را، پس چرخش ابر "
                      "کپسترال را هم می‌تواند جبران کند؛ بهایش گام‌های بیشتر و انتخاب پهنای هسته است.")}[lang]
    else:
        why = {"en": "It changes each clip on its own, so it needs nothing from the new speaker in advance.",
               "fa": "این روش هر گفته را جداگانه تغییر می‌دهد، پس از گویندهٔ تازه چیزی از پیش نمی‌خواهد."}[lang]
    return f"{lead} {why}"


def generation_finding(summary: pd.DataFrame, lang: str) -> str:
    """What matching by generation did here, from a :meth:`CrossSpeaker.summary` with the
    augmentation rows: the distance and accuracy without any method and with augmentation, and
    per-speaker CMVN alone and with it; the same two levers Q4 measures on its CNN."""
    check_language(lang)
    row = {key: summary.loc[key] for key in ("none", "augmentation", "speaker CMVN", "speaker CMVN + augmentation")}

    def w1(key):
        return localise_number(f"{row[key]['w1']:.2f}", lang)

    def acc(key):
        return localise_number(f"{100 * row[key]['accuracy']:.1f}", lang)

    def change(key, against="none"):
        return localise_number(f"{100 * (row[key]['accuracy'] - row[against]['accuracy']):+.1f}", lang)

    closer = row["augmentation"]["w1"] < row["none"]["w1"]
    if lang == "fa":
        moved = "کمتر می‌کند" if closer else "کمتر نمی‌کند"
        return (f"افزایش داده فاصلهٔ واسرشتاین را {moved} ({w1('none')} ← {w1('augmentation')}) و دقت را "
                f"{change('augmentation')} واحد درصد تغییر می‌دهد ({acc('augmentation')}٪)؛ CMVN هر گوینده به‌تنهایی "
                f"{change('speaker CMVN')} و با افزایش داده {change('speaker CMVN + augmentation')} واحد درصد "
                f"({acc('speaker CMVN + augmentation')}٪). همین دو اهرم، روی CNN، در جدول اهرم‌های سوال ۴ سنجیده "
                "شده‌اند.")
    moved = "lowers" if closer else "does not lower"
    return (f"Augmentation {moved} the Wasserstein distance ({w1('none')} → {w1('augmentation')}) and changes "
            f"accuracy by {change('augmentation')} points (to {acc('augmentation')}%); per-speaker CMVN alone by "
            f"{change('speaker CMVN')}, and with augmentation by {change('speaker CMVN + augmentation')} points "
            f"(to {acc('speaker CMVN + augmentation')}%). The same two levers are measured on a CNN in Q4's table "
            "of levers.")


def vtln_finding(shift, lang: str) -> str:
    """What vocal-tract-length normalisation chosen by MMD² did here, from a :class:`CrossSpeaker`
    with the rows of per-speaker CMVN with and without it: the distance and accuracy of each, and
    the factor chosen per held-out speaker; Q4's recipe for voices never heard (``unheard``) warps
    its test speakers the same way, choosing by the networks' confidence."""
    check_language(lang)
    summary = shift.summary()
    plain, warped = summary.loc["speaker CMVN"], summary.loc["speaker CMVN + VTLN"]
    rows = shift.table[shift.table["method"] == "speaker CMVN + VTLN"]
    factors = {"en": ", ".join(f"{t} {f:.2f}" for t, f in zip(rows["target"], rows["factor"])),
               "fa": "، ".join(f"{t} {localise_number(f'{f:.2f}', lang)}" for t, f in zip(rows["target"],
                                                                                        rows["factor"]))}[lang]

    def num(value, fmt):
        return localise_number(format(value, fmt), lang)

    change = 100 * (warped["accuracy"] - plain["accuracy"])
    closer = warped["w1"] < plain["w1"] - 0.005
    helped = change > 0
    if lang == "fa":
        moved = "کمتر می‌کند" if closer else "تقریباً تغییر نمی‌دهد"
        text = (f"پیچاندن محور بسامد هر گویندهٔ کنار گذاشته (VTLN) با ضریبی از ۰٫۸۵ تا ۱٫۱۵ که پس از CMVN هر گوینده "
                f"MMD² قاب‌هایش تا قاب‌های آموزش را کمینه می‌کند، فاصلهٔ واسرشتاین را {moved} "
                f"({num(plain['w1'], '.2f')} ← {num(warped['w1'], '.2f')}) و دقت را {num(change, '+.1f')} واحد "
                f"درصد نسبت به CMVN هر گوینده به‌تنهایی تغییر می‌دهد ({num(100 * warped['accuracy'], '.1f')}٪؛ ضریب هر "
                f"گوینده: {factors}).")
        tail = (" سوال ۴ همین پیچش را روی ResNetهای صداهای نشنیده می‌سنجد (دستور unheard)، "
                "با این تفاوت که ضریب را با اطمینان شبکه برمی‌گزیند." if helped else
                " فاصلهٔ میان دو ابر قاب ممکن است پیچشی را برگزیند که به واژه‌ها کمکی نمی‌کند؛ سوال ۴ ضریب را با "
                "اطمینان شبکه به واژه‌ها برمی‌گزیند (دستور unheard) و آنجا روی گویندگان کنار "
                "گذاشتهٔ آموزش سودمند است.")
        return text + tail
    moved = "lowers" if closer else "barely moves"
    text = (f"Warping each held-out speaker's frequency axis (VTLN) by the factor from 0.85 to 1.15 whose frames, "
            f"after per-speaker CMVN, are closest in MMD² to the training frames {moved} the Wasserstein distance "
            f"({num(plain['w1'], '.2f')} → {num(warped['w1'], '.2f')}) and changes accuracy by {num(change, '+.1f')} "
            f"points against per-speaker CMVN alone (to {num(100 * warped['accuracy'], '.1f')}%; the factor per "
            f"speaker: {factors}).")
    tail = (" Q4 measures the same warp on its ResNets for voices never heard (recipe unheard), "
            "choosing the factor by the networks' confidence instead." if helped else
            " A distance between two clouds of frames can prefer a warp that does not help the words; Q4 chooses "
            "the factor by the networks' confidence in the words instead (recipe unheard), and "
            "there it helps on held-out training speakers.")
    return text + tail


def report_vtln(shift) -> None:
    """Glue :func:`vtln_finding` in both languages."""
    glue_value("q1_vtln", {lang: vtln_finding(shift, lang) for lang in ("fa", "en")})


def report_methods(results: ChapterResults, summary: pd.DataFrame, speakers) -> None:
    """Glue the conclusion (its ties judged at one clip of the smallest speaker in ``speakers``,
    each clip's speaker) and two methods' change in accuracy; record the best method and its accuracy."""
    none = summary.loc["none"]
    test_clips = int(pd.Series(speakers).value_counts().min())
    glue_value("q1_conclusion", {lang: conclusion(summary, test_clips, lang) for lang in ("fa", "en")})
    glue_value("q1_mmd_change", _percent(summary.loc["MMD affine map", "accuracy"] - none["accuracy"]), "{:+.1f}")
    glue_value("q1_utt_cmvn_change", _percent(summary.loc["utterance CMVN", "accuracy"] - none["accuracy"]), "{:+.1f}")
    if "augmentation" in summary.index:
        glue_value("q1_generation", {lang: generation_finding(summary, lang) for lang in ("fa", "en")})
    best = summary["accuracy"].drop("none").idxmax()
    results.add("best_method", METHOD_LABELS[best], fmt="{}",
                fa="بهترین روش نزدیک‌سازی", en="best closing method")
    results.add("best_method_accuracy", _percent(summary.loc[best, "accuracy"]), fmt="{:.1f}%",
                fa="دقت روی گویندهٔ نشنیده با بهترین روش (٪)", en="accuracy on an unheard speaker, best method (%)")
