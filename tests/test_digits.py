"""hw5lib.digits: splits, padding that is never read, models, checkpoints that resume exactly,
the ablation, and the same training loop under torchrun with two processes."""

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from hw5lib.data import audio
from hw5lib import digits as D


def toy_set(n=60, features=10, seed=0, min_frames=3, max_frames=12):
    """Sequences whose label is written in their first frames: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    sequences = []
    for label in labels:
        sequence = rng.normal(0, 0.3, (rng.integers(min_frames, max_frames + 1), features)).astype(np.float32)
        sequence[:2, label] += 3.0  # a one-hot mark at the start, so the model must carry it to the end
        sequences.append(sequence)
    return D.SequenceSet(sequences, labels)


# --- splits --------------------------------------------------------------------------------------

def test_random_split_is_the_reports_train_test_split():
    from sklearn.model_selection import train_test_split

    train, test = D.random_split(100)
    expected_train, expected_test = train_test_split(np.arange(100), test_size=0.2, random_state=42)
    assert np.array_equal(train, expected_train) and np.array_equal(test, expected_test)


def test_hand_written_split_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(10), [10, 12, 9, 30, 10, 10, 10, 11, 10, 50])
    train, test = D.stratified_split(labels, test_size=0.2, seed=3)
    assert not set(train) & set(test)
    assert sorted(np.concatenate([train, test])) == list(range(len(labels)))
    for label in range(10):
        count = (labels == label).sum()
        assert (labels[test] == label).sum() == round(0.2 * count)
    assert np.array_equal(D.stratified_split(labels, 0.2, seed=3)[1], test)  # deterministic
    assert not np.array_equal(D.stratified_split(labels, 0.2, seed=4)[1], test)
    with pytest.raises(D.DigitsError, match="test_size must be between 0 and 1"):
        D.stratified_split(labels, 1.5)


def test_speaker_split_keeps_speakers_apart():
    speakers = np.array(["ann", "bob", "cy", "ann", "bob", "cy"])
    train, test = D.speaker_split(speakers, ["bob"])
    assert list(test) == [1, 4] and list(train) == [0, 2, 3, 5]
    with pytest.raises(D.DigitsError, match="Unknown test speaker 'dan'"):
        D.speaker_split(speakers, ["dan"])
    with pytest.raises(D.DigitsError, match="at least one speaker left"):
        D.speaker_split(speakers, ["ann", "bob", "cy"])


def test_report_subset_is_balanced():
    labels = np.arange(500) % 10
    chosen = D.report_subset(labels, 100)
    assert len(chosen) == 100 and np.all(np.bincount(labels[chosen]) == 10)
    assert len(D.report_subset(labels, 10_000)) == 500


# --- data and normalisation ----------------------------------------------------------------------

def test_sequence_sets_refuse_what_cannot_be_a_batch():
    with pytest.raises(D.DigitsError, match="3 sequences but 2 labels"):
        D.SequenceSet([np.zeros((2, 3))] * 3, [0, 1])
    with pytest.raises(D.DigitsError, match="one feature count"):
        D.SequenceSet([np.zeros((2, 3)), np.zeros((2, 4))], [0, 1])
    with pytest.raises(D.DigitsError, match="no frames"):
        D.SequenceSet([np.zeros((0, 3))], [0])


def test_fixed_length_pads_cuts_and_transposes():
    data = D.SequenceSet([np.ones((3, 2)), np.ones((7, 2))], [0, 1])
    fixed = D.fixed_length(data, 5)
    assert [s.shape for s in fixed.sequences] == [(5, 2), (5, 2)]
    assert fixed.sequences[0][3:].sum() == 0 and fixed.sequences[1].sum() == 10
    assert D.fixed_length(data, 5, transpose=True).sequences[0].shape == (2, 5)


def test_global_standardisation_uses_training_statistics_only():
    train = D.SequenceSet([np.full((4, 2), 3.0), np.full((4, 2), 5.0)], [0, 1])
    test = D.SequenceSet([np.full((2, 2), 100.0)], [0])
    scaled_train, (scaled_test,) = D.normalise(train, [test], "global")
    frames = np.concatenate(scaled_train.sequences)
    assert np.allclose(frames.mean(0), 0, atol=1e-5) and np.allclose(frames.std(0), 1, atol=1e-3)
    assert np.allclose(scaled_test.sequences[0], (100 - 4) / 1.0, rtol=1e-3)
    utterance, _ = D.normalise(train, [], "utterance")
    assert np.allclose(utterance.sequences[0], 0)
    with pytest.raises(D.DigitsError, match="Unknown normalisation"):
        D.normalise(train, [], "zscore")


# --- models --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_model_equals_a_packed_lstm_with_the_same_weights(bidirectional):
    torch.manual_seed(0)
    model = D.RecurrentClassifier(6, hidden=8, layers=2, bidirectional=bidirectional).eval()
    packed_lstm = torch.nn.LSTM(6, 8, num_layers=2, batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        for layer, directions in enumerate(model.layers):
            for direction, lstm in enumerate(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(packed_lstm, name + suffix).copy_(getattr(lstm, name + "_l0"))
    x = torch.randn(5, 9, 6)
    lengths = torch.tensor([9, 4, 1, 7, 2])
    x[torch.arange(9)[None, :] >= lengths[:, None]] = 1e3  # padding that would ruin anything that read it
    _, (h_n, _) = packed_lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    expected = torch.cat([h_n[-2], h_n[-1]], 1) if bidirectional else h_n[-1]
    captured = {}
    model.head.register_forward_hook(lambda module, inputs, output: captured.update(summary=inputs[0]))
    model(x, lengths)
    torch.testing.assert_close(captured["summary"], expected)


@pytest.mark.parametrize("name", ["lstm_2x64", "bilstm_1x128", "mean_mlp"])
def test_padding_never_changes_a_prediction(name):
    model = D.build_model(name, 4, seed=1).eval()
    short = torch.randn(1, 5, 4)
    alone = model(short, torch.tensor([5]))
    padded = torch.cat([short, torch.full((1, 20, 4), 50.0)], 1)
    longer = torch.randn(1, 25, 4)
    together = model(torch.cat([padded, longer]), torch.tensor([5, 25]))
    torch.testing.assert_close(together[:1], alone, rtol=1e-5, atol=1e-5)


def test_every_model_maps_a_batch_to_ten_logits_and_counts_its_parameters():
    for name, spec in D.MODELS.items():
        n_inputs = 40 if spec.feature == "log_mel" else 13
        model = D.build_model(name, n_inputs)
        x, lengths = D.collate([torch.randn(t, n_inputs) for t in (11, 30, 17)], spec.pad_multiple)
        assert model(x, lengths).shape == (3, 10), name
    # Keras counts one bias per LSTM gate, PyTorch two: 57,802 + 4 gates x 64 units x 2 layers
    assert D.count_parameters(D.build_model("lstm_2x64", 13)) == 57_802 + 512
    with pytest.raises(D.DigitsError, match="Unknown model 'gru'"):
        D.build_model("gru", 13)


def test_convolutional_models_are_channels_last_and_compute_what_the_default_layout_computes():
    import copy

    laid_out = [name for name, spec in D.MODELS.items() if spec.channels_last]
    assert set(laid_out) == {"cnn", "resnet"}
    for name in laid_out:
        model = D.build_model(name, 40).eval()
        convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
                             for w in convs if w.shape[1] > 1 and w.shape[2:] != (1, 1)), name  # else both
        plain = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
        assert all(m.weight.is_contiguous() for m in plain.modules() if isinstance(m, torch.nn.Conv2d))
        x, lengths = D.collate([torch.randn(t, 40) for t in (11, 30, 17)], D.model_spec(name).pad_multiple)
        with torch.no_grad():
            torch.testing.assert_close(model(x, lengths), plain(x, lengths), rtol=1e-5, atol=1e-5)


def test_recipe_validates_and_schedules():
    with pytest.raises(D.DigitsError, match="learning rate must be positive"):
        D.Recipe(lr=0)
    with pytest.raises(D.DigitsError, match="Unknown schedule"):
        D.Recipe(schedule="step")
    recipe = D.Recipe(epochs=10, lr=1.0, schedule="cosine")
    assert recipe.lr_at(0) == 1.0 and recipe.lr_at(5) == pytest.approx(0.5) and recipe.lr_at(9) < 0.03


# --- training, checkpoints, resume ---------------------------------------------------------------

def test_training_learns_a_learnable_toy_task():
    data = toy_set(200)
    train_idx, test_idx = D.random_split(len(data))
    outcome = D.train_and_test("lstm_2x64", data, train_idx, test_idx, D.Recipe(epochs=25, lr=1e-2, batch_size=16),
                               progress=False)
    assert outcome.accuracy > 0.8
    assert outcome.confusion.sum() == len(test_idx) and len(outcome.history) == 25
    assert outcome.history[-1]["train_loss"] < outcome.history[0]["train_loss"]


def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path):
    data = toy_set(80)
    val = toy_set(20, seed=1)
    recipe = D.Recipe(epochs=4, lr=5e-3, batch_size=8, noise=0.1, schedule="cosine")

    def trained(checkpoint_dir, interrupt_at=None):
        model = D.build_model("bilstm_2x64", data.n_features, seed=0)

        def on_batch(epoch, step):
            if (epoch, step) == interrupt_at:
                raise KeyboardInterrupt

        history = D.fit(model, data, val, recipe, model_name="bilstm_2x64", checkpoint_dir=checkpoint_dir,
                        progress=False, on_batch=on_batch)
        return model, history

    reference, reference_history = trained(None)
    with pytest.raises(KeyboardInterrupt):
        trained(tmp_path, interrupt_at=(2, 3))  # killed in the middle of the third epoch
    (checkpoint,) = tmp_path.glob("*.safetensors")
    resumed, history = trained(tmp_path)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]

    def strip(rows):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert strip(history) == strip(reference_history)
    for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    # a finished run loads its weights and trains no more
    again, again_history = trained(tmp_path)
    assert strip(again_history) == strip(reference_history)
    torch.testing.assert_close(D.predict(again, val), D.predict(reference, val), rtol=0, atol=0)


def test_checkpoints_are_safetensors_with_optimiser_state(tmp_path):
    data = toy_set(20)
    model = D.build_model("lstm_1x128", data.n_features)
    D.fit(model, data, None, D.Recipe(epochs=1, batch_size=8), model_name="lstm_1x128", checkpoint_dir=tmp_path,
          progress=False)
    from safetensors import safe_open

    (path,) = tmp_path.glob("lstm_1x128-*.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
        assert handle.metadata()["epoch"] == "1"
    assert {k for k in keys if k.startswith("model.")} == {f"model.{k}" for k in model.state_dict()}
    assert any(k.endswith(".exp_avg_sq") for k in keys) and "rng" in keys
    other = D.checkpoint_name("lstm_1x128", D.Recipe(epochs=2), data, None)
    assert other != path.name, "another recipe must not resume this checkpoint"


# --- the ablation --------------------------------------------------------------------------------

def test_ablation_changes_one_thing_per_row():
    data = toy_set(120)
    rows = D.ablation(data, D.Recipe(epochs=1, batch_size=16), D.Recipe(epochs=1, batch_size=16, lr=1e-2),
                      report_clips=60, progress=False)
    assert [row["step"] for row in rows] == [step.key for step in D.ABLATION]
    assert rows[0]["clips"] == 60 and rows[-1]["clips"] == 120
    assert rows[0]["time_steps"] == data.n_features  # coefficients as the time axis
    assert rows[1]["time_steps"] == max(len(s) for s in data.sequences)
    assert all(0 <= row["accuracy"] <= 1 for row in rows)
    small = D.ablation(data, D.Recipe(epochs=1), D.Recipe(epochs=1), report_clips=500, progress=False)
    assert "all_clips" not in [row["step"] for row in small]


def stub_outcome(model_name, data, train_idx, test_idx, recipe, *args, **kwargs):
    """What train_and_test returns, without training: for tests of what reaches it."""
    return D.Outcome(model_name, 0.5, np.zeros((10, 10), int), [], 0, 0.0, len(train_idx), len(test_idx))


def test_ablation_passes_its_device_to_every_training(monkeypatch):
    seen = []

    def recording(*args, **kwargs):
        seen.append(kwargs["device"])
        return stub_outcome(*args, **kwargs)

    monkeypatch.setattr(importlib.import_module("hw5lib.digits.ablation"), "train_and_test", recording)
    rows = D.ablation(toy_set(120), D.Recipe(epochs=1), D.Recipe(epochs=1), report_clips=60, device="cuda:1",
                      progress=False)
    assert len(rows) == len(D.ABLATION) and seen == ["cuda:1"] * len(D.ABLATION)


def fit_devices(monkeypatch) -> list[str]:
    """Wrap training.fit so that each call records the device its model ended on."""
    training = importlib.import_module("hw5lib.digits.training")
    real_fit, devices = training.fit, []

    def recording_fit(model, *args, **kwargs):
        history = real_fit(model, *args, **kwargs)
        devices.append(next(model.parameters()).device.type)
        return history

    monkeypatch.setattr(training, "fit", recording_fit)
    return devices


@pytest.mark.gpu
def test_fit_trains_on_cuda():
    data, val = toy_set(40), toy_set(20, seed=1)
    model = D.build_model("bilstm_2x64", data.n_features, seed=0)
    history = D.fit(model, data, val, D.Recipe(epochs=1, batch_size=8, lr=5e-3, noise=0.1), model_name="bilstm_2x64",
                    device="cuda", progress=False)
    assert next(model.parameters()).device.type == "cuda"
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"]) and np.isfinite(history[0]["val_loss"])


@pytest.mark.gpu
def test_an_ablation_step_trains_on_cuda(monkeypatch):
    devices = fit_devices(monkeypatch)
    (row,) = D.ablation(toy_set(60), D.Recipe(epochs=1, batch_size=16), D.Recipe(epochs=1, batch_size=16, lr=1e-2),
                        report_clips=60, device="cuda", progress=False, steps=D.ABLATION[-1:])
    assert devices == ["cuda"] and row["step"] == "recipe" and 0 <= row["accuracy"] <= 1


# --- the command line ----------------------------------------------------------------------------

def digit_folder(folder, speakers=("ann", "bob"), seconds=0.3, rate=8000):
    """A folder in FSDD's layout: one tone of a different pitch per digit and speaker."""
    import soundfile

    folder.mkdir(parents=True)
    t = np.arange(int(seconds * rate)) / rate
    for s, speaker in enumerate(speakers):
        for digit in range(10):
            tone = 0.3 * np.sin(2 * np.pi * (200 + 50 * digit + 7 * s) * t)
            soundfile.write(folder / f"{digit}_{speaker}_0.wav", tone, rate)
    return folder


