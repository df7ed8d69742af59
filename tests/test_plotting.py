import pandas as pd

from hw5lib.publish import plotting
from hw5lib.publish.results import RUN_DIR_ENV


def test_markdown_table_translates_headers_and_digits():
    frame = pd.DataFrame({"n": [2, 16], "error": [8.88e-16, 0.5]})
    assert plotting.markdown_table(frame, ["width", "error"], "en").splitlines() == [
        "| width | error |", "|---|---|", "| 2 | 8.88e-16 |", "| 16 | 0.5 |"]
    fa = plotting.markdown_table(frame, ["پهنا", "خطا"], "fa")
    assert "| ۱۶ | ۰٫۵ |" in fa and "| پهنا | خطا |" in fa


def test_pipes_in_cells_are_escaped():
    frame = pd.DataFrame({"a": ["x|y"]})
    assert "x\\|y" in plotting.markdown_table(frame, ["a"], "en")


def test_figures_are_saved_in_the_run_and_are_reproducible(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    saved = []
    for _ in range(2):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        path = plotting.publish_figure("line", fig)
        saved.append(path.read_bytes())
    assert path == tmp_path / "figures" / "line.png"
    assert saved[0] == saved[1] and saved[0][:8] == b"\x89PNG\r\n\x1a\n"


def test_persian_headers_and_counts_take_persian_digits_and_grouping():
    frame = pd.DataFrame({"speaker": ["jackson", "F1 2x64"], "0": [1104384, 7]})
    fa = plotting.markdown_table(frame, ["گوینده", "رقم 0"], "fa")
    assert "| گوینده | رقم ۰ |" in fa
    assert "| jackson | ۱٬۱۰۴٬۳۸۴ |" in fa and "| F1 2x64 | ۷ |" in fa  # a Latin name keeps its digits
    assert "| jackson | 1,104,384 |" in plotting.markdown_table(frame, ["speaker", "digit 0"], "en")
