"""Spoken digits from voices never heard: speaker-independent recipes and leave-one-speaker-out.

A :class:`SpeakerRecipe` is everything that decides how well a model does on a new voice: the
model, how features are normalised, the training recipe (with its augmentation, see
:class:`~hw5lib.digits.training.Augmenter`) and how many seeds are averaged. :data:`RECIPES`
names ``report`` (the report's LSTM 2x64 and training), ``ours`` (the CNN with the
chapter's recipe, which reaches 98.6% on a random split and about 62% on unheard voices),
``unheard-cnn`` (the first recipe measured in ``bench/unheard.md``: per-speaker CMVN, silences
trimmed and floored, speed / vocal-tract-length / tempo perturbation, SpecAugment, the synthetic
crowd of :mod:`hw5lib.data.crowd` mixed into training; one seed, as three averaged gained under a
point),
the same recipe for the LSTM and the ResNet, ensembles of them (``unheard-duo``, ``unheard-trio``)
``unheard-resnets``: three ResNets, each also scored with its batch-norm statistics re-estimated on
the test speaker's unlabelled clips (``norm_adaptation``), ``unheard-resnets-self``: the same with
one round of self-training on the test speaker's clips, ``unheard-resnets-self-vtln-last``: that,
with each test speaker's clips warped in frequency for the final scores (test-time VTLN),
:data:`BEST`, ``unheard-resnets-self-vtln-last-share``: that, its self-training class-balanced
(``adapt_share``), and ``unheard-resnets-self2-vtln-last-share``: that with two rounds of
self-training, over the time budget. ``unheard`` names whichever recipe is :data:`BEST`.
``unheard-resnets-balanced`` assigns each test speaker's clips to the digits as if every digit was
said equally often (``balance``, :func:`balanced`): for sessions known to be so, never the default.

Normalisation ``speaker`` standardises every clip by its own speaker's statistics
(:func:`~hw5lib.digits.sets.speaker_cmvn`). For the test speaker these come from its unlabelled
audio only, so it is *adaptation*: a recogniser that has listened to a new voice for a while
(here: all of that speaker's test clips, labels unread) may do the same. Self-training on the test
speaker's clips (``adapt_rounds``) goes further the same way, with pseudo-labels: it did not pay for
the single CNN, and pays for three ResNets (``unheard-resnets-self``). Test-time
vocal-tract-length normalisation (``vtln``, :func:`speaker_warps`; :data:`BEST`) is
the same kind again: the frequency axis of each test speaker warped by the factor the networks are
surest of on that speaker's unlabelled clips.

:func:`train_and_test_speakers` trains on some speakers and tests on others; :func:`loso` runs the
whole leave-one-speaker-out study, optionally with a nested validation run per fold (train on
three of the four training speakers, test on the fourth) whose score is what choices are made on.
:data:`LEVERS` names what separates ``unheard-cnn`` from ``ours``; :func:`with_levers` switches any of
them on, and :func:`lever_study` measures each alone and all together (the Q4 chapter's table).
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial, wraps
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from hw5lib.data.crowd import catalogue_voices
from hw5lib.digits.models import build_model, count_parameters, model_spec
from hw5lib.digits.sets import (N_CLASSES, DigitsError, SequenceSet, floor_db, lifter, normalise, speaker_cmvn,
                                trim_quiet)
from hw5lib.digits.training import Recipe, adapt_batch_norm, fit, predict

NORMALISATIONS = ("none", "utterance", "global", "speaker")
NORM_ADAPTATIONS = ("none", "adapted", "both")


@dataclass(frozen=True)
class SpeakerRecipe:
    """How a digit model for unheard voices is made: ``model`` (a key of
    :data:`~hw5lib.digits.models.MODELS`), the ``normalisation`` of its features (none, utterance,
    global or speaker), the ``training`` recipe and the number of ``seeds`` whose predicted
    probabilities are averaged (an ensemble; 1 is a single model)."""

    model: str
    normalisation: str
    training: Recipe
    seeds: int = 1
    description: str = ""
    floor_db: float | None = None  # log-mel only: every clip floored at its peak less this (sets.floor_db)
    trim_db: float | None = None  # log-mel only: leading/trailing frames this far under the peak cut (sets.trim_quiet)
    lifter: int | None = None  # log-mel only: each frame smoothed to its first this many cepstra (sets.lifter)
    crowd: tuple[int, int] | None = None  # (speakers, takes) of the synthetic crowd added to every training set
    # every clip (training, crowd and test alike) high-pass filtered at this many Hz before its features
    # (hw5lib.data.audio.high_pass): a band one microphone lacks is then one that none of them has
    high_pass: float | None = None
    # recipes trained on the same clips (one, or a tuple of several); every network's probabilities weigh the same
    # (a member of 3 seeds has 3 votes)
    partner: "str | SpeakerRecipe | tuple[str | SpeakerRecipe, ...] | None" = None
    # Self-training on the test speakers' unlabelled clips (transductive adaptation, off by default): after
    # training, ``adapt_rounds`` times, the test clips the ensemble gives at least ``adapt_threshold`` probability
    # join the training set with the predicted digit as their label, and every model trains ``adapt_epochs`` more.
    adapt_rounds: int = 0
    adapt_epochs: int = 5
    adapt_threshold: float = 0.9
    adapt_lr: float = 5e-4
    # with self-training: for each test speaker and each digit the ensemble predicts for its clips, at least this
    # share of the clips predicted as that digit (the surest) join too, sure enough or not (class-balanced
    # self-training, Zou et al. 2018: a digit the networks find hard in this voice still gets clips to learn
    # from). No label read, and no assumption on how often each digit is said; 0 is off.
    adapt_share: float = 0.0
    # Batch-norm statistics re-estimated on each test speaker's unlabelled clips (AdaBN, training.adapt_batch_norm):
    # "none", "adapted" (those statistics alone) or "both" (the plain and the adapted networks' probabilities
    # averaged). Adaptation of the same kind as per-speaker CMVN; a model without batch norm is unchanged.
    norm_adaptation: str = "none"
    # Each test speaker's clips assigned to the digits as if that speaker said every digit equally often
    # (:func:`balanced`): true of a recording session that asks for each digit in turn (FSDD's), false of a
    # speaker heard saying whatever they like. Reads no label; off by default.
    balance: bool = False
    # Test-time vocal-tract-length normalisation (:func:`speaker_warps`): each test speaker's clips frequency-warped
    # by the factor within 1 +- ``vtln`` (steps of VTLN_STEP) that its networks are surest of on that speaker's
    # unlabelled clips. Adaptation of the same kind as per-speaker CMVN; 0 is off.
    vtln: float = 0.0
    # with self-training: whether the scores its pseudo-labels come from are warped too (True), or only the final
    # scores (False: half the warps' cost)
    vtln_pseudo: bool = True

    def __post_init__(self):
        spec = model_spec(self.model)
        if (self.floor_db, self.trim_db, self.lifter) != (None, None, None) and spec.feature != "log_mel":
            raise DigitsError(f"floor_db, trim_db and lifter work on log-mel features, and {self.model} reads "
                              f"{spec.feature}.")
        if self.normalisation not in NORMALISATIONS:
            raise DigitsError(f"Unknown normalisation {self.normalisation!r}; "
                              f"choose one of {', '.join(NORMALISATIONS)}.")
        if self.seeds < 1:
            raise DigitsError(f"An ensemble needs at least one seed, got {self.seeds}.")
        if self.high_pass is not None and self.high_pass <= 0:
            raise DigitsError(f"high_pass is a cut-off in Hz and must be positive, got {self.high_pass}.")
        if self.crowd is not None and (len(self.crowd) != 2 or min(self.crowd) < 1):
            raise DigitsError(f"crowd must be (speakers, takes), both at least 1, got {self.crowd}.")
        if self.norm_adaptation not in NORM_ADAPTATIONS:
            raise DigitsError(f"Unknown norm_adaptation {self.norm_adaptation!r}; choose one of "
                              f"{', '.join(NORM_ADAPTATIONS)}.")
        if not 0 <= self.vtln <= 0.3:
            raise DigitsError(f"vtln is the largest change of frequency scale tried (0 to 0.3), got {self.vtln}.")
        if self.vtln and spec.feature not in ("log_mel", "mfcc"):
            raise DigitsError(f"vtln warps log-mel or MFCC features, and {self.model} reads {spec.feature}.")
        if not 0 <= self.adapt_share <= 1:
            raise DigitsError(f"adapt_share is a share of each digit's clips (0 to 1), got {self.adapt_share}.")
        if self.adapt_rounds < 0 or self.adapt_epochs < 1 or not 0 < self.adapt_threshold < 1:
            raise DigitsError("Self-training needs adapt_rounds >= 0, adapt_epochs >= 1 and 0 < adapt_threshold < 1, "
                              f"got {self.adapt_rounds}, {self.adapt_epochs} and {self.adapt_threshold}.")

    def with_training(self, **changes) -> "SpeakerRecipe":
        """This recipe with some training settings changed (e.g. ``epochs=10``), in every member of an ensemble."""
        return self._in_every_member(lambda r: replace(r, training=replace(r.training, **changes)), bool(changes))

    def with_members(self, **changes) -> "SpeakerRecipe":
        """This recipe with some of its own fields changed (e.g. ``high_pass=100.0``), in every member of an
        ensemble."""
        return self._in_every_member(lambda r: replace(r, **changes), bool(changes))

    def _in_every_member(self, change, any_change: bool) -> "SpeakerRecipe":
        partner = self.partner
        if any_change and partner is not None:
            members = tuple(change(recipe_named(p)) for p in (partner if isinstance(partner, tuple) else (partner,)))
            partner = members if isinstance(partner, tuple) else members[0]
        return replace(change(self), partner=partner)


RECIPES: dict[str, SpeakerRecipe] = {
    "report": SpeakerRecipe("lstm_2x64", "none", Recipe(epochs=30, batch_size=32, lr=1e-4),
                            description="the report's LSTM 2x64: raw MFCCs, Adam 1e-4, batch 32, 30 epochs"),
    "ours": SpeakerRecipe("cnn", "global", Recipe(epochs=60, batch_size=32, lr=2e-3, schedule="cosine", noise=0.2),
                          description="the chapter's CNN recipe: training-set standardisation, Adam 2e-3 cosine, "
                                      "input noise 0.2, 60 epochs"),
    "unheard-cnn": SpeakerRecipe(
        "cnn", "speaker",
        Recipe(epochs=20, batch_size=32, lr=2e-3, schedule="cosine", noise=0.1, speed=0.15, warp=0.1, stretch=0.1,
               freq_masks=2, freq_width=6, time_masks=2, time_width=8),
        trim_db=35.0, floor_db=50.0, crowd=(40, 5),
        description="per-speaker CMVN, silences trimmed and floored, speed, vocal-tract-length and tempo "
                    "perturbation, SpecAugment, the synthetic crowd (40 x 5) in training"),
}
RECIPES["unheard-lstm"] = replace(RECIPES["unheard-cnn"], model="lstm_2x64", trim_db=None, floor_db=None,
                                  description="the report's LSTM 2x64 on MFCCs with the unheard recipe (no trim/floor)")
RECIPES["unheard-duo"] = replace(RECIPES["unheard-cnn"], partner="unheard-lstm",
                                 description="the unheard CNN and the unheard LSTM, their probabilities averaged "
                                             "(chosen on nested validation, see bench/unheard.md)")
RECIPES["unheard-resnet"] = replace(RECIPES["unheard-cnn"], model="resnet",
                                    description="the ResNet with statistics pooling with the unheard recipe")
RECIPES["unheard-trio"] = replace(RECIPES["unheard-cnn"], partner=("unheard-lstm", "unheard-resnet"),
                                  description="the unheard CNN, LSTM and ResNet, their probabilities averaged "
                                              "(chosen on nested validation over the duo, see bench/unheard.md)")
RECIPES["unheard-resnets"] = replace(RECIPES["unheard-resnet"], seeds=3, norm_adaptation="both",
                                     description="three ResNets (seeds 0-2) with the unheard recipe, each scored "
                                                 "with its batch-norm statistics as trained and as re-estimated on the "
                                                 "test speaker's clips, all averaged (chosen by family on nested "
                                                 "validation, see bench/unheard.md)")
RECIPES["unheard-resnets-self"] = replace(
    RECIPES["unheard-resnets"], adapt_rounds=1, adapt_epochs=4,
    description="unheard-resnets, then one round of self-training: the test clips the ensemble gives at least 0.9 "
                "join the training set with their predicted digit and every ResNet trains 4 more epochs (chosen on "
                "nested validation, see bench/unheard.md)")
RECIPES["unheard-resnets-self-vtln"] = replace(
    RECIPES["unheard-resnets-self"], vtln=0.15,
    description="unheard-resnets-self, every test speaker's clips first warped in frequency by the factor in "
                "0.85-1.15 that the networks are surest of on them (vocal-tract-length normalisation at test time, "
                "before and after self-training)")
RECIPES["unheard-resnets-self-vtln-last"] = replace(
    RECIPES["unheard-resnets-self-vtln"], vtln_pseudo=False,
    description="unheard-resnets-self-vtln with the warp in the final scores only: the self-training's pseudo-labels "
                "come from unwarped scores (half the warps' cost)")
RECIPES["unheard-resnets-self-vtln-last-share"] = replace(
    RECIPES["unheard-resnets-self-vtln-last"], adapt_share=0.5,
    description="unheard-resnets-self-vtln-last whose self-training also learns, for every digit the ensemble hears "
                "in a test speaker's clips, from the surer half of the clips it hears as that digit (class-balanced "
                "self-training)")
RECIPES["unheard-resnets-self2-vtln-last-share"] = replace(
    RECIPES["unheard-resnets-self-vtln-last-share"], adapt_rounds=2,
    description="unheard-resnets-self-vtln-last-share with a second round of self-training, its pseudo-labels from "
                "the once-retrained ResNets (chosen on nested validation, see bench/unheard.md)")
RECIPES["unheard-resnets-balanced"] = replace(
    RECIPES["unheard-resnet"], seeds=3, balance=True,
    description="three ResNets (seeds 0-2) with the unheard recipe, each test speaker's clips then assigned to the "
                "digits as if every digit was said equally often (optimal transport, see balanced): for recordings "
                "of a session that asks for each digit in turn (chosen by family on nested validation, see "
                "bench/unheard.md)")
BEST = "unheard-resnets-self2-vtln-last-share"
"""The recipe chosen on held-out *training* speakers, never on a test speaker: the command line's
default. The rule: of the recipes whose leave-one-speaker-out study fits in 30 minutes on 2 cores
(``loso(jobs=2)``), the one with the best validation worst speaker among those at least 95% on
average, with the crowd of :data:`MEASURED_VOICES`; fixed in a commit before its test studies ran.
Every candidate's validation and test studies are tabled from ``bench/unheard.jsonl`` in
``bench/unheard.md`` ("Result") and BEST's in the README, by ``bench/unheard.py --refresh``.
``unheard-resnets-balanced`` validates higher but assumes what a speaker says (every digit equally
often), so it is never the default."""
# "unheard" is the recipe for voices never heard, whichever BEST is (issue 17's "--recipe unheard"); the CNN it
# started as is "unheard-cnn"
RECIPES["unheard"] = replace(
    RECIPES[BEST], description=f"the recipe for voices never heard: {BEST}, chosen on held-out training speakers "
                               "(hw5lib.digits.unheard.BEST; bench/unheard.md)")


def recipe_named(recipe: str | SpeakerRecipe) -> SpeakerRecipe:
    if isinstance(recipe, SpeakerRecipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise DigitsError(f"Unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}.") from None


CROWD_CATALOGUE = "setup"
"""The voice catalogue (:data:`hw5lib.data.crowd.CATALOGUES`) the recipes' synthetic crowd is
pinned to: every voice ``scripts/setup`` installs, and no other, so voices installed beside them
(mbrola, the Piper voice of ``hw5lib[voices]``) leave the crowd as it was measured. Before
2026-12-07 the crowd was dealt from every voice found; on a machine set up by ``scripts/setup``
that is the same crowd (catalogue key 24adcf921f6d6f0c for seed 0)."""

MEASURED_VOICES = dict(Counter(voice.engine for voice in catalogue_voices(CROWD_CATALOGUE)))
"""The voices per engine that the recipes' numbers in ``bench/unheard.md`` and the README were
measured with since 2026-12-06 (espeak-ng 368, festival 3, flite 5: :data:`CROWD_CATALOGUE`'s;
espeak-ng 1.51). With some of them missing the crowd is another one: one ResNet on george's fold
moved from 84.6% to 80.6% when the Piper voice joined the crowd, before it was pinned."""


def crowd_clips(speakers: int, takes: int, seed: int = 0, progress: bool = False):
    """The synthetic crowd of :mod:`hw5lib.data.crowd` (``speakers`` x ``takes`` of every digit),
    made once into the cache and read as a DigitSet; its speaker names never clash with real ones.
    Its voices are :data:`CROWD_CATALOGUE`'s; where some are missing, the crowd of those found is
    used with a warning that says so."""
    from hw5lib.data import audio

    crowd = audio.load_digits("synthetic", synthetic_speakers=speakers, synthetic_takes=takes, seed=seed,
                              progress=progress, report=lambda message: None, synthetic_catalogue=CROWD_CATALOGUE)
    record = crowd.origin.get("crowd") or {}
    if record and record.get("engines") != MEASURED_VOICES:
        words = [", ".join(f"{engine} {count}" for engine, count in voices.items())
                 for voices in (record.get("engines", {}), MEASURED_VOICES)]
        warnings.warn(f"The synthetic crowd here is dealt from other voices ({words[0]}) than the one the unheard "
                      f"recipes were measured with ({words[1]}), so expect numbers a few points away from "
                      f"bench/unheard.md's (scripts/setup installs the missing ones).", stacklevel=2)
    return crowd


def _features(data, kind: str, progress: bool, high_pass: float | None = None) -> SequenceSet:
    from hw5lib.data import audio

    clips = data.audio if high_pass is None else [audio.high_pass(a, data.sample_rate, high_pass) for a in data.audio]
    return SequenceSet(audio.extract(clips, data.sample_rate, kind, progress=progress), data.digits)


def _check_speakers(names: Sequence[str], known: list[str], what: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    names = list(dict.fromkeys(names))
    if not names:
        raise DigitsError(f"No {what} speakers given; name at least one of {', '.join(known)}.")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DigitsError(f"Unknown {what} speaker {unknown[0]!r}; the speakers are {', '.join(known)}.")
    return names


def _normalised(features: SequenceSet, speakers: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray,
                how: str) -> tuple[SequenceSet, SequenceSet]:
    train, test = features.subset(train_idx), features.subset(test_idx)
    if how == "speaker":  # each set by its own speakers' statistics: the test speaker's come from its audio alone
        return speaker_cmvn(train, speakers[train_idx]), speaker_cmvn(test, speakers[test_idx])
    fitted, others = normalise(train, [test], how)
    return fitted, others[0]


def _in_a_pool(function: Callable) -> Callable:
    """``function`` (which takes ``jobs`` and ``trainings``, a ``map``-like callable) given
    :func:`networks_at_once`'s ``map`` for ``jobs`` when it is called without ``trainings``: every
    other argument passes through untouched, so none can be dropped on the way."""

    @wraps(function)
    def run(*args, jobs: int = 1, trainings: Callable | None = None, **kwargs):
        if trainings is not None:
            return function(*args, jobs=jobs, trainings=trainings, **kwargs)
        with networks_at_once(jobs) as trainings:
            return function(*args, jobs=jobs, trainings=trainings, **kwargs)

    return run


@_in_a_pool
def train_and_test_speakers(data, test_speakers: Sequence[str], recipe: str | SpeakerRecipe = "unheard-cnn",
                            model: str | None = None, device: str = "cpu", seed: int = 0, progress: bool = False,
                            train_speakers: Sequence[str] | None = None, checkpoint_dir=None,
                            features: SequenceSet | None = None, extra=None,
                            extra_features: SequenceSet | None = None, keep_probabilities: bool = False,
                            keep_networks: bool = False, *, jobs: int = 1, trainings: Callable | None = None) -> dict:
    """Train ``recipe`` (a name in :data:`RECIPES` or a :class:`SpeakerRecipe`; ``model`` replaces
    its model) on every clip of ``train_speakers`` (default: every speaker not tested; ``[]`` with
    ``extra``: on ``extra`` alone, e.g. synthetic speakers only) of ``data``
    (an ``hw5lib.data.audio.DigitSet``) and test it on every clip of ``test_speakers``.

    Returns ``accuracy`` (0-1 over the test clips), ``per_speaker`` (name -> accuracy), ``n_test``,
    ``n_train``, ``model``, ``recipe``, the speakers, ``confusion`` (true x predicted counts),
    ``parameters``, ``crowd`` (what :mod:`hw5lib.data.crowd` made the synthetic speakers of, when
    there are some: its voices depend on the speech engines installed), ``seconds`` (wall time),
    ``network_seconds`` (the networks' training and scoring, each timed on its own core, summed) and
    ``seeds``; with ``keep_probabilities`` also ``probabilities`` (an (n_test, 10) array) and the
    test ``labels`` in the same order, to combine models; with
    ``keep_networks`` also the trained ``networks`` (this recipe's own, not its partners') and the
    normalised ``test_set`` they were tested on.
    ``features`` may give the clips' features (of the
    model's kind) when they are already at hand. ``extra`` (another DigitSet, e.g. the synthetic
    crowd of :mod:`hw5lib.data.crowd`; its features ``extra_features``) joins every training set,
    its speakers normalised as the recipe says, and is never tested; without it, a recipe's
    ``crowd`` is loaded (:func:`crowd_clips`).

    ``jobs`` > 1 trains that many of the recipe's networks (its seeds, its partners' and their
    self-training) at once, each in its own process with one thread: the same numbers as one at a
    time, since every network is seeded. ``trainings`` (a ``map``-like callable) runs them instead;
    :func:`loso` hands every fold the same pool's, so that networks of different folds train side
    by side."""
    from sklearn.metrics import confusion_matrix

    name = recipe if isinstance(recipe, str) else "custom"
    chosen = recipe_named(recipe)
    if model is not None:
        chosen = replace(chosen, model=model)  # validates the model name
    known = sorted(set(np.asarray(data.speakers).tolist()))
    tested = _check_speakers(test_speakers, known, "test")
    only_extra = train_speakers is not None and len(train_speakers) == 0 and extra is not None
    training = [] if only_extra else _check_speakers(
        [s for s in known if s not in tested] if train_speakers is None else train_speakers, known, "training")
    overlap = sorted(set(tested) & set(training))
    if overlap:
        raise DigitsError(f"Speaker {overlap[0]!r} is both a training and a test speaker; they must be apart.")
    spec = model_spec(chosen.model)
    speakers = np.asarray(data.speakers)
    train_idx, test_idx = np.flatnonzero(np.isin(speakers, training)), np.flatnonzero(np.isin(speakers, tested))
    if len(test_idx) == 0 or (len(train_idx) == 0 and not only_extra):
        raise DigitsError(f"The {'test' if len(test_idx) == 0 else 'training'} set is empty; check the speakers.")
    features = features if features is not None else _features(data, spec.feature, progress, chosen.high_pass)
    if extra is None and chosen.crowd is not None:
        extra = crowd_clips(*chosen.crowd, progress=progress)
    if extra is not None:
        extra_features = (extra_features if extra_features is not None
                          else _features(extra, spec.feature, progress, chosen.high_pass))
        extra, extra_features = _without_speakers(extra, extra_features, tested)
    if extra is not None:
        added = np.arange(len(features), len(features) + len(extra_features))
        features = SequenceSet(features.sequences + extra_features.sequences,
                               np.concatenate([features.labels, extra_features.labels]))
        speakers = np.concatenate([speakers, np.char.add("extra:", np.asarray(extra.speakers).astype(str))])
        train_idx = np.concatenate([train_idx, added])
    if chosen.trim_db is not None:
        features = features.map(partial(trim_quiet, below_db=chosen.trim_db))
    if chosen.floor_db is not None:
        features = features.map(partial(floor_db, range_db=chosen.floor_db))
    if chosen.lifter is not None:
        features = features.map(partial(lifter, keep=chosen.lifter))
    train, test = _normalised(features, speakers, train_idx, test_idx, chosen.normalisation)
    began = time.perf_counter()
    test_speaker_of = speakers[test_idx]
    own = partial(adapted_ensemble, test=test, speaker_of=test_speaker_of, how=chosen.norm_adaptation,
                  multiple=spec.pad_multiple, device=device, warps=vtln_factors(chosen.vtln), kind=spec.feature)

    def scorer(round_: int) -> Callable:  # round 0 scores the networks as trained, round k after k self-trainings
        return own if chosen.vtln_pseudo or round_ == chosen.adapt_rounds else partial(own, warps=())

    runs = [replace(chosen.training, seed=seed + offset) for offset in range(chosen.seeds)]
    options = dict(model_name=chosen.model, device=device, pad_multiple=spec.pad_multiple,
                   progress=progress and trainings is map, feature=spec.feature)
    trained = list(trainings(_train_network, [
        (None, chosen.model, features.n_features, train, run, {**options, "checkpoint_dir": checkpoint_dir},
         scorer(0))
        for run in runs]))
    networks = [network for network, _, _ in trained]
    network_seconds = sum(seconds for _, _, seconds in trained)
    members = [float((scored.argmax(1) == test.labels).mean())
               for _, scored, _ in trained] if len(networks) > 1 or chosen.partner is not None else []
    probabilities = sum(scored for _, scored, _ in trained)  # own(networks) x seeds: each network weighs the same
    partners = chosen.partner if isinstance(chosen.partner, tuple) else (chosen.partner,) * (chosen.partner is not None)
    votes = chosen.seeds
    for partner in map(recipe_named, partners):
        if partner.partner is not None:
            raise DigitsError("A partner recipe cannot have a partner of its own.")
        other = train_and_test_speakers(data, tested, partner, device=device, seed=seed, progress=progress,
                                        train_speakers=training, checkpoint_dir=checkpoint_dir, extra=extra,
                                        keep_probabilities=True, trainings=trainings)
        members.append(other["accuracy"])
        network_seconds += other["network_seconds"]
        probabilities = probabilities + other["probabilities"] * partner.seeds  # one vote per network
        votes += partner.seeds
    probabilities = probabilities / votes
    adaptation = []
    for round_ in range(chosen.adapt_rounds):
        confident = pseudo_labelled(probabilities, test_speaker_of, chosen.adapt_threshold, chosen.adapt_share)
        guessed = probabilities[confident].argmax(1)
        adaptation.append({"round": round_ + 1, "pseudo_labelled": len(confident),
                           "pseudo_accuracy": float((guessed == test.labels[confident]).mean())
                           if len(confident) else None})  # for the record only: never used to decide anything
        if not len(confident):  # no clip sure enough: nothing to learn from, the networks stay as trained
            break
        pseudo = SequenceSet([test.sequences[i] for i in confident], guessed)
        joint = SequenceSet(train.sequences + pseudo.sequences, np.concatenate([train.labels, pseudo.labels]))
        trained = list(trainings(_train_network, [
            (network, chosen.model, features.n_features, joint,
             replace(run, epochs=chosen.adapt_epochs, lr=chosen.adapt_lr, seed=run.seed + 1000 * (round_ + 1)),
             options, scorer(round_ + 1)) for network, run in zip(networks, runs)]))
        networks = [network for network, _, _ in trained]
        network_seconds += sum(seconds for _, _, seconds in trained)
        probabilities = sum(scored for _, scored, _ in trained) / len(trained)  # own(networks)
    if chosen.balance:
        for speaker in tested:
            mine = test_speaker_of == speaker
            probabilities[mine] = balanced(probabilities[mine])
    predicted = probabilities.argmax(1)
    right = predicted == test.labels
    return {"accuracy": float(right.mean()), "n_test": len(test), "n_train": len(train), "model": chosen.model,
            "recipe": name, "normalisation": chosen.normalisation, "seeds": chosen.seeds,
            "per_speaker": {s: float(right[test_speaker_of == s].mean()) for s in tested},
            "train_speakers": training, "test_speakers": tested,
            "confusion": confusion_matrix(test.labels, predicted, labels=list(range(N_CLASSES))).tolist(),
            "parameters": count_parameters(networks[0]), "seconds": time.perf_counter() - began,
            "network_seconds": network_seconds, "device": device,
            "adaptation": adaptation, "member_accuracy": members, "n_extra": 0 if extra is None else len(extra),
            "crowd": None if extra is None else extra.origin.get("crowd"),  # which voices: they shape every number
            **({"probabilities": probabilities, "labels": test.labels} if keep_probabilities else {}),
            **({"networks": networks, "test_set": test} if keep_networks else {})}


def pseudo_labelled(probabilities: np.ndarray, speaker_of: np.ndarray, threshold: float,
                    share: float = 0.0) -> np.ndarray:
    """The rows of ``probabilities`` (clips, classes) that self-training learns from, with the digit
    they predict: those at least ``threshold`` sure and, with ``share``, for each speaker (``speaker_of``)
    and each digit predicted for its clips, the surest ``share`` of the clips predicted as that digit
    (rounded up), however sure. Sorted indices."""
    top, guessed = probabilities.max(1), probabilities.argmax(1)
    keep = top >= threshold
    if share:
        for speaker in np.unique(speaker_of):
            for digit in np.unique(guessed[speaker_of == speaker]):
                rows = np.flatnonzero((speaker_of == speaker) & (guessed == digit))
                keep[rows[np.argsort(-top[rows], kind="stable")[:math.ceil(share * len(rows))]]] = True
    return np.flatnonzero(keep)


def _train_network(task) -> tuple:
    """One network of a recipe, built from its seed (or given, to train further), trained, and scored
    on the test clips by ``score`` (its ``adapted_ensemble``): (the network, its probabilities, the
    seconds this took)."""
    import multiprocessing

    network, model, n_features, train, run, options, score = task
    if multiprocessing.current_process().name != "MainProcess":
        torch.set_num_threads(1)  # one core per network: several train at once
    began = time.perf_counter()
    if network is None:
        network = build_model(model, n_features, seed=run.seed)
    fit(network, train, None, run, **options)
    return network, score([network]), time.perf_counter() - began


def _check_jobs(jobs: int) -> None:
    if jobs < 1:
        raise DigitsError(f"jobs is the number of trainings at once and must be at least 1, got {jobs}.")


@contextmanager
def networks_at_once(jobs: int) -> Iterator[Callable]:
    """A ``map`` that trains ``jobs`` networks at once, each in its own process (spawned: no state
    shared with this one) with one thread; the built-in ``map`` for one job."""
    _check_jobs(jobs)
    if jobs == 1:
        yield map
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool.map


def _without_speakers(extra, extra_features: SequenceSet, names: Sequence[str]):
    """``extra`` (a DigitSet) and its features less every clip of a speaker named in ``names``, or
    (None, None) when nothing is left. Synthetic test speakers are the crowd's own first speakers:
    a crowd added to their training would hold the test voice itself."""
    keep = np.flatnonzero(~np.isin(np.asarray(extra.speakers), list(names)))
    if len(keep) == len(extra):
        return extra, extra_features
    if len(keep) == 0:
        return None, None
    kept = replace(extra, audio=[extra.audio[i] for i in keep], digits=np.asarray(extra.digits)[keep],
                   speakers=np.asarray(extra.speakers)[keep])
    return kept, extra_features.subset(keep)


def balanced(probabilities: np.ndarray, tolerance: float = 1e-6, max_iterations: int = 10_000) -> np.ndarray:
    """``probabilities`` (clips, classes) of one speaker's clips, reweighted so that every class gets
    the same total: the optimal transport of the clips (uniform weights) onto the classes (uniform
    weights) whose cost is -log p, entropy-regularised at 1 (Sinkhorn's iterations, in the log domain),
    each row then scaled to sum to 1. A class the networks over-predict for this voice (george's
    "eight" for his "six") loses the clips it holds most weakly to the classes left short.

    It assumes the speaker said every class about equally often, as in a session that asks for each
    digit in turn; for clips of unknown or skewed content it is wrong. Needs no label."""
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2 or len(p) == 0:
        raise DigitsError(f"balanced needs (clips, classes) probabilities, got shape {p.shape}.")
    log_k = np.log(np.clip(p, 1e-300, None))
    log_rows, log_columns = -np.log(p.shape[0]), -np.log(p.shape[1])
    v = np.zeros(p.shape[1])
    for _ in range(max_iterations):
        u = log_rows - np.logaddexp.reduce(log_k + v, axis=1)
        v = log_columns - np.logaddexp.reduce(log_k + u[:, None], axis=0)
        plan = np.exp(u[:, None] + log_k + v)
        if np.abs(plan.sum(1) - np.exp(log_rows)).max() < tolerance * np.exp(log_rows):
            break
    return (plan / plan.sum(1, keepdims=True)).astype(np.asarray(probabilities).dtype)


VTLN_STEP = 0.05
"""The step between the warp factors :func:`speaker_warps` tries (validation picked the same
factors with steps of 0.025, at twice the cost: bench/unheard.md)."""


def vtln_factors(vtln: float) -> tuple[float, ...]:
    """The warp factors a recipe's ``vtln`` tries: 1 and 1 +- every multiple of :data:`VTLN_STEP` up
    to ``vtln`` (none for 0)."""
    reach = int(round(vtln / VTLN_STEP))
    return tuple(round(1 + k * VTLN_STEP, 3) for k in range(-reach, reach + 1)) if reach else ()


def warp_clips(clips: SequenceSet, factor: float, kind: str) -> SequenceSet:
    """Every clip of ``clips`` (features of ``kind``) warped in frequency by ``factor``
    (:func:`~hw5lib.data.audio.warp_matrix`), as float32."""
    from hw5lib.data.audio import warp_matrix

    matrix = warp_matrix(clips.n_features, factor, kind)
    return clips.map(lambda frames: np.ascontiguousarray(frames @ matrix.T, dtype=np.float32))


def speaker_warps(networks, test: SequenceSet, speaker_of: np.ndarray, factors: Sequence[float], kind: str,
                  multiple: int, device: str) -> tuple[SequenceSet, dict, np.ndarray]:
    """Vocal-tract-length normalisation at test time: each speaker's clips of ``test`` (features of
    ``kind``) warped in frequency by the factor of ``factors`` (see
    :func:`~hw5lib.data.audio.warp_matrix`) under which ``networks`` are surest of them, on
    average over that speaker's clips (the mean of the ensemble's top probability). A voice whose
    vocal tract is longer or shorter than the training voices' is moved towards theirs, as VTLN in
    speech recognisers does by maximum likelihood; no label is read. Returns the warped set (clips
    in their order), the factor chosen for each speaker, and the networks' probabilities on the
    warped set (scored in the search: :func:`adapted_ensemble` does not score them again)."""
    sequences, chosen = list(test.sequences), {}
    probabilities = np.zeros((len(test), N_CLASSES))
    for speaker in np.unique(speaker_of):
        rows = np.flatnonzero(speaker_of == speaker)
        clips = test.subset(rows)
        tried = {}
        for factor in factors:
            warped = warp_clips(clips, factor, kind)
            tried[factor] = (warped, _ensemble(networks, warped, multiple, device))
        best = max(tried, key=lambda factor: tried[factor][1].max(1).mean())
        chosen[str(speaker)] = best
        warped, probabilities[rows] = tried[best]
        for row, frames in zip(rows, warped.sequences):
            sequences[row] = frames
    return SequenceSet(sequences, test.labels), chosen, probabilities


def adapted_ensemble(networks, test: SequenceSet, speaker_of: np.ndarray, how: str, multiple: int,
                     device: str, warps: Sequence[float] = (), kind: str = "log_mel") -> np.ndarray:
    """:func:`_ensemble` of ``networks`` on ``test``, with ``how`` = "adapted" each speaker's clips
    scored by the networks' batch-norm statistics re-estimated on that speaker's clips alone, and
    with "both" the plain and the adapted probabilities averaged. With ``warps`` (factors), each
    speaker's clips are first warped by the one of them the networks are surest of
    (:func:`speaker_warps`)."""
    if warps:  # the search scores the warped clips on the way
        test, _, plain = speaker_warps(networks, test, speaker_of, warps, kind, multiple, device)
    else:
        plain = _ensemble(networks, test, multiple, device) if how != "adapted" else None
    if how == "none":
        return plain
    adapted = np.zeros((len(test), N_CLASSES))
    for speaker in np.unique(speaker_of):
        rows = np.flatnonzero(speaker_of == speaker)
        clips = test.subset(rows)
        adapted[rows] = _ensemble([adapt_batch_norm(n, clips, multiple=multiple, device=device) for n in networks],
                                  clips, multiple, device)
    return adapted if how == "adapted" else (plain + adapted) / 2


def _ensemble(networks, data: SequenceSet, multiple: int, device: str) -> np.ndarray:
    """The mean of the networks' predicted probabilities (n, n_classes)."""
    total = np.zeros((len(data), N_CLASSES))
    for network in networks:
        logits = predict(network, data, multiple=multiple, device=device)
        total += torch.softmax(torch.from_numpy(logits).double(), 1).numpy()
    return total / len(networks)


