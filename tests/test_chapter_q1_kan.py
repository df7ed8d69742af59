"""hw5lib.chapters.q1_kan: the verdicts follow the numbers, the figures and tables have their parts."""

import pytest

from hw5lib.chapters import q1_kan as chapter
from hw5lib.kan import experiments
from hw5lib.kan import layer as kan


def rows_for(kan_rmse, kan_params, mlp_rmse, mlp_params):
    return [{"model": "KAN", "test_rmse": kan_rmse, "parameters": kan_params},
            {"model": "MLP", "test_rmse": mlp_rmse, "parameters": mlp_params},
            {"model": "MLP", "test_rmse": 1.0, "parameters": 10}]


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_verdicts_follow_the_numbers(lang):
    held, text = chapter.accuracy_verdict(rows_for(1e-4, 40, 1e-2, 600), lang)
    assert held and text.startswith("برقرار:" if lang == "fa" else "Held:")
    held, text = chapter.accuracy_verdict(rows_for(1e-4, 900, 1e-2, 600), lang)
    assert not held and text.startswith("نیمه:" if lang == "fa" else "Partly:")
    held, text = chapter.accuracy_verdict(rows_for(1e-1, 40, 1e-2, 600), lang)
    assert not held and text.startswith("برقرار نبود:" if lang == "fa" else "Did not hold:")
    kan_run, mlp_run = {"earlier_rmse": [0.2, 0.01]}, {"earlier_rmse": [1.0, 3.0]}
    assert chapter.forgetting_verdict(kan_run, mlp_run, lang)[0]
    kan_run["earlier_rmse"][-1] = 0.2
    held, text = chapter.forgetting_verdict(kan_run, mlp_run, lang)
    assert not held and ("silu" in text)
    speech = [{"model": "KAN", "accuracy": 0.9, "seconds": 2.0},
              {"model": "MLP (same parameters)", "accuracy": 0.95, "seconds": 1.0}]
    held, text = chapter.speech_verdict(speech, lang)
    assert not held and ("۲٫۰" in text if lang == "fa" else "2.0 times" in text)


def test_a_verdict_in_an_unknown_language_is_one_clear_sentence():
    with pytest.raises(ValueError, match="Language must be one of fa, en, got 'de'."):
        chapter.accuracy_verdict(rows_for(1e-4, 40, 1e-2, 600), "de")


def test_in_both_languages_gives_glue_value_its_words():
    words = chapter.in_both_languages(chapter.accuracy_verdict, rows_for(1e-4, 40, 1e-2, 600))
    assert words == {lang: chapter.accuracy_verdict(rows_for(1e-4, 40, 1e-2, 600), lang)[1] for lang in ("fa", "en")}
    assert "۴۰" in words["fa"] and "40" in words["en"]


def test_figures_have_a_panel_per_part():
    rows = experiments.scaling("exp_sin", [3], [4], [1], steps=1)
    assert len(chapter.plot_scaling({"exp_sin": rows}).axes) == 1
    outcome = experiments.continual_peaks(lambda: kan.MLP([1, 8, 1]).double(), steps_per_phase=1)
    assert len(chapter.plot_forgetting(outcome, outcome).axes) == 10
    result = experiments.interpret("exp_sin", hidden=2, steps=2, refine_steps=2)
    assert len(result.edges_before) == 2 and len(result.edges_before[0]) == 4
    assert len(chapter.plot_edges(result).axes) == 3 * 2  # two rows for the 2 -> 2 layer, one for 2 -> 1


def test_tables_have_a_header_per_column_in_each_language():
    scaling = {"exp_sin": [{"model": "KAN", "shape": "2-1-1", "grid": 3, "parameters": 21, "test_rmse": 0.1,
                            "seconds": 1.0},
                           {"model": "MLP", "shape": "2-4-1", "grid": None, "parameters": 17, "test_rmse": 0.2,
                            "seconds": 1.0}]}
    frame, headers = chapter.scaling_table(scaling)
    assert list(frame["grid"]) == ["3", ""] and all(len(columns) == frame.shape[1] for columns in headers.values())
    speech = [{"model": name, "shape": "13-8-10", "parameters": 100, "accuracy": accuracy, "train_accuracy": 1.0,
               "seconds": seconds} for name, accuracy, seconds in
              (("KAN", 0.5, 3.0), ("MLP (same parameters)", 0.75, 1.0), ("MLP (same width)", 0.25, 2.0))]
    frames, headers = chapter.digits_table(speech)
    assert list(frames["en"]["accuracy"]) == [50.0, 75.0, 25.0]
    assert list(frames["fa"]["model"]) == ["KAN", "MLP (هم‌پارامتر)", "MLP (هم‌پهنا)"]
    forgetting = {"earlier_rmse": [0.5, 0.25]}
    frames, headers = chapter.table1(scaling["exp_sin"], speech, forgetting, forgetting)
    for lang, frame in frames.items():
        assert frame.shape[1] == len(headers[lang]) and len(frame) == len(chapter.TABLE1_ROWS[lang]) + 5
    measured = frames["en"].set_index("row")
    assert tuple(measured.loc["measured: digit accuracy, equal parameters"]) == ("50.0%", "75.0%")
    assert tuple(measured.loc["measured: parameters, exp(sin(πx) + y²)"]) == ("21", "17")


def test_the_interpretability_verdict_counts_one_edge_as_one():
    from types import SimpleNamespace

    one = SimpleNamespace(snapped=[SimpleNamespace(name="sin")], rmse_formula=1e-4, rmse_spline=1e-3)
    held, text = chapter.interpretability_verdict(one, "en")
    assert held and "1 edge remained (sin), and the formula read off it reproduces" in text
    two = SimpleNamespace(snapped=[SimpleNamespace(name="sin"), SimpleNamespace(name="x^2")], rmse_formula=1e-4,
                          rmse_spline=1e-3)
    _, text = chapter.interpretability_verdict(two, "en")
    assert "2 edges remained (sin, x^2), and the formula read off them" in text
