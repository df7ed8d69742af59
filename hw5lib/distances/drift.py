"""Detecting a change of distribution in a stream: the report's fraud example, made measurable.

A reference sample says what normal looks like. A window slides over the stream; the distance
between the window's histogram and the reference histogram is compared with a threshold
calibrated on windows drawn from the reference itself (so its false-alarm rate is chosen, not
hoped for). :func:`evaluate` measures the detection delay and the false-alarm rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hw5lib.distances import divergences

DISTANCES = {
    "tv": divergences.total_variation,
    "hellinger": divergences.hellinger,
    "js": divergences.jensen_shannon,
    "kl": divergences.kl_divergence,
}


def transaction_stream(n_reference: int = 5000, n_stream: int = 4000, change_at: int = 2500,
                       fraud_share: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Synthetic log-amounts of card transactions: normal ones ~ N(3, 1); after ``change_at``,
    a share ``fraud_share`` are fraudulent, ~ N(5.5, 0.5) (fewer, larger amounts).
    Returns (reference, stream, change_at)."""
    if not 0 < change_at < n_stream:
        raise divergences.DistributionError(f"'change_at' must lie inside the stream (0, {n_stream}), got {change_at}.")
    if not 0.0 <= fraud_share <= 1.0:
        raise divergences.DistributionError(f"'fraud_share' must be in [0, 1], got {fraud_share}.")
    rng = np.random.default_rng(seed)
    reference = rng.normal(3.0, 1.0, n_reference)
    stream = rng.normal(3.0, 1.0, n_stream)
    after = np.arange(change_at, n_stream)
    fraud = after[rng.random(len(after)) < fraud_share]
    stream[fraud] = rng.normal(5.5, 0.5, len(fraud))
    return reference, stream, change_at


@dataclass
class Monitor:
    """Histogram distance between a sliding window and the reference.

    The reference is split in two halves: the first gives the bins and the reference histogram,
    the second the calibration windows. Windows drawn from the very sample that made the histogram
    would sit closer to it than new normal data does, and the threshold would come out too low."""

    reference: np.ndarray
    window: int = 200
    bins: int = 20
    distance: str = "hellinger"
    smoothing: float = 0.5  # pseudo-counts, so KL stays finite on a window with an empty bin

    def __post_init__(self):
        if self.distance not in DISTANCES:
            raise divergences.DistributionError(f"'distance' must be one of {', '.join(DISTANCES)}, "
                                                f"got {self.distance!r}.")
        if self.window < 10:
            raise divergences.DistributionError(f"'window' must be at least 10 samples, got {self.window}.")
        self.reference = np.asarray(self.reference, dtype=float)
        if len(self.reference) < 2 * self.window:
            raise divergences.DistributionError(f"the reference needs at least {2 * self.window} samples (two "
                                                f"windows), got {len(self.reference)}.")
        half = len(self.reference) // 2
        self.histogram_sample, self.calibration_sample = self.reference[:half], self.reference[half:]
        inner = np.quantile(self.histogram_sample, np.linspace(0, 1, self.bins + 1))[1:-1]
        self.edges = np.concatenate([[-np.inf], np.unique(inner), [np.inf]])  # open ends: nothing falls outside
        self.reference_pmf = self._pmf(self.histogram_sample)

    def _pmf(self, values: np.ndarray) -> np.ndarray:
        counts = np.histogram(values, self.edges)[0] + self.smoothing
        return counts / counts.sum()

    def score(self, values) -> float:
        return DISTANCES[self.distance](self._pmf(np.asarray(values, dtype=float)), self.reference_pmf)

    def scan(self, stream, step: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """(end index of each window, its distance to the reference)."""
        stream = np.asarray(stream, dtype=float)
        ends = np.arange(self.window, len(stream) + 1, step)
        return ends, np.array([self.score(stream[end - self.window:end]) for end in ends])

    def calibrate(self, false_alarm_rate: float = 0.01, n_windows: int = 500, seed: int = 0) -> float:
        """The (1 - false_alarm_rate) quantile of the distances from windows of the held-out half of
        the reference to the reference histogram."""
        if not 0 < false_alarm_rate < 1:
            raise divergences.DistributionError(f"'false_alarm_rate' must be in (0, 1), got {false_alarm_rate}.")
        rng = np.random.default_rng(seed)
        null = [self.score(rng.choice(self.calibration_sample, self.window, replace=False)) for _ in range(n_windows)]
        return float(np.quantile(null, 1 - false_alarm_rate))


@dataclass
class Detection:
    threshold: float
    first_alarm: int | None  # stream index at the end of the first post-change window over threshold
    delay: int | None        # samples after the change until that alarm
    false_alarm_rate: float  # share of windows lying wholly before the change that went over threshold


def evaluate(ends: np.ndarray, scores: np.ndarray, threshold: float, change_at: int) -> Detection:
    before = ends <= change_at
    false_alarm_rate = float(np.mean(scores[before] > threshold)) if before.any() else 0.0
    alarms = ends[(ends > change_at) & (scores > threshold)]
    first = int(alarms[0]) if alarms.size else None
    return Detection(threshold, first, None if first is None else first - change_at, false_alarm_rate)
