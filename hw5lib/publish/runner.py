"""Execute one chapter with papermill into ``runs/<chapter>-<timestamp>/``.

The run folder receives the executed notebook, the figures and ``results.json`` (parameters,
provenance and headline numbers). Parameters are validated before anything starts, so a typo
costs a sentence, not a kernel start.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Mapping

from hw5lib.publish import registry as chapters
from hw5lib.publish.execute import ipc_kernel_manager_class
from hw5lib.publish.results import RUN_DIR_ENV


class ChapterRunError(RuntimeError):
    """A chapter's notebook raised; the partly executed notebook is kept in the run folder."""


def new_run_dir(chapter: str, root: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = root / f"{chapter}-{stamp}"
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = root / f"{chapter}-{stamp}-{suffix}"
    try:
        candidate.mkdir(parents=True)
    except OSError as exc:
        raise OSError(f"Cannot create the run folder {candidate} ({exc.strerror}); pass a writable --output.") from exc
    return candidate


def notebook_from_source(source: Path):
    """The chapter's jupytext MyST source as an nbformat notebook (kernelspec kept)."""
    import jupytext

    return jupytext.read(source)


def run_chapter(name: str, profile: str | None = None, parameters: Mapping[str, Any] | None = None,
                output: Path | str = "runs", progress: bool = True) -> Path:
    """Run chapter ``name``; return its run folder. Raises ParameterError before starting on bad
    parameters and ChapterRunError (naming the cell) when the notebook fails."""
    import nbformat
    import papermill

    chapter = chapters.get(name)
    name = chapter.name
    parameters = dict(parameters or {})
    resolved = chapter.resolve(profile, parameters)  # fail fast, with the parameter's name
    profile = resolved.profile
    run_dir = new_run_dir(name, Path(output))
    source_notebook = run_dir / f"{name}.source.ipynb"
    nbformat.write(notebook_from_source(chapter.path), source_notebook)
    executed = run_dir / f"{name}.ipynb"
    (run_dir / "parameters.json").write_text(
        json.dumps(resolved.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())
    try:
        papermill.execute_notebook(
            str(source_notebook), str(executed), parameters={"profile": profile, **parameters},
            cwd=str(chapter.path.parent), progress_bar=progress, kernel_name="python3",
            kernel_manager_class=ipc_kernel_manager_class(),
        )
    except papermill.PapermillExecutionError as exc:
        raise ChapterRunError(
            f"Chapter {name} failed in cell {exc.exec_count} with {exc.ename}: {str(exc.evalue).rstrip('.')}; "
            f"the partly executed notebook is {executed}."
        ) from None
    finally:
        source_notebook.unlink(missing_ok=True)  # the executed notebook (partial or whole) is what stays
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous
    if not (run_dir / "results.json").exists():
        raise ChapterRunError(f"Chapter {name} ran but wrote no results.json into {run_dir}; it must call publish().")
    return run_dir
