"""Whisper through the Hugging Face classes: a real checkpoint when given, a tiny one built here when not.

A real checkpoint is a hub id (``openai/whisper-base``, when online) or a local folder. The offline
default is a tiny Whisper that :func:`build_tiny` makes from the same classes — a
``WhisperFeatureExtractor`` with a short window, a ``WhisperTokenizer`` on a byte-level BPE trained
on the corpus plus Whisper's special tokens (every language token, in ``LANGUAGES`` order right after
``<|startoftranscript|>``, because the tokenizer computes a language's id from its position), a
``WhisperConfig`` and a ``GenerationConfig`` with ``lang_to_id`` / ``task_to_id`` — so that
``generate(language=..., task=...)``, language detection, ``Seq2SeqTrainer`` and ``save_pretrained``
work on it exactly as on whisper-base.

Fine-tuning (:func:`fine_tune`) is ``Seq2SeqTrainer``: evaluation every N steps with WER, safetensors
checkpoints it resumes from after a kill, mixed precision on a GPU, and several processes under
``accelerate launch`` / ``torchrun`` (the trainer reads them from the environment).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from hw5lib.data.audio import cache_root, load_cached_array, save_cached_array
from hw5lib.progress import progress as progress_bar
from hw5lib.data.speech import SAMPLE_RATE, Utterance
from hw5lib.data.textnorm import error_rates

__all__ = [
    "WhisperError", "TinySpec", "build_tokenizer", "build_tiny", "load_whisper", "features", "SpeechDataset",
    "Collator", "transcribe", "evaluate", "STRATEGIES", "freeze", "fine_tune",
    "TrainingPlan", "TINY", "AUTO", "BASE", "ModelChoice", "resolve_model", "download_model", "hub_cached",
]

TINY = "tiny"  # the model_name_or_path that asks for the tiny model built and pre-trained here
AUTO = "auto"  # whisper-base where it can be had, else the tiny model
BASE = "openai/whisper-base"  # the report's model
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TASKS = ("transcribe", "translate")


class WhisperError(ValueError):
    """A model cannot be loaded or used as asked; the message says which and what to do."""


@contextlib.contextmanager
def quiet_transformers():
    """transformers' advice to library users (on stderr) silenced while hw5lib calls it as documented."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging

    level, bars_off = logging.get_verbosity(), are_progress_bars_disabled()
    logging.set_verbosity_error()
    disable_progress_bars()
    logging.disable_progress_bar()  # "Writing model shards" on every checkpoint
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if not bars_off:
            enable_progress_bars()
            logging.enable_progress_bar()


def _languages() -> tuple[str, ...]:
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return tuple(LANGUAGES)


def special_tokens() -> list[str]:
    """Whisper's special tokens in the order of the real vocabulary (timestamps left out)."""
    return ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{code}|>" for code in _languages()], "<|translate|>",
            "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]


@dataclass(frozen=True)
class TinySpec:
    """The tiny Whisper's shape. 6 s windows: 300 mel frames (a frame every 20 ms, half Whisper's
    rate: the encoder's cost halves, and it still has 25 positions a second), 150 encoder positions."""
    d_model: int = 128
    encoder_layers: int = 2
    decoder_layers: int = 2
    heads: int = 4
    ffn: int = 512
    seconds: int = 6
    mel_bins: int = 80
    bpe_vocabulary: int = 600
    max_target_tokens: int = 96
    hop_length: int = 320  # samples between mel frames (Whisper's: 160, 100 frames a second)

    @property
    def frames(self) -> int:
        """Mel frames in the window (the encoder's positions are half as many)."""
        return self.seconds * SAMPLE_RATE // self.hop_length

    def __post_init__(self):
        if self.d_model % self.heads:
            raise WhisperError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads}).")
        if not 1 <= self.seconds <= 30:
            raise WhisperError(f"The window must be 1 to 30 seconds, got {self.seconds}.")


