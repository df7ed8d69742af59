"""hw5lib.whisper.model: the tokenizer and tiny model built from Hugging Face's classes, generation with
language and task, loading errors, freezing strategies, fine-tuning, resuming, several processes."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hw5lib.torchutil import count_parameters
import torch
from transformers.models.whisper.tokenization_whisper import LANGUAGES

from hw5lib.whisper import model as W
from hw5lib.data.speech import REPORT_FA, REPORT_ZH, REPORT_ZH_EN, Utterance

ROOT = Path(__file__).resolve().parent.parent
MICRO = W.TinySpec(d_model=64, encoder_layers=1, decoder_layers=1, heads=2, ffn=128, seconds=2, bpe_vocabulary=80,
                   max_target_tokens=40)
TEXTS = [REPORT_FA, "من امروز به کتابخانه رفتم", REPORT_ZH, REPORT_ZH_EN]


def micro_data(tokenizer):
    """Four clips of distinct noise and what to write for them: two Persian transcriptions and a
    Mandarin clip to translate, twice over."""
    rng = np.random.default_rng(0)
    mel = rng.normal(0, 1, (4, MICRO.mel_bins, MICRO.frames)).astype(np.float16)
    utterances = [Utterance(Path("a.wav"), REPORT_FA), Utterance(Path("b.wav"), "من امروز به کتابخانه رفتم"),
                  Utterance(Path("c.wav"), REPORT_ZH_EN, language="zh", task="translate"),
                  Utterance(Path("d.wav"), "Hello everyone, are you busy?", language="zh", task="translate")]
    return mel, utterances, W.SpeechDataset(mel, utterances, tokenizer, MICRO.max_target_tokens)


def test_the_tokenizer_puts_whisper_special_tokens_where_whisper_expects_them(tmp_path):
    tokenizer = W.build_tokenizer(TEXTS, 80)
    token = tokenizer.convert_tokens_to_ids
    start = token("<|startoftranscript|>")
    for index, code in enumerate(LANGUAGES):  # the tokenizer computes a language's id from its position
        assert token(f"<|{code}|>") == start + 1 + index
    tokenizer.set_prefix_tokens(language="fa", task="transcribe")
    ids = tokenizer(REPORT_FA).input_ids
    assert ids[:4] == [start, token("<|fa|>"), token("<|transcribe|>"), token("<|notimestamps|>")]
    assert ids[-1] == token("<|endoftext|>") == tokenizer.eos_token_id == tokenizer.pad_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == REPORT_FA
    tokenizer.set_prefix_tokens(language="zh", task="translate")
    assert tokenizer(REPORT_ZH).input_ids[1:3] == [token("<|zh|>"), token("<|translate|>")]
    assert tokenizer.decode(tokenizer.encode(REPORT_ZH, add_special_tokens=False)) == REPORT_ZH
    tokenizer.save_pretrained(tmp_path)
    again = type(tokenizer).from_pretrained(tmp_path)
    assert again(REPORT_FA).input_ids == tokenizer(REPORT_FA).input_ids
    with pytest.raises(W.WhisperError, match="needs some text"):
        W.build_tokenizer([])


def test_labels_and_the_collator():
    tokenizer = W.build_tokenizer(TEXTS, 80)
    labels = W.label_ids(tokenizer, Utterance(Path("x.wav"), REPORT_ZH_EN, language="zh", task="translate"))
    assert tokenizer.convert_ids_to_tokens(labels[:3]) == ["<|zh|>", "<|translate|>", "<|notimestamps|>"]
    assert tokenizer.decode(labels, skip_special_tokens=True).strip() == REPORT_ZH_EN
    with pytest.raises(W.WhisperError, match="'xx' is not a Whisper language code"):
        W.label_ids(tokenizer, Utterance(Path("x.wav"), "hi", language="xx"))
    batch = W.Collator()([{"input_features": np.zeros((80, 10), np.float16), "labels": [1, 2, 3]},
                          {"input_features": np.ones((80, 10), np.float16), "labels": [4]}])
    assert batch["input_features"].dtype == torch.float32 and batch["input_features"].shape == (2, 80, 10)
    assert batch["labels"].tolist() == [[1, 2, 3], [4, -100, -100]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The micro model trained until it writes the four targets: generation with language and task
    can then be checked on exact outputs."""
    model, processor = W.build_tiny(TEXTS + ["Hello everyone, are you busy?"], MICRO)
    mel, utterances, dataset = micro_data(processor.tokenizer)
    plan = W.TrainingPlan(epochs=150, learning_rate=3e-3, batch_size=4, eval_every=1000, warmup_steps=10)
    model, log = W.fine_tune(model, processor, dataset, dataset, tmp_path_factory.mktemp("micro"), plan,
                             progress=False, evaluate=False)
    return model, processor, mel, utterances, log


