"""SIGKILL in the middle of training, then the same command again: the run resumes from its last
checkpoint and ends with the numbers of a run that was never interrupted. And a book build killed
while it executes chapters leaves a cache that the next build uses.

Each check kills the whole process tree (the command, and the Jupyter kernel that runs the
chapter in a session of its own), as a machine that runs out of memory or is switched off would."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def kill_tree_when(command: list[str], env: dict, ready, what: str, timeout: float = 900, cwd=None) -> None:
    """Start ``command``; once ``ready()`` holds, SIGKILL it and every process it started."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if process.poll() is not None:
                pytest.fail(f"the command ended (status {process.returncode}) before {what}: "
                            f"{process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout} s")
            time.sleep(0.1)
    finally:
        tree = [process.pid, *(child.pid for child in psutil.Process(process.pid).children(recursive=True))]
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()
        process.stderr.close()
        psutil.wait_procs([p for p in map(_process, tree) if p is not None], timeout=30)


def _process(pid):
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def command(chapter: str, output: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hw5lib", "run", chapter, "--profile", "smoke", "--quiet", "--output", str(output),
            *extra]


def run_chapter(chapter: str, cache: Path, output: Path, *extra: str) -> dict:
    """Run the chapter to its end with ``cache`` as $HW5LIB_CACHE; return its metrics."""
    result = subprocess.run(command(chapter, output, *extra), env={**os.environ, "HW5LIB_CACHE": str(cache)},
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = output.iterdir()
    saved = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    return {metric["key"]: metric["value"] for metric in saved["metrics"]}


# --- spoken digits: a checkpoint per epoch ---------------------------------------------------------

def digit_checkpoints(cache: Path) -> dict[str, list[float]]:
    """Each checkpoint's recorded epoch times: a resumed run keeps those of the epochs it did not redo."""
    from safetensors import safe_open

    found = {}
    for path in sorted((cache / "checkpoints" / "q4").glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                found[path.name] = [row["seconds"] for row in json.loads(handle.metadata()["history"])]
        except Exception:  # being renamed into place at this instant
            continue
    return found


def test_digits_killed_mid_training_resume_and_end_as_if_never_stopped(tmp_path):
    extra = ("-p", "data", "synthetic", "-p", "epochs", "6", "-p", "report_epochs", "6")
    whole = run_chapter("q4", tmp_path / "cache-a", tmp_path / "runs-a", *extra)
    cache = tmp_path / "cache-b"
    env = {**os.environ, "HW5LIB_CACHE": str(cache)}
    kill_tree_when(command("q4", tmp_path / "runs-killed", *extra), env,
                   lambda: any(len(times) >= 2 for times in digit_checkpoints(cache).values()), "two finished epochs")
    at_kill = digit_checkpoints(cache)
    resumed = run_chapter("q4", cache, tmp_path / "runs-b", *extra)
    assert resumed == whole, "the resumed run must end with the uninterrupted run's numbers"
    after = digit_checkpoints(cache)
    for name, times in at_kill.items():  # the epochs finished before the kill were read back, not redone
        assert after[name][:len(times)] == times, name


# --- Whisper: the trainer's checkpoints ---------------------------------------------------------------

def whisper_states(cache: Path) -> dict[str, list]:
    """Each fine-tuning run's evaluation times in its latest checkpoint (runs are
    ``checkpoints/whisper/<key>/<strategy>/checkpoint-<step>``): a resumed run keeps those it read back."""
    found = {}
    for state in (cache / "checkpoints" / "whisper").glob("*/*/checkpoint-*/trainer_state.json"):
        try:
            log = json.loads(state.read_text())["log_history"]
        except (OSError, ValueError):  # being written at this instant
            continue
        run = f"{state.parents[2].name}/{state.parents[1].name}"
        times = [entry["eval_runtime"] for entry in log if "eval_runtime" in entry]
        if len(times) >= len(found.get(run, [])):
            found[run] = times
    return found


def test_whisper_killed_mid_fine_tuning_resumes_and_ends_as_if_never_stopped(tmp_path):
    extra = ("-p", "epochs", "4")
    whole = run_chapter("whisper", tmp_path / "cache-a", tmp_path / "runs-a", *extra)
    cache = tmp_path / "cache-b"
    env = {**os.environ, "HW5LIB_CACHE": str(cache)}
    kill_tree_when(command("whisper", tmp_path / "runs-killed", *extra), env,
                   lambda: any(len(times) >= 2 for times in whisper_states(cache).values()),
                   "a fine-tuning checkpoint with two evaluations")
    at_kill = whisper_states(cache)
    resumed = run_chapter("whisper", cache, tmp_path / "runs-b", *extra)
    assert resumed == whole, "the resumed run must end with the uninterrupted run's numbers"
    finals = whisper_states(cache)
    for run, times in at_kill.items():  # the evaluations before the kill were read back, not redone
        assert finals[run][:len(times)] == times, run


# --- a book build -----------------------------------------------------------------------------------

def test_a_killed_book_build_leaves_a_cache_the_next_build_uses(project_copy, tmp_path):
    """Killed while executing chapters (smoke profile), the build is run again: it succeeds, and the
    chapters executed before the kill are read from the cache, not executed again."""
    import shutil

    from jupyter_cache import get_cache

    root = tmp_path / "book"
    shutil.copytree(project_copy, root, ignore=shutil.ignore_patterns("_build"))
    env = {**os.environ, "HW5LIB_PROFILE": "smoke"}
    build = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", "book/"]
    cache_dir = root / "_build" / ".jupyter_cache"

    def cached():
        try:
            return {record.uri: record.pk for record in get_cache(str(cache_dir)).list_cache_records()}
        except Exception:  # the cache's database is being created at this instant
            return {}

    kill_tree_when(build, env, lambda: len(cached()) >= 2, "two executed chapters", cwd=root)
    before = cached()
    whole = {}  # a notebook the kill caught half-written is executed again; the others must be kept
    for uri, pk in before.items():
        try:
            get_cache(str(cache_dir)).get_cache_bundle(pk)
            whole[uri] = pk
        except Exception:
            pass
    assert 2 <= len(before) < len(list((ROOT / "book").glob("q*.md"))), "the kill must land mid-build"
    result = subprocess.run(build, env=env, cwd=root, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    after = cached()
    assert whole and all(after.get(uri) == pk for uri, pk in whole.items()), "a chapter cached whole ran again"
    assert len(after) == len(list((ROOT / "book").glob("q*.md")))
    assert (root / "_build" / "html" / "en" / "q2_vanishing.html").is_file()