def build_tokenizer(texts: Sequence[str], vocabulary: int = 600):
    """A ``WhisperTokenizer`` whose byte-level BPE is trained on ``texts`` (up to ``vocabulary``
    tokens besides the 256 bytes), with Whisper's special tokens after it in Whisper's order."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AddedToken, WhisperTokenizer

    if not texts:
        raise WhisperError("The tokenizer needs some text to learn its vocabulary from.")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=256 + vocabulary, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(texts, trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    tokenizer = WhisperTokenizer(vocab=state["vocab"], merges=merges, pad_token="<|endoftext|>")
    specials = special_tokens()
    tokenizer.add_tokens([AddedToken(token, special=True, normalized=False) for token in specials], special_tokens=True)
    ids = tokenizer.convert_tokens_to_ids(specials)
    assert ids == list(range(ids[0], ids[0] + len(specials))), "Whisper's special tokens must be consecutive"
    return tokenizer


def _generation_config(tokenizer, max_length: int):
    from transformers import GenerationConfig

    token = tokenizer.convert_tokens_to_ids
    eot = token("<|endoftext|>")
    return GenerationConfig(
        decoder_start_token_id=token("<|startoftranscript|>"), bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        max_length=max_length, is_multilingual=True, no_timestamps_token_id=token("<|notimestamps|>"),
        lang_to_id={f"<|{code}|>": token(f"<|{code}|>") for code in _languages()},
        task_to_id={task: token(f"<|{task}|>") for task in TASKS}, begin_suppress_tokens=[eot], suppress_tokens=[],
        forced_decoder_ids=None)


def build_tiny(texts: Sequence[str], spec: TinySpec = TinySpec(), seed: int = 0):
    """An untrained tiny Whisper and its processor: (model, processor)."""
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor

    tokenizer = build_tokenizer(texts, spec.bpe_vocabulary)
    extractor = WhisperFeatureExtractor(feature_size=spec.mel_bins, sampling_rate=SAMPLE_RATE,
                                        hop_length=spec.hop_length, chunk_length=spec.seconds, n_fft=400)
    token = tokenizer.convert_tokens_to_ids
    eot = token("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=spec.mel_bins, d_model=spec.d_model,
        encoder_layers=spec.encoder_layers, decoder_layers=spec.decoder_layers,
        encoder_attention_heads=spec.heads, decoder_attention_heads=spec.heads, encoder_ffn_dim=spec.ffn,
        decoder_ffn_dim=spec.ffn, max_source_positions=spec.frames // 2, max_target_positions=spec.max_target_tokens,
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, decoder_start_token_id=token("<|startoftranscript|>"),
        begin_suppress_tokens=[eot], suppress_tokens=[])
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = _generation_config(tokenizer, spec.max_target_tokens)
    return model, WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers at all (honouring HF_HUB_OFFLINE and HF_ENDPOINT), so that
    an offline machine gets its answer in seconds instead of after the hub client's retries."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_cached(repo_id: str) -> bool:
    """Whether the local hub cache holds ``repo_id``'s config and weights (no network is asked)."""
    from huggingface_hub import try_to_load_from_cache

    def cached(name: str) -> bool:
        return isinstance(try_to_load_from_cache(repo_id, name), str)

    return cached("config.json") and any(cached(name) for name in WEIGHT_FILES)


@dataclass(frozen=True)
class ModelChoice:
    """The model a chapter runs (``name``: ``tiny``, a hub id or a folder) and why, in both languages."""
    name: str
    why: dict

    @property
    def tiny(self) -> bool:
        return self.name == TINY


def resolve_model(name_or_path: str, download=None) -> ModelChoice:
    """What ``model_name_or_path`` asks for. ``auto`` is :data:`BASE` when the hub cache holds it, or
    when the hub answers within seconds and the download (``download``: ``snapshot_download`` of the
    files a checkpoint needs) succeeds; otherwise the tiny model, with the reason."""
    if name_or_path != AUTO:
        asked = {"fa": f"`{name_or_path}`، همان که پارامتر `model_name_or_path` خواست",
                 "en": f"`{name_or_path}`, as the `model_name_or_path` parameter asked"}
        return ModelChoice(name_or_path, asked)
    if hub_cached(BASE):
        return ModelChoice(BASE, {"fa": f"`{BASE}`، که در حافظهٔ نهان Hugging Face این ماشین بود (`auto`)",
                                  "en": f"`{BASE}`, found in this machine's Hugging Face cache (`auto`)"})
    if _hub_reachable():
        try:
            (download or download_model)(BASE)
            return ModelChoice(BASE, {"fa": f"`{BASE}`، که از هاب Hugging Face بارگیری شد (`auto`)",
                                      "en": f"`{BASE}`, downloaded from the Hugging Face hub (`auto`)"})
        except Exception as error:  # any failure of the download: the tiny model, and the page says why
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            return ModelChoice(TINY, {
                "fa": f"مدل کوچک `tiny`: بارگیری `{BASE}` از هاب شکست خورد ({reason})",
                "en": f"the tiny model: downloading `{BASE}` from the hub failed ({reason})"})
    return ModelChoice(TINY, {
        "fa": f"مدل کوچک `tiny`: `{BASE}` در حافظهٔ نهان Hugging Face نیست و هاب از این‌جا در دسترس نیست (`auto`)",
        "en": f"the tiny model: `{BASE}` is not in the Hugging Face cache and the hub cannot be reached from here "
              "(`auto`)"})