def test_generation_with_language_and_task_and_detection(trained):
    model, processor, mel, utterances, log = trained
    assert log[-1]["train_loss"] < 1.0
    texts, languages = W.transcribe(model, processor, mel, language=None)  # Whisper's detection
    assert languages == ["fa", "fa", "zh", "zh"]
    assert texts[:2] == [REPORT_FA, "من امروز به کتابخانه رفتم"]
    translations, _ = W.transcribe(model, processor, mel[2:], language="zh", task="translate")
    assert translations == [REPORT_ZH_EN, "Hello everyone, are you busy?"]
    forced, languages = W.transcribe(model, processor, mel[:1], language="fa")
    assert languages == ["fa"] and forced == [REPORT_FA]
    scores = W.evaluate(model, processor, mel[:2], utterances[:2])
    assert scores["wer"] == 0 and scores["cer"] == 0 and scores["outputs"] == texts[:2]
    with pytest.raises(W.WhisperError, match="task must be transcribe or translate"):
        W.transcribe(model, processor, mel, task="summarise")


def test_a_saved_checkpoint_loads_through_the_same_path_as_a_hub_model(trained, tmp_path):
    model, processor, mel, *_ = trained
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not (tmp_path / "pytorch_model.bin").exists()
    loaded, loaded_processor = W.load_whisper(tmp_path)
    assert W.transcribe(loaded, loaded_processor, mel, language=None) == W.transcribe(model, processor, mel,
                                                                                       language=None)


def test_models_that_cannot_load_say_why_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(W.WhisperError, match="is not a Whisper checkpoint: a checkpoint is a folder with config.json"):
        W.load_whisper(tmp_path / "empty")
    with pytest.raises(W.WhisperError, match="Cannot load the Whisper model 'openai/whisper-base': it is not in the "
                                             "Hugging Face cache and the hub cannot be reached"):
        W.load_whisper("openai/whisper-base")
    with pytest.raises(W.WhisperError, match="neither a folder nor a hub id"):
        W.load_whisper("not a model")


def test_freezing_strategies_train_what_they_say():
    model, _ = W.build_tiny(TEXTS, MICRO)
    total = count_parameters(model)
    decoder = {id(p): p for p in model.model.decoder.parameters()}
    assert count_parameters(W.freeze(model, "frozen_encoder")) == sum(p.numel() for p in decoder.values())
    assert not any(p.requires_grad for p in model.model.encoder.parameters())
    top = count_parameters(W.freeze(model, "top_layers"))
    assert 0 < top < total and all(p.requires_grad for p in model.model.encoder.layers[-1].parameters())
    assert count_parameters(W.freeze(model, "full")) == total
    with torch.no_grad():  # stands for pre-training: weights that a re-initialisation must replace
        model.model.encoder.conv1.weight.add_(1.0)
    scratch = W.freeze(model, "scratch")
    assert count_parameters(scratch) == total and scratch is not model
    assert not torch.equal(scratch.model.encoder.conv1.weight, model.model.encoder.conv1.weight)
    assert torch.equal(W.freeze(model, "scratch").model.encoder.conv1.weight, scratch.model.encoder.conv1.weight)
    with pytest.raises(W.WhisperError, match="Unknown strategy 'half'"):
        W.freeze(model, "half")


class Stop(Exception):
    pass