def test_the_command_line_sets_the_input_noise(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "cache"))
    command_line, recipes = importlib.import_module("hw5lib.digits.__main__"), []

    def recording(*args, **kwargs):
        recipes.append(args[4])
        return stub_outcome(*args, **kwargs)

    monkeypatch.setattr(command_line, "train_and_test", recording)
    folder = digit_folder(tmp_path / "recordings")
    command_line.main(["--data", str(folder), "--noise", "0.3", "--epochs", "2"])
    command_line.main(["--data", str(folder)])
    assert [(r.noise, r.epochs) for r in recipes] == [(0.3, 2), (0.0, 30)]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        command_line.main(["--data", str(folder), "--noise", "-0.1"])
    assert "--noise: must be 0 or more, got -0.1" in capsys.readouterr().err


# --- the same loop on two processes --------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="this PyTorch build has no torch.distributed")
def test_torchrun_with_two_processes_learns_as_one_does(tmp_path):
    folder = audio.synthesize_digits(4, 10, seed=0, folder=tmp_path / "digits", progress=False)
    arguments = ["-m", "hw5lib.digits", "--data", str(folder), "--epochs", "20", "--lr", "3e-3",
                 "--schedule", "cosine", "--model", "bilstm_2x64"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HW5LIB_CACHE": str(tmp_path / "cache")}
    single = subprocess.run([sys.executable, *arguments, "--out", str(tmp_path / "one.json")], env=environment,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    double = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             *arguments, "--out", str(tmp_path / "two.json")], env=environment,
                            capture_output=True, text=True, timeout=600)
    assert double.returncode == 0, double.stderr[-2000:]
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert one["world_size"] == 1 and two["world_size"] == 2
    assert one["n_test"] == two["n_test"] == 80
    # both learn (chance is 10%) and agree within the noise of an 80-clip test set
    assert min(one["accuracy"], two["accuracy"]) > 0.6, (one["accuracy"], two["accuracy"])
    assert abs(one["accuracy"] - two["accuracy"]) <= 0.15