def download_model(repo_id: str = BASE) -> None:
    """The files a checkpoint needs (config, tokenizer, weights) into the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    snapshot_download(repo_id, allow_patterns=["*.json", "*.txt", "model.safetensors"])


def _check_checkpoint_folder(path: Path) -> None:
    """A local folder must hold a config and weights; say which is missing before loading."""
    if not path.is_dir() or not (path / "config.json").is_file():
        raise WhisperError(f"{path} is not a Whisper checkpoint: a checkpoint is a folder with config.json, the "
                           "weights (model.safetensors) and the processor files that save_pretrained writes.")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise WhisperError(f"{path} holds a configuration but no weights (none of {', '.join(WEIGHT_FILES)}): "
                           "save the model there with save_pretrained, or give another folder.")


def _check_vocabulary(model, processor, source: str) -> None:
    """The decoder's vocabulary and the tokenizer's must be the same size: token ids index the
    embedding, and a mismatch writes nonsense or fails mid-training."""
    vocabulary, tokens = model.config.vocab_size, len(processor.tokenizer)
    if vocabulary != tokens:
        raise WhisperError(f"The checkpoint {source} does not match its tokenizer: the model has {vocabulary} tokens "
                           f"and the tokenizer {tokens}; save the model and the processor together "
                           "(save_pretrained of both into one folder).")


def load_whisper(name_or_path: str, device: str = "cpu"):
    """(model, processor) from a hub id or a local checkpoint folder, with one clear sentence when
    neither works (a folder that is not a checkpoint or has no weights, an unknown id, no network,
    a model whose vocabulary is not its tokenizer's)."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    path = Path(str(name_or_path)).expanduser()
    if path.exists():
        _check_checkpoint_folder(path)
        source = str(path)
    elif str(name_or_path).count("/") == 1 and not str(name_or_path).startswith((".", "/", "~")):
        source = str(name_or_path)
    else:
        raise WhisperError(f"model_name_or_path {name_or_path!r} is neither a folder nor a hub id like "
                           "openai/whisper-base; give one of those, or 'tiny' for the model built offline here.")
    try:  # the local folder, or the hub's cache: no network
        with quiet_transformers():  # no "Loading weights" bar on stderr for every load
            processor = WhisperProcessor.from_pretrained(source, local_files_only=True)
            model = WhisperForConditionalGeneration.from_pretrained(source, local_files_only=True)
    except OSError as error:
        if path.exists():
            raise WhisperError(f"Cannot load the Whisper checkpoint in {path}: {str(error).splitlines()[0]}") from None
        if not _hub_reachable():
            raise WhisperError(f"Cannot load the Whisper model {name_or_path!r}: it is not in the Hugging Face cache "
                               "and the hub cannot be reached from here (offline?); download it once on a machine "
                               "that is online, or give a local checkpoint folder, or use 'tiny'.") from None
        try:
            processor = WhisperProcessor.from_pretrained(source)
            model = WhisperForConditionalGeneration.from_pretrained(source)
        except OSError as error:
            raise WhisperError(f"Cannot load the Whisper model {name_or_path!r} from the Hugging Face hub (is the id "
                               f"right?): {str(error).splitlines()[0]}") from None
    _check_vocabulary(model, processor, source)
    return model.to(device).eval(), processor


# --- features and data -------------------------------------------------------------------------

def features(audio: Sequence[np.ndarray], extractor, cache: bool = True, progress: bool = True) -> np.ndarray:
    """Log-mel features of every clip, (clips, mel bins, frames) float16, computed once and cached
    on disk under a key of the samples and the extractor's settings. Clips longer than the window
    are cut (Whisper's own behaviour); :func:`truncated` counts them."""
    settings = json.dumps(extractor.to_dict(), sort_keys=True, default=str)
    digest = hashlib.sha256(settings.encode())
    for clip in audio:
        digest.update(np.ascontiguousarray(clip, dtype=np.float32).tobytes())
    path = cache_root() / "whisper-features" / f"{digest.hexdigest()[:24]}.npy"
    cached = load_cached_array(path) if cache else None
    if cached is not None:
        return cached
    batches = [audio[i:i + 64] for i in range(0, len(audio), 64)]
    result = np.concatenate([
        extractor(list(batch), sampling_rate=SAMPLE_RATE, return_tensors="np").input_features.astype(np.float16)
        for batch in progress_bar(batches, progress and len(batches) > 2, "log-mel features")])
    if cache:
        save_cached_array(path, result)
    return result


def truncated(audio: Sequence[np.ndarray], extractor) -> int:
    """How many clips are longer than the extractor's window (and so are cut)."""
    return sum(len(clip) > extractor.n_samples for clip in audio)


def label_ids(tokenizer, utterance: Utterance) -> list[int]:
    """What the decoder learns to write: language, task, no-timestamps, the text, end of text
    (``<|startoftranscript|>`` is the decoder's start token, added by the model's shift)."""
    token = tokenizer.convert_tokens_to_ids
    if utterance.task not in TASKS:
        raise WhisperError(f"{utterance.path}: task must be transcribe or translate, got {utterance.task!r}.")
    language = token(f"<|{utterance.language}|>")
    if language == tokenizer.unk_token_id:
        raise WhisperError(f"{utterance.path}: {utterance.language!r} is not a Whisper language code.")
    text = tokenizer.encode(" " + utterance.target.strip(), add_special_tokens=False)
    return [language, token(f"<|{utterance.task}|>"), token("<|notimestamps|>"), *text, tokenizer.eos_token_id]


class SpeechDataset(torch.utils.data.Dataset):
    """Features and label ids, one utterance per item, as ``Seq2SeqTrainer`` takes them."""

    def __init__(self, mel: np.ndarray, utterances: Sequence[Utterance], tokenizer, max_tokens: int):
        assert len(mel) == len(utterances), "one feature matrix per utterance"
        self.mel = mel
        self.labels = [label_ids(tokenizer, u)[:max_tokens] for u in utterances]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"input_features": self.mel[index], "labels": self.labels[index]}


