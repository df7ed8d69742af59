"""The Whisper chapter's experiments: data roles, the tiny model's pre-training, fine-tuning runs,
and the tables and sentences the chapter shows.

Roles. The offline corpus is spoken by ``SOURCE_VOICES`` + ``voices`` Persian voices. The first
``SOURCE_VOICES`` voices (with the Mandarin clips) are the *source*: what the tiny model is
pre-trained on, our stand-in for OpenAI's pre-training. The other voices are the *target*: the
Persian data set of the report's part (d), to fine-tune on, whose test sentences neither stage
ever hears. A user's own folder (the report's format or Common Voice) replaces the target.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from hw5lib.data import speech as corpus
from hw5lib.whisper import model as W
from hw5lib.data.audio import cache_root
from hw5lib.publish.i18n import localise_number
from hw5lib.data.speech import Utterance
from hw5lib.torchutil import count_parameters

SOURCE_VOICES = 2


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
        return {"name": self.source, "synthetic": self.synthetic, "layout": self.layout, "clips": len(self.utterances),
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


# the code that trains: a cached model or checkpoint made by other code is not read back or resumed
_CODE = hashlib.sha256(b"".join(Path(module.__file__).read_bytes() for module in (W, corpus))
                       + Path(__file__).read_bytes()).hexdigest()[:12]


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([_CODE, *parts], sort_keys=True, default=str,
                                     ensure_ascii=False).encode()).hexdigest()[:16]


def pretrain_tiny(source: SpeechData, spec: W.TinySpec, plan: W.TrainingPlan, progress: bool = False,
                  folder=None, device: str | None = None) -> Path:
    """Build the tiny Whisper and pre-train it on the source's training split (Persian transcription
    and Mandarin-to-English translation); return the checkpoint folder. Made once per machine for
    the same data, shape and plan (cached like the corpus); a killed run resumes."""
    train = source.pick("train")
    key = _key([(str(u.path.name), u.target, u.task) for u in source.utterances], asdict(spec), asdict(plan))
    folder = Path(folder) if folder is not None else cache_root() / "whisper-tiny" / key
    if (folder / "config.json").is_file():
        return folder
    model, processor = W.build_tiny([source.utterances[i].target for i in train], spec, seed=plan.seed)
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


def report_clip(reference: str, data: SpeechData, own: str, feature_extractor) -> tuple[np.ndarray, str]:
    """Features of the user's recording ``own`` when given, else of the first test clip of ``data``
    whose target is ``reference``; and where it came from (the file, or the voice)."""
    from hw5lib.data.audio import load_audio

    if own:
        return W.features([load_audio(own, corpus.SAMPLE_RATE)], feature_extractor, cache=False), own
    found = [i for i, u in enumerate(data.utterances) if u.target == reference and u.split == "test"]
    if not found:
        raise W.WhisperError(f"No test clip of {data.source} says {reference!r}; give a recording of it instead.")
    return W.features([data.audio[found[0]]], feature_extractor, cache=False), data.utterances[found[0]].speaker


def split_scores(model, processor, mel: np.ndarray, data: SpeechData, language: str | None = "fa") -> dict:
    """``W.evaluate`` on every split of ``data`` (``mel`` holds its features in order), and on all
    of them pooled from the same outputs (no clip is transcribed twice)."""
    from hw5lib.data.textnorm import error_rates

    index = {split: data.pick(split) for split in corpus.SPLITS}
    found = {split: W.evaluate(model, processor, mel[index[split]], [data.utterances[i] for i in index[split]],
                               language=language)
             for split in corpus.SPLITS}
    order = [i for split in corpus.SPLITS for i in index[split]]
    outputs = [text for split in corpus.SPLITS for text in found[split]["outputs"]]
    found["all"] = error_rates([data.utterances[i].target for i in order], outputs, "fa")
    return found


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


# --- the chapter's tables and sentences -----------------------------------------------------------

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
    return pd.DataFrame([(e["step"], e["loss"]) for e in log if "loss" in e], columns=["step", "loss"])


def detection_share(forced: dict, detected: dict, language: str = "fa") -> dict:
    """How much of the error comes from language detection: the share of clips detected as another
    language, and the share of the detected-language WER that forcing ``language`` removes."""
    wrong = float(np.mean([code != language for code in detected["languages"]])) if detected["languages"] else 0.0
    extra = detected["wer"] - forced["wer"]
    return {"wrong_language": wrong, "share_of_wer": max(0.0, extra) / detected["wer"] if detected["wer"] > 0 else 0.0}


def transfer_finding(table: pd.DataFrame) -> dict:
    """The strategies' verdict in both languages, from a table with 'strategy', 'trainable' and 'wer'."""
    by = table.set_index("strategy")
    best = by["wer"].idxmin()
    gain = by.loc["scratch", "wer"] - by.loc["full", "wer"]
    names_en = {"full": "full fine-tuning", "top_layers": "tuning only the top layers",
                "frozen_encoder": "the frozen encoder", "scratch": "training from scratch"}
    names_fa = {"full": "تنظیم دقیق کامل", "top_layers": "تنظیم تنها لایه‌های بالایی",
                "frozen_encoder": "رمزگذار منجمد", "scratch": "آموزش از صفر"}
    if gain > 0:
        en = (f"Starting from the pre-trained weights beat training from scratch by {gain:.2f} in WER for the same "
              f"steps; the best strategy here was {names_en[best]}.")
        fa = (f"شروع از وزن‌های پیش‌آموزش‌دیده در گام‌های برابر، WER را {localise_number(f'{gain:.2f}', 'fa')} کمتر از "
              f"آموزش از صفر کرد؛ بهترین راهبرد در این اجرا {names_fa[best]} بود.")
    else:
        full, scratch = f"{by.loc['full', 'wer']:.2f}", f"{by.loc['scratch', 'wer']:.2f}"
        en = (f"Here the pre-trained weights did not beat training from scratch (WER {full} against {scratch}); "
              "with so little fine-tuning the comparison is too noisy.")
        fa = (f"در این اجرا وزن‌های پیش‌آموزش‌دیده از آموزش از صفر بهتر نبودند (WER {localise_number(full, 'fa')} در برابر "
              f"{localise_number(scratch, 'fa')})؛ با این اندازه تنظیم، مقایسه پرنوسان است.")
    return {"en": en, "fa": fa, "gain": float(gain), "best": best}


