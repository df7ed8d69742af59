import numpy as np
import pytest
import sympy as sp
import torch

from hw5lib import backprop


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_derivation_step_is_verified_by_sympy(n):
    derivation = backprop.derive(n)
    assert [step.name for step in derivation.steps] == ["delta1", "delta2", "delta3", "dJ_dx", "end_to_end"]
    assert derivation.all_verified, [(step.name, step.verified) for step in derivation.steps]


def _vec(name, n):
    """The derivation's column of symbols ``name.format(i=1..n)`` (real, as derive makes them)."""
    return [sp.Symbol(name.format(i=i + 1), real=True) for i in range(n)]


def _mat(name, n):
    return [[sp.Symbol(name.format(i=i + 1, j=j + 1), real=True) for j in range(n)] for i in range(n)]


def _relu(z):
    """ReLU written independently of backprop.ReLU, with torch's derivative 0 at the kink."""
    return sp.Piecewise((z, z > 0), (0, True))


def _same(a, b) -> bool:
    return sp.simplify(sp.expand((a - b).rewrite(sp.Piecewise))) == 0


def _chain_rule(upstream, outputs, inputs):
    """Component k of (d outputs / d inputs)^T upstream, one scalar derivative at a time."""
    return [sum(u * sp.diff(out, v) for u, out in zip(upstream, outputs)) for v in inputs]


@pytest.mark.parametrize("n", [1, 2])
def test_derived_formulas_equal_the_chain_rule_worked_here(n):
    """Each step's formula (the one the chapter shows as a result) equals the chain rule worked
    out here from scratch: scalar derivatives of the network's own definition, with a ReLU of
    our own, instead of the derivation's Jacobians."""
    derivation = backprop.derive(n)
    x, y, theta = _vec("x_{i}", n), _vec("y_{i}", n), _vec(r"\theta_{i}", n)
    b1, b2, d, z2 = _vec("b_{{1,{i}}}", n), _vec("b_{{2,{i}}}", n), _vec("d_{i}", n), _vec("z_{{2,{i}}}", n)
    delta1, delta3 = _vec(r"\delta_{{1,{i}}}", n), _vec(r"\delta_{{3,{i}}}", n)
    W1, W2 = _mat("w^{{(1)}}_{{{i}{j}}}", n), _mat("w^{{(2)}}_{{{i}{j}}}", n)

    log_partition = sp.log(sum(sp.exp(t) for t in theta))
    J = -sum(yi * (t - log_partition) for yi, t in zip(y, theta))
    one_hot = {y[-1]: 1 - sum(y[:-1])}
    expected = {
        "delta1": [sp.diff(J, t).subs(one_hot) for t in theta],
        "delta2": _chain_rule(delta1, [_relu(z) + di for z, di in zip(z2, d)], z2),
        "delta3": _chain_rule(delta1, [_relu(sum(w * dj for w, dj in zip(row, d)) + b) + di
                                       for row, b, di in zip(W2, b2, d)], d),
        "dJ_dx": _chain_rule(delta3, [_relu(sum(w * xj for w, xj in zip(row, x)) + b) + xi
                                      for row, b, xi in zip(W1, b1, x)], x),
    }
    for name, components in expected.items():
        claimed = derivation[name].claimed
        assert claimed.shape == (n, 1)
        for got, want in zip(claimed, components):
            assert _same(got.subs(one_hot), want), (name, got, want)
    # the comparison can fail: delta3 without its skip term, or delta1 without sum_i y_i = 1
    assert not _same(derivation["delta3"].claimed[0], expected["delta3"][0] - delta1[0])
    assert not _same(derivation["delta1"].claimed[0], sp.diff(J, theta[0]))


def test_latex_of_the_derivation_uses_the_chapters_indicator():
    """The derivation's Jacobians and formulas print ReLU' as the indicator 1{z > 0} of the
    chapter's prose, on the derivation's own symbols, never as SymPy's Heaviside theta (which
    would read as the network's theta)."""
    derivation = backprop.derive(2)
    for name in ("delta2", "delta3", "dJ_dx"):
        for expr in (derivation[name].chain, derivation[name].claimed):
            text = backprop.latex(expr)
            assert r"\mathbb{1}\{" in text and r"\theta\left(" not in text, text
    shown = backprop.latex(derivation["delta2"].claimed)
    assert all(sp.latex(z) in shown for z in _vec("z_{{2,{i}}}", 2)), shown
    assert r"\mathbb{1}\{" in derivation["delta2"].as_latex()


def test_relu_derivative_at_zero_is_torchs():
    z = sp.Symbol("z", real=True)
    assert backprop.ReLU(z).diff(z).subs(z, 0) == 0
    t = torch.zeros(1, requires_grad=True)
    torch.relu(t).sum().backward()
    assert t.grad.item() == 0


def test_unverified_step_is_marked_failed():
    step = backprop.DerivationStep("s", [], "a &= b", verified=True)
    assert "FAILED" not in step.as_latex()
    step.verified = False
    assert "FAILED" in step.as_latex()
    assert not backprop.Derivation(2, [step]).all_verified
    assert not backprop.Derivation(2).all_verified  # no steps verifies nothing


def test_a_wrong_formula_would_be_caught():
    """The verification is not vacuous: a wrong claim (dropping the skip term) fails."""
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
