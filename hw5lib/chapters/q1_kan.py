"""Q1.4: Kolmogorov-Arnold Networks against MLPs.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q1_kan.md`` is prose and short calls into this module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from hw5lib.chapters.common import spoken_digits
from hw5lib.publish.chapter import Chapter, Reported
from hw5lib.publish.i18n import LANGUAGES, check_language, localise_number
from hw5lib.publish.profiles import Parameter

if TYPE_CHECKING:  # the registry imports every chapter module: torch, pandas and Matplotlib wait for a call
    import numpy as np
    import pandas as pd

    from hw5lib.kan.experiments import Interpretation

# The report's Q1.4 gives no numbers: its figures were borrowed and none of its claims was measured
# (its Table 1 is words and formulas, kept with the theorem corrected in table1 below).
REPORTED: dict[str, Reported] = {}

CHAPTER = Chapter(
    "q1_kan",
    {"fa": "سوال ۱.۴: شبکه‌های کولموگروف–آرنولد در برابر MLP",
     "en": "Q1.4: Kolmogorov–Arnold Networks against MLPs"},
    (
        Parameter("fit_steps", "int", {"smoke": 4, "quick": 20, "full": 100},
                  "L-BFGS steps per grid size (KAN) or per model (MLP, twice as many in all) on the toy "
                  "functions", minimum=1, maximum=100_000),
        Parameter("kan_grids", "increasing_int_list", {"smoke": [3, 5], "quick": [3, 5, 10, 20],
                                            "full": [3, 5, 10, 20, 50, 100]},
                  "grid sizes of the KAN's grid extension on the toy functions", minimum=1, maximum=1000),
        Parameter("mlp_widths", "int_list", {"smoke": [4, 16], "quick": [4, 16, 64],
                                             "full": [4, 8, 16, 32, 64, 128, 256]},
                  "hidden widths of the MLPs compared on the toy functions", minimum=1, maximum=4096),
        Parameter("mlp_depths", "int_list", {"smoke": [2], "quick": [2, 3], "full": [2, 3, 4]},
                  "hidden layers of the MLPs compared on the toy functions", minimum=1, maximum=16),
        Parameter("interpret_steps", "int", {"smoke": 6, "quick": 50, "full": 100},
                  "L-BFGS steps of each stage of the interpretability experiment", minimum=2, maximum=100_000),
        Parameter("phase_steps", "int", {"smoke": 30, "quick": 200, "full": 1000},
                  "Adam steps on each peak of the forgetting experiment", minimum=1, maximum=1_000_000),
        *spoken_digits({"smoke": 3, "quick": 6, "full": 60}, {"smoke": 4, "quick": 15, "full": 50}),
        Parameter("digit_epochs", "int", {"smoke": 10, "quick": 100, "full": 300},
                  "Adam epochs of the mean-MFCC digit classifiers", minimum=1, maximum=100_000),
        Parameter("kan_hidden", "int", 8, "hidden width of the digit KAN (the MLPs are matched to it)",
                  minimum=1, maximum=1024),
    ),
    reported=REPORTED,
)
setup = CHAPTER.setup


# --- the spoken digits ------------------------------------------------------------------------------


def digit_features(P):
    """The chapter's spoken digits sized by the parameters ``P`` (a :class:`hw5lib.data.audio.DigitSet`)
    and their features for :func:`hw5lib.kan.experiments.digits_comparison`: one mean-MFCC vector
    per clip, (clips, 13)."""
    from hw5lib.data import audio
    from hw5lib.kan.experiments import mean_mfcc

    clips = audio.load_sized_digits(P.data, P.speakers, P.clips_per_digit, seed=P.seed, report=None)
    return clips, mean_mfcc(audio.extract(clips.audio, clips.sample_rate, kind="mfcc", progress=False))


# --- what the numbers say ----------------------------------------------------------------------------
# The verdicts are sentences that follow this run's numbers, so that no profile or data set can make
# the prose say what its tables contradict. Each returns (held, sentence in ``lang``).

def in_both_languages(verdict: Callable[..., tuple[bool, str]], *args) -> dict[str, str]:
    """The sentence of ``verdict(*args, lang)`` in every language, as ``glue_value`` takes words."""
    return {lang: verdict(*args, lang)[1] for lang in LANGUAGES}


def best_rows(rows: Sequence[dict]) -> tuple[dict, dict]:
    """The KAN row and the MLP row of :func:`hw5lib.kan.experiments.scaling` with the lowest test RMSE."""
    kan = min((row for row in rows if row["model"] == "KAN"), key=lambda row: row["test_rmse"])
    mlp = min((row for row in rows if row["model"] == "MLP"), key=lambda row: row["test_rmse"])
    return kan, mlp


def accuracy_verdict(rows: Sequence[dict], lang: str) -> tuple[bool, str]:
    """Did the KAN fit the toy function better than every MLP, with fewer parameters?"""
    fa = check_language(lang) == "fa"
    kan, mlp = best_rows(rows)
    better, smaller = kan["test_rmse"] < mlp["test_rmse"], kan["parameters"] < mlp["parameters"]
    kan_size, kan_error, mlp_size, mlp_error = (localise_number(text, lang) for text in (
        f"{kan['parameters']:d}", f"{kan['test_rmse']:.2g}", f"{mlp['parameters']:d}", f"{mlp['test_rmse']:.2g}"))
    numbers = (f"KAN با {kan_size} پارامتر به RMSE آزمون {kan_error} رسید "
               f"و بهترین MLP با {mlp_size} پارامتر به {mlp_error}"
               if fa else
               f"the KAN reached a test RMSE of {kan_error} with {kan_size} parameters, "
               f"the best MLP {mlp_error} with {mlp_size}")
    if better and smaller:
        return True, (f"برقرار: {numbers}." if fa else f"Held: {numbers}.")
    if better:
        return False, (f"نیمه: {numbers}؛ دقیق‌تر، ولی با پارامتر بیشتر." if fa else
                       f"Partly: {numbers}; more accurate, but not with fewer parameters.")
    return False, (f"برقرار نبود: {numbers}." if fa else f"Did not hold: {numbers}.")


def interpretability_verdict(result: Interpretation, lang: str, tolerance: float = 1e-2) -> tuple[bool, str]:
    """Did pruning and snapping give back a formula as accurate as the network?"""
    fa = check_language(lang) == "fa"
    edges = ("، " if fa else ", ").join(edge.name for edge in result.snapped)
    count, formula, spline = (localise_number(text, lang) for text in (
        f"{len(result.snapped):d}", f"{result.rmse_formula:.2g}", f"{result.rmse_spline:.2g}"))
    if result.rmse_formula < tolerance:
        return True, (f"برقرار: پس از هرس، {count} یال ماند ({edges}) و فرمول به‌دست‌آمده "
                      f"تابع را با RMSE آزمون {formula} بازمی‌سازد." if fa else
                      f"Held: after pruning {count} edge{'s' if len(result.snapped) != 1 else ''} remained ({edges}), "
                      f"and the formula read off {'them' if len(result.snapped) != 1 else 'it'} reproduces the "
                      f"function with a test RMSE of {formula}.")
    return False, (f"برقرار نبود: فرمول به‌دست‌آمده ({edges}) خطای آزمون {formula} دارد، "
                   f"در برابر {spline} برای شبکهٔ اسپلاینی." if fa else
                   f"Did not hold: the snapped formula ({edges}) has a test RMSE of {formula}, "
                   f"against {spline} for the spline network.")


def forgetting_verdict(kan: dict, mlp: dict, lang: str, forgotten: float = 0.05) -> tuple[bool, str]:
    """Did the KAN keep the earlier peaks (error below ``forgotten``, the peaks being 1 high)?"""
    fa = check_language(lang) == "fa"
    kan_error, mlp_error = kan["earlier_rmse"][-1], mlp["earlier_rmse"][-1]
    kan_text, mlp_text = (localise_number(f"{error:.2g}", lang) for error in (kan_error, mlp_error))
    numbers = (f"خطای پس از مرحلهٔ آخر روی ناحیه‌های پیشین: KAN {kan_text}، MLP {mlp_text} (ارتفاع قله‌ها ۱)" if fa else
               f"the error on the earlier regions after the last phase is {kan_text} for the KAN and "
               f"{mlp_text} for the MLP (the peaks are 1 high)")
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
    fa = check_language(lang) == "fa"
    kan = next(row for row in rows if row["model"] == "KAN")
    mlp = next(row for row in rows if row["model"] == "MLP (same parameters)")
    slower = kan["seconds"] / max(mlp["seconds"], 1e-9)
    kan_accuracy, mlp_accuracy, times = (localise_number(f"{value:.1f}", lang) for value in (
        100 * kan["accuracy"], 100 * mlp["accuracy"], slower))
    numbers = (f"دقت KAN {kan_accuracy}٪ و MLP هم‌اندازه {mlp_accuracy}٪، و آموزش KAN {times} برابر زمان برد" if fa else
               f"the KAN's accuracy is {kan_accuracy}% and the equal-size MLP's {mlp_accuracy}%, "
               f"and the KAN took {times} times as long to train")
    if kan["accuracy"] > mlp["accuracy"]:
        return True, (f"برقرار: {numbers}." if fa else f"Held: {numbers}.")
    return False, (f"برقرار نبود: {numbers}." if fa else f"Did not hold: {numbers}.")


# --- the report's numbers of this run (results.json) -------------------------------------------------

# the models of hw5lib.kan.experiments.digits_comparison: their keys in results.json and Persian names
DIGIT_MODEL_KEYS = {"KAN": "kan", "MLP (same parameters)": "mlp_same_parameters", "MLP (same width)": "mlp_same_width"}
DIGIT_MODEL_NAMES_FA = {"KAN": "KAN", "MLP (same parameters)": "MLP (هم‌پارامتر)", "MLP (same width)": "MLP (هم‌پهنا)"}


def record_scaling(results, scaling: dict[str, Sequence[dict]]) -> None:
    """Add the best KAN's and the best MLP's test RMSE and parameters on every toy function."""
    for name, toy_rows in scaling.items():
        best_kan, best_mlp = best_rows(toy_rows)
        results.add(f"{name}_kan_rmse", best_kan["test_rmse"], fa=f"RMSE آزمون بهترین KAN ({name})",
                    en=f"test RMSE of the best KAN ({name})")
        results.add(f"{name}_kan_parameters", best_kan["parameters"], fa=f"پارامترهای آن KAN ({name})",
                    en=f"parameters of that KAN ({name})", fmt="{}")
        results.add(f"{name}_mlp_rmse", best_mlp["test_rmse"], fa=f"RMSE آزمون بهترین MLP ({name})",
                    en=f"test RMSE of the best MLP ({name})")
        results.add(f"{name}_mlp_parameters", best_mlp["parameters"], fa=f"پارامترهای آن MLP ({name})",
                    en=f"parameters of that MLP ({name})", fmt="{}")


def record_interpretation(results, interpretation: Interpretation) -> None:
    """Add the recovered formula's test RMSE and the number of edges pruning kept."""
    results.add("interpretation_formula_rmse", interpretation.rmse_formula, fa="RMSE آزمون فرمول به‌دست‌آمده",
                en="test RMSE of the recovered formula")
    results.add("interpretation_edges_kept", sum(interpretation.active_after), fa="یال‌های ماندهٔ پس از هرس",
                en="edges kept by pruning", fmt="{}")


