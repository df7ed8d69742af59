"""The book build as a budget: the cold build of the whole book (both languages, HTML and PDFs) and
the warm rebuild with nothing changed, on this machine, with each chapter's execution time.

    .venv/bin/python bench/build.py --warm-runs 3                     # quick profile, what readers get
    .venv/bin/python bench/build.py --profile smoke --cold-runs 3     # the pipeline alone

A cold run builds a fresh copy of the sources (``_config.yml``, ``_toc.yml``, ``book/``) in a
temporary folder, so no ``_build`` and no execution cache exist; with ``--empty-data-cache`` it
also gets an empty ``$HW5LIB_CACHE`` (spoken digits and Persian speech synthesised again, the
tiny Whisper pre-trained again), otherwise it shares this machine's data cache. The warm runs
repeat the same build in that folder. Each build is ``python -m hw5lib book`` in a child process,
as ``scripts/book`` runs it. Goals (issue 19): cold at most 480 s, warm at most 15 s. The chapters
execute side by side (hw5lib.publish.execute), so the stage's wall time is less than their sum.

The copy holds its own ``hw5lib`` (first on ``PYTHONPATH``), so that after the warm runs two edits
can be measured (issue 15): a comment appended to ``hw5lib/kan/layer.py`` must re-execute only the
chapters that import the KAN, and a comment appended to ``hw5lib/chapters/q4_digits.py`` (a
sentence mended) must re-execute Q4 alone and train nothing (no checkpoint written).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_sources(target: Path) -> Path:
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "book", target / "book", symlinks=True,
                    ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    shutil.copytree(ROOT / "hw5lib", target / "src" / "hw5lib", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def executed_since(folder: Path, moment: float) -> list[str]:
    """The chapters jupyter-cache stored a new execution of after ``moment`` (a time.time())."""
    import datetime as dt

    database = folder / "_build" / ".jupyter_cache" / "global.db"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("select uri, created from nbcache").fetchall()
    since = dt.datetime.fromtimestamp(moment, dt.timezone.utc).replace(tzinfo=None)
    return sorted(Path(uri).stem for uri, created in rows if dt.datetime.fromisoformat(str(created)) > since)


def checkpoints_written_since(cache: Path, moment: float) -> int:
    folder = cache / "checkpoints"
    return sum(1 for path in folder.rglob("*") if path.is_file() and path.stat().st_mtime > moment) \
        if folder.is_dir() else 0


def edited_rebuild(folder: Path, env: dict, relative: str, cache: Path) -> tuple[float, list[str], int]:
    """Append a comment to ``src/<relative>``, rebuild; (seconds, chapters executed, checkpoints written)."""
    with (folder / "src" / relative).open("a", encoding="utf-8") as source:
        source.write("\n# edited by bench/build.py\n")
    moment = time.time()
    seconds = build(folder, env)
    return seconds, executed_since(folder, moment), checkpoints_written_since(cache, moment)


def build(folder: Path, env: dict) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "hw5lib", "book", "--root", str(folder)], cwd=folder, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the build in {folder} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds


def chapter_seconds(folder: Path) -> tuple[dict[str, float], float]:
    """Execution time of each chapter, as jupyter-cache recorded it, and the execution stage's wall time."""
    import json

    database = folder / "_build" / ".jupyter_cache" / "global.db"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("select uri, data from nbcache").fetchall()
    record = json.loads((folder / "_build" / ".hw5lib-execution.json").read_text(encoding="utf-8"))
    return ({Path(uri).stem: json.loads(data).get("execution_seconds", float("nan")) for uri, data in rows},
            record["last"]["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "full"))
    parser.add_argument("--cold-runs", type=int, default=1)
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--empty-data-cache", action="store_true",
                        help="give every cold run an empty $HW5LIB_CACHE (synthesis and pre-training included)")
    parser.add_argument("--no-edits", action="store_true", help="skip the two edited rebuilds")
    args = parser.parse_args()
    env = {**os.environ, "HW5LIB_PROFILE": args.profile}
    cold, warm, chapters, edits, stage = [], [], {}, {}, float("nan")
    for run in range(args.cold_runs):
        with tempfile.TemporaryDirectory(prefix="hw5lib-bench-build-") as scratch:
            folder = copy_sources(Path(scratch))
            run_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(folder / "src"), env.get("PYTHONPATH")]))}
            if args.empty_data_cache:
                run_env["HW5LIB_CACHE"] = str(Path(scratch) / "data-cache")
            cache = Path(run_env.get("HW5LIB_CACHE", Path.home() / ".cache" / "hw5lib"))
            cold.append(build(folder, run_env))
            print(f"cold build {run + 1}: {cold[-1]:.0f} s", flush=True)
            if run == args.cold_runs - 1:
                chapters, stage = chapter_seconds(folder)
                for warm_run in range(args.warm_runs):
                    warm.append(build(folder, run_env))
                    print(f"warm rebuild {warm_run + 1}: {warm[-1]:.1f} s", flush=True)
                if not args.no_edits:
                    for relative in ("hw5lib/kan/layer.py", "hw5lib/chapters/q4_digits.py"):
                        edits[relative] = edited_rebuild(folder, run_env, relative, cache)
                        seconds, executed, written = edits[relative]
                        print(f"rebuild after editing {relative}: {seconds:.0f} s, executed "
                              f"{', '.join(executed) or 'none'}, {written} checkpoint files written", flush=True)
    print(f"\nprofile {args.profile}, {os.cpu_count()} CPUs, data cache "
          f"{'empty' if args.empty_data_cache else 'shared'}")
    print(f"cold build (HTML + PDFs, both languages): median {statistics.median(cold):.0f} s of {len(cold)} "
          f"(goal 480 s: {'met' if statistics.median(cold) <= 480 else 'not met'})")
    if warm:
        print(f"warm rebuild, nothing changed: median {statistics.median(warm):.1f} s of {len(warm)} "
              f"(goal 15 s: {'met' if statistics.median(warm) <= 15 else 'not met'})")
    for relative, (seconds, executed, written) in edits.items():
        print(f"edit {relative}: rebuild {seconds:.0f} s, re-executed {', '.join(executed) or 'nothing'}, "
              f"{written} checkpoint files written")
    total = sum(chapters.values())
    for name, seconds in sorted(chapters.items(), key=lambda item: -item[1]):
        print(f"  {name:14s} {seconds:6.0f} s  ({seconds / total:.0%} of execution)")
    print(f"  {'all chapters':14s} {total:6.0f} s of execution, {stage:.0f} s of wall time side by side; the rest "
          f"of the cold build (Sphinx, two languages, two PDFs): {cold[-1] - stage:.0f} s")


if __name__ == "__main__":
    main()
