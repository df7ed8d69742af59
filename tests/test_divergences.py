import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy import spatial, stats

from hw5lib.distances import divergences as dv


@st.composite
def distributions(draw, min_size=2, max_size=12, allow_zeros=False):
    """A pair of probability vectors of one random length."""
    size = draw(st.integers(min_size, max_size))
    low = 0.0 if allow_zeros else 1e-3
    weights = st.lists(st.floats(low, 1.0), min_size=size, max_size=size)
    p, q = np.array(draw(weights)), np.array(draw(weights))
    assume(p.sum() > 0 and q.sum() > 0)
    return p / p.sum(), q / q.sum()


@given(distributions(allow_zeros=True))
def test_total_variation_is_half_l1_and_in_unit_interval(pq):
    p, q = pq
    tv = dv.total_variation(p, q)
    assert tv == pytest.approx(0.5 * np.abs(p - q).sum())
    assert 0.0 <= tv <= 1.0 + 1e-12


@given(distributions())
def test_kl_is_non_negative_and_zero_only_for_equal(pq):
    p, q = pq
    assert dv.kl_divergence(p, q) >= 0.0
    assert dv.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    if not np.allclose(p, q, atol=1e-6):
        assert dv.kl_divergence(p, q) > 0.0


@given(distributions())
def test_pinsker_and_the_chi_square_bound(pq):
    p, q = pq
    kl, tv, chi2 = dv.kl_divergence(p, q), dv.total_variation(p, q), dv.chi_square(p, q)
    assert tv <= math.sqrt(kl / 2) + 1e-9
    assert kl <= math.log1p(chi2) + 1e-9


@given(distributions(allow_zeros=True))
def test_total_variation_hellinger_sandwich(pq):
    p, q = pq
    h, tv = dv.hellinger(p, q), dv.total_variation(p, q)
    assert 0.0 <= h <= 1.0
    assert h**2 <= tv + 1e-9
    assert tv <= h * math.sqrt(max(0.0, 2 - h**2)) + 1e-9


@given(distributions(allow_zeros=True))
def test_jensen_shannon_is_symmetric_and_bounded(pq):
    p, q = pq
    js = dv.jensen_shannon(p, q)
    assert js == pytest.approx(dv.jensen_shannon(q, p), abs=1e-12)
    assert 0.0 <= js <= math.log(2)


@given(distributions())
def test_jensen_shannon_matches_scipy(pq):
    # strictly positive entries: scipy's mixture (p + q) / 2 underflows for subnormal ones
    p, q = pq
    assert dv.jensen_shannon(p, q) == pytest.approx(spatial.distance.jensenshannon(p, q) ** 2, abs=1e-9)


def test_jensen_shannon_survives_subnormal_entries():
    p, q = np.array([0.0, 0.0, 1.0]), np.array([0.0, 5e-324, 1.0])
    assert dv.jensen_shannon(p, q) == pytest.approx(0.0, abs=1e-300)
    assert dv.jensen_shannon([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2))


@given(distributions(allow_zeros=True))
def test_kl_matches_scipy_entropy(pq):
    p, q = pq
    assert dv.kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), rel=1e-9, abs=1e-12)


def test_undominated_support_is_explicitly_infinite():
    p, q = [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]
    assert dv.kl_divergence(p, q) == math.inf
    assert dv.chi_square(p, q) == math.inf
    assert dv.kl_divergence(q, p) == pytest.approx(math.log(2))
    assert np.isfinite(dv.total_variation(p, q)) and np.isfinite(dv.hellinger(p, q))


def test_report_hellinger_convention_is_sqrt2_times_ours():
    p, q = np.array([0.2, 0.8]), np.array([0.6, 0.4])
    report = math.sqrt(((np.sqrt(p) - np.sqrt(q)) ** 2).sum())
    assert report == pytest.approx(math.sqrt(2) * dv.hellinger(p, q))


@pytest.mark.parametrize("p, q, message", [
    ([0.5, 0.6], [0.5, 0.5], "'p' sums to 1.1, not 1"),
    ([1.2, -0.2], [0.5, 0.5], "'p' has a negative entry"),
    ([0.5, 0.5], [0.2, 0.3, 0.5], "same shape"),
    ([], [], "'p' is empty"),
    ([np.nan, 1.0], [0.5, 0.5], "nan or inf"),
])
def test_bad_distributions_are_named(p, q, message):
    with pytest.raises(dv.DistributionError, match=message):
        dv.total_variation(p, q)


