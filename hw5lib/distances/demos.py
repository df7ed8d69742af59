"""Small experiments that build intuition for the divergences, each returning plain data to plot.

* :func:`grid_pmfs`: two densities discretised on a common grid (so the discrete definitions apply);
* :func:`shift_sweep`: every distance between N(0, 1) and N(shift, 1) as the shift grows;
* :func:`kl_direction_fits`: the Gaussian closest to a two-peaked mixture under KL(p||q) and
  under KL(q||p), which shows why KL's direction matters;
* :func:`estimator_convergence`: sample-based estimates of KL against the closed form as the
  sample grows.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from hw5lib.distances import divergences

__all__ = ["grid_pmfs", "shift_sweep", "kl_direction_fits", "estimator_convergence", "SWEEP_MEASURES"]

GRID = np.linspace(-12.0, 16.0, 4001)


def grid_pmfs(density_p, density_q, grid=GRID) -> tuple[np.ndarray, np.ndarray]:
    """Probability vectors of two densities on ``grid`` (values proportional to the density,
    normalised); as the grid refines the discrete divergences tend to the continuous ones."""
    p, q = np.asarray(density_p(grid), dtype=float), np.asarray(density_q(grid), dtype=float)
    return p / p.sum(), q / q.sum()


SWEEP_MEASURES = ("TV", "Hellinger", "JS", "KL", "chi-square", "W1", "MMD²")


def shift_sweep(shifts, scale: float = 1.0, n_samples: int = 400, seed: int = 0) -> dict[str, np.ndarray]:
    """Each measure between N(0, scale²) and N(shift, scale²) for every shift: the discrete
    definitions on a fine grid; W1 and MMD² from ``n_samples`` draws of each."""
    shifts = np.asarray(shifts, dtype=float)
    rng = np.random.default_rng(seed)
    out = {name: np.empty(len(shifts)) for name in SWEEP_MEASURES}
    base = rng.normal(0, scale, (n_samples, 1))
    other = rng.normal(0, scale, (n_samples, 1))
    for i, shift in enumerate(shifts):
        p, q = grid_pmfs(stats.norm(0, scale).pdf, stats.norm(shift, scale).pdf)
        out["TV"][i] = divergences.total_variation(p, q)
        out["Hellinger"][i] = divergences.hellinger(p, q)
        out["JS"][i] = divergences.jensen_shannon(p, q)
        out["KL"][i] = divergences.kl_divergence(p, q)
        out["chi-square"][i] = divergences.chi_square(p, q)
        out["W1"][i] = divergences.wasserstein_1d(base[:, 0], other[:, 0] + shift)
        out["MMD²"][i] = divergences.mmd2(base, other + shift, bandwidth=scale)
    return out


def kl_direction_fits(mixture=((0.5, -3.0, 1.0), (0.5, 3.0, 1.0)), grid=GRID) -> dict:
    """Fit one Gaussian q to the mixture p (weights, means, standard deviations) by minimising
    KL(p||q) (forward: q must cover every mode of p) and KL(q||p) (reverse: q may sit on one mode).
    Returns the grid, p's density and each fit's (mean, sd, density)."""
    weights = np.array([w for w, _, _ in mixture])
    if not np.isclose(weights.sum(), 1.0) or np.any(weights <= 0):
        raise divergences.DistributionError("mixture weights must be positive and sum to 1.")

    def density_p(x):
        return sum(w * stats.norm(m, s).pdf(x) for w, m, s in mixture)

    def positive_pmf(density):
        # both densities are positive everywhere; keep them so in floating point, far in the tails
        values = np.maximum(density(grid), 1e-300)
        return values / values.sum()

    p = positive_pmf(density_p)

    def objective(theta, forward):
        q = positive_pmf(stats.norm(theta[0], np.exp(theta[1])).pdf)
        return divergences.kl_divergence(p, q) if forward else divergences.kl_divergence(q, p)

    fits = {}
    for name, forward, start in (("forward", True, (0.5, 0.5)), ("reverse", False, (2.0, 0.0))):
        result = optimize.minimize(objective, start, args=(forward,), method="Nelder-Mead",
                                   options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})
        mean, sd = float(result.x[0]), float(np.exp(result.x[1]))
        fits[name] = {"mean": mean, "sd": sd, "kl": float(result.fun), "density": stats.norm(mean, sd).pdf(grid)}
    return {"grid": grid, "p": density_p(grid), **fits}


def estimator_convergence(sizes, repeats: int = 10, shift: float = 1.0, scale: float = 1.5, bins: str | int = "auto",
                          seed: int = 0) -> dict:
    """KL(N(0, 1) || N(shift, scale²)) estimated from n samples of each, for n in ``sizes``:
    the plug-in histogram estimate (bins by numpy's rule, one pseudo-count per bin) and the 1-NN
    estimate, ``repeats`` times each. Returns the closed form and per-size arrays of estimates."""
    truth = divergences.gaussian_kl(0.0, 1.0, shift, scale**2)
    rng = np.random.default_rng(seed)
    histogram, knn = [], []
    for n in sizes:
        h_row, k_row = [], []
        for _ in range(repeats):
            x = rng.normal(0.0, 1.0, (n, 1))
            y = rng.normal(shift, scale, (n, 1))
            p, q, _ = divergences.histogram_pmfs(x, y, bins=bins, smoothing=1.0)
            h_row.append(divergences.kl_divergence(p, q))
            k_row.append(divergences.kl_knn(x, y, k=1))
        histogram.append(h_row)
        knn.append(k_row)
    return {"sizes": np.asarray(sizes), "truth": truth, "histogram": np.array(histogram), "knn": np.array(knn)}
