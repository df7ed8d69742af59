"""The real-checkpoint path, offline: a structural whisper-base (its exact config, OpenAI's own
tokenizer and feature extractor, random weights) laid out as the hub cache lays out
openai/whisper-base, and loaded through the hub id with HF_HUB_OFFLINE=1 as a reader's downloaded
copy would be. Also model=auto, and the checkpoints that must be refused before any training."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hw5lib.data.speech import REPORT_FA, REPORT_ZH_EN, Utterance
from hw5lib.whisper import model as W, structural as S

TEXTS = [" Hello, how are you doing?", REPORT_FA, "你好，近来怎么样？", "It's 1234 o'clock!!  ok", " ♪♪ -- [[x]]",
         "Ich heiße Anna, und du?"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The structural checkpoint folder, and a hub cache that holds it as openai/whisper-base."""
    root = tmp_path_factory.mktemp("whisper-base")
    folder = S.build(root / "checkpoint")
    S.install_in_hub_cache(folder, root / "hub")
    return folder, root / "hub"


@pytest.fixture
def hub(base, monkeypatch):
    """The hub cache with whisper-base in it, for this test (transformers reads the cache's place
    from huggingface_hub's constants at every call)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(base[1]))
    return base[1]


def clips(count: int, seconds: float = 2.0) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(0, 0.05, int(16_000 * seconds)).astype(np.float32) for _ in range(count)]


def test_the_tokenizer_is_openais_with_the_real_special_ids():
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    tokenizer = S.base_tokenizer()
    assert len(tokenizer) == 51865
    assert dict(zip(S.SPECIAL_IDS, tokenizer.convert_tokens_to_ids(list(S.SPECIAL_IDS)))) == S.SPECIAL_IDS
    # OpenAI's own encoder on the same file (whisper/tokenizer.py's pattern), as the reference
    ranks = load_tiktoken_bpe(str(S.tiktoken_file()))
    assert len(ranks) == 50257 == tokenizer.convert_tokens_to_ids("<|endoftext|>")
    pattern = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    openai = tiktoken.Encoding("multilingual", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    for text in TEXTS:
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert ids == openai.encode(text), text
        assert tokenizer.decode(ids) == text


def test_the_vocabulary_file_is_read_strictly(tmp_path):
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("IQ== 0\nIg== 2\n")
    with pytest.raises(W.WhisperError, match="the ranks are not 0 to 1, each once"):
        S.read_tiktoken(bad)
    bad.write_text("IQ== 0\nnot-a-line\n")
    with pytest.raises(W.WhisperError, match="line 2: not a tiktoken vocabulary line"):
        S.read_tiktoken(bad)


def test_the_hub_id_loads_offline_from_the_cache_layout(hub):
    snapshot = next((hub / "models--openai--whisper-base" / "snapshots").iterdir())
    assert (hub / "models--openai--whisper-base" / "refs" / "main").read_text() == snapshot.name
    assert all((snapshot / name).is_symlink() for name in ("config.json", "model.safetensors", "tokenizer.json"))
    model, processor = W.load_whisper(W.BASE)
    config = model.config
    assert (config.d_model, config.encoder_layers, config.decoder_layers, config.encoder_attention_heads,
            config.num_mel_bins, config.max_source_positions, config.vocab_size) == (512, 6, 6, 8, 80, 1500, 51865)
    assert processor.feature_extractor.chunk_length == 30 and processor.feature_extractor.nb_max_frames == 3000
    generation = model.generation_config
    assert generation.lang_to_id["<|fa|>"] == 50300 and generation.lang_to_id["<|zh|>"] == 50260
    assert generation.task_to_id == {"transcribe": 50359, "translate": 50358}
    assert generation.no_timestamps_token_id == 50363 and generation.decoder_start_token_id == 50258
    assert 50362 in generation.suppress_tokens and 220 in generation.begin_suppress_tokens


def test_detection_transcription_and_translation_run_the_real_prompts(hub):
    model, processor = W.load_whisper(W.BASE)
    mel = W.features(clips(2), processor.feature_extractor, cache=False)
    assert mel.shape == (2, 80, 3000)
    texts, languages = W.transcribe(model, processor, mel, language=None)
    assert len(texts) == 2 and all(code in W._languages() for code in languages)
    # the prompt the decoder is given first: start, language, task, no timestamps
    prompts = []
    hook = model.model.decoder.register_forward_pre_hook(
        lambda module, args, kwargs: prompts.append(kwargs["input_ids"][0].tolist()), with_kwargs=True)
    with torch.no_grad():
        model.generate(torch.from_numpy(mel[:1].astype(np.float32)), language="zh", task="translate")
    hook.remove()
    assert prompts[0] == [50258, 50260, 50358, 50363]
    translated, forced = W.transcribe(model, processor, mel, language="zh", task="translate")
    assert forced == ["zh", "zh"] and all(isinstance(text, str) for text in translated)


def test_two_steps_with_checkpoints_resume_save_and_reload(hub, tmp_path):
    model, processor = W.load_whisper(W.BASE)
    mel = W.features(clips(2), processor.feature_extractor, cache=False)
    utterances = [Utterance(Path("a.wav"), REPORT_FA), Utterance(Path("b.wav"), REPORT_ZH_EN, language="zh",
                                                                 task="translate")]
    dataset = W.SpeechDataset(mel, utterances, processor.tokenizer, 448)
    plan = W.TrainingPlan(epochs=1, learning_rate=1e-5, batch_size=1, eval_every=1, warmup_steps=1)
    run = tmp_path / "run"
    before = model.model.decoder.layers[0].fc1.weight.detach().clone()
    trained, log = W.fine_tune(model, processor, dataset, dataset, run, plan, progress=False, evaluate=False)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint-1", "checkpoint-2"]
    assert (run / "checkpoint-2" / "model.safetensors").is_file()
    assert not torch.equal(trained.model.decoder.layers[0].fc1.weight, before)
    # a run killed after its first checkpoint was written: the next one trains only the second step
    shutil.rmtree(run / "checkpoint-2")
    resumed, log = W.fine_tune(W.load_whisper(W.BASE)[0], processor, dataset, dataset, run, plan, progress=False,
                               evaluate=False)
    assert [entry["step"] for entry in log if "loss" in entry] == [1, 2]  # step 1 read back from the checkpoint
    assert (run / "checkpoint-2").is_dir()
    saved = tmp_path / "saved"
    resumed.save_pretrained(saved)
    processor.save_pretrained(saved)
    reloaded, _ = W.load_whisper(saved)
    assert torch.equal(reloaded.model.decoder.layers[0].fc1.weight, resumed.model.decoder.layers[0].fc1.weight)


def test_auto_takes_whisper_base_where_it_is_cached_and_else_says_why_it_did_not(base, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    offline = W.resolve_model(W.AUTO)
    assert offline.tiny and "not in the Hugging Face cache" in offline.why["en"] and offline.why["fa"]
    monkeypatch.setattr(W, "_hub_reachable", lambda *args, **kwargs: True)

    def refused(repo_id):
        raise OSError("403 Forbidden\nmore")

    failed = W.resolve_model(W.AUTO, download=refused)
    assert failed.tiny and "downloading `openai/whisper-base` from the hub failed (403 Forbidden)" in failed.why["en"]

    def download(repo_id):  # what snapshot_download leaves behind: the model in the hub cache
        S.install_in_hub_cache(base[0], constants.HF_HUB_CACHE, repo_id)

    fetched = W.resolve_model(W.AUTO, download=download)
    assert fetched.name == W.BASE and "downloaded" in fetched.why["en"]
    monkeypatch.setattr(W, "_hub_reachable", lambda *args, **kwargs: False)
    cached = W.resolve_model(W.AUTO)
    assert cached.name == W.BASE and "found in this machine's Hugging Face cache" in cached.why["en"]
    assert W.resolve_model("some/folder").name == "some/folder" and W.resolve_model(W.TINY).tiny


def test_checkpoints_that_cannot_work_are_refused_before_training(base, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(W.WhisperError) as error:
        W.load_whisper(W.BASE)
    assert str(error.value).startswith("Cannot load the Whisper model 'openai/whisper-base': it is not in the "
                                       "Hugging Face cache and the hub cannot be reached from here (offline?)")
    no_weights = tmp_path / "no-weights"
    shutil.copytree(base[0], no_weights, ignore=shutil.ignore_patterns("model.safetensors"))
    with pytest.raises(W.WhisperError) as error:
        W.load_whisper(no_weights)
    assert str(error.value).startswith(f"{no_weights} holds a configuration but no weights")
    mismatched = tmp_path / "mismatched"  # a tiny model saved beside whisper-base's tokenizer
    model, _ = W.build_tiny(TEXTS, W.TinySpec(d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn=64,
                                              seconds=2, bpe_vocabulary=40))
    model.save_pretrained(mismatched)
    for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        shutil.copy(base[0] / name, mismatched / name)
    with pytest.raises(W.WhisperError) as error:
        W.load_whisper(mismatched)
    assert str(error.value).startswith(f"The checkpoint {mismatched} does not match its tokenizer: the model has "
                                       f"{model.config.vocab_size} tokens and the tokenizer 51865")
    assert all("\n" not in str(e) for e in [error.value])


def test_auto_in_quick_takes_whisper_base_within_the_cpu_budget(hub):
    from hw5lib.chapters import q3_whisper as chapter

    quick = chapter.CHAPTER.resolve("quick", {"sentences": 20})
    assert quick.model_name_or_path == W.AUTO
    choice, within = chapter.choose_model(quick, "cpu")
    assert choice.name == W.BASE and "Hugging Face cache" in choice.why["en"] and "budget" in choice.why["en"]
    budget = chapter.CPU_BUDGET
    assert (within.epochs, within.learning_rate, within.dropout, within.voices) == (
        budget.epochs, budget.learning_rate, budget.dropout, budget.voices)
    assert within.sentences == 20  # what the reader gave is kept
    on_gpu, as_given = chapter.choose_model(quick, "cuda:0")
    assert as_given is quick and "budget" not in on_gpu.why["en"]


@pytest.mark.slow
def test_the_full_profile_runs_end_to_end_through_the_hub_id_at_a_reduced_size(base, tmp_path):
    """Every parameter of ``full`` but the sizes, whisper-base through its hub id from the cache."""
    import json
    import os
    import subprocess
    import sys

    sizes = {"sentences": 12, "voices": 1, "epochs": 0.25, "batch_size": 2, "eval_every": 1}  # one step of two clips
    arguments = [item for name, value in sizes.items() for item in ("-p", name, str(value))]
    environment = {**os.environ, "HF_HUB_CACHE": str(base[1]), "HF_HUB_OFFLINE": "1",
                   "HW5LIB_CACHE": str(tmp_path / "cache")}
    ran = subprocess.run([sys.executable, "-m", "hw5lib", "run", "q3_whisper", "--profile", "full", "--quiet",
                          "--output", str(tmp_path / "runs"), *arguments, "-p", "device", "cpu"],
                         capture_output=True, text=True, env=environment, timeout=1200)
    assert ran.returncode == 0, ran.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()
    saved = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert saved["parameters"]["model_name_or_path"] == W.BASE and saved["parameters"]["learning_rate"] == 1e-5
    assert saved["data"]["model"] == W.BASE and "as the `model_name_or_path` parameter asked" in \
        saved["data"]["model_choice"]
    keys = {metric["key"] for metric in saved["metrics"]}
    assert {"fa_detected_language", "zh_translation_wer", "wer_after_test", "strategy_scratch_wer"} <= keys
    trained = list((tmp_path / "cache" / "checkpoints" / "whisper").glob("*/full/checkpoint-*/model.safetensors"))
    assert trained, "fine-tuning whisper-base wrote its checkpoints"
