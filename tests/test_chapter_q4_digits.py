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
           "train_data": {"clips": 4000, "speakers": 40}}


def test_what_machine_voices_teach_is_told_from_the_numbers():
    en = chapter.machine_finding(MACHINE, 0.97, "en")
    assert "heard only 4,000 clips of 40 synthetic speakers" in en and "62.0% of the digits" in en
    assert "from 46.0% (theo) to 85.0% (jackson)" in en and "80% on every speaker is not met" in en
    assert "reaches 97.0%" in en
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
