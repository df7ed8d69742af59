"""Speakers as domains, on toy "speech" whose answer is known: each digit is a temporal pattern
of frames, and each speaker shifts and stretches every coefficient."""

import numpy as np
import pytest

from hw5lib.data import normalise
from hw5lib.distances import divergences, speaker_shift


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    patterns = rng.normal(0, 1, (4, 5, 6))  # digit -> 5 stretches of 6 coefficients
    # (shift, stretch) of every coefficient; c is far away, shifted differently in each coefficient
    speakers = {"a": (0.0, 1.0), "b": (0.3, 1.2), "c": (rng.normal(0, 6, 6), 2.0)}
    sequences, digits, names = [], [], []
    for name, (offset, stretch) in speakers.items():
        for digit in range(4):
            for _ in range(25):
                frames = np.repeat(patterns[digit], 8, axis=0) + rng.normal(0, 0.6, (40, 6))
                sequences.append(frames * stretch + offset)
                digits.append(digit)
                names.append(name)
    return sequences, np.array(digits), np.array(names)


def test_segment_means_keep_the_order_in_time():
    sequence = np.repeat(np.arange(5.0)[:, None], 4, axis=0).repeat(2, axis=1)  # 20 frames, 2 coefficients
    np.testing.assert_allclose(speaker_shift.segment_means(sequence, 5), np.repeat(np.arange(5.0), 2))
    assert speaker_shift.segment_means(np.ones((2, 3)), 5).shape == (15,)  # shorter than the segments
    with pytest.raises(divergences.DistributionError, match="frames > 0"):
        speaker_shift.segment_means(np.ones((0, 3)))


def test_scaled_distances_do_not_reward_shrinking():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, (300, 3)), rng.normal(0.5, 1, (300, 3))
    plain = speaker_shift.scaled_distances(x, y)
    shrunk = speaker_shift.scaled_distances(x / 10, y / 10)
    # the same up to the standardiser's eps, added to a standard deviation of 0.1 after shrinking
    tolerance = 2 * normalise.EPS / 0.1
    assert plain["w1"] == pytest.approx(shrunk["w1"], rel=tolerance)
    assert plain["mmd2"] == pytest.approx(shrunk["mmd2"], rel=tolerance)
    same = speaker_shift.scaled_distances(x, x)
    assert same["w1"] == pytest.approx(0, abs=1e-6) and plain["w1"] > 0.3


def test_distance_matrix_is_symmetric_and_finds_the_far_speaker(toy):
    sequences, _, names = toy
    matrices = speaker_shift.speaker_distance_matrix(sequences, names, max_frames=200)
    w1 = matrices["w1"]
    np.testing.assert_allclose(w1.to_numpy(), w1.to_numpy().T)
    assert np.all(np.diag(w1.to_numpy()) == 0)
    assert w1.loc["a", "c"] > 2 * w1.loc["a", "b"]


def test_a_far_speaker_costs_accuracy_and_speaker_cmvn_wins_it_back(toy):
    sequences, digits, names = toy
    within = speaker_shift.within_speaker_accuracy(sequences, digits, names)
    result = speaker_shift.cross_speaker(sequences, digits, names, methods=["none", "speaker CMVN", "CORAL"],
                                         targets=["c"], max_frames=200, progress=False)
    table = result.table.set_index("method")
    assert within > 0.95
    assert table.loc["none", "accuracy"] < 0.6 < 0.95 < table.loc["speaker CMVN", "accuracy"]
    assert table.loc["speaker CMVN", "w1"] < table.loc["none", "w1"]
    assert list(result.summary().index) == ["none", "speaker CMVN", "CORAL"]
    with pytest.raises(divergences.DistributionError, match="Unknown method 'magic'"):
        speaker_shift.cross_speaker(sequences, digits, names, methods=["magic"])


def test_every_method_runs_and_the_affine_map_keeps_its_loss_curve(toy):
    sequences, digits, names = toy
    result = speaker_shift.cross_speaker(sequences, digits, names, targets=["b"], max_frames=100,
                                         mmd_steps=15, progress=False, copies=[[s * 1.1 for s in sequences]])
    assert set(result.table["method"]) == set(speaker_shift.ADAPTATIONS)
    plain = speaker_shift.cross_speaker(sequences, digits, names, targets=["b"], max_frames=100, mmd_steps=5,
                                        progress=False)
    assert set(plain.table["method"]) == set(speaker_shift.ADAPTATIONS) - set(speaker_shift.GENERATIVE)
    assert result.table["accuracy"].between(0, 1).all() and np.isfinite(result.table["w1"]).all()
    assert len(result.loss_curves["b"]) == 15


