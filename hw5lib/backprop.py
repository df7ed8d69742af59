"""Q2, "Let's not vanish": backpropagation through a two-block residual network.

The network of the report (column vectors, one sample)::

    z1 = W1 x + b1        h1 = ReLU(z1)       d = h1 + x
    z2 = W2 d + b2        h2 = ReLU(z2)       theta = h2 + d
    y_hat = softmax(theta)                    J = CE(y, y_hat) = -sum_i y_i log y_hat_i

Every gradient is derived here by SymPy from local Jacobians (the chain rule, one edge of the
graph at a time), checked element by element against the composite derivative, and turned into
a matrix expression that is lambdified to NumPy. The same expressions are then compared with
torch autograd (``check_against_autograd``), so the formulas shown in the book are the ones that
are tested, not a retyped copy.

ReLU follows torch's convention at the kink: d/dz ReLU(z) = 1{z > 0}, so 0 at z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
import torch
from torch import nn

__all__ = [
    "ReLU",
    "DerivationStep",
    "Derivation",
    "derive",
    "gradient_functions",
    "forward_numpy",
    "derived_gradients",
    "autograd_gradients",
    "check_against_autograd",
    "gradcheck_network",
    "DeepNet",
    "layer_gradient_norms",
    "latex",
    "train_loss_curves",
]


class ReLU(sp.Function):
    """ReLU as a SymPy function whose derivative is the indicator 1{z > 0} (torch's choice at 0)."""

    @classmethod
    def eval(cls, z):
        if z.is_number:
            return sp.Max(z, 0)
        return None

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0], 0)

    def _latex(self, printer):
        return r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])


def _indicator_latex(printer, expr, *args):
    return r"\mathbb{1}\{%s > 0\}" % printer._print(expr.args[0])


class _Printer(LatexPrinter):
    """LaTeX printer that writes Heaviside(z, 0) as the indicator 1{z > 0} used in the report."""

    def _print_Heaviside(self, expr, exp=None):
        return _indicator_latex(self, expr)


def latex(expr) -> str:
    """LaTeX of a SymPy expression as the chapter writes it: matrices as ``bmatrix``, Heaviside as
    the indicator 1{z > 0} (SymPy's default, a theta, would clash with the network's theta)."""
    return _Printer({"mat_str": "bmatrix", "mat_delim": ""}).doprint(expr)


@dataclass
class DerivationStep:
    """One result of the derivation: its name, the LaTeX lines that lead to it, and whether
    SymPy confirmed it element by element.

    ``chain`` is the chain-rule product SymPy computed from the local Jacobian and ``claimed`` the
    formula of the result, both as (n, 1) SymPy matrices of components; ``verified`` says they are
    equal in every component (for delta1, on labels with sum_i y_i = 1). The end-to-end step
    compares numbers instead and holds neither."""

    name: str
    lines: list[str]
    result: str
    verified: bool
    chain: sp.Matrix | None = None
    claimed: sp.Matrix | None = None

    def as_latex(self) -> str:
        mark = r"\qquad\text{SymPy}\ \checkmark" if self.verified else r"\qquad\text{SymPy: FAILED}"
        body = r" \\ ".join(self.lines + [self.result + mark])
        return r"\begin{aligned}" + body + r"\end{aligned}"


@dataclass
class Derivation:
    """The derivation for ``n`` units per layer: its steps in order (delta1, delta2, delta3,
    dJ_dx, end_to_end), each found by name with ``derivation[name]``."""

    n: int
    steps: list[DerivationStep] = field(default_factory=list)

    @property
    def all_verified(self) -> bool:
        return bool(self.steps) and all(step.verified for step in self.steps)

    def __getitem__(self, name: str) -> DerivationStep:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


def _vec(name: str, n: int) -> sp.Matrix:
    """Column of symbols; ``name`` is a format string of the component index ``i``."""
    return sp.Matrix([sp.Symbol(name.format(i=i + 1), real=True) for i in range(n)])


def _mat(name: str, n: int) -> sp.Matrix:
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(name.format(i=i + 1, j=j + 1), real=True))


def _is_zero(expr) -> bool:
    return sp.simplify(sp.expand(expr)) == 0


