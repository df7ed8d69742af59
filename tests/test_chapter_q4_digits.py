"""hw5lib.chapters.q4_digits: the report's numbers, the ablation's labels and tables, and the
chapter's sentences, which follow the numbers."""

import numpy as np
import pytest

from hw5lib import digits as D
from hw5lib.chapters import q4_digits as chapter
from hw5lib.chapters.common import MODEL_NAMES
from hw5lib.publish.results import ChapterResults


def test_the_report_gives_an_accuracy_for_each_of_its_models_and_says_where():
    for name in chapter.RECURRENT:
        entry = chapter.REPORTED[name]
        assert 0 < entry.value < 1 and "Figure" in entry.where, name
    assert chapter.CHAPTER.report("cnn", 100) is None  # the report had no CNN
    P = chapter.CHAPTER.resolve("smoke", {})
    report, ours = chapter.recipes(P)
    assert report.lr == chapter.REPORTED["learning_rate"].value and report.schedule == "constant"
    assert ours.lr == P.learning_rate and ours.noise == P.input_noise and ours.schedule == "cosine"


def test_the_trainer_gives_each_model_its_features_device_and_checkpoints(monkeypatch, tmp_path):
    calls = []

    def recording(name, data, train_idx, test_idx, recipe, normalisation, **kwargs):
        calls.append((name, data, normalisation, kwargs["device"], kwargs["checkpoint_dir"]))
        return name

    monkeypatch.setattr(chapter, "train_and_test", recording)
    features = {"mfcc": object(), "log_mel": object()}
    runs = chapter.Trainer(features, tmp_path, "cuda").each(["lstm_2x64", "cnn"], [0], [1], D.Recipe(), "global")
    assert runs == {"lstm_2x64": "lstm_2x64", "cnn": "cnn"}
    assert calls == [("lstm_2x64", features["mfcc"], "global", "cuda", tmp_path),
                     ("cnn", features["log_mel"], "global", "cuda", tmp_path)]


def test_every_ablation_step_has_a_label_in_both_languages():
    assert set(chapter.ABLATION_LABELS) == {step.key for step in D.ABLATION}
    assert all(set(label) == {"fa", "en"} and all(label.values()) for label in chapter.ABLATION_LABELS.values())


def test_the_ablation_table_labels_each_row_and_measures_each_change():
    steps = [{"step": "faithful", "clips": 60, "accuracy": 0.10, "time_steps": 13},
             {"step": "time_axis", "clips": 60, "accuracy": 0.45, "time_steps": 80},
             {"step": "masking", "clips": 60, "accuracy": 0.50, "time_steps": None}]
    table = chapter.ablation_table(steps)
    assert list(table["en"]) == [chapter.ABLATION_LABELS[s["step"]]["en"] for s in steps]
    np.testing.assert_allclose(table["accuracy"], [10, 45, 50])
    np.testing.assert_allclose(table["change"], [0, 35, 5])
    assert chapter.biggest_change(table)["step"] == "time_axis"
    frames, headers = chapter.ablation_frames(table)
    assert all(frames[lang].shape[1] == len(headers[lang]) for lang in ("fa", "en"))
    results = ChapterResults("q4_digits", dict(chapter.CHAPTER.title))
    chapter.add_ablation_metrics(results, steps)
    assert results["ablation_faithful"].reported == chapter.CHAPTER.report("lstm_2x64", 100)
    assert results["ablation_time_axis"].reported is None
    assert chapter.ABLATION_LABELS["masking"]["fa"] in results["ablation_masking"].label["fa"]


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_findings_say_what_the_numbers_say(lang):
    converged, not_converged = chapter.report_finding(0.95, 30, lang), chapter.report_finding(0.3, 15, lang)
    assert converged != not_converged
    assert ("40" in converged or "۴۰" in converged)
    good = chapter.ablation_finding([{"accuracy": 0.2}, {"accuracy": 0.985}], lang)
    weak = chapter.ablation_finding([{"accuracy": 0.2}, {"accuracy": 0.55}], lang)
    assert ("98.5" in good or "۹۸٫۵" in good) and ("55.0" in weak or "۵۵٫۰" in weak) and good != weak
    below = chapter.disjoint_finding("cnn", 0.80, 0.97, lang)
    level = chapter.disjoint_finding("cnn", 0.99, 0.97, lang)
    assert ("17.0" in below or "۱۷٫۰" in below) and below != level
    text = chapter.conclusion({"lstm_2x64": 0.9, "cnn": 0.97}, ("bilstm_2x64", 0.8), lang)
    assert MODEL_NAMES["cnn"][lang] in text and MODEL_NAMES["bilstm_2x64"][lang] in text
    with pytest.raises(ValueError, match="Language must be one of"):
        chapter.conclusion({"cnn": 1.0}, ("cnn", 1.0), "de")


