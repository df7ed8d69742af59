"""hw5lib.chapters.q1_automl: the chapter's findings, its storage, tables and figures."""

import re

import pytest

from hw5lib import automl
from hw5lib.chapters import q1_automl as chapter
from hw5lib.publish.results import RUN_DIR_ENV


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_findings_follow_the_numbers(lang):
    assert ("TPE" in chapter.comparison_finding({"tpe": 0.9, "random": 0.8}, lang))
    tie = chapter.comparison_finding({"tpe": 0.9, "random": 0.898}, lang)
    assert ("هم‌تراز" in tie) if lang == "fa" else ("tie" in tie)
    better = chapter.search_finding(0.95, 0.9, lang)
    worse = chapter.search_finding(0.85, 0.9, lang)
    assert ("بدتر نیست" in better and "بدتر است" in worse) if lang == "fa" else \
        ("no worse" in better and "is worse" in worse)
    tie = chapter.search_finding(0.7501, 0.7503, lang)  # worse by less than the printed digits show
    assert ("هم‌تراز" in tie and "۷۵٫۰٪" in tie) if lang == "fa" else ("ties" in tie and "both 75.0%" in tie), tie


def test_findings_write_persian_numbers_in_persian_digits():
    persian = chapter.comparison_finding({"tpe": 0.9, "random": 0.8}, "fa")
    assert "۹۰٫۰" in persian and "۸۰٫۰" in persian and not re.search(r"[0-9]", persian)
    assert "90.0%" in chapter.comparison_finding({"tpe": 0.9, "random": 0.8}, "en")


@pytest.mark.parametrize("finding", [lambda: chapter.comparison_finding({"tpe": 0.5, "random": 0.4}, "de"),
                                     lambda: chapter.search_finding(0.5, 0.4, "de"),
                                     lambda: chapter.candidate_names("de")])
def test_an_unknown_language_is_one_clear_sentence(finding):
    with pytest.raises(ValueError, match="Language must be one of fa, en, got 'de'"):
        finding()


def test_auto_storage_is_a_fresh_sqlite_file(tmp_path, monkeypatch):
    assert chapter.storage_url("journal:///somewhere/study.log") == "journal:///somewhere/study.log"
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    assert chapter.storage_url("auto") == f"sqlite:///{tmp_path / 'automl.db'}"
    monkeypatch.delenv(RUN_DIR_ENV)
    first, second = chapter.storage_url("auto"), chapter.storage_url("auto")
    assert first.startswith("sqlite:///") and first.endswith("/automl.db") and first != second


def test_search_cost_counts_over_both_samplers():
    rows = {"tpe": [{"state": "COMPLETE", "epochs": 4, "seconds": 2.0},
                    {"state": "PRUNED", "epochs": 1, "seconds": 0.5}],
            "random": [{"state": "PRUNED", "epochs": 2, "seconds": None},
                       {"state": "FAIL", "epochs": 0, "seconds": 1.0}]}
    assert chapter.search_cost(rows, epochs=4) == {"trials": 4, "pruned": 2, "epoch_share": 100 * 7 / 16,
                                                   "seconds": 3.5}


def test_top_parameter_is_the_most_important_or_family_when_none():
    assert chapter.top_parameter({"lr": 0.2, "width": 0.7, "family": 0.1}) == "width"
    assert chapter.top_parameter({}) == "family"


def test_tables_have_a_row_per_thing_in_both_languages():
    frames, headers = chapter.space_table()
    assert [len(frames[lang]) for lang in ("fa", "en")] == [7, 7]
    assert all(len(headers[lang]) == frames[lang].shape[1] for lang in ("fa", "en"))
    assert all(automl.FAMILY_LABELS[family] in frames["en"]["values"][0] for family in automl.FAMILIES)
    for lang in ("fa", "en"):
        names = chapter.candidate_names(lang)
        assert set(names) == {"best (tpe)", "best (random)", *automl.REPORT_MODELS}


def test_the_final_table_names_each_candidate():
    class Study:
        def __init__(self, params):
            self.best_trial = type("Trial", (), {"params": params})()

    found = automl.Architecture("cnn", 3, 64, 0.1, "log_mel", 1e-3, 16)
    studies = {sampler: Study(vars(found)) for sampler in automl.SAMPLERS}
    candidates = chapter.candidates(studies)
    assert list(candidates) == ["best (tpe)", "best (random)", *automl.REPORT_MODELS]
    final = {name: automl.TrainResult(0.5, [], 100, 1.0) for name in candidates}
    frames, headers = chapter.final_table(candidates, final)
    assert frames["en"]["model"].tolist()[:2] == ["best found (TPE)", "best found (random)"]
    assert frames["fa"]["architecture"][0] == "CNN 16-32-64, log-mel" and frames["en"]["accuracy"][0] == 50.0


def test_figures_draw_every_sampler():
    rows = [{"number": 0, "state": "COMPLETE", "value": 0.5, "best": 0.5},
            {"number": 1, "state": "PRUNED", "value": 0.2, "best": 0.5}]
    history = chapter.history_figure({"tpe": rows, "random": rows})
    assert [text.get_text() for text in history.axes[0].get_legend().get_texts()] == [
        "tpe: complete", "tpe: pruned", "random: complete", "random: pruned"]
    importance = chapter.importance_figure({"tpe": {"lr": 0.6, "width": 0.4}, "random": {"lr": 1.0}})
    assert len(importance.axes[0].patches) == 4 and [t.get_text() for t in importance.axes[0].get_yticklabels()] == [
        "lr", "width"]
