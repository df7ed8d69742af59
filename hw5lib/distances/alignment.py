"""Methods that bring one distribution of features closer to another.

Every method maps *source* features (n, d) towards *target* features (m, d) and follows one
vocabulary, scikit-learn's: ``fit(source, target)`` learns the map, ``transform(x)`` applies it.
The families are those the report lists:

* shift and scale: :class:`Standardize` (z-scores by the project's one standardiser,
  :class:`hw5lib.data.normalise.Standardiser`; per utterance or per speaker this is CMVN, cepstral
  mean and variance normalisation, in speech);
* histogram matching: :class:`QuantileMatch`, each dimension's quantiles mapped onto the
  target's (scikit-learn's ``QuantileTransformer`` on both sides);
* smoothing: :class:`Smooth`, a moving average over the frames of a sequence;
* domain adaptation: :class:`Coral`, correlation alignment (Sun, Feng and Saenko, 2016): whiten
  the source covariance, re-colour with the target's;
* minimising a distance directly: :class:`MMDAffine`, an affine map fitted by gradient descent
  on the MMD² between the mapped source and the target, with its loss curve kept.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg

from hw5lib.data.normalise import Standardiser
from hw5lib.distances.divergences import DistributionError, rbf_bandwidth

__all__ = ["Standardize", "QuantileMatch", "Smooth", "Coral", "MMDAffine"]


def _features(x, name: str) -> np.ndarray:
    array = np.asarray(x, dtype=float)
    if array.ndim != 2 or array.shape[0] < 2:
        raise DistributionError(f"'{name}' must be a (samples, features) array with at least 2 rows, "
                                f"got shape {np.shape(x)}.")
    if not np.all(np.isfinite(array)):
        raise DistributionError(f"'{name}' contains nan or inf.")
    return array


class _Map:
    """Shared checks: a map is fitted before use and applied to features of the fitted width."""

    width: int | None = None

    def _check_fit(self, source, target):
        source, target = _features(source, "source"), _features(target, "target")
        if source.shape[1] != target.shape[1]:
            raise DistributionError(f"'source' has {source.shape[1]} features and 'target' {target.shape[1]}; "
                                    "they must match.")
        self.width = source.shape[1]
        return source, target

    def _check_transform(self, x) -> np.ndarray:
        if self.width is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(source, target) first.")
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.width:
            raise DistributionError(f"expected features of shape (n, {self.width}), got {x.shape}.")
        return x

    def fit_transform(self, source, target) -> np.ndarray:
        return self.fit(source, target).transform(source)


class Standardize(_Map):
    """z-scores: the source's mean subtracted and its standard deviation divided out (a
    :class:`Standardiser` fitted on the source); with ``to_target`` the result is then given the
    target's mean and standard deviation."""

    def __init__(self, to_target: bool = False):
        self.to_target = to_target

    def fit(self, source, target=None):
        source = _features(source, "source")
        target = source if target is None else target
        source, target = self._check_fit(source, target)
        self.source_ = Standardiser().fit(source)
        self.target_mean_, self.target_std_ = (target.mean(0), target.std(0)) if self.to_target else (0.0, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        x = self._check_transform(x)
        return self.source_.transform(x) * self.target_std_ + self.target_mean_


class QuantileMatch(_Map):
    """Histogram matching per dimension: source value -> its quantile in the source -> the
    target value at that quantile. The quantiles of a side with more than 10,000 rows are those
    of 10,000 rows drawn with ``seed`` (scikit-learn's subsample)."""

    def __init__(self, n_quantiles: int = 200, seed: int = 0):
        self.n_quantiles, self.seed = n_quantiles, seed

    def fit(self, source, target):
        from sklearn.preprocessing import QuantileTransformer

        source, target = self._check_fit(source, target)
        self.source_ = QuantileTransformer(n_quantiles=min(self.n_quantiles, len(source)),
                                           random_state=self.seed).fit(source)
        self.target_ = QuantileTransformer(n_quantiles=min(self.n_quantiles, len(target)),
                                           random_state=self.seed).fit(target)
        return self

    def transform(self, x) -> np.ndarray:
        x = self._check_transform(x)
        return self.target_.inverse_transform(self.source_.transform(x))


class Smooth:
    """Moving average of ``width`` frames along the time axis of a (frames, features) sequence;
    it narrows the frame distribution (less variance), which is its effect on a distance."""

    def __init__(self, width: int = 5):
        if not isinstance(width, int) or width < 1:
            raise DistributionError(f"'width' must be a positive integer, got {width!r}.")
        self.width = width

    def transform(self, sequence) -> np.ndarray:
        sequence = np.asarray(sequence, dtype=float)
        if sequence.ndim != 2:
            raise DistributionError(f"a sequence must be (frames, features), got shape {sequence.shape}.")
        kernel = np.ones(self.width) / self.width
        padded = np.pad(sequence, ((self.width // 2, (self.width - 1) // 2), (0, 0)), mode="edge")
        return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(sequence.shape[1])], axis=1)


class Coral(_Map):
    """CORAL: x -> (x - mu_s) C_s^{-1/2} C_t^{1/2} + mu_t, with C regularised by ``eps`` I."""

    def __init__(self, eps: float = 1e-3, match_means: bool = True):
        self.eps, self.match_means = eps, match_means

    def fit(self, source, target):
        source, target = self._check_fit(source, target)
        identity = np.eye(source.shape[1])
        cs = np.cov(source, rowvar=False) + self.eps * identity
        ct = np.cov(target, rowvar=False) + self.eps * identity
        self.matrix_ = np.real(linalg.inv(linalg.sqrtm(cs)) @ linalg.sqrtm(ct))
        self.source_mean_ = source.mean(0)
        self.target_mean_ = target.mean(0) if self.match_means else source.mean(0)
        return self

    def transform(self, x) -> np.ndarray:
        x = self._check_transform(x)
        return (x - self.source_mean_) @ self.matrix_ + self.target_mean_


def _mmd2_torch(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Unbiased MMD² with an RBF kernel (the same estimator as divergences.mmd2, differentiable)."""
    def k(u, v):
        return torch.exp(-torch.cdist(u, v).pow(2) / (2 * bandwidth**2))

    n, m = len(a), len(b)
    kaa, kbb = k(a, a), k(b, b)
    return ((kaa.sum() - kaa.diagonal().sum()) / (n * (n - 1)) + (kbb.sum() - kbb.diagonal().sum()) / (m * (m - 1))
            - 2 * k(a, b).mean())


class MMDAffine(_Map):
    """An affine map x -> x W + b, initialised at the identity, fitted by Adam on MMD²(mapped
    source, target). ``loss_curve_`` keeps MMD² after every step.

    The map is learnt in the target's standardised coordinates (``units_``, a :class:`Standardiser`
    fitted on the target: each feature centred and scaled by the target's mean and standard
    deviation), so that one learning rate suits features of any scale (raw MFCC c0 is in the
    hundreds, c12 near one) and the kernel bandwidth is meaningful."""

    def __init__(self, steps: int = 300, lr: float = 0.05, batch: int = 256, seed: int = 0):
        self.steps, self.lr, self.batch, self.seed = steps, lr, batch, seed

    def fit(self, source, target):
        source, target = self._check_fit(source, target)
        generator = torch.Generator().manual_seed(self.seed)
        self.units_ = Standardiser().fit(target)
        source, target = self.units_.transform(source), self.units_.transform(target)
        s = torch.tensor(source, dtype=torch.float64)
        t = torch.tensor(target, dtype=torch.float64)
        bandwidth = rbf_bandwidth(source[: self.batch], target[: self.batch])
        weight = torch.eye(self.width, dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(self.width, dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.Adam([weight, bias], lr=self.lr)
        self.loss_curve_ = np.empty(self.steps)
        for step in range(self.steps):
            rows_s = torch.randint(len(s), (min(self.batch, len(s)),), generator=generator)
            rows_t = torch.randint(len(t), (min(self.batch, len(t)),), generator=generator)
            loss = _mmd2_torch(s[rows_s] @ weight + bias, t[rows_t], bandwidth)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            self.loss_curve_[step] = loss.item()
        self.weight_, self.bias_ = weight.detach().numpy(), bias.detach().numpy()
        return self

    def transform(self, x) -> np.ndarray:
        x = self._check_transform(x)
        return (self.units_.transform(x) @ self.weight_ + self.bias_) * self.units_.scale_ + self.units_.mean_
