import numpy as np
import pytest
import torch

from hw5lib import backprop


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_derivation_step_is_verified_by_sympy(n):
    derivation = backprop.derive(n)
    assert [step.name for step in derivation.steps] == ["delta1", "delta2", "delta3", "dJ_dx", "end_to_end"]
    assert derivation.all_verified, [(step.name, step.verified) for step in derivation.steps]


def test_derivation_latex_shows_the_report_results():
    derivation = backprop.derive(2)
    assert r"\hat y - y" in derivation["delta1"].result
    assert r"\delta_1 \circ \mathbb{1}\{z_2 > 0\}" in derivation["delta2"].result
    assert r"W_2^{\top} \delta_2 + \delta_1" in derivation["delta3"].result
    assert r"\checkmark" in derivation["dJ_dx"].as_latex()


def test_a_wrong_formula_would_be_caught():
    """The verification is not vacuous: a wrong claim (dropping the skip term) fails."""
    import sympy as sp

    delta1 = sp.Matrix(sp.symbols("a1:3"))
    d, W2, b2 = sp.Matrix(sp.symbols("d1:3")), sp.Matrix(2, 2, sp.symbols("w1:5")), sp.Matrix(sp.symbols("c1:3"))
    theta = (W2 * d + b2).applyfunc(backprop.ReLU) + d
    chain = theta.jacobian(d).T * delta1
    mask = (W2 * d + b2).applyfunc(lambda z: sp.Heaviside(z, 0))
    without_skip = W2.T * delta1.multiply_elementwise(mask)
    assert any(not backprop._is_zero(a - b) for a, b in zip(chain, without_skip))


@pytest.mark.parametrize("bad", [0, 7, 2.5, "3", True])
def test_derive_rejects_bad_width(bad):
    with pytest.raises(ValueError, match="Parameter 'n'"):
        backprop.derive(bad)


def test_formulas_match_autograd_at_several_widths():
    rows = backprop.check_against_autograd(sizes=(1, 2, 7, 32), batch=5, trials=3, seed=1)
    quantities = {row["quantity"] for row in rows}
    assert quantities == {"delta1", "delta2", "delta3", "dJ_dx", "dJ_dW1", "dJ_dW2", "dJ_db1", "dJ_db2"}
    assert max(row["max_abs_error"] for row in rows) < 1e-10


def test_derived_gradients_differ_from_a_perturbed_network():
    """Sanity of the comparison itself: a different network gives different gradients."""
    rng = np.random.default_rng(0)
    n, batch = 4, 3
    x, W1, W2 = rng.normal(size=(n, batch)), rng.normal(size=(n, n)), rng.normal(size=(n, n))
    b1, b2 = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
    y = np.eye(n)[:, [0, 1, 2]]
    ours = backprop.derived_gradients(x, y, W1, b1, W2, b2)
    theirs = backprop.autograd_gradients(x, y, W1 + 0.1, b1, W2, b2)
    assert not np.allclose(ours["dJ_dx"], theirs["dJ_dx"])


def test_derived_gradients_validate_shapes():
    with pytest.raises(ValueError, match="x and y"):
        backprop.derived_gradients(np.zeros((3, 2)), np.zeros((3, 1)), np.eye(3), np.zeros((3, 1)), np.eye(3),
                                   np.zeros((3, 1)))


def test_gradcheck_passes_in_float64():
    assert backprop.gradcheck_network(n=3, batch=2, seed=3)


def test_plain_stack_vanishes_and_residual_does_not():
    plain = backprop.layer_gradient_norms(width=32, depth=30, skip=False, batch=64)
    residual = backprop.layer_gradient_norms(width=32, depth=30, skip=True, batch=64)
    assert plain.shape == residual.shape == (31,)
    assert plain[0] / plain[-1] < 1e-6
    assert 0.1 < residual[0] / residual[-1] < 10


def test_residual_stack_trains_and_plain_stack_does_not():
    curves = backprop.train_loss_curves(width=32, depth=30, steps=150, batch=128)
    assert curves["plain"][-15:].mean() > 2.2  # stuck near log 10
    assert curves["residual"][-15:].mean() < 1.5


def test_same_seed_same_numbers():
    a = backprop.layer_gradient_norms(width=16, depth=5, seed=4)
    b = backprop.layer_gradient_norms(width=16, depth=5, seed=4)
    np.testing.assert_array_equal(a, b)


def test_deep_net_rejects_unknown_activation():
    with pytest.raises(ValueError, match="Parameter 'activation'"):
        backprop.DeepNet(4, 2, activation="gelu")


def test_report_network_is_the_two_block_case():
    """DeepNet(depth=2, skip, scale 1) computes the report's theta before its head."""
    torch.manual_seed(0)
    net = backprop.DeepNet(3, 2, skip=True).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    kept = []
    net(x, keep=kept)
    W1, b1 = net.blocks[0][0].weight, net.blocks[0][0].bias
    W2, b2 = net.blocks[1][0].weight, net.blocks[1][0].bias
    d = torch.relu(x @ W1.T + b1) + x
    theta = torch.relu(d @ W2.T + b2) + d
    torch.testing.assert_close(kept[-1], theta)
