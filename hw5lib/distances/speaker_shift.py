"""Speakers as domains: how far apart their MFCC distributions are, what that costs a classifier
trained on other speakers, and how much each method of bringing distributions closer recovers.

Vocabulary: a *sequence* is one clip's MFCCs, (frames, coefficients); a speaker's *frames* are
all their sequences stacked. The classifier sees one vector per clip, :func:`segment_means`
(the clip cut into equal segments in time, the MFCC mean of each), which keeps the order of
sounds in a word and survives per-utterance normalisation (a plain mean-MFCC would not: CMVN sets it to zero).

Distances are measured in a scale-free way, so that a method which rescales the features cannot
look better just by shrinking them: both samples are divided, per coefficient, by the standard
deviation of the training (source) frames *after* the method, then compared with the exact
1-Wasserstein distance (POT's ``emd2``) and the unbiased MMD².
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from hw5lib.data.normalise import Standardiser, cmvn
from hw5lib.distances import alignment, divergences
from hw5lib.progress import progress as progress_bar

__all__ = ["segment_means", "scaled_distances", "speaker_distance_matrix", "ADAPTATIONS", "GENERATIVE", "cross_speaker",
           "speed_copies", "within_speaker_accuracy", "CrossSpeaker"]


def segment_means(sequence, segments: int = 5) -> np.ndarray:
    """(frames, d) -> (segments * d,): the mean of each of ``segments`` equal stretches in time."""
    sequence = np.asarray(sequence, dtype=float)
    if sequence.ndim != 2 or len(sequence) == 0:
        raise divergences.DistributionError(f"a sequence must be (frames, features) with frames > 0, "
                                            f"got shape {sequence.shape}.")
    if len(sequence) < segments:  # a very short clip: repeat frames so every segment has one
        sequence = np.repeat(sequence, -(-segments // len(sequence)), axis=0)
    return np.concatenate([part.mean(0) for part in np.array_split(sequence, segments)])


def _subsample(frames: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return frames if len(frames) <= n else frames[rng.choice(len(frames), n, replace=False)]


def scaled_distances(source_frames, target_frames, max_frames: int = 400, seed: int = 0, scale=None) -> dict:
    """W1 (exact optimal transport) and MMD² between two frame samples, both in units of
    ``scale`` (by default the source's per-coefficient standard deviation), on at most
    ``max_frames`` frames of each."""
    # POT imports every array library it finds (TensorFlow, JAX, CuPy) to offer them as backends;
    # only NumPy is used here, and TensorFlow's start-up lines on stderr would fail the book build
    for library in ("TENSORFLOW", "JAX", "CUPY"):
        os.environ.setdefault(f"POT_BACKEND_DISABLE_{library}", "1")
    import ot

    rng = np.random.default_rng(seed)
    scale = Standardiser().fit(source_frames).scale_ if scale is None else np.asarray(scale)
    x = _subsample(np.asarray(source_frames) / scale, max_frames, rng)
    y = _subsample(np.asarray(target_frames) / scale, max_frames, rng)
    cost = ot.dist(x, y, metric="euclidean")
    w1 = float(ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cost, numItermax=1_000_000))
    return {"w1": w1, "mmd2": divergences.mmd2(x, y)}


def _frames_of(sequences: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(s, dtype=float) for s in sequences])


def speaker_distance_matrix(sequences, speakers, max_frames: int = 400, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Pairwise distances between speakers' frame distributions (all scaled by the pooled standard
    deviation, so every pair is measured in the same units): {'w1': DataFrame, 'mmd2': DataFrame}."""
    speakers = np.asarray(speakers)
    names = sorted(set(speakers.tolist()))
    pooled_std = Standardiser().fit(_frames_of(sequences)).scale_
    frames = {name: _frames_of([s for s, who in zip(sequences, speakers) if who == name]) for name in names}
    out = {key: pd.DataFrame(0.0, index=names, columns=names) for key in ("w1", "mmd2")}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = scaled_distances(frames[a], frames[b], max_frames, seed, scale=pooled_std)
            for key in out:
                out[key].loc[a, b] = out[key].loc[b, a] = d[key]
    return out


# --- methods of bringing the test speaker closer to the training speakers ------------------------
# Each takes (source sequences, their speakers, target sequences, options) and returns both sides after
# the method, and the fitted map (or None). Maps are fitted on frames without labels: the target
# speaker's words are never seen. They carry the target onto the source, so that the classifier
# trained on the source applies unchanged.

def _map_target(make: Callable[[dict], object]):
    def adapt(source, source_speakers, target, options):
        method = make(options).fit(_frames_of(target), _frames_of(source))
        return list(source), [method.transform(np.asarray(t, dtype=float)) for t in target], method
    return adapt


def _utterance_cmvn(source, source_speakers, target, options):
    def z(s):  # statistics in float64, whatever the features' type
        return cmvn(np.asarray(s, dtype=float))
    return [z(s) for s in source], [z(t) for t in target], None


def _speaker_cmvn(source, source_speakers, target, options):
    return _each_speaker_standardised(source, source_speakers), _standardised(target), None


def _each_speaker_standardised(source, source_speakers) -> list:
    """Every training clip standardised by its own speaker's statistics."""
    source_speakers = np.asarray(source_speakers)
    out = [None] * len(source)
    for name in np.unique(source_speakers):
        rows = np.flatnonzero(source_speakers == name)
        for i, clip in zip(rows, _standardised([source[i] for i in rows])):
            out[i] = clip
    return out


def _standardised(clips) -> list:
    """Clips of one speaker standardised by their own statistics."""
    own = Standardiser().fit(_frames_of(clips))
    return [own.transform(c) for c in clips]


VTLN_FACTORS = (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15)
"""The frequency warps :func:`_speaker_cmvn_vtln` tries on a new speaker, as Q4's
``hw5lib.digits.unheard.vtln_factors(0.15)``."""


class _Warp:
    """The warp factor a method chose for the new speaker (its ``factor_``)."""

    def __init__(self, factor: float):
        self.factor_ = factor


def _speaker_cmvn_vtln(source, source_speakers, target, options):
    """Vocal-tract-length normalisation chosen by a distance: the new speaker's MFCCs warped in
    frequency (:func:`hw5lib.data.audio.warp_matrix`) by each of :data:`VTLN_FACTORS`, per-speaker
    CMVN after, and the factor kept whose frames are closest to the training speakers' in MMD²
    (no label read). Q4 picks the same factor by a network's confidence instead."""
    from hw5lib.data.audio import warp_matrix

    moved = _each_speaker_standardised(source, source_speakers)  # the same for every warp
    best = None
    for factor in VTLN_FACTORS:
        matrix = warp_matrix(np.shape(target[0])[1], factor, "mfcc", fmax=options["fmax"]).astype(float)
        warped = _standardised([np.asarray(t, float) @ matrix.T for t in target])
        mmd2 = scaled_distances(_frames_of(moved), _frames_of(warped), options["max_frames"], options["seed"])["mmd2"]
        if best is None or mmd2 < best[0]:
            best = (mmd2, warped, factor)
    return moved, best[1], _Warp(best[2])


def _smooth(source, source_speakers, target, options):
    smooth = alignment.Smooth(width=5)
    return [smooth.transform(s) for s in source], [smooth.transform(t) for t in target], None


def _none(source, source_speakers, target, options):
    return list(source), list(target), None


# Matching by generation: instead of moving the new speaker, make more training voices until they
# cover it. ``options["copies"]`` holds, per perturbation, the training clips' perturbed sequences
# (:func:`speed_copies`); the method returns the originals followed by every copy, in that order.

def _augmentation(source, source_speakers, target, options):
    return list(source) + [s for copy in options["copies"] for s in copy], list(target), None


def _speaker_cmvn_augmentation(source, source_speakers, target, options):
    """Per-speaker CMVN where each perturbed copy of a speaker counts as a speaker of its own (a
    faster voice is another voice), then the copies join the training clips."""
    copies = options["copies"]
    names = np.asarray(source_speakers, dtype=str)
    voices = np.concatenate([names] + [np.char.add(f"{k}:", names) for k in range(len(copies))])
    every = list(source) + [s for copy in copies for s in copy]
    return _speaker_cmvn(every, voices, target, options)


ADAPTATIONS: dict[str, Callable] = {
    "none": _none,
    "utterance CMVN": _utterance_cmvn,
    "speaker CMVN": _speaker_cmvn,
    "speaker CMVN + VTLN": _speaker_cmvn_vtln,
    "mean-variance matching": _map_target(lambda options: alignment.Standardize(to_target=True)),
    "quantile matching": _map_target(lambda options: alignment.QuantileMatch(seed=options["seed"])),
    "smoothing": _smooth,
    "CORAL": _map_target(lambda options: alignment.Coral()),
    "MMD affine map": _map_target(lambda options: alignment.MMDAffine(steps=options["mmd_steps"],
                                                                      seed=options["seed"])),
    "augmentation": _augmentation,
    "speaker CMVN + augmentation": _speaker_cmvn_augmentation,
}
"""Every method, by its key (``none`` is the baseline)."""

GENERATIVE = ("augmentation", "speaker CMVN + augmentation")
"""The methods that need perturbed copies of the training clips (``copies`` of :func:`cross_speaker`)."""

SPEED_FACTORS = (0.9, 1.1)
"""Kaldi's speed perturbation: every clip also played 0.9 and 1.1 times as fast."""


def speed_copies(audio_clips, sample_rate: int, factors: Sequence[float] = SPEED_FACTORS,
                 progress: bool = False) -> list[list[np.ndarray]]:
    """Per factor, every clip's MFCC sequence after playing it ``factor`` times as fast
    (:func:`hw5lib.data.crowd.warp`: pitch and formants times the factor, duration over it, as from
    a vocal tract 1/factor as long). The features are cached on disk like any others."""
    from hw5lib.data.audio import extract
    from hw5lib.data.crowd import warp

    return [extract([warp(clip, sample_rate, factor) for clip in audio_clips], sample_rate, "mfcc", progress=progress)
            for factor in factors]


def _classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))


