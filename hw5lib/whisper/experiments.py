"""The Whisper chapter's experiments: data roles, the tiny model's pre-training, fine-tuning runs,
and the scores and tables computed from them (the chapter's words and figures are in
``hw5lib.chapters.q3_whisper``).

Roles. The offline corpus is spoken by ``SOURCE_VOICES`` + ``voices`` Persian voices. The first
``SOURCE_VOICES`` voices (with the Mandarin clips) are the *source*: what the tiny model is
pre-trained on, our stand-in for OpenAI's pre-training. The other voices are the *target*: the
Persian data set of the report's part (d), to fine-tune on, whose test sentences neither stage
ever hears. A user's own folder (the report's format or Common Voice) replaces the target.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from hw5lib.data import speech as corpus, textnorm
from hw5lib.whisper import model as W
from hw5lib.data.audio import cache_root, load_audio
from hw5lib.data.speech import Utterance
from hw5lib.torchutil import count_parameters

SOURCE_VOICES = 2
# pre-training hears every Mandarin clip this many times an epoch: there are a few dozen of them
# against hundreds of Persian ones, and the report's sentence must be translated from them alone
TRANSLATION_REPEATS = 3


@dataclass
class SpeechData:
    """Utterances, their audio, and where they came from."""
    utterances: list[Utterance]
    audio: list[np.ndarray]
    source: str      # a name for the reader
    synthetic: bool
    layout: str

    def pick(self, split: str | None = None, language: str | None = None) -> list[int]:
        return [i for i, u in enumerate(self.utterances)
                if (split is None or u.split == split) and (language is None or u.language == language)]

    def subset(self, indices: Sequence[int]) -> "SpeechData":
        return SpeechData([self.utterances[i] for i in indices], [self.audio[i] for i in indices], self.source,
                          self.synthetic, self.layout)

    def describe(self) -> dict:
        counts = {split: len(self.pick(split)) for split in corpus.SPLITS}
        return {"name": self.source, "source": self.source, "synthetic": self.synthetic, "layout": self.layout,
                "kind": "speech", "clips": len(self.utterances),
                "speakers": len({u.speaker for u in self.utterances}), **counts}


def load_speech(data: str, sentences: int, voices: int, seed: int = 0,
                progress: bool = False) -> tuple[SpeechData, SpeechData]:
    """(source, target): the synthetic source, and the target (synthetic, or the folder ``data``)."""
    folder = corpus.synthesize_corpus(sentences=sentences, voices=SOURCE_VOICES + voices, seed=seed, progress=progress)
    layout, utterances = corpus.load_transcribed(folder)
    source_names = {name for name, *_ in corpus.PERSIAN_VOICES[:SOURCE_VOICES]}
    is_source = [u.language != "fa" or u.speaker in source_names for u in utterances]
    everything = SpeechData(utterances, corpus.read_audio(utterances, progress), "synthetic (espeak-ng)", True, layout)
    source = everything.subset([i for i, s in enumerate(is_source) if s])
    if data == "synthetic":
        return source, everything.subset([i for i, s in enumerate(is_source) if not s])
    layout, utterances = corpus.load_transcribed(data, seed=seed)
    return source, SpeechData(utterances, corpus.read_audio(utterances, progress), str(data), False, layout)


def pretraining_plan(epochs: float, batch_size: int, seed: int = 0) -> W.TrainingPlan:
    """The tiny model's pre-training recipe: from random weights, so a high learning rate; no
    validation, so checkpoints only every 200 steps; dropout 0.1, so that the decoder does not learn
    the few Mandarin sentences by heart (the report's sentence is a new pair of known halves)."""
    return W.TrainingPlan(epochs=epochs, learning_rate=1e-3, batch_size=batch_size, eval_every=200, dropout=0.1,
                          seed=seed)


def fine_tuning_plan(epochs: float, learning_rate: float, batch_size: int, eval_every: int, dropout: float,
                     seed: int = 0) -> W.TrainingPlan:
    """Fine-tuning's plan: the learning rate warms up over 50 steps, or until the first validation
    when that comes sooner."""
    return W.TrainingPlan(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, eval_every=eval_every,
                          warmup_steps=min(50, eval_every), dropout=dropout, seed=seed)


def starting_checkpoint(model: str, source: SpeechData, plan: W.TrainingPlan, device: str | None = None) -> str | Path:
    """What fine-tuning starts from: for ``W.TINY`` the tiny Whisper pre-trained here on ``source``
    under ``plan`` (:func:`pretrain_tiny`), else ``model`` itself (a checkpoint folder or a hub id)."""
    if model == W.TINY:
        return pretrain_tiny(source, W.TinySpec(), plan, device=device)
    return model


def pretrain_tiny(source: SpeechData, spec: W.TinySpec, plan: W.TrainingPlan, progress: bool = False,
                  folder=None, device: str | None = None) -> Path:
    """Build the tiny Whisper and pre-train it on the source's training split (Persian transcription
    and Mandarin-to-English translation); return the checkpoint folder. Made once per machine for
    the same data, shape and plan (cached like the corpus); a killed run resumes."""
    train = source.pick("train")
    train += [i for i in train if source.utterances[i].task == "translate"] * (TRANSLATION_REPEATS - 1)
    key = _key([(str(u.path.name), u.target, u.task) for u in source.utterances], asdict(spec), asdict(plan))
    folder = Path(folder) if folder is not None else cache_root() / "whisper-tiny" / key
    if (folder / "config.json").is_file():
        return folder
    model, processor = W.build_tiny([source.utterances[i].target for i in source.pick("train")], spec, seed=plan.seed)
    mel = W.features(source.audio, processor.feature_extractor, progress=progress)
    dataset = W.SpeechDataset(mel[train], [source.utterances[i] for i in train], processor.tokenizer,
                              spec.max_target_tokens)
    validation = [i for i in source.pick("validation", "fa")][:64]
    held = W.SpeechDataset(mel[validation], [source.utterances[i] for i in validation], processor.tokenizer,
                           spec.max_target_tokens)
    work = folder.parent / f".{folder.name}.training"
    model, _ = W.fine_tune(model, processor, dataset, held, work, plan, progress=progress, evaluate=False,
                           device=device)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    model.generation_config.language = model.generation_config.task = None
    with W.quiet_transformers():  # no "Writing model shards" bar on stderr
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
    staging.rename(folder)
    shutil.rmtree(work, ignore_errors=True)
    return folder


def checkpoint_folder(model: str | Path, train: SpeechData, plan: W.TrainingPlan, strategy: str) -> Path:
    """Where a fine-tuning run keeps its checkpoints: in the cache, under a key of the starting
    model, the training clips and the plan, so that running the chapter again after a kill resumes
    (and after a finished run, reads the result back)."""
    key = _key(str(model), [(u.path.name, u.target) for u in train.utterances], asdict(plan))
    return cache_root() / "checkpoints" / "whisper" / key / strategy


@dataclass
class Tuner:
    """Fine-tunes copies of one checkpoint under each transfer-learning strategy on the same data
    and plan, keeping each run's log, trainable-parameter count and model in ``runs``. Checkpoints
    go to :func:`checkpoint_folder`, so a killed chapter resumes where it stopped."""
    checkpoint: str | Path
    processor: object
    train: SpeechData
    validation: SpeechData
    mel_train: np.ndarray
    mel_validation: np.ndarray
    plan: W.TrainingPlan
    max_target_tokens: int  # the model's max_target_positions
    device: str = "cpu"

    def __post_init__(self):
        self.datasets = [W.SpeechDataset(mel, data.utterances, self.processor.tokenizer, self.max_target_tokens)
                         for mel, data in ((self.mel_train, self.train), (self.mel_validation, self.validation))]
        self.runs: dict[str, dict] = {}

    def tune(self, strategy: str):
        model = W.freeze(W.load_whisper(self.checkpoint, self.device)[0], strategy, seed=self.plan.seed)
        trainable = count_parameters(model)
        folder = checkpoint_folder(self.checkpoint, self.train, self.plan, strategy)
        model, log = W.fine_tune(model, self.processor, *self.datasets, folder, self.plan, progress=False,
                                 device=self.device)
        self.runs[strategy] = {"log": log, "trainable": trainable, "model": model}
        return model


def _training_code() -> str:
    """A digest of the code that trains: the model module (building, fine-tuning, and the WER that
    a finished run's log keeps), the corpus and text normalisation, and this module's data roles,
    recipes, pre-training and tuner. The scores and tables below it do not count."""
    modules = [Path(module.__file__).read_text() for module in (W, corpus, textnorm)]
    here = [inspect.getsource(code) for code in (SpeechData, load_speech, pretraining_plan, fine_tuning_plan,
                                                 pretrain_tiny, Tuner)]
    return hashlib.sha256("\n".join([*modules, *here, f"SOURCE_VOICES = {SOURCE_VOICES}",
                                           f"TRANSLATION_REPEATS = {TRANSLATION_REPEATS}"]).encode()).hexdigest()[:12]


# a cached model or checkpoint made by other training code is not read back or resumed
_CODE = _training_code()


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([_CODE, *parts], sort_keys=True, default=str,
                                     ensure_ascii=False).encode()).hexdigest()[:16]


