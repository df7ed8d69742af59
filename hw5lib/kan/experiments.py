"""The experiments of the KAN chapter: toy functions, accuracy against size, interpretability,
forgetting, and a speech task, each a function that returns plain numbers and arrays."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from hw5lib.kan.layer import KAN, MLP, KANError, count_parameters, mlp_width_for
from hw5lib.progress import progress as progress_bar


# --- toy functions (the KAN paper's, section 3.1) -------------------------------------------------

@dataclass(frozen=True)
class Toy:
    name: str
    inputs: int
    function: Callable[[torch.Tensor], torch.Tensor]
    latex: str                    # in Matplotlib's mathtext subset, so figures can show it
    kan_widths: tuple[int, ...]   # the shape that can represent it exactly

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points uniform on [-1, 1]^inputs and the function's values, (n, inputs), (n, 1)."""
        generator = torch.Generator().manual_seed(seed)
        x = torch.rand(n, self.inputs, generator=generator, dtype=torch.float64) * 2 - 1
        return x, self.function(x).unsqueeze(1)


TOYS = {toy.name: toy for toy in (
    Toy("exp_sin", 2, lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2),
        r"f(x, y) = \exp(\sin(\pi x) + y^2)", (2, 1, 1)),
    Toy("four_variables", 4,
        lambda x: torch.exp(0.5 * (torch.sin(math.pi * (x[:, 0] ** 2 + x[:, 1] ** 2))
                                   + torch.sin(math.pi * (x[:, 2] ** 2 + x[:, 3] ** 2)))),
        r"f(x_1,\ldots,x_4) = \exp(\frac{1}{2}(\sin(\pi(x_1^2+x_2^2)) + \sin(\pi(x_3^2+x_4^2))))", (4, 4, 2, 1)),
)}


def toy(name: str) -> Toy:
    try:
        return TOYS[name]
    except KeyError:
        raise KANError(f"Unknown toy function {name!r}; the toy functions are: {', '.join(TOYS)}.") from None


def rmse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.sqrt(F.mse_loss(model(x), y)))


# --- training -------------------------------------------------------------------------------------

def fit_regression(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, *, x_test=None, y_test=None,
                   sparsity: float = 0.0, entropy: float = 2.0, grid_updates: int = 0, lr: float = 1.0,
                   progress: bool = False, description: str = "") -> dict:
    """Full-batch L-BFGS (as the KAN paper trains its toy problems) on the mean squared error,
    plus, for a KAN, the sparsity penalty when ``sparsity`` > 0 and ``grid_updates`` grid
    updates from the data spread over the first half of the steps (as pykan does). Returns the
    history of train (and test) RMSE per step and the seconds spent."""
    optimiser = torch.optim.LBFGS(model.parameters(), lr=lr, history_size=10, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-32, tolerance_change=1e-32)
    is_kan = isinstance(model, KAN)
    update_at = {round(i * steps / 2 / grid_updates) for i in range(grid_updates)} if is_kan and grid_updates else set()

    def closure():
        optimiser.zero_grad()
        if is_kan and sparsity:
            prediction, edges = model.forward_with_edges(x)
            loss = F.mse_loss(prediction, y) + KAN.regularisation(edges, sparsity, entropy)
        else:
            loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    history = {"train": [], "test": []}
    started = time.perf_counter()
    for step in progress_bar(range(steps), progress, description):
        if step in update_at:
            model.update_grid(x)
        optimiser.step(closure)
        history["train"].append(rmse(model, x, y))
        if x_test is not None:
            history["test"].append(rmse(model, x_test, y_test))
    history["seconds"] = time.perf_counter() - started
    return history


