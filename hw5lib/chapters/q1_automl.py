"""Q1.3: AutoML and neural architecture search.

The chapter's parameters and profiles, its findings in both languages, its tables and figures;
the notebook ``book/q1_automl.md`` is prose and short calls into this module. The science is
:mod:`hw5lib.automl`.

The book's registry imports every chapter module to read its parameters, so the heavy imports
(torch through hw5lib.automl, Matplotlib, pandas) are made inside the functions that need them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hw5lib.chapters.common import MODEL_NAMES, source_words, spoken_digits
from hw5lib.publish.chapter import Chapter, Reported
from hw5lib.publish.i18n import check_language, localise_number
from hw5lib.publish.profiles import Parameter
from hw5lib.publish.results import RUN_DIR_ENV, ChapterResults, glue_value

# Q1.3 of the report is an essay (what AutoML automates, the libraries, the parts of NAS): it
# gave no number to set beside ours.
REPORTED: dict[str, Reported] = {}

CHAPTER = Chapter(
    "q1_automl",
    {"fa": "سوال ۱.۳: AutoML و جست‌وجوی معماری عصبی",
     "en": "Q1.3: AutoML and neural architecture search"},
    (
        *spoken_digits({"smoke": 3, "quick": 8, "full": 60}, {"smoke": 4, "quick": 12, "full": 100}),
        Parameter("trials", "int", {"smoke": 3, "quick": 20, "full": 100},
                  "finished trials of each study (TPE and random search get the same budget)",
                  minimum=1, maximum=100_000),
        Parameter("epochs", "int", {"smoke": 1, "quick": 8, "full": 30},
                  "epochs of a trial that is not pruned, and of the final comparison", minimum=1,
                  maximum=10_000),
        Parameter("timeout", "float", 0.0, "seconds after which each study stops starting trials (0: no limit)",
                  minimum=0.0, maximum=1e7),
        Parameter("pruner", "str", "hyperband", "early stopping of poor trials: hyperband, halving or none",
                  choices=("hyperband", "halving", "none")),
        Parameter("storage", "storage", "auto",
                  "where the studies live: auto (a SQLite file in the run folder, or a temporary one), "
                  "memory, journal:///path, sqlite:///path or a database URL shared by several workers"),
        Parameter("study_name", "str", "digits",
                  "the studies are <study_name>-tpe and <study_name>-random in the storage"),
    ),
    reported=REPORTED,
)
setup = CHAPTER.setup

SAMPLER_COLOURS = {"tpe": "#1f77b4", "random": "#ff7f0e"}  # the captions call them blue and orange


# --- the data and the studies' storage --------------------------------------------------------


def load_data(P):
    """The chapter's clips (a :class:`hw5lib.data.audio.DigitSet`) and their split for the search
    (a :class:`hw5lib.automl.SearchData`: train and validation for the trials, test for the end)."""
    from hw5lib import automl
    from hw5lib.data import audio

    clips = audio.load_sized_digits(P.data, P.speakers, P.clips_per_digit, seed=P.seed, report=None)
    return clips, automl.SearchData.from_clips(clips, seed=P.seed)


def storage_url(storage: str) -> str:
    """The studies' storage URL. ``auto`` is a fresh SQLite file per execution, so that the same
    parameters give the same studies: ``automl.db`` in the run folder inside ``hw5lib run``, else
    in a new temporary folder. Any other value is already a URL."""
    if storage != "auto":
        return storage
    folder = Path(os.environ.get(RUN_DIR_ENV) or tempfile.mkdtemp(prefix="hw5lib-automl-"))
    return f"sqlite:///{folder / 'automl.db'}"


def glue_data(clips, split) -> None:
    """Glue the size and source of the data (``automl_clips``, ``automl_source``) and of each part
    of ``split`` (``automl_train``, ``automl_val``, ``automl_test``)."""
    glue_value("automl_clips", len(clips))
    glue_value("automl_source", source_words(clips.source))
    for name, indices in (("train", split.train_idx), ("val", split.val_idx), ("test", split.test_idx)):
        glue_value(f"automl_{name}", len(indices))


# --- the search space -------------------------------------------------------------------------

def space_table():
    """The search space of :func:`hw5lib.automl.suggest` in words: a (parameter, values) frame per
    language, and the headers in each language."""
    import pandas as pd

    from hw5lib import automl

    families = ", ".join(automl.FAMILY_LABELS[family] for family in automl.FAMILIES)
    rows = {"en": [
        ("family", families),
        ("depth", "1, 2, 3 (layers, convolution blocks or hidden layers)"),
        ("width", ", ".join(map(str, automl.WIDTHS)) + " (units, last block's channels or hidden units)"),
        ("dropout", "0 – 0.5"),
        ("feature", "MFCC (13), log-mel (40)"),
        ("learning rate", "1e-4 – 1e-2, logarithmic"),
        ("batch size", ", ".join(map(str, automl.BATCH_SIZES))),
    ], "fa": [
        ("خانواده", families),
        ("عمق", "۱، ۲، ۳ (لایه، بلوک پیچشی یا لایهٔ پنهان)"),
        ("پهنا", "، ".join(map(str, automl.WIDTHS)) + " (واحد، کانال‌های بلوک آخر یا واحد پنهان)"),
        ("dropout", "از ۰ تا ۰٫۵"),
        ("ویژگی", "MFCC (13), log-mel (40)"),
        ("نرخ یادگیری", "از ۰٫۰۰۰۱ تا ۰٫۰۱، لگاریتمی"),
        ("اندازهٔ دسته", "، ".join(map(str, automl.BATCH_SIZES))),
    ]}
    frames = {lang: pd.DataFrame(rows[lang], columns=["parameter", "values"]) for lang in ("fa", "en")}
    return frames, {"fa": ["پارامتر", "مقدارها"], "en": ["parameter", "values"]}


# --- TPE against random search --------------------------------------------------------------------

def history_figure(rows_by_sampler: dict[str, list[dict]]):
    """Validation accuracy of every trial (dots: complete; crosses: pruned, at their last report)
    and the best so far (steps), one colour per sampler; ``rows_by_sampler`` maps a sampler to
    its :func:`hw5lib.automl.history` rows."""
    import matplotlib.pyplot as plt

    from hw5lib.publish.plotting import PALETTE

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for name, rows in rows_by_sampler.items():
        colour = SAMPLER_COLOURS.get(name, PALETTE["reference"])
        complete = [r for r in rows if r["state"] == "COMPLETE"]
        pruned = [r for r in rows if r["state"] == "PRUNED" and r["value"] is not None]
        ax.scatter([r["number"] + 1 for r in complete], [100 * r["value"] for r in complete], color=colour, s=22,
                   label=f"{name}: complete")
        ax.scatter([r["number"] + 1 for r in pruned], [100 * r["value"] for r in pruned], color=colour, marker="x",
                   s=22, alpha=0.7, label=f"{name}: pruned")
        best = [(r["number"] + 1, 100 * r["best"]) for r in rows if r["best"] is not None]
        if best:
            ax.step(*zip(*best), where="post", color=colour, lw=1.8)
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_ylabel("validation accuracy (%)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def comparison_finding(samplers: dict[str, float], lang: str) -> str:
    """A sentence on TPE against random search at the same budget; ``samplers`` maps "tpe" and
    "random" to the best validation accuracy (0 to 1)."""
    fa = check_language(lang) == "fa"
    tpe, random = 100 * samplers["tpe"], 100 * samplers["random"]
    numbers = (f"بهترین دقت اعتبارسنجی TPE {localise_number(f'{tpe:.1f}', lang)}٪ و جست‌وجوی تصادفی "
               f"{localise_number(f'{random:.1f}', lang)}٪" if fa else
               f"the best validation accuracy was {tpe:.1f}% with TPE and {random:.1f}% with random search")
    if abs(tpe - random) < 0.5:
        return (f"با این بودجه دو راهبرد هم‌ترازند: {numbers}." if fa else
                f"At this budget the two strategies tie: {numbers}.")
    winner = ("TPE" if tpe > random else "جست‌وجوی تصادفی") if fa else ("TPE" if tpe > random else "random search")
    return (f"با این بودجه {winner} بهتر بود: {numbers}." if fa else f"At this budget {winner} did better: {numbers}.")


def search_cost(rows_by_sampler: dict[str, list[dict]], epochs: int) -> dict:
    """What the searches cost: trials, pruned trials, the epochs trained as a percentage of
    ``epochs`` for every trial, and the seconds of training, over all of ``rows_by_sampler``."""
    rows = [row for sampler_rows in rows_by_sampler.values() for row in sampler_rows]
    return {"trials": len(rows), "pruned": sum(row["state"] == "PRUNED" for row in rows),
            "epoch_share": 100 * sum(row["epochs"] for row in rows) / (len(rows) * epochs),
            "seconds": sum(row["seconds"] or 0 for row in rows)}


def publish_search(results: ChapterResults, studies: dict, rows_by_sampler: dict[str, list[dict]],
                   epochs: int) -> None:
    """Glue the comparison of the samplers' ``studies`` (``automl_comparison``) and the cost of
    the search (``automl_trials``, ``automl_pruned``, ``automl_epoch_share``,
    ``automl_search_seconds``, ``automl_trial_epochs``, ``automl_tpe_startup``), and record the
    best validation accuracies, the share of epochs trained and the pruned trials."""
    from hw5lib import automl

    best_val = {sampler: study.best_value for sampler, study in studies.items()}
    glue_value("automl_comparison", {lang: comparison_finding(best_val, lang) for lang in ("fa", "en")})
    cost = search_cost(rows_by_sampler, epochs)
    glue_value("automl_trials", cost["trials"])
    glue_value("automl_pruned", cost["pruned"])
    glue_value("automl_epoch_share", cost["epoch_share"], "{:.0f}")
    glue_value("automl_search_seconds", cost["seconds"], "{:.0f}")
    glue_value("automl_trial_epochs", epochs)
    glue_value("automl_tpe_startup", automl.TPE_STARTUP)
    for sampler in automl.SAMPLERS:
        results.add(f"{sampler}_best_validation", 100 * best_val[sampler], fa=f"بهترین دقت اعتبارسنجی {sampler} (٪)",
                    en=f"best validation accuracy, {sampler} (%)", fmt="{:.1f}")
    results.add("trained_epoch_share", cost["epoch_share"],
                fa="سهم دوره‌های آموزش‌داده‌شده پس از هرس (٪)", en="share of epochs trained after pruning (%)",
                fmt="{:.0f}")
    results.add("pruned_trials", cost["pruned"], fa="آزمایش‌های هرس‌شده", en="pruned trials", fmt="{}")


# --- what matters ---------------------------------------------------------------------------------

def importance_figure(importance_by_sampler: dict[str, dict[str, float]]):
    """fANOVA importance of each searched parameter, one bar per sampler's study;
    ``importance_by_sampler`` maps a sampler to :func:`hw5lib.automl.importances`."""
    import matplotlib.pyplot as plt

    from hw5lib.publish.plotting import PALETTE

    names = sorted({name for values in importance_by_sampler.values() for name in values})
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * max(len(names), 3) + 1.0))
    height = 0.8 / max(len(importance_by_sampler), 1)
    for index, (sampler, values) in enumerate(importance_by_sampler.items()):
        ax.barh([i + index * height for i in range(len(names))], [values.get(name, 0.0) for name in names],
                height=height, color=SAMPLER_COLOURS.get(sampler, PALETTE["reference"]), label=sampler)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))], names)
    ax.set_xlabel("importance (fANOVA)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def top_parameter(importance: dict[str, float]) -> str:
    """The most important parameter of ``importance``; "family" when there is none to compare
    (fewer than two complete trials)."""
    return max(importance, key=importance.get) if importance else "family"


# --- the architecture found against the report's models ------------------------------------------

def candidates(studies: dict) -> dict:
    """The best architecture of each sampler's study ("best (tpe)", "best (random)") and the
    report's hand-designed models (:data:`hw5lib.automl.REPORT_MODELS`), by name."""
    from hw5lib import automl

    found = {f"best ({sampler})": automl.best_architecture(study) for sampler, study in studies.items()}
    return {**found, **automl.REPORT_MODELS}


