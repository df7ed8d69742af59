"""Spoken-digit data sets for the models: sequences of features with their labels, the three
splits (random, stratified, speaker-disjoint) and normalisation.

A *sequence* is one clip's features as (frames, features), MFCCs or log-mel; a
:class:`SequenceSet` holds sequences of different lengths and their labels.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from hw5lib.data import audio
from hw5lib.data.normalise import Standardiser, cmvn

N_CLASSES = 10


class DigitsError(ValueError):
    """A split, a model name or a training setting cannot be used; the message says which and why."""


# --- data sets ----------------------------------------------------------------------------------------

@dataclass
class SequenceSet:
    """``sequences[i]`` (frames, features), float32, says digit ``labels[i]``."""

    sequences: list
    labels: np.ndarray

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.sequences) != len(self.labels):
            raise DigitsError(f"{len(self.sequences)} sequences but {len(self.labels)} labels.")
        if len(self.sequences) == 0:
            raise DigitsError("A sequence set needs at least one sequence.")
        widths = {np.shape(s)[1] if np.ndim(s) == 2 else None for s in self.sequences}
        if len(widths) != 1 or None in widths:
            raise DigitsError(f"Every sequence must be (frames, features) with one feature count, got {widths}.")
        if min(len(s) for s in self.sequences) == 0:
            raise DigitsError("A sequence has no frames; check the clip it came from.")
        self.sequences = [np.ascontiguousarray(s, dtype=np.float32) for s in self.sequences]

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def n_features(self) -> int:
        return self.sequences[0].shape[1]

    def subset(self, indices) -> "SequenceSet":
        return SequenceSet([self.sequences[i] for i in indices], self.labels[np.asarray(indices, dtype=int)])

    def map(self, function: Callable[[np.ndarray], np.ndarray]) -> "SequenceSet":
        return SequenceSet([function(s) for s in self.sequences], self.labels)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.labels.tobytes())
        for s in self.sequences:
            digest.update(s.tobytes())
        return digest.hexdigest()[:16]


def feature_sets(clips, kinds: Sequence[str] = ("mfcc", "log_mel"), progress: bool = False) -> dict:
    """One :class:`SequenceSet` per feature kind for the clips of an ``audio.DigitSet`` (cached features)."""
    return {kind: SequenceSet(audio.extract(clips.audio, clips.sample_rate, kind=kind, progress=progress), clips.digits)
            for kind in kinds}


def collate(sequences: Sequence[torch.Tensor], multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad to the longest sequence (rounded up to ``multiple`` frames): (batch, frames, features),
    and the true lengths."""
    lengths = torch.tensor([len(s) for s in sequences])
    frames = int(math.ceil(int(lengths.max()) / multiple) * multiple)
    batch = torch.zeros(len(sequences), frames, sequences[0].shape[1])
    for i, s in enumerate(sequences):
        batch[i, :len(s)] = s
    return batch, lengths


def fixed_length(data: SequenceSet, frames: int, transpose: bool = False) -> SequenceSet:
    """Every sequence cut or zero-padded to ``frames`` frames, so padding is seen as signal (what a
    Keras model without a Masking layer does); with ``transpose`` the (frames, coefficients) matrix
    is fed as (coefficients, frames): time steps are coefficients, as librosa's (n_mfcc, frames)
    layout gives when passed to an LSTM unchanged."""
    if frames < 1:
        raise DigitsError(f"frames must be positive, got {frames}.")

    def cut(sequence):
        out = np.zeros((frames, sequence.shape[1]), np.float32)
        out[:min(frames, len(sequence))] = sequence[:frames]
        return out.T.copy() if transpose else out

    return data.map(cut)


# --- splits --------------------------------------------------------------------------------------

