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
            steps: int, train_size: int = 1000, restarts: int = RESTARTS, seed: int = 0, progress: bool = False) -> list[dict]:
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
    return Interpretation(model, [s.numpy() for s in scores], edges_before, active, kept, model.formula(names, chop=1e-4)[0],
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


# --- what the numbers say ---------------------------------------------------------------------------
# The chapter's verdicts are sentences that follow this run's numbers, so that no profile or data set
# can make the prose say what its tables contradict.

def _language(lang: str) -> bool:
    if lang not in ("fa", "en"):
        raise KANError(f"Unknown language {lang!r}; choose fa or en.")
    return lang == "fa"


def _num(value: float, lang: str, fmt: str = "{:.2g}") -> str:
    from hw5lib.publish.i18n import localise_number

    return localise_number(fmt.format(value), lang)


def best_rows(rows: Sequence[dict]) -> tuple[dict, dict]:
    """The KAN row and the MLP row with the lowest test RMSE."""
    kan = min((row for row in rows if row["model"] == "KAN"), key=lambda row: row["test_rmse"])
    mlp = min((row for row in rows if row["model"] == "MLP"), key=lambda row: row["test_rmse"])
    return kan, mlp


def accuracy_verdict(rows: Sequence[dict], lang: str) -> tuple[bool, str]:
    """Did the KAN fit the toy function better than every MLP, with fewer parameters?"""
    fa = _language(lang)
    kan, mlp = best_rows(rows)
    better, smaller = kan["test_rmse"] < mlp["test_rmse"], kan["parameters"] < mlp["parameters"]
    numbers = (f"KAN با {_num(kan['parameters'], lang, '{:d}')} پارامتر به RMSE آزمون {_num(kan['test_rmse'], lang)} "
               f"رسید و بهترین MLP با {_num(mlp['parameters'], lang, '{:d}')} پارامتر به {_num(mlp['test_rmse'], lang)}"
               if fa else
               f"the KAN reached a test RMSE of {_num(kan['test_rmse'], lang)} with {kan['parameters']} parameters, "
               f"the best MLP {_num(mlp['test_rmse'], lang)} with {mlp['parameters']}")
    if better and smaller:
        return True, (f"برقرار: {numbers}." if fa else f"Held: {numbers}.")
    if better:
        return False, (f"نیمه: {numbers}؛ دقیق‌تر، ولی با پارامتر بیشتر." if fa else
                       f"Partly: {numbers}; more accurate, but not with fewer parameters.")
    return False, (f"برقرار نبود: {numbers}." if fa else f"Did not hold: {numbers}.")


def interpretability_verdict(result: Interpretation, lang: str, tolerance: float = 1e-2) -> tuple[bool, str]:
    """Did pruning and snapping give back a formula as accurate as the network?"""
    fa = _language(lang)
    edges = "، ".join(f"{edge.name}" for edge in result.snapped) if fa else ", ".join(edge.name for edge in result.snapped)
    held = result.rmse_formula < tolerance
    if held:
        return True, (f"برقرار: پس از هرس، {_num(len(result.snapped), lang, '{:d}')} یال ماند ({edges}) و فرمول به‌دست‌آمده "
                      f"تابع را با RMSE آزمون {_num(result.rmse_formula, lang)} بازمی‌سازد." if fa else
                      f"Held: after pruning {len(result.snapped)} edges remained ({edges}), and the formula read off "
                      f"them reproduces the function with a test RMSE of {_num(result.rmse_formula, lang)}.")
    return False, (f"برقرار نبود: فرمول به‌دست‌آمده ({edges}) خطای آزمون {_num(result.rmse_formula, lang)} دارد، "
                   f"در برابر {_num(result.rmse_spline, lang)} برای شبکهٔ اسپلاینی." if fa else
                   f"Did not hold: the snapped formula ({edges}) has a test RMSE of {_num(result.rmse_formula, lang)}, "
                   f"against {_num(result.rmse_spline, lang)} for the spline network.")


def forgetting_verdict(kan: dict, mlp: dict, lang: str, forgotten: float = 0.05) -> tuple[bool, str]:
    """Did the KAN keep the earlier peaks (error below ``forgotten``, the peaks being 1 high)?"""
    fa = _language(lang)
    kan_error, mlp_error = kan["earlier_rmse"][-1], mlp["earlier_rmse"][-1]
    numbers = (f"خطای پس از مرحلهٔ آخر روی ناحیه‌های پیشین: KAN {_num(kan_error, lang)}، MLP {_num(mlp_error, lang)} "
               "(ارتفاع قله‌ها ۱)" if fa else
               f"the error on the earlier regions after the last phase is {_num(kan_error, lang)} for the KAN and "
               f"{_num(mlp_error, lang)} for the MLP (the peaks are 1 high)")
    if kan_error < forgotten:
        return True, (f"برقرار: {numbers}." if fa else f"Held: {numbers}.")
    if kan_error < mlp_error / 2:
        return False, (f"نیمه: {numbers}؛ KAN کمتر فراموش می‌کند ولی فراموش می‌کند، چون جزء پایهٔ هر یال "
                       "(w·silu(x)) سراسری است و محلی نیست." if fa else
                       f"Partly: {numbers}; the KAN forgets less, but it does forget, because each edge's base term "
                       "(w·silu(x)) is global, not local.")
    return False, (f"برقرار نبود: {numbers}." if fa else f"Did not hold: {numbers}.")


def speech_verdict(rows: Sequence[dict], lang: str) -> tuple[bool, str]:
    """Was the KAN more accurate than the MLP with the same number of parameters on the digits?"""
    fa = _language(lang)
    kan = next(row for row in rows if row["model"] == "KAN")
    mlp = next(row for row in rows if row["model"] == "MLP (same parameters)")
    slower = kan["seconds"] / max(mlp["seconds"], 1e-9)
    numbers = (f"دقت KAN {_num(100 * kan['accuracy'], lang, '{:.1f}')}٪ و MLP هم‌اندازه "
               f"{_num(100 * mlp['accuracy'], lang, '{:.1f}')}٪، و آموزش KAN {_num(slower, lang, '{:.1f}')} برابر زمان برد"
               if fa else
               f"the KAN's accuracy is {100 * kan['accuracy']:.1f}% and the equal-size MLP's {100 * mlp['accuracy']:.1f}%, "
               f"and the KAN took {slower:.1f} times as long to train")
    if kan["accuracy"] > mlp["accuracy"]:
        return True, (f"برقرار: {numbers}." if fa else f"Held: {numbers}.")
    return False, (f"برقرار نبود: {numbers}." if fa else f"Did not hold: {numbers}.")


# --- figures (language-neutral: symbols and numbers; the chapter captions them) ----------------------

def plot_scaling(rows_by_toy: dict[str, Sequence[dict]]):
    """Test RMSE against parameters, log-log, one panel per toy function."""
    import matplotlib.pyplot as plt

    from hw5lib.publish.plotting import PALETTE

    fig, axes = plt.subplots(1, len(rows_by_toy), figsize=(5.2 * len(rows_by_toy), 3.8), squeeze=False)
    for ax, (name, rows) in zip(axes[0], rows_by_toy.items()):
        kan = [row for row in rows if row["model"] == "KAN"]
        ax.plot([r["parameters"] for r in kan], [r["test_rmse"] for r in kan], "o-", color=PALETTE["kan"],
                label=f"KAN {kan[0]['shape']}")
        for r in kan:
            ax.annotate(f"G={r['grid']}", (r["parameters"], r["test_rmse"]), textcoords="offset points", xytext=(4, 4),
                        fontsize=7, color=PALETTE["kan"])
        depths = sorted({r["shape"].count("-") - 1 for r in rows if r["model"] == "MLP"})
        for depth, marker in zip(depths, "s^Dv"):
            mlp = [r for r in rows if r["model"] == "MLP" and r["shape"].count("-") - 1 == depth]
            ax.plot([r["parameters"] for r in mlp], [r["test_rmse"] for r in mlp], marker + "--", color=PALETTE["mlp"],
                    alpha=0.55 + 0.15 * depths.index(depth), label=f"MLP, depth {depth}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel("test RMSE")
        ax.set_title(f"${TOYS[name].latex}$", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_edges(result: Interpretation):
    """Every edge function of the trained KAN before pruning, one block of panels per layer
    (a layer with several outputs: a row per input, a column per output) on one vertical scale per
    layer; pruned edges grey and dotted, the rest drawn with an opacity that grows with the edge's
    mean absolute value."""
    import matplotlib.pyplot as plt

    from hw5lib.publish.plotting import PALETTE

    def place(scores):  # (rows, columns, edge -> (row, column)) for one layer
        outputs, inputs = scores.shape
        if outputs > 1:
            return inputs, outputs, lambda o, i: (i, o)
        return 1, inputs, lambda o, i: (0, i)

    layouts = [place(scores) for scores in result.scores_before]
    columns = max(layout[1] for layout in layouts)
    rows = sum(layout[0] for layout in layouts)
    fig, axes = plt.subplots(rows, columns, figsize=(1.45 * columns, 1.25 * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    first_row = 0
    for layer_index, (edges, scores, kept, (layer_rows, _, where)) in enumerate(
            zip(result.edges_before, result.scores_before, result.kept, layouts)):
        top = float(scores.max()) or 1.0
        low = min(float(np.min(ys)) for *_, ys in edges)
        high = max(float(np.max(ys)) for *_, ys in edges)
        margin = 0.05 * (high - low or 1.0)
        for out_index, in_index, xs, ys in edges:
            row, column = where(out_index, in_index)
            ax = axes[first_row + row][column]
            ax.axis("on")
            alive = bool(kept[out_index, in_index])
            ax.plot(xs, ys, color=PALETTE["kan"] if alive else PALETTE["reference"],
                    alpha=max(0.25, float(scores[out_index, in_index]) / top) if alive else 0.5, lw=1.6)
            ax.set_title(rf"$\phi_{{{layer_index + 1},{out_index + 1},{in_index + 1}}}$", fontsize=9)
            ax.set_ylim(low - margin, high + margin)  # one scale per layer: a weak edge looks flat
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_linestyle("-" if alive else ":")
        first_row += layer_rows
    fig.tight_layout()
    return fig


def plot_forgetting(kan: dict, mlp: dict):
    """Each phase of the five-peak task: the target (grey), the region trained on (shaded) and the
    KAN's (top) and the MLP's (bottom) prediction over the whole domain after that phase."""
    import matplotlib.pyplot as plt

    from hw5lib.publish.plotting import PALETTE

    phases = len(kan["predictions"])
    fig, axes = plt.subplots(2, phases, figsize=(2.3 * phases, 3.9), sharex=True, sharey=True)
    for row, (name, result) in enumerate((("KAN", kan), ("MLP", mlp))):
        for phase in range(phases):
            ax = axes[row][phase]
            ax.axvspan(-1 + 0.4 * phase, -0.6 + 0.4 * phase, color="#f2c14e", alpha=0.3, lw=0)
            ax.plot(result["x"], result["target"], color=PALETTE["reference"], lw=1)
            ax.plot(result["x"], result["predictions"][phase], color=PALETTE[name.lower()], lw=1.4)
            ax.set_ylim(-0.6, 1.6)
            if row == 0:
                ax.set_title(f"{phase + 1}", fontsize=9)
            if phase == 0:
                ax.set_ylabel(name)
    fig.tight_layout()
    return fig
