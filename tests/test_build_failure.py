"""A chapter whose cell fails stops the book build, and the message names the chapter and the cell;
no page is published with a traceback on it."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import MYST_NOTEBOOK_HEADER, ROOT

pytestmark = pytest.mark.slow

BROKEN = MYST_NOTEBOOK_HEADER + """
::::{fa}
# فصل شکسته
::::
::::{en}
# A broken chapter
::::

```{code-cell} ipython3
ready = True
```

```{code-cell} ipython3
folder = "/data/persian"
raise ValueError(f"no clips under {folder}")
```
"""


def test_a_failing_cell_stops_the_build_and_names_chapter_and_cell(tmp_path):
    shutil.copy2(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: broken\n")
    book = tmp_path / "book"
    book.mkdir()
    (book / "_toc.yml").symlink_to("../_toc.yml")
    (book / "index.md").write_text("::::{fa}\n# آغاز\n::::\n::::{en}\n# Start\n::::\n", encoding="utf-8")
    (book / "broken.md").write_text(BROKEN, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "hw5lib", "book", "--no-pdf", "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "HW5LIB_PROFILE": "smoke"})
    said = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # the traceback comes coloured
    assert result.returncode == 2, said[-3000:]
    assert "broken.md" in said and "Executing notebook failed" in said  # the chapter
    assert 'raise ValueError(f"no clips under {folder}")' in said  # the cell, by its source
    assert "ValueError: no clips under /data/persian" in said  # and what went wrong
    assert result.stderr.rstrip().endswith("hw5lib: The HTML build failed; its log is above.")
    for page in (tmp_path / "_build" / "html").rglob("broken.html"):
        assert "Traceback" not in page.read_text(encoding="utf-8"), page
