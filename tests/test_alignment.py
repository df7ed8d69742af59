import numpy as np
import pytest

from hw5lib.distances import alignment, divergences


@pytest.fixture(scope="module")
def shifted():
    """Source and target differing in mean, scale and correlation."""
    rng = np.random.default_rng(0)
    target = rng.multivariate_normal([0, 0, 0], [[1, .6, 0], [.6, 1, 0], [0, 0, 1]], size=800)
    source = rng.multivariate_normal([2, -1, 0], [[4, 0, 0], [0, .25, 0], [0, 0, 2]], size=800)
    return source, target


@pytest.mark.parametrize("method", [
    alignment.Standardize(to_target=True), alignment.QuantileMatch(), alignment.Coral(),
    alignment.MMDAffine(steps=150, lr=0.05, batch=200),
])
def test_every_method_brings_the_source_closer(method, shifted):
    source, target = shifted
    before = divergences.mmd2(source[:300], target[:300])
    after = divergences.mmd2(method.fit_transform(source, target)[:300], target[:300])
    assert after < 0.5 * before


def test_coral_matches_the_target_covariance(shifted):
    source, target = shifted
    mapped = alignment.Coral(eps=0.0).fit_transform(source, target)
    np.testing.assert_allclose(np.cov(mapped, rowvar=False), np.cov(target, rowvar=False), atol=1e-8)
    np.testing.assert_allclose(mapped.mean(0), target.mean(0), atol=1e-10)


def test_mmd_affine_loss_falls_and_is_reproducible(shifted):
    source, target = shifted
    first = alignment.MMDAffine(steps=60, seed=3).fit(source, target)
    second = alignment.MMDAffine(steps=60, seed=3).fit(source, target)
    assert first.loss_curve_[-10:].mean() < 0.3 * first.loss_curve_[:5].mean()
    np.testing.assert_array_equal(first.loss_curve_, second.loss_curve_)


def test_quantile_matching_of_a_large_sample_is_reproducible():
    # over 10,000 rows the quantiles come from a subsample, which must be drawn with the seed
    rng = np.random.default_rng(4)
    source, target = rng.normal(0, 1, (12_000, 2)), rng.normal(2, 3, (11_000, 2))
    first = alignment.QuantileMatch(seed=1).fit(source, target).transform(source[:50])
    second = alignment.QuantileMatch(seed=1).fit(source, target).transform(source[:50])
    np.testing.assert_array_equal(first, second)


def test_standardize_keeps_a_constant_feature_finite():
    # one standardiser for the project: a feature without spread is divided by eps, not by zero
    rng = np.random.default_rng(1)
    source = np.column_stack([rng.normal(5, 3, 50), np.full(50, 2.0)])
    target = np.column_stack([rng.normal(-1, 0.5, 60), rng.normal(0, 1, 60)])
    mapped = alignment.Standardize(to_target=True).fit_transform(source, target)
    assert np.all(np.isfinite(mapped))
    np.testing.assert_allclose(mapped.mean(0), target.mean(0), atol=1e-5)
    np.testing.assert_allclose(mapped[:, 0].std(), target[:, 0].std(), rtol=1e-5)


def test_smoothing_keeps_shape_and_mean_and_narrows_spread():
    rng = np.random.default_rng(2)
    sequence = rng.normal(size=(400, 3))
    smoothed = alignment.Smooth(7).transform(sequence)
    assert smoothed.shape == sequence.shape
    assert np.all(smoothed.std(0) < 0.6 * sequence.std(0))
    np.testing.assert_allclose(smoothed.mean(0), sequence.mean(0), atol=0.05)
    with pytest.raises(divergences.DistributionError, match="'width' must be a positive integer"):
        alignment.Smooth(0)


def test_misuse_is_explained(shifted):
    source, target = shifted
    with pytest.raises(RuntimeError, match="Coral is not fitted; call fit"):
        alignment.Coral().transform(source)
    with pytest.raises(divergences.DistributionError, match="'source' has 3 features and 'target' 2"):
        alignment.Coral().fit(source, target[:, :2])
    with pytest.raises(divergences.DistributionError, match=r"expected features of shape \(n, 3\)"):
        alignment.Coral().fit(source, target).transform(source[:, :2])


def test_mmd_affine_copes_with_features_of_very_different_scales(shifted):
    # raw MFCCs: c0 in the hundreds, the last coefficients near one; one learning rate must suit all
    scales = np.array([300.0, 10.0, 0.5])
    source, target = shifted[0] * scales, shifted[1] * scales + np.array([-200.0, 5.0, 0.1])
    method = alignment.MMDAffine(steps=150, batch=200).fit(source, target)
    before = divergences.mmd2(source[:300] / scales, target[:300] / scales)
    after = divergences.mmd2(method.transform(source)[:300] / scales, target[:300] / scales)
    assert after < 0.2 * before
