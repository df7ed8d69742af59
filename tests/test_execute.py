"""The execution stage: chapters run side by side, each stored in jupyter-cache under the key
myst-nb computes when it reads the page (in either language), and a failure named with its
chapter, cell and error while the other chapters' work is kept."""

import json
import time

import pytest
from jupyter_cache import get_cache

from conftest import MYST_NOTEBOOK_HEADER
from hw5lib.publish import execute, i18n
from hw5lib.publish.profiles import default_profile

HEADER = MYST_NOTEBOOK_HEADER + """
::::{fa}
# فصل آزمایشی
::::
::::{en}
# A toy chapter
::::
"""

SLEEPER = HEADER.replace("{", "{{").replace("}", "}}") + """
```{{code-cell}} ipython3
import json, os, time
from ipykernel.kernelapp import IPKernelApp
began = time.time()
time.sleep({seconds})
```

```{{code-cell}} ipython3
facts = {{"began": began, "ended": time.time(), "threads": os.environ.get("OMP_NUM_THREADS"),
         "transport": IPKernelApp.instance().transport}}
open({log!r}, "w").write(json.dumps(facts))
```
"""

FAILING = HEADER + """
```{code-cell} ipython3
x = 1
```

```{code-cell} ipython3
raise ValueError("the toy chapter breaks here")
```
"""


def toy_book(tmp_path, chapters: dict[str, str]):
    source = tmp_path / "book"
    source.mkdir()
    for name, text in chapters.items():
        (source / f"{name}.md").write_text(text, encoding="utf-8")
    return source, tmp_path / "_build" / ".jupyter_cache"


def sleeper(tmp_path, name, seconds=2.0):
    return SLEEPER.format(seconds=seconds, log=str(tmp_path / f"{name}.json"))


def test_cores_are_shared_between_the_chapters():
    assert execute.share_cores(6, cores=2) == (2, 1)
    assert execute.share_cores(1, cores=2) == (1, 2)  # one chapter left: it gets both cores
    assert execute.share_cores(6, jobs=1, cores=2) == (1, 2)
    assert execute.share_cores(6, cores=16) == (6, 2)
    assert execute.share_cores(3, jobs=8, cores=1) == (3, 1)  # as many as asked, one thread each


def test_chapters_run_side_by_side_and_are_cached_under_myst_nbs_key(tmp_path):
    source, cache_path = toy_book(tmp_path, {"q2_vanishing": sleeper(tmp_path, "q2"),
                                             "q1_kan": sleeper(tmp_path, "kan")})
    lines = []
    outcomes = execute.execute_book(source, cache_path, jobs=2, log=lines.append)
    assert [(o.name, o.status) for o in outcomes] == [("q1_kan", "executed"), ("q2_vanishing", "executed")]
    q2, kan = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("q2", "kan"))
    assert q2["began"] < kan["ended"] and kan["began"] < q2["ended"]  # they overlapped in time
    assert q2["transport"] == kan["transport"] == "ipc"  # no unencrypted TCP port
    assert {q2["threads"], kan["threads"]} == {str(outcomes[0].threads)}
    assert any("[start] q1_kan" in line for line in lines)
    assert any("[2/2]" in line and "executed in" in line for line in lines)

    # what myst-nb will read, in either language, matches what the stage cached
    cache = get_cache(str(cache_path))
    for lang in i18n.LANGUAGES:
        page = source / "q2_vanishing.md"
        keyed, _, _ = execute.keyed_source(i18n.filter_language(page.read_text(encoding="utf-8"), lang))
        assert cache.match_cache_notebook(execute.read_notebook(keyed, page)) is not None

    # nothing changed: nothing executes again, and the record says so
    again = execute.execute_book(source, cache_path, jobs=2, log=lines.append)
    assert [o.status for o in again] == ["cached", "cached"]
    record = execute.last_record(cache_path.parent)
    assert [c["status"] for c in record["last"]["chapters"]] == ["cached", "cached"]
    assert set(record["timings"][default_profile()]) == {"q1_kan", "q2_vanishing"}