@dataclass
class Study:
    """A leave-one-speaker-out study: one row per fold (test speaker, its accuracy, its networks'
    seconds of training and scoring summed over their cores, and
    with nested validation the held-out training speaker and its accuracy)."""

    recipe: str
    model: str
    folds: list = field(default_factory=list)

    @property
    def per_speaker(self) -> dict:
        return {row["speaker"]: row["accuracy"] for row in self.folds}

    def summary(self) -> dict:
        accuracies = {s: a for s, a in self.per_speaker.items() if not np.isnan(a)}  # none when only validated
        worst = min(accuracies, key=accuracies.get) if accuracies else None
        out = {"recipe": self.recipe, "model": self.model,
               "mean": float(np.mean(list(accuracies.values()))) if accuracies else None,
               "worst": accuracies[worst] if accuracies else None, "worst_speaker": worst, "per_speaker": accuracies,
               "minutes": sum(row["seconds"] for row in self.folds) / 60}
        inner = [row["inner_accuracy"] for row in self.folds if "inner_accuracy" in row]
        if inner:
            out["inner_mean"], out["inner_worst"] = float(np.mean(inner)), float(np.min(inner))
            out["inner_per_fold"] = {row["speaker"]: (row["inner_speaker"], row["inner_accuracy"])
                                     for row in self.folds}
        return out


