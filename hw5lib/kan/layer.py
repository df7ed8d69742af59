"""Kolmogorov-Arnold Networks: B-spline activations on every edge, sums on the nodes.

A layer maps ``x`` of shape (batch, in) to (batch, out) with

    y_o = sum_i  phi_{o,i}(x_i),   phi_{o,i}(x) = w^b_{o,i} silu(x) + sum_j c_{o,i,j} B_j(x),

where ``B_j`` are the B-splines of order ``k`` on a grid of ``G`` intervals (``G + k`` of them per
input). The sum over ``i`` and ``j`` is one matrix product of the basis values, shape
(batch, in * (G + k)), with the coefficients, shape (in * (G + k), out): the (batch, out, in)
tensor of edge values is formed only when someone asks for it (regularisation, plots, snapping).

On a uniform grid (the default, and after :meth:`KANLinear.update_grid` with ``grid_eps=1``)
every basis function is a shifted cardinal B-spline, so at each point only ``k + 1`` of them are
non-zero and each is a fixed cubic (for k = 3) in the position within the knot interval: those
``k + 1`` values and their derivatives are computed by Horner's rule and scattered into the dense
basis matrix, instead of the ``k`` levels of the Cox-de Boor recursion over all ``G + 2k``
functions. An adaptive (non-uniform) grid uses the recursion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from hw5lib.torchutil import count_parameters  # noqa: F401 (part of this module's API)
from torch.autograd.function import once_differentiable


class KANError(ValueError):
    """A KAN was given something it cannot use; the message says what and what to do."""


# --- B-spline bases -------------------------------------------------------------------------------

def uniform_grid(in_features: int, grid_size: int, spline_order: int, grid_range=(-1.0, 1.0)) -> torch.Tensor:
    """Knots of shape (in_features, grid_size + 2 * spline_order + 1): ``grid_size`` equal
    intervals over ``grid_range``, extended by ``spline_order`` intervals on each side so that
    every point of the range is covered by ``spline_order + 1`` basis functions."""
    low, high = float(grid_range[0]), float(grid_range[1])
    if not high > low:
        raise KANError(f"grid_range must be increasing, got {tuple(grid_range)}.")
    step = (high - low) / grid_size
    knots = low + step * torch.arange(-spline_order, grid_size + spline_order + 1, dtype=torch.get_default_dtype())
    return knots.expand(in_features, -1).contiguous()


def bspline_basis(x: torch.Tensor, grid: torch.Tensor, spline_order: int) -> torch.Tensor:
    """B-spline basis values by the Cox-de Boor recursion, for any (non-decreasing) knots.

    x: (batch, in); grid: (in, n_knots). Returns (batch, in, n_knots - spline_order - 1).
    Intervals are half-open, [t_j, t_{j+1}), as in ``scipy.interpolate.BSpline``."""
    assert x.dim() == 2 and grid.dim() == 2 and x.shape[1] == grid.shape[0], (x.shape, grid.shape)
    x = x.unsqueeze(-1)
    bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
    for k in range(1, spline_order + 1):
        left = (x - grid[:, : -(k + 1)]) / (grid[:, k:-1] - grid[:, : -(k + 1)])
        right = (grid[:, k + 1:] - x) / (grid[:, k + 1:] - grid[:, 1:(-k)])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases


def _cardinal_terms(spline_order: int) -> list[tuple[float, float]]:
    """(offset, weight) pairs of the truncated-power form of the centred cardinal B-spline."""
    k = spline_order
    return [((k + 1) / 2 - j, (-1) ** j * math.comb(k + 1, j) / math.factorial(k))
            for j in range(0, (k + 1) // 2 + 1) if (k + 1) / 2 - j > 0]


def cardinal_bspline(s: np.ndarray, spline_order: int) -> np.ndarray:
    """The centred cardinal B-spline of order k (support [-(k+1)/2, (k+1)/2]) in closed form,
    M_k(s) = 1/k! sum_{j <= (k+1)/2} (-1)^j C(k+1, j) ((k+1)/2 - j - |s|)_+^k."""
    s = np.abs(np.asarray(s, dtype=np.float64))
    return sum(weight * np.clip(offset - s, 0, None) ** spline_order
               for offset, weight in _cardinal_terms(spline_order))


@lru_cache(maxsize=None)
def _pieces(spline_order: int) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial pieces of the uniform B-spline: on the knot interval [t_m, t_{m+1}), with
    x = t_m + t h, basis m - k + r equals sum_p values[p, r] t^p; ``slopes`` is d/dt of it."""
    k = spline_order
    t = np.linspace(0.0, 1.0, k + 1)
    vandermonde = np.vander(t, k + 1, increasing=True)
    values = np.stack([np.linalg.solve(vandermonde, cardinal_bspline(t + k - r - (k + 1) / 2, k))
                       for r in range(k + 1)], axis=1)
    slopes = np.zeros_like(values)
    slopes[:-1] = values[1:] * np.arange(1, k + 1)[:, None]
    return values, slopes


