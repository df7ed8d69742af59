import json
import os

import pytest

from hw5lib import io
from hw5lib.publish import results


def make_record():
    record = results.ChapterResults("q2", {"fa": "سوال ۲", "en": "Q2"},
                                    parameters={"profile": "full", "device": "cuda"})
    record.add("accuracy", 0.9731, fa="دقت", en="accuracy", fmt="{:.1%}", reported=0.40)
    record.add("error", 1.5e-15, fa="خطا", en="error", fmt="{:.1e}")
    return record


def test_duplicate_metric_is_refused():
    record = make_record()
    with pytest.raises(ValueError, match="'accuracy' was already added"):
        record.add("accuracy", 1.0, fa="x", en="x")


def test_mimebundle_round_trip_through_json():
    record = make_record()
    bundle = record._repr_mimebundle_()
    prefixed = {f"application/papermill.record/{mime}": value for mime, value in bundle.items()}
    back = results.ChapterResults.from_mimebundle(json.loads(json.dumps(prefixed)))
    assert back == record


def test_mimebundle_without_results_is_an_error():
    with pytest.raises(ValueError, match="no application/vnd.hw5lib.publish.results\\+json"):
        results.ChapterResults.from_mimebundle({"text/plain": "x"})


def test_summary_table_in_both_languages():
    record = make_record()
    en = results.summary_table([("q2_vanishing", record)], "en")
    fa = results.summary_table([("q2_vanishing", record)], "fa")
    assert en["header"] == ["Chapter", "Run", "Data", "Quantity", "This book", "Report"]
    assert en["rows"][0] == [("Q2", "q2_vanishing"), "full · cuda", "no recordings", "accuracy", "97.3%", "40.0%"]
    assert en["rows"][1] == ["", "", "", "error", "1.5e-15", "—"]
    assert fa["rows"][0][2:] == ["بدون ضبط صدا", "دقت", "۹۷٫۳%", "۴۰٫۰%"]
    assert results.summary_table([], "en")["rows"] == []


def test_the_summary_says_which_recordings_each_chapter_used():
    real = {"source": "FSDD", "synthetic": False, "speakers": 5, "clips": 1250, "how": "workplace"}
    synthetic = {"source": "synthetic (espeak-ng)", "synthetic": True, "speakers": 8, "clips": 800}
    assert results.data_words(real, "en") == "FSDD, real: 5 speakers, 1,250 clips"
    assert results.data_words(real, "fa") == "FSDD، واقعی: ۵ گوینده، ۱٬۲۵۰ گفته"
    assert results.data_words({"name": "toy functions", "digits": synthetic}, "en") == "synthetic: 8 voices, 800 clips"
    assert results.data_words({"name": "random networks", "synthetic": True}, "en") == "no recordings"
    one = {**synthetic, "speakers": 1, "clips": 1}
    assert results.data_words(one, "en") == "synthetic: 1 voice, 1 clip"  # never "1 voices"
    record = make_record()
    record.data = synthetic
    assert results.summary_table([("q4_digits", record)], "en")["rows"][0][2] == "synthetic: 8 voices, 800 clips"


def test_publish_writes_results_json_in_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RUN_DIR_ENV, str(tmp_path))
    record = make_record()
    record.parameters = {"seed": 5}
    path = record.publish()
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["metrics"][0]["value"] == 0.9731
    assert saved["provenance"]["seed"] == 5
    assert set(saved["provenance"]) >= {"git", "packages", "hardware", "python", "data"}
    assert "torch" in saved["provenance"]["packages"]


def test_whole_tables_go_into_results_json(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    monkeypatch.setenv(results.RUN_DIR_ENV, str(tmp_path))
    record = make_record()
    record.add_table("steps", pd.DataFrame({"step": np.array([50, 100]), "WER": [0.379, np.nan]}))
    with pytest.raises(ValueError, match="'steps' was already added"):
        record.add_table("steps", pd.DataFrame({"step": [1]}))
    saved = json.loads(record.publish().read_text(encoding="utf-8"))
    assert saved["tables"]["steps"] == [{"step": 50, "WER": 0.379}, {"step": 100, "WER": None}]
    bundle = {f"application/papermill.record/{m}": v for m, v in record._repr_mimebundle_().items()}
    assert results.ChapterResults.from_mimebundle(json.loads(json.dumps(bundle))).tables == record.tables


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")

    with pytest.raises(TypeError):
        io.atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_is_one_sentence(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(OSError, match="Cannot write to .*choose a writable output folder"):
        io.atomic_write_text(locked / "x.json", "{}")


def test_output_folder_that_cannot_exist_is_one_sentence(tmp_path):
    """Works as root too: the 'folder' is a file, so nothing can be written beneath it."""
    blocker = tmp_path / "runs"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OSError, match="Cannot write to .*choose a writable output folder"):
        io.atomic_write_text(blocker / "q2" / "results.json", "{}")
    assert blocker.read_text() == "a file, not a folder"


def test_a_value_in_words_is_shown_in_each_language():
    record = results.ChapterResults("q1", {"fa": "س", "en": "Q"})
    record.add("best", {"fa": "CMVN هر گوینده", "en": "per-speaker CMVN"}, fa="بهترین", en="best", fmt="{}")
    assert record["best"].formatted(record["best"].value, "fa") == "CMVN هر گوینده"
    assert results.summary_table([("q1", record)], "en")["rows"][0][4] == "per-speaker CMVN"
    with pytest.raises(ValueError, match="exactly the languages"):
        record.add("worst", {"en": "smoothing"}, fa="بدترین", en="worst")


def test_glue_value_glues_numbers_and_words_for_both_pages(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value.data))
    results.glue_value("accuracy", 1234.5, "{:.1f}")
    results.glue_value("verdict", {"fa": "برقرار", "en": "Held"})
    assert glued == {"accuracy": "1234.5", "accuracy_fa": "۱۲۳۴٫۵", "verdict": "Held", "verdict_fa": "برقرار"}
    with pytest.raises(ValueError, match="needs exactly the languages"):
        results.glue_value("verdict", {"en": "Held"})


