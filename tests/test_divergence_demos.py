"""The intuition experiments agree with the closed forms they illustrate."""

import numpy as np
import pytest
from scipy import stats

from hw5lib.distances import demos as divergence_demos


def test_shift_sweep_matches_the_gaussian_closed_forms():
    shifts = np.array([0.0, 0.5, 1.0, 2.0, 3.0])
    sweep = divergence_demos.shift_sweep(shifts, n_samples=2000)
    np.testing.assert_allclose(sweep["KL"], shifts**2 / 2, atol=2e-3)
    np.testing.assert_allclose(sweep["TV"], 2 * stats.norm.cdf(shifts / 2) - 1, atol=2e-3)
    np.testing.assert_allclose(sweep["Hellinger"], np.sqrt(1 - np.exp(-shifts**2 / 8)), atol=2e-3)
    np.testing.assert_allclose(sweep["chi-square"], np.expm1(shifts**2), rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(sweep["W1"], shifts, atol=0.1)
    assert np.all(np.diff(sweep["MMD²"]) > 0) and np.all(sweep["JS"] <= np.log(2))


def test_kl_directions_cover_or_pick_a_mode():
    fits = divergence_demos.kl_direction_fits()
    # the forward fit matches the mixture's moments: mean 0, variance 1 + 3²
    assert fits["forward"]["mean"] == pytest.approx(0, abs=1e-3)
    assert fits["forward"]["sd"] == pytest.approx(np.sqrt(10), rel=1e-3)
    assert abs(fits["reverse"]["mean"]) == pytest.approx(3, abs=0.05)
    assert fits["reverse"]["sd"] == pytest.approx(1, abs=0.1)
    with pytest.raises(ValueError, match="sum to 1"):
        divergence_demos.kl_direction_fits(((0.5, 0, 1), (0.2, 1, 1)))


def test_the_neighbour_estimator_converges_to_the_closed_form():
    result = divergence_demos.estimator_convergence([100, 5000], repeats=8, seed=2)
    assert result["truth"] == pytest.approx(0.5 * (1 / 2.25 + 1 / 2.25 - 1 + np.log(2.25)))
    error = np.abs(np.median(result["knn"], axis=1) - result["truth"])
    assert error[-1] < 0.03 and error[-1] <= error[0] + 1e-9