def inner_speaker(test_speaker: str, training_speakers: Sequence[str]) -> str:
    """The training speaker a fold validates on: the first of ``training_speakers`` after the test
    speaker in alphabetical order (wrapping round), so each speaker validates one fold."""
    ordered = sorted(set(training_speakers) | {test_speaker})
    start = ordered.index(test_speaker)
    return next(ordered[(start + k) % len(ordered)] for k in range(1, len(ordered) + 1)
                if ordered[(start + k) % len(ordered)] in training_speakers)


def loso(data, recipe: str | SpeakerRecipe = "unheard-cnn", model: str | None = None,
         speakers: Sequence[str] | None = None, device: str = "cpu", seed: int = 0, progress: bool = False,
         nested: bool = False, outer: bool = True, checkpoint_dir=None, extra=None, jobs: int = 1) -> dict:
    """Leave one speaker out over ``speakers`` (default: all of ``data``'s): for each, train on
    all the others and test on it. With ``nested``, each fold also trains on all but its
    :func:`inner_speaker` (never its test speaker) and tests on that one: the validation score on
    which recipes are compared; ``outer=False`` runs only those. ``extra`` clips (a DigitSet, e.g.
    the synthetic crowd) join every training set. ``jobs`` > 1 trains that many networks at once,
    each in its own process with one thread (the same numbers as one at a time: every network is
    seeded), every fold's networks queued together so that no core waits on a fold's last one.
    Returns :meth:`Study.summary` with the folds."""
    chosen = recipe_named(recipe)
    if model is not None:
        chosen = replace(chosen, model=model)
    _check_jobs(jobs)  # before the features are made
    known = sorted(set(np.asarray(data.speakers).tolist()))
    folds = _check_speakers(known if speakers is None else speakers, known, "test")
    if len(known) < (3 if nested else 2):
        raise DigitsError(f"Leaving one speaker out needs at least {3 if nested else 2} speakers, got {len(known)}.")
    kind = model_spec(chosen.model).feature
    features = _features(data, kind, progress, chosen.high_pass)
    if extra is None and chosen.crowd is not None:
        extra = crowd_clips(*chosen.crowd, progress=progress)
    extra_features = _features(extra, kind, progress, chosen.high_pass) if extra is not None else None
    common = dict(recipe=chosen, device=device, seed=seed, progress=progress and jobs == 1,
                  checkpoint_dir=checkpoint_dir, features=features, extra=extra, extra_features=extra_features)
    runs = loso_runs(known, folds, outer=outer, nested=nested)
    tasks = [(data, [tested], {**common, "train_speakers": training}) for _, tested, training in runs]
    with networks_at_once(jobs) as trainings:
        def one(task) -> dict:
            return train_and_test_speakers(task[0], task[1], **task[2], trainings=trainings)

        if jobs == 1:  # here, one after another
            results = list(map(one, tasks))
        else:  # every run in a thread of its own here; their networks train in the shared pool of processes
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(tasks)) as runs_at_once:
                results = list(runs_at_once.map(one, tasks))
    study = Study(recipe if isinstance(recipe, str) else "custom", chosen.model)
    for speaker in folds:
        row = {"speaker": speaker, "seconds": 0.0, "accuracy": float("nan")}
        for (fold, tested, _), result in zip(runs, results):
            if fold != speaker:
                continue
            if tested == speaker:
                row.update(accuracy=result["accuracy"], adaptation=result["adaptation"],
                           member_accuracy=result["member_accuracy"])
            else:
                row.update(inner_speaker=tested, inner_accuracy=result["accuracy"])
            row["seconds"] += result["network_seconds"]
        study.folds.append(row)
    return {**study.summary(), "crowd": next((r["crowd"] for r in results if r["crowd"]), None), "folds": study.folds}


