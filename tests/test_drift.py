import numpy as np
import pytest

from hw5lib.distances import divergences, drift


@pytest.mark.parametrize("distance", sorted(drift.DISTANCES))
def test_change_is_detected_soon_with_few_false_alarms(distance):
    """Over several streams: every change found within one window, and the false-alarm rate near
    the calibrated 1% (one stream's overlapping windows make its own rate too noisy to bound)."""
    rates = []
    for seed in range(6):
        reference, stream, change_at = drift.transaction_stream(seed=seed)
        monitor = drift.Monitor(reference, window=200, distance=distance)
        threshold = monitor.calibrate(false_alarm_rate=0.01, seed=100 + seed)
        ends, scores = monitor.scan(stream, step=20)
        result = drift.evaluate(ends, scores, threshold, change_at)
        assert result.delay is not None and 0 < result.delay <= monitor.window
        rates.append(result.false_alarm_rate)
    assert np.mean(rates) <= 0.03


def test_no_change_means_no_alarm_after_it():
    reference, stream, change_at = drift.transaction_stream(fraud_share=0.0, seed=3)
    monitor = drift.Monitor(reference)
    ends, scores = monitor.scan(stream)
    result = drift.evaluate(ends, scores, monitor.calibrate(0.001, seed=4), change_at)
    assert result.false_alarm_rate <= 0.02


def test_bad_settings_are_named():
    reference, _, _ = drift.transaction_stream(n_stream=100, change_at=50)
    with pytest.raises(divergences.DistributionError, match="'distance' must be one of"):
        drift.Monitor(reference, distance="emd")
    with pytest.raises(divergences.DistributionError, match="'change_at' must lie inside the stream"):
        drift.transaction_stream(n_stream=100, change_at=100)
    with pytest.raises(divergences.DistributionError, match="'false_alarm_rate' must be in"):
        drift.Monitor(reference).calibrate(false_alarm_rate=1.5)
    assert np.isfinite(drift.Monitor(reference, distance="kl").score(np.full(50, 100.0)))
    with pytest.raises(divergences.DistributionError, match="at least 400 samples"):
        drift.Monitor(reference[:300], window=200)


def test_calibration_windows_never_come_from_the_histogram_sample():
    reference, _, _ = drift.transaction_stream(seed=5)
    monitor = drift.Monitor(reference, window=200)
    assert len(monitor.histogram_sample) + len(monitor.calibration_sample) == len(reference)
    assert not np.intersect1d(monitor.histogram_sample, monitor.calibration_sample).size
