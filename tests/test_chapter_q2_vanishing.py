"""hw5lib.chapters.q2_vanishing: the chapter's metrics, its table and figures."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from hw5lib import backprop
from hw5lib.chapters import q2_vanishing as chapter
from hw5lib.publish.results import ChapterResults


def new_results():
    return ChapterResults(chapter.CHAPTER.name, dict(chapter.CHAPTER.title))


def test_every_derivation_step_counts_and_an_unverified_one_stops_the_chapter():
    derivation = backprop.derive(1)
    results = new_results()
    chapter.record_derivation(results, derivation)
    assert results["steps_verified"].value == f"{len(derivation.steps)}/{len(derivation.steps)}"
    derivation.steps[1].verified = False
    with pytest.raises(AssertionError, match="disagrees"):
        chapter.record_derivation(new_results(), derivation)


def test_error_table_keeps_the_largest_error_of_each_width():
    rows = pd.DataFrame(backprop.check_against_autograd(sizes=(2, 3), batch=2, trials=2, seed=0))
    summary, headers = chapter.error_table(rows)
    assert list(summary["width"]) == [2, 3]
    for width, group in rows.groupby("width"):
        line = summary[summary["width"] == width].iloc[0]
        assert line["max_abs_error"] == group["max_abs_error"].max()
        assert line["max_rel_error"] == group["max_rel_error"].max()
    assert all(len(columns) == summary.shape[1] for columns in headers.values())


def test_a_failed_autograd_check_stops_the_chapter():
    rows = pd.DataFrame({"max_abs_error": [1e-15], "max_rel_error": [1e-12]})
    results = new_results()
    chapter.publish_autograd_check(results, rows, True)
    assert results["max_abs_error_vs_autograd"].value == 1e-15
    with pytest.raises(AssertionError):
        chapter.publish_autograd_check(new_results(), rows, False)
    with pytest.raises(AssertionError):
        chapter.publish_autograd_check(new_results(), rows.assign(max_rel_error=1e-3), True)


def test_gradient_ratios_are_first_over_last_layer_of_the_relu_stacks():
    norms = {(act, skip): np.array([1.0, 2.0, 4.0]) if skip else np.array([1e-6, 1.0, 2.0])
             for act in chapter.ACTIVATIONS for skip in (False, True)}
    norms[("tanh", False)] = np.array([9.0, 1.0])  # other activations do not enter the ratios
    results = new_results()
    ratios = chapter.publish_gradient_ratios(results, norms)
    assert ratios == {"plain": 5e-7, "residual": 0.25}
    assert results["grad_ratio_plain"].value == 5e-7 and results["grad_ratio_residual"].value == 0.25


def test_final_loss_is_the_mean_of_the_last_tenth():
    curves = {"plain": np.arange(20.0), "residual": np.array([3.0])}
    assert chapter.final_losses(curves) == {"plain": 18.5, "residual": 3.0}


def test_figures_have_a_panel_per_activation_and_both_stacks():
    norms = {(act, skip): np.geomspace(1e-3, 1, 5) for act in chapter.ACTIVATIONS for skip in (False, True)}
    fig = chapter.gradient_norms_figure(norms)
    assert isinstance(fig, Figure) and len(fig.axes) == len(chapter.ACTIVATIONS)
    assert all(len(ax.get_lines()) == 2 and ax.get_yscale() == "log" for ax in fig.axes)
    fig = chapter.training_figure({"plain": np.full(5, 2.3), "residual": np.linspace(2.3, 1.0, 5)})
    assert len(fig.axes[0].get_lines()) == 3  # the two stacks and the log 10 reference


def test_the_report_gives_no_numbers_for_q2():
    assert chapter.REPORTED == {} and chapter.CHAPTER.report("anything") is None
