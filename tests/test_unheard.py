"""hw5lib.digits for unheard voices: the augmentations do what they say (and refuse what they
cannot do), per-speaker CMVN reads only the speaker's own frames, and train_and_test_speakers /
loso answer bad inputs with one sentence and a tiny run with the promised keys."""

import os
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from hw5lib import digits as D
from hw5lib.data import audio
from hw5lib.digits import training as T
from hw5lib.digits.sets import floor_db, lifter, speaker_cmvn, trim_quiet
from hw5lib.digits import unheard
from hw5lib.digits.unheard import (LEVERS, RECIPES, SpeakerRecipe, inner_speaker, lever_rows, lever_study, loso,
                                   train_and_test_speakers, with_levers)

ONE_SENTENCE = re.compile(r"^\S[^\n]*\.$")


def one_sentence(error) -> str:
    message = str(error.value)
    assert ONE_SENTENCE.match(message) and message.count(". ") == 0, message
    return message


# --- augmentation ---------------------------------------------------------------------------------

def test_warp_of_one_is_the_identity_and_a_larger_factor_moves_a_formant_up():
    assert np.allclose(audio.warp_matrix(40, 1.0), np.eye(40), atol=1e-6)
    assert np.allclose(audio.warp_matrix(13, 1.0, kind="mfcc"), np.eye(13), atol=1e-5)  # C I C^T = I
    frames = np.zeros((5, 40), np.float32)
    frames[:, 20] = 1.0  # one formant, at band 20
    up = frames @ audio.warp_matrix(40, 1.2).T
    down = frames @ audio.warp_matrix(40, 0.8).T
    assert np.argmax(up[0]) > 20 > np.argmax(down[0])
    # in Hz the formant moves by the factor: band centres are where librosa puts them
    centres = audio._band_frequencies(40, 4000.0)
    assert centres[np.argmax(up[0])] == pytest.approx(1.2 * centres[20], rel=0.06)
    with pytest.raises(audio.AudioError, match="warp factor must be positive"):
        audio.warp_matrix(40, 0.0)
    with pytest.raises(audio.AudioError, match="Cannot warp features of kind 'chroma'"):
        audio.warp_matrix(12, 1.1, kind="chroma")


def test_stretch_changes_the_duration_and_keeps_the_ends():
    frames = np.arange(40, dtype=np.float32).reshape(20, 2)
    fast, slow = T.stretch(frames, 2.0), T.stretch(frames, 0.5)
    assert fast.shape == (10, 2) and slow.shape == (40, 2)
    assert np.allclose(fast[0], frames[0]) and np.allclose(slow[-1], frames[-1])
    assert T.stretch(frames, 1.0) is frames
    assert T.stretch(frames[:1], 3.0).shape == (1, 2)  # never empty
    with pytest.raises(D.DigitsError, match="stretch rate must be positive"):
        T.stretch(frames, -1.0)