def _polynomials(coefficients: tuple[tuple[float, ...], ...], t: torch.Tensor) -> torch.Tensor:
    """Stack of sum_p coefficients[p][r] t^p over the pieces r, by Horner's rule: (...) -> (..., pieces).
    Per-piece work on the small (batch, in) tensor, then one stack: cheaper than broadcasting."""
    columns = []
    for r in range(len(coefficients[0])):
        if len(coefficients) == 1:
            columns.append(torch.full_like(t, coefficients[0][r]))
            continue
        value = t * coefficients[-1][r]
        for power in range(len(coefficients) - 2, 0, -1):
            value.add_(coefficients[power][r]).mul_(t)
        columns.append(value.add_(coefficients[0][r]))
    return torch.stack(columns, dim=-1)


@lru_cache(maxsize=None)
def _piece_rows(spline_order: int) -> tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...]]:
    values, slopes = _pieces(spline_order)
    as_rows = lambda array: tuple(tuple(float(v) for v in row) for row in array)  # noqa: E731
    return as_rows(values), as_rows(slopes[:-1])


class _UniformBasis(torch.autograd.Function):
    """Basis values on a uniform grid from the k + 1 polynomial pieces that are non-zero at each
    point, scattered into the dense (batch, in, n_bases) matrix the layer multiplies; the
    derivative is computed in the same pass, so the backward pass is one gather."""

    @staticmethod
    def forward(ctx, x, low, step, n_bases: int, spline_order: int):
        k = spline_order
        values, slopes = _piece_rows(k)
        u = (x - low) / step
        interval = u.floor()
        t = u - interval
        index = interval.long().unsqueeze(-1) + torch.arange(-k, 1, device=x.device)
        pieces = _polynomials(values, t)
        derivative = _polynomials(slopes, t) if ctx.needs_input_grad[0] else None
        # points in the grid's core interval touch only bases 0 .. n_bases - 1; others need a mask
        if bool(interval.min() < k) or bool(interval.max() > n_bases - 1):
            outside = (index < 0) | (index >= n_bases)
            index.clamp_(0, n_bases - 1)
            pieces.masked_fill_(outside, 0.0)
            if derivative is not None:
                derivative.masked_fill_(outside, 0.0)
        bases = x.new_zeros(*x.shape, n_bases).scatter_add_(-1, index, pieces)
        if derivative is not None:
            ctx.save_for_backward(index, derivative.div_(step.unsqueeze(-1)))
        return bases

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        index, derivative = ctx.saved_tensors
        return (grad.gather(-1, index) * derivative).sum(-1), None, None, None, None


def uniform_bspline_basis(x: torch.Tensor, low: torch.Tensor, step: torch.Tensor, n_bases: int,
                          spline_order: int) -> torch.Tensor:
    """The same values as :func:`bspline_basis` on a uniform grid, from local polynomial pieces.

    x: (batch, in); low: (in,), the first knot; step: (in,), the knot spacing; spline_order >= 1.
    Returns (batch, in, n_bases). Differentiable in ``x`` (once), not in the grid."""
    assert x.dim() == 2 and low.shape == step.shape == (x.shape[1],), (x.shape, low.shape, step.shape)
    assert spline_order >= 1, "order 0 has no continuous pieces; use bspline_basis"
    return _UniformBasis.apply(x, low, step, n_bases, spline_order)


# --- one layer ------------------------------------------------------------------------------------

