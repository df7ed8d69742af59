"""Q4: spoken-digit recognition with LSTM, BiLSTM and CNN.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q4_digits.md`` is prose and short calls into this module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hw5lib.chapters.common import MODEL_NAMES, spoken_digits
from hw5lib.device import trainings_at_once
from hw5lib.digits import MODELS, Outcome, Recipe, SequenceSet, parameter_count, train_and_test
from hw5lib.digits.sets import random_split, speaker_split, stratified_split
from hw5lib.digits import unheard
from hw5lib.digits.unheard import LEVERS, crowd_clips
from hw5lib.publish.chapter import Chapter, Reported
from hw5lib.publish.i18n import LANGUAGES, check_language, localise_number, range_words
from hw5lib.publish.plotting import PALETTE
from hw5lib.publish.profiles import Parameter

# The report trained on AudioMNIST with a random 80/20 split, for 30 epochs; its figures give each
# model's test accuracy with its confusion matrix.
REPORTED = {
    "lstm_2x64": Reported(0.400, "Q4, Figure 10: test accuracy of the two-layer LSTM (64 units); AudioMNIST, "
                                 "random 80/20 split, 30 epochs"),
    "lstm_1x128": Reported(0.455, "Q4 bonus, Figure 13: test accuracy of the one-layer LSTM (128 units); "
                                  "same protocol"),
    "bilstm_2x64": Reported(0.435, "Q4 bonus, Figure 15: test accuracy of the two-layer BiLSTM (64 units); "
                                   "same protocol"),
    "bilstm_1x128": Reported(0.465, "Q4 bonus, Figure 17: test accuracy of the one-layer BiLSTM (128 units); "
                                    "same protocol"),
    "learning_rate": Reported(1e-4, "Q4, training setup: Adam's learning rate (batch 32, cross-entropy, raw MFCCs)"),
}

CHAPTER = Chapter(
    "q4_digits",
    {"fa": "سوال ۴: بازشناسی ارقام گفته‌شده با LSTM، BiLSTM و CNN",
     "en": "Q4: Spoken-digit recognition with LSTM, BiLSTM and CNN"},
    (
        *spoken_digits({"smoke": 3, "quick": 8, "full": 60}, {"smoke": 4, "quick": 10, "full": 500}),
        Parameter("report_epochs", "int", {"smoke": 2, "quick": 15, "full": 30},
                  "epochs of the report's recipe (Adam 1e-4, batch 32, raw MFCCs)", minimum=1, maximum=10_000),
        Parameter("epochs", "int", {"smoke": 2, "quick": 20, "full": 60},
                  "epochs of our recipe", minimum=1, maximum=10_000),
        Parameter("learning_rate", "float", 2e-3,
                  "our recipe's peak learning rate (cosine schedule)", minimum=1e-6, maximum=1.0),
        Parameter("input_noise", "float", 0.2,
                  "our recipe's Gaussian input noise, in standardised units", minimum=0.0, maximum=5.0),
        Parameter("batch_size", "int", 32, "clips per batch, in both recipes", minimum=1, maximum=4096),
        Parameter("report_clips", "int", {"smoke": 40, "quick": 300, "full": 1000},
                  "clips in the reconstruction of the report's data (its test set held about 200)",
                  minimum=20, maximum=1_000_000),
        Parameter("held_out_speakers", "int", {"smoke": 2, "quick": 2, "full": 60},
                  "speaker-disjoint folds: each holds out one speaker (at most the number of speakers)",
                  minimum=1, maximum=1000),
        Parameter("crowd_speakers", "int", {"smoke": 4, "quick": 40, "full": 40},
                  "synthetic speakers a model learns from alone, to be tested on the recordings of people",
                  minimum=1, maximum=10_000),
        Parameter("crowd_takes", "int", {"smoke": 2, "quick": 5, "full": 5},
                  "takes of each digit per synthetic speaker", minimum=1, maximum=1000),
    ),
    reported=REPORTED,
)
setup = CHAPTER.setup

RECURRENT = ("lstm_2x64", "lstm_1x128", "bilstm_2x64", "bilstm_1x128")  # the report's four models
DISJOINT_MODELS = ("lstm_2x64", "bilstm_2x64", "cnn")  # the models tested on unheard speakers

# the steps of hw5lib.digits.ABLATION, named in each language
ABLATION_LABELS = {
    "faithful": {"fa": "بازسازی روش گزارش: ضرایب به جای زمان، لایه‌گذاری، بی‌نرمال‌سازی، زیرمجموعه",
                 "en": "the report, reconstructed: coefficients as time, zero padding, raw, subset"},
    "time_axis": {"fa": "قاب‌ها به‌عنوان محور زمان", "en": "frames as the time axis"},
    "masking": {"fa": "طول واقعی هر گفته (صفرهای لایه‌گذاری خوانده نمی‌شوند)",
                "en": "each clip's true length (the padding is never read)"},
    "all_clips": {"fa": "همهٔ گفته‌ها به جای زیرمجموعه", "en": "all clips instead of the subset"},
    "standardise": {"fa": "استانداردسازی با آمار دادهٔ آموزش", "en": "standardised with training statistics"},
    "recipe": {"fa": "دستور آموزش ما (نرخ یادگیری، زمان‌بندی، نویز)",
               "en": "our training recipe (learning rate, schedule, noise)"},
}


def percent(fraction: float) -> float:
    return 100 * fraction


def recipes(P) -> tuple[Recipe, Recipe]:
    """(the report's recipe, ours) for the chapter's parameters ``P``."""
    report = Recipe(epochs=P.report_epochs, batch_size=P.batch_size, lr=REPORTED["learning_rate"].value, seed=P.seed)
    ours = Recipe(epochs=P.epochs, batch_size=P.batch_size, lr=P.learning_rate, schedule="cosine",
                  noise=P.input_noise, seed=P.seed)
    return report, ours


@dataclass(frozen=True)
class Trainer:
    """Trains the chapter's models: ``features`` by kind ('mfcc', 'log_mel'; each model takes the
    kind of its :class:`~hw5lib.digits.ModelSpec`), checkpointed in ``checkpoint_dir``, on ``device``."""

    features: Mapping[str, SequenceSet]
    checkpoint_dir: Path
    device: str

    def __call__(self, name: str, train_idx, test_idx, recipe: Recipe, normalisation: str) -> Outcome:
        return train_and_test(name, self.features[MODELS[name].feature], train_idx, test_idx, recipe, normalisation,
                              checkpoint_dir=self.checkpoint_dir, device=self.device, progress=False)

    def each(self, names: Iterable[str], train_idx, test_idx, recipe: Recipe, normalisation: str) -> dict[str, Outcome]:
        return {name: self(name, train_idx, test_idx, recipe, normalisation) for name in names}


# --- the data ------------------------------------------------------------------------------------


def durations(clips) -> np.ndarray:
    """Each clip's duration in seconds."""
    return np.array([len(a) / clips.sample_rate for a in clips.audio])