def test_bilingual_writes_a_sentence_in_each_language():
    both = chapter.bilingual(chapter.report_finding, 0.3, 15)
    assert both == {lang: chapter.report_finding(0.3, 15, lang) for lang in ("fa", "en")}
    assert "0.0001" in both["en"] and "۰٫۰۰۰۱" in both["fa"]  # the report's learning rate, in each language's digits


MACHINE = {"accuracy": 0.62, "per_speaker": {"george": 0.55, "jackson": 0.85, "theo": 0.46},
           "train_data": {"clips": 4000, "speakers": 40}, "recipe": "unheard-trio"}


def test_what_machine_voices_teach_is_told_from_the_numbers():
    en = chapter.machine_finding(MACHINE, 0.97, "en")
    assert "heard only 4,000 clips of 40 synthetic speakers" in en and "62.0% of the digits" in en
    assert "from 46.0% (theo) to 85.0% (jackson)" in en and "80% on every speaker is not met" in en
    assert "reaches 97.0%" in en and en.startswith("The unheard trio (a CNN, the report's LSTM 2x64 and a ResNet")
    assert "own unlabelled clips (adaptation" in en  # the trio standardises each real speaker by its own clips
    assert set(chapter.MACHINE_RECIPES.values()) <= set(chapter.MACHINE_RECIPE_WORDS)  # what the chapter trains
    resnets = chapter.machine_finding(dict(MACHINE, recipe="unheard-resnets"), 0.97, "en")
    assert resnets.startswith("Three unheard ResNets (each scored") and "adaptation" in resnets
    assert chapter.machine_finding(dict(MACHINE, recipe="unheard-resnets"), 0.97, "fa").startswith("سه ResNet")
    ours = chapter.machine_finding(dict(MACHINE, recipe="ours"), 0.97, "en")  # a recipe without words of its own
    assert ours.startswith("The recipe `ours`, which heard only") and "adaptation" not in ours
    assert "  " not in ours and "  " not in en
    met = dict(MACHINE, per_speaker={"george": 0.9, "theo": 0.81})
    assert "is met" in chapter.machine_finding(met, 0.97, "en")
    fa = chapter.machine_finding(MACHINE, 0.97, "fa")
    assert "۶۲٫۰٪" in fa and "برآورده نشد" in fa
    for lang in ("en", "fa"):
        assert "bench/synthetic_to_real.md" in chapter.machine_finding(None, 0.97, lang)
    alike = dict(MACHINE, per_speaker={"george": 0.5, "theo": 0.5})
    assert "50.0% on every speaker" in chapter.machine_finding(alike, 0.97, "en")
    assert "۵۰٫۰٪ روی هر گوینده" in chapter.machine_finding(alike, 0.97, "fa")
    alone = chapter.machine_finding(dict(MACHINE, per_speaker={"theo": 0.5}), 0.97, "en")
    assert "1 real speaker: 50.0% (theo)." in alone and " to 50.0%" not in alone


