"""hw5lib.chapters.q3_whisper: the report's numbers, the chapter's tables, sentences and figure."""

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from hw5lib.chapters import q3_whisper as chapter
from hw5lib.data.speech import REPORT_FA, Utterance
from hw5lib.data.textnorm import error_rates
from hw5lib.publish.results import ChapterResults
from hw5lib.whisper import experiments as E

REPORTED = chapter.REPORTED


def new_results():
    return ChapterResults(chapter.CHAPTER.name, dict(chapter.CHAPTER.title))


def test_every_reported_number_says_where_in_q3_it_stands():
    assert chapter.CHAPTER.reported is REPORTED
    assert all(entry.where.startswith("Q3 (") for entry in REPORTED.values())
    # the two "before" values of the test split are two measurements, each used where it belongs
    assert REPORTED["initial_wer_test"].value != REPORTED["test_wer_before"].value


@pytest.mark.parametrize("scratch, best, word_en, word_fa", [
    (0.7, "full", "beat training from scratch by 0.40", "۰٫۴۰ کمتر"),
    (0.2, "scratch", "did not beat training from scratch (WER 0.30 against 0.20)", "۰٫۳۰ در برابر ۰٫۲۰"),
])
def test_the_transfer_verdict_follows_the_numbers(scratch, best, word_en, word_fa):
    table = pd.DataFrame({"strategy": ["full", "top_layers", "frozen_encoder", "scratch"],
                          "trainable": [10, 4, 6, 10], "wer": [0.3, 0.35, 0.4, scratch]})
    finding, found = chapter.transfer_finding(table), E.transfer_gain(table)
    assert found["best"] == best and found["gain"] == pytest.approx(scratch - 0.3)
    assert word_en in finding["en"] and word_fa in finding["fa"]
    if best == "full":
        assert "full fine-tuning" in finding["en"] and "تنظیم دقیق کامل" in finding["fa"]
    results = new_results()
    chapter.record_strategies(results, table)
    assert results["strategy_top_layers_wer"].value == 0.35
    assert results["strategy_top_layers_wer"].label["fa"] == "WER آزمون، لایه‌های بالایی"
    assert results["transfer_gain"].value == pytest.approx(scratch - 0.3)


def test_the_data_sentence_promises_only_what_holds():
    def data(synthetic):
        return E.SpeechData([Utterance(Path("a.wav"), "سلام")], [None], "x", synthetic,
                            "split tables" if synthetic else "common voice")

    tiny = chapter.data_sentences(data(True), 507)
    assert "espeak-ng" in tiny["en"] and "507 source clips" in tiny["en"] and "۵۰۷" in tiny["fa"]
    theirs = chapter.data_sentences(data(False), None)
    assert "espeak-ng" not in theirs["en"] and "common voice layout" in theirs["en"]
    assert "pre-trained here" not in theirs["en"] and "680,000 hours" in theirs["en"]
    assert "espeak-ng" not in theirs["fa"] and "Common Voice" in theirs["fa"]


def test_the_persian_sentence_table_scores_the_reports_output_and_ours_alike():
    table = chapter.fa_sentence_table("tiny", REPORT_FA, "fa")
    report = REPORTED["fa_output"].value
    assert table["output"].tolist() == [report, REPORT_FA] and table["model"].tolist()[1] == "tiny"
    assert table.loc[0, "raw"] == error_rates([REPORT_FA], [report], "fa", normalised=False)["wer"]
    assert table.loc[0, "normalised"] == error_rates([REPORT_FA], [report], "fa")["wer"] > 0
    assert table.loc[1, "normalised"] == 0.0  # our model wrote the sentence exactly
    results = new_results()
    chapter.record_fa_sentence(results, table)
    assert results["fa_sentence_wer"].value == 0.0
    assert results["fa_sentence_wer"].reported == table.loc[0, "normalised"]
    assert results["fa_detected_language"].reported == "fa"
    assert chapter.fa_sentence_finding(table, "en").endswith("with a normalised WER of 0.00.")
    assert "۰٫۰۰" in chapter.fa_sentence_finding(table, "fa")