def candidate_names(lang: str) -> dict[str, str]:
    """The names of :func:`candidates` in ``lang``."""
    from hw5lib import automl

    fa = check_language(lang) == "fa"
    found = ({"best (tpe)": "بهترینِ یافتهٔ TPE", "best (random)": "بهترینِ یافتهٔ تصادفی"} if fa else
             {"best (tpe)": "best found (TPE)", "best (random)": "best found (random)"})
    report = "گزارش" if fa else "report"
    return {**found, **{name: f"{report}: {MODEL_NAMES[name][lang]}" for name in automl.REPORT_MODELS}}


def final_table(architectures: dict, final: dict):
    """One row per candidate (model, architecture, parameters, test accuracy in %, training
    seconds) from ``architectures`` (as from :func:`candidates`) and ``final`` (their
    :class:`hw5lib.automl.TrainResult` on the test clips): a frame per language, and the headers."""
    import pandas as pd

    frame = pd.DataFrame([{"model": name, "architecture": architectures[name].label(), "parameters": result.parameters,
                           "accuracy": 100 * result.accuracy, "seconds": result.seconds}
                          for name, result in final.items()])
    frames = {lang: frame.assign(model=frame["model"].map(candidate_names(lang))) for lang in ("fa", "en")}
    return frames, {"fa": ["مدل", "معماری", "پارامترها", "دقت آزمون (٪)", "ثانیهٔ آموزش"],
                    "en": ["model", "architecture", "parameters", "test accuracy (%)", "training seconds"]}