def class_distribution_figure(counts: pd.DataFrame, seconds: np.ndarray):
    """Left: clips per digit stacked by speaker (``counts``: speakers x digits); right: a
    histogram of the clips' durations ``seconds``."""
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    counts.T.plot.bar(stacked=True, ax=axes[0], width=0.8, colormap="tab20", legend=len(counts) <= 12)
    axes[0].set_xlabel("digit")
    axes[0].set_ylabel("clips")
    axes[0].tick_params(axis="x", labelrotation=0)
    if len(counts) <= 12:
        axes[0].legend(fontsize=7, ncol=2, title="speaker", title_fontsize=7)
    sns.histplot(seconds, bins=40, ax=axes[1], color=PALETTE["reference"])
    axes[1].set_xlabel("duration (s)")
    axes[1].set_ylabel("clips")
    return fig


def per_speaker_table(counts: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Clips of each digit by each speaker, with a total per speaker; and the headers."""
    table = counts.assign(total=counts.sum(axis=1)).reset_index()
    table.columns = [str(c) for c in table.columns]
    return table, {"fa": ["گوینده"] + [f"رقم {d}" for d in counts.columns] + ["جمع"],
                   "en": ["speaker"] + [f"digit {d}" for d in counts.columns] + ["total"]}


def class_range_words(counts: pd.DataFrame) -> dict[str, str]:
    """How many clips each digit has, before the word "clips": "80", or "between 70 and 80"."""
    totals = counts.sum(axis=0)
    return {lang: range_words(int(totals.min()), int(totals.max()), lang) for lang in ("fa", "en")}


def balance_words(counts: pd.DataFrame) -> dict[str, str]:
    """Whether the digits' totals are within 10% of each other, in words."""
    totals = counts.sum(axis=0)
    if totals.max() <= 1.1 * totals.min():
        return {"fa": "پس کلاس‌ها در این داده واقعاً هم‌اندازه‌اند", "en": "so the classes really are balanced here"}
    return {"fa": "پس کلاس‌های این داده هم‌اندازه نیستند", "en": "so these classes are not balanced"}


def splits(clips) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The three splits, (train, test) indices each: the report's random 80/20, the hand-written
    stratified one, and the first speaker held out."""
    return {"random": random_split(len(clips)), "stratified": stratified_split(clips.digits),
            "speaker": speaker_split(clips.speakers, [clips.speaker_names[0]])}


def split_table(clips, chosen: Mapping[str, tuple]) -> tuple[dict, dict]:
    """Per split: the sizes of its parts, the speakers in both, and the largest distance (points)
    of one digit's share of the test set from 10%; one frame per language, and the headers."""
    labels = clips.digits
    rows = []
    for key, (train_idx, test_idx) in chosen.items():
        shares = np.bincount(labels[test_idx], minlength=10) / len(test_idx)
        rows.append({"split": key, "train": len(train_idx), "test": len(test_idx),
                     "shared": len(set(clips.speakers[train_idx]) & set(clips.speakers[test_idx])),
                     "deviation": percent(np.abs(shares - 0.1).max())})
    table = pd.DataFrame(rows)
    first = clips.speaker_names[0]
    names = {"random": {"fa": "تصادفی ۸۰/۲۰ (گزارش)", "en": "random 80/20 (the report's)"},
             "stratified": {"fa": "طبقه‌بندی‌شدهٔ دست‌نویس", "en": "hand-written stratified"},
             "speaker": {"fa": f"جدا از گوینده ({first} در آزمون)", "en": f"speaker-disjoint ({first} tested)"}}
    frames = {lang: table.assign(split=[names[k][lang] for k in table["split"]]) for lang in LANGUAGES}
    return frames, {
        "fa": ["تقسیم", "آموزش", "آزمون", "گویندگان مشترک", "بیشترین انحراف سهم کلاس در آزمون (واحد درصد)"],
        "en": ["split", "train", "test", "speakers in both", "largest class-share deviation in test (points)"],
    }


# --- training curves and confusions --------------------------------------------------------------

def curves_figure(runs: Mapping[str, Outcome]):
    """One column per model: its loss (top) and accuracy (bottom) per epoch, on the training and
    the validation data."""
    fig, axes = plt.subplots(2, len(runs), figsize=(2.7 * len(runs), 4.6), sharex=True, squeeze=False)
    for column, (name, run) in enumerate(runs.items()):
        history = pd.DataFrame(run.history)
        for row, metric in enumerate(("loss", "accuracy")):
            ax = axes[row, column]
            ax.plot(history["epoch"], history[f"train_{metric}"], color=PALETTE["train"], label="train")
            ax.plot(history["epoch"], history[f"val_{metric}"], color=PALETTE["validation"], label="validation")
            ax.set_ylabel(metric if column == 0 else "")
            if row == 0:
                ax.set_title(MODEL_NAMES[name]["en"], fontsize=9)
            else:
                ax.set_xlabel("epoch")
                ax.set_ylim(0, 1.02)
    axes[0, 0].legend(fontsize=7)
    return fig


def confusions_figure(runs: Mapping[str, Outcome]):
    """Each model's confusion matrix on the test data (rows true, columns predicted), titled with
    its test accuracy."""
    import seaborn as sns

    fig, axes = plt.subplots(1, len(runs), figsize=(2.6 * len(runs), 2.8), squeeze=False)
    for ax, (name, run) in zip(axes[0], runs.items()):
        sns.heatmap(run.confusion, annot=run.confusion.max() < 100 and len(runs) <= 4, fmt="d", cmap="Blues",
                    cbar=False, square=True, ax=ax, annot_kws={"size": 6})
        ax.set_title(f"{MODEL_NAMES[name]['en']}\n{percent(run.accuracy):.1f}%", fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true" if ax is axes[0, 0] else "")
        ax.tick_params(labelsize=7, labelrotation=0)
    return fig


# --- the ablation --------------------------------------------------------------------------------

def ablation_table(steps: Sequence[dict]) -> pd.DataFrame:
    """The rows of :func:`hw5lib.digits.ablation` with each step's label ('fa', 'en'), the
    accuracy in percent and its change from the row before (points)."""
    table = pd.DataFrame(steps)
    table.insert(1, "fa", [ABLATION_LABELS[key]["fa"] for key in table["step"]])
    table.insert(2, "en", [ABLATION_LABELS[key]["en"] for key in table["step"]])
    table["change"] = table["accuracy"].diff().fillna(0) * 100
    table["accuracy"] *= 100
    return table


def ablation_frames(table: pd.DataFrame) -> tuple[dict, dict]:
    """The ablation table as published: one frame per language, and the headers."""
    return {lang: table[[lang, "clips", "accuracy", "change"]] for lang in LANGUAGES}, {
        "fa": ["تغییر", "گفته‌ها", "دقت آزمون (٪)", "تغییر دقت (واحد درصد)"],
        "en": ["change", "clips", "test accuracy (%)", "change in accuracy (points)"],
    }


def biggest_change(table: pd.DataFrame) -> pd.Series:
    """The row of :func:`ablation_table` that gained most over the row before (the first row
    when there is one row)."""
    return table.loc[table.iloc[1:]["change"].idxmax() if len(table) > 1 else 0]


def add_ablation_metrics(results, steps: Sequence[dict]) -> None:
    """Each step's accuracy (%) as a headline number; the faithful row beside the report's."""
    for step in steps:
        label = ABLATION_LABELS[step["step"]]
        results.add(f"ablation_{step['step']}", percent(step["accuracy"]), fmt="{:.1f}%",
                    fa=f"جدول حذف: {label['fa']} (٪)", en=f"ablation: {label['en']} (%)",
                    reported=CHAPTER.report("lstm_2x64", 100) if step["step"] == "faithful" else None)


# --- the models, both recipes --------------------------------------------------------------------

def model_table(ours: Mapping[str, Outcome], report: Mapping[str, Outcome]) -> tuple[dict, dict]:
    """Every model of ``ours``: parameters, the report's accuracy, this run's with the report's
    recipe (``report``) and with ours (%), and seconds per epoch; one frame per language, and the headers."""
    rows = []
    for name, run in ours.items():
        report_run = report.get(name)
        rows.append({"model": name, "parameters": run.parameters, "reported": CHAPTER.report(name, 100),
                     "report_recipe": percent(report_run.accuracy) if report_run else None,
                     "ours": percent(run.accuracy), "seconds": run.train_seconds / len(run.history)})
    table = pd.DataFrame(rows)
    frames = {lang: table.assign(model=[MODEL_NAMES[m][lang] for m in table["model"]]) for lang in LANGUAGES}
    return frames, {
        "fa": ["مدل", "پارامترها", "گزارش (٪)", "دستور گزارش، این اجرا (٪)", "دستور ما (٪)", "ثانیه در هر دوره"],
        "en": ["model", "parameters", "reported (%)", "report's recipe, this run (%)", "our recipe (%)",
               "seconds per epoch"],
    }


def best(runs: Mapping[str, Outcome]) -> str:
    """The model of ``runs`` with the highest test accuracy."""
    return max(runs, key=lambda name: runs[name].accuracy)


def add_model_metrics(results, ours: Mapping[str, Outcome], report: Mapping[str, Outcome]) -> None:
    """Every model's accuracy (%) with the report's recipe (where it ran) and with ours."""
    for name in MODELS:
        label = MODEL_NAMES[name]
        if name in report:
            results.add(f"report_recipe_{name}", percent(report[name].accuracy), fmt="{:.1f}%",
                        fa=f"{label['fa']}، دستور گزارش (٪)", en=f"{label['en']}, the report's recipe (%)",
                        reported=CHAPTER.report(name, 100))
        results.add(f"our_recipe_{name}", percent(ours[name].accuracy), fmt="{:.1f}%",
                    fa=f"{label['fa']}، دستور ما (٪)", en=f"{label['en']}, our recipe (%)",
                    reported=CHAPTER.report(name, 100))


# --- unheard speakers ----------------------------------------------------------------------------

def speaker_folds(train: Trainer, clips, held_out_speakers: int, recipe: Recipe) -> pd.DataFrame:
    """Leave one speaker out: the test accuracy (%) of each of DISJOINT_MODELS (columns) with the
    first ``held_out_speakers`` speakers held out in turn (rows), and a last row 'mean'."""
    rows = []
    for speaker in clips.speaker_names[:min(held_out_speakers, len(clips.speaker_names))]:
        fold_train, fold_test = speaker_split(clips.speakers, [speaker])
        for name in DISJOINT_MODELS:
            run = train(name, fold_train, fold_test, recipe, "global")
            rows.append({"speaker": speaker, "model": name, "accuracy": percent(run.accuracy)})
    folds = pd.DataFrame(rows).pivot(index="speaker", columns="model", values="accuracy")[list(DISJOINT_MODELS)]
    folds.loc["mean"] = folds.mean()
    return folds


def disjoint_frames(folds: pd.DataFrame) -> tuple[dict, dict]:
    """The folds of :func:`speaker_folds` as published: one frame per language, and the headers."""
    table = folds.reset_index()
    mean = {"fa": "میانگین", "en": "mean"}
    frames = {lang: table.assign(speaker=[s if s != "mean" else mean[lang] for s in table["speaker"]])
              for lang in LANGUAGES}
    return frames, {"fa": ["گویندهٔ کنار گذاشته"] + [MODEL_NAMES[m]["fa"] + " (٪)" for m in folds.columns],
                    "en": ["held-out speaker"] + [MODEL_NAMES[m]["en"] + " (%)" for m in folds.columns]}


def add_disjoint_metrics(results, folds: pd.DataFrame) -> None:
    """The best model on unheard speakers (mean over the folds) and its mean accuracy (%)."""
    model = folds.loc["mean"].idxmax()
    results.add("speaker_disjoint_best", folds.loc["mean", model], fmt="{:.1f}%",
                fa="بهترین مدل روی گویندهٔ نشنیده، میانگین (٪)", en="best model on an unheard speaker, mean (%)")
    results.add("speaker_disjoint_best_model", dict(MODEL_NAMES[model]), fmt="{}",
                fa="بهترین مدل روی گویندهٔ نشنیده", en="best model on an unheard speaker")


# --- what machine voices teach about people ----------------------------------------------------

CROWD_GOAL = 0.80  # issue 16: a model trained on synthetic speakers alone, on every real speaker
# the recipe (hw5lib.digits.unheard.RECIPES) that learns from the synthetic speakers alone, by profile: three ResNets
# (90.5% synthetic-only on FSDD against the trio's 87.6%, bench/synthetic_to_real.md), and in smoke the unheard CNN
MACHINE_RECIPES = {"smoke": "unheard-cnn", "quick": "unheard-resnets", "full": "unheard-resnets"}


def machine_voices(P, clips, checkpoint_dir: Path, device: str) -> dict | None:
    """The recipe :data:`MACHINE_RECIPES` names for ``P``'s profile, trained on the synthetic crowd
    alone (``P.crowd_speakers`` x ``P.crowd_takes``) and tested on every clip of this run's
    recordings of people, each real speaker normalised as the recipe says (the unheard recipes: by
    the statistics of its own unlabelled clips); None when this run has none (its data is synthetic)."""
    if clips.synthetic:
        return None
    crowd = crowd_clips(P.crowd_speakers, P.crowd_takes, seed=P.seed)
    result = unheard.train_and_test_speakers(clips, clips.speaker_names, MACHINE_RECIPES[P.profile],
                                             device=device, seed=P.seed, train_speakers=[], extra=crowd,
                                             checkpoint_dir=checkpoint_dir, jobs=trainings_at_once(device))
    return {**result, "train_data": crowd.describe()}


def machine_frames(result: dict | None) -> tuple[dict, dict]:
    """:func:`machine_voices` as published: accuracy per real speaker and over all of them."""
    headers = {"fa": ["گویندهٔ واقعی", "دقت (٪)"], "en": ["real speaker", "accuracy (%)"]}
    if result is None:
        missing = {"fa": "این اجرا ضبط صدای آدم‌ها را ندارد", "en": "no recordings of people in this run"}
        return {lang: pd.DataFrame({"speaker": [missing[lang]], "accuracy": ["—"]}) for lang in LANGUAGES}, headers
    rows = [(speaker, percent(value)) for speaker, value in result["per_speaker"].items()]
    every = {"fa": "همه", "en": "all"}
    return {lang: pd.DataFrame(rows + [(every[lang], percent(result["accuracy"]))], columns=["speaker", "accuracy"])
            for lang in LANGUAGES}, headers


def add_machine_metrics(results, result: dict | None) -> None:
    """Accuracy on the recordings of people of a model that heard only synthetic speakers (None: not measured)."""
    worst = min(result["per_speaker"].values()) if result else None
    results.add("synthetic_to_real", percent(result["accuracy"]) if result else None, fmt="{:.1f}%",
                fa="آموخته از گوینده‌های ساختگی، روی صدای آدم‌ها (٪)",
                en="trained on synthetic speakers only, on recordings of people (%)")
    results.add("synthetic_to_real_worst", percent(worst) if result else None, fmt="{:.1f}%",
                fa="همان، بدترین گویندهٔ واقعی (٪)", en="the same, worst real speaker (%)")


MACHINE_RECIPE_WORDS = {
    "unheard-cnn": {"fa": "یک CNN با دستور گوینده‌های نشنیده", "en": "A CNN trained by the unheard recipe"},
    "unheard-duo": {"fa": "دوتایی گوینده‌های نشنیده (یک CNN و LSTM 2x64 گزارش، با میانگین احتمال‌هایشان)",
                    "en": "The unheard duo (a CNN and the report's LSTM 2x64, their probabilities averaged)"},
    "unheard-trio": {"fa": "سه‌تایی گوینده‌های نشنیده (یک CNN، LSTM 2x64 گزارش و یک ResNet، با میانگین "
                           "احتمال‌هایشان)",
                     "en": "The unheard trio (a CNN, the report's LSTM 2x64 and a ResNet, their probabilities "
                           "averaged)"},
    "unheard-resnets": {"fa": "سه ResNet گوینده‌های نشنیده (هر یک یک‌بار با آمار نرمال‌سازی دسته‌ای آموخته در آموزش "
                              "و یک‌بار با آماری که از گفته‌های بی‌برچسب همان گوینده دوباره برآورد شده سنجیده می‌شود، با "
                              "میانگین احتمال‌هایشان)",
                        "en": "Three unheard ResNets (each scored with its batch-norm statistics as trained and as "
                              "re-estimated on the speaker's unlabelled clips, their probabilities averaged)"},
}
"""The subject of :func:`machine_finding`'s sentence for each recipe it names; any other recipe is named by itself."""


def machine_finding(result: dict | None, same_model_on_people: float, lang: str) -> str:
    """What the synthetic crowd taught the recipe of :func:`machine_voices` about people."""
    fa = check_language(lang) == "fa"
    if result is None:
        return ("این اجرا ضبطی از صدای آدم‌ها ندارد (کادر بالای صفحه می‌گوید چرا)، پس نمی‌توان سنجید صداهای ماشینی "
                "دربارهٔ آدم‌ها چه یاد می‌دهند؛ آزمونی روی FSDD با فرمانش در bench/synthetic_to_real.md آمده است."
                if fa else
                "This run has no recordings of people (the box at the top of the page says why), so what machine "
                "voices teach about people cannot be measured here; bench/synthetic_to_real.md holds a measurement "
                "on FSDD, with its command.")
    per = result["per_speaker"]
    worst, best = min(per, key=per.get), max(per, key=per.get)
    crowd = result["train_data"]
    met = all(value >= CROWD_GOAL for value in per.values())
    goal = localise_number(f"{100 * CROWD_GOAL:g}", lang)
    low, high = _pct(per[worst], lang), _pct(per[best], lang)
    recipe = result["recipe"]
    subject = MACHINE_RECIPE_WORDS.get(recipe, {"fa": f"دستور `{recipe}`", "en": f"The recipe `{recipe}`"})[lang]
    adapted = unheard.recipe_named(recipe).normalisation == "speaker"
    if low == high:  # one speaker, or all alike: never "from 50.0% (theo) to 50.0% (theo)"
        spread = (f"{low}٪ روی هر گوینده" if len(per) > 1 else f"{low}٪ ({worst})") if fa else \
            (f"{low}% on every speaker" if len(per) > 1 else f"{low}% ({worst})")
    else:
        spread = f"از {low}٪ ({worst}) تا {high}٪ ({best})" if fa else f"from {low}% ({worst}) to {high}% ({best})"
    if fa:
        verdict = (f"هدف {goal}٪ روی هر گوینده برآورده شد." if met else
                   f"هدف {goal}٪ روی هر گوینده برآورده نشد.")
        adaptation = ("ویژگی‌های هر گویندهٔ واقعی با آمار گفته‌های بی‌برچسب خود او استاندارد می‌شود (تطبیق، چنان‌که "
                      "در بخش صداهای هرگز نشنیده؛ هیچ برچسبی از آدم‌ها خوانده نمی‌شود). ") if adapted else ""
        return (f"{subject} که فقط {localise_number(str(crowd['clips']), 'fa')} گفتهٔ "
                f"{localise_number(str(crowd['speakers']), 'fa')} گویندهٔ ساختگی را شنیده و هرگز صدای آدمی را نه، "
                f"{_pct(result['accuracy'], lang)}٪ از ارقام {localise_number(str(len(per)), 'fa')} گویندهٔ واقعی "
                f"این اجرا را درست می‌شناسد: {spread}. {verdict} {adaptation}"
                "CNN این فصل وقتی روی خود این آدم‌ها آموزش ببیند، در تقسیم تصادفی به "
                f"{_pct(same_model_on_people, lang)}٪ می‌رسد؛ فاصلهٔ این دو همان چیزی است که صدای ماشین دربارهٔ "
                "آدم‌ها یاد نمی‌دهد.")
    verdict = (f"The goal of {goal}% on every speaker is met." if met else
               f"The goal of {goal}% on every speaker is not met.")
    adaptation = ("Each real speaker's features are standardised by the statistics of that speaker's own unlabelled "
                  "clips (adaptation, as in the section on voices never heard; no label of a person is read). "
                  if adapted else "")
    return (f"{subject}, which heard only {crowd['clips']:,} clips of {crowd['speakers']} synthetic speakers and "
            f"never a person, recognises {_pct(result['accuracy'], lang)}% of the digits of this run's {len(per)} "
            f"real speaker{'s' if len(per) != 1 else ''}: {spread}. {verdict} {adaptation}"
            f"The chapter's CNN trained on these people themselves reaches {_pct(same_model_on_people, lang)}% on "
            "the random split; the distance between the two is what a machine voice does not teach about people.")


# --- voices never heard: every lever, alone and together (issue 17) -------------------------------

@dataclass(frozen=True)
class LeverSize:
    """How large the chapter's lever study is in a profile: training ``epochs`` and the synthetic
    ``crowd`` (speakers, takes) of every row (None: the unheard recipe's own, 20 and 40 x 5), whether
    the rows with every lever but one are run, and whether each fold also validates on a held-out
    training speaker (``nested``). Its folds are the chapter's ``held_out_speakers``."""

    epochs: int | None
    crowd: tuple[int, int] | None
    all_but: bool
    nested: bool


LEVER_SIZES = {"smoke": LeverSize(1, (2, 1), False, False),
               "quick": LeverSize(8, (10, 2), False, False),
               "full": LeverSize(None, None, True, True)}
UNHEARD_GOAL = (0.95, 0.90)  # issue 17: mean leave-one-speaker-out accuracy, and on the worst speaker

LEVER_LABELS = {
    "speaker": {"fa": "CMVN هر گوینده", "en": "per-speaker CMVN"},
    "augment": {"fa": "افزایش داده", "en": "augmentation"},
    "silence": {"fa": "پاک‌سازی سکوت", "en": "silence clean-up"},
    "crowd": {"fa": "جمعیت ساختگی در آموزش", "en": "the synthetic crowd in training"},
}
"""Each lever of :data:`hw5lib.digits.unheard.LEVERS`, named in the book's two languages."""


def lever_study(P, clips, checkpoint_dir: Path, device: str) -> list[dict]:
    """The leave-one-speaker-out study of :func:`hw5lib.digits.unheard.lever_study` at the size
    :data:`LEVER_SIZES` gives ``P``'s profile, on the first ``P.held_out_speakers`` speakers, as many
    networks at once as this chapter has threads on a CPU."""
    size = LEVER_SIZES[P.profile]
    names = clips.speaker_names
    return unheard.lever_study(clips, unheard.lever_rows(all_but=size.all_but),
                               speakers=names[:min(P.held_out_speakers, len(names))], epochs=size.epochs,
                               crowd=size.crowd, nested=size.nested and len(names) >= 3, device=device, seed=P.seed,
                               checkpoint_dir=checkpoint_dir, jobs=trainings_at_once(device))


def lever_label(levers: Sequence[str], lang: str) -> str:
    """A row of the lever study in words: none, one lever, all of them, or all but one."""
    fa = check_language(lang) == "fa"
    if not levers:
        return "دستور این فصل (بی‌هیچ اهرم)" if fa else "the chapter's recipe (no lever)"
    if set(levers) == set(LEVERS):
        return "هر چهار اهرم: دستور CNN گوینده‌های نشنیده" if fa else "all four levers: the unheard CNN recipe"
    if len(levers) == len(LEVERS) - 1:
        missing = next(lever for lever in LEVERS if lever not in levers)
        return (f"همه جز {LEVER_LABELS[missing]['fa']}" if fa else f"all but {LEVER_LABELS[missing]['en']}")
    return " + ".join(LEVER_LABELS[lever][lang] for lever in levers)


def lever_frames(rows: Sequence[dict]) -> tuple[dict, dict]:
    """:func:`lever_study`'s rows as published: the levers in words, the validation mean (%, when
    nested), the mean and worst-speaker accuracy (%) and the worst speaker, and the changes of mean
    and worst against the chapter's recipe (points); one frame per language, and the headers."""
    base = next(row for row in rows if not row["levers"])
    nested = all("inner_mean" in row for row in rows)
    table = pd.DataFrame({
        **({"validation": [percent(row["inner_mean"]) for row in rows]} if nested else {}),
        "mean": [percent(row["mean"]) for row in rows],
        "worst": [percent(row["worst"]) for row in rows],
        "who": [row["worst_speaker"] for row in rows],
        "gain": [percent(row["mean"] - base["mean"]) for row in rows],
        "worst_gain": [percent(row["worst"] - base["worst"]) for row in rows],
    })
    frames = {lang: table.assign(levers=[lever_label(row["levers"], lang) for row in rows])[
        ["levers", *table.columns]] for lang in LANGUAGES}
    headers = {"fa": ["اهرم‌ها", *(["اعتبارسنجی، میانگین (٪)"] if nested else []), "میانگین (٪)",
                      "بدترین گوینده (٪)", "بدترین گوینده", "تغییر میانگین (واحد درصد)", "تغییر بدترین (واحد درصد)"],
               "en": ["levers", *(["validation mean (%)"] if nested else []), "mean (%)", "worst speaker (%)",
                      "worst speaker", "change in mean (points)", "change in worst (points)"]}
    return frames, headers


def _row(rows: Sequence[dict], levers: Sequence[str]) -> dict | None:
    return next((row for row in rows if set(row["levers"]) == set(levers) and len(row["levers"]) == len(levers)),
                None)


def _points(value: float, lang: str) -> str:
    return localise_number(f"{100 * value:+.1f}", lang)


def _listed(items: Sequence[str], lang: str) -> str:
    if len(items) < 2:
        return "".join(items)
    comma, also = ("، ", " و ") if lang == "fa" else (", ", " and ")
    return comma.join(items[:-1]) + also + items[-1]


def lever_finding(rows: Sequence[dict], synthetic: bool, lang: str) -> str:
    """What the lever study says, from its rows: the chapter's recipe against every lever together,
    what each lever gives alone (largest first), whether together they give more than the sum of
    their gains alone, what each costs when it alone is missing (when measured), which row the
    held-out training speakers choose (when nested), and whether issue 17's goal is met. With
    ``synthetic`` data it says that the crowd here is more of the same machine voices."""
    fa = check_language(lang) == "fa"
    base, together = _row(rows, ()), _row(rows, tuple(LEVERS))
    alone = {lever: _row(rows, (lever,)) for lever in LEVERS if _row(rows, (lever,))}
    gains = {lever: row["mean"] - base["mean"] for lever, row in alone.items()}
    order = sorted(gains, key=gains.get, reverse=True)
    named = {lever: LEVER_LABELS[lever][lang] for lever in LEVERS}
    text = []
    if fa:
        text.append(f"دستور این فصل روی گوینده‌های کنار گذاشته به‌طور میانگین {_pct(base['mean'], lang)}٪ و روی بدترین "
                    f"گوینده ({base['worst_speaker']}) {_pct(base['worst'], lang)}٪ می‌گیرد؛ با هر چهار اهرم "
                    f"{_pct(together['mean'], lang)}٪ و {_pct(together['worst'], lang)}٪ "
                    f"({together['worst_speaker']}).")
        each = [f"{named[lever]} ({_points(gains[lever], lang)})" for lever in order]
        text.append(f"هر اهرم به‌تنهایی، به ترتیب سودش در میانگین: {_listed(each, lang)} واحد درصد.")
    else:
        text.append(f"The chapter's recipe gets {_pct(base['mean'], lang)}% on the held-out speakers on average and "
                    f"{_pct(base['worst'], lang)}% on the worst ({base['worst_speaker']}); with all four levers "
                    f"{_pct(together['mean'], lang)}% and {_pct(together['worst'], lang)}% "
                    f"({together['worst_speaker']}).")
        each = [f"{named[lever]} ({_points(gains[lever], lang)})" for lever in order]
        text.append(f"Each lever alone, in order of what it adds to the mean, in points: {_listed(each, lang)}.")
    total, summed = together["mean"] - base["mean"], sum(gains.values())
    if total <= 0.005:
        text.append(f"با هم در این اجرا از دستور این فصل بهتر نیستند ({_points(total, lang)} واحد درصد)." if fa else
                    "Together they do not improve on the chapter's recipe in this run "
                    f"({_points(total, lang)} points).")
    elif total > summed + 0.005:
        text.append(f"با هم {_points(total, lang)} واحد درصد می‌دهند، بیش از جمع سودهای تک‌تک "
                    f"({_points(summed, lang)}): اهرم‌ها یکدیگر را کامل می‌کنند." if fa else
                    f"Together they give {_points(total, lang)} points, more than the sum of their gains alone "
                    f"({_points(summed, lang)}): the levers complete each other.")
    elif total < summed - 0.005:
        text.append(f"با هم {_points(total, lang)} واحد درصد می‌دهند، کمتر از جمع سودهای تک‌تک "
                    f"({_points(summed, lang)}): بخشی از کارشان یکی است." if fa else
                    f"Together they give {_points(total, lang)} points, less than the sum of their gains alone "
                    f"({_points(summed, lang)}): part of what they do overlaps.")
    missing = {lever: _row(rows, tuple(other for other in LEVERS if other != lever)) for lever in LEVERS}
    missing = {lever: together["mean"] - row["mean"] for lever, row in missing.items() if row is not None}
    if missing:
        dearest = max(missing, key=missing.get)
        text.append(f"از دستور کامل، نبودِ {named[dearest]} بیشترین هزینه را دارد ({_points(-missing[dearest], lang)} "
                    "واحد درصد در میانگین)." if fa else
                    f"Taken from the whole recipe, {named[dearest]} is the one missed most "
                    f"({_points(-missing[dearest], lang)} points on the mean).")
    if all("inner_mean" in row for row in rows):
        chosen = max(rows, key=lambda row: row["inner_mean"])
        text.append(f"گوینده‌های آموزشیِ کنار گذاشته (هرگز گویندهٔ آزمون) «{lever_label(chosen['levers'], lang)}» را "
                    f"برمی‌گزینند (اعتبارسنجی {_pct(chosen['inner_mean'], lang)}٪)، که روی گوینده‌های آزمون "
                    f"{_pct(chosen['mean'], lang)}٪ می‌گیرد." if fa else
                    "Held-out training speakers (never a test speaker) choose "
                    f"\"{lever_label(chosen['levers'], lang)}\" "
                    f"(validation {_pct(chosen['inner_mean'], lang)}%), which gets {_pct(chosen['mean'], lang)}% on "
                    "the test speakers.")
    goal_mean, goal_worst = (localise_number(f"{100 * g:g}", lang) for g in UNHEARD_GOAL)
    met = together["mean"] >= UNHEARD_GOAL[0] and together["worst"] >= UNHEARD_GOAL[1]
    if fa:
        text.append(f"هدف {goal_mean}٪ میانگین و {goal_worst}٪ روی بدترین گوینده در این اجرا "
                    + ("برآورده شد." if met else "برآورده نشد."))
    else:
        text.append(f"The goal of {goal_mean}% on average and {goal_worst}% on the worst speaker is "
                    + ("met in this run." if met else "not met in this run."))
    if synthetic:
        text.append("گوینده‌های این اجرا خودشان ساختگی‌اند (کادر بالای صفحه می‌گوید چرا)، پس اهرم جمعیت اینجا صداهای "
                    "ماشینی بیشتری از همان خانواده می‌افزاید (هر گویندهٔ هم‌نام با گویندهٔ آزمون کنار می‌رود) و این جدول "
                    "اهرم‌ها را روی صدای ماشین می‌سنجد، نه روی صدای آدم‌ها." if fa else
                    "This run's speakers are synthetic themselves (the box at the top of the page says why), so the "
                    "crowd lever adds more machine voices of the same family here (any that shares a test speaker's "
                    "name is left out), and this table measures the levers on machine voices, not on people.")
    return " ".join(text)


def lever_size_words(rows: Sequence[dict], P, lang: str) -> str:
    """How large this run's lever study is: folds, epochs, the crowd, and what the full profile runs."""
    fa = check_language(lang) == "fa"
    size = LEVER_SIZES[P.profile]
    together = _row(rows, tuple(LEVERS))
    recipe = together["recipe"]
    numbers = [localise_number(str(n), lang) for n in (len(together["per_speaker"]), recipe.training.epochs,
                                                         *recipe.crowd)]
    if fa:
        text = (f"این اجرا {numbers[0]} گوینده را یکی‌یکی کنار می‌گذارد، هر سطر {numbers[1]} دوره آموزش می‌بیند و "
                f"جمعیت ساختگی {numbers[2]} گوینده × {numbers[3]} تکرار از هر رقم است.")
        if size != LEVER_SIZES["full"]:
            text += (" نمایهٔ `full` همهٔ گوینده‌ها، دوره‌ها و جمعیتِ خود دستور، سطرهای «همه جز یکی» و اعتبارسنجی "
                     "تودرتو را اجرا می‌کند؛ سنجش‌های دستور گوینده‌های نشنیده و گام‌هایش در اندازهٔ کامل روی FSDD، با "
                     "فرمان‌هایشان، در bench/unheard.md است.")
        return text
    text = (f"This run holds out {numbers[0]} speakers one at a time, trains every row for {numbers[1]} epochs, and "
            f"its synthetic crowd is {numbers[2]} speakers x {numbers[3]} takes of each digit.")
    if size != LEVER_SIZES["full"]:
        text += (" The `full` profile runs every speaker, the recipe's own epochs and crowd, the rows with every lever "
                 "but one, and the nested validation; full-size measurements of the unheard recipe and its steps on "
                 "FSDD, with their commands, are in bench/unheard.md.")
    return text


def add_lever_metrics(results, rows: Sequence[dict]) -> None:
    """The chapter's recipe and the unheard CNN recipe on held-out speakers: mean and worst (%)."""
    named = (("chapter", (), {"fa": "دستور این فصل", "en": "the chapter's recipe"}),
             ("unheard", tuple(LEVERS), {"fa": "دستور CNN گوینده‌های نشنیده", "en": "the unheard CNN recipe"}))
    for key, levers, words in named:
        row = _row(rows, levers)
        results.add(f"loso_{key}_mean", percent(row["mean"]), fmt="{:.1f}%",
                    fa=f"{words['fa']}، میانگین روی گویندهٔ کنار گذاشته (٪)",
                    en=f"{words['en']}, mean on a held-out speaker (%)")
        results.add(f"loso_{key}_worst", percent(row["worst"]), fmt="{:.1f}%",
                    fa=f"{words['fa']}، بدترین گویندهٔ کنار گذاشته (٪)",
                    en=f"{words['en']}, worst held-out speaker (%)")


# --- what the numbers say ------------------------------------------------------------------------
# The chapter's claims are sentences that follow this run's numbers, so that no profile or data set
# can make the prose say what its tables contradict.

def bilingual(sentence: Callable[..., str], *args) -> dict[str, str]:
    """``sentence(*args, lang)`` in every language, for ``glue_value``."""
    return {lang: sentence(*args, lang) for lang in LANGUAGES}


def _pct(value: float, lang: str) -> str:
    return localise_number(f"{100 * value:.1f}", lang)


def _reported(key: str, lang: str, scale: float = 1.0) -> str:
    return localise_number(f"{CHAPTER.report(key, scale):g}", lang)


def report_finding(report_lstm: float, report_epochs: int, lang: str) -> str:
    """What the report's recipe, re-run, says about the report's 40%."""
    fa = check_language(lang) == "fa"
    if report_lstm >= 0.8:
        return (f"پس معماری علت دقت {_reported('lstm_2x64', lang, 100)} درصدی گزارش نیست." if fa else
                f"So the architecture does not explain the report's {_reported('lstm_2x64', lang, 100)}%.")
    lr = _reported("learning_rate", lang)
    return (f"در این اجرا این دستور هنوز همگرا نشده است: با نرخ یادگیری {lr}، "
            f"{localise_number(str(report_epochs), lang)} دوره روی این تعداد گفته، به‌روزرسانی‌های کمی است. "
            "جدول حذف این اثر را از علت‌های دیگر جدا می‌کند." if fa else
            f"In this run the recipe has not converged: at a learning rate of {lr}, {report_epochs} epochs "
            "on this many clips are few updates. The ablation below separates that from the other causes.")


def ablation_finding(ablation_rows: Sequence[dict], lang: str) -> str:
    """Whether the ablation's last row shows the report's list of reasons to be wrong."""
    fa = check_language(lang) == "fa"
    last = ablation_rows[-1]["accuracy"] if ablation_rows else float("nan")
    if last >= 0.9:
        return ("فهرست دلیل‌های گزارش (مدل ضعیف، وابستگی‌های بلندمدت، کمبود اطلاعات در MFCC، حساسیت به نویز) با "
                "این جدول نمی‌خواند: همان مدل با همان ۱۳ ضریب، با محور زمان درست و دادهٔ کامل و آموزش درست، به "
                f"{_pct(last, lang)}٪ می‌رسد." if fa else
                "The report's list of reasons (a weak model, long-term dependencies, too little information in "
                "MFCCs, sensitivity to noise) does not fit this table: the same model on the same 13 coefficients, "
                f"with the right time axis, all the data and proper training, reaches {_pct(last, lang)}%.")
    return (f"در این اجرا حتی سطر آخر {_pct(last, lang)}٪ است: برای LSTM یک‌سویه داده یا دوره‌ها کم است "
            "(نمایهٔ `full` همهٔ داده و ۶۰ دوره را اجرا می‌کند)؛ جدول مدل‌ها در پایین نشان می‌دهد مدل‌های "
            "دوسویه و پیچشی با همین داده چه می‌کنند." if fa else
            f"In this run even the last row reaches only {_pct(last, lang)}%: the unidirectional LSTM has too "
            "little data or too few epochs here (the `full` profile runs all the data for 60 epochs); the "
            "model table below shows what the bidirectional and convolutional models make of the same data.")


def disjoint_finding(model: str, unheard: float, random_split_accuracy: float, lang: str) -> str:
    """How the best model on unheard speakers compares with the same model on the random split."""
    fa = check_language(lang) == "fa"
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
            "(صداهای ساختگی چنین‌اند)؛ روی ضبط‌های واقعی این دو عدد از هم فاصله می‌گیرند." if fa else
            f"On an unheard speaker the best model is \"{name}\" with a mean of {_pct(unheard, lang)}%, level with or "
            f"above the same model on the random split ({_pct(random_split_accuracy, lang)}%). The voices of these "
            "data are close to each other (synthetic voices are); on real recordings the two "
            "numbers part.")


def conclusion(ours: Mapping[str, float], disjoint: tuple[str, float], lang: str) -> str:
    """The chapter's last paragraph. ``ours``: model -> accuracy with our recipe on the random
    split; ``disjoint``: (model, mean accuracy on unheard speakers)."""
    fa = check_language(lang) == "fa"
    top = max(ours, key=ours.get)
    best_name, disjoint_name = MODEL_NAMES[top][lang], MODEL_NAMES[disjoint[0]][lang]
    lstm, reported = _pct(ours.get("lstm_2x64", float("nan")), lang), _reported("lstm_2x64", lang, 100)
    text = (f"بهترین مدل روی تقسیم تصادفی «{best_name}» با {_pct(ours[top], lang)}٪ است و روی گویندهٔ نشنیده "
            f"«{disjoint_name}» با {_pct(disjoint[1], lang)}٪؛ LSTM دولایهٔ گزارش با دستور ما به "
            f"{lstm}٪ می‌رسد (گزارش: {reported}٪)." if fa else
            f"The best model on the random split is \"{best_name}\" with {_pct(ours[top], lang)}%, and on an unheard "
            f"speaker \"{disjoint_name}\" with {_pct(disjoint[1], lang)}%; the report's LSTM 2x64 with our recipe "
            f"reaches {lstm}% (the report: {reported}%).")
    if "cnn" in ours and parameter_count("cnn", 40) < parameter_count("lstm_2x64", 13):
        text += (" CNN این فصل پارامترهای کمتری از LSTM دولایه دارد، پس هرجا بهتر است، دلیلش «پارامترهای بیشتر» "
                 "(توضیح گزارش) نیست." if fa else
                 " This chapter's CNN has fewer parameters than the LSTM 2x64, so wherever it does better, "
                 "\"more parameters\" (the report's explanation) is not the reason.")
    return text