def test_spec_mask_masks_bands_and_spans_inside_each_clip_only():
    x = torch.ones(64, 30, 40)
    lengths = torch.randint(4, 31, (64,))
    bands = T.spec_mask(x, lengths, 2, 6, 0, 0, torch.Generator().manual_seed(0))
    spans = T.spec_mask(x, lengths, 0, 0, 2, 5, torch.Generator().manual_seed(0))
    assert bands.sum() < x.sum() and spans.sum() < x.sum()
    for band_clip, span_clip, length in zip(bands, spans, lengths):
        zero_bands = (band_clip == 0).all(0)
        assert zero_bands.sum() <= 12 and torch.equal((band_clip == 0).any(0), zero_bands)  # whole bands
        zero_frames = (span_clip == 0).all(1)
        assert torch.equal((span_clip == 0).any(1), zero_frames)  # whole frames
        assert not zero_frames[length:].any()  # the padding is not what gets masked
        assert zero_frames.sum() <= min(10, length // 2)  # never most of a short clip
    assert torch.equal(T.spec_mask(x, lengths, 2, 0, 2, 0, torch.Generator()), x)  # width 0: nothing


def test_recipe_refuses_impossible_augmentation_and_is_off_by_default():
    assert not D.Recipe().augments
    assert D.Recipe(freq_masks=2, freq_width=5).augments and not D.Recipe(freq_masks=2).augments
    for bad in ({"warp": 0.7}, {"speed": -0.1}, {"mixup": -1.0}, {"label_smoothing": 1.0}):
        with pytest.raises(D.DigitsError) as error:
            D.Recipe(**bad)
        assert list(bad)[0] in one_sentence(error)
    with pytest.raises(D.DigitsError, match="needs the feature kind"):
        T.Augmenter(D.Recipe(warp=0.1))


def test_augmenter_perturbs_clips_reproducibly():
    frames = np.random.default_rng(0).normal(size=(30, 40)).astype(np.float32)
    augmenter = T.Augmenter(D.Recipe(speed=0.2, warp=0.1), "log_mel")
    a = augmenter.clip(frames, np.random.default_rng(1))
    b = augmenter.clip(frames, np.random.default_rng(1))
    assert np.array_equal(a, b) and a.shape[1] == 40 and a.dtype == np.float32
    assert a.shape != frames.shape or not np.allclose(a, frames)
    assert np.array_equal(T.Augmenter(D.Recipe(), "log_mel").clip(frames, np.random.default_rng(1)), frames)


def test_equalise_colours_every_frame_alike_with_a_smooth_curve():
    frames = np.random.default_rng(0).normal(size=(30, 40)).astype(np.float32)
    coloured = T.Augmenter(D.Recipe(equalise=2.0), "log_mel").clip(frames, np.random.default_rng(3))
    curve = coloured - frames
    assert np.allclose(curve, curve[0], atol=1e-5) and np.abs(curve[0]).max() > 0.1  # one curve for all frames
    assert np.abs(np.diff(curve[0])).max() < 0.5 * np.abs(curve[0]).max()  # smooth over the bands
    mfcc = np.zeros((5, 13), np.float32)
    shifted = T.Augmenter(D.Recipe(equalise=1.0), "mfcc").clip(mfcc, np.random.default_rng(3))
    assert np.all(shifted[:, [0, *range(4, 13)]] == 0) and np.any(shifted[:, 1:4] != 0)


def toy_set(n=60, features=10, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    sequences = []
    for label in labels:
        sequence = rng.normal(0, 0.3, (rng.integers(6, 14), features)).astype(np.float32)
        sequence[:2, label] += 3.0
        sequences.append(sequence)
    return D.SequenceSet(sequences, labels)


def test_fit_with_augmentation_is_deterministic_and_differs_from_without():
    data = toy_set()
    recipe = D.Recipe(epochs=2, lr=3e-3, stretch=0.2, time_masks=1, time_width=2, mixup=0.4, label_smoothing=0.1)

    def run(r):
        model = D.build_model("lstm_1x128", data.n_features, seed=0)
        return [row["train_loss"] for row in D.fit(model, data, None, r, progress=False)]

    assert run(recipe) == run(recipe)
    assert run(recipe) != run(D.Recipe(epochs=2, lr=3e-3))


def test_adapt_batch_norm_relearns_only_the_statistics_from_the_new_clips():
    data = toy_set(40, features=16)
    model = D.build_model("resnet", data.n_features, seed=0)
    D.fit(model, data, None, D.Recipe(epochs=1), progress=False, pad_multiple=4)
    shifted = data.map(lambda s: s * 3 + 2)  # a new voice: every feature scaled and moved
    adapted = T.adapt_batch_norm(model, shifted, multiple=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = next(m for m in adapted.modules() if isinstance(m, torch.nn.BatchNorm2d))
    original = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not torch.allclose(first.running_mean, original.running_mean)  # re-estimated from the new clips
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the original untouched
    weights = {k for k in before if "running" not in k and "num_batches" not in k}
    assert all(torch.equal(before[k], adapted.state_dict()[k]) for k in weights)  # no weight learnt
    assert not adapted.training
    lstm = D.build_model("lstm_2x64", data.n_features, seed=0)  # no batch norm: an unchanged copy
    copied = T.adapt_batch_norm(lstm, shifted)
    assert copied is not lstm and all(torch.equal(a, b) for a, b in zip(lstm.parameters(), copied.parameters()))


# --- balanced decoding ---------------------------------------------------------------------------

def test_balanced_gives_every_digit_the_same_share_as_optimal_transport_does():
    for library in ("TENSORFLOW", "JAX", "CUPY"):
        os.environ.setdefault(f"POT_BACKEND_DISABLE_{library}", "1")
    import ot

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(10, 0.3), size=40)
    even = unheard.balanced(p)
    assert np.allclose(even.sum(1), 1) and np.allclose(even.sum(0), 4, atol=1e-4)  # 40 clips, 10 digits
    plan = ot.sinkhorn(np.full(40, 1 / 40), np.full(10, 1 / 10), -np.log(p), 1.0, stopThr=1e-12, numItermax=100_000)
    assert np.allclose(even, plan / plan.sum(1, keepdims=True), atol=1e-5)
    # a voice whose sixes the networks hear as eights: eight holds 20 clips, six none
    said = np.repeat(np.arange(10), 10)
    skewed = np.full((100, 10), 0.01)
    skewed[np.arange(100), said] = 0.9
    sixes = said == 6
    skewed[sixes, 8], skewed[sixes, 6] = 0.6, 0.3
    skewed /= skewed.sum(1, keepdims=True)
    assert (skewed.argmax(1)[sixes] == 8).all()
    assert (unheard.balanced(skewed).argmax(1) == said).all()  # the sixes go back to six, the eights stay
    assert np.array_equal(unheard.balanced(np.eye(10)[said] * 0.9 + 0.01).argmax(1), said)  # already even: kept
    with pytest.raises(D.DigitsError) as error:
        unheard.balanced(np.ones(10))
    assert "(clips, classes)" in one_sentence(error)


# --- per-speaker CMVN -----------------------------------------------------------------------------

def test_speaker_cmvn_uses_only_each_speakers_own_frames():
    data = toy_set(40)
    speakers = np.array(["ann", "bob"] * 20)
    normalised = speaker_cmvn(data, speakers)
    for name in ("ann", "bob"):
        frames = np.concatenate([s for s, who in zip(normalised.sequences, speakers) if who == name])
        assert np.allclose(frames.mean(0), 0, atol=1e-4) and np.allclose(frames.std(0), 1, atol=1e-3)
    # bob's clips changed beyond recognition: ann's normalised clips are exactly what they were
    louder = D.SequenceSet([s * 10 + 5 if who == "bob" else s for s, who in zip(data.sequences, speakers)],
                           data.labels)
    again = speaker_cmvn(louder, speakers)
    for before, after, who in zip(normalised.sequences, again.sequences, speakers):
        if who == "ann":
            assert np.array_equal(before, after)
    with pytest.raises(D.DigitsError, match="40 clips but 3 speaker names"):
        speaker_cmvn(data, speakers[:3])


def test_silences_are_trimmed_and_floored_by_each_clips_own_peak():
    frames = np.full((20, 4), -80.0, np.float32)
    frames[5:12] = -10.0
    frames[8, 2] = 0.0  # the peak
    trimmed = trim_quiet(frames, 35.0)
    assert len(trimmed) == 7 and np.array_equal(trimmed, frames[5:12])
    assert len(trim_quiet(np.full((3, 4), -80.0, np.float32), 35.0)) == 3  # all equally quiet: nothing to cut
    floored = floor_db(frames, 50.0)
    assert floored.min() == -50.0 and np.array_equal(floored[5:12], frames[5:12])
    for function, message in ((trim_quiet, "trimming threshold must be positive"),
                              (floor_db, "dynamic range must be positive")):
        with pytest.raises(D.DigitsError) as error:
            function(frames, 0.0)
        assert message in one_sentence(error)


def test_lifter_removes_the_harmonic_ripple_and_keeps_the_envelope():
    bands = np.arange(40)
    envelope = 10 * np.exp(-0.5 * ((bands - 15.0) / 6) ** 2)  # one broad formant
    ripple = 3.0 * np.cos(np.pi * (bands + 0.5) * 30 / 40)  # fast ripple, as resolved pitch harmonics make
    smoothed = lifter((envelope + ripple)[None, :].astype(np.float32), 12)[0]
    assert np.abs(smoothed - envelope).max() < 0.1 * np.abs(ripple).max()
    assert np.allclose(lifter(envelope[None, :].astype(np.float32), 40)[0], envelope, atol=1e-4)
    with pytest.raises(D.DigitsError) as error:
        lifter(envelope[None, :], 0)
    assert "keep must be between 1 and the 40 bands" in one_sentence(error)


# --- train_and_test_speakers and loso ---------------------------------------------------------------

def tone_digits(speakers=("ann", "bob", "cy"), takes=2) -> audio.DigitSet:
    """Each digit a tone whose pitch says the digit, shifted by each speaker: 0.25 s at 8 kHz."""
    rate, clips, digits, names = 8000, [], [], []
    rng = np.random.default_rng(0)
    t = np.arange(int(0.25 * rate)) / rate
    for s, speaker in enumerate(speakers):
        for digit in range(10):
            for _ in range(takes):
                tone = np.sin(2 * np.pi * (300 + 250 * digit) * (1 + 0.04 * s) * t)
                clips.append((0.5 * tone + 0.01 * rng.normal(size=t.size)).astype(np.float32))
                digits.append(digit)
                names.append(speaker)
    return audio.DigitSet(clips, np.array(digits), np.array(names), rate, "tones", None, True)


TINY = SpeakerRecipe("cnn", "speaker", D.Recipe(epochs=1, lr=3e-3, speed=0.1, freq_masks=1, freq_width=4))


@pytest.mark.parametrize("arguments, message", [
    ({"test_speakers": ["dan"]}, "Unknown test speaker 'dan'"),
    ({"test_speakers": []}, "No test speakers given"),
    ({"test_speakers": ["ann", "bob", "cy"]}, "No training speakers given"),
    ({"test_speakers": ["ann"], "train_speakers": ["ann", "bob"]}, "both a training and a test speaker"),
    ({"test_speakers": ["ann"], "recipe": "magic"}, "Unknown recipe 'magic'"),
    ({"test_speakers": ["ann"], "model": "transformer"}, "Unknown model 'transformer'"),
])
def test_bad_inputs_stop_with_one_sentence(arguments, message, tmp_path, monkeypatch):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path))
    with pytest.raises(D.DigitsError) as error:
        train_and_test_speakers(tone_digits(), **arguments)
    assert message in one_sentence(error)