def plot_training(runs: dict[str, list[dict]]):
    """Training loss and validation WER against the step, one line per run (label: a strategy name)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for label, log in runs.items():
        curve, table = loss_curve(log), training_table(log)
        line, = left.plot(curve["step"], curve["loss"], label=label.replace("_", " "), lw=1.2)
        if len(table):
            right.plot(table["step"], table["WER"], "o-", color=line.get_color(), label=label, ms=3)
    left.set_xlabel("step")
    left.set_ylabel("training loss")
    left.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel("validation WER")
    right.set_ylim(0, 1.05)  # an untrained model's repetitions reach WERs of 10 and more
    left.legend(fontsize=7)
    fig.tight_layout()
    return fig


def data_sentences(target: SpeechData, pretrained_on: int | None) -> dict[str, str]:
    """What the target data are and what the model heard before, in both languages: the synthetic
    corpus's guarantees hold only for it, and only the tiny model was pre-trained here."""
    if target.synthetic:
        en = ("The sentences come from a small Persian grammar (with subject–verb agreement) and are spoken by "
              "several espeak-ng voices at varied rates and pitches with noise; test sentences are heard neither in "
              "pre-training nor in fine-tuning, and the target voices are not in pre-training.")
        fa = ("جمله‌ها از یک دستور زبان کوچک فارسی (با مطابقت فعل و فاعل) ساخته و با چند صدای espeak-ng با سرعت، "
              "زیر و بمی و نوفهٔ گوناگون گفته شده‌اند؛ جمله‌های آزمون نه در پیش‌آموزش شنیده می‌شوند و نه در تنظیم "
              "دقیق، و صداهای هدف در پیش‌آموزش نیستند.")
    else:
        en = (f"The recordings are your folder ({target.layout} layout); test sentences are never trained on "
              "(Common Voice's own split, or a split here by sentence).")
        fa = (f"ضبط‌ها از پوشهٔ خودتان است (قالب {target.layout})؛ روی جمله‌های آزمون هرگز آموزش داده نمی‌شود (تقسیم "
              "خودِ Common Voice، یا تقسیمی که این‌جا بر پایهٔ جمله انجام می‌شود).")
    if pretrained_on is not None:
        en += (f" The tiny model was pre-trained here on {pretrained_on} source clips (two other Persian voices, and "
               "Chinese sentences with their English translations).")
        fa += (f" مدل کوچک این‌جا روی {localise_number(str(pretrained_on), 'fa')} گفتهٔ مبدأ پیش‌آموزش دید (دو صدای "
               "دیگر فارسی، و جمله‌های چینی با ترجمهٔ انگلیسی‌شان).")
    else:
        en += " The model's own pre-training is its authors' (for Whisper: 680,000 hours of web audio)."
        fa += " پیش‌آموزش مدل کار سازندگان آن است (برای Whisper: ۶۸۰ هزار ساعت صدای وب)."
    return {"en": en, "fa": fa}