def derive(n: int = 3) -> Derivation:
    """Derive delta1..delta3 and dJ/dx for the report's network with ``n`` units per layer.

    Each step computes a local Jacobian with SymPy, forms the chain-rule product, and checks
    that it equals the claimed matrix formula in every component. ``n`` of 2 or 3 keeps this
    to a second or two; the formulas themselves do not depend on ``n``.
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 6:
        raise ValueError(f"Parameter 'n' must be an integer from 1 to 6 (symbolic cost grows fast), got {n!r}.")

    derivation = Derivation(n=n)
    x, y = _vec("x_{i}", n), _vec("y_{i}", n)
    b1, b2 = _vec("b_{{1,{i}}}", n), _vec("b_{{2,{i}}}", n)
    W1, W2 = _mat("w^{{(1)}}_{{{i}{j}}}", n), _mat("w^{{(2)}}_{{{i}{j}}}", n)
    theta = _vec(r"\theta_{i}", n)

    # --- delta1 = dJ/dtheta, through the softmax Jacobian -----------------------------------
    exp_theta = theta.applyfunc(sp.exp)
    y_hat = exp_theta / sum(exp_theta)
    J_theta = -sum(y[i] * sp.log(y_hat[i]) for i in range(n))
    softmax_jacobian = y_hat.jacobian(theta)
    s = _vec(r"\hat{{y}}_{i}", n)
    claimed_jacobian = sp.Matrix(n, n, lambda i, j: s[i] * (sp.KroneckerDelta(i, j) - s[j]))
    jacobian_ok = all(
        _is_zero(softmax_jacobian[i, j] - claimed_jacobian[i, j].subs({s[k]: y_hat[k] for k in range(n)}))
        for i in range(n)
        for j in range(n)
    )
    gradient_theta = sp.Matrix([sp.diff(J_theta, t) for t in theta])
    # the labels are a probability vector (one-hot in practice): sum_i y_i = 1
    on_simplex = {y[n - 1]: 1 - sum(y[:n - 1])}
    delta1_claimed = y_hat - y
    delta1_ok = all(_is_zero((a - b).subs(on_simplex)) for a, b in zip(gradient_theta, delta1_claimed))
    derivation.steps.append(
        DerivationStep(
            name="delta1",
            lines=[
                r"\frac{\partial \hat y_i}{\partial \theta_j} &= \hat y_i\,(\delta_{ij} - \hat y_j)"
                + r"\quad\text{e.g. } n=%d:\ " % n
                + latex(claimed_jacobian),
                r"\frac{\partial J}{\partial \theta_j} &= -\sum_i \frac{y_i}{\hat y_i}\,"
                r"\frac{\partial \hat y_i}{\partial \theta_j} = -\sum_i y_i (\delta_{ij} - \hat y_j)"
                r" = -y_j + \hat y_j \sum_i y_i",
            ],
            result=r"\delta_1 = \frac{\partial J}{\partial \theta} &= \hat y - y"
            r"\qquad\left(\textstyle\sum_i y_i = 1\right)",
            verified=jacobian_ok and delta1_ok,
            chain=gradient_theta,
            claimed=delta1_claimed,
        )
    )

    # --- delta2 = dJ/dz2: theta = ReLU(z2) + d ---------------------------------------------
    delta1 = _vec(r"\delta_{{1,{i}}}", n)
    z2, d = _vec("z_{{2,{i}}}", n), _vec("d_{i}", n)
    theta_of_z2 = z2.applyfunc(ReLU) + d
    jac_theta_z2 = theta_of_z2.jacobian(z2)
    delta2_chain = jac_theta_z2.T * delta1
    mask2 = z2.applyfunc(lambda z: sp.Heaviside(z, 0))
    delta2_claimed = delta1.multiply_elementwise(mask2)
    derivation.steps.append(
        DerivationStep(
            name="delta2",
            lines=[
                r"\frac{\partial \theta}{\partial z_2} &= \frac{\partial h_2}{\partial z_2} = "
                + latex(jac_theta_z2),
                r"\frac{\partial J}{\partial z_2} &= \left(\frac{\partial \theta}{\partial z_2}\right)^{\!\top}"
                r"\delta_1",
            ],
            result=r"\delta_2 = \frac{\partial J}{\partial z_2} &= \delta_1 \circ \mathbb{1}\{z_2 > 0\}",
            verified=all(_is_zero(a - b) for a, b in zip(delta2_chain, delta2_claimed)),
            chain=delta2_chain,
            claimed=delta2_claimed,
        )
    )

    # --- delta3 = dJ/dd: theta = ReLU(W2 d + b2) + d; two paths from d to theta -------------
    theta_of_d = (W2 * d + b2).applyfunc(ReLU) + d
    jac_theta_d = theta_of_d.jacobian(d)
    delta3_chain = jac_theta_d.T * delta1
    mask2_d = (W2 * d + b2).applyfunc(lambda z: sp.Heaviside(z, 0))
    delta2_d = delta1.multiply_elementwise(mask2_d)
    delta3_claimed = W2.T * delta2_d + delta1
    derivation.steps.append(
        DerivationStep(
            name="delta3",
            lines=[
                r"\frac{\partial \theta}{\partial d} &= \underbrace{\operatorname{diag}"
                r"\left(\mathbb{1}\{z_2 > 0\}\right) W_2}_{\text{through } h_2}"
                r" + \underbrace{I}_{\text{skip}}",
                r"\frac{\partial J}{\partial d} &= \left(\frac{\partial \theta}{\partial d}\right)^{\!\top}"
                r"\delta_1 = W_2^{\top}\left(\delta_1 \circ \mathbb{1}\{z_2 > 0\}\right) + \delta_1",
            ],
            result=r"\delta_3 = \frac{\partial J}{\partial d} &= W_2^{\top} \delta_2 + \delta_1",
            verified=all(_is_zero(a - b) for a, b in zip(delta3_chain, delta3_claimed)),
            chain=delta3_chain,
            claimed=delta3_claimed,
        )
    )

    # --- dJ/dx: d = ReLU(W1 x + b1) + x -----------------------------------------------------
    delta3 = _vec(r"\delta_{{3,{i}}}", n)
    d_of_x = (W1 * x + b1).applyfunc(ReLU) + x
    grad_x_chain = d_of_x.jacobian(x).T * delta3
    mask1 = (W1 * x + b1).applyfunc(lambda z: sp.Heaviside(z, 0))
    grad_x_claimed = W1.T * delta3.multiply_elementwise(mask1) + delta3
    derivation.steps.append(
        DerivationStep(
            name="dJ_dx",
            lines=[
                r"\frac{\partial d}{\partial x} &= \operatorname{diag}\left(\mathbb{1}\{z_1 > 0\}\right) W_1 + I",
            ],
            result=r"\frac{\partial J}{\partial x} &= W_1^{\top}\left(\delta_3 \circ \mathbb{1}\{z_1 > 0\}\right)"
            r" + \delta_3",
            verified=all(_is_zero(a - b) for a, b in zip(grad_x_chain, grad_x_claimed)),
            chain=grad_x_chain,
            claimed=grad_x_claimed,
        )
    )
    derivation.steps.append(_end_to_end_step(n, x, y, b1, b2, W1, W2))
    return derivation


def _end_to_end_step(n, x, y, b1, b2, W1, W2) -> DerivationStep:
    """Differentiate the whole composite J(x) with SymPy and compare it, at random rational
    points, with the chained formulas. This catches a wrong chaining that the local checks
    (each taking its upstream delta as given) could not."""
    z1 = W1 * x + b1
    d = z1.applyfunc(ReLU) + x
    z2 = W2 * d + b2
    theta = z2.applyfunc(ReLU) + d
    log_norm = sp.log(sum(theta.applyfunc(sp.exp)))
    J = -sum(y[i] * (theta[i] - log_norm) for i in range(n))
    symbolic_grad = sp.Matrix([sp.diff(J, xi) for xi in x])
    inputs = list(x) + list(y) + list(b1) + list(b2) + list(W1) + list(W2)
    grad_fn = sp.lambdify(inputs, symbolic_grad.applyfunc(lambda e: e.replace(
        lambda a: isinstance(a, sp.Heaviside), lambda a: sp.Piecewise((1, a.args[0] > 0), (0, True))
    ).replace(
        lambda a: isinstance(a, ReLU), lambda a: sp.Max(a.args[0], 0)
    )), "numpy")
    formulas = gradient_functions()
    rng = np.random.default_rng(0)
    ok = True
    for _ in range(5):
        xv, b1v, b2v = (rng.normal(size=(n, 1)) for _ in range(3))
        W1v, W2v = rng.normal(size=(n, n)), rng.normal(size=(n, n))
        yv = np.eye(n)[:, [rng.integers(n)]]
        expected = np.asarray(grad_fn(*xv.ravel(), *yv.ravel(), *b1v.ravel(), *b2v.ravel(),
                                      *W1v.ravel(), *W2v.ravel()), dtype=float).reshape(n, 1)
        got = derived_gradients(xv, yv, W1v, b1v, W2v, b2v, formulas)["dJ_dx"]
        ok &= bool(np.allclose(got, expected, rtol=1e-10, atol=1e-12))
    return DerivationStep(
        name="end_to_end",
        lines=[r"J(x) &= -\textstyle\sum_i y_i \log \operatorname{softmax}(\theta)_i,",
               r"\theta &= \operatorname{ReLU}(W_2 d + b_2) + d,\quad d = \operatorname{ReLU}(W_1 x + b_1) + x"],
        result=r"\nabla_x J\ \text{(composite)} &= \frac{\partial J}{\partial x}\ \text{(chained)}",
        verified=ok,
    )


# --------------------------------------------------------------------------------------------
# Matrix formulas, lambdified. Columns are samples, so a batch is an (n, B) matrix.
# --------------------------------------------------------------------------------------------

def gradient_functions() -> dict:
    """The derived matrix formulas as NumPy functions, built from SymPy matrix expressions.

    Returns a dict from quantity name (delta1, delta2, delta3, dJ_dx, dJ_dW1, dJ_dW2) to a callable
    of (Y_hat, Y, M1, M2, X, D, W1, W2): (n, B) arrays except the (n, n) weights, M1 and M2 being
    the masks 1{z1 > 0} and 1{z2 > 0}.
    """
    n, B = sp.symbols("n B", integer=True, positive=True)
    Y_hat, Y = sp.MatrixSymbol("Y_hat", n, B), sp.MatrixSymbol("Y", n, B)
    M1, M2 = sp.MatrixSymbol("M1", n, B), sp.MatrixSymbol("M2", n, B)  # 1{z1 > 0}, 1{z2 > 0}
    X, D = sp.MatrixSymbol("X", n, B), sp.MatrixSymbol("D", n, B)
    W1, W2 = sp.MatrixSymbol("W1", n, n), sp.MatrixSymbol("W2", n, n)
    delta1 = Y_hat - Y
    delta2 = sp.HadamardProduct(delta1, M2)
    delta3 = W2.T * delta2 + delta1
    g1 = sp.HadamardProduct(delta3, M1)
    exprs = {
        "delta1": delta1,
        "delta2": delta2,
        "delta3": delta3,
        "dJ_dx": W1.T * g1 + delta3,
        "dJ_dW2": delta2 * D.T,
        "dJ_dW1": g1 * X.T,
    }
    args = [Y_hat, Y, M1, M2, X, D, W1, W2]
    return {name: sp.lambdify(args, expr, "numpy") for name, expr in exprs.items()}


def forward_numpy(x, W1, b1, W2, b2) -> dict:
    """Forward pass of the report's network; ``x`` is (n, B), biases are (n, 1)."""
    z1 = W1 @ x + b1
    h1 = np.maximum(z1, 0)
    d = h1 + x
    z2 = W2 @ d + b2
    h2 = np.maximum(z2, 0)
    theta = h2 + d
    shifted = theta - theta.max(axis=0, keepdims=True)
    y_hat = np.exp(shifted) / np.exp(shifted).sum(axis=0, keepdims=True)
    return {"z1": z1, "h1": h1, "d": d, "z2": z2, "h2": h2, "theta": theta, "y_hat": y_hat}


