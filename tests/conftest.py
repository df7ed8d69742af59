import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _share_the_cores() -> None:
    """Under pytest-xdist, give each worker's processes (and the kernels and commands they start)
    an equal share of the cores. Two workers whose PyTorch each spins two OpenMP threads on a
    2-core machine ran chapters 10 to 15 times slower than alone (AutoML 736 s instead of 60 s)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, threads)


_share_the_cores()  # before any test module imports torch
# Nothing in the tests reaches outside the machine: no data set is downloaded (tests/test_fetch.py
# lifts this for its own loopback server). Inherited by the kernels and commands tests start.
os.environ.setdefault("HW5LIB_OFFLINE", "1")
# ... and no model comes from the Hugging Face hub or from this machine's own hub cache: model=auto
# finds whisper-base only where a test lays out the structural one (tests/test_whisper_base.py).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="hw5lib-tests-hub-")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run where CUDA is visible and are skipped, saying why, elsewhere."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_tests:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none is visible); run on a CUDA machine to check the GPU path")
    for item in gpu_tests:
        item.add_marker(skip)
ARTIFACTS = ROOT / "tests" / "artifacts"
# the front matter of a jupytext MyST notebook, as every chapter in book/ starts (for toy chapters)
MYST_NOTEBOOK_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots and PDF pages the tests save for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return os.environ.get("HW5LIB_CHROMIUM")


@pytest.fixture(scope="session")
def project_copy(tmp_path_factory) -> Path:
    """A copy of the book's sources, so that test builds never touch the user's _build."""
    target = tmp_path_factory.mktemp("project")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "book", target / "book", symlinks=True,
                    ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    return target


OFFLINE_GUARD = ROOT / "tests" / "offline"


def offline(command: list[str], env: dict | None = None) -> tuple[list[str], dict]:
    """``command`` with the network disabled for it and every process it starts: in a network
    namespace of its own holding only loopback (``unshare``), else, where the machine does not
    allow that, with Python's sockets refusing every host but this one (tests/offline)."""
    env = dict(os.environ if env is None else env)
    wrapper = ["unshare", "--user", "--map-root-user", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]
    if shutil.which("unshare") and shutil.which("ip"):
        import subprocess

        probe = subprocess.run([*wrapper, "true"], capture_output=True)
        if probe.returncode == 0:
            return [*wrapper, *command], env
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE_GUARD), env.get("PYTHONPATH")]))
    return command, env


@contextlib.contextmanager
def serve_folder(folder: Path):
    """``folder`` over HTTP on the loopback interface, as a reader's browser gets a published site
    (from file://, Chromium refuses the page fetches a search result's summary is made from)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def search_site(browser, site: str, query: str, screenshot: Path | None = None) -> list[str]:
    """Type ``query`` into the search box of the book at ``site``; return the results as
    ``[(link, summary), ...]`` once the page says the search has finished."""
    import re

    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    tab.set_default_timeout(120_000)
    errors = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        tab.goto(f"{site}/index.html")
        tab.locator(".search-button-field:visible").first.click()
        box = tab.locator("#pst-search-dialog input[name=q]")
        box.wait_for(state="visible")
        box.type(query)
        box.press("Enter")
        tab.wait_for_url(re.compile(r"search\.html"))
        # finished: the pulse stopped and the summary written (it was empty in Persian: Sphinx's catalogue)
        tab.wait_for_function("document.querySelector('#search-results ul.search') && Search._pulse_status === -1")
        summary = tab.locator("#search-results .search-summary").inner_text()
        assert summary.strip(), "the search page said nothing when the search finished"
        found = tab.eval_on_selector_all(
            "#search-results ul.search li",
            "items => items.map(li => [li.querySelector('a').getAttribute('href'), "
            "(li.querySelector('p.context') || {}).textContent || ''])")
        if screenshot is not None:
            tab.screenshot(path=str(screenshot))
        assert errors == [], errors
        return found
    finally:
        tab.close()


def outline(pdf: Path) -> list:
    """The PDF's bookmarks as [(title, page, [children...]), ...] (poppler's pdftohtml -xml)."""
    import subprocess
    import xml.etree.ElementTree as ET

    xml = subprocess.run(["pdftohtml", "-xml", "-stdout", "-i", "-f", "1", "-l", "1", str(pdf)],
                         capture_output=True, text=True, check=True).stdout
    tree = ET.fromstring(xml)
    top = tree.find("outline")
    assert top is not None, f"{pdf.name} has no outline"

    def read(node):
        items, children = [], list(node)
        for index, child in enumerate(children):
            if child.tag == "item":
                following = children[index + 1] if index + 1 < len(children) else None
                nested = read(following) if following is not None and following.tag == "outline" else []
                items.append((" ".join((child.text or "").split()), int(child.get("page")), nested))
        return items

    return read(top)


def page_text(pdf: Path, page: int) -> str:
    """A page's text, without the direction marks poppler wraps right-to-left runs in."""
    import subprocess

    text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    return re.sub("[\u202a-\u202e\u2066-\u2069]", "", text)


def squash(text: str) -> str:
    """Text for comparing with pdftotext's: no spaces, no ZWNJ (extraction places both loosely)."""
    return re.sub(r"[\s\u200c]", "", text)
