"""hw5lib.automl: the search space, storages, two workers on one study, a killed worker."""

import copy
import os
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest
import torch

from hw5lib import automl, digits
from hw5lib.digits.models import MeanPooling


def toy_data(n=80, seed=0):
    """Sequences whose label is written in their first frames, as both feature kinds."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    features = {}
    for kind, width in (("mfcc", 13), ("log_mel", 40)):
        sequences = []
        for label in labels:
            sequence = rng.normal(0, 0.3, (rng.integers(8, 20), width)).astype(np.float32)
            sequence[:3, label] += 3.0
            sequences.append(sequence)
        features[kind] = digits.SequenceSet(sequences, labels)
    return automl.SearchData.split(features, labels, seed=seed)


@pytest.mark.parametrize("family", automl.FAMILIES)
@pytest.mark.parametrize("feature", automl.FEATURES)
def test_every_point_of_the_space_builds_and_reads_a_padded_batch(family, feature):
    architecture = automl.Architecture(family, 2, 16, 0.1, feature, 1e-3, 16)
    model = architecture.build(13 if feature == "mfcc" else 40)
    x = torch.randn(3, 16, 13 if feature == "mfcc" else 40)
    logits = model(x, torch.tensor([16, 9, 4]))
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    assert architecture.label().startswith(automl.FAMILY_LABELS[family])


def test_searched_cnns_are_laid_out_as_the_registry_lays_out_its_cnn():
    """A searched CNN gets the registry's faster channels-last convolutions, and the layout changes
    nothing it computes but the order of its sums."""
    assert digits.MODELS["cnn"].channels_last
    model = automl.Architecture("cnn", 3, 64, 0.0, "log_mel", 1e-3, 16).build(40, seed=2).eval()
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 3 and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
                                   for w in convs[1:])  # the first reads one channel: both layouts at once
    plain = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    x, lengths = torch.randn(3, 24, 40), torch.tensor([24, 17, 9])
    with torch.no_grad():
        torch.testing.assert_close(model(x, lengths), plain(x, lengths), rtol=1e-5, atol=1e-5)


def test_the_mean_models_are_the_digits_mean_pooling():
    """One mean-pooling model: a one-hidden-layer mean_mlp is the digits' MeanClassifier, weight for weight."""
    searched = automl.Architecture("mean_mlp", 1, 64, 0.3, "mfcc", 1e-3, 16).build(13, seed=4)
    assert isinstance(searched, MeanPooling)
    assert isinstance(automl.Architecture("mean_kan", 1, 16, 0.0, "mfcc", 1e-3, 16).build(13), MeanPooling)
    digit = digits.build_model("mean_mlp", 13, seed=4)
    assert isinstance(digit, MeanPooling)
    assert_same_weights(searched, digit)
    searched.eval()
    digit.eval()
    x, lengths = torch.randn(3, 12, 13), torch.tensor([12, 7, 2])
    before = searched(x, lengths)
    assert torch.equal(before, digit(x, lengths))
    x[1, 7:], x[2, 2:] = 1e3, -1e3  # padding is never read
    assert torch.allclose(searched(x, lengths), before)


def test_the_report_models_are_the_digits_registry_s_recurrent_models():
    assert list(automl.REPORT_MODELS) == [name for name, spec in digits.MODELS.items()
                                          if isinstance(spec.make(13), digits.RecurrentClassifier)]
    for name, architecture in automl.REPORT_MODELS.items():
        assert architecture.feature == digits.model_spec(name).feature
        assert (architecture.lr, architecture.batch_size) == (automl.RECIPE_LR, automl.RECIPE_BATCH)
        searched, registered = architecture.build(13, seed=2), digits.build_model(name, 13, seed=2)
        assert repr(searched) == repr(registered)  # layers, units, directions, dropout
        assert_same_weights(searched, registered)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    assert automl.report_models() == automl.REPORT_MODELS
    assert torch.equal(torch.rand(3), expected)  # reading the registry leaves the global random state alone


def assert_same_weights(first, second):
    one, two = first.state_dict(), second.state_dict()
    assert list(one) == list(two)
    assert all(torch.equal(one[key], two[key]) for key in one)


def test_cnn_channels_double_up_to_the_width():
    assert automl.Architecture("cnn", 3, 64, 0.0, "log_mel", 1e-3, 16).channels == [16, 32, 64]
    assert automl.Architecture("cnn", 3, 64, 0.0, "log_mel", 1e-3, 16).pad_multiple == 8


