"""Training and testing a digit model.

:func:`fit` checkpoints every epoch to a safetensors file (weights, Adam's state, the random state,
the history), and a run that finds its checkpoint resumes from it and ends where an uninterrupted
run ends. The same loop runs under ``torchrun`` or ``accelerate launch`` with several processes:
it reads the ``RANK`` / ``WORLD_SIZE`` they set, shards each epoch and averages gradients with
``DistributedDataParallel`` (gloo on CPU, NCCL on GPUs).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from hw5lib.data.audio import warp_matrix
from hw5lib.digits.models import build_model, count_parameters, model_spec
from hw5lib.digits.sets import N_CLASSES, DigitsError, SequenceSet, collate, normalise, stratified_split
from hw5lib.io import atomic_write_bytes
from hw5lib.progress import progress as progress_bar


def _code_digest() -> str:
    """What a checkpoint's training depends on in code: the data sets, the models and this loop
    (not the chapter's wording or figures), so a checkpoint of older code is never resumed."""
    digest = hashlib.sha256()
    for name in ("sets.py", "models.py", "training.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:12]


_SOURCE = _code_digest()


# --- training ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """How a model is trained. The defaults are the report's: Adam at 1e-4, batch 32, 30 epochs."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0
    schedule: str = "constant"  # or "cosine": the learning rate falls to 0 along half a cosine
    noise: float = 0.0  # std of Gaussian noise added to training inputs (in normalised units)
    clip_norm: float | None = None
    seed: int = 0
    # Augmentation of training clips, all off by default (see :class:`Augmenter`):
    warp: float = 0.0  # vocal-tract-length perturbation: frequencies scaled by a factor in [1 - warp, 1 + warp]
    stretch: float = 0.0  # tempo: durations scaled by a factor in [1 - stretch, 1 + stretch]
    speed: float = 0.0  # speed perturbation: one factor in [1 - speed, 1 + speed] scales frequencies, 1/it durations
    freq_masks: int = 0  # SpecAugment: this many bands of up to freq_width features set to 0 per clip
    freq_width: int = 0
    time_masks: int = 0  # SpecAugment: this many spans of up to time_width frames set to 0 per clip
    time_width: int = 0
    mixup: float = 0.0  # Beta(mixup, mixup) weight mixing pairs of clips and their labels; 0 is off
    equalise: float = 0.0  # microphone colour: a random smooth curve over the bands, each term's std this, added
    label_smoothing: float = 0.0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise DigitsError(f"epochs and batch_size must be positive, got {self.epochs} and {self.batch_size}.")
        if not self.lr > 0:
            raise DigitsError(f"The learning rate must be positive, got {self.lr}.")
        if self.schedule not in ("constant", "cosine"):
            raise DigitsError(f"Unknown schedule {self.schedule!r}; choose constant or cosine.")
        for name in ("warp", "stretch", "speed"):
            if not 0 <= getattr(self, name) < 0.5:
                raise DigitsError(f"{name} must be in [0, 0.5), got {getattr(self, name)}.")
        for name in ("freq_masks", "freq_width", "time_masks", "time_width", "mixup", "noise", "equalise"):
            if not getattr(self, name) >= 0:
                raise DigitsError(f"{name} must be 0 or more, got {getattr(self, name)}.")
        if not 0 <= self.label_smoothing < 1:
            raise DigitsError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")

    @property
    def augments(self) -> bool:
        """Whether any clip-level augmentation (warp, stretch, speed, masks, mixup) is on."""
        return bool(self.warp or self.stretch or self.speed or self.equalise or self.freq_masks * self.freq_width
                    or self.time_masks * self.time_width or self.mixup)

    def lr_at(self, epoch: int) -> float:
        if self.schedule == "constant":
            return self.lr
        return self.lr * 0.5 * (1 + math.cos(math.pi * epoch / self.epochs))


# --- augmentation --------------------------------------------------------------------------------

def stretch(frames: np.ndarray, rate: float) -> np.ndarray:
    """``frames`` (t, n) played ``rate`` times faster: round(t / rate) frames (at least 1), linearly
    interpolated in time."""
    if not rate > 0:
        raise DigitsError(f"A stretch rate must be positive, got {rate}.")
    length = len(frames)
    out = max(1, int(round(length / rate)))
    if out == length:
        return frames
    position = np.linspace(0, length - 1, out)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, length - 1)
    weight = (position - low)[:, None].astype(np.float32)
    return (frames[low] * (1 - weight) + frames[high] * weight).astype(np.float32)


def spec_mask(x: torch.Tensor, lengths: torch.Tensor, freq_masks: int, freq_width: int, time_masks: int,
              time_width: int, generator: torch.Generator) -> torch.Tensor:
    """SpecAugment masking of a padded batch x (batch, frames, features): per clip, ``freq_masks``
    bands of 0 to ``freq_width`` features and ``time_masks`` spans of 0 to ``time_width`` frames
    (inside the clip's true length, together at most half of it) set to 0, the mean after
    normalisation. Returns a new tensor."""
    batch, frames, features = x.shape
    keep = torch.ones(batch, frames, features)
    bands, steps = torch.arange(features)[None, :], torch.arange(frames)[None, :]
    for _ in range(freq_masks if freq_width > 0 else 0):
        width = torch.randint(0, freq_width + 1, (batch, 1), generator=generator)
        start = (torch.rand(batch, 1, generator=generator) * (features - width + 1)).long()
        keep *= ~((bands >= start) & (bands < start + width))[:, None, :]
    for _ in range(time_masks if time_width > 0 else 0):
        width = torch.minimum(torch.randint(0, time_width + 1, (batch, 1), generator=generator),
                              lengths.cpu()[:, None] // (2 * time_masks))  # half of a short clip at most
        start = (torch.rand(batch, 1, generator=generator) * (lengths.cpu()[:, None] - width + 1)).long()
        keep *= ~((steps >= start) & (steps < start + width))[:, :, None]
    return x * keep.to(x.device)


@dataclass(frozen=True)
class Augmenter:
    """The clip-level augmentation of ``recipe`` for features of ``kind`` ('log_mel' or 'mfcc',
    ``n_mels`` bands up to ``fmax`` Hz): :meth:`clip` perturbs one clip before batching (speed,
    VTLP warp, tempo, microphone colour), :meth:`batch` masks a padded batch (SpecAugment).

    The microphone colour (``equalise``) adds the same smooth curve to every frame of a clip: over
    log-mel bands ``b`` the sum of ``a_k cos(pi k b / (bands - 1))`` for k = 1, 2, 3 with each
    ``a_k`` drawn from N(0, equalise); for MFCCs, whose coefficients 1-3 are those cosines' weights,
    ``a_k`` is added to coefficient k (a constant gain would be removed by any normalisation)."""

    recipe: Recipe
    kind: str | None = None
    fmax: float = 4000.0
    n_mels: int = 40

    def __post_init__(self):
        if (self.recipe.warp or self.recipe.speed) and self.kind not in ("log_mel", "mfcc"):
            raise DigitsError("A frequency warp (warp, speed) needs the feature kind, log_mel or mfcc; "
                              f"got {self.kind!r}.")

    def clip(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        r = self.recipe
        factor, rate = 1.0, 1.0
        if r.speed:
            speed = rng.uniform(1 - r.speed, 1 + r.speed)
            factor, rate = factor * speed, rate * speed
        if r.warp:
            factor *= rng.uniform(1 - r.warp, 1 + r.warp)
        if r.stretch:
            rate *= rng.uniform(1 - r.stretch, 1 + r.stretch)
        if factor != 1.0:
            frames = frames @ _cached_warp(frames.shape[1], round(factor, 3), self.kind, self.n_mels, self.fmax).T
        if rate != 1.0:
            frames = stretch(frames, rate)
        if r.equalise:
            weights = rng.normal(0, r.equalise, 3)
            if self.kind == "mfcc":
                curve, terms = np.zeros(frames.shape[1]), max(0, min(3, frames.shape[1] - 1))
                curve[1:1 + terms] = weights[:terms]
            else:
                bands = np.arange(frames.shape[1]) / max(1, frames.shape[1] - 1)
                curve = sum(a * np.cos(np.pi * k * bands) for k, a in enumerate(weights, start=1))
            frames = frames + curve[None, :]
        return np.ascontiguousarray(frames, dtype=np.float32)

    def batch(self, x: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r = self.recipe
        if r.freq_masks * r.freq_width or r.time_masks * r.time_width:
            x = spec_mask(x, lengths, r.freq_masks, r.freq_width, r.time_masks, r.time_width, generator)
        return x


_WARPS: dict = {}


def _cached_warp(n_features: int, factor: float, kind: str, n_mels: int, fmax: float) -> np.ndarray:
    """:func:`warp_matrix`, remembered (factors are rounded to 0.001, so there are a few hundred)."""
    key = (n_features, factor, kind, n_mels, fmax)
    if key not in _WARPS:
        _WARPS[key] = warp_matrix(n_features, factor, kind, n_mels, fmax)
    return _WARPS[key]


def _distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group that torchrun / accelerate launch describe."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def _all_sum(values: list[float], world: int) -> list[float]:
    if world == 1:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def bucketed_batches(indices: Sequence[int], lengths: Sequence[int], batch_size: int, generator: torch.Generator,
                     bucket: int = 20) -> list[list[int]]:
    """Batches of ``indices`` (already shuffled) in which clips of similar length go together, so
    little time is spent on padding: every ``bucket`` batches' worth of clips is sorted by length
    and cut into batches, and the batches are then shuffled with ``generator``. Every clip is in
    exactly one batch, and the number of batches is that of plain batching."""
    indices = list(indices)
    batches = []
    for start in range(0, len(indices), batch_size * bucket):
        chunk = sorted(indices[start:start + batch_size * bucket], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _batches(data: SequenceSet, batches: list[list[int]], multiple: int, device: str,
             perturb: Callable[[np.ndarray], np.ndarray] | None = None):
    for chosen in batches:
        clips = [data.sequences[i] if perturb is None else perturb(data.sequences[i]) for i in chosen]
        x, lengths = collate([torch.from_numpy(c) for c in clips], multiple)
        yield x.to(device), lengths.to(device), torch.from_numpy(data.labels[chosen]).to(device)


@torch.no_grad()
def predict(model: nn.Module, data: SequenceSet, batch_size: int = 256, multiple: int = 1,
            device: str = "cpu") -> np.ndarray:
    """Logits (n, n_classes) for every sequence, in order (longest first inside, to pad little)."""
    model.eval()
    order = np.argsort([-len(s) for s in data.sequences], kind="stable")
    logits = np.zeros((len(data), N_CLASSES), np.float32)
    for start in range(0, len(order), batch_size):
        chosen = order[start:start + batch_size]
        x, lengths = collate([torch.from_numpy(data.sequences[i]) for i in chosen], multiple)
        logits[chosen] = model(x.to(device), lengths.to(device)).float().cpu().numpy()
    return logits


@torch.no_grad()
def adapt_batch_norm(model: nn.Module, data: SequenceSet, batch_size: int = 32, multiple: int = 1,
                     device: str = "cpu") -> nn.Module:
    """A copy of ``model`` whose batch-norm statistics are re-estimated on ``data`` alone (AdaBN, Li et
    al. 2016): the running means and variances forgotten, then one pass over ``data`` in batches of
    clips of similar length, as training batches them; no weight changes and no label is read. For a
    new speaker's unlabelled clips this is adaptation of the same kind as per-speaker CMVN. A model
    without batch norm comes back as an unchanged copy."""
    adapted = copy.deepcopy(model)
    layers = [m for m in adapted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return adapted
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a plain average over every batch
    adapted.train()
    order = np.argsort([len(s) for s in data.sequences], kind="stable")
    for start in range(0, len(order), batch_size):
        chosen = order[start:start + batch_size]
        x, lengths = collate([torch.from_numpy(data.sequences[i]) for i in chosen], multiple)
        adapted(x.to(device), lengths.to(device))
    return adapted.eval()


def _loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    loss = nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item()
    return loss, float((logits.argmax(1) == labels).mean())


# Checkpoints: one safetensors file holding the weights ("model.*"), Adam's tensors ("optimizer.*"),
# the random state ("rng"), and as metadata the epoch, the history and Adam's hyper-parameters.

def _save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
                     history: list[dict]) -> None:
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    state = optimizer.state_dict()
    for index, values in state["state"].items():
        for name, value in values.items():
            tensors[f"optimizer.{index}.{name}"] = torch.as_tensor(value).contiguous()
    tensors["rng"] = torch.get_rng_state()
    metadata = {"epoch": str(epoch), "history": json.dumps(history), "param_groups": json.dumps(state["param_groups"])}
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def _load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, list[dict]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict = {"state": {}, "param_groups": json.loads(metadata["param_groups"])}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(state)
    torch.set_rng_state(tensors["rng"])
    return int(metadata["epoch"]), json.loads(metadata["history"])


def checkpoint_name(model_name: str, recipe: Recipe, train: SequenceSet, val: SequenceSet | None) -> str:
    """The checkpoint file of one training run: it changes with the model, the recipe or the data,
    so a run never resumes from another run's checkpoint."""
    key = json.dumps({"code": _SOURCE, "model": model_name, "recipe": asdict(recipe), "train": train.fingerprint(),
                      "val": val.fingerprint() if val is not None else None}, sort_keys=True)
    return f"{model_name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"


def fit(model: nn.Module, train: SequenceSet, val: SequenceSet | None, recipe: Recipe, *, model_name: str = "model",
        checkpoint_dir: Path | str | None = None, device: str = "cpu", pad_multiple: int = 1, progress: bool = True,
        on_batch: Callable[[int, int], None] | None = None,
        on_epoch: Callable[[dict], None] | None = None, feature: str | None = None) -> list[dict]:
    """Train ``model`` in place; return one row per epoch (train/val loss and accuracy, seconds).

    The recipe's augmentation (:class:`Augmenter`) draws from generators seeded by the recipe's seed
    and the epoch, so a resumed run augments as an uninterrupted one does; a frequency warp needs
    the ``feature`` kind ('log_mel' or 'mfcc').

    With ``checkpoint_dir``, every epoch ends with a checkpoint, and a run whose checkpoint is
    there (same model, recipe and data) resumes after its last finished epoch. ``on_batch(epoch,
    batch)`` is called before each batch (the tests use it to interrupt a run); ``on_epoch(row)``
    after each epoch's row is recorded (a search uses it to stop a poor trial early)."""
    from torch.utils.data import DistributedSampler

    rank, world = _distributed()
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    path = Path(checkpoint_dir) / checkpoint_name(model_name, recipe, train, val) if checkpoint_dir else None
    start, history = 0, []
    torch.manual_seed(recipe.seed)
    if path is not None and path.exists():
        start, history = _load_checkpoint(path, model, optimizer)
    network = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        network = DistributedDataParallel(model)
    sampler = DistributedSampler(range(len(train)), num_replicas=world, rank=rank, shuffle=True, seed=recipe.seed)
    per_process = max(1, recipe.batch_size // world)  # the global batch stays recipe.batch_size
    lengths_of_train = [len(s) for s in train.sequences]
    augmenter = Augmenter(recipe, feature) if recipe.augments else None
    epochs = progress_bar(range(start, recipe.epochs), progress and rank == 0, f"training {model_name}",
                          total=recipe.epochs - start)
    for epoch in epochs:
        began = time.perf_counter()
        sampler.set_epoch(epoch)
        for group in optimizer.param_groups:
            group["lr"] = recipe.lr_at(epoch)
        noise = torch.Generator().manual_seed(recipe.seed * 100_003 + epoch)
        batches = bucketed_batches(list(sampler), lengths_of_train, per_process,
                                   torch.Generator().manual_seed(recipe.seed * 100_019 + epoch))
        network.train()
        total_loss = correct = seen = 0.0
        perturb = None
        if augmenter is not None:
            clip_rng = np.random.default_rng([recipe.seed, epoch, rank])
            perturb = partial(augmenter.clip, rng=clip_rng)
            masks = torch.Generator().manual_seed(recipe.seed * 100_043 + epoch)
        for step, (x, lengths, y) in enumerate(_batches(train, batches, pad_multiple, device, perturb)):
            if on_batch is not None:
                on_batch(epoch, step)
            if recipe.noise > 0:
                x = x + recipe.noise * torch.randn(x.shape, generator=noise).to(device)
            if augmenter is not None:
                x = augmenter.batch(x, lengths, masks)
            if recipe.mixup > 0:
                weight = float(np.random.default_rng([recipe.seed, epoch, step, 1]).beta(recipe.mixup, recipe.mixup))
                partner = torch.randperm(len(y), generator=masks).to(device)
                x, lengths = weight * x + (1 - weight) * x[partner], torch.maximum(lengths, lengths[partner])
                logits = network(x, lengths)
                loss = (weight * nn.functional.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
                        + (1 - weight) * nn.functional.cross_entropy(logits, y[partner],
                                                                     label_smoothing=recipe.label_smoothing))
            else:
                logits = network(x, lengths)
                loss = nn.functional.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_norm)
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        total_loss, correct, seen = _all_sum([total_loss, correct, seen], world)
        row = {"epoch": epoch + 1, "train_loss": total_loss / seen, "train_accuracy": correct / seen,
               "seconds": time.perf_counter() - began}
        if val is not None:
            row["val_loss"], row["val_accuracy"] = _loss_and_accuracy(
                predict(model, val, multiple=pad_multiple, device=device), val.labels)
        history.append(row)
        if path is not None and rank == 0:
            _save_checkpoint(path, model, optimizer, epoch + 1, history)
        if on_epoch is not None:
            on_epoch(row)
    return history


# --- one experiment ------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one trained model did: its test accuracy and confusion, its curves and its cost."""

    model: str
    accuracy: float
    confusion: np.ndarray  # (true, predicted) counts
    history: list
    parameters: int
    train_seconds: float
    n_train: int
    n_test: int
    notes: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"model": self.model, "accuracy": self.accuracy, "parameters": self.parameters,
                "train_seconds": self.train_seconds, "n_train": self.n_train, "n_test": self.n_test,
                "epochs": len(self.history), **self.notes}


def train_and_test(model_name: str, data: SequenceSet, train_idx, test_idx, recipe: Recipe,
                   normalisation: str = "global", val_fraction: float = 0.1, checkpoint_dir=None,
                   device: str = "cpu", progress: bool = True, **notes) -> Outcome:
    """Normalise with training statistics, hold out ``val_fraction`` of the training clips for the
    curves (stratified), train ``model_name`` with ``recipe``, and test once on ``test_idx``."""
    from sklearn.metrics import confusion_matrix

    spec = model_spec(model_name)
    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    if np.intersect1d(train_idx, test_idx).size:
        raise DigitsError("The training and test clips overlap; a split must keep them apart.")
    val = None
    if val_fraction > 0:
        keep, held = stratified_split(data.labels[train_idx], val_fraction, seed=recipe.seed)
        train_idx, val_idx = train_idx[keep], train_idx[held]
    train, others = normalise(data.subset(train_idx), [data.subset(test_idx)] + (
        [data.subset(val_idx)] if val_fraction > 0 else []), normalisation)
    test, val = others[0], (others[1] if val_fraction > 0 else None)
    model = build_model(model_name, data.n_features, seed=recipe.seed)
    began = time.perf_counter()
    history = fit(model, train, val, recipe, model_name=model_name, checkpoint_dir=checkpoint_dir, device=device,
                  pad_multiple=spec.pad_multiple, progress=progress)
    seconds = sum(row["seconds"] for row in history) or time.perf_counter() - began
    predicted = predict(model, test, multiple=spec.pad_multiple, device=device).argmax(1)
    return Outcome(model_name, float((predicted == test.labels).mean()),
                   confusion_matrix(test.labels, predicted, labels=list(range(N_CLASSES))), history,
                   count_parameters(model), seconds, len(train), len(test), notes)