SYNTHETIC_DIGITS = {"source": "synthetic (espeak-ng)", "synthetic": True, "speakers": 8, "clips": 800,
                    "how": "synthetic", "reason": "Cannot reach github.com (name or service not known): no network?"}
REAL_DIGITS = {"source": "FSDD", "synthetic": False, "speakers": 6, "clips": 3000, "how": "downloaded",
               "commit": "26eb9aaf76e81b692f806f9140c2d2777410d7a1", "digest": "ab" * 32, "checked": "manifest"}


def test_the_data_notice_warns_of_synthetic_speakers_with_the_reason_and_the_way_out():
    from hw5lib.publish.datanote import data_notice

    notice = data_notice(SYNTHETIC_DIGITS)
    assert notice["en"].startswith(":::{admonition} Synthetic speakers\n:class: warning\n")
    assert notice["en"].endswith(":::\n") and notice["fa"].startswith(":::{admonition} گوینده‌های ساختگی\n")
    for lang in ("en", "fa"):
        assert SYNTHETIC_DIGITS["reason"] in notice[lang] and "HW5LIB_FSDD_URL" in notice[lang]
        assert "-p data /path/to/recordings" in notice[lang]
    assert "800 clips of 8 machine voices" in notice["en"] and "۸۰۰" in notice["fa"]
    speech = data_notice({"source": "synthetic (espeak-ng)", "synthetic": True, "speakers": 6, "clips": 10,
                          "kind": "speech"})
    assert "no folder of transcribed recordings was given" in speech["en"] and "Common Voice" in speech["en"]
    assert "دلیلش: شبکه در دسترس نبود (`Cannot reach github.com" in notice["fa"]
    assert "صدای ماشینی، «synthetic (espeak-ng)»، آمده‌اند" in notice["fa"]  # quoted: the finish isolates it
    assert "دلیلش: پوشه‌ای از ضبط‌های رونویسی‌شده داده نشد (`no folder" in speech["fa"]
    unknown = data_notice({**SYNTHETIC_DIGITS, "reason": "The archive holds an unsafe path 'x'; it was not unpacked."})
    assert "دلیلش: `The archive holds an unsafe path 'x'; it was not unpacked.` صداهای" in unknown["fa"]


def test_the_data_notice_of_real_recordings_names_source_size_and_check():
    from hw5lib.publish.datanote import data_notice

    notice = data_notice(REAL_DIGITS)
    assert notice["en"].startswith(":::{admonition} Data\n:class: note\n")
    assert "3,000 recordings of 6 people from FSDD, downloaded for this run" in notice["en"]
    assert "checked against the manifest of commit `26eb9aa`" in notice["en"] and "abababababab" in notice["en"]
    assert "۳٬۰۰۰ ضبط از ۶ گوینده از FSDD" in notice["fa"]


def test_publish_glues_the_data_notice_only_for_a_chapter_on_recordings(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(
        name, getattr(value, "data", value)))
    monkeypatch.delenv(results.RUN_DIR_ENV, raising=False)
    record = make_record()
    record.data = {"name": "random networks", "synthetic": True}
    record.publish()
    assert results.DATA_NOTICE not in glued
    record.data = {"name": "toy functions", "digits": SYNTHETIC_DIGITS}
    record.publish()
    assert ":class: warning" in glued[results.DATA_NOTICE] and ":class: warning" in glued["data_notice_fa"]
    assert "This page's numbers on spoken digits come from 800 clips" in glued[results.DATA_NOTICE]
    record.data = SYNTHETIC_DIGITS
    record.publish()
    assert glued[results.DATA_NOTICE].split("\n")[2].startswith("These numbers come from 800 clips")