@dataclass
class CrossSpeaker:
    """One row per (held-out speaker, method): distances and accuracy; plus MMD loss curves."""

    table: pd.DataFrame
    loss_curves: dict  # held-out speaker -> MMD² after each step of the affine map's fit

    def summary(self) -> pd.DataFrame:
        """Mean over held-out speakers, per method, in the order of ADAPTATIONS."""
        mean = self.table.groupby("method", sort=False)[["w1", "mmd2", "accuracy"]].mean()
        return mean.reindex([m for m in ADAPTATIONS if m in mean.index])


def cross_speaker(sequences, digits, speakers, methods: Sequence[str] | None = None, segments: int = 5,
                  max_frames: int = 400, seed: int = 0, targets: Sequence[str] | None = None,
                  mmd_steps: int = 300, progress: bool = True, copies=None, sample_rate: int = 8000) -> CrossSpeaker:
    """Leave one speaker out: train on the others, test on that speaker, for every method.

    ``targets`` limits which speakers are held out (all by default). ``copies`` (one list per
    perturbation, aligned with ``sequences``, e.g. :func:`speed_copies`) are what the
    :data:`GENERATIVE` methods add to training, only ever of the training speakers' clips; without
    them, the default methods are the others."""
    if methods is None:
        methods = [m for m in ADAPTATIONS if copies is not None or m not in GENERATIVE]
    methods = list(methods)
    unknown = [m for m in methods if m not in ADAPTATIONS]
    if unknown:
        raise divergences.DistributionError(f"Unknown method {unknown[0]!r}; choose from {', '.join(ADAPTATIONS)}.")
    needy = [m for m in methods if m in GENERATIVE]
    if needy and not copies:
        raise divergences.DistributionError(f"Method {needy[0]!r} needs copies of the clips (speed_copies).")
    if copies and any(len(copy) != len(sequences) for copy in copies):
        raise divergences.DistributionError("Every copy must hold one sequence per clip, in the clips' order.")
    digits, speakers = np.asarray(digits), np.asarray(speakers)
    names = sorted(set(speakers.tolist()))
    if len(names) < 2:
        raise divergences.DistributionError("Leaving one speaker out needs at least two speakers.")
    targets = names if targets is None else list(targets)
    rows, curves = [], {}
    jobs = [(t, m) for t in targets for m in methods]
    for target_name, method in progress_bar(jobs, progress, "held-out speakers x methods"):
        test = np.flatnonzero(speakers == target_name)
        train = np.flatnonzero(speakers != target_name)
        options = {"seed": seed, "mmd_steps": mmd_steps, "max_frames": max_frames, "fmax": sample_rate / 2,
                   "copies": [[copy[i] for i in train] for copy in copies] if copies else []}
        source, target, fitted = ADAPTATIONS[method]([sequences[i] for i in train], speakers[train],
                                                     [sequences[i] for i in test], options)
        distance = scaled_distances(_frames_of(source), _frames_of(target), max_frames, seed)
        labels = np.tile(digits[train], len(source) // len(train))  # a generative method's copies, in order
        model = _classifier().fit(np.stack([segment_means(s, segments) for s in source]), labels)
        accuracy = model.score(np.stack([segment_means(t, segments) for t in target]), digits[test])
        rows.append({"target": target_name, "method": method, **distance, "accuracy": float(accuracy),
                     "factor": getattr(fitted, "factor_", np.nan)})
        if hasattr(fitted, "loss_curve_"):
            curves[target_name] = fitted.loss_curve_
    return CrossSpeaker(pd.DataFrame(rows), curves)


def within_speaker_accuracy(sequences, digits, speakers, segments: int = 5, seed: int = 0) -> float:
    """Accuracy when every speaker is in both training and test (stratified 80/20): the
    reference against which the cost of a new speaker is measured."""
    from sklearn.model_selection import train_test_split

    features = np.stack([segment_means(s, segments) for s in sequences])
    strata = np.array([f"{d}-{s}" for d, s in zip(digits, speakers)])
    if int(np.ceil(0.2 * len(strata))) < len(set(strata)):  # too few clips for every (digit, speaker) in test
        strata = np.asarray(digits)
    x_train, x_test, y_train, y_test = train_test_split(features, np.asarray(digits), test_size=0.2,
                                                        random_state=seed, stratify=strata)
    return float(_classifier().fit(x_train, y_train).score(x_test, y_test))