def fit_with_restarts(make_model: Callable[[int], nn.Module], x: torch.Tensor, y: torch.Tensor, steps: int, *,
                      restarts: int = 1, probe_steps: int = 5, seed: int = 0, **options) -> tuple[nn.Module, dict]:
    """Small networks trained by L-BFGS can stall in a poor basin from an unlucky start (the
    [2, 1, 1] KAN of exp(sin(pi x) + y^2) does from about half of its random starts). Start
    ``restarts`` models from seeds ``seed, seed + 1, ...``, train each for ``probe_steps``,
    keep the one with the lowest training error and train it for the remaining steps.
    Returns the model and the history of its whole training."""
    if restarts < 1:
        raise KANError(f"restarts must be at least 1, got {restarts}.")
    probe = min(probe_steps, steps) if restarts > 1 else 0
    candidates = []
    for offset in range(restarts):
        model = make_model(seed + offset)
        history = fit_regression(model, x, y, probe, **options) if probe else {"train": [], "seconds": 0.0}
        candidates.append((history["train"][-1] if probe else 0.0, offset, model, history))
    _, _, model, history = min(candidates, key=lambda candidate: candidate[:2])
    rest = fit_regression(model, x, y, steps - probe, **options)
    spent = sum(candidate[3]["seconds"] for candidate in candidates)
    return model, {"train": history["train"] + rest["train"], "seconds": spent + rest["seconds"]}


