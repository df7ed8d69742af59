"""The Q1.1-1.2 chapter's wording, tables and figures (hw5lib.chapters.q1_distances)."""

import matplotlib.figure
import numpy as np
import pandas as pd

from hw5lib.chapters import q1_distances as chapter
from hw5lib.distances import demos, speaker_shift


def summary(accuracy: dict) -> pd.DataFrame:
    """A CrossSpeaker.summary-like frame with these accuracies and made-up distances."""
    return pd.DataFrame({"w1": np.linspace(1, 2, len(accuracy)), "mmd2": np.linspace(0.1, 0.2, len(accuracy)),
                         "accuracy": list(accuracy.values())}, index=list(accuracy))


def test_every_method_has_a_name_in_each_language():
    assert set(chapter.METHOD_LABELS) == set(speaker_shift.ADAPTATIONS)
    assert all(set(names) == {"fa", "en"} for names in chapter.METHOD_LABELS.values())


def test_the_conclusion_names_the_winner_in_each_language():
    frame = pd.DataFrame({"accuracy": [0.70, 0.84, 0.71]}, index=["none", "speaker CMVN", "smoothing"])
    english = chapter.conclusion(frame, test_clips=150, lang="en")
    persian = chapter.conclusion(frame, test_clips=150, lang="fa")
    assert "per-speaker CMVN" in english and "70.0%" in english and "84.0%" in english
    assert "CMVN هر گوینده" in persian and "۸۴٫۰٪" in persian
    flat = pd.DataFrame({"accuracy": [0.90, 0.901]}, index=["none", "smoothing"])
    assert "no method beat the baseline" in chapter.conclusion(flat, test_clips=100, lang="en")


def test_the_conclusion_lists_methods_within_one_clip_of_the_best():
    frame = pd.DataFrame({"accuracy": [0.70, 0.84, 0.835, 0.75]},
                         index=["none", "speaker CMVN", "CORAL", "smoothing"])
    english = chapter.conclusion(frame, test_clips=100, lang="en")
    assert "per-speaker CMVN and CORAL" in english and "smoothing" not in english


def test_the_methods_table_names_each_method_and_measures_the_change():
    tables = chapter.methods_tables(summary({"none": 0.5, "speaker CMVN": 0.8, "CORAL": 0.45}))
    assert set(tables) == {"fa", "en"}
    english = tables["en"].set_index("method")
    assert list(english.index) == ["none (baseline)", "per-speaker CMVN", "CORAL"]
    np.testing.assert_allclose(english["change"], [0.0, 30.0, -5.0])
    np.testing.assert_allclose(english["accuracy"], [50.0, 80.0, 45.0])
    assert tables["fa"]["method"].iloc[1] == "CMVN هر گوینده"
    assert all(len(chapter.METHODS_HEADERS[lang]) == tables[lang].shape[1] for lang in tables)


def test_the_figures_are_drawn_from_the_science_outputs():
    sweep = demos.shift_sweep(chapter.SHIFTS[:5], n_samples=50)
    figures = [
        chapter.shift_sweep_figure(chapter.SHIFTS[:5], sweep),
        chapter.kl_directions_figure(demos.kl_direction_fits()),
        chapter.estimators_figure(demos.estimator_convergence([20, 40], repeats=2)),
        chapter.mmd_loss_figure({"a": np.linspace(1, 0, 30), "b": np.linspace(0.5, 0, 30)}),
    ]
    assert all(isinstance(figure, matplotlib.figure.Figure) for figure in figures)


def test_matching_by_generation_is_told_from_its_rows():
    frame = pd.DataFrame({"w1": [0.80, 0.40, 0.70, 0.60], "mmd2": [0.1, 0.05, 0.08, 0.07],
                          "accuracy": [0.50, 0.80, 0.60, 0.75]},
                         index=["none", "speaker CMVN", "augmentation", "speaker CMVN + augmentation"])
    english = chapter.generation_finding(frame, "en")
    assert "lowers the Wasserstein distance (0.80 → 0.70)" in english
    assert "+10.0 points (to 60.0%)" in english and "alone by +30.0" in english and "+25.0 points (to 75.0%)" in english
    farther = frame.assign(w1=[0.80, 0.40, 0.90, 0.60])
    assert "does not lower" in chapter.generation_finding(farther, "en")
    persian = chapter.generation_finding(frame, "fa")
    assert "۰٫۸۰ ← ۰٫۷۰" in persian and "+۱۰٫۰" in persian and "کمتر می‌کند" in persian


def test_the_conclusion_explains_a_generative_winner_as_generation():
    frame = pd.DataFrame({"accuracy": [0.50, 0.60, 0.80]}, index=["none", "speaker CMVN", "augmentation"])
    english = chapter.conclusion(frame, test_clips=100, lang="en")
    assert "matching by generation" in english and "Per-speaker CMVN then" not in english
    both = pd.DataFrame({"accuracy": [0.50, 0.60, 0.90]}, index=["none", "speaker CMVN", "speaker CMVN + augmentation"])
    assert "Per-speaker CMVN then" in chapter.conclusion(both, test_clips=100, lang="en")
    assert "هم‌سان‌سازی با تولید" in chapter.conclusion(frame, test_clips=100, lang="fa")
