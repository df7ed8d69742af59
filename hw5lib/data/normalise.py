"""Mean and variance normalisation of feature frames: the one standardiser of the project.

``cmvn`` normalises one utterance by its own statistics (cepstral mean and variance
normalisation); :class:`Standardiser` learns per-feature statistics from some frames (a training
set, one speaker's unlabelled audio) and applies them to others. Both divide by ``std + EPS``.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5  # keeps a constant feature finite; far below any MFCC's or log-mel band's spread


def cmvn(frames: np.ndarray) -> np.ndarray:
    """(frames, features) -> each feature to mean 0, std 1 over these frames, as float32."""
    frames = np.asarray(frames)
    return ((frames - frames.mean(0)) / (frames.std(0) + EPS)).astype(np.float32)


class Standardiser:
    """Per-feature mean and standard deviation of the frames given to :meth:`fit`, applied by
    :meth:`transform` to any frames with the same features."""

    def fit(self, frames: np.ndarray) -> "Standardiser":
        """``frames`` (n, features): every frame whose statistics are to be learnt."""
        frames = np.asarray(frames)
        if frames.ndim != 2 or len(frames) == 0:
            raise ValueError(f"A standardiser is fitted on frames shaped (n, features) with n > 0, got {frames.shape}.")
        self.mean_, self.scale_ = frames.mean(0), frames.std(0) + EPS
        return self

    def transform(self, frames: np.ndarray) -> np.ndarray:
        return ((np.asarray(frames) - self.mean_) / self.scale_).astype(np.float32)