@pytest.mark.parametrize("make, message", [
    (lambda: automl.Architecture("gru", 1, 16, 0.1, "mfcc", 1e-3, 16), "Unknown model family 'gru'"),
    (lambda: automl.Architecture("lstm", 1, 16, 0.1, "mel", 1e-3, 16), "Unknown feature 'mel'"),
    (lambda: automl.Architecture("lstm", 0, 16, 0.1, "mfcc", 1e-3, 16), "depth and width must be positive"),
    (lambda: automl.open_storage(""), "Give the study's storage as a URL"),
    (lambda: automl.open_storage("studies.db"), "is not a URL; write sqlite:///studies.db"),
    (lambda: automl.make_sampler("grid", 0), "Unknown sampler 'grid'"),
    (lambda: automl.make_pruner("median", 3), "Unknown pruner 'median'"),
    (lambda: automl.search(toy_data(), trials=0), "trials must be at least 1"),
])
def test_bad_input_is_one_clear_sentence(make, message):
    with pytest.raises(automl.SearchError, match=message):
        make()


def test_a_study_is_deterministic_and_resumes(tmp_path):
    data = toy_data()
    first = automl.search(data, trials=4, epochs=2, seed=3)
    second = automl.search(data, trials=4, epochs=2, seed=3)
    assert [row["value"] for row in automl.history(first)] == [row["value"] for row in automl.history(second)]
    assert all(row["state"] in ("COMPLETE", "PRUNED") for row in automl.history(first))
    url = f"journal://{tmp_path / 'study.log'}"
    automl.search(data, storage=url, study_name="resume", trials=2, epochs=1)
    resumed = automl.search(data, storage=url, study_name="resume", trials=3, epochs=1)
    assert [row["number"] for row in automl.history(resumed)] == [0, 1, 2]  # one more, not three
    assert automl.best_architecture(resumed) == automl.Architecture(**resumed.best_trial.params)


def test_pruned_trials_report_fewer_epochs():
    study = automl.search(toy_data(), trials=8, epochs=4, pruner="halving", seed=1)
    rows = automl.history(study)
    assert all(row["epochs"] == 4 for row in rows if row["state"] == "COMPLETE")
    assert all(row["epochs"] < 4 for row in rows if row["state"] == "PRUNED")
    assert all(row["seconds"] > 0 and row["parameters"] > 0 for row in rows)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    import shutil

    from hw5lib.data import audio

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup installs it)")
    return audio.synthesize_digits(3, 3, seed=0, folder=tmp_path_factory.mktemp("digits"), progress=False)


def worker(spoken, storage, *extra):
    command = [sys.executable, "-m", "hw5lib.automl", "--storage", storage, "--study", "shared", "--data", str(spoken),
               "--speakers", "3", "--clips-per-digit", "3", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_two_workers_share_one_study(spoken, tmp_path, kind):
    storage = f"sqlite:///{tmp_path / 'study.db'}" if kind == "sqlite" else f"journal://{tmp_path / 'study.log'}"
    workers = [worker(spoken, storage, "--trials", "6", "--epochs", "2", "--pruner", "none") for _ in range(2)]
    for process in workers:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-2000:]
    study = optuna.load_study(study_name="shared", storage=automl.open_storage(storage))
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # no number twice
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) >= 6 and not [t for t in trials if t.state.name == "RUNNING"]
    searched = {"family", "depth", "width", "dropout", "feature", "lr", "batch_size"}
    assert all(set(t.params) == searched for t in finished)
    assert all(0 <= t.value <= 1 for t in finished)
    assert len({tuple(sorted(t.params.items())) for t in finished}) == len(finished)  # the workers sample apart


@pytest.mark.slow
def test_a_killed_worker_leaves_the_study_usable(spoken, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    slow = worker(spoken, storage, "--trials", "3", "--epochs", "500", "--heartbeat", "1", "--grace", "3")
    loaded = None
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until it is inside a trial
        time.sleep(1)
        try:
            loaded = optuna.load_study(study_name="shared", storage=automl.open_storage(storage))
        except KeyError:
            continue
        if any(t.state.name == "RUNNING" for t in loaded.get_trials(deepcopy=False)):
            break
    else:
        slow.kill()
        slow.communicate()
        pytest.fail("the worker never started a trial")
    os.kill(slow.pid, signal.SIGKILL)
    slow.communicate(timeout=60)
    time.sleep(4)  # past the grace period: the trial's heartbeat has stopped
    rescue = worker(spoken, storage, "--trials", "2", "--epochs", "1", "--heartbeat", "1", "--grace", "3")
    _, stderr = rescue.communicate(timeout=600)
    assert rescue.returncode == 0, stderr[-2000:]
    study = optuna.load_study(study_name="shared", storage=automl.open_storage(storage))
    states = [t.state.name for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)]
    assert states[0] == "FAIL" and "RUNNING" not in states, states
    assert states.count("COMPLETE") >= 2 and study.best_trial.value is not None
