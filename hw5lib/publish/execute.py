"""Execute the book's chapters side by side, before Sphinx reads them.

jupyter-book executes notebooks one after another while it reads them, each kernel using every
core. This stage runs them first, several at once (the cores split between the kernels), and
stores each executed notebook in jupyter-cache under the very key myst-nb computes when it reads
the page: the language-filtered source with its hidden fingerprint cell (:func:`keyed_source`).
The Sphinx builds of both languages then find every chapter in the cache and execute nothing.

Why this and not the alternatives:

- jupyter-cache's ``temp-parallel`` executor runs the notebooks of its project as it reads them
  from their files; ours are keyed only after the language filter and the fingerprint cell are
  applied, it gives a kernel no share of the cores, and it reports nothing per chapter;
- papermill runs (``python -m hw5lib run``) would need a cache of their own beside jupyter-cache's
  and a staged copy of the book for every build; feeding jupyter-cache keeps one cache, which
  ``jupyter-book build book/`` alone also reads (the Sphinx extension runs this stage first).

The stage says what it does: one line per chapter as it starts and ends (profile, data, seconds,
executed or cached), an overall estimate from the last build's timings, and, when a chapter fails,
its name, the cell and the error, with the partly executed notebook kept.
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import json
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hw5lib.io import atomic_write_text
from hw5lib.publish import dependencies, i18n
from hw5lib.publish import registry as chapters
from hw5lib.publish.profiles import default_profile

DONE_ENV = "HW5LIB_CHAPTERS_EXECUTED"  # set by a caller that has run this stage for the build it starts
RECORD = ".hw5lib-execution.json"  # beside the execution cache: what the last stage did, and timings
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "HW5LIB_THREADS")
# the order of a first build, longest first (Whisper pre-trains, Q4 trains several models): a late
# start of a long chapter would leave the other cores idle at the end
FIRST_BUILD_ORDER = ("q3_whisper", "q4_digits", "q1_automl", "q1_kan", "q1_distances", "q2_vanishing")
MYST_EXTENSIONS = ("amsmath", "dollarmath", "colon_fence", "deflist", "substitution")  # as _config.yml's parse:

FINGERPRINT_CELL = """

```{{code-cell}} ipython3
:tags: [remove-cell]

# hw5lib source fingerprint and profile: {key}
```
"""


class ChapterExecutionError(RuntimeError):
    """A chapter raised while executing; the message names it, the cell and the error."""


def execution_key(files) -> str:
    """What a chapter's outputs depend on beyond its own code: the hw5lib files it imports and the profile."""
    return f"{dependencies.fingerprint(files)} {default_profile()}"


def keyed_source(text: str) -> tuple[str, list[Path], str | None]:
    """A language-filtered MyST notebook with the hidden cell that keys its execution, the hw5lib
    files its code imports, and the key (``None`` for a page without code).

    jupyter-cache keys outputs on a notebook's code alone; the hidden cell adds the hw5lib source
    files that code imports (transitively) and the profile ($HW5LIB_PROFILE) to that key, so
    editing a module re-runs the chapters that import it and no other, and a smoke build never
    shows a quick build's outputs."""
    if "```{code-cell}" not in text:
        return text, [], None
    files = dependencies.notebook_files(text)
    key = execution_key(files)
    return text + FINGERPRINT_CELL.format(key=key), files, key


