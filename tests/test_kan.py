"""hw5lib.kan.layer and hw5lib.kan.experiments: the basis, the layer, grids, pruning, snapping, devices,
the experiments (their verdicts and figures are the chapter's: tests/test_chapter_q1_kan.py)."""

import copy
import math

import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline

from hw5lib.kan import layer as kan
from hw5lib.kan import experiments


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def random_knots(generator, inputs, count):
    steps = torch.rand(inputs, count - 1, generator=generator) + 0.05
    return torch.cat([torch.zeros(inputs, 1), steps.cumsum(1)], dim=1) - 1.5


@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
def test_recursion_equals_scipy_on_random_knots(order):
    generator = torch.Generator().manual_seed(order)
    grid = random_knots(generator, 3, 12)
    x = grid[:, order] + torch.rand(400, 3, generator=generator) * (grid[:, -order - 1] - grid[:, order])
    bases = kan.bspline_basis(x, grid, order)
    assert bases.shape == (400, 3, 12 - order - 1)
    for i in range(3):
        expected = BSpline.design_matrix(x[:, i].numpy(), grid[i].numpy(), order).toarray()
        np.testing.assert_allclose(bases[:, i].numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_uniform_closed_form_equals_recursion_and_scipy(order):
    grid = kan.uniform_grid(4, 7, order, (-2.0, 3.0))
    generator = torch.Generator().manual_seed(order)
    x = torch.rand(500, 4, generator=generator) * 9 - 3.5  # inside, in the extension, and outside the knots
    fast = kan.uniform_bspline_basis(x, grid[:, 0], grid[:, 1] - grid[:, 0], 7 + order, order)
    np.testing.assert_allclose(fast.numpy(), kan.bspline_basis(x, grid, order).numpy(), atol=1e-12)
    inside = x[:, 0].clamp(float(grid[0, order]), float(grid[0, -order - 1]) - 1e-9).numpy()
    expected = BSpline.design_matrix(inside, grid[0].numpy(), order).toarray()
    got = kan.uniform_bspline_basis(torch.as_tensor(inside).unsqueeze(1), grid[:1, 0], grid[:1, 1] - grid[:1, 0],
                                    7 + order, order)[:, 0]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("order", [1, 3])
def test_bases_sum_to_one_inside_the_grid_and_vanish_outside(order):
    layer = kan.KANLinear(2, 1, grid_size=6, spline_order=order, grid_range=(-1, 1))
    x = torch.linspace(-1, 1 - 1e-9, 301).unsqueeze(1).repeat(1, 2)
    np.testing.assert_allclose(layer.bases(x).sum(-1).numpy(), 1.0, atol=1e-12)
    far = torch.full((5, 2), 10.0)
    assert torch.count_nonzero(layer.bases(far)) == 0


@pytest.mark.parametrize("uniform", [True, False])
def test_layer_gradients_pass_gradcheck(uniform):
    torch.manual_seed(0)
    layer = kan.KANLinear(3, 2, grid_size=4, spline_order=3)
    x = (torch.rand(12, 3) * 2.4 - 1.2).requires_grad_()
    if not uniform:
        layer.update_grid(torch.randn(200, 3) * 0.6, grid_eps=0.02)
        assert not layer.uniform
    assert layer.uniform == uniform
    assert torch.autograd.gradcheck(lambda inputs, base, spline: torch.nn.functional.linear(
        layer.base_activation(inputs), base) + torch.nn.functional.linear(
        layer.bases(inputs).reshape(len(inputs), -1), spline.reshape(2, -1)),
        (x, layer.base_weight.detach().clone().requires_grad_(), layer.spline_weight.detach().clone().requires_grad_()))
    assert torch.autograd.gradcheck(layer, (x,))


def test_forward_is_the_sum_of_the_edges():
    torch.manual_seed(1)
    layer = kan.KANLinear(5, 4)
    x = torch.rand(30, 5) * 2 - 1
    torch.testing.assert_close(layer(x), layer.edge_values(x).sum(-1))
    xs, ys = layer.edge_function(2, 3, points=50)
    inputs = torch.zeros(50, 5)
    inputs[:, 3] = torch.as_tensor(xs)
    np.testing.assert_allclose(ys, layer.edge_values(inputs)[:, 2, 3].detach().numpy())
    assert xs[0] == -1 and xs[-1] == 1


@pytest.mark.parametrize("grid_eps", [1.0, 0.02])
def test_grid_update_and_extension_keep_the_function(grid_eps):
    torch.manual_seed(2)
    layer = kan.KANLinear(2, 3, grid_size=5)
    with torch.no_grad():
        layer.spline_weight.normal_()
    x = torch.rand(2000, 2) * 1.6 - 0.8
    with torch.no_grad():
        before = layer(x)
    layer.update_grid(x, grid_eps=grid_eps)
    assert layer.grid_size == 5 and layer.uniform == (grid_eps == 1.0)
    assert float(layer.grid[0, 3]) == pytest.approx(float(x[:, 0].min()) - (0.01 if grid_eps == 1.0 else 0), abs=2e-3)
    # the same number of knots over a narrower range approximates, it does not reproduce
    with torch.no_grad():
        assert float(torch.sqrt(((layer(x) - before) ** 2).mean())) < 0.02 * float(before.std())
        refined = layer(x)
    layer.update_grid(x, grid_size=20, grid_eps=grid_eps)
    assert layer.spline_weight.shape == (3, 2, 23)
    # a finer grid contains the coarser spline space when the knots nest (uniform); otherwise nearly
    tolerance = 1e-6 if grid_eps == 1.0 else 0.05
    with torch.no_grad():
        torch.testing.assert_close(layer(x), refined, atol=tolerance, rtol=0)


def test_pruning_removes_dead_edges_and_nodes_without_changing_the_output():
    torch.manual_seed(3)
    model = kan.KAN([3, 4, 1], seed=3)
    with torch.no_grad():
        model.layers[0].spline_weight[:, 2] = 0
        model.layers[0].base_weight[:, 2] = 0        # input 3 is ignored
        model.layers[1].spline_weight[:, 1] = 0
        model.layers[1].base_weight[:, 1] = 0        # hidden node 2 feeds nothing
    x = torch.rand(100, 3) * 2 - 1
    before = model(x)
    active = model.prune(x, threshold=1e-9)
    assert active == [12 - 4 - 2, 4 - 1]  # input 3's 4 edges, node 2's 2 other inputs, node 2's output
    assert not model.layers[0].mask[1].any() and not model.layers[0].mask[:, 2].any()
    torch.testing.assert_close(model(x), before)
    assert (1, 0) not in model.active_edges()[0]


def test_fit_symbolic_recovers_known_constants():
    x = torch.linspace(-1, 1, 300)
    target = 0.7 * torch.sin(2.5 * x + 0.3) - 0.2
    fit = kan.fit_symbolic(x, target, "sin")
    assert fit.r2 > 1 - 1e-6
    assert abs(abs(fit.a) - 2.5) < 2e-3 and abs(abs(fit.c) - 0.7) < 2e-3  # sin has several equal forms
    np.testing.assert_allclose(fit(x).numpy(), target.numpy(), atol=2e-3)
    chosen, fits = kan.snap_edge(x, 3 * (x - 0.2) ** 2 + 1)
    assert chosen.name == "x^2" and fits[0].r2 >= fits[-1].r2
    chosen, _ = kan.snap_edge(x, 2 * x - 1)
    assert chosen.name == "x"  # the simplest of the many functions that fit a line


def test_a_kan_of_the_right_shape_snaps_to_the_formula():
    task = experiments.toy("exp_sin")
    x, y = task.sample(1000, 0)
    x_test, y_test = task.sample(1000, 1)
    model, _ = experiments.fit_with_restarts(lambda seed: kan.KAN([2, 1, 1], grid_size=3, seed=seed), x, y, 30,
                                             restarts=4, grid_updates=3)
    with pytest.raises(kan.KANError, match="snap"):
        model.formula()
    model.update_grid(x, grid_size=10)
    experiments.fit_regression(model, x, y, 30)
    assert experiments.rmse(model, x_test, y_test) < 1e-2
    snapped = model.snap(x)
    assert sorted(edge.name for edge in snapped) == ["exp", "sin", "x^2"]
    experiments.fit_regression(model, x, y, 20)  # tunes the formula's constants
    (formula,) = model.formula(["x", "y"])
    import sympy

    evaluate = sympy.lambdify(sympy.symbols("x y"), formula, "numpy")
    recovered = evaluate(x_test[:, 0].numpy(), x_test[:, 1].numpy())
    assert np.sqrt(np.mean((recovered - y_test[:, 0].numpy()) ** 2)) < 1e-2
    sine = next(edge for edge in snapped if edge.name == "sin")
    assert abs(abs(sine.fit.a) - math.pi) < 0.01  # the frequency found is pi


def test_regularisation_and_scores():
    model = kan.KAN([2, 3, 1], seed=4)
    x = torch.rand(64, 2)
    output, edges = model.forward_with_edges(x)
    torch.testing.assert_close(output, model(x))
    assert [tuple(e.shape) for e in edges] == [(64, 3, 2), (64, 1, 3)]
    penalty = kan.KAN.regularisation(edges, strength=0.1, entropy=0.0)
    torch.testing.assert_close(penalty, 0.1 * sum(e.abs().mean(0).sum() for e in edges))
    assert [tuple(s.shape) for s in model.edge_scores(x)] == [(3, 2), (1, 3)]


def test_methods_make_their_tensors_on_the_models_device():
    """A tensor a method makes from scratch takes the device of the model or of its input. With
    the default device set to "meta", one made without ``device=`` lands there instead and the
    call fails or answers in meta tensors: the CPU's view of a model on a GPU."""
    model = kan.KAN([2, 3, 1], seed=5)
    twin = copy.deepcopy(model)
    x = torch.rand(64, 2) * 2 - 1
    given = torch.linspace(-0.5, 0.5, 9)

    def exercise(network):
        output = network(x)
        network.update_grid(x, grid_size=7)
        network.layers[0].update_grid()  # no data: a uniform grid over the present range
        return output, network(x), network.layers[1].edge_function(0, 2, points=20), \
            network.layers[0].edge_function(1, 0, x=given)

    with torch.device("meta"):
        on_meta_default = exercise(model)
    expected = exercise(twin)
    assert model.layers[0].grid.device.type == "cpu" and model.layers[0].spline_weight.device.type == "cpu"
    for got, want in zip(on_meta_default[:2], expected[:2]):
        torch.testing.assert_close(got, want)
    for (xs, ys), (want_xs, want_ys) in zip(on_meta_default[2:], expected[2:]):
        np.testing.assert_array_equal(xs, want_xs)
        np.testing.assert_array_equal(ys, want_ys)


@pytest.mark.gpu
def test_a_kan_on_cuda_computes_what_it_computes_on_the_cpu():
    model = kan.KAN([2, 3, 1], seed=6)
    on_gpu = copy.deepcopy(model).cuda()
    x = torch.rand(500, 2) * 1.6 - 0.8
    x_gpu = x.cuda()
    with torch.no_grad():
        torch.testing.assert_close(on_gpu(x_gpu).cpu(), model(x))
    for network, data in ((model, x), (on_gpu, x_gpu)):
        network.update_grid(data, grid_size=8)
        network.layers[1].update_grid()
    for layer in on_gpu.layers:
        assert layer.grid.device.type == layer.spline_weight.device.type == "cuda"
        assert layer.grid.dtype == layer.spline_weight.dtype == torch.float64
    with torch.no_grad():  # the least-squares refits use different LAPACK drivers on the two devices
        torch.testing.assert_close(on_gpu(x_gpu).cpu(), model(x), atol=1e-8, rtol=1e-8)
    for arguments in ({"points": 30}, {"x": torch.linspace(-0.3, 0.3, 7)}):
        xs, ys = on_gpu.layers[0].edge_function(2, 1, **arguments)
        want_xs, want_ys = model.layers[0].edge_function(2, 1, **arguments)
        np.testing.assert_allclose(xs, want_xs)
        np.testing.assert_allclose(ys, want_ys, atol=1e-8)


@pytest.mark.gpu
def test_a_kan_on_cuda_prunes_snaps_and_trains():
    task = experiments.toy("exp_sin")
    x, y = (tensor.cuda() for tensor in task.sample(300, 0))
    model = kan.KAN([2, 2, 1], grid_size=3, seed=7).cuda()
    experiments.fit_regression(model, x, y, 3, sparsity=1e-2, grid_updates=2)
    assert sum(model.prune(x, threshold=1e-3)) > 0
    snapped = model.snap(x)
    assert snapped and all(edge.affine.device.type == "cuda" for edge in snapped)
    experiments.fit_regression(model, x, y, 2)
    assert model(x).device.type == "cuda" and len(model.formula(["x", "y"])) == 1


@pytest.mark.parametrize("make, message", [
    (lambda: kan.KANLinear(0, 3), "in_features must be an integer of at least 1, got 0."),
    (lambda: kan.KANLinear(2, 3, grid_size=2.5), "grid_size must be an integer of at least 1, got 2.5."),
    (lambda: kan.KANLinear(2, 3, grid_range=(1, -1)), "grid_range must be increasing"),
    (lambda: kan.KAN([3]), "widths must list at least two positive integers"),
    (lambda: kan.MLP([3, 0, 1]), "widths must list at least two positive integers"),
    (lambda: kan.KANLinear(2, 3)(torch.zeros(4, 5)), r"needs a \(batch, 2\) tensor, got shape \(4, 5\)"),
    (lambda: kan.KANLinear(2, 3).edge_function(3, 0), r"Edge \(3, 0\) is not in a 2 -> 3 layer."),
    (lambda: experiments.toy("bessel"), "Unknown toy function 'bessel'"),
    (lambda: experiments.scaling("exp_sin", [5, 3], [4], [1], steps=1), "must increase, got \\[5, 3\\]"),
])
def test_bad_input_is_one_clear_sentence(make, message):
    with pytest.raises(kan.KANError, match=message):
        make()


def test_mlp_width_for_matches_the_count():
    for depth in (1, 2, 3):
        width = kan.mlp_width_for(5000, 13, 10, depth)
        size = kan.count_parameters(kan.MLP([13] + [width] * depth + [10]))
        neighbours = [kan.count_parameters(kan.MLP([13] + [w] * depth + [10])) for w in (width - 1, width + 1)]
        assert all(abs(size - 5000) <= abs(other - 5000) for other in neighbours)


def test_scaling_rows_and_grid_extension():
    rows = experiments.scaling("exp_sin", [3, 6], [4], [1, 2], steps=3)
    kans = [row for row in rows if row["model"] == "KAN"]
    assert [row["grid"] for row in kans] == [3, 6]
    assert [row["parameters"] for row in kans] == [3 * (3 + 3 + 1) for _ in range(1)] + [3 * (6 + 3 + 1)]
    assert {row["shape"] for row in rows if row["model"] == "MLP"} == {"2-4-1", "2-4-4-1"}
    assert all(row["test_rmse"] > 0 for row in rows)


def test_continual_peaks_records_every_phase():
    outcome = experiments.continual_peaks(lambda: kan.KAN([1, 1], grid_size=50).double(), steps_per_phase=20)
    assert len(outcome["predictions"]) == 5 and outcome["predictions"][0].shape == outcome["x"].shape
    assert [len(errors) for errors in outcome["region_rmse"]] == [1, 2, 3, 4, 5]
    assert len(outcome["earlier_rmse"]) == 4
    np.testing.assert_allclose(outcome["target"].max(), 1.0, atol=1e-3)


def test_digits_comparison_matches_sizes_and_learns():
    generator = np.random.default_rng(0)
    centres = generator.normal(size=(10, 13)) * 3
    labels = np.repeat(np.arange(10), 30)
    features = centres[labels] + generator.normal(size=(300, 13))
    order = generator.permutation(300)
    rows = experiments.digits_comparison(features, labels, order[:240], order[240:], hidden=4, epochs=30)
    by_name = {row["model"]: row for row in rows}
    assert by_name["KAN"]["shape"] == "13-4-10" and by_name["MLP (same width)"]["shape"] == "13-4-10"
    assert abs(by_name["MLP (same parameters)"]["parameters"] / by_name["KAN"]["parameters"] - 1) < 0.05
    assert all(row["accuracy"] > 0.8 for row in rows)  # well-separated clusters; chance is 10%