def test_both_cmvns_use_the_one_standardiser():
    # per utterance: every clip to mean 0, std 1; per speaker: each speaker's frames together
    rng = np.random.default_rng(2)
    source = [rng.normal(3, 2, (30, 4)) for _ in range(4)]
    target = [rng.normal(-1, 5, (30, 4)) for _ in range(2)]
    speakers = np.array(["a", "a", "b", "b"])
    utterances, targets, _ = speaker_shift.ADAPTATIONS["utterance CMVN"](source, speakers, target, {})
    for sequence in utterances + targets:
        np.testing.assert_allclose(sequence.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(sequence.std(0), 1, atol=1e-5)
    by_speaker, targets, _ = speaker_shift.ADAPTATIONS["speaker CMVN"](source, speakers, target, {})
    for frames in (np.vstack(by_speaker[:2]), np.vstack(by_speaker[2:]), np.vstack(targets)):
        np.testing.assert_allclose(frames.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(frames.std(0), 1, atol=1e-5)
    constant = [np.ones((10, 4))] * 2
    assert np.all(np.isfinite(speaker_shift.ADAPTATIONS["speaker CMVN"](constant, ["a", "a"], constant, {})[1]))


def test_generated_voices_that_cover_the_new_speaker_win_it_back(toy):
    """Matching by generation: a copy of every training clip in c's voice (a's clips stretched and
    shifted as c's are) teaches the classifier c; the copies of c's own clips are never used (they
    are NaN here, and would break the fit if they were)."""
    sequences, digits, names = toy
    frames = {name: np.vstack([s for s, who in zip(sequences, names) if who == name]) for name in ("a", "c")}
    shift = frames["c"].mean(0) - 2.0 * frames["a"].mean(0)  # c is 2 x a's voice + a shift; the same words
    copy = [np.full_like(s, np.nan) if n == "c" else (s * 2.0 + shift if n == "a" else s)
            for s, n in zip(sequences, names)]
    result = speaker_shift.cross_speaker(sequences, digits, names, methods=["none", "augmentation"], targets=["c"],
                                         max_frames=200, progress=False, copies=[copy])
    table = result.table.set_index("method")
    assert table.loc["none", "accuracy"] < 0.6 and table.loc["augmentation", "accuracy"] > 0.9
    assert table.loc["augmentation", "w1"] < table.loc["none", "w1"]
    with pytest.raises(divergences.DistributionError, match="needs copies"):
        speaker_shift.cross_speaker(sequences, digits, names, methods=["augmentation"], progress=False)
    with pytest.raises(divergences.DistributionError, match="one sequence per clip"):
        speaker_shift.cross_speaker(sequences, digits, names, progress=False, copies=[copy[:3]])


def test_speaker_cmvn_with_augmentation_takes_each_copy_as_a_voice_of_its_own():
    rng = np.random.default_rng(3)
    source = [rng.normal(3, 2, (30, 4)) for _ in range(4)]
    copies = [[s * 3 + 10 for s in source]]
    speakers = np.array(["a", "a", "b", "b"])
    every, target, _ = speaker_shift.ADAPTATIONS["speaker CMVN + augmentation"](
        source, speakers, [rng.normal(0, 1, (30, 4))], {"copies": copies})
    assert len(every) == 8
    for part in (every[:2], every[2:4], every[4:6], every[6:]):  # a, b, a's copy, b's copy: each standardised
        frames = np.vstack(part)
        np.testing.assert_allclose(frames.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(frames.std(0), 1, atol=1e-5)
    plain, _, _ = speaker_shift.ADAPTATIONS["augmentation"](source, speakers, [], {"copies": copies})
    assert len(plain) == 8 and plain[4] is copies[0][0]


def test_speed_copies_are_shorter_when_faster_and_longer_when_slower(tmp_path, monkeypatch):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path))
    rate = 8000
    t = np.arange(rate // 2) / rate
    clip = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    slow, fast = speaker_shift.speed_copies([clip], rate, factors=(0.8, 1.25))
    original = len(t) / (rate * 0.01)  # frames at a 10 ms hop
    assert slow[0].shape[1] == fast[0].shape[1] == 13
    assert abs(len(slow[0]) - original / 0.8) < 3 and abs(len(fast[0]) - original / 1.25) < 3


def test_vtln_by_mmd_undoes_a_longer_vocal_tract():
    # every speaker says each word as formant bumps over 40 log-mel bands; "d" says them with every frequency
    # 1.1 times higher (a shorter vocal tract): the warp closest in MMD² after per-speaker CMVN is under 1
    from scipy.fft import dct

    from hw5lib.chapters import q1_distances as chapter
    from hw5lib.data.audio import warp_matrix

    rng = np.random.default_rng(0)
    bands = np.arange(40)
    words = [rng.uniform(6, 30, size=3) for _ in range(4)]
    sequences, digits, names = [], [], []
    for name in ("a", "b", "c", "d"):
        for word, formants in enumerate(words):
            for _ in range(8):
                frames = np.stack([sum(np.exp(-0.5 * ((bands - f - step) / 1.5) ** 2) for f in formants)
                                   for step in range(10)]) + rng.normal(0, 0.05, (10, 40))
                if name == "d":
                    frames = frames @ warp_matrix(40, 1.1).T
                sequences.append(dct(frames, type=2, norm="ortho", axis=1)[:, :13])
                digits.append(word)
                names.append(name)
    shift = speaker_shift.cross_speaker(sequences, digits, names, methods=["speaker CMVN", "speaker CMVN + VTLN"],
                                        targets=["d"], max_frames=200, progress=False)
    chosen = shift.table.set_index("method").loc["speaker CMVN + VTLN"]
    assert chosen["factor"] in (0.9, 0.95)  # 1 / 1.1, on the grid
    plain = shift.table.set_index("method").loc["speaker CMVN"]
    assert chosen["mmd2"] < plain["mmd2"] and np.isnan(plain["factor"])
    for lang in ("fa", "en"):
        assert "VTLN" in chapter.vtln_finding(shift, lang)
    assert "d 0.9" in chapter.vtln_finding(shift, "en")