def test_a_wrong_language_is_said_in_words_with_the_wer():
    mistaken = chapter.fa_sentence_table("tiny", "Hello teacher, how is the weather today?", "zh")
    en, fa = (chapter.fa_sentence_finding(mistaken, lang) for lang in ("en", "fa"))
    assert en.startswith("The model took this clip for Mandarin, not Persian") and "WER is 1.00" in en
    assert "چینی پنداشت" in fa and "۱٫۰۰" in fa
    odd = chapter.fa_sentence_finding(chapter.fa_sentence_table("tiny", "x", "sw"), "en")
    assert "took this clip for `sw`, not Persian" in odd


def test_the_translation_is_scored_against_the_reports_sentence():
    assert chapter.translation_wer(REPORTED["zh_output"].value) == 0.0
    assert chapter.translation_wer("Hello, how are you?") > 0
    results = new_results()
    chapter.record_zh_sentence(results, 0.25, "zh")
    assert (results["zh_translation_wer"].value, results["zh_translation_wer"].reported) == (0.25, 0.0)
    assert results["zh_detected_language"].reported == "zh"


def scores(wer):
    return {split: {"wer": wer + index / 100, "cer": wer / 2, "wer_raw": wer + 0.1}
            for index, split in enumerate(chapter.SPLITS)}


def test_before_and_after_stand_beside_the_reports_initial_wer_and_its_drop():
    before, after = scores(0.8), scores(0.3)
    table = chapter.before_after_table(before, after)
    assert table["split"].tolist() == ["train", "validation", "test", "all"]
    assert table["reported"].tolist() == [REPORTED[f"initial_wer_{s}"].value for s in chapter.SPLITS]
    assert table["before"].tolist() == [before[s]["wer"] for s in chapter.SPLITS]
    assert chapter.before_after_by_language(table)["fa"]["split"].tolist() == ["آموزش", "اعتبارسنجی", "آزمون", "همه"]
    results = new_results()
    chapter.record_before_after(results, before, after)
    assert results["wer_before_test"].reported == REPORTED["initial_wer_test"].value
    assert results["wer_after_test"].reported == REPORTED["test_wer_after"].value
    # the drop is taken between the report's two trainer.predict figures, before and after
    assert results["wer_drop_test"].value == pytest.approx(before["test"]["wer"] - after["test"]["wer"])
    assert results["wer_drop_test"].reported == pytest.approx(REPORTED["test_wer_before"].value
                                                              - REPORTED["test_wer_after"].value)


def test_the_examples_spread_over_the_test_split():
    utterances = [Utterance(Path(f"{i}.wav"), f"متن {i}", split="test", speaker=f"v{i}") for i in range(14)]
    data = E.SpeechData(utterances, [None] * 14, "x", True, "split tables")
    test = list(range(14))
    examples = chapter.examples_table(data, test, [f"خروجی {i}" for i in test])
    assert examples["speaker"].tolist() == ["v0", "v2", "v4", "v6", "v8", "v10"]
    assert examples["output"].tolist()[1] == "خروجی 2" and examples["reference"].tolist()[1] == "متن 2"
    assert len(chapter.examples_table(data, test[:3], ["a", "b", "c"])) == 3


def test_the_training_figure_draws_every_run_in_both_panels():
    log = [{"loss": 3.0, "step": 10}, {"eval_loss": 2.5, "eval_wer": 0.9, "step": 10}, {"loss": 1.0, "step": 20}]
    fig = chapter.plot_training({"full": log, "scratch": log[:1]})
    assert isinstance(fig, Figure)
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["full", "scratch"]
    assert len(right.lines) == 1  # the run without a validation has no WER to draw
    assert left.get_yscale() == "log"