# --- scores and tables ---------------------------------------------------------------------------

def report_clip(reference: str, data: SpeechData, own: str, feature_extractor) -> tuple[np.ndarray, str]:
    """Features of the user's recording ``own`` when given, else of the first test clip of ``data``
    whose target is ``reference``; and where it came from (the file, or the voice)."""
    if own:
        return W.features([load_audio(own, corpus.SAMPLE_RATE)], feature_extractor, cache=False), own
    found = [i for i, u in enumerate(data.utterances) if u.target == reference and u.split == "test"]
    if not found:
        raise W.WhisperError(f"No test clip of {data.source} says {reference!r}; give a recording of it instead.")
    return W.features([data.audio[found[0]]], feature_extractor, cache=False), data.utterances[found[0]].speaker


def split_scores(model, processor, mel: np.ndarray, data: SpeechData, language: str | None = "fa") -> dict:
    """``W.evaluate`` on every split of ``data`` (``mel`` holds its features in order), and on all
    of them pooled from the same outputs (no clip is transcribed twice)."""
    index = {split: data.pick(split) for split in corpus.SPLITS}
    found = {split: W.evaluate(model, processor, mel[index[split]], [data.utterances[i] for i in index[split]],
                               language=language)
             for split in corpus.SPLITS}
    order = [i for split in corpus.SPLITS for i in index[split]]
    outputs = [text for split in corpus.SPLITS for text in found[split]["outputs"]]
    found["all"] = textnorm.error_rates([data.utterances[i].target for i in order], outputs, "fa")
    return found