def derived_gradients(x, y, W1, b1, W2, b2, functions: dict | None = None) -> dict:
    """Evaluate the SymPy-derived formulas. J is the sum of per-sample cross-entropies.

    ``x`` and ``y`` are (n, B); every gradient is returned per sample, (n, B), except the weight
    gradients, (n, n), which are summed over the batch."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both be (n, batch) arrays of the same shape, got {x.shape} and {y.shape}.")
    functions = functions or gradient_functions()
    fwd = forward_numpy(x, W1, b1, W2, b2)
    args = (fwd["y_hat"], y, (fwd["z1"] > 0).astype(float), (fwd["z2"] > 0).astype(float), x, fwd["d"], W1, W2)
    out = {name: np.asarray(functions[name](*args), dtype=float)
           for name in ("delta1", "delta2", "delta3", "dJ_dx", "dJ_dW1", "dJ_dW2")}
    out["dJ_db1"] = out["delta3"] * args[2]
    out["dJ_db2"] = out["delta2"]
    return out


def autograd_gradients(x, y, W1, b1, W2, b2) -> dict:
    """The same quantities from torch autograd (float64), for comparison; the bias gradients,
    like the weight gradients, are summed over the batch, (n, 1)."""
    t = {k: torch.tensor(np.asarray(v, float), dtype=torch.float64, requires_grad=True)
         for k, v in dict(x=x, W1=W1, b1=b1, W2=W2, b2=b2).items()}
    y_t = torch.tensor(np.asarray(y, float), dtype=torch.float64)
    z1 = t["W1"] @ t["x"] + t["b1"]
    d = torch.relu(z1) + t["x"]
    z2 = t["W2"] @ d + t["b2"]
    theta = torch.relu(z2) + d
    for v in (z2, d, theta):
        v.retain_grad()
    J = -(y_t * torch.log_softmax(theta, dim=0)).sum()
    J.backward()
    return {
        "delta1": theta.grad.numpy(),
        "delta2": z2.grad.numpy(),
        "delta3": d.grad.numpy(),
        "dJ_dx": t["x"].grad.numpy(),
        "dJ_dW1": t["W1"].grad.numpy(),
        "dJ_dW2": t["W2"].grad.numpy(),
        "dJ_db1": t["b1"].grad.numpy(),
        "dJ_db2": t["b2"].grad.numpy(),
    }


def check_against_autograd(sizes=(2, 3, 5, 8), batch: int = 4, trials: int = 5, seed: int = 0):
    """Compare the derived formulas with autograd on random networks of several widths.

    Returns a list of dicts (width, trial, quantity, max_abs_error, max_rel_error) — one row per
    quantity and trial — so a notebook can tabulate it and a test can assert on it.
    """
    rng = np.random.default_rng(seed)
    functions = gradient_functions()
    rows = []
    for n in sizes:
        for trial in range(trials):
            x = rng.normal(size=(n, batch))
            y = np.eye(n)[:, rng.integers(n, size=batch)]
            W1, W2 = rng.normal(size=(n, n)), rng.normal(size=(n, n))
            b1, b2 = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
            ours = derived_gradients(x, y, W1, b1, W2, b2, functions)
            ours["dJ_db1"] = ours["dJ_db1"].sum(axis=1, keepdims=True)
            ours["dJ_db2"] = ours["dJ_db2"].sum(axis=1, keepdims=True)
            theirs = autograd_gradients(x, y, W1, b1, W2, b2)
            for name, value in ours.items():
                diff = np.abs(value - theirs[name])
                scale = np.maximum(np.abs(theirs[name]), 1e-12)
                rows.append({
                    "width": n, "trial": trial, "quantity": name,
                    "max_abs_error": float(diff.max()),
                    "max_rel_error": float((diff / scale).max()),
                })
    return rows


def gradcheck_network(n: int = 4, batch: int = 3, seed: int = 0) -> bool:
    """``torch.autograd.gradcheck`` of J with respect to x and all weights, in float64."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(*shape, dtype=torch.float64, generator=gen, requires_grad=True)
              for shape in ((n, batch), (n, n), (n, 1), (n, n), (n, 1))]
    labels = torch.randint(n, (batch,), generator=gen)
    y = torch.nn.functional.one_hot(labels, n).T.to(torch.float64)

    def J(x, W1, b1, W2, b2):
        d = torch.relu(W1 @ x + b1) + x
        theta = torch.relu(W2 @ d + b2) + d
        return -(y * torch.log_softmax(theta, dim=0)).sum()

    return bool(torch.autograd.gradcheck(J, inputs, eps=1e-6, atol=1e-6))