class KANLinear(nn.Module):
    """One KAN layer: ``in_features * out_features`` learnable edge functions, summed per output.

    Each edge is ``w^b silu(x) + spline(x)``; the spline has ``grid_size + spline_order``
    coefficients on knots held per input (buffer ``grid``, shape (in, grid_size + 2 k + 1)).
    ``mask`` (out, in) switches edges off after pruning; edges replaced by a formula
    (:meth:`KAN.snap`) are evaluated symbolically and their spline is masked."""

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, spline_order: int = 3,
                 grid_range=(-1.0, 1.0), scale_noise: float = 0.1, scale_base: float = 1.0,
                 base_activation: Callable[[], nn.Module] = nn.SiLU, grid_eps: float = 0.02):
        super().__init__()
        for name, value, least in (("in_features", in_features, 1), ("out_features", out_features, 1),
                                   ("grid_size", grid_size, 1), ("spline_order", spline_order, 0)):
            if not isinstance(value, int) or value < least:
                raise KANError(f"{name} must be an integer of at least {least}, got {value!r}.")
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.spline_order, self.grid_eps = grid_size, spline_order, grid_eps
        self.register_buffer("grid", uniform_grid(in_features, grid_size, spline_order, grid_range))
        self.register_buffer("mask", torch.ones(out_features, in_features))
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        self.spline_weight = nn.Parameter(torch.empty(out_features, in_features, grid_size + spline_order))
        self.base_activation = base_activation()
        nn.init.kaiming_uniform_(self.base_weight, a=math.sqrt(5) * scale_base)
        with torch.no_grad():
            self.spline_weight.uniform_(-0.5, 0.5).mul_(scale_noise / grid_size)
        self.symbolic = nn.ModuleList()
        self._refresh()

    def _refresh(self) -> None:
        """Cache what the forward pass needs to know about the grid and the mask."""
        steps = self.grid[:, 1:] - self.grid[:, :-1]
        self.uniform = self.spline_order >= 1 and bool(torch.allclose(steps, steps[:, :1], rtol=1e-5, atol=1e-7))
        self.pruned = not bool(self.mask.all())

    @property
    def n_bases(self) -> int:
        return self.grid_size + self.spline_order

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, grid_size={self.grid_size}, "
                f"spline_order={self.spline_order}")

    def bases(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in) -> (batch, in, n_bases) B-spline values; zero outside the knots."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise KANError(f"A KAN layer with {self.in_features} inputs needs a (batch, {self.in_features}) "
                           f"tensor, got shape {tuple(x.shape)}.")
        if self.uniform:
            return uniform_bspline_basis(x, self.grid[:, 0], self.grid[:, 1] - self.grid[:, 0], self.n_bases,
                                         self.spline_order)
        return bspline_basis(x, self.grid, self.spline_order)

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(base weight (out, in), spline coefficients (out, in, n_bases)) with pruned edges zeroed."""
        if not self.pruned:
            return self.base_weight, self.spline_weight
        return self.base_weight * self.mask, self.spline_weight * self.mask.unsqueeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base_weight, spline_weight = self.weights()
        bases = self.bases(x)
        out = F.linear(self.base_activation(x), base_weight)
        out = out + F.linear(bases.reshape(x.shape[0], -1), spline_weight.reshape(self.out_features, -1))
        return out + self._symbolic_out(x) if self.symbolic else out

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """Every edge's value, (batch, in) -> (batch, out, in); ``forward(x)`` is its sum over in."""
        base_weight, spline_weight = self.weights()
        values = torch.einsum("bij,oij->boi", self.bases(x), spline_weight)
        values = values + self.base_activation(x).unsqueeze(1) * base_weight
        for edge in self.symbolic:
            values[:, edge.out_index, edge.in_index] = edge(x[:, edge.in_index])
        return values

    def _symbolic_out(self, x: torch.Tensor) -> torch.Tensor:
        columns = [torch.zeros(x.shape[0], dtype=x.dtype, device=x.device) for _ in range(self.out_features)]
        for edge in self.symbolic:
            columns[edge.out_index] = columns[edge.out_index] + edge(x[:, edge.in_index])
        return torch.stack(columns, dim=1)

    def input_range(self, in_index: int) -> tuple[float, float]:
        """The interval the spline of input ``in_index`` covers (its grid without the extension)."""
        k = self.spline_order
        return float(self.grid[in_index, k]), float(self.grid[in_index, -k - 1])

    @torch.no_grad()
    def edge_function(self, out_index: int, in_index: int, points: int = 200,
                      x: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The learned function of one edge, sampled at ``points`` points over its grid's range
        (or at the given values ``x`` of that input): returns (x, phi(x)) as NumPy arrays."""
        if not (0 <= out_index < self.out_features and 0 <= in_index < self.in_features):
            raise KANError(f"Edge ({out_index}, {in_index}) is not in a {self.in_features} -> "
                           f"{self.out_features} layer.")
        like = {"dtype": self.grid.dtype, "device": self.grid.device}
        if x is None:
            x = torch.linspace(*self.input_range(in_index), points, **like)
        x = torch.as_tensor(x, **like)
        inputs = torch.zeros(len(x), self.in_features, **like)
        inputs[:, in_index] = x
        return x.cpu().numpy(), self.edge_values(inputs)[:, out_index, in_index].cpu().numpy()

    @torch.no_grad()
    def curve_to_coefficients(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Least-squares spline coefficients (out, in, n_bases) whose edges take the values
        ``y`` (batch, out, in) at the inputs ``x`` (batch, in)."""
        design = self.bases(x).transpose(0, 1)                       # (in, batch, n_bases)
        target = y.permute(2, 0, 1)                                  # (in, batch, out)
        solution = torch.linalg.lstsq(design, target, driver="gelsd" if design.device.type == "cpu" else None)
        return solution.solution.permute(2, 0, 1).contiguous()      # (out, in, n_bases)

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor | None = None, grid_size: int | None = None, margin: float = 0.01,
                    grid_eps: float | None = None) -> None:
        """Move the knots to where the data ``x`` (batch, in) lies and, optionally, change the
        number of intervals (grid extension), refitting the coefficients by least squares so
        that each edge keeps its function. Knots are ``grid_eps`` times a uniform grid over the
        data's range plus ``1 - grid_eps`` times its quantiles; ``x=None`` keeps the range and
        makes the grid uniform. Changing ``grid_size`` replaces ``spline_weight``: build the
        optimiser again afterwards."""
        grid_size = self.grid_size if grid_size is None else grid_size
        if not isinstance(grid_size, int) or grid_size < 1:
            raise KANError(f"grid_size must be a positive integer, got {grid_size!r}.")
        eps = self.grid_eps if grid_eps is None else grid_eps
        if x is None:
            low, high = self.grid[:, self.spline_order], self.grid[:, -self.spline_order - 1]
            samples = max(4 * (grid_size + self.spline_order), 64)
            fractions = torch.linspace(0, 1, samples, dtype=self.grid.dtype, device=self.grid.device).unsqueeze(1)
            x = low + fractions * (high - low)
            eps, margin = 1.0, 0.0
        old_values = self.spline_values(x)
        ordered = torch.sort(x, dim=0).values
        quantile_index = torch.linspace(0, x.shape[0] - 1, grid_size + 1, device=x.device).round().long()
        adaptive = ordered[quantile_index]                                             # (grid + 1, in)
        step = (ordered[-1] - ordered[0] + 2 * margin) / grid_size
        uniform = ordered[0] - margin + step * torch.arange(grid_size + 1, dtype=x.dtype, device=x.device).unsqueeze(1)
        knots = eps * uniform + (1 - eps) * adaptive
        k = self.spline_order
        extension = step * torch.arange(1, k + 1, dtype=x.dtype, device=x.device).unsqueeze(1)
        knots = torch.cat([knots[:1] - extension.flip(0), knots, knots[-1:] + extension], dim=0)
        self.grid = knots.T.contiguous()
        self.grid_size = grid_size
        self._refresh()
        coefficients = self.curve_to_coefficients(x, old_values)
        if coefficients.shape == self.spline_weight.shape:
            self.spline_weight.copy_(coefficients)
        else:
            self.spline_weight = nn.Parameter(coefficients)

    def spline_values(self, x: torch.Tensor) -> torch.Tensor:
        """The spline part of every edge (no base term, no mask): (batch, in) -> (batch, out, in)."""
        return torch.einsum("bij,oij->boi", self.bases(x), self.spline_weight)


