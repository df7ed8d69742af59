"""Build one language of the book with jupyter-book's own Sphinx driver, in its own process.

Used by the extension (primary build -> the other language) and by ``hw5lib book`` (the
single-page builds that become PDFs), both through :func:`run_child`. It finds ``_config.yml``
and ``_toc.yml`` exactly as ``jupyter-book build`` does and overrides only the language, the
output folders and ``hw5lib_build_other_languages`` (a child never starts another child).

A process per language is required: Sphinx keeps its translations per process, so a second
language built in the same process keeps the first one's words.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def start_child(lang: str, srcdir: Path, outdir: Path, cache: Path | None = None, builder: str = "html",
                warnings_as_errors: bool = False, cwd: Path | None = None) -> subprocess.Popen:
    """Start building ``lang`` into ``outdir`` in a new process; the caller waits for it."""
    # not ``-m hw5lib.publish.sphinxext.child``: the package imports this module first, and runpy
    # would warn that it is found in sys.modules before it runs as __main__
    command = [sys.executable, "-c", "import sys; from hw5lib.publish.sphinxext.child import main; sys.exit(main())",
               "--lang", lang, "--builder", builder, "--srcdir", str(srcdir), "--outdir", str(outdir)]
    if cache is not None:
        command += ["--cache", str(cache)]
    if warnings_as_errors:
        command.append("--warnings-as-errors")
    return subprocess.Popen(command, cwd=cwd)


def run_child(lang: str, srcdir: Path, outdir: Path, cache: Path | None = None, builder: str = "html",
              warnings_as_errors: bool = False, cwd: Path | None = None) -> int:
    """Build ``lang`` into ``outdir`` in a new process; return its exit status."""
    return start_child(lang, srcdir, outdir, cache, builder, warnings_as_errors, cwd).wait()


def build_language(srcdir: Path, outdir: Path, lang: str, cache: Path | None = None, builder: str = "html",
                   warnings_as_errors: bool = False) -> int:
    from jupyter_book.sphinx import build_sphinx
    from jupyter_book.cli.main import find_config_path

    srcdir, outdir = Path(srcdir).absolute(), Path(outdir).absolute()
    root, found = find_config_path(srcdir)
    overrides = {
        "external_toc_path": (srcdir / "_toc.yml").as_posix(),
        "language": lang,
        "hw5lib_build_other_languages": False,
        "latex_individualpages": False,  # jupyter-book's config merge expects this key
    }
    if cache is not None:
        overrides["nb_execution_cache_path"] = str(cache)
    doctrees = outdir.parent / f".doctrees-{builder}-{lang}"
    result = build_sphinx(
        srcdir, outdir, noconfig=True, path_config=str(root / "_config.yml") if found else None,
        confoverrides=overrides, doctreedir=doctrees, builder=builder,
        warningiserror=warnings_as_errors, quiet=True,
    )
    return 1 if isinstance(result, Exception) else int(result or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lang", required=True)
    parser.add_argument("--srcdir", required=True, type=Path)
    parser.add_argument("--outdir", required=True, type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--builder", default="html")
    parser.add_argument("--warnings-as-errors", action="store_true")
    args = parser.parse_args(argv)
    return build_language(args.srcdir, args.outdir, args.lang, args.cache, args.builder, args.warnings_as_errors)


if __name__ == "__main__":
    sys.exit(main())