# --------------------------------------------------------------------------------------------
# Why the skip matters: gradient norms through a deep stack, with and without skips.
# --------------------------------------------------------------------------------------------

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class DeepNet(nn.Module):
    """A stack of ``depth`` blocks h_{l+1} = act(W_l h_l + b_l), plus h_l when ``skip`` is set,
    followed by a linear head. The report's network is depth 2 with skips and no head.

    With skips, each block adds ``branch_scale * act(W h + b)``; 1/sqrt(depth) keeps a deep stack's
    activations from growing with depth at PyTorch's default initialisation (the job BatchNorm or a
    zero-initialised last layer does in real residual networks)."""

    def __init__(self, width: int, depth: int, n_classes: int = 10, activation: str = "relu",
                 skip: bool = False, branch_scale: float = 1.0):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"Parameter 'activation' must be one of {sorted(_ACTIVATIONS)}, got {activation!r}.")
        act = _ACTIVATIONS[activation]
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(width, width), act()) for _ in range(depth))
        self.head = nn.Linear(width, n_classes)
        self.skip = skip
        self.branch_scale = branch_scale

    def forward(self, h: torch.Tensor, keep: list | None = None) -> torch.Tensor:
        """``h`` is (batch, width); when ``keep`` is a list, every block input is appended to it
        with its gradient retained."""
        for block in self.blocks:
            self._keep(h, keep)
            h = h + self.branch_scale * block(h) if self.skip else block(h)
        self._keep(h, keep)
        return self.head(h)

    @staticmethod
    def _keep(h: torch.Tensor, keep: list | None) -> None:
        if keep is None:
            return
        if h.requires_grad:
            h.retain_grad()
        keep.append(h)


