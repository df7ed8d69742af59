"""Neural architecture search over the spoken-digit models, with Optuna.

The search space is the digits chapter's model families (LSTM, BiLSTM, CNN, and dense models on
the clip's mean features: an MLP or a KAN) with their depth, width and dropout, the learning rate,
the batch size and the feature type. A trial trains one architecture with the digits chapter's
training loop (:func:`hw5lib.digits.fit`) and returns its validation accuracy; it reports that
accuracy after every epoch so that a pruner (successive halving or Hyperband) stops poor trials
early, the "performance estimation" shortcut of NAS.

A study lives in a storage given by URL, so that several processes, or machines, can work on one:

- ``sqlite:///path/study.db`` (the default, a local file), or any SQLAlchemy URL Optuna takes
  (``postgresql://...``, ``mysql://...``) for many machines: trials keep a heartbeat, so a
  trial whose worker was killed is marked failed and its parameters are tried again;
- ``journal:///path/study.log``: Optuna's journal file, safe for processes that share a file
  system without a database server (no heartbeat: a killed worker's trial stays RUNNING, which
  does not block the others);
- ``memory``: in this process only.

Workers are processes running ``python -m hw5lib.automl --storage URL --study NAME`` (or
:func:`search` with the same storage and name); each stops when the study as a whole has
``--trials`` finished trials.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from hw5lib import digits
from hw5lib.digits import MeanPooling
from hw5lib.kan.layer import KAN

FAMILIES = ("lstm", "bilstm", "cnn", "mean_mlp", "mean_kan")
TPE_STARTUP = 5  # TPE's first trials are random; it models the good and the bad ones after that
FAMILY_LABELS = {"lstm": "LSTM", "bilstm": "BiLSTM", "cnn": "CNN", "mean_mlp": "mean + MLP", "mean_kan": "mean + KAN"}
FEATURES = ("mfcc", "log_mel")
WIDTHS = (16, 32, 64, 128)
BATCH_SIZES = (16, 32, 64)
SAMPLERS = ("tpe", "random")
PRUNERS = ("hyperband", "halving", "none")


class SearchError(ValueError):
    """A search was given something it cannot use; the message says what and what to do."""


# --- the search space ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Architecture:
    """One point of the search space (training settings included)."""

    family: str
    depth: int       # recurrent layers, convolution blocks, or hidden dense layers
    width: int       # units per recurrent layer, channels of the first block, or hidden units
    dropout: float
    feature: str     # "mfcc" or "log_mel"
    lr: float
    batch_size: int

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise SearchError(f"Unknown model family {self.family!r}; choose one of {', '.join(FAMILIES)}.")
        if self.feature not in FEATURES:
            raise SearchError(f"Unknown feature {self.feature!r}; choose one of {', '.join(FEATURES)}.")
        if self.depth < 1 or self.width < 1 or not 0 <= self.dropout < 1:
            raise SearchError(f"depth and width must be positive and dropout in [0, 1), got {self.depth}, "
                              f"{self.width} and {self.dropout}.")

    @property
    def channels(self) -> list[int]:
        """A CNN's channels per block, doubling up to ``width`` in the last (16-32-64 for 3 x 64)."""
        return [max(4, self.width // 2 ** (self.depth - 1 - i)) for i in range(self.depth)]

    @property
    def pad_multiple(self) -> int:
        return 2 ** self.depth if self.family == "cnn" else 1

    def build(self, n_inputs: int, seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        if self.family in ("lstm", "bilstm"):
            return digits.RecurrentClassifier(n_inputs, self.width, self.depth, bidirectional=self.family == "bilstm",
                                              dense=64, dropout=self.dropout)
        if self.family == "cnn":
            return digits.channels_last(digits.ConvClassifier(n_inputs, self.channels, dense=64, dropout=self.dropout))
        if self.family == "mean_mlp":
            layers, previous = [], n_inputs
            for _ in range(self.depth):
                layers += [nn.Linear(previous, self.width), nn.ReLU(), nn.Dropout(self.dropout)]
                previous = self.width
            return MeanPooling(nn.Sequential(*layers, nn.Linear(previous, digits.N_CLASSES)))
        # mean_kan: KAN edges on standardised features; dropout does not apply to spline edges
        return MeanPooling(KAN([n_inputs] + [self.width] * self.depth + [digits.N_CLASSES], grid_size=5,
                               grid_range=(-3.0, 3.0), seed=seed))

    def label(self) -> str:
        """The architecture in a few technical words, the same in every language: "LSTM 2x64, MFCC"."""
        family = FAMILY_LABELS[self.family]
        shape = f"{self.depth}x{self.width}" if self.family != "cnn" else "-".join(map(str, self.channels))
        feature = {"mfcc": "MFCC", "log_mel": "log-mel"}[self.feature]
        return f"{family} {shape}, {feature}"


def suggest(trial) -> Architecture:
    """Sample an architecture from ``trial`` (an ``optuna.Trial``): the search space, stated once."""
    return Architecture(
        family=trial.suggest_categorical("family", FAMILIES),
        depth=trial.suggest_int("depth", 1, 3),
        width=trial.suggest_categorical("width", WIDTHS),
        dropout=trial.suggest_float("dropout", 0.0, 0.5),
        feature=trial.suggest_categorical("feature", FEATURES),
        lr=trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        batch_size=trial.suggest_categorical("batch_size", BATCH_SIZES),
    )


# Our recipe's peak learning rate (the Q4 chapter's learning_rate) and the report's batch size, which it keeps.
RECIPE_LR = 2e-3
RECIPE_BATCH = digits.Recipe().batch_size


def report_models() -> dict[str, Architecture]:
    """The report's hand-designed models, the recurrent ones of the digits registry
    (:data:`hw5lib.digits.MODELS`), as points of this space trained with our recipe: read from
    the models the registry builds (layers, units, directions, dropout), so they are not restated."""
    models = {}
    for name, spec in digits.MODELS.items():
        with torch.random.fork_rng(devices=[]):  # building must not move the global random state
            model = spec.make(1)
        if isinstance(model, digits.RecurrentClassifier):
            first = model.layers[0]
            models[name] = Architecture("bilstm" if len(first) == 2 else "lstm", len(model.layers),
                                        first[0].hidden_size, model.head[2].p, spec.feature, RECIPE_LR, RECIPE_BATCH)
    return models


REPORT_MODELS = report_models()


# --- training one architecture ----------------------------------------------------------------------

@dataclass
class SearchData:
    """Features of every clip by kind, and the split: the search sees train and validation only;
    the test clips are for the final comparison."""

    features: dict           # kind -> digits.SequenceSet
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray

    @classmethod
    def split(cls, features: dict, labels, test_size: float = 0.2, val_size: float = 0.2,
              seed: int = 0) -> "SearchData":
        rest, test = digits.stratified_split(labels, test_size, seed=seed)
        keep, val = digits.stratified_split(np.asarray(labels)[rest], val_size, seed=seed)
        return cls(features, rest[keep], rest[val], test)

    @classmethod
    def from_clips(cls, clips, seed: int = 0) -> "SearchData":
        """Both feature kinds of ``clips`` (a :class:`hw5lib.data.audio.DigitSet`), split by digit."""
        return cls.split(digits.feature_sets(clips, FEATURES), clips.digits, seed=seed)


@dataclass
class TrainResult:
    accuracy: float        # on the evaluation clips
    history: list
    parameters: int
    seconds: float


def train(architecture: Architecture, data: SearchData, epochs: int, *, evaluate_on: str = "val", seed: int = 0,
          noise: float = 0.2, device: str = "cpu", on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train ``architecture`` on the training clips with the digits chapter's recipe (global
    standardisation, Adam on a cosine schedule, input noise) and measure its accuracy on the
    validation clips (``evaluate_on="val"``, what the search optimises) or the test clips."""
    if evaluate_on not in ("val", "test"):
        raise SearchError(f"evaluate_on must be val or test, got {evaluate_on!r}.")
    sequences = data.features[architecture.feature]
    held = data.val_idx if evaluate_on == "val" else data.test_idx
    train_set, (held_set,) = digits.normalise(sequences.subset(data.train_idx), [sequences.subset(held)], "global")
    model = architecture.build(sequences.n_features, seed=seed)
    if isinstance(model, MeanPooling) and isinstance(model.head, KAN):
        # place the KAN's first grid on the training clips' mean features
        model.head.update_grid(digits.masked_mean(*digits.collate([torch.as_tensor(s) for s in train_set.sequences])),
                               grid_eps=1.0)
    recipe = digits.Recipe(epochs=epochs, batch_size=architecture.batch_size, lr=architecture.lr, schedule="cosine",
                           noise=noise, seed=seed)
    history = digits.fit(model, train_set, held_set, recipe, model_name=architecture.family, device=device,
                         pad_multiple=architecture.pad_multiple, progress=False, on_epoch=on_epoch)
    return TrainResult(history[-1]["val_accuracy"], history, digits.count_parameters(model),
                       sum(row["seconds"] for row in history))


# --- studies ------------------------------------------------------------------------------------------

def open_storage(url: str, heartbeat: int = 30, grace: int = 90):
    """An Optuna storage from a URL: ``memory``, ``journal:///path``, or a database URL
    (``sqlite:///path``, ``postgresql://...``) with a heartbeat (seconds) and the grace period
    after which a silent trial is marked failed and retried."""
    import optuna

    if not isinstance(url, str) or not url.strip():
        raise SearchError("Give the study's storage as a URL: memory, journal:///path/study.log, "
                          "sqlite:///path/study.db or postgresql://user@host/db.")
    if url == "memory":
        return optuna.storages.InMemoryStorage()
    if url.startswith("journal://"):
        path = Path(url[len("journal://"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if "://" not in url:
        raise SearchError(f"Storage {url!r} is not a URL; write sqlite:///{url} for a local file.")
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    last_error = None
    for attempt in range(6):  # workers started together race to create the tables: the losers retry
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are "experimental"
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=heartbeat, grace_period=grace,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
                    engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None)
        except Exception as error:  # noqa: BLE001 - SQLAlchemy's errors are many; one sentence for the user
            last_error = error
            time.sleep(0.5 * (attempt + 1))
    raise SearchError(f"Cannot open the study storage {url!r}: {str(last_error).splitlines()[0]}")


def make_sampler(name: str, seed: int):
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SearchError(f"Unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}.")


def make_pruner(name: str, epochs: int):
    import optuna

    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise SearchError(f"Unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}.")


def objective(data: SearchData, epochs: int, seed: int = 0, device: str = "cpu") -> Callable:
    """The function a study optimises: validation accuracy of one sampled architecture, reported
    after every epoch so that the pruner can stop it early."""
    import optuna

    def run(trial) -> float:
        architecture = suggest(trial)

        def report(row: dict) -> None:
            trial.report(row["val_accuracy"], row["epoch"])
            if row["epoch"] < epochs and trial.should_prune():  # a trial that has finished training completes
                raise optuna.TrialPruned()

        began = time.perf_counter()
        try:
            result = train(architecture, data, epochs, seed=seed, device=device, on_epoch=report)
        finally:
            trial.set_user_attr("seconds", time.perf_counter() - began)
            trial.set_user_attr("parameters", digits.count_parameters(
                architecture.build(data.features[architecture.feature].n_features, seed=seed)))
        return result.accuracy
    return run


def search(data: SearchData, *, storage: str = "memory", study_name: str = "digits", sampler: str = "tpe",
           pruner: str = "hyperband", trials: int = 20, timeout: float | None = None, epochs: int = 10,
           seed: int = 0, sampler_seed: int | None = None, device: str = "cpu", heartbeat: int = 30, grace: int = 90,
           progress: bool = False):
    """Run (or join, or resume) the study ``study_name`` in ``storage`` until it holds ``trials``
    finished (complete or pruned) trials, or ``timeout`` seconds pass. ``seed`` seeds training,
    ``sampler_seed`` (default ``seed``) the sampler. Returns the study."""
    import optuna

    if trials < 1:
        raise SearchError(f"trials must be at least 1, got {trials}.")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler_seed = seed if sampler_seed is None else sampler_seed
    study = optuna.create_study(storage=open_storage(storage, heartbeat, grace), study_name=study_name,
                                direction="maximize", sampler=make_sampler(sampler, sampler_seed),
                                pruner=make_pruner(pruner, epochs), load_if_exists=True)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    remaining = trials - len(study.get_trials(deepcopy=False, states=finished))
    if remaining > 0:
        study.optimize(objective(data, epochs, seed=seed, device=device), n_trials=remaining, timeout=timeout,
                       callbacks=[optuna.study.MaxTrialsCallback(trials, states=finished)],
                       show_progress_bar=progress, gc_after_trial=False)
    return study


def best_architecture(study) -> Architecture:
    return Architecture(**study.best_trial.params)


def history(study) -> list[dict]:
    """One row per trial in order: number, state, value (None if pruned before any report, else
    the last reported accuracy), best so far among complete trials, seconds, parameters."""
    rows, best = [], -math.inf
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        value = trial.value if trial.value is not None else (
            trial.intermediate_values[max(trial.intermediate_values)] if trial.intermediate_values else None)
        if trial.state.name == "COMPLETE" and trial.value is not None:
            best = max(best, trial.value)
        rows.append({"number": trial.number, "state": trial.state.name, "value": value,
                     "best": best if best > -math.inf else None, "epochs": len(trial.intermediate_values),
                     "seconds": trial.user_attrs.get("seconds"), "parameters": trial.user_attrs.get("parameters"),
                     **trial.params})
    return rows


def importances(study, seed: int = 0) -> dict[str, float]:
    """fANOVA importance of each searched parameter for the validation accuracy (complete trials)."""
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {}
    return optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed))


# --- command line: a worker ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hw5lib.automl --storage URL --study NAME --trials N ...``: one worker of a study."""
    parser = argparse.ArgumentParser(prog="python -m hw5lib.automl", description=main.__doc__)
    parser.add_argument("--storage", required=True, help="memory, journal:///path, sqlite:///path or a database URL")
    parser.add_argument("--study", default="digits", help="study name (workers with the same name share it)")
    parser.add_argument("--trials", type=int, default=20, help="finished trials the whole study should hold")
    parser.add_argument("--timeout", type=float, default=None, help="stop this worker after this many seconds")
    parser.add_argument("--sampler", default="tpe", choices=SAMPLERS)
    parser.add_argument("--pruner", default="hyperband", choices=PRUNERS)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--data", default="auto", help="auto, synthetic, or a folder of FSDD or AudioMNIST recordings")
    parser.add_argument("--speakers", type=int, default=8)
    parser.add_argument("--clips-per-digit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="data split and training seed")
    parser.add_argument("--sampler-seed", type=int, default=None, help="default: seed + process id, so workers differ")
    parser.add_argument("--heartbeat", type=int, default=30)
    parser.add_argument("--grace", type=int, default=90)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="write the study's trials here as JSON")
    args = parser.parse_args(argv)
    from hw5lib.data import audio

    torch.set_num_threads(max(1, int(os.environ.get("HW5LIB_THREADS", "1"))))
    try:
        clips = audio.load_sized_digits(args.data, args.speakers, args.clips_per_digit, seed=args.seed,
                                        report=lambda message: None)
        data = SearchData.from_clips(clips, seed=args.seed)
        sampler_seed = args.sampler_seed if args.sampler_seed is not None else args.seed + os.getpid()
        study = search(data, storage=args.storage, study_name=args.study, sampler=args.sampler, pruner=args.pruner,
                       trials=args.trials, timeout=args.timeout, epochs=args.epochs, seed=args.seed,
                       sampler_seed=sampler_seed,
                       heartbeat=args.heartbeat, grace=args.grace, device=args.device)
    except (SearchError, digits.DigitsError, audio.AudioError) as error:
        parser.exit(2, f"hw5lib.automl: {error}\n")
    rows = history(study)
    if args.out:
        from hw5lib.io import atomic_write_text

        atomic_write_text(Path(args.out), json.dumps(rows, indent=1))
    done = sum(row["state"] in ("COMPLETE", "PRUNED") for row in rows)
    print(f"study {args.study}: {done} finished trials; best validation accuracy "
          f"{study.best_value:.3f} ({best_architecture(study).label()})" if done else
          f"study {args.study}: no trial finished")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