def test_a_tiny_run_returns_what_it_promises(tmp_path, monkeypatch):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    data = tone_digits()
    result = train_and_test_speakers(data, ["cy"], TINY, seed=0)
    for key in ("accuracy", "n_test", "model", "recipe", "per_speaker", "n_train", "confusion"):
        assert key in result
    assert result["n_test"] == 20 and result["n_train"] == 40 and 0 <= result["accuracy"] <= 1
    assert result["model"] == "cnn" and list(result["per_speaker"]) == ["cy"]
    assert np.sum(result["confusion"]) == 20
    assert train_and_test_speakers(data, ["cy"], TINY, seed=0)["accuracy"] == result["accuracy"]  # same seed, same
    two = train_and_test_speakers(data, "cy", TINY.with_training(epochs=1), model="resnet",
                                  train_speakers=["ann"])
    assert two["model"] == "resnet" and two["n_train"] == 20 and two["train_speakers"] == ["ann"]
    # extra training clips (the synthetic crowd's place), self-training, trimming and a 2-seed ensemble
    adapted = replace(TINY, seeds=2, adapt_rounds=1, adapt_epochs=1, adapt_threshold=0.05, trim_db=35.0,
                      floor_db=50.0)
    three = train_and_test_speakers(data, ["cy"], adapted, train_speakers=["ann"],
                                    extra=tone_digits(("zed",), takes=1), keep_probabilities=True)
    assert "probabilities" not in result and three["probabilities"].shape == (20, 10)
    assert np.array_equal(three["labels"], np.arange(20) // 2)
    duo = train_and_test_speakers(data, ["cy"], replace(TINY, partner=replace(TINY, model="mean_mlp")))
    assert len(duo["member_accuracy"]) == 2 and 0 <= duo["accuracy"] <= 1
    trio = train_and_test_speakers(data, ["cy"], replace(TINY, partner=(replace(TINY, model="mean_mlp"),
                                                                        replace(TINY, model="mean_mlp", seeds=2))),
                                   keep_probabilities=True)
    assert len(trio["member_accuracy"]) == 3 and np.allclose(trio["probabilities"].sum(1), 1)  # an average
    # batch-norm adaptation: each test speaker's clips scored by statistics re-estimated on them alone, and
    # with "both" averaged with the plain scores
    both = train_and_test_speakers(data, ["bob", "cy"], replace(TINY, norm_adaptation="both"), train_speakers=["ann"],
                                   keep_probabilities=True, keep_networks=True)
    plain = unheard._ensemble(both["networks"], both["test_set"], 8, "cpu")
    adapted = np.zeros_like(plain)
    for rows in (np.arange(20), np.arange(20, 40)):  # bob's clips, then cy's
        clips = both["test_set"].subset(rows)
        adapted[rows] = unheard._ensemble([T.adapt_batch_norm(n, clips, multiple=8) for n in both["networks"]],
                                          clips, 8, "cpu")
    assert np.allclose(both["probabilities"], (plain + adapted) / 2) and not np.allclose(plain, adapted)
    with pytest.raises(D.DigitsError) as error:
        replace(TINY, norm_adaptation="sometimes")
    assert "Unknown norm_adaptation 'sometimes'" in one_sentence(error)
    # ... with one vote per network: the member of two seeds weighs twice
    alone = [train_and_test_speakers(data, ["cy"], recipe, keep_probabilities=True)["probabilities"]
             for recipe in (TINY, replace(TINY, model="mean_mlp"), replace(TINY, model="mean_mlp", seeds=2))]
    assert np.allclose(trio["probabilities"], (alone[0] + alone[1] + 2 * alone[2]) / 4, atol=1e-5)
    # balanced over the digits: each test speaker's clips on their own, the networks untouched
    level = train_and_test_speakers(data, ["bob", "cy"], replace(TINY, balance=True), train_speakers=["ann"],
                                    keep_probabilities=True)
    free = train_and_test_speakers(data, ["bob", "cy"], TINY, train_speakers=["ann"], keep_probabilities=True)
    for rows in (np.arange(20), np.arange(20, 40)):
        assert np.allclose(level["probabilities"][rows], unheard.balanced(free["probabilities"][rows]), atol=1e-5)
    assert three["n_train"] == 30 and three["n_test"] == 20 and three["seeds"] == 2
    assert three["adaptation"][0]["pseudo_labelled"] > 0
    # no clip sure enough to learn from: the round is recorded and the networks stay as trained
    plain = train_and_test_speakers(data, ["cy"], TINY, keep_probabilities=True)
    unsure = train_and_test_speakers(data, ["cy"], replace(TINY, adapt_rounds=1, adapt_threshold=1 - 1e-12),
                                     keep_probabilities=True)
    assert unsure["adaptation"] == [{"round": 1, "pseudo_labelled": 0, "pseudo_accuracy": None}]
    assert np.array_equal(unsure["probabilities"], plain["probabilities"])
    # with a share, each digit heard in cy's clips still gives its surest half to learn from
    shared = train_and_test_speakers(data, ["cy"], replace(TINY, adapt_rounds=1, adapt_threshold=1 - 1e-12,
                                                            adapt_share=0.5), keep_probabilities=True)
    heard_as = np.bincount(plain["probabilities"].argmax(1))  # the networks before self-training are plain's
    assert shared["adaptation"][0]["pseudo_labelled"] == sum((n + 1) // 2 for n in heard_as)
    assert not np.array_equal(shared["probabilities"], plain["probabilities"])


def test_self_training_keeps_the_sure_clips_and_with_a_share_the_surest_of_every_digit_of_every_speaker():
    probabilities = np.zeros((7, 10))
    # ann: three clips heard as 0 (sure, unsure, unsure), two as 1 (both unsure); bob: two heard as 0 (unsure)
    for row, (digit, top) in enumerate([(0, 0.95), (0, 0.6), (0, 0.5), (1, 0.4), (1, 0.7), (0, 0.3), (0, 0.8)]):
        probabilities[row] = (1 - top) / 9
        probabilities[row, digit] = top
    who = np.array(["ann"] * 5 + ["bob"] * 2)
    assert unheard.pseudo_labelled(probabilities, who, 0.9).tolist() == [0]
    # a share of 0.5: ann's 0s keep their surest 2 of 3 (rounded up), her 1s their surer one, bob's 0s one of two
    assert unheard.pseudo_labelled(probabilities, who, 0.9, 0.5).tolist() == [0, 1, 4, 6]
    assert unheard.pseudo_labelled(probabilities, who, 0.9, 1.0).tolist() == list(range(7))
    # the share rounds up: a tiny one still gives every digit of every speaker its surest clip, beside the sure ones
    assert unheard.pseudo_labelled(probabilities, who, 0.75, 0.01).tolist() == [0, 4, 6]


def test_networks_trained_at_once_give_the_numbers_of_one_at_a_time(tmp_path, monkeypatch):
    # seeds, a partner and a self-training round, each network in a process of its own: seeded, so the same
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    recipe = replace(TINY, seeds=2, adapt_rounds=1, adapt_epochs=1, adapt_threshold=0.05, norm_adaptation="both",
                     model="resnet", partner=replace(TINY, model="mean_mlp"))
    one, two = (train_and_test_speakers(tone_digits(), ["cy"], recipe, keep_probabilities=True, jobs=jobs)
                for jobs in (1, 2))
    assert one["adaptation"][0]["pseudo_labelled"] > 0 and len(one["member_accuracy"]) == 3
    assert 0 < one["network_seconds"] <= one["seconds"] and two["network_seconds"] > 0 and one["crowd"] is None
    assert np.array_equal(one["probabilities"], two["probabilities"])
    assert (one["member_accuracy"], one["adaptation"]) == (two["member_accuracy"], two["adaptation"])
    with pytest.raises(D.DigitsError) as error:
        train_and_test_speakers(tone_digits(), ["cy"], TINY, jobs=0)
    assert "jobs is the number of trainings" in one_sentence(error)


def test_loso_holds_out_every_speaker_and_validates_on_a_training_speaker(tmp_path, monkeypatch):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    study = loso(tone_digits(), TINY, nested=True)
    assert set(study["per_speaker"]) == {"ann", "bob", "cy"}
    assert study["worst"] == min(study["per_speaker"].values())
    for row in study["folds"]:
        assert row["inner_speaker"] != row["speaker"]
    # two networks at once, each in its own process, the folds' networks queued together: the same numbers
    parallel = loso(tone_digits(), replace(TINY, seeds=2), nested=True, jobs=2)
    study = loso(tone_digits(), replace(TINY, seeds=2), nested=True)
    assert [(r["speaker"], r["accuracy"], r["inner_speaker"], r["inner_accuracy"]) for r in parallel["folds"]] == [
        (r["speaker"], r["accuracy"], r["inner_speaker"], r["inner_accuracy"]) for r in study["folds"]]
    with pytest.raises(D.DigitsError) as error:
        loso(tone_digits(), TINY, jobs=0)
    assert "jobs is the number of trainings" in one_sentence(error)
    assert inner_speaker("cy", ["ann", "bob"]) == "ann" and inner_speaker("ann", ["bob", "cy"]) == "bob"
    with pytest.raises(D.DigitsError) as error:
        loso(tone_digits(("ann", "bob")), TINY, nested=True)
    assert "at least 3 speakers" in one_sentence(error)


def test_named_recipes_are_valid():
    assert {"report", "ours", "unheard", "unheard-cnn", "unheard-lstm", "unheard-duo", "unheard-trio",
            "unheard-resnets"} <= set(RECIPES)
    # "unheard" is the recipe for voices never heard, whichever BEST is; the CNN it started as is "unheard-cnn"
    assert replace(RECIPES["unheard"], description="") == replace(RECIPES[unheard.BEST], description="")
    assert RECIPES["unheard-cnn"].model == "cnn" and RECIPES["unheard-cnn"].seeds == 1
    assert RECIPES["unheard-resnets"].seeds == 3 and RECIPES["unheard-resnets"].model == "resnet"
    # the default adds one round of self-training to the three ResNets, and nothing else
    assert replace(RECIPES["unheard-resnets-self"], adapt_rounds=0, adapt_epochs=5,
                   description="") == replace(RECIPES["unheard-resnets"], description="")
    assert replace(RECIPES["unheard-resnets-self-vtln"], vtln=0.0,
                   description="") == replace(RECIPES["unheard-resnets-self"], description="")
    assert replace(RECIPES["unheard-resnets-self-vtln-last-share"], adapt_share=0.0,
                   description="") == replace(RECIPES["unheard-resnets-self-vtln-last"], description="")
    assert replace(RECIPES["unheard-resnets-self2-vtln-last-share"], adapt_rounds=1,
                   description="") == replace(RECIPES["unheard-resnets-self-vtln-last-share"], description="")
    balanced = RECIPES["unheard-resnets-balanced"]  # the family the bank chose: plain, no AdaBN, balanced
    assert balanced.balance and balanced.norm_adaptation == "none" and balanced.seeds == 3
    assert not any(RECIPES[name].balance for name in RECIPES if name != "unheard-resnets-balanced")
    # a training change reaches every member of an ensemble, named or given, and leaves the members' models
    shorter = RECIPES["unheard-trio"].with_training(epochs=3, equalise=0.5)
    assert [m.training.epochs for m in (shorter, *shorter.partner)] == [3, 3, 3]
    assert [m.model for m in shorter.partner] == ["lstm_2x64", "resnet"] and shorter.partner[1].training.equalise == 0.5
    assert RECIPES["unheard-duo"].with_training(epochs=2).partner.training.epochs == 2
    assert RECIPES["unheard-duo"].with_training().partner == "unheard-lstm"
    # so does a member field: every member of the trio filters its clips, and only its high-pass changes
    filtered = RECIPES["unheard-trio"].with_members(high_pass=120.0)
    assert [m.high_pass for m in (filtered, *filtered.partner)] == [120.0] * 3
    assert replace(filtered.partner[1], high_pass=None) == RECIPES["unheard-resnet"]
    with pytest.raises(D.DigitsError) as error:
        SpeakerRecipe("cnn", "speaker", D.Recipe(), high_pass=-50.0)
    assert "high_pass is a cut-off in Hz" in one_sentence(error)
    assert RECIPES["report"].model == "lstm_2x64" and RECIPES["ours"].model == "cnn"
    with pytest.raises(D.DigitsError) as error:
        SpeakerRecipe("cnn", "per-room", D.Recipe())
    assert "Unknown normalisation 'per-room'" in one_sentence(error)
    with pytest.raises(D.DigitsError) as error:
        SpeakerRecipe("lstm_2x64", "speaker", D.Recipe(), trim_db=35.0)
    assert "work on log-mel features" in one_sentence(error)
    with pytest.raises(D.DigitsError) as error:
        SpeakerRecipe("cnn", "speaker", D.Recipe(), adapt_rounds=1, adapt_threshold=1.5)
    assert "Self-training needs" in one_sentence(error)
    with pytest.raises(D.DigitsError) as error:
        SpeakerRecipe("cnn", "speaker", D.Recipe(), adapt_rounds=1, adapt_share=1.5)
    assert "adapt_share is a share of each digit's clips" in one_sentence(error)
    with pytest.raises(D.DigitsError) as error:
        SpeakerRecipe("cnn", "speaker", D.Recipe(), crowd=(0, 5))
    assert "crowd must be (speakers, takes)" in one_sentence(error)


def test_a_crowd_never_brings_the_test_speakers_voice(tmp_path, monkeypatch):
    """Synthetic data's speakers are the crowd's own first speakers: their clips leave the crowd."""
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    crowd = replace(tone_digits(("cy", "zed"), takes=1), origin={"crowd": {"catalogue_key": "0123", "skipped": []}})
    result = train_and_test_speakers(tone_digits(), ["cy"], TINY, train_speakers=["ann"], extra=crowd)
    assert result["n_train"] == 20 + 10 and result["n_extra"] == 10  # zed's ten clips, none of cy's
    assert result["crowd"] == {"catalogue_key": "0123", "skipped": []}  # which voices trained it, on the record
    alone = train_and_test_speakers(tone_digits(), ["cy"], TINY, train_speakers=["ann"],
                                    extra=tone_digits(("cy",), takes=1))
    assert alone["n_train"] == 20 and alone["n_extra"] == 0



def test_the_crowd_is_pinned_to_its_catalogue_and_one_missing_voices_is_used_with_a_warning(monkeypatch):
    import warnings

    from hw5lib.data import crowd
    from hw5lib.digits import unheard

    asked = []

    def crowd_of(voices):
        def load(*args, **kwargs):
            asked.append(kwargs.get("synthetic_catalogue"))
            record = {"catalogue_key": "0123", "engines": voices}
            return replace(tone_digits(("zed",), takes=1), origin={"crowd": record})
        return load

    monkeypatch.setattr(audio, "load_digits", crowd_of({"espeak-ng": 368, "flite": 5}))  # festival not installed
    with pytest.warns(UserWarning, match=r"other voices \(espeak-ng 368, flite 5\) than .* \(espeak-ng 368, "):
        assert unheard.crowd_clips(2, 1).speaker_names == ["zed"]
    monkeypatch.setattr(audio, "load_digits", crowd_of(dict(unheard.MEASURED_VOICES)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unheard.crowd_clips(2, 1)
    assert asked == [unheard.CROWD_CATALOGUE] * 2
    # the numbers were measured with this catalogue: its voices per engine, and its cache key for seed 0
    assert unheard.MEASURED_VOICES == {"espeak-ng": 368, "festival": 3, "flite": 5}
    assert crowd._key(crowd._catalogue_key(
        list(crowd.catalogue_voices(unheard.CROWD_CATALOGUE)), 0)) == "24adcf921f6d6f0c"


# --- the levers of the unheard recipe ---------------------------------------------------------------

def test_every_lever_together_is_the_unheard_recipe_and_none_is_the_chapters():
    everything = with_levers(LEVERS)
    assert replace(everything, description="") == replace(RECIPES["unheard-cnn"], description="")
    nothing = with_levers(())
    assert replace(nothing, description="") == replace(RECIPES["ours"].with_training(epochs=20), description="")
    assert with_levers((), epochs=7).training.epochs == with_levers(LEVERS, epochs=7).training.epochs == 7


@pytest.mark.parametrize("lever, changed", [
    ("speaker", {"normalisation"}),
    ("augment", {"training"}),
    ("silence", {"trim_db", "floor_db"}),
    ("crowd", {"crowd"}),
])
def test_each_lever_changes_its_own_fields_only(lever, changed):
    from dataclasses import fields

    base, one = with_levers(()), with_levers((lever,))
    differ = {f.name for f in fields(base) if getattr(base, f.name) != getattr(one, f.name)}
    assert differ == changed
    if lever == "augment":
        assert one.training.speed > 0 and one.training.freq_masks > 0 and one.training.noise < base.training.noise
        assert replace(one.training, **{name: getattr(base.training, name) for name in unheard._AUGMENTATION}) \
            == base.training


def test_levers_refuse_unknown_names_and_mfcc_models_skip_the_silence_lever():
    with pytest.raises(D.DigitsError) as error:
        with_levers(("speaker", "magic"))
    assert "Unknown lever 'magic'" in one_sentence(error)
    lstm = with_levers(LEVERS, model="lstm_2x64", crowd=(3, 1))
    assert lstm.model == "lstm_2x64" and lstm.trim_db is None and lstm.floor_db is None and lstm.crowd == (3, 1)


def test_lever_rows_are_none_each_alone_all_and_all_but_one():
    rows = lever_rows()
    assert rows[0] == () and rows[-1] == tuple(LEVERS) and len(rows) == len(LEVERS) + 2
    assert all(len(row) == 1 for row in rows[1:-1])
    more = lever_rows(all_but=True)
    assert len(more) == 2 * len(LEVERS) + 2 and all(len(row) == len(LEVERS) - 1 for row in more[len(rows):])
    assert lever_rows(("speaker",)) == [(), ("speaker",)]


def test_a_lever_study_runs_every_row_on_the_same_folds(tmp_path, monkeypatch):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    made = []

    def fake_crowd(speakers, takes, seed=0, progress=False):
        made.append((speakers, takes))
        return tone_digits(("bob", "zed"), takes=takes)

    monkeypatch.setattr(unheard, "crowd_clips", fake_crowd)
    rows = [(), ("speaker",), ("crowd",)]
    study = lever_study(tone_digits(), rows, speakers=["bob", "cy"], epochs=1, crowd=(2, 1), nested=True)
    assert [row["levers"] for row in study] == rows and made == [(2, 1)]  # the crowd is read once
    for row in study:
        assert set(row["per_speaker"]) == {"bob", "cy"} and row["recipe"].training.epochs == 1
        assert "inner_mean" in row and all(fold["inner_speaker"] != fold["speaker"] for fold in row["folds"])
    assert study[1]["recipe"].normalisation == "speaker" and study[2]["recipe"].crowd == (2, 1)
    assert study[0]["recipe"].crowd is None
    with pytest.raises(D.DigitsError) as error:  # refused before the crowd is made
        lever_study(tone_digits(), rows, speakers=["bob"], crowd=(2, 1), jobs=0)
    assert "jobs is the number of trainings" in one_sentence(error) and made == [(2, 1)]


# --- the command line: python -m hw5lib.digits --test-speakers / --test-data with --recipe ---------

def tone_folder(folder, speakers=("ann", "bob", "cy"), takes=2):
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    data = tone_digits(speakers, takes)
    for i, (clip, digit, speaker) in enumerate(zip(data.audio, data.digits, data.speakers)):
        soundfile.write(folder / f"{digit}_{speaker}_{i % takes}.wav", clip, data.sample_rate, subtype="PCM_16")
    return folder


@pytest.fixture
def tiny_recipes(tmp_path, monkeypatch):
    """The named recipes, shrunk to one epoch and no crowd, so the command runs in seconds."""
    from hw5lib.digits import unheard

    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    shrunk = {name: replace(recipe, crowd=None, partner=None, seeds=1).with_training(epochs=1)
              for name, recipe in unheard.RECIPES.items()}
    monkeypatch.setattr(unheard, "RECIPES", shrunk)
    return shrunk


def test_the_command_tests_named_speakers_and_writes_what_it_promises(tmp_path, tiny_recipes):
    import json

    from hw5lib.digits.__main__ import main

    folder = tone_folder(tmp_path / "tones")
    out = tmp_path / "result.json"
    main(["--data", str(folder), "--test-speakers", "cy,bob", "--recipe", "unheard", "--out", str(out),
          "--device", "cpu"])
    saved = json.loads(out.read_text())
    assert saved["recipe"] == "unheard" and saved["n_test"] == 40 and 0 <= saved["accuracy"] <= 1
    assert sorted(saved["per_speaker"]) == ["bob", "cy"] and saved["train_speakers"] == ["ann"]
    assert saved["model"] == tiny_recipes["unheard"].model
    # without --recipe: the recipe chosen on nested validation
    main(["--data", str(folder), "--test-speakers", "cy", "--out", str(out)])
    from hw5lib.digits.unheard import BEST

    assert json.loads(out.read_text())["recipe"] == BEST == "unheard-resnets-self2-vtln-last-share"
    # trained on one data set alone (the synthetic speakers' place), tested on all of another
    other = tone_folder(tmp_path / "others", speakers=("dan", "eve"), takes=1)
    main(["--data", str(other), "--test-data", str(folder), "--recipe", "ours", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["recipe"] == "ours" and saved["n_test"] == 60 and saved["train_speakers"] == []
    assert sorted(saved["per_speaker"]) == ["ann", "bob", "cy"] and saved["n_extra"] == 20


@pytest.mark.parametrize("arguments, message", [
    (["--test-speakers", "zed"], "Unknown test speaker 'zed'"),
    (["--test-speakers", " , "], "No test speakers given"),
    (["--test-speakers", "ann,bob,cy"], "No training speakers given"),
])
def test_the_command_answers_bad_speakers_with_one_sentence(arguments, message, tmp_path, tiny_recipes, capsys):
    from hw5lib.digits.__main__ import main

    folder = tone_folder(tmp_path / "tones")
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(folder), *arguments])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("python -m hw5lib.digits: ") and message in error and error.endswith(".")


def test_the_command_refuses_a_missing_folder_and_both_test_options(tmp_path, tiny_recipes, capsys):
    from hw5lib.digits.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(tmp_path / "nowhere"), "--test-speakers", "ann"])
    assert stopped.value.code == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(tone_folder(tmp_path / "tones")), "--test-speakers", "ann", "--jobs", "0"])
    assert stopped.value.code == 2 and "jobs is the number of trainings" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # the plain training loop has no networks to share out
        main(["--data", str(tone_folder(tmp_path / "tones")), "--jobs", "2"])
    assert stopped.value.code == 2 and "--jobs trains a named recipe's networks" in capsys.readouterr().err
    folder = tone_folder(tmp_path / "tones")
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(folder), "--test-speakers", "ann", "--test-data", str(folder)])
    assert stopped.value.code == 2 and "not both" in capsys.readouterr().err