def layer_gradient_norms(width: int = 64, depth: int = 30, activation: str = "relu", skip: bool = False,
                         batch: int = 128, n_classes: int = 10, seed: int = 0, device: str = "cpu",
                         branch_scale: float | None = None) -> np.ndarray:
    """Norm of dJ/dh_l for l = 0 (input of the first block) .. depth (input of the head).

    PyTorch's default initialisation (uniform, variance 1/(3 fan_in)) is used on purpose: it is
    what a student gets without thinking about it, and it is where a plain stack vanishes.
    """
    torch.manual_seed(seed)
    branch_scale = depth ** -0.5 if branch_scale is None else branch_scale
    net = DeepNet(width, depth, n_classes, activation, skip, branch_scale).to(device)
    x = torch.randn(batch, width, device=device, requires_grad=True)
    labels = torch.randint(n_classes, (batch,), device=device)
    kept: list = []
    loss = torch.nn.functional.cross_entropy(net(x, keep=kept), labels)
    loss.backward()
    return np.array([h.grad.norm().item() for h in kept])


def train_loss_curves(width: int = 64, depth: int = 40, steps: int = 300, batch: int = 256,
                      activation: str = "relu", n_classes: int = 10, lr: float = 0.1, seed: int = 0,
                      device: str = "cpu", branch_scale: float | None = None) -> dict[str, np.ndarray]:
    """Train a plain and a residual ``DeepNet`` with plain SGD on the same teacher task.

    Inputs are Gaussian; the label is the arg-max of a fixed random linear map, so a linear model
    could reach 100%: any failure is the optimiser's, not the task's. Both networks start from the
    same seed and see the same batches. Returns the training loss at every step of each.
    """
    curves = {}
    branch_scale = depth ** -0.5 if branch_scale is None else branch_scale
    teacher = torch.randn(width, n_classes, generator=torch.Generator().manual_seed(seed + 1))
    for name, skip in (("plain", False), ("residual", True)):
        torch.manual_seed(seed)
        net = DeepNet(width, depth, n_classes, activation, skip, branch_scale).to(device)
        optimiser = torch.optim.SGD(net.parameters(), lr=lr)
        data = torch.Generator().manual_seed(seed + 2)
        losses = np.empty(steps)
        for step in range(steps):
            x = torch.randn(batch, width, generator=data)
            labels = (x @ teacher).argmax(dim=1)
            loss = nn.functional.cross_entropy(net(x.to(device)), labels.to(device))
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)  # the residual stack's gradients are large at init
            optimiser.step()
            losses[step] = loss.item()
        curves[name] = losses
    return curves