@pytest.mark.slow
def test_accelerate_launch_runs_the_same_loop_on_two_processes(tmp_path):
    launcher = os.path.join(os.path.dirname(sys.executable), "accelerate")
    if not os.path.exists(launcher):
        pytest.skip("accelerate is not installed (pip install -e .[dev] installs it)")
    folder = audio.synthesize_digits(3, 4, seed=0, folder=tmp_path / "digits", progress=False)
    # --multi_gpu is accelerate's name for "several processes through torch.distributed"; with no
    # GPU the loop picks the gloo backend, as on a CPU cluster
    result = subprocess.run([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                             "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "hw5lib.digits",
                             "--data", str(folder), "--epochs", "2", "--model", "lstm_2x64",
                             "--out", str(tmp_path / "out.json")],
                            env={**os.environ, "OMP_NUM_THREADS": "1", "HW5LIB_CACHE": str(tmp_path / "cache")},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads((tmp_path / "out.json").read_text())
    assert outcome["world_size"] == 2 and len(outcome["history"]) == 2 and outcome["n_test"] == 24


def test_bucketed_batches_hold_every_clip_once_and_pad_little():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 200, 1000).tolist()
    order = rng.permutation(1000).tolist()
    batches = D.bucketed_batches(order, lengths, 32, torch.Generator().manual_seed(0))
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    assert len(batches) == -(-1000 // 32) and all(len(b) <= 32 for b in batches)

    def padded(groups):
        return sum(len(b) * max(lengths[i] for i in b) for b in groups)

    plain = [order[i:i + 32] for i in range(0, 1000, 32)]
    assert padded(batches) < 0.75 * padded(plain)
    again = D.bucketed_batches(order, lengths, 32, torch.Generator().manual_seed(0))
    assert again == batches