def fit_classifier(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epochs: int, *, batch_size: int = 64,
                   lr: float = 1e-2, weight_decay: float = 0.0, seed: int = 0) -> dict:
    """Adam on cross-entropy in mini-batches; returns the training loss per epoch and the seconds."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimiser.zero_grad()
            loss = F.cross_entropy(model(x[batch]), labels[batch])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        losses.append(total / len(x))
    return {"loss": losses, "seconds": time.perf_counter() - started}


def accuracy(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == labels).double().mean())


# --- experiment 1: accuracy against the number of parameters --------------------------------------

RESTARTS = 3  # random starts of every model in the scaling experiment (see fit_with_restarts)

def scaling(toy_name: str, grids: Sequence[int], mlp_widths: Sequence[int], mlp_depths: Sequence[int],
            steps: int, train_size: int = 1000, restarts: int = RESTARTS, seed: int = 0,
            progress: bool = False) -> list[dict]:
    """Test RMSE and parameter count of a KAN of the toy's exact shape trained with grid
    extension (each grid continues from the previous one, as in the KAN paper), and of MLPs of
    every width and depth trained for as many steps in all. Every model gets the same
    ``restarts`` (see :func:`fit_with_restarts`); training time counts all of them."""
    if list(grids) != sorted(set(grids)):
        raise KANError(f"The grid sizes of a grid extension must increase, got {list(grids)}.")
    task = toy(toy_name)
    x, y = task.sample(train_size, seed)
    x_test, y_test = task.sample(train_size, seed + 1)
    rows = []
    kan = None
    for grid in progress_bar(grids, progress, f"KAN {toy_name}"):
        if kan is None:
            kan, history = fit_with_restarts(
                lambda s: KAN(task.kan_widths, grid_size=grid, grid_eps=1.0, seed=s).double(), x, y, steps,
                restarts=restarts, seed=seed, grid_updates=3)
        else:
            kan.update_grid(x, grid_size=grid)
            history = fit_regression(kan, x, y, steps)
        rows.append({"model": "KAN", "shape": "-".join(map(str, task.kan_widths)), "grid": grid,
                     "parameters": count_parameters(kan), "test_rmse": rmse(kan, x_test, y_test),
                     "seconds": history["seconds"]})
    for depth in mlp_depths:
        for width in progress_bar(mlp_widths, progress, f"MLP depth {depth}"):
            widths = [task.inputs] + [width] * depth + [1]
            mlp, history = fit_with_restarts(lambda s: MLP(widths, seed=s).double(), x, y,
                                             max(steps * len(grids) // 2, steps), restarts=restarts, seed=seed)
            rows.append({"model": "MLP", "shape": "-".join(map(str, widths)), "grid": None,
                         "parameters": count_parameters(mlp), "test_rmse": rmse(mlp, x_test, y_test),
                         "seconds": history["seconds"]})
    return rows


# --- experiment 2: interpretability ---------------------------------------------------------------

@dataclass
class Interpretation:
    model: KAN                    # pruned and snapped
    scores_before: list           # edge scores of the trained, unpruned network (per layer, out x in)
    edges_before: list            # per layer: list of (out, in, x samples, phi samples) before pruning
    active_after: list[int]       # active edges per layer after pruning
    kept: list                    # per layer, a boolean (out, in) array: the edges pruning kept
    formula: object               # SymPy expression of the snapped network
    snapped: list                 # SymbolicEdge per edge
    rmse_spline: float            # test RMSE of the pruned spline network
    rmse_formula: float           # test RMSE of the snapped formula


def interpret(toy_name: str = "exp_sin", hidden: int = 5, steps: int = 50, refine_steps: int = 50,
              sparsity: float = 1e-2, entropy: float = 2.0, threshold: float = 1e-2, train_size: int = 1000,
              seed: int = 0) -> Interpretation:
    """The KAN paper's route from data to a formula: train a wider-than-needed KAN on a coarse
    grid with the sparsity penalty, prune weak edges, retrain the survivors on a finer grid, snap
    each edge to the simplest library function that fits it, fine-tune the formula's constants,
    and read off the network as one expression."""
    task = toy(toy_name)
    x, y = task.sample(train_size, seed)
    x_test, y_test = task.sample(train_size, seed + 1)
    model = KAN([task.inputs, hidden, 1], grid_size=3, seed=seed).double()
    fit_regression(model, x, y, steps, sparsity=sparsity, entropy=entropy, grid_updates=5)
    scores = model.edge_scores(x)
    edges_before = []
    for layer, layer_input in zip(model.layers, model.layer_inputs(x)):
        low, high = layer_input.min(0).values, layer_input.max(0).values
        edges_before.append([
            (out_index, in_index, *layer.edge_function(
                out_index, in_index, x=torch.linspace(float(low[in_index]), float(high[in_index]), 100,
                                                      dtype=torch.float64)))
            for out_index in range(layer.out_features) for in_index in range(layer.in_features)])
    active = model.prune(x, threshold)
    kept = [layer.mask.bool().numpy().copy() for layer in model.layers]
    model.update_grid(x, grid_size=10)
    fit_regression(model, x, y, refine_steps)
    rmse_spline = rmse(model, x_test, y_test)
    snapped = model.snap(x)
    fit_regression(model, x, y, refine_steps // 2)
    names = ["x", "y"] if task.inputs == 2 else None
    formula = model.formula(names, chop=1e-4)[0]
    return Interpretation(model, [s.numpy() for s in scores], edges_before, active, kept, formula,
                          [edge.fit for edge in snapped], rmse_spline, rmse(model, x_test, y_test))


# --- experiment 3: catastrophic forgetting ---------------------------------------------------------

PEAK_CENTRES = (-0.8, -0.4, 0.0, 0.4, 0.8)
PEAK_WIDTH = 0.05


def peaks(x: torch.Tensor) -> torch.Tensor:
    """Five Gaussian peaks on [-1, 1], the KAN paper's continual-learning task."""
    return sum(torch.exp(-(x - centre) ** 2 / (2 * PEAK_WIDTH ** 2)) for centre in PEAK_CENTRES)