def loso_runs(speakers: Sequence[str], folds: Sequence[str] | None = None, outer: bool = True,
              nested: bool = False) -> list[tuple[str, str, list[str]]]:
    """The training runs of a leave-one-speaker-out study over ``speakers``, fold by fold (``folds``:
    the test speakers, default all): (the fold's test speaker, the speaker tested, the speakers
    trained on), the fold itself with ``outer`` and its validation run (:func:`inner_speaker`
    held out, never the fold's test speaker) with ``nested``."""
    runs = []
    for speaker in speakers if folds is None else folds:
        others = [s for s in speakers if s != speaker]
        if outer:
            runs.append((speaker, speaker, others))
        if nested:
            held = inner_speaker(speaker, others)
            runs.append((speaker, held, [s for s in others if s != held]))
    return runs


# --- the levers of the unheard recipe, one at a time and together ----------------------------------

LEVERS = {
    "speaker": "per-speaker CMVN (the test speaker's statistics from its own unlabelled clips)",
    "augment": "speed, vocal-tract-length and tempo perturbation, SpecAugment (and half the input noise)",
    "silence": "leading and trailing silence trimmed, the rest floored under each clip's peak",
    "crowd": "the synthetic crowd of hw5lib.data.crowd added to every training set",
}
"""What separates the ``unheard-cnn`` recipe from the chapter's (``ours``), lever by lever."""