def search_finding(best: float, report_best: float, lang: str) -> str:
    """A sentence on the best found architecture against the report's best hand-designed one
    (test accuracies, 0 to 1)."""
    fa = check_language(lang) == "fa"
    numbers = (f"{localise_number(f'{100 * best:.1f}', lang)}٪ در برابر "
               f"{localise_number(f'{100 * report_best:.1f}', lang)}٪" if fa else
               f"{100 * best:.1f}% against {100 * report_best:.1f}%")
    if f"{100 * best:.1f}" == f"{100 * report_best:.1f}":  # never "worse: 75.0% against 75.0%"
        both = localise_number(f"{100 * best:.1f}", lang)
        return (f"معماری یافته‌شده روی دادهٔ آزمون هم‌تراز بهترین مدل دست‌ساز گزارش است: هر دو {both}٪." if fa else
                f"The architecture found ties with the report's best hand-designed model on the test clips: "
                f"both {both}%.")
    if best >= report_best:
        return (f"معماری یافته‌شده روی دادهٔ آزمون از بهترین مدل دست‌ساز گزارش بدتر نیست: {numbers}." if fa else
                f"The architecture found is no worse than the report's best hand-designed model on the test clips: "
                f"{numbers}.")
    return (f"معماری یافته‌شده روی دادهٔ آزمون از بهترین مدل دست‌ساز گزارش بدتر است: {numbers}؛ بودجهٔ جست‌وجو "
            "برای این فضا کم بود." if fa else
            f"The architecture found is worse than the report's best hand-designed model on the test clips: "
            f"{numbers}; the search budget was too small for this space.")