def test_a_killed_fine_tuning_resumes_from_its_last_checkpoint(tmp_path):
    from transformers import TrainerCallback

    class KillAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 7:
                raise Stop()

    def run(callbacks=()):
        model, processor = W.build_tiny(TEXTS, MICRO, seed=0)
        *_, dataset = micro_data(processor.tokenizer)
        plan = W.TrainingPlan(epochs=10, learning_rate=1e-3, batch_size=2, eval_every=4, warmup_steps=2)
        return W.fine_tune(model, processor, dataset, dataset, tmp_path / "run", plan, progress=False,
                           callbacks=callbacks)

    with pytest.raises(Stop):
        run([KillAt()])
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint-4"]
    assert (tmp_path / "run" / "checkpoint-4" / "model.safetensors").is_file()
    class Count(TrainerCallback):
        steps = []

        def on_step_end(self, args, state, control, **kwargs):
            self.steps.append(state.global_step)

    model, log = run([Count()])
    assert Count.steps == list(range(5, 21))  # 4 clips, 2 per step, 10 epochs: steps 1-4 were not trained again
    steps = [entry["step"] for entry in log if "eval_wer" in entry]
    assert steps == [4, 8, 12, 16, 20]  # the checkpoint's own evaluation is kept in the history


@pytest.mark.slow
def test_fine_tuning_runs_on_two_processes_under_torchrun(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import torch.distributed as dist
        from tests.test_whisper import MICRO, TEXTS, micro_data
        from hw5lib.whisper import model as W
        model, processor = W.build_tiny(TEXTS, MICRO)
        *_, dataset = micro_data(processor.tokenizer)
        plan = W.TrainingPlan(epochs=2, learning_rate=1e-3, batch_size=1, eval_every=1000, warmup_steps=1)
        model, log = W.fine_tune(model, processor, dataset, dataset, {str(tmp_path / 'run')!r}, plan,
                                 progress=False, evaluate=False)
        # one write of one line: two processes share the pipe, and print() writes word by word
        sys.stdout.write(f"world {{dist.get_world_size()}} rank {{dist.get_rank()}} steps {{log[-1]['step']}}\\n")
        sys.stdout.flush()
    """))
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script)],
                            capture_output=True, text=True, timeout=600, env=environment, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith("world"))
    # 4 clips, 2 processes of 1 clip per step: 2 steps per epoch, 2 epochs
    assert lines == ["world 2 rank 0 steps 4", "world 2 rank 1 steps 4"]


def test_dropout_reaches_every_built_layer_but_attention():
    from transformers.models.whisper.modeling_whisper import WhisperAttention

    model, _ = W.build_tiny(TEXTS, MICRO)
    W.set_dropout(model, 0.25)
    rates = [getattr(m, name) for m in model.modules() for name in ("dropout", "activation_dropout")
             if isinstance(getattr(m, name, None), float) and not isinstance(m, WhisperAttention)]
    attention = {m.dropout for m in model.modules() if isinstance(m, WhisperAttention)}
    assert len(rates) >= 6 and set(rates) == {0.25} and model.config.dropout == 0.25
    assert attention == {0.0} and model.config.attention_dropout == 0.0  # the fused CPU kernel stays usable
    x = torch.randn(2, MICRO.mel_bins, MICRO.frames)
    labels = torch.tensor([[1, 2, 3], [4, 5, 6]])
    model.train()
    assert model(input_features=x, labels=labels).loss != model(input_features=x, labels=labels).loss
    with pytest.raises(W.WhisperError, match="Dropout must be in"):
        W.set_dropout(model, 1.0)


def test_a_model_that_never_stops_is_cut_at_twice_the_longest_answer():
    from hw5lib.whisper import model as W

    class Tokens:  # one token per character
        def encode(self, text, add_special_tokens=False):
            return list(text)

    assert W.writing_limit(Tokens(), ["abc", "abcdefgh"], 448) == 2 * 8 + 16
    assert W.writing_limit(Tokens(), ["x" * 400], 448) == 448  # never past the model's own limit
    assert W.writing_limit(Tokens(), [], 448) == 16