_AUGMENTATION = ("noise", "speed", "warp", "stretch", "freq_masks", "freq_width", "time_masks", "time_width",
                 "mixup", "equalise", "label_smoothing")


def with_levers(levers: Sequence[str], base: str | SpeakerRecipe = "ours", target: str | SpeakerRecipe = "unheard-cnn",
                epochs: int | None = None, crowd: tuple[int, int] | None = None,
                model: str | None = None) -> SpeakerRecipe:
    """``base`` with the named :data:`LEVERS` of ``target`` switched on: each lever copies its fields
    from ``target`` (``speaker``: the normalisation; ``augment``: the augmentation fields of the
    training recipe and its input noise; ``silence``: trimming, floor and lifter; ``crowd``: the
    crowd, or ``crowd`` = (speakers, takes) instead). ``epochs`` (default: ``target``'s) applies to
    every combination, so that rows differ by their levers alone; with every lever,
    ``with_levers(LEVERS)`` is ``target`` itself. ``model`` replaces the model; the silence lever
    works on log-mel features and is left off for a model that reads MFCCs."""
    start, goal = recipe_named(base), recipe_named(target)
    unknown = [name for name in levers if name not in LEVERS]
    if unknown:
        raise DigitsError(f"Unknown lever {unknown[0]!r}; choose from {', '.join(LEVERS)}.")
    outer: dict = {"description": "", "model": model or start.model}
    training: dict = {"epochs": epochs or goal.training.epochs}
    if "speaker" in levers:
        outer["normalisation"] = goal.normalisation
    if "augment" in levers:
        training.update({name: getattr(goal.training, name) for name in _AUGMENTATION})
    if "silence" in levers and model_spec(outer["model"]).feature == "log_mel":
        outer.update(trim_db=goal.trim_db, floor_db=goal.floor_db, lifter=goal.lifter)
    if "crowd" in levers:
        outer["crowd"] = crowd or goal.crowd
    return replace(start, **outer).with_training(**training)