def record_forgetting(results, kan: dict, mlp: dict) -> None:
    """Add each model's error on the earlier peaks after the last phase of the five-peak task."""
    for name, outcome in (("kan", kan), ("mlp", mlp)):
        results.add(f"forgetting_{name}", outcome["earlier_rmse"][-1],
                    fa=f"خطای {name.upper()} روی قله‌های پیشین پس از مرحلهٔ آخر",
                    en=f"{name.upper()} error on the earlier peaks after the last phase")


def record_speech(results, speech: Sequence[dict]) -> None:
    """Add every digit model's test accuracy in percent."""
    for row in speech:
        results.add(f"digits_{DIGIT_MODEL_KEYS[row['model']]}_accuracy", 100 * row["accuracy"],
                    fa=f"دقت آزمون {DIGIT_MODEL_NAMES_FA[row['model']]} روی ارقام (٪)",
                    en=f"test accuracy of the {row['model']} on the digits (%)", fmt="{:.1f}")



# --- tables: (a frame, or frames by language, and headers by language) for publish_table -------------

def scaling_table(scaling: dict[str, Sequence[dict]]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Every model of the accuracy experiment: function, model, shape, grid (blank for an MLP),
    parameters, test RMSE, seconds."""
    import pandas as pd

    rows = [dict(row, function=name) for name, toy_rows in scaling.items() for row in toy_rows]
    frame = pd.DataFrame(rows)[["function", "model", "shape", "grid", "parameters", "test_rmse", "seconds"]]
    frame["grid"] = frame["grid"].map(lambda grid: "" if pd.isna(grid) else str(int(grid)))
    return frame, {"fa": ["تابع", "مدل", "شکل", "شبکه (G)", "پارامترها", "RMSE آزمون", "ثانیه"],
                   "en": ["function", "model", "shape", "grid (G)", "parameters", "test RMSE", "seconds"]}


def snapped_table(interpretation: Interpretation) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Every snapped edge: its name, the library function and the constants of c f(ax + b) + d, the fit's R²."""
    import pandas as pd

    frame = pd.DataFrame([{"edge": f"φ{layer + 1},{edge.out_index + 1},{edge.in_index + 1}", "function": edge.name,
                           "a": edge.fit.a, "b": edge.fit.b, "c": edge.fit.c, "d": edge.fit.d, "r2": edge.r2}
                          for layer, kan_layer in enumerate(interpretation.model.layers)
                          for edge in kan_layer.symbolic])
    return frame, {"fa": ["یال", "تابع", "a", "b", "c", "d", "R² برازش"],
                   "en": ["edge", "function", "a", "b", "c", "d", "R² of the fit"]}


def digits_table(speech: Sequence[dict]) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """The digit models: model, shape, parameters, test and train accuracy (%), training seconds;
    one frame per language (the models' names differ)."""
    import pandas as pd

    frame = pd.DataFrame(speech)[["model", "shape", "parameters", "accuracy", "train_accuracy", "seconds"]]
    frame[["accuracy", "train_accuracy"]] *= 100
    return ({"en": frame, "fa": frame.assign(model=frame["model"].map(DIGIT_MODEL_NAMES_FA))},
            {"fa": ["مدل", "شکل", "پارامترها", "دقت آزمون (٪)", "دقت آموزش (٪)", "ثانیهٔ آموزش"],
             "en": ["model", "shape", "parameters", "test accuracy (%)", "train accuracy (%)", "training seconds"]})


# the report's Table 1 (theory, formula, architecture), with the theorem's formula corrected
_FORMULAS = [(r"$f(x) = \sum_{q=0}^{2n} \Phi_q\big(\sum_{p=1}^{n} \phi_{q,p}(x_p)\big)$",
              r"$f(x) \approx \sum_{i=1}^{N} a_i\,\sigma(w_i \cdot x + b_i)$"),
             (r"$(\Phi_3 \circ \Phi_2 \circ \Phi_1)(x)$", r"$(W_3 \circ \sigma \circ W_2 \circ \sigma \circ W_1)(x)$")]
TABLE1_ROWS = {
    "en": [("theory", "Kolmogorov–Arnold representation theorem", "universal approximation theorem"),
           ("formula",) + _FORMULAS[0], ("network",) + _FORMULAS[1],
           ("on the edges", "learnable univariate functions (B-splines and silu)", "learnable weights"),
           ("on the nodes", "a sum", "a fixed activation"),
           ("parameters per edge", "G + k + 1", "1")],
    "fa": [("نظریه", "قضیهٔ نمایش کولموگروف–آرنولد", "قضیهٔ تقریب جهانی"),
           ("فرمول",) + _FORMULAS[0], ("شبکه",) + _FORMULAS[1],
           ("روی یال‌ها", "تابع‌های یک‌متغیرهٔ یادگرفتنی (B-spline و silu)", "وزن‌های یادگرفتنی"),
           ("روی گره‌ها", "جمع", "تابع فعال‌سازی ثابت"),
           ("پارامتر هر یال", "G + k + 1", "1")],
}
# the rows this run measures, in the order of table1's cells
TABLE1_MEASURED = {
    "en": ["measured: parameters, exp(sin(πx) + y²)", "measured: test RMSE there",
           "measured: digit accuracy, equal parameters", "measured: digit training seconds",
           "measured: error on the earlier peaks (forgetting)"],
    "fa": ["سنجیده: پارامترها، exp(sin(πx) + y²)", "سنجیده: RMSE آزمون همان‌جا", "سنجیده: دقت ارقام، با پارامتر برابر",
           "سنجیده: ثانیه‌های آموزش ارقام", "سنجیده: خطا روی قله‌های پیشین (فراموشی)"],
}


def table1(toy_rows: Sequence[dict], speech: Sequence[dict], forgetting_kan: dict,
           forgetting_mlp: dict) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """The report's Table 1 (row, KAN, MLP) and the rows measured here: the best KAN's and MLP's
    size and test RMSE on ``toy_rows`` (one toy function's scaling rows), the digit accuracy and
    training seconds of the KAN and the equal-size MLP, and the error on the earlier peaks; one
    frame per language."""
    import pandas as pd

    kan_toy, mlp_toy = best_rows(toy_rows)
    kan_digits = next(row for row in speech if row["model"] == "KAN")
    mlp_digits = next(row for row in speech if row["model"] == "MLP (same parameters)")
    measured = [(str(kan_toy["parameters"]), str(mlp_toy["parameters"])),
                (f"{kan_toy['test_rmse']:.2g}", f"{mlp_toy['test_rmse']:.2g}"),
                (f"{100 * kan_digits['accuracy']:.1f}%", f"{100 * mlp_digits['accuracy']:.1f}%"),
                (f"{kan_digits['seconds']:.2f}", f"{mlp_digits['seconds']:.2f}"),
                (f"{forgetting_kan['earlier_rmse'][-1]:.2g}", f"{forgetting_mlp['earlier_rmse'][-1]:.2g}")]
    frames = {lang: pd.DataFrame(TABLE1_ROWS[lang] + [(label,) + cells for label, cells in
                                                      zip(TABLE1_MEASURED[lang], measured)],
                                 columns=["row", "kan", "mlp"]) for lang in ("fa", "en")}
    return frames, {"fa": ["", "KAN", "MLP"], "en": ["", "KAN", "MLP"]}


# --- figures (language-neutral: symbols and numbers; the notebook captions them) ---------------------

def plot_scaling(scaling: dict[str, Sequence[dict]]):
    """Test RMSE against parameters, log-log, one panel per toy function (its scaling rows)."""
    import matplotlib.pyplot as plt

    from hw5lib.kan.experiments import TOYS
    from hw5lib.publish.plotting import PALETTE

    fig, axes = plt.subplots(1, len(scaling), figsize=(5.2 * len(scaling), 3.8), squeeze=False)
    for ax, (name, rows) in zip(axes[0], scaling.items()):
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


def _edge_layout(scores: np.ndarray) -> tuple[int, int, Callable[[int, int], tuple[int, int]]]:
    """Where one layer's edges go in plot_edges, from its (out, in) scores: (rows, columns, and
    (out, in) -> (row, column)); a layer with several outputs has a row per input, a column per output."""
    outputs, inputs = scores.shape
    if outputs > 1:
        return inputs, outputs, lambda out_index, in_index: (in_index, out_index)
    return 1, inputs, lambda out_index, in_index: (0, in_index)


def plot_edges(result: Interpretation):
    """Every edge function of the trained KAN before pruning, one block of panels per layer
    (see :func:`_edge_layout`) on one vertical scale per layer; pruned edges grey and dotted, the
    rest drawn with an opacity that grows with the edge's mean absolute value."""
    import matplotlib.pyplot as plt
    import numpy as np

    from hw5lib.publish.plotting import PALETTE

    layouts = [_edge_layout(scores) for scores in result.scores_before]
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
