"""Distances and divergences between probability distributions.

Three kinds of input:

* **discrete distributions** as probability vectors ``p`` and ``q`` of the same shape (checked:
  finite, non-negative, summing to one within ``atol``): :func:`total_variation`,
  :func:`chi_square`, :func:`kl_divergence`, :func:`hellinger`, :func:`jensen_shannon`;
* **samples** ``x`` (n, d) and ``y`` (m, d): :func:`wasserstein_1d` (scipy's),
  :func:`mmd2` and :func:`mmd_test`, :func:`kl_knn`, and :func:`histogram_pmfs` (plug-in);
* **Gaussians** given by mean and covariance: :func:`gaussian_kl`, :func:`gaussian_hellinger`,
  :func:`gaussian_w2`, in closed form.

Natural logarithms throughout (nats).

Hellinger convention: ``H(p, q) = sqrt(1/2 * sum_i (sqrt(p_i) - sqrt(q_i))**2)``, so that
``0 <= H <= 1`` and ``H**2 = 1 - BC(p, q)`` with ``BC`` the Bhattacharyya coefficient. The report
defines it without the 1/2; its value is ``sqrt(2) * H``. With this convention the
total-variation sandwich reads ``H**2 <= TV <= H * sqrt(2 - H**2)``.

Support: KL(p || q) and chi-square(p || q) are +inf whenever ``q_i = 0 < p_i`` for some ``i``
(``p`` is not absolutely continuous with respect to ``q``). They return ``math.inf`` explicitly in
that case, never ``nan``; ``0 * log(0 / q) = 0`` by the usual convention.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, spatial, stats

__all__ = [
    "DistributionError",
    "check_distribution",
    "total_variation",
    "chi_square",
    "kl_divergence",
    "hellinger",
    "jensen_shannon",
    "wasserstein_1d",
    "rbf_bandwidth",
    "mmd2",
    "mmd_test",
    "kl_knn",
    "histogram_pmfs",
    "gaussian_kl",
    "gaussian_hellinger",
    "gaussian_w2",
]


class DistributionError(ValueError):
    """An argument is not a valid probability vector, sample or Gaussian."""


def check_distribution(p, name: str = "p", atol: float = 1e-8) -> np.ndarray:
    """Return ``p`` as a float array after checking it is a probability vector."""
    array = np.asarray(p, dtype=float)
    if array.size == 0:
        raise DistributionError(f"'{name}' is empty; a distribution needs at least one outcome.")
    if not np.all(np.isfinite(array)):
        raise DistributionError(f"'{name}' contains nan or inf; a distribution holds finite probabilities.")
    if np.any(array < 0):
        raise DistributionError(f"'{name}' has a negative entry ({array.min():.3g}); probabilities are >= 0.")
    total = array.sum()
    if abs(total - 1.0) > atol:
        raise DistributionError(f"'{name}' sums to {total:.6g}, not 1; normalise it (p / p.sum()) first.")
    return array


def _pair(p, q, atol: float) -> tuple[np.ndarray, np.ndarray]:
    p, q = check_distribution(p, "p", atol), check_distribution(q, "q", atol)
    if p.shape != q.shape:
        raise DistributionError(f"'p' and 'q' must have the same shape, got {p.shape} and {q.shape}.")
    return p, q


def total_variation(p, q, atol: float = 1e-8) -> float:
    """TV(p, q) = 1/2 * sum |p - q|, in [0, 1]."""
    p, q = _pair(p, q, atol)
    return float(0.5 * np.abs(p - q).sum())


def chi_square(p, q, atol: float = 1e-8) -> float:
    """Pearson's chi-square divergence chi2(p || q) = sum (p - q)**2 / q.

    +inf when some q_i = 0 < p_i; terms with p_i = q_i = 0 contribute nothing.
    """
    p, q = _pair(p, q, atol)
    if np.any((q == 0) & (p > 0)):
        return math.inf
    support = q > 0
    return float(((p[support] - q[support]) ** 2 / q[support]).sum())


def kl_divergence(p, q, atol: float = 1e-8) -> float:
    """KL(p || q) = sum p log(p / q) in nats; +inf when some q_i = 0 < p_i."""
    p, q = _pair(p, q, atol)
    if np.any((q == 0) & (p > 0)):
        return math.inf
    support = p > 0
    # a difference of logs, not log(p / q): the ratio overflows for subnormal q
    return float(max(0.0, (p[support] * (np.log(p[support]) - np.log(q[support]))).sum()))


def hellinger(p, q, atol: float = 1e-8) -> float:
    """Hellinger distance with the 1/2 convention (module docstring): in [0, 1]."""
    p, q = _pair(p, q, atol)
    return float(np.sqrt(max(0.0, 0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum())))


def jensen_shannon(p, q, atol: float = 1e-8) -> float:
    """Jensen-Shannon divergence 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2; in [0, log 2].

    (scipy's ``jensenshannon`` returns its square root, the Jensen-Shannon *distance*.)
    """
    p, q = _pair(p, q, atol)
    total = p + q  # (p + q) / 2 can underflow to 0 for subnormal entries; p + q cannot

    def half_kl_to_mixture(a: np.ndarray) -> float:
        support = a > 0
        return 0.5 * float((a[support] * (np.log(2 * a[support]) - np.log(total[support]))).sum())

    return min(math.log(2), max(0.0, half_kl_to_mixture(p) + half_kl_to_mixture(q)))


# --- samples ---------------------------------------------------------------------------------

def _samples(x, name: str) -> np.ndarray:
    array = np.asarray(x, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] < 2:
        raise DistributionError(f"'{name}' must be samples of shape (n, d) with n >= 2, got shape {np.shape(x)}.")
    if not np.all(np.isfinite(array)):
        raise DistributionError(f"'{name}' contains nan or inf samples.")
    return array


def wasserstein_1d(x, y) -> float:
    """W1 between two one-dimensional samples (scipy.stats.wasserstein_distance)."""
    x, y = _samples(x, "x"), _samples(y, "y")
    if x.shape[1] != 1 or y.shape[1] != 1:
        raise DistributionError("wasserstein_1d takes one-dimensional samples; use POT for several dimensions.")
    return float(stats.wasserstein_distance(x[:, 0], y[:, 0]))


def rbf_bandwidth(x, y) -> float:
    """Median heuristic: the median pairwise distance in the pooled sample."""
    pooled = np.vstack([_samples(x, "x"), _samples(y, "y")])
    distances = spatial.distance.pdist(pooled)
    positive = distances[distances > 0]
    return float(np.median(positive)) if positive.size else 1.0


def _kernel(a: np.ndarray, b: np.ndarray, bandwidth: float) -> np.ndarray:
    return np.exp(-spatial.distance.cdist(a, b, "sqeuclidean") / (2.0 * bandwidth**2))


def _mmd2_from_kernel(K: np.ndarray, n: int) -> float:
    Kxx, Kyy, Kxy = K[:n, :n], K[n:, n:], K[:n, n:]
    m = K.shape[0] - n
    xx = (Kxx.sum() - np.trace(Kxx)) / (n * (n - 1))
    yy = (Kyy.sum() - np.trace(Kyy)) / (m * (m - 1))
    return float(xx + yy - 2.0 * Kxy.mean())


def mmd2(x, y, bandwidth: float | None = None) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy with an RBF kernel.

    ``bandwidth`` defaults to the median heuristic. Being unbiased, the estimate can be slightly
    negative when the two distributions are equal.
    """
    x, y = _samples(x, "x"), _samples(y, "y")
    if x.shape[1] != y.shape[1]:
        raise DistributionError(f"'x' and 'y' must have the same dimension, got {x.shape[1]} and {y.shape[1]}.")
    bandwidth = rbf_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    pooled = np.vstack([x, y])
    return _mmd2_from_kernel(_kernel(pooled, pooled, bandwidth), len(x))


def mmd_test(x, y, n_permutations: int = 500, bandwidth: float | None = None, seed: int = 0) -> tuple[float, float]:
    """MMD² and its permutation-test p-value for H0: x and y come from one distribution.

    The kernel matrix is computed once; each permutation only re-indexes it.
    """
    if n_permutations < 1:
        raise DistributionError(f"'n_permutations' must be at least 1, got {n_permutations}.")
    x, y = _samples(x, "x"), _samples(y, "y")
    bandwidth = rbf_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    pooled = np.vstack([x, y])
    K = _kernel(pooled, pooled, bandwidth)
    observed = _mmd2_from_kernel(K, len(x))
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(n_permutations):
        order = rng.permutation(len(pooled))
        exceed += _mmd2_from_kernel(K[np.ix_(order, order)], len(x)) >= observed
    return observed, (exceed + 1) / (n_permutations + 1)


def kl_knn(x, y, k: int = 1) -> float:
    """k-nearest-neighbour estimate of KL(P || Q) from x ~ P and y ~ Q (Wang, Kulkarni and Verdú,
    2009): d/n * sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1)), consistent as n, m grow."""
    x, y = _samples(x, "x"), _samples(y, "y")
    n, d = x.shape
    m = len(y)
    if x.shape[1] != y.shape[1]:
        raise DistributionError(f"'x' and 'y' must have the same dimension, got {x.shape[1]} and {y.shape[1]}.")
    if not 1 <= k < min(n, m + 1):
        raise DistributionError(f"'k' must be between 1 and {min(n - 1, m)}, got {k}.")
    rho = spatial.cKDTree(x).query(x, k=k + 1)[0][:, k]  # the first neighbour is the point itself
    nu = spatial.cKDTree(y).query(x, k=k)[0]
    nu = nu[:, k - 1] if k > 1 else nu
    if np.any(rho == 0):
        raise DistributionError("'x' has repeated points; the k-NN estimator needs distinct samples.")
    return float(d * np.mean(np.log(nu / rho)) + np.log(m / (n - 1)))


def histogram_pmfs(x, y, bins: int = 30, smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plug-in estimate: both 1-D samples binned on a common grid.

    ``smoothing`` adds that many pseudo-counts to every bin (Laplace smoothing), which keeps KL and
    chi-square finite when a bin is empty in one sample only. Returns (p, q, bin edges).
    """
    x, y = _samples(x, "x")[:, 0], _samples(y, "y")[:, 0]
    edges = np.histogram_bin_edges(np.concatenate([x, y]), bins=bins)
    counts_x = np.histogram(x, edges)[0] + smoothing
    counts_y = np.histogram(y, edges)[0] + smoothing
    return counts_x / counts_x.sum(), counts_y / counts_y.sum(), edges


# --- Gaussians ---------------------------------------------------------------------------------

def _gaussian(mean, cov, name: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    cov = np.asarray(cov, dtype=float)
    cov = cov.reshape(1, 1) if cov.ndim == 0 else cov
    if cov.shape != (len(mean), len(mean)):
        raise DistributionError(f"'{name}' covariance must be {len(mean)}x{len(mean)}, got shape {cov.shape}.")
    if not np.allclose(cov, cov.T) or np.linalg.eigvalsh(cov).min() <= 0:
        raise DistributionError(f"'{name}' covariance must be symmetric positive definite.")
    return mean, cov


def gaussian_kl(mean0, cov0, mean1, cov1) -> float:
    """KL(N0 || N1) = 1/2 [tr(S1^-1 S0) + (m1 - m0)' S1^-1 (m1 - m0) - d + log(det S1 / det S0)]."""
    m0, s0 = _gaussian(mean0, cov0, "cov0")
    m1, s1 = _gaussian(mean1, cov1, "cov1")
    diff = m1 - m0
    s1_inv = np.linalg.inv(s1)
    logdet = np.linalg.slogdet(s1)[1] - np.linalg.slogdet(s0)[1]
    return float(0.5 * (np.trace(s1_inv @ s0) + diff @ s1_inv @ diff - len(m0) + logdet))


def gaussian_hellinger(mean0, cov0, mean1, cov1) -> float:
    """Hellinger distance (1/2 convention) between two Gaussians, via the Bhattacharyya coefficient."""
    m0, s0 = _gaussian(mean0, cov0, "cov0")
    m1, s1 = _gaussian(mean1, cov1, "cov1")
    mid = 0.5 * (s0 + s1)
    diff = m0 - m1
    log_bc = (0.25 * np.linalg.slogdet(s0)[1] + 0.25 * np.linalg.slogdet(s1)[1]
              - 0.5 * np.linalg.slogdet(mid)[1] - 0.125 * diff @ np.linalg.solve(mid, diff))
    return float(np.sqrt(max(0.0, 1.0 - np.exp(log_bc))))


def gaussian_w2(mean0, cov0, mean1, cov1) -> float:
    """2-Wasserstein distance: ||m0 - m1||² + tr(S0 + S1 - 2 (S1^½ S0 S1^½)^½), square-rooted."""
    m0, s0 = _gaussian(mean0, cov0, "cov0")
    m1, s1 = _gaussian(mean1, cov1, "cov1")
    root1 = linalg.sqrtm(s1)
    cross = linalg.sqrtm(root1 @ s0 @ root1)
    squared = float(np.sum((m0 - m1) ** 2) + np.trace(s0 + s1 - 2.0 * np.real(cross)))
    return math.sqrt(max(0.0, squared))