def lever_rows(levers: Sequence[str] = tuple(LEVERS), all_but: bool = False) -> list[tuple[str, ...]]:
    """The rows of a lever study: none (the base recipe), each lever alone, all of them together,
    and with ``all_but`` every lever but one (what each costs when it is the one missing)."""
    levers = tuple(levers)
    rows = [(), *((lever,) for lever in levers), levers]
    if all_but and len(levers) > 2:
        rows += [tuple(other for other in levers if other != lever) for lever in levers]
    return list(dict.fromkeys(rows))


def lever_study(data, rows: Sequence[Sequence[str]] | None = None, speakers: Sequence[str] | None = None,
                epochs: int | None = None, crowd: tuple[int, int] | None = None, model: str | None = None,
                nested: bool = False, device: str = "cpu", seed: int = 0, checkpoint_dir=None,
                progress: bool = False, jobs: int = 1) -> list[dict]:
    """The leave-one-speaker-out study (:func:`loso`, folds ``speakers``: default all) of each row of
    levers (default :func:`lever_rows`), every row built by :func:`with_levers` with the same
    ``epochs``, ``crowd`` and ``model``. One dict per row: ``levers`` (the tuple), the recipe, and
    :func:`loso`'s summary (mean, worst, worst_speaker, per_speaker, minutes, with ``nested`` the
    validation scores inner_mean and inner_worst, which never see a fold's test speaker) with its folds.
    ``jobs`` > 1 trains that many networks at once, as :func:`loso` does.

    The crowd is read once; in every fold its speakers who share a name with the fold's test
    speaker are left out (synthetic data: the test voices are the crowd's own first speakers)."""
    _check_jobs(jobs)  # before the crowd is made
    rows = lever_rows() if rows is None else [tuple(row) for row in rows]
    recipes = [with_levers(row, epochs=epochs, crowd=crowd, model=model) for row in rows]
    crowds = {recipe.crowd for recipe in recipes if recipe.crowd is not None}
    extras = {size: crowd_clips(*size, seed=seed, progress=progress) for size in sorted(crowds)}
    out = []
    for row, recipe in zip(rows, recipes):
        study = loso(data, recipe, speakers=speakers, device=device, seed=seed, progress=progress, nested=nested,
                     checkpoint_dir=checkpoint_dir, extra=extras.get(recipe.crowd), jobs=jobs)
        out.append({**study, "levers": row, "recipe": recipe})
    return out