def continual_peaks(make_model: Callable[[], nn.Module], steps_per_phase: int = 200, points_per_phase: int = 200,
                    lr: float = 1e-2, seed: int = 0) -> dict:
    """Present the five peaks one region at a time (phase ``i`` sees only x in
    [-1 + 0.4 i, -0.6 + 0.4 i]); after each phase record the prediction over [-1, 1] and the RMSE
    on each region seen so far. Adam, full batch per phase."""
    torch.manual_seed(seed)
    model = make_model()
    grid = torch.linspace(-1, 1, 401, dtype=torch.float64).unsqueeze(1)
    regions = [(-1 + 0.4 * i, -0.6 + 0.4 * i) for i in range(len(PEAK_CENTRES))]
    predictions, region_rmse = [], []
    started = time.perf_counter()
    for phase, (low, high) in enumerate(regions):
        x = torch.linspace(low, high, points_per_phase, dtype=torch.float64).unsqueeze(1)
        y = peaks(x)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        for _ in range(steps_per_phase):
            optimiser.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimiser.step()
        with torch.no_grad():
            predictions.append(model(grid).squeeze(1).numpy())
            errors = []
            for region_low, region_high in regions[:phase + 1]:
                xr = torch.linspace(region_low, region_high, 100, dtype=torch.float64).unsqueeze(1)
                errors.append(float(torch.sqrt(F.mse_loss(model(xr), peaks(xr)))))
            region_rmse.append(errors)
    earlier = [float(np.mean(errors[:-1])) for errors in region_rmse[1:]]
    return {"x": grid.squeeze(1).numpy(), "target": peaks(grid).squeeze(1).numpy(), "predictions": predictions,
            "region_rmse": region_rmse, "earlier_rmse": earlier, "parameters": count_parameters(model),
            "seconds": time.perf_counter() - started}


def forgetting_comparison(steps_per_phase: int = 200, seed: int = 0) -> tuple[dict, dict]:
    """:func:`continual_peaks` of the chapter's two models, both float64: a KAN [1, 1] with 200
    intervals and an MLP [1, 64, 64, 1]. Returns (the KAN's outcome, the MLP's)."""
    kan = continual_peaks(lambda: KAN([1, 1], grid_size=200, seed=seed).double(), steps_per_phase, seed=seed)
    mlp = continual_peaks(lambda: MLP([1, 64, 64, 1], seed=seed).double(), steps_per_phase, seed=seed)
    return kan, mlp


# --- experiment 4: a speech task ------------------------------------------------------------------

def mean_mfcc(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """One 13-dimensional vector per clip: its MFCCs averaged over frames (frames, 13) -> (13,)."""
    return np.stack([np.asarray(sequence).mean(axis=0) for sequence in sequences])


def digits_comparison(features: np.ndarray, labels: np.ndarray, train_idx, test_idx, hidden: int = 8,
                      grid_size: int = 5, epochs: int = 100, lr: float = 1e-2, batch_size: int = 64,
                      seed: int = 0) -> list[dict]:
    """KAN [d, hidden, 10] against an MLP with one hidden layer and the same number of
    parameters, and against one with the same hidden width, on standardised features."""
    x = torch.as_tensor(features, dtype=torch.float32)
    mean, std = x[train_idx].mean(0), x[train_idx].std(0).clamp(min=1e-6)
    x = (x - mean) / std
    labels_t = torch.as_tensor(labels, dtype=torch.long)
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    n_inputs, n_classes = x.shape[1], int(labels_t.max()) + 1
    kan = KAN([n_inputs, hidden, n_classes], grid_size=grid_size, grid_range=(-3, 3), seed=seed).float()
    kan.update_grid(x[train_idx], grid_eps=1.0)
    matched = mlp_width_for(count_parameters(kan), n_inputs, n_classes)
    rows = []
    for name, model in (("KAN", kan), ("MLP (same parameters)", MLP([n_inputs, matched, n_classes], seed=seed).float()),
                        ("MLP (same width)", MLP([n_inputs, hidden, n_classes], seed=seed).float())):
        history = fit_classifier(model, x[train_idx], labels_t[train_idx], epochs, batch_size=batch_size, lr=lr,
                                 seed=seed)
        rows.append({"model": name, "shape": "-".join(map(str, model.widths)), "parameters": count_parameters(model),
                     "accuracy": accuracy(model, x[test_idx], labels_t[test_idx]),
                     "train_accuracy": accuracy(model, x[train_idx], labels_t[train_idx]),
                     "seconds": history["seconds"]})
    return rows