# --- symbolic edges -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Primitive:
    """One function of the snapping library, in torch and in SymPy, with a complexity used to
    prefer the simpler of two candidates that fit about equally well."""
    name: str
    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    sympy_fn: Callable
    complexity: int


@lru_cache(maxsize=None)
def library() -> dict[str, Primitive]:
    """The snapping library: name -> :class:`Primitive` (x, x^2, x^3, exp, sin, tanh, gaussian, log, 1/x)."""
    import sympy

    return {primitive.name: primitive for primitive in (
        Primitive("x", lambda z: z, lambda z: z, 1),
        Primitive("x^2", lambda z: z ** 2, lambda z: z ** 2, 2),
        Primitive("x^3", lambda z: z ** 3, lambda z: z ** 3, 3),
        Primitive("exp", lambda z: torch.exp(z.clamp(max=30)), sympy.exp, 2),
        Primitive("sin", torch.sin, sympy.sin, 2),
        Primitive("tanh", torch.tanh, sympy.tanh, 3),
        Primitive("gaussian", lambda z: torch.exp(-z ** 2), lambda z: sympy.exp(-z ** 2), 3),
        Primitive("log", lambda z: torch.log(z.abs() + 1e-4), lambda z: sympy.log(sympy.Abs(z)), 3),
        Primitive("1/x", lambda z: 1 / (z.abs() + 1e-2) * torch.sign(z), lambda z: 1 / z, 3),
    )}