@dataclass
class Collator:
    """Stacks features and pads labels with -100, which the loss ignores."""

    def __call__(self, items: list[dict]) -> dict:
        mel = torch.from_numpy(np.stack([item["input_features"] for item in items]).astype(np.float32))
        longest = max(len(item["labels"]) for item in items)
        labels = torch.full((len(items), longest), -100, dtype=torch.long)
        for row, item in enumerate(items):
            labels[row, :len(item["labels"])] = torch.tensor(item["labels"])
        return {"input_features": mel, "labels": labels}


# --- inference and scoring ---------------------------------------------------------------------

def writing_limit(tokenizer, references: Sequence[str], ceiling: int) -> int:
    """The most tokens worth generating when the answers are ``references``: twice the longest
    one's tokens plus 16, and never more than ``ceiling`` (the model's ``max_length``). A model that
    has not learned to stop (one trained from scratch, early on) would otherwise write ``ceiling``
    tokens for every clip; cut at this limit its output still scores a WER of at least 100%, and an
    evaluation of whisper-base trained from scratch is many times faster."""
    longest = max((len(tokenizer.encode(text, add_special_tokens=False)) for text in references), default=0)
    return min(ceiling, 2 * longest + 16)


@torch.no_grad()
def transcribe(model, processor, mel: np.ndarray, language: str | None = None, task: str = "transcribe",
               batch_size: int = 32, progress: bool = False,
               max_new_tokens: int | None = None) -> tuple[list[str], list[str]]:
    """Greedy outputs for ``mel`` and the language each output was written in (detected by the
    model when ``language`` is None, else the one forced); at most ``max_new_tokens`` tokens each
    (None: the model's ``max_length``)."""
    if task not in TASKS:
        raise WhisperError(f"task must be transcribe or translate, got {task!r}.")
    codes = {processor.tokenizer.convert_tokens_to_ids(f"<|{c}|>"): c for c in _languages()}
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    model.eval()
    texts, languages = [], []
    with quiet_transformers():
        for start in progress_bar(range(0, len(mel), batch_size), progress, "transcribing"):
            batch = torch.from_numpy(np.asarray(mel[start:start + batch_size], dtype=np.float32)).to(device, dtype)
            if language is None:  # Whisper's own detection: the most likely language token after the start
                found = [codes[i] for i in model.detect_language(batch).view(-1).tolist()]
            else:
                found = [language] * len(batch)
            limit = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
            sequences = model.generate(batch, language=found, task=task, **limit)
            texts += [text.strip() for text in processor.tokenizer.batch_decode(sequences, skip_special_tokens=True)]
            languages += found
    return texts, languages