def test_wasserstein_1d_is_scipys():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=200), rng.normal(1.0, 2.0, size=300)
    assert dv.wasserstein_1d(x, y) == stats.wasserstein_distance(x, y)
    with pytest.raises(dv.DistributionError, match="one-dimensional"):
        dv.wasserstein_1d(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)))


def test_mmd_detects_a_shift_and_not_its_absence():
    rng = np.random.default_rng(1)
    same_a, same_b = rng.normal(size=(150, 3)), rng.normal(size=(150, 3))
    shifted = rng.normal(0.5, 1.0, size=(150, 3))
    value, p_same = dv.mmd_test(same_a, same_b, n_permutations=200, seed=2)
    shift, p_shift = dv.mmd_test(same_a, shifted, n_permutations=200, seed=2)
    assert abs(value) < shift and p_shift < 0.01 < p_same


def test_mmd_is_unbiased_around_zero_for_equal_distributions():
    rng = np.random.default_rng(3)
    estimates = [dv.mmd2(rng.normal(size=(40, 2)), rng.normal(size=(40, 2)), bandwidth=1.0) for _ in range(200)]
    assert abs(np.mean(estimates)) < 3 * np.std(estimates) / np.sqrt(len(estimates))
    assert min(estimates) < 0  # an unbiased estimate of zero goes below it


def test_gaussian_closed_forms_in_one_dimension():
    # KL(N(0,1) || N(1,4)) = log 2 + (1 + 1)/8 - 1/2
    assert dv.gaussian_kl(0, 1, 1, 4) == pytest.approx(math.log(2) + 2 / 8 - 0.5)
    # W2 between 1-D Gaussians: sqrt((m0 - m1)^2 + (s0 - s1)^2)
    assert dv.gaussian_w2(0, 1, 3, 4) == pytest.approx(math.sqrt(9 + 1))
    # H^2 = 1 - sqrt(2 s0 s1 / (s0^2 + s1^2)) exp(-(m0 - m1)^2 / (4 (s0^2 + s1^2)))
    expected = math.sqrt(1 - math.sqrt(2 * 1 * 2 / (1 + 4)) * math.exp(-1 / (4 * 5)))
    assert dv.gaussian_hellinger(0, 1, 1, 4) == pytest.approx(expected)
    assert dv.gaussian_kl([0, 0], np.eye(2), [0, 0], np.eye(2)) == pytest.approx(0.0)


@settings(deadline=None, max_examples=20)
@given(st.floats(-2, 2), st.floats(0.5, 2.0))
def test_gaussian_w2_matches_scipy_on_large_samples(shift, scale):
    # for 1-D Gaussians W2 is attained by the quantile coupling; compare with quantile functions
    quantiles = np.linspace(0.0005, 0.9995, 4000)
    a, b = stats.norm.ppf(quantiles), stats.norm.ppf(quantiles, loc=shift, scale=scale)
    empirical = math.sqrt(np.mean((a - b) ** 2))
    assert dv.gaussian_w2(0, 1, shift, scale**2) == pytest.approx(empirical, rel=0.02, abs=0.01)


def test_knn_kl_converges_to_the_closed_form():
    truth = dv.gaussian_kl([0, 0], np.eye(2), [1, 0], 2 * np.eye(2))
    errors = []
    for n in (200, 5000):
        rng = np.random.default_rng(n)
        x = rng.normal(size=(n, 2))
        y = rng.multivariate_normal([1, 0], 2 * np.eye(2), size=n)
        errors.append(abs(dv.kl_knn(x, y) - truth))
    assert errors[1] < 0.05 and errors[1] < errors[0] + 0.02


def test_histogram_plug_in_with_smoothing_keeps_kl_finite():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=500), rng.normal(3.0, 1.0, size=500)
    p, q, edges = dv.histogram_pmfs(x, y, bins=40)
    assert math.isinf(dv.kl_divergence(p, q))
    p, q, _ = dv.histogram_pmfs(x, y, bins=40, smoothing=1.0)
    assert math.isfinite(dv.kl_divergence(p, q)) and len(edges) == 41


def test_bad_gaussians_and_samples_are_named():
    with pytest.raises(dv.DistributionError, match="'cov1' covariance must be symmetric positive definite"):
        dv.gaussian_kl([0, 0], np.eye(2), [0, 0], -np.eye(2))
    with pytest.raises(dv.DistributionError, match="same dimension"):
        dv.mmd2(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(dv.DistributionError, match="'k' must be between 1 and"):
        dv.kl_knn(np.random.default_rng(0).normal(size=(5, 1)), np.zeros((3, 1)), k=9)
