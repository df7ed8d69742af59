"""Q2: "Let's not vanish", backpropagation through a two-block residual network.

The chapter's parameters and profiles, its metrics with their labels, its table and figures;
the notebook ``book/q2_vanishing.md`` is prose and short calls into this module. The science is
:mod:`hw5lib.backprop`.

The book's registry imports every chapter module to read its parameters, so the heavy imports
(torch, SymPy, Matplotlib, pandas) are made inside the functions that need them."""

from __future__ import annotations

from hw5lib.publish.chapter import Chapter, Reported
from hw5lib.publish.profiles import Parameter
from hw5lib.publish.results import ChapterResults, glue_value

# Q2 of the report is a derivation: its results are formulas (delta1 .. dJ/dx, checked by
# backprop.derive and against autograd), not numbers, so there is nothing to put beside ours.
REPORTED: dict[str, Reported] = {}

CHAPTER = Chapter(
    "q2_vanishing",
    {"fa": "سوال ۲: محو نشویم", "en": "Q2: Let's not vanish"},
    (
        Parameter("symbolic_width", "int", {"smoke": 2, "quick": 3, "full": 3},
                  "units per layer in the SymPy derivation (the formulas do not depend on it)",
                  minimum=1, maximum=4),
        Parameter("check_widths", "int_list", {"smoke": [2, 3], "quick": [2, 3, 5, 8, 16],
                                               "full": [2, 3, 5, 8, 16, 64, 256]},
                  "layer widths at which the derived gradients are compared with autograd",
                  minimum=1, maximum=4096),
        Parameter("check_trials", "int", {"smoke": 2, "quick": 10, "full": 50},
                  "random networks per width in the autograd comparison", minimum=1, maximum=10_000),
        Parameter("depth", "int", {"smoke": 8, "quick": 40, "full": 100},
                  "blocks in the deep network of the vanishing-gradient experiment", minimum=2, maximum=1000),
        Parameter("width", "int", {"smoke": 16, "quick": 64, "full": 256},
                  "units per block in the deep network", minimum=2, maximum=8192),
        Parameter("batch", "int", {"smoke": 32, "quick": 256, "full": 1024},
                  "samples in the batch whose gradient is measured", minimum=1, maximum=1_000_000),
        Parameter("train_steps", "int", {"smoke": 20, "quick": 300, "full": 2000},
                  "optimisation steps when training the plain and the residual network", minimum=1,
                  maximum=1_000_000),
    ),
    reported=REPORTED,
)
setup = CHAPTER.setup

ACTIVATIONS = ("relu", "tanh", "sigmoid")  # the panels of the gradient-norm figure, in order
_ACTIVATION_TITLES = {"relu": "ReLU", "tanh": "tanh", "sigmoid": r"$\sigma$"}
_STACK_LABELS = {"plain": r"$h_{\ell+1}=f(h_\ell)$", "residual": r"$h_{\ell+1}=h_\ell+\alpha f(h_\ell)$"}
ERROR_HEADERS = {
    "fa": ["پهنا n", "بیشینهٔ خطای مطلق", "بیشینهٔ خطای نسبی"],
    "en": ["width n", "max absolute error", "max relative error"],
}


# the headline numbers that the prose also quotes: results key -> (glue name, format, label fa, label en)
_GLUED_METRICS = {
    "grad_ratio_plain": ("q2_ratio_plain", "{:.1e}", "‖∂J/∂h₀‖ / ‖∂J/∂h_L‖ بدون میان‌بُر (ReLU)",
                         "‖∂J/∂h₀‖ / ‖∂J/∂h_L‖, plain (ReLU)"),
    "grad_ratio_residual": ("q2_ratio_residual", "{:.2f}", "‖∂J/∂h₀‖ / ‖∂J/∂h_L‖ با میان‌بُر (ReLU)",
                            "‖∂J/∂h₀‖ / ‖∂J/∂h_L‖, residual (ReLU)"),
    "final_loss_plain": ("q2_final_plain", "{:.3f}", "هزینهٔ پایانی آموزش، شبکهٔ ساده", "final training loss, plain"),
    "final_loss_residual": ("q2_final_residual", "{:.3f}", "هزینهٔ پایانی آموزش، شبکهٔ باقیمانده",
                            "final training loss, residual"),
}


def _publish_metric(results: ChapterResults, key: str, value: float) -> None:
    """Glue ``value`` for the prose and record it in ``results``, as :data:`_GLUED_METRICS` says."""
    name, fmt, fa, en = _GLUED_METRICS[key]
    glue_value(name, value, fmt)
    results.add(key, value, fmt=fmt, fa=fa, en=en)


def data(seed: int) -> dict:
    """The chapter's data record: every network and input is drawn at random from ``seed``."""
    return {"name": "random networks and inputs", "synthetic": True, "seed": seed}


# --- the derivation -------------------------------------------------------------------------

def record_derivation(results: ChapterResults, derivation) -> None:
    """Record how many steps of ``derivation`` (a :class:`backprop.Derivation`) SymPy verified,
    and stop the chapter if one was not."""
    verified = sum(step.verified for step in derivation.steps)
    results.add("steps_verified", f"{verified}/{len(derivation.steps)}",
                fa="گام‌های اشتقاق تأییدشده با SymPy", en="derivation steps verified by SymPy")
    if not derivation.all_verified:
        raise AssertionError("A derived formula disagrees with SymPy's composite derivative.")