def publish_verdict(results: ChapterResults, studies: dict, final: dict, split) -> None:
    """Glue the verdict on the best found architecture against the report's best model
    (``automl_verdict``) and what one test clip weighs (``automl_test_step``), and record both
    test accuracies and TPE's best architecture; ``final`` maps the names of :func:`candidates`
    to their :class:`hw5lib.automl.TrainResult` on the test clips of ``split``."""
    from hw5lib import automl

    found = max(final[f"best ({sampler})"].accuracy for sampler in automl.SAMPLERS)
    report_best = max(final[name].accuracy for name in automl.REPORT_MODELS)
    glue_value("automl_verdict", {lang: search_finding(found, report_best, lang) for lang in ("fa", "en")})
    glue_value("automl_test_step", 100 / len(split.test_idx), "{:.1f}")
    results.add("best_found_test", 100 * found, fa="دقت آزمون بهترین معماری یافته‌شده (٪)",
                en="test accuracy of the best architecture found (%)", fmt="{:.1f}")
    results.add("report_best_test", 100 * report_best, fa="دقت آزمون بهترین مدل دست‌ساز گزارش (٪)",
                en="test accuracy of the report's best hand-designed model (%)", fmt="{:.1f}")
    label = automl.best_architecture(studies["tpe"]).label()  # technical words, the same in both languages
    results.add("best_architecture", {"fa": label, "en": label}, fa="بهترین معماری TPE",
                en="best architecture found by TPE", fmt="{}")