def score_runs(runs: dict[str, dict], processor, mel: np.ndarray, utterances: Sequence[Utterance],
               known: dict[str, dict] | None = None) -> dict[str, dict]:
    """``W.evaluate`` of each run's model (``Tuner.runs``) on ``mel`` and its ``utterances``; a run
    named in ``known`` keeps the scores given there and is not transcribed again."""
    known = known or {}
    return {name: known[name] if name in known else W.evaluate(run["model"], processor, mel, utterances)
            for name, run in runs.items()}


def strategy_table(runs: dict[str, dict], scores: dict[str, dict]) -> pd.DataFrame:
    """One row per run, in the order run: strategy, trainable parameters, and its WER and CER from
    ``scores`` (:func:`score_runs`)."""
    return pd.DataFrame([[name, run["trainable"], scores[name]["wer"], scores[name]["cer"]]
                         for name, run in runs.items()], columns=["strategy", "trainable", "wer", "cer"])


def transfer_gain(table: pd.DataFrame) -> dict:
    """What pre-training bought, from a :func:`strategy_table`: ``gain``, the WER of training from
    scratch minus that of full fine-tuning (positive: pre-training helped), and ``best``, the
    strategy with the lowest WER."""
    by = table.set_index("strategy")
    return {"gain": float(by.loc["scratch", "wer"] - by.loc["full", "wer"]), "best": by["wer"].idxmin()}


def training_table(log: list[dict]) -> pd.DataFrame:
    """The report's Table 2 from a trainer's history: step, training loss (the last logged before
    the evaluation), validation loss, WER."""
    rows, last_loss = [], float("nan")
    for entry in log:
        if "loss" in entry:
            last_loss = entry["loss"]
        if "eval_wer" in entry:
            rows.append({"step": int(entry["step"]), "training loss": last_loss, "validation loss": entry["eval_loss"],
                         "WER": entry["eval_wer"]})
    return pd.DataFrame(rows, columns=["step", "training loss", "validation loss", "WER"])


def loss_curve(log: list[dict]) -> pd.DataFrame:
    """The training loss the trainer logged, against the step."""
    return pd.DataFrame([(e["step"], e["loss"]) for e in log if "loss" in e], columns=["step", "loss"])


def detection_share(forced: dict, detected: dict, language: str = "fa") -> dict:
    """How much of the error comes from language detection: the share of clips detected as another
    language, and the share of the detected-language WER that forcing ``language`` removes."""
    wrong = float(np.mean([code != language for code in detected["languages"]])) if detected["languages"] else 0.0
    extra = detected["wer"] - forced["wer"]
    return {"wrong_language": wrong, "share_of_wer": max(0.0, extra) / detected["wer"] if detected["wer"] > 0 else 0.0}