def random_split(n: int, test_size: float = 0.2, random_state: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The report's split: ``train_test_split(..., test_size=0.2, random_state=42)`` on the clips' indices."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(n), test_size=test_size, random_state=random_state)
    return np.asarray(train), np.asarray(test)


def stratified_split(labels, test_size: float = 0.2, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written split the report mentions, done properly: each class is shuffled and
    ``round(test_size * count)`` of its clips (at least one, when it has two) go to the test set."""
    if not 0 < test_size < 1:
        raise DigitsError(f"test_size must be between 0 and 1, got {test_size}.")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = min(len(members) - 1, max(1, int(round(test_size * len(members))))) if len(members) > 1 else 0
        test.extend(members[:n_test])
        train.extend(members[n_test:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def speaker_split(speakers, test_speakers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Speaker-disjoint: every clip of ``test_speakers`` is tested, every other clip trains."""
    speakers = np.asarray(speakers)
    unknown = sorted(set(test_speakers) - set(speakers.tolist()))
    if unknown:
        raise DigitsError(f"Unknown test speaker {unknown[0]!r}; the speakers are {', '.join(sorted(set(speakers)))}.")
    held_out = np.isin(speakers, list(test_speakers))
    if held_out.all():
        raise DigitsError("A speaker-disjoint split needs at least one speaker left for training.")
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


# --- normalisation -------------------------------------------------------------------------------

def standardiser(train: SequenceSet) -> Standardiser:
    """The per-feature statistics of every training frame."""
    return Standardiser().fit(np.concatenate(train.sequences))


def floor_db(frames: np.ndarray, range_db: float) -> np.ndarray:
    """Log-mel ``frames`` (t, bands, in dB) raised to at least the clip's loudest value less
    ``range_db``: the silences of recordings with different noise floors (a quiet room at -70 dB,
    a hissing one at -50 dB) look alike, and the model cannot tell speakers apart by their rooms."""
    if not range_db > 0:
        raise DigitsError(f"The dynamic range must be positive, got {range_db} dB.")
    return np.maximum(frames, frames.max() - range_db).astype(np.float32)


def trim_quiet(frames: np.ndarray, below_db: float) -> np.ndarray:
    """Log-mel ``frames`` (t, bands, in dB) without the leading and trailing frames whose loudest
    band is more than ``below_db`` under the clip's loudest: each clip from its first loud frame to
    its last (never empty)."""
    if not below_db > 0:
        raise DigitsError(f"The trimming threshold must be positive, got {below_db} dB.")
    loud = np.flatnonzero(frames.max(1) >= frames.max() - below_db)
    return np.ascontiguousarray(frames[loud[0]:loud[-1] + 1])


def lifter(frames: np.ndarray, keep: int) -> np.ndarray:
    """Log-mel ``frames`` (t, bands) smoothed over the bands: the orthonormal DCT of each frame
    (its cepstrum, as MFCCs are made), all but the first ``keep`` coefficients zeroed, and back.
    The fine ripple of a voice's pitch harmonics in the low bands goes; the envelope (formants) stays."""
    from scipy.fft import dct, idct

    if not 1 <= keep <= frames.shape[1]:
        raise DigitsError(f"keep must be between 1 and the {frames.shape[1]} bands, got {keep}.")
    cepstra = dct(frames, type=2, norm="ortho", axis=1)
    cepstra[:, keep:] = 0
    return idct(cepstra, type=2, norm="ortho", axis=1).astype(np.float32)


def speaker_cmvn(data: SequenceSet, speakers, min_frames: int = 1) -> SequenceSet:
    """Every clip standardised by its own speaker's statistics: per feature, the mean and standard
    deviation of all frames of that speaker's clips in ``data`` (``speakers[i]`` says clip ``i``'s
    speaker). No label is read, so for a speaker never heard in training this is adaptation from
    its unlabelled audio, as a recogniser that has listened to a new voice for a while can do.
    A speaker with fewer than ``min_frames`` frames cannot be normalised (:class:`DigitsError`)."""
    speakers = np.asarray(speakers)
    if len(speakers) != len(data):
        raise DigitsError(f"{len(data)} clips but {len(speakers)} speaker names.")
    sequences = list(data.sequences)
    for speaker in np.unique(speakers):
        members = np.flatnonzero(speakers == speaker)
        frames = np.concatenate([data.sequences[i] for i in members])
        if len(frames) < min_frames:
            raise DigitsError(f"Speaker {speaker!r} has {len(frames)} frames; per-speaker CMVN needs at least "
                              f"{min_frames}.")
        scaler = Standardiser().fit(frames)
        for i in members:
            sequences[i] = scaler.transform(data.sequences[i])
    return SequenceSet(sequences, data.labels)


def normalise(train: SequenceSet, others: Sequence[SequenceSet], how: str) -> tuple[SequenceSet, list]:
    """``how``: 'none', 'utterance' (CMVN per clip) or 'global' (statistics of the training frames)."""
    if how == "none":
        return train, list(others)
    if how == "utterance":
        return train.map(cmvn), [o.map(cmvn) for o in others]
    if how == "global":
        scaler = standardiser(train)
        return train.map(scaler.transform), [o.map(scaler.transform) for o in others]
    raise DigitsError(f"Unknown normalisation {how!r}; choose none, utterance or global.")