def evaluate(model, processor, mel: np.ndarray, utterances: Sequence[Utterance], language: str | None = "fa",
             batch_size: int = 32) -> dict:
    """WER and CER (normalised and raw) of the model's outputs against the utterances' targets,
    with the outputs and the languages they were written in."""
    task = utterances[0].task if utterances else "transcribe"
    references = [u.target for u in utterances]
    # the decoder's prompt (start, language, task, no timestamps) counts towards max_length
    limit = writing_limit(processor.tokenizer, references, model.generation_config.max_length - 4)
    outputs, languages = transcribe(model, processor, mel, language=language, task=task, batch_size=batch_size,
                                    max_new_tokens=limit)
    lang = "en" if task == "translate" else (utterances[0].language if utterances else "fa")
    normalised, raw = error_rates(references, outputs, lang), error_rates(references, outputs, lang, normalised=False)
    return {"wer": normalised["wer"], "cer": normalised["cer"], "wer_raw": raw["wer"], "cer_raw": raw["cer"],
            "outputs": outputs, "languages": languages}


# --- transfer-learning strategies ----------------------------------------------------------------

STRATEGIES = ("full", "top_layers", "frozen_encoder", "scratch")


def freeze(model, strategy: str, seed: int = 0):
    """The model to train under ``strategy``, with only the parameters it trains left trainable:
    ``full`` all of them; ``top_layers`` the last encoder and the last decoder block and the final
    layer norms; ``frozen_encoder`` the decoder (the encoder is a fixed feature extractor);
    ``scratch`` a new model of the same configuration with random weights (seeded), all trainable."""
    if strategy not in STRATEGIES:
        raise WhisperError(f"Unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    if strategy == "scratch":
        torch.manual_seed(seed)
        fresh = type(model)(model.config).to(model.device)
        fresh.generation_config = model.generation_config
        model = fresh
    inner = model.model
    model.requires_grad_(strategy in ("full", "scratch"))
    inner.encoder.embed_positions.requires_grad_(False)  # sinusoidal, fixed in Whisper itself
    if strategy == "top_layers":
        for module in (inner.encoder.layers[-1], inner.decoder.layers[-1], inner.encoder.layer_norm,
                       inner.decoder.layer_norm):
            module.requires_grad_(True)
    elif strategy == "frozen_encoder":
        inner.decoder.requires_grad_(True)
    return model


def set_dropout(model, rate: float):
    """Dropout ``rate`` on a loaded model's residual and feed-forward paths; Whisper's layers read
    their rates from the config when built, so the built layers are changed. Attention dropout
    stays at 0 (Whisper's own): with it, PyTorch's CPU attention leaves its fused kernel for the
    one that builds the whole attention matrix, and fine-tuning ran a third slower."""
    from transformers.models.whisper.modeling_whisper import WhisperAttention

    if not 0 <= rate < 1:
        raise WhisperError(f"Dropout must be in [0, 1), got {rate}.")
    for module in model.modules():
        if isinstance(module, WhisperAttention):
            continue
        for name in ("dropout", "activation_dropout"):
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, rate)
    model.config.dropout = model.config.activation_dropout = rate
    return model