def read_notebook(text: str, path: Path):
    """The notebook myst-nb reads from ``text`` (a keyed MyST source): the same code cells, so the
    same jupyter-cache key."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    config = MdParserConfig(enable_extensions=set(MYST_EXTENSIONS))
    return read_myst_markdown_notebook(text, config=config, add_source_map=True, path=str(path))


@dataclass
class ChapterJob:
    name: str
    path: Path
    notebook: object  # nbformat.NotebookNode, as myst-nb will read it
    estimate: float | None = None  # seconds, from the last build that executed it


@dataclass
class ChapterOutcome:
    name: str
    status: str  # "executed", "cached" or "failed"
    seconds: float | None  # execution time (for a cached chapter, that of the run it came from)
    executed_at: str | None = None
    data: dict | str = ""  # which recordings its numbers came from, in words: {"fa": ..., "en": ...}
    title: dict | None = None  # the chapter's title in each language, as its results give it
    device: str = ""
    profile: str = ""
    threads: int | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)


def chapter_jobs(source: Path) -> list[ChapterJob]:
    """The chapters of the book in ``source`` (a ``book/`` folder) that have a MyST source there (a
    chapter replaced by an executed run is not executed), keyed as myst-nb will key them."""
    jobs = []
    for name in chapters.NAMES:
        path = Path(source) / f"{name}.md"  # the registry's convention (importing a chapter would cost seconds)
        if not path.is_file():
            continue
        text = i18n.filter_language(path.read_text(encoding="utf-8"), i18n.PRIMARY_LANGUAGE, source=str(path))
        keyed, _, key = keyed_source(text)
        if key is not None:
            jobs.append(ChapterJob(name, path, read_notebook(keyed, path)))
    return jobs


def share_cores(chapters_to_run: int, jobs: int | None = None, cores: int | None = None) -> tuple[int, int]:
    """(processes, threads per process) for running ``chapters_to_run`` chapters at most ``jobs`` at
    a time (default: one per core) on ``cores`` cores (default: $OMP_NUM_THREADS where a caller has
    set this process's share of the machine, else every core)."""
    if cores is None:
        given = os.environ.get("OMP_NUM_THREADS", "").strip()
        cores = int(given) if given.isdigit() and int(given) > 0 else (os.cpu_count() or 1)
    processes = max(1, min(chapters_to_run, jobs or cores))
    return processes, max(1, cores // processes)


def _results_of(notebook) -> dict:
    """Profile, device and data words from the results a chapter glued, if any."""
    from hw5lib.publish import results

    for cell in notebook.cells:
        for output in cell.get("outputs", ()):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") != results.GLUE_KEY:
                continue
            bundle = {mime.split("/", 1)[1] if mime.startswith("application/papermill.record/") else mime: value
                      for mime, value in output.get("data", {}).items()}
            record = results.ChapterResults.from_mimebundle(bundle)
            return {"title": record.title,
                    "data": {lang: results.data_words(record.data, lang) for lang in i18n.LANGUAGES},
                    "device": str(record.parameters.get("device", "")),
                    "profile": str(record.parameters.get("profile", ""))}
    return {}


def ipc_kernel_manager_class():
    """A jupyter_client kernel manager whose kernels talk over Unix sockets in a private folder: no
    TCP port is opened (ipykernel warns, rightly, that TCP without encryption can be read by anyone
    on the machine). Given to nbclient (and papermill) as ``kernel_manager_class``, so the client
    owns the kernel and shuts it down when the notebook is done."""
    from jupyter_client.manager import KernelManager
    from traitlets import CaselessStrEnum, default

    class IpcKernelManager(KernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self) -> str:
            return str(Path(tempfile.mkdtemp(prefix="hw5lib-kernel-")) / "kernel")

        def cleanup_resources(self, restart: bool = False) -> None:
            super().cleanup_resources(restart=restart)
            folder = Path(self.ip).parent
            if not restart and self.transport == "ipc" and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    return IpcKernelManager


def _failed_cell(notebook) -> tuple[int, str]:
    """(1-based number among code cells, first line) of the cell that holds an error output."""
    number = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        if any(output.get("output_type") == "error" for output in cell.get("outputs", ())):
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            return number, first.strip()
    return 0, ""


def _execute(name: str, notebook_json: str, cwd: str, threads: int, timeout: int | None) -> dict:
    """Run one notebook in this (worker) process's kernel; return the executed notebook and facts."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    for variable in THREAD_VARIABLES:  # inherited by the kernel this process starts
        os.environ[variable] = str(threads)
    notebook = nbformat.reads(notebook_json, as_version=4)
    started = time.perf_counter()
    error = None
    # as myst-nb executes for jupyter-cache (record_timing off): cell metadata is part of the key
    client = NotebookClient(notebook, timeout=timeout, allow_errors=False, record_timing=False,
                            kernel_manager_class=ipc_kernel_manager_class(), resources={"metadata": {"path": cwd}})
    try:
        client.execute()
    except CellExecutionError as exc:
        number, first = _failed_cell(notebook)
        error = (f"cell {number} (`{first}`) raised {exc.ename}: {str(exc.evalue).strip()}" if number
                 else f"{exc.ename}: {str(exc.evalue).strip()}")
    except Exception as exc:  # a kernel that died, a timeout: still name the chapter
        error = f"{type(exc).__name__}: {str(exc).strip()[:500]}"
    return {"name": name, "notebook": nbformat.writes(notebook), "seconds": time.perf_counter() - started,
            "error": error}


def _load_record(folder: Path) -> dict:
    path = folder / RECORD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def last_record(build_dir: Path) -> dict:
    """What the last execution stage under ``build_dir`` did (see :func:`execute_book`)."""
    return _load_record(Path(build_dir))


def _minutes(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class _Progress:
    """Lines per chapter, and on a terminal an overall bar measured in estimated seconds."""

    def __init__(self, jobs: list[ChapterJob], processes: int, log: Callable[[str], None]):
        self.log = log
        self.estimates = {job.name: job.estimate for job in jobs}
        self.known = all(value is not None for value in self.estimates.values())
        self.started: dict[str, float] = {}
        self.finished: set[str] = set()
        self.processes = processes
        self.total = len(jobs)
        self.bar = None
        if self.known and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=round(sum(self.estimates.values())), unit="s", desc="hw5lib: chapters",
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} elapsed, ~{remaining} left")

    def remaining(self) -> float | None:
        if not self.known:
            return None
        now = time.perf_counter()
        left = 0.0
        for name, estimate in self.estimates.items():
            if name in self.finished:
                continue
            elapsed = now - self.started[name] if name in self.started else 0.0
            left += max(estimate - elapsed, 0.05 * estimate)
        return left / self.processes

    def start(self, name: str) -> None:
        self.started[name] = time.perf_counter()
        estimate = self.estimates.get(name)
        hint = f" (last time {_minutes(estimate)})" if estimate is not None else ""
        self._say(f"hw5lib: [start] {name}{hint}")

    def end(self, outcome: ChapterOutcome) -> None:
        self.finished.add(outcome.name)
        done = f"[{len(self.finished)}/{self.total}]"
        data = outcome.data.get("en", "") if isinstance(outcome.data, dict) else outcome.data
        facts = ", ".join(part for part in (outcome.profile, data) if part)
        left = self.remaining()
        tail = f"; about {_minutes(left)} left" if left is not None and len(self.finished) < self.total else ""
        if outcome.status == "failed":
            self._say(f"hw5lib: {done} {outcome.name} FAILED after {outcome.seconds:.0f} s: {outcome.error}")
        else:
            self._say(f"hw5lib: {done} {outcome.name} executed in {outcome.seconds:.0f} s ({facts}){tail}")
        self.tick()

    def tick(self) -> None:
        if self.bar is not None:
            left = self.remaining() or 0.0
            self.bar.n = max(0, min(self.bar.total, round(self.bar.total - left * self.processes)))
            self.bar.refresh()

    def _say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            self.log(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def execute_book(source: Path, cache_path: Path, *, jobs: int | None = None, timeout: int | None = 1800,
                 log: Callable[[str], None] = print) -> list[ChapterOutcome]:
    """Execute every chapter of ``source`` (a ``book/`` folder) that jupyter-cache at
    ``cache_path`` does not already hold, ``jobs`` at a time (default: one per core), and store
    each in the cache. Returns one outcome per chapter, in the book's order; raises
    :class:`ChapterExecutionError` naming the failing chapter and cell once the others are done
    (their notebooks are cached: nothing finished is lost)."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    began = time.perf_counter()
    source, cache_path = Path(source).resolve(), Path(cache_path).resolve()
    build_dir = cache_path.parent
    cache = get_cache(str(cache_path))
    record = _load_record(build_dir)
    profile = default_profile()
    timings = record.get("timings", {}).get(profile, {})
    outcomes: dict[str, ChapterOutcome] = {}
    pending: list[ChapterJob] = []
    for job in chapter_jobs(source):
        cached = _readable_match(cache, job.notebook)
        if cached is None:
            job.estimate = timings.get(job.name)
            pending.append(job)
            continue
        facts = cached.data.get("hw5lib", {})
        outcomes[job.name] = ChapterOutcome(job.name, "cached", cached.data.get("execution_seconds"),
                                            executed_at=cached.created.isoformat(timespec="seconds"),
                                            **{key: facts.get(key, "") for key in ("data", "device", "profile")},
                                            title=facts.get("title"), threads=facts.get("threads"))
    cached_names = sorted(outcomes, key=chapters.NAMES.index)
    if cached_names:
        log(f"hw5lib: from the execution cache ({profile}): {', '.join(cached_names)}")
    failures = []
    shares = share_cores(len(pending), jobs) if pending else None
    if pending:
        pending.sort(key=lambda job: (-job.estimate if job.estimate is not None else 0,
                                      FIRST_BUILD_ORDER.index(job.name)))
        processes, threads = shares
        expected = sum(job.estimate for job in pending) / processes if all(
            job.estimate is not None for job in pending) else None
        log(f"hw5lib: executing {i18n.counted(len(pending), 'chapter')} ({profile} profile) "
            f"{processes} at a time, {i18n.counted(threads, 'thread')} each"
            + (f"; about {_minutes(expected)} by the last build's timings" if expected is not None else ""))
        progress = _Progress(pending, processes, log)
        context = multiprocessing.get_context("spawn")  # a clean worker: no state forked from the build
        try:
            with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
                waiting = list(pending)
                running: dict[concurrent.futures.Future, ChapterJob] = {}
                while waiting or running:
                    while waiting and len(running) < processes:
                        job = waiting.pop(0)
                        progress.start(job.name)
                        future = pool.submit(_execute, job.name, nbformat.writes(job.notebook), str(job.path.parent),
                                             threads, timeout)
                        running[future] = job
                    done, _ = concurrent.futures.wait(running, timeout=1.0,
                                                      return_when=concurrent.futures.FIRST_COMPLETED)
                    progress.tick()
                    for future in done:
                        job = running.pop(future)
                        outcome = _store(future.result(), job, cache, CacheBundleIn, build_dir, threads, profile)
                        outcomes[job.name] = outcome
                        if outcome.status == "failed":
                            failures.append(outcome)
                        progress.end(outcome)
        finally:
            progress.close()
    ordered = [outcomes[name] for name in chapters.NAMES if name in outcomes]
    _save_record(build_dir, record, profile, ordered, time.perf_counter() - began, shares)
    if failures:
        first = failures[0]
        raise ChapterExecutionError(
            f"Chapter {first.name} failed in {first.error}; the partly executed notebook is "
            f"{first.extra['notebook']}." + (f" Also failed: {', '.join(f.name for f in failures[1:])}."
                                            if len(failures) > 1 else ""))
    return ordered


def _readable_match(cache, notebook):
    """The cache's record of ``notebook``, or ``None``. A record whose notebook cannot be read (a
    build killed while jupyter-cache wrote it: the database row is written before the file) is
    removed, so the chapter executes again instead of failing the build when myst-nb reads it."""
    try:
        record = cache.match_cache_notebook(notebook)
    except KeyError:
        return None
    try:
        cache.get_cache_bundle(record.pk)
    except Exception:  # a truncated or missing file: not JSON, not a notebook, not there
        _drop_stale(cache, notebook)
        return None
    return record


def _drop_stale(cache, notebook) -> None:
    """Remove what a killed write left for ``notebook``'s key: its database row and its folder
    (jupyter-cache makes the folder with ``mkdir`` that fails when it already exists)."""
    import shutil

    from jupyter_cache.cache.db import NbCacheRecord

    _, hashkey = cache.create_hashed_notebook(notebook)
    try:
        NbCacheRecord.remove_records([NbCacheRecord.record_from_hashkey(hashkey, cache.db).pk], cache.db)
    except KeyError:
        pass
    shutil.rmtree(cache._get_notebook_path_cache(hashkey).parent, ignore_errors=True)


def _store(result: dict, job: ChapterJob, cache, bundle_class, build_dir: Path, threads: int,
           profile: str) -> ChapterOutcome:
    import nbformat

    executed = nbformat.reads(result["notebook"], as_version=4)
    seconds = result["seconds"]
    now = _dt.datetime.now().isoformat(timespec="seconds")
    if result["error"]:
        kept = build_dir / "failed" / f"{job.name}.ipynb"
        atomic_write_text(kept, result["notebook"])
        return ChapterOutcome(job.name, "failed", seconds, now, profile=profile, threads=threads,
                              error=result["error"], extra={"notebook": str(kept)})
    facts = {"profile": profile, **_results_of(executed), "threads": threads}
    _drop_stale(cache, executed)
    cache.cache_notebook_bundle(
        bundle_class(executed, str(job.path), data={"execution_seconds": seconds, "hw5lib": facts}),
        check_validity=False, overwrite=True)
    (build_dir / "failed" / f"{job.name}.ipynb").unlink(missing_ok=True)
    return ChapterOutcome(job.name, "executed", seconds, now, data=facts.get("data", ""), title=facts.get("title"),
                          device=facts.get("device", ""), profile=facts["profile"], threads=threads)


def _save_record(build_dir: Path, record: dict, profile: str, outcomes: list[ChapterOutcome], seconds: float,
                 shares: tuple[int, int] | None) -> None:
    timings = record.setdefault("timings", {}).setdefault(profile, {})
    for outcome in outcomes:
        if outcome.status == "executed":
            timings[outcome.name] = round(outcome.seconds, 1)
    record["last"] = {
        "profile": profile,
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),  # the stage's wall time (the chapters overlap)
        "processes": shares[0] if shares else 0, "threads": shares[1] if shares else 0,
        "chapters": [{key: value for key, value in vars(outcome).items() if key != "extra"} for outcome in outcomes],
    }
    atomic_write_text(build_dir / RECORD, json.dumps(record, indent=2, ensure_ascii=False))


_EXECUTION_HEADER = {
    "fa": ["فصل", "نمایه", "داده", "دستگاه", "رشته‌ها", "زمان اجرا (ثانیه)", "منبع"],
    "en": ["Chapter", "Profile", "Data", "Device", "Threads", "Run time (s)", "Source"],
}
_SOURCE_WORDS = {
    "executed": {"fa": "در همین ساخت اجرا شد ({when})", "en": "executed in this build ({when})"},
    "cached": {"fa": "از حافظهٔ اجرا (اجراشده در {when})", "en": "from the execution cache (executed {when})"},
    "failed": {"fa": "شکست خورد ({when})", "en": "failed ({when})"},
}
_NOT_EXECUTED = {
    "fa": "این کتاب بدون مرحلهٔ اجرای hw5lib ساخته شده است (حالت اجرای دیگری در پیکربندی).",
    "en": "This book was built without hw5lib's execution stage (another execution mode is configured).",
}


def execution_table(record: dict, lang: str) -> dict:
    """The execution page's table from :func:`last_record`: every chapter's profile, data, device,
    threads, run time and whether this build executed it or took it from the cache, in ``lang``.
    A chapter cell is ``(title, docname)``, a link."""
    i18n.check_language(lang)
    rows = []
    for entry in record.get("last", {}).get("chapters", []):
        when = (entry.get("executed_at") or "").replace("T", " ")[:16]  # to the minute
        seconds = entry.get("seconds")
        data = entry.get("data")
        values = [entry.get("profile") or "—", (data.get(lang) if isinstance(data, dict) else data) or "—",
                  entry.get("device") or "—",
                  str(entry["threads"]) if entry.get("threads") else "—",
                  f"{seconds:,.0f}" if seconds is not None else "—",
                  _SOURCE_WORDS[entry["status"]][lang].format(when=when or "?")]
        rows.append([((entry.get("title") or {}).get(lang, entry["name"]), entry["name"]),
                     *(i18n.localise_number(value, lang) for value in values)])
    return {"header": _EXECUTION_HEADER[lang], "rows": rows, "empty": _NOT_EXECUTED[lang]}
