"""hw5lib.whisper_experiments: the chapter's tables and the sentences it prints, in every branch."""

import pandas as pd
import pytest

from hw5lib import whisper_experiments as E

LOG = [
    {"loss": 3.0, "step": 10}, {"loss": 2.0, "step": 20},
    {"eval_loss": 2.5, "eval_wer": 0.9, "step": 20},
    {"loss": 1.0, "step": 30}, {"loss": 0.5, "step": 40},
    {"eval_loss": 1.5, "eval_wer": 0.4, "step": 40},
    {"train_loss": 1.6, "step": 40},
]


def test_the_report_table_two_pairs_each_evaluation_with_the_last_training_loss():
    table = E.training_table(LOG)
    assert table.to_dict("list") == {"step": [20, 40], "training loss": [2.0, 0.5], "validation loss": [2.5, 1.5],
                                     "WER": [0.9, 0.4]}
    assert list(E.training_table([{"loss": 1.0, "step": 1}]).columns) == ["step", "training loss", "validation loss",
                                                                         "WER"]
    assert E.loss_curve(LOG)["loss"].tolist() == [3.0, 2.0, 1.0, 0.5]


def test_language_detection_share():
    forced = {"wer": 0.2, "languages": ["fa"] * 4}
    detected = {"wer": 0.4, "languages": ["fa", "zh", "fa", "fa"]}
    assert E.detection_share(forced, detected) == {"wrong_language": 0.25, "share_of_wer": 0.5}
    assert E.detection_share(forced, {"wer": 0.1, "languages": ["fa"]})["share_of_wer"] == 0.0  # detection helped
    assert E.detection_share({"wer": 0.0}, {"wer": 0.0, "languages": []}) == {"wrong_language": 0.0, "share_of_wer": 0.0}


@pytest.mark.parametrize("scratch, best, word_en, word_fa", [
    (0.7, "full", "beat training from scratch by 0.40", "۰٫۴۰ کمتر"),
    (0.2, "scratch", "did not beat training from scratch (WER 0.30 against 0.20)", "۰٫۳۰ در برابر ۰٫۲۰"),
])
def test_the_transfer_verdict_follows_the_numbers(scratch, best, word_en, word_fa):
    table = pd.DataFrame({"strategy": ["full", "top_layers", "frozen_encoder", "scratch"],
                          "trainable": [10, 4, 6, 10], "wer": [0.3, 0.35, 0.4, scratch]})
    finding = E.transfer_finding(table)
    assert finding["best"] == best and finding["gain"] == pytest.approx(scratch - 0.3)
    assert word_en in finding["en"] and word_fa in finding["fa"]
    if best == "full":
        assert "full fine-tuning" in finding["en"] and "تنظیم دقیق کامل" in finding["fa"]


def test_the_data_sentence_promises_only_what_holds():
    from pathlib import Path

    from hw5lib.speech_corpus import Utterance

    def data(synthetic):
        return E.SpeechData([Utterance(Path("a.wav"), "سلام")], [None], "x", synthetic,
                            "split tables" if synthetic else "common voice")

    tiny = E.data_sentences(data(True), 507)
    assert "espeak-ng" in tiny["en"] and "507 source clips" in tiny["en"] and "۵۰۷" in tiny["fa"]
    theirs = E.data_sentences(data(False), None)
    assert "espeak-ng" not in theirs["en"] and "common voice layout" in theirs["en"]
    assert "pre-trained here" not in theirs["en"] and "680,000 hours" in theirs["en"]
    assert "espeak-ng" not in theirs["fa"] and "Common Voice" in theirs["fa"]