def test_the_machine_voices_table_and_metrics_say_when_nothing_was_measured():
    frames, headers = chapter.machine_frames(MACHINE)
    assert frames["en"]["speaker"].tolist() == ["george", "jackson", "theo", "all"]
    assert frames["en"]["accuracy"].tolist() == pytest.approx([55, 85, 46, 62])
    assert headers["en"] == ["real speaker", "accuracy (%)"]
    empty, _ = chapter.machine_frames(None)
    assert empty["en"]["speaker"].tolist() == ["no recordings of people in this run"]
    results = ChapterResults("q4_digits", {"fa": "", "en": ""})
    chapter.add_machine_metrics(results, MACHINE)
    assert results["synthetic_to_real"].value == pytest.approx(62)
    assert results["synthetic_to_real_worst"].value == pytest.approx(46)
    nothing = ChapterResults("q4_digits", {"fa": "", "en": ""})
    chapter.add_machine_metrics(nothing, None)
    assert nothing["synthetic_to_real"].value is None


def test_the_clips_per_digit_read_well_when_every_digit_has_as_many():
    import pandas as pd

    even = pd.DataFrame([[40] * 10, [40] * 10], columns=range(10))
    assert chapter.class_range_words(even) == {"en": "80", "fa": "۸۰"}
    uneven = even.copy()
    uneven.loc[0, 3] = 30
    assert chapter.class_range_words(uneven) == {"en": "between 70 and 80", "fa": "بین ۷۰ و ۸۰"}


# --- the levers for voices never heard ---------------------------------------------------------------

def lever_row(levers, mean, worst, who="george", inner=None):
    from hw5lib.digits.unheard import with_levers

    row = {"levers": tuple(levers), "recipe": with_levers(levers, epochs=12, crowd=(10, 2)), "mean": mean,
           "worst": worst, "worst_speaker": who, "per_speaker": {"george": worst, "jackson": 2 * mean - worst}}
    return row if inner is None else {**row, "inner_mean": inner}


ALL = ("speaker", "augment", "silence", "crowd")
LEVER_ROWS = [lever_row((), 0.40, 0.30), lever_row(("speaker",), 0.60, 0.50), lever_row(("augment",), 0.45, 0.35),
              lever_row(("silence",), 0.38, 0.20, "jackson"), lever_row(("crowd",), 0.50, 0.40),
              lever_row(ALL, 0.90, 0.85)]


def test_every_lever_has_a_name_in_both_languages_and_every_profile_a_size():
    from hw5lib.digits.unheard import LEVERS

    assert set(chapter.LEVER_LABELS) == set(LEVERS) and tuple(LEVERS) == ALL
    assert all(set(label) == {"fa", "en"} and all(label.values()) for label in chapter.LEVER_LABELS.values())
    assert set(chapter.LEVER_SIZES) == {"smoke", "quick", "full"}
    quick, full = chapter.LEVER_SIZES["quick"], chapter.LEVER_SIZES["full"]
    assert full.epochs is None and full.crowd is None and full.all_but and full.nested  # the recipe's own, whole
    assert quick.epochs < 20 and quick.crowd[0] * quick.crowd[1] < 40 * 5 and not quick.nested