def test_a_failing_chapter_is_named_with_its_cell_and_the_others_are_kept(tmp_path):
    source, cache_path = toy_book(tmp_path, {"q2_vanishing": FAILING, "q1_kan": sleeper(tmp_path, "kan", 0.1)})
    with pytest.raises(execute.ChapterExecutionError) as caught:
        execute.execute_book(source, cache_path, jobs=2, log=lambda line: None)
    message = str(caught.value)
    assert "q2_vanishing" in message and "cell 2" in message and "ValueError" in message
    assert "the toy chapter breaks here" in message
    kept = cache_path.parent / "failed" / "q2_vanishing.ipynb"
    assert kept.is_file() and str(kept) in message
    statuses = {c["name"]: c["status"] for c in execute.last_record(cache_path.parent)["last"]["chapters"]}
    assert statuses == {"q1_kan": "executed", "q2_vanishing": "failed"}
    # the good chapter's work was cached: a second attempt executes only the failed one
    started = time.perf_counter()
    with pytest.raises(execute.ChapterExecutionError):
        execute.execute_book(source, cache_path, jobs=2, log=lambda line: None)
    statuses = {c["name"]: c["status"] for c in execute.last_record(cache_path.parent)["last"]["chapters"]}
    assert statuses["q1_kan"] == "cached" and time.perf_counter() - started < 60


def test_a_cached_notebook_cut_short_by_a_kill_is_executed_again(tmp_path):
    source, cache_path = toy_book(tmp_path, {"q1_kan": sleeper(tmp_path, "kan", 0.1)})
    execute.execute_book(source, cache_path, log=lambda line: None)
    cache = get_cache(str(cache_path))
    (record,) = cache.list_cache_records()
    stored = cache.get_cache_bundle(record.pk)  # the file jupyter-cache wrote after its database row
    path = next(cache_path.rglob("*.ipynb"))
    path.write_text(path.read_text(encoding="utf-8")[:100], encoding="utf-8")  # killed mid-write
    (outcome,) = execute.execute_book(source, cache_path, log=lambda line: None)
    assert outcome.status == "executed" and stored.nb is not None
    # killed after the row and the folder, before the file: the folder must not stop the next store
    cache = get_cache(str(cache_path))
    path = next(cache_path.rglob("*.ipynb"))
    path.unlink()
    (outcome,) = execute.execute_book(source, cache_path, log=lambda line: None)
    assert outcome.status == "executed"
    (fresh,) = get_cache(str(cache_path)).list_cache_records()
    assert get_cache(str(cache_path)).get_cache_bundle(fresh.pk).nb.cells  # readable again


def test_a_chapter_replaced_by_a_run_is_not_executed(tmp_path):
    source, cache_path = toy_book(tmp_path, {"q1_kan": sleeper(tmp_path, "kan", 0.1)})
    (source / "q2_vanishing.ipynb").write_text("{}", encoding="utf-8")  # as stage_runs leaves it
    assert [job.name for job in execute.chapter_jobs(source)] == ["q1_kan"]


def test_the_execution_table_reads_in_both_languages():
    record = {"last": {"chapters": [
        {"name": "q4_digits", "status": "executed", "seconds": 1234.4, "executed_at": "2026-12-05T09:00:00",
         "profile": "quick", "device": "cpu", "threads": 1, "title": {"fa": "سوال ۴", "en": "Q4"},
         "data": {"fa": "ساختگی: ۱۲ گوینده", "en": "synthetic: 12 voices"}},
        {"name": "q2_vanishing", "status": "cached", "seconds": None, "executed_at": None,
         "profile": "", "device": "", "threads": None, "data": ""}]}}
    english = execute.execution_table(record, "en")
    persian = execute.execution_table(record, "fa")
    assert english["rows"][0][0] == ("Q4", "q4_digits") and persian["rows"][0][0] == ("سوال ۴", "q4_digits")
    assert english["rows"][1][0] == ("q2_vanishing", "q2_vanishing")  # no title recorded: its name
    assert english["rows"][0][2:] == ["synthetic: 12 voices", "cpu", "1", "1,234",
                                      "executed in this build (2026-12-05 09:00)"]
    assert english["rows"][1][-1].startswith("from the execution cache") and english["rows"][1][5] == "—"
    assert persian["rows"][0][5] == "۱٬۲۳۴" and persian["rows"][0][2] == "ساختگی: ۱۲ گوینده"
    assert persian["header"][0] == "فصل" and len(persian["header"]) == len(persian["rows"][0])
    assert execute.execution_table({}, "en")["rows"] == []