# --- fine-tuning --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainingPlan:
    """How to fine-tune: the report's settings are 5 epochs at lr 1e-5 with evaluation every 50 steps."""
    epochs: float = 5
    learning_rate: float = 1e-5
    batch_size: int = 16
    eval_every: int = 50
    warmup_steps: int = 50
    weight_decay: float = 0.0
    dropout: float | None = None  # None keeps the model's own (Whisper's checkpoints: 0)
    seed: int = 0

    def __post_init__(self):
        if self.epochs <= 0 or self.learning_rate <= 0 or self.batch_size < 1 or self.eval_every < 1:
            raise WhisperError(f"A training plan needs positive epochs, learning rate, batch size and evaluation "
                               f"interval, got {asdict(self)}.")


def _metrics(processor, language: str):
    def compute(prediction) -> dict:
        predictions, labels = prediction.predictions, prediction.label_ids
        tokenizer = processor.tokenizer
        labels = np.where(labels == -100, tokenizer.pad_token_id, labels)
        predictions = np.where(predictions == -100, tokenizer.pad_token_id, predictions)
        outputs = tokenizer.batch_decode(predictions, skip_special_tokens=True)
        references = tokenizer.batch_decode(labels, skip_special_tokens=True)
        return {"wer": error_rates(references, outputs, language)["wer"]}
    return compute


def _validation_limit(validation: SpeechDataset | None, ceiling: int) -> int:
    """:func:`writing_limit` for the trainer's validation, from its labels' lengths (in tokens,
    the prompt's included, as the trainer's ``generation_max_length`` counts them)."""
    labels = getattr(validation, "labels", None) or []
    return min(ceiling, 2 * max((len(label) for label in labels), default=0) + 16) if labels else ceiling


def fine_tune(model, processor, train: SpeechDataset, validation: SpeechDataset, output_dir, plan: TrainingPlan,
              language: str = "fa", resume: bool = True, progress: bool = True, callbacks: Sequence = (),
              evaluate: bool = True, device: str | None = None):
    """Train with ``Seq2SeqTrainer``; return (model, log): the log is the trainer's history (training
    loss, and with ``evaluate`` validation loss and WER, every ``plan.eval_every`` steps).
    Checkpoints (safetensors) go to ``output_dir`` as often; with ``resume`` a killed run carries on
    from its last one. ``device='cpu'`` keeps a machine with a GPU on its CPU; otherwise the trainer
    takes the GPU when there is one, in bf16 (fp16 where bf16 is missing) mixed precision."""
    from transformers import PrinterCallback, Seq2SeqTrainer, Seq2SeqTrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if plan.dropout is not None:
        set_dropout(model, plan.dropout)
    cuda = torch.cuda.is_available() and device != "cpu"
    generation = model.generation_config
    generation.language, generation.task = language, "transcribe"
    arguments = Seq2SeqTrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=max(plan.batch_size, 32), learning_rate=plan.learning_rate,
        warmup_steps=plan.warmup_steps, num_train_epochs=plan.epochs, weight_decay=plan.weight_decay,
        max_grad_norm=1.0, eval_strategy="steps" if evaluate else "no", eval_steps=plan.eval_every,
        save_strategy="steps", save_steps=plan.eval_every, save_total_limit=2,
        logging_steps=max(1, min(plan.eval_every, 10)),
        predict_with_generate=True, generation_max_length=_validation_limit(validation, generation.max_length),
        seed=plan.seed,
        data_seed=plan.seed, report_to=[], disable_tqdm=not progress, fp16=cuda and not torch.cuda.is_bf16_supported(),
        bf16=cuda and torch.cuda.is_bf16_supported(), dataloader_num_workers=0, remove_unused_columns=False,
        use_cpu=not cuda, save_only_model=False, log_level="error")
    trainer = Seq2SeqTrainer(model=model, args=arguments, train_dataset=train, eval_dataset=validation,
                             data_collator=Collator(), compute_metrics=_metrics(processor, language),
                             processing_class=processor.feature_extractor, callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)  # without progress bars the trainer prints every log entry
    last = get_last_checkpoint(str(output_dir)) if resume and output_dir.is_dir() else None
    with quiet_transformers():
        trainer.train(resume_from_checkpoint=last)
    return trainer.model, trainer.state.log_history
