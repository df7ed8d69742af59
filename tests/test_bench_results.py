"""The documents quote the unheard-speakers study only as tables written from its measured rows
(bench/unheard.py's results blocks), so a number in README.md or bench/unheard.md cannot drift from
bench/unheard.jsonl."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "bench" / "unheard.md"]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_unheard", ROOT / "bench" / "unheard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows():
    return [json.loads(line) for line in (ROOT / "bench" / "unheard.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_documents_results_are_the_measured_rows(bench, rows, doc):
    text = doc.read_text()
    blocks = list(bench.RESULTS.finditer(text))
    assert blocks, f"{doc.name} quotes no results block"
    assert bench.refresh(text, rows) == text, (
        f"{doc.name} differs from bench/unheard.jsonl: run .venv/bin/python bench/unheard.py "
        "--out bench/unheard.jsonl --refresh README.md bench/unheard.md")
    assert all(block["table"].count("\n") >= 3 for block in blocks)  # a header, its rule and a row at least


def test_a_number_typed_over_a_measured_one_is_caught_and_rewritten(bench, rows):
    best = next(row for row in rows if row["settings"].get("channels_last") and row.get("mean") is not None)
    block = f"<!-- bench/unheard.py --results {best['lever']} -->\nold\n<!-- /results -->"
    written = bench.refresh(f"before\n{block}\nafter", rows)
    assert written.startswith("before\n") and written.endswith("\nafter")
    assert f"| {100 * best['mean']:.1f} | {100 * best['worst']:.1f} ({best['worst_speaker']}) |" in written
    typed = written.replace(f"{100 * best['mean']:.1f}", "99.9", 1)
    assert typed != written and bench.refresh(typed, rows) == written


def test_a_results_block_naming_no_measured_lever_stops(bench, rows):
    with pytest.raises(SystemExit, match="No row of never-measured is measured"):
        bench.refresh("<!-- bench/unheard.py --results never-measured -->\n<!-- /results -->", rows)
