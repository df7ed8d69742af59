"""hw5lib.whisper.experiments: data roles, recipes, the checkpoint key, scores and tables."""

import pandas as pd
import pytest

from hw5lib.whisper import experiments as E

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
    assert E.detection_share({"wer": 0.0}, {"wer": 0.0, "languages": []}) == {"wrong_language": 0.0,
                                                                             "share_of_wer": 0.0}


def test_transfer_gain_is_scratch_minus_full_and_names_the_best_strategy():
    table = pd.DataFrame({"strategy": ["full", "top_layers", "frozen_encoder", "scratch"],
                          "trainable": [10, 4, 6, 10], "wer": [0.3, 0.25, 0.4, 0.7]})
    assert E.transfer_gain(table) == {"gain": pytest.approx(0.4), "best": "top_layers"}
    worse = table.assign(wer=[0.3, 0.35, 0.4, 0.2])
    assert E.transfer_gain(worse) == {"gain": pytest.approx(-0.1), "best": "scratch"}


def test_the_recipes_warm_up_no_longer_than_the_first_validation():
    assert E.fine_tuning_plan(5, 1e-5, 16, 200, 0.0).warmup_steps == 50
    plan = E.fine_tuning_plan(1, 1e-3, 8, 2, 0.1, seed=3)
    assert (plan.warmup_steps, plan.eval_every, plan.dropout, plan.seed) == (2, 2, 0.1, 3)
    assert E.pretraining_plan(12, 8, seed=1).learning_rate == 1e-3


def test_runs_are_scored_once_and_tabled_in_the_order_they_ran(monkeypatch):
    from hw5lib.whisper import model as W

    scored = []

    def evaluate(model, processor, mel, utterances):
        scored.append(model)
        return {"wer": 0.5 if model == "scratch model" else 0.4, "cer": 0.2}

    monkeypatch.setattr(W, "evaluate", evaluate)
    runs = {"full": {"model": "full model", "trainable": 10}, "scratch": {"model": "scratch model", "trainable": 12}}
    scores = E.score_runs(runs, None, None, [], known={"full": {"wer": 0.1, "cer": 0.05}})
    assert scored == ["scratch model"]  # the full run's scores were given
    table = E.strategy_table(runs, scores)
    assert table.to_dict("list") == {"strategy": ["full", "scratch"], "trainable": [10, 12], "wer": [0.1, 0.5],
                                     "cer": [0.05, 0.2]}


TRAINING_KEY = "from hw5lib.whisper import experiments; print(experiments._key('pretraining'))"


def training_key(root) -> str:
    import os
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", TRAINING_KEY], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_the_checkpoint_key_covers_the_training_code_and_not_the_scores(tmp_path):
    import shutil
    from pathlib import Path

    import hw5lib

    shutil.copytree(Path(hw5lib.__file__).parent, tmp_path / "hw5lib", ignore=shutil.ignore_patterns("__pycache__"))
    experiments = tmp_path / "hw5lib" / "whisper" / "experiments.py"
    key = training_key(tmp_path)
    source = experiments.read_text()
    scoring = "    rows, last_loss = [], float(\"nan\")\n"
    assert scoring in source
    experiments.write_text(source.replace(scoring, scoring + "    # a table's code changed\n"))
    assert training_key(tmp_path) == key
    training = "    train = source.pick(\"train\")\n"
    assert training in source
    experiments.write_text(source.replace(training, training + "    # pre-training changed\n"))
    assert training_key(tmp_path) != key


def micro_corpus():
    """Six clips of distinct noise in three splits, with a micro Whisper saved to load from."""
    from pathlib import Path

    import numpy as np

    from hw5lib.data.speech import REPORT_FA, Utterance
    from test_whisper import MICRO

    texts = [REPORT_FA, "من امروز به کتابخانه رفتم", "او فردا به خانه می‌آید"]
    utterances = [Utterance(Path(f"{i}.wav"), texts[i % 3], split=split, speaker=f"v{i}")
                  for i, split in enumerate(["train", "train", "validation", "validation", "test", "test"])]
    mel = np.random.default_rng(0).normal(0, 1, (6, MICRO.mel_bins, MICRO.frames)).astype(np.float16)
    data = E.SpeechData(utterances, [np.zeros(16000, np.float32)] * 6, "micro", True, "split tables")
    return data, mel, texts


def test_split_scores_transcribe_each_clip_once_and_pool_all(monkeypatch):
    from hw5lib.whisper import model as W
    from hw5lib.data.textnorm import error_rates

    data, mel, texts = micro_corpus()
    heard = []

    def evaluate(model, processor, clips, utterances, language="fa"):
        heard.extend(u.path.name for u in utterances)
        outputs = [texts[0]] * len(utterances)  # always the report's sentence
        return {**error_rates([u.target for u in utterances], outputs, "fa"), "outputs": outputs}

    monkeypatch.setattr(W, "evaluate", evaluate)
    scores = E.split_scores(None, None, mel, data)
    assert sorted(heard) == sorted(u.path.name for u in data.utterances)
    assert scores["train"]["wer"] == pytest.approx(error_rates(texts[:2], [texts[0]] * 2, "fa")["wer"])
    order = [u.target for split in ("train", "validation", "test") for u in data.utterances if u.split == split]
    assert scores["all"]["wer"] == pytest.approx(error_rates(order, [texts[0]] * 6, "fa")["wer"])


def test_the_report_clip_is_a_test_clip_or_the_users_recording(tmp_path):
    import numpy as np
    import soundfile

    from hw5lib.whisper import model as W
    from test_whisper import MICRO

    data, _, texts = micro_corpus()
    _, processor = W.build_tiny(texts, MICRO)
    mel, origin = E.report_clip(texts[1], data, "", processor.feature_extractor)
    assert origin == "v4" and mel.shape == (1, MICRO.mel_bins, MICRO.frames)
    own = tmp_path / "mine.wav"
    soundfile.write(own, np.random.default_rng(1).normal(0, 0.1, 8000).astype(np.float32), 16000)
    assert E.report_clip(texts[1], data, str(own), processor.feature_extractor)[1] == str(own)
    with pytest.raises(W.WhisperError, match="No test clip of micro says 'nobody'"):
        E.report_clip("nobody", data, "", processor.feature_extractor)


def test_the_tuner_trains_each_strategy_and_reads_a_finished_run_back(tmp_path, monkeypatch):
    from hw5lib.whisper import model as W
    from test_whisper import MICRO

    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "cache"))
    data, mel, texts = micro_corpus()
    model, processor = W.build_tiny(texts, MICRO)
    model.save_pretrained(tmp_path / "start")
    processor.save_pretrained(tmp_path / "start")
    train, validation = data.pick("train"), data.pick("validation")
    plan = W.TrainingPlan(epochs=2, learning_rate=1e-3, batch_size=2, eval_every=1, warmup_steps=1)

    def tuner():
        return E.Tuner(tmp_path / "start", processor, data.subset(train), data.subset(validation), mel[train],
                       mel[validation], plan, MICRO.max_target_tokens)

    first = tuner()
    first.tune("frozen_encoder")
    first.tune("full")
    runs = first.runs
    assert runs["frozen_encoder"]["trainable"] < runs["full"]["trainable"]
    assert [e["step"] for e in runs["full"]["log"] if "eval_wer" in e] == [1, 2]
    again = tuner()
    again.tune("full")  # the finished checkpoint is found: nothing is trained twice
    def steps(log):  # the trainer's closing summary (run time, mean loss of this call) aside
        return [entry for entry in log if "train_runtime" not in entry]

    assert steps(again.runs["full"]["log"]) == steps(runs["full"]["log"])