@pytest.mark.parametrize("nested", [False, True])
def test_the_lever_table_names_each_row_and_measures_against_the_chapters_recipe(nested):
    rows = [lever_row(r["levers"], r["mean"], r["worst"], r["worst_speaker"], 0.5 if nested else None)
            for r in LEVER_ROWS]
    frames, headers = chapter.lever_frames(rows)
    for lang in ("fa", "en"):
        assert frames[lang].shape == (6, len(headers[lang]))
        assert ("validation mean (%)" in headers["en"]) == nested
    en = frames["en"]
    assert en["levers"].iloc[0] == "the chapter's recipe (no lever)"
    assert en["levers"].iloc[-1] == "all four levers: the unheard CNN recipe"
    assert en["levers"].iloc[1] == chapter.LEVER_LABELS["speaker"]["en"]
    np.testing.assert_allclose(en["gain"], [0, 20, 5, -2, 10, 50])
    np.testing.assert_allclose(en["worst_gain"], [0, 20, 5, -10, 10, 55])
    assert list(en["who"]) == ["george"] * 3 + ["jackson"] + ["george"] * 2
    all_but_crowd = chapter.lever_label(("speaker", "augment", "silence"), "en")
    assert all_but_crowd == "all but " + chapter.LEVER_LABELS["crowd"]["en"]


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_the_lever_finding_follows_the_table(lang):
    def number(text):
        return text if lang == "en" else chapter.localise_number(text, "fa")

    text = chapter.lever_finding(LEVER_ROWS, False, lang)
    order = [chapter.LEVER_LABELS[lever][lang] for lever in ("speaker", "crowd", "augment", "silence")]
    assert [text.index(name) for name in order] == sorted(text.index(name) for name in order)  # largest gain first
    assert number("+20.0") in text and number("-2.0").replace("-", "") in text
    assert number("90.0") in text and number("85.0") in text
    assert ("more than the sum" in text) if lang == "en" else ("بیش از جمع" in text)  # 50 > 20 + 5 - 2 + 10
    assert ("not met" in text) if lang == "en" else ("برآورده نشد" in text)
    assert "machine voices" not in text and "صدای ماشین" not in text
    met = [*LEVER_ROWS[:-1], lever_row(ALL, 0.96, 0.91)]
    assert ("is met" in chapter.lever_finding(met, False, lang)) if lang == "en" else (
        "برآورده شد" in chapter.lever_finding(met, False, lang))
    overlap = [*LEVER_ROWS[:-1], lever_row(ALL, 0.55, 0.45)]
    assert ("less than the sum" in chapter.lever_finding(overlap, False, lang)) if lang == "en" else (
        "کمتر از جمع" in chapter.lever_finding(overlap, False, lang))
    flat = [*LEVER_ROWS[:-1], lever_row(ALL, 0.40, 0.30)]  # no better together: no claim of synergy
    assert ("do not improve" in chapter.lever_finding(flat, False, lang)) if lang == "en" else (
        "بهتر نیستند" in chapter.lever_finding(flat, False, lang))
    assert ("machine voices" in chapter.lever_finding(LEVER_ROWS, True, lang)) if lang == "en" else (
        "صدای ماشین" in chapter.lever_finding(LEVER_ROWS, True, lang))


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_the_missing_lever_and_the_validated_choice_are_told_when_measured(lang):
    rows = [lever_row(r["levers"], r["mean"], r["worst"], r["worst_speaker"], inner)
            for r, inner in zip(LEVER_ROWS, (0.3, 0.5, 0.4, 0.3, 0.45, 0.7))]
    rows += [lever_row(tuple(x for x in ALL if x != drop), 0.90 - cost, 0.8, inner=0.6)
             for drop, cost in (("speaker", 0.30), ("augment", 0.05), ("silence", 0.02), ("crowd", 0.10))]
    rows[2] = {**rows[2], "inner_mean": 0.95}  # augmentation alone validates best: it is the one chosen
    text = chapter.lever_finding(rows, False, lang)
    missed = text[text.index("Taken from" if lang == "en" else "از دستور کامل"):]
    assert chapter.LEVER_LABELS["speaker"][lang] in missed.split(".")[0] or \
        chapter.LEVER_LABELS["speaker"][lang] in missed.split("(")[0]
    assert chapter.localise_number("-30.0", lang).replace("-", "−") in missed or "-30.0" in missed
    chosen = text[text.index("choose" if lang == "en" else "برمی‌گزینند") - 60:]
    assert chapter.lever_label(("augment",), lang) in chosen and chapter.localise_number("95.0", lang) in chosen
    assert "validation" not in chapter.lever_finding(LEVER_ROWS, False, "en")


def test_the_lever_metrics_and_size_words_come_from_the_rows():
    results = ChapterResults("q4_digits", dict(chapter.CHAPTER.title))
    chapter.add_lever_metrics(results, LEVER_ROWS)
    assert results["loso_chapter_mean"].value == pytest.approx(40)
    assert results["loso_unheard_worst"].value == pytest.approx(85)
    quick, full = chapter.CHAPTER.resolve("quick", {}), chapter.CHAPTER.resolve("full", {})
    words = chapter.lever_size_words(LEVER_ROWS, quick, "en")
    assert "2 speakers" in words and "12 epochs" in words and "10 speakers x 2 takes" in words and "`full`" in words
    assert "`full`" not in chapter.lever_size_words(LEVER_ROWS, full, "en")
    assert "۱۲ دوره" in chapter.lever_size_words(LEVER_ROWS, quick, "fa")