class _BandProbe(torch.nn.Module):
    """Sure of digit 0 in proportion to the mean of log-mel band 18 (nothing else moves its logits)."""

    def forward(self, x, lengths):
        logits = torch.zeros(len(x), 10)
        logits[:, 0] = 10 * x[:, :, 18].mean(1)
        return logits


def test_speaker_warps_pick_per_speaker_the_factor_the_networks_are_surest_of():
    # ann's energy sits in band 20, bob's in band 18: the probe is surest when it hears band 18, so ann's clips are
    # warped down in frequency (a factor under 1 reads band 18 from higher up) and bob's stay as they are
    frames = {"ann": np.zeros((12, 40), np.float32), "bob": np.zeros((12, 40), np.float32)}
    frames["ann"][:, 20], frames["bob"][:, 18] = 1.0, 1.0
    test = D.SequenceSet([frames["ann"]] * 3 + [frames["bob"]] * 3, np.zeros(6, int))
    who = np.array(["ann"] * 3 + ["bob"] * 3)
    factors = unheard.vtln_factors(0.15)
    assert factors == (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15) and unheard.vtln_factors(0.0) == ()
    warped, chosen, scored = unheard.speaker_warps([_BandProbe()], test, who, factors, "log_mel", 1, "cpu")
    assert np.allclose(scored, unheard.adapted_ensemble([_BandProbe()], warped, who, "none", 1, "cpu"))
    assert chosen["ann"] < 1.0 and chosen["bob"] == 1.0
    assert warped.sequences[0][:, 18].mean() > 0.5 > test.sequences[0][:, 18].mean()  # ann moved towards band 18
    assert np.array_equal(warped.sequences[4], test.sequences[4]) and np.array_equal(warped.labels, test.labels)
    # adapted_ensemble scores the warped clips: the probe is surer of ann than without the warp
    sure = unheard.adapted_ensemble([_BandProbe()], test, who, "none", 1, "cpu", warps=factors)
    unsure = unheard.adapted_ensemble([_BandProbe()], test, who, "none", 1, "cpu")
    assert sure[0, 0] > unsure[0, 0] and np.allclose(sure[3:], unsure[3:])