# --- the formulas against autograd ----------------------------------------------------------

def autograd_errors(P):
    """``backprop.check_against_autograd`` at the chapter's widths and trials, as a DataFrame with
    one row per (width, trial, quantity) and its max_abs_error and max_rel_error."""
    import pandas as pd

    from hw5lib import backprop

    return pd.DataFrame(backprop.check_against_autograd(P.check_widths, trials=P.check_trials, seed=P.seed))


def error_table(rows):
    """Largest errors per width of ``rows`` (as from :func:`autograd_errors`): a frame of
    (width, max_abs_error, max_rel_error), and its headers in each language."""
    summary = rows.groupby("width")[["max_abs_error", "max_rel_error"]].max().reset_index()
    return summary, ERROR_HEADERS


def publish_autograd_check(results: ChapterResults, rows, gradcheck_passed: bool) -> None:
    """Glue the gradcheck's verdict (``q2_gradcheck``), record the largest absolute error of
    ``rows`` (as from :func:`autograd_errors`), and stop the chapter if either check failed."""
    glue_value("q2_gradcheck", {"fa": "گذشت", "en": "passed"} if gradcheck_passed
               else {"fa": "نگذشت", "en": "failed"})
    results.add("max_abs_error_vs_autograd", rows["max_abs_error"].max(), fmt="{:.1e}",
                fa="بیشینهٔ خطای مطلق فرمول‌ها در برابر autograd", en="max |derived − autograd| gradient error")
    if not (gradcheck_passed and rows["max_rel_error"].max() < 1e-8):
        raise AssertionError("The derived gradients disagree with autograd, or autograd with finite differences.")


# --- why the skip matters -------------------------------------------------------------------

def gradient_norms(P) -> dict:
    """``backprop.layer_gradient_norms`` of the plain and the residual stack for every activation
    of :data:`ACTIVATIONS`: a dict from (activation, skip) to an array of depth + 1 norms."""
    from hw5lib import backprop

    return {(act, skip): backprop.layer_gradient_norms(P.width, P.depth, act, skip, P.batch, seed=P.seed,
                                                       device=P.device)
            for act in ACTIVATIONS for skip in (False, True)}


def gradient_norms_figure(norms: dict):
    """One panel per activation: the norm of dJ/dh_l against l, plain and residual, log scale."""
    import matplotlib.pyplot as plt

    from hw5lib.publish.plotting import PALETTE

    fig, axes = plt.subplots(1, len(ACTIVATIONS), figsize=(11, 3.4), sharey=True)
    for ax, act in zip(axes, ACTIVATIONS):
        for stack, skip in (("plain", False), ("residual", True)):
            ax.semilogy(norms[(act, skip)], color=PALETTE[stack], label=_STACK_LABELS[stack])
        ax.set_title(_ACTIVATION_TITLES[act])
        ax.set_xlabel(r"$\ell$")
    axes[0].set_ylabel(r"$\|\partial J / \partial h_\ell\|_2$")
    axes[0].legend(loc="lower right", fontsize=8)
    return fig


def publish_gradient_ratios(results: ChapterResults, norms: dict) -> dict:
    """‖dJ/dh_0‖ / ‖dJ/dh_L‖ of the ReLU stacks in ``norms`` (as from :func:`gradient_norms`),
    glued (``q2_ratio_plain``, ``q2_ratio_residual``) and recorded; returns {"plain", "residual"}."""
    ratios = {stack: float(norms[("relu", skip)][0] / norms[("relu", skip)][-1])
              for stack, skip in (("plain", False), ("residual", True))}
    for stack, ratio in ratios.items():
        _publish_metric(results, f"grad_ratio_{stack}", ratio)
    return ratios


# --- does the network learn? ----------------------------------------------------------------

def training_figure(curves: dict):
    """The training loss at every step of the plain and the residual stack (``curves`` as from
    ``backprop.train_loss_curves``), with the uniform guess's loss log 10 for reference."""
    import matplotlib.pyplot as plt
    import numpy as np

    from hw5lib.publish.plotting import PALETTE

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for stack in ("plain", "residual"):
        ax.plot(curves[stack], color=PALETTE[stack], label=_STACK_LABELS[stack])
    ax.axhline(np.log(10), color=PALETTE["reference"], linestyle="--", linewidth=1, label=r"$\log 10$")
    ax.set_xlabel(r"$t$")
    ax.set_ylabel(r"$J$")
    ax.legend(fontsize=8)
    return fig


def final_losses(curves: dict) -> dict[str, float]:
    """Mean loss of each curve over its last tenth of steps (at least the last step)."""
    import numpy as np

    return {name: float(np.mean(losses[-max(1, len(losses) // 10):])) for name, losses in curves.items()}


def publish_final_losses(results: ChapterResults, curves: dict) -> dict[str, float]:
    """:func:`final_losses` of ``curves``, glued (``q2_final_plain``, ``q2_final_residual``) and
    recorded."""
    final = final_losses(curves)
    for stack in ("plain", "residual"):
        _publish_metric(results, f"final_loss_{stack}", final[stack])
    return final