@dataclass
class SymbolicFit:
    """y ~ c f(a x + b) + d, with the coefficient of determination of the fit on the samples."""
    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.c * library()[self.name].torch_fn(self.a * x + self.b) + self.d

    def expression(self, variable):
        a, b, c, d = (float(value) for value in (self.a, self.b, self.c, self.d))
        return c * library()[self.name].sympy_fn(a * variable + b) + d


class SymbolicEdge(nn.Module):
    """An edge of a layer replaced by c f(a x + b) + d (its spline is masked); a, b, c, d are
    parameters, so training the network after snapping fine-tunes the constants."""

    def __init__(self, out_index: int, in_index: int, fit: SymbolicFit):
        super().__init__()
        self.out_index, self.in_index, self.name, self.r2 = out_index, in_index, fit.name, fit.r2
        self.affine = nn.Parameter(torch.tensor([fit.a, fit.b, fit.c, fit.d], dtype=torch.float64))

    @property
    def fit(self) -> SymbolicFit:
        a, b, c, d = (float(value) for value in self.affine.detach())
        return SymbolicFit(self.name, a, b, c, d, self.r2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b, c, d = self.affine.to(x.dtype)
        return c * library()[self.name].torch_fn(a * x + b) + d

    def extra_repr(self) -> str:
        return f"edge=({self.out_index}, {self.in_index}), f={self.name}"


def _r2_and_line(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best y ~ c z + d for each row of z (candidates, n): (r2, c, d) per candidate."""
    z_mean, y_mean = z.mean(-1, keepdim=True), y.mean()
    zc, yc = z - z_mean, y - y_mean
    var_z = (zc ** 2).sum(-1)
    cov = (zc * yc).sum(-1)
    var_y = (yc ** 2).sum()
    c = cov / var_z.clamp(min=1e-30)
    r2 = torch.where(var_z > 1e-20, cov ** 2 / (var_z * var_y).clamp(min=1e-30), torch.zeros_like(cov))
    d = y_mean - c * z_mean.squeeze(-1)
    return torch.nan_to_num(r2, nan=0.0), c, d


def fit_symbolic(x, y, name: str, a_range=(-10.0, 10.0), b_range=(-10.0, 10.0), points: int = 41,
                 zooms: int = 3) -> SymbolicFit:
    """Fit y ~ c f(a x + b) + d for the library function ``name``: a grid search over (a, b)
    with (c, d) by least squares at each point, zoomed in ``zooms`` times around the best."""
    primitive = library()[name]
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    (a_low, a_high), (b_low, b_high) = a_range, b_range
    best = None
    for _ in range(zooms + 1):
        a_values = torch.linspace(a_low, a_high, points, dtype=torch.float64, device=x.device)
        b_values = torch.linspace(b_low, b_high, points, dtype=torch.float64, device=x.device)
        a_grid, b_grid = torch.meshgrid(a_values, b_values, indexing="ij")
        z = primitive.torch_fn(a_grid.reshape(-1, 1) * x + b_grid.reshape(-1, 1))
        r2, c, d = _r2_and_line(torch.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), y)
        i = int(torch.argmax(r2))
        best = SymbolicFit(name, float(a_grid.flatten()[i]), float(b_grid.flatten()[i]), float(c[i]), float(d[i]),
                           float(r2[i]))
        a_step, b_step = (a_high - a_low) / (points - 1), (b_high - b_low) / (points - 1)
        a_low, a_high = best.a - 2 * a_step, best.a + 2 * a_step
        b_low, b_high = best.b - 2 * b_step, best.b + 2 * b_step
    return best


def snap_edge(x, y, names: Sequence[str] | None = None,
              tolerance: float = 1e-3) -> tuple[SymbolicFit, list[SymbolicFit]]:
    """The simplest library function that fits (x, y) within ``tolerance`` of the best fit's
    unexplained variance (1 - r2), and every candidate's fit, best first."""
    fits = [fit_symbolic(x, y, name) for name in (names or library())]
    fits.sort(key=lambda fit: -fit.r2)
    floor = 1 - fits[0].r2
    good = [fit for fit in fits if 1 - fit.r2 <= floor + tolerance]
    chosen = min(good, key=lambda fit: (library()[fit.name].complexity, -fit.r2))
    return chosen, fits


# --- networks -------------------------------------------------------------------------------------

class KAN(nn.Module):
    """A stack of :class:`KANLinear` layers, ``widths = [inputs, hidden..., outputs]``."""

    def __init__(self, widths: Sequence[int], grid_size: int = 5, spline_order: int = 3, grid_range=(-1.0, 1.0),
                 scale_noise: float = 0.1, grid_eps: float = 0.02, seed: int | None = None):
        super().__init__()
        widths = list(widths)
        if len(widths) < 2 or not all(isinstance(w, int) and w >= 1 for w in widths):
            raise KANError(f"widths must list at least two positive integers (inputs and outputs), got {widths!r}.")
        if seed is not None:
            torch.manual_seed(seed)
        self.widths = widths
        self.layers = nn.ModuleList(
            KANLinear(n_in, n_out, grid_size, spline_order, grid_range, scale_noise=scale_noise, grid_eps=grid_eps)
            for n_in, n_out in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    @torch.no_grad()
    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input of every layer for the batch ``x`` (the first is ``x`` itself)."""
        inputs = [x]
        for layer in self.layers[:-1]:
            inputs.append(layer(inputs[-1]))
        return inputs

    def forward_with_edges(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The output and every layer's edge values (batch, out, in), for regularisation."""
        edges = []
        for layer in self.layers:
            values = layer.edge_values(x)
            edges.append(values)
            x = values.sum(-1)
        return x, edges

    @staticmethod
    def regularisation(edges: Sequence[torch.Tensor], strength: float = 1e-2, entropy: float = 2.0) -> torch.Tensor:
        """The KAN paper's sparsity penalty: ``strength`` times, summed over layers, the L1 norm
        of the edges' mean absolute values plus ``entropy`` times the entropy of their shares."""
        total = edges[0].new_zeros(())
        for values in edges:
            scale = values.abs().mean(0)
            share = scale / scale.sum().clamp(min=1e-12)
            total = total + scale.sum() - entropy * (share * torch.log(share + 1e-12)).sum()
        return strength * total

    @torch.no_grad()
    def edge_scores(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Mean absolute value of every edge over ``x``: one (out, in) tensor per layer."""
        return [values.abs().mean(0) for values in self.forward_with_edges(x)[1]]

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_size: int | None = None, grid_eps: float | None = None) -> None:
        """Fit every layer's grid to its inputs on ``x`` (and optionally refine it to ``grid_size``
        intervals), keeping the function; rebuild the optimiser after refining."""
        for layer, inputs in zip(self.layers, self.layer_inputs(x)):
            layer.update_grid(inputs, grid_size=grid_size, grid_eps=grid_eps)

    @torch.no_grad()
    def prune(self, x: torch.Tensor, threshold: float = 1e-2) -> list[int]:
        """Switch off edges whose mean absolute value on ``x`` is below ``threshold``, then hidden
        nodes left with no input or no output edge. Returns the active edges per layer."""
        for layer, scores in zip(self.layers, self.edge_scores(x)):
            layer.mask.mul_((scores >= threshold).to(layer.mask.dtype))
        changed = True
        while changed:
            changed = False
            for before, after in zip(self.layers[:-1], self.layers[1:]):
                alive = (before.mask.sum(1) > 0) & (after.mask.sum(0) > 0)
                for tensor, shaped in ((before.mask, alive.unsqueeze(1)), (after.mask, alive.unsqueeze(0))):
                    new = tensor * shaped
                    changed |= bool((new != tensor).any())
                    tensor.copy_(new)
        for layer in self.layers:
            layer._refresh()
        return [int(layer.mask.sum()) for layer in self.layers]

    def active_edges(self) -> list[list[tuple[int, int]]]:
        """(out, in) of every edge still on, per layer."""
        return [[(int(o), int(i)) for o, i in layer.mask.nonzero()] for layer in self.layers]

    @torch.no_grad()
    def snap(self, x: torch.Tensor, names: Sequence[str] | None = None, tolerance: float = 1e-3,
             samples: int = 256) -> list[SymbolicEdge]:
        """Replace every active edge by the simplest library formula that fits it on (at most
        ``samples`` rows of) ``x``, layer by layer (each layer sees the previous layer's snapped
        output). Returns the edges; training the network afterwards fine-tunes their constants
        (rebuild the optimiser: the constants are new parameters)."""
        snapped = []
        inputs = x[torch.linspace(0, len(x) - 1, min(samples, len(x)), device=x.device).long()]
        for layer in self.layers:
            values = layer.edge_values(inputs)
            layer.symbolic = nn.ModuleList()
            for out_index, in_index in [(int(o), int(i)) for o, i in layer.mask.nonzero()]:
                fit, _ = snap_edge(inputs[:, in_index], values[:, out_index, in_index], names, tolerance)
                edge = SymbolicEdge(out_index, in_index, fit).to(x.device)
                layer.symbolic.append(edge)
                snapped.append(edge)
            layer.mask.zero_()
            layer._refresh()
            inputs = layer(inputs)
        return snapped

    def formula(self, variables: Sequence[str] | None = None, digits: int = 4, chop: float = 0.0) -> list:
        """The network as SymPy expressions, one per output, once every edge is symbolic; numbers
        rounded to ``digits`` significant digits and, in every sum, terms whose coefficient is
        below ``chop`` times the sum's largest coefficient left out (for reading)."""
        import sympy

        if any(layer.mask.any() for layer in self.layers):
            raise KANError("formula() needs every active edge snapped: call snap() first.")
        names = list(variables) if variables is not None else [f"x_{i + 1}" for i in range(self.widths[0])]
        if len(names) != self.widths[0]:
            raise KANError(f"Give {self.widths[0]} variable names, got {len(names)}.")
        expressions = [sympy.Symbol(name) for name in names]
        for layer in self.layers:
            outputs = [sympy.Integer(0)] * layer.out_features
            for edge in layer.symbolic:
                outputs[edge.out_index] += edge.fit.expression(expressions[edge.in_index])
            expressions = outputs
        return [round_floats(chop_terms(expression, chop) if chop else expression, digits)
                for expression in expressions]


def chop_terms(expression, relative: float):
    """``expression`` without the terms of each sum whose numeric coefficient is below
    ``relative`` times the largest coefficient of that sum."""
    import sympy

    def chopped(total):
        terms = [(abs(float(term.as_coeff_Mul()[0])), term) for term in total.args]
        largest = max(size for size, _ in terms)
        return sympy.Add(*[term for size, term in terms if size >= relative * largest])
    return expression.replace(lambda node: node.is_Add, chopped)


def round_floats(expression, digits: int = 4):
    """``expression`` with every number rounded to ``digits`` significant digits (for reading)."""
    import sympy

    def rounded(number):
        value = float(number)
        return sympy.Float(float(f"{value:.{digits}g}"), digits) if value else sympy.Integer(0)
    return expression.xreplace({number: rounded(number) for number in expression.atoms(sympy.Float)})


class MLP(nn.Sequential):
    """Linear layers with SiLU between them: ``widths = [inputs, hidden..., outputs]``."""

    def __init__(self, widths: Sequence[int], seed: int | None = None):
        widths = list(widths)
        if len(widths) < 2 or not all(isinstance(w, int) and w >= 1 for w in widths):
            raise KANError(f"widths must list at least two positive integers (inputs and outputs), got {widths!r}.")
        if seed is not None:
            torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(n_in, n_out), nn.SiLU()]
        super().__init__(*layers[:-1])
        self.widths = widths


def mlp_width_for(parameters: int, inputs: int, outputs: int, depth: int = 1) -> int:
    """The hidden width of an MLP with ``depth`` equal hidden layers whose parameter count is
    closest to ``parameters``."""
    def size(width: int) -> int:
        return (inputs + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * outputs
    return min(range(1, 100_000), key=lambda width: abs(size(width) - parameters))