def test_a_recipe_with_vtln_trains_and_its_bad_values_are_refused():
    data = tone_digits()
    result = train_and_test_speakers(data, ["cy"], replace(TINY, vtln=0.1), keep_probabilities=True)
    assert result["n_test"] == 20 and np.allclose(result["probabilities"].sum(1), 1)
    assert RECIPES["unheard-resnets-self-vtln"].vtln == 0.15
    for value in (-0.1, 0.5):
        with pytest.raises(D.DigitsError) as error:
            replace(TINY, vtln=value)
        assert "vtln is the largest change of frequency scale tried" in one_sentence(error)


def test_vtln_on_the_final_scores_only_leaves_the_pseudo_labels_as_without_it():
    data = tone_digits()
    selfish = replace(TINY, adapt_rounds=1, adapt_threshold=0.05)  # every clip: its guesses are compared
    plain = train_and_test_speakers(data, ["cy"], selfish, keep_probabilities=True)
    last = train_and_test_speakers(data, ["cy"], replace(selfish, vtln=0.1, vtln_pseudo=False), keep_probabilities=True)
    assert last["adaptation"] == plain["adaptation"] and last["adaptation"][0]["pseudo_labelled"] > 0
    assert RECIPES["unheard-resnets-self-vtln-last"].vtln_pseudo is False
