"""``python -m hw5lib``: run a chapter, build the book, list chapters, fetch data and web assets.

Errors a user can fix are printed as one sentence (exit status 2); nothing else is caught.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hw5lib.publish import registry as chapters
from hw5lib.publish import i18n, profiles


def _parse_value(text: str):
    """A ``-p`` value as YAML would read it (42, 0.5, true, [2, 3]); the chapter validates it."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _run(args) -> int:
    from hw5lib.publish.runner import run_chapter

    given = {}
    for name, value in args.parameter or ():
        if name == "profile":
            raise profiles.ParameterError("Give the profile with --profile, not -p profile.")
        given[name] = _parse_value(value)
    run_dir = run_chapter(args.chapter, args.profile, given, output=args.output, progress=not args.quiet)
    profile = args.profile or profiles.default_profile()
    print(f"hw5lib: chapter {chapters.canonical(args.chapter)} ({profile}) finished: {run_dir}")
    return 0


def _book(args) -> int:
    import os

    from hw5lib.publish import book

    if args.profile:  # the chapters' kernels (and the second language's build) inherit it
        os.environ[profiles.PROFILE_ENV] = profiles.check_profile(args.profile)
    profiles.default_profile()  # a bad $HW5LIB_PROFILE stops here, not in the first chapter
    timings = book.build(pdf=not args.no_pdf, warnings_as_errors=args.strict, runs=args.from_run or (),
                         root=args.root or book.ROOT, jobs=args.jobs)
    summary = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"hw5lib: book built in _build/html (Persian) and _build/html/en (English); {summary}")
    return 0


def _chapters(args) -> int:
    aliases = {name: alias for alias, name in chapters.ALIASES.items()}
    for chapter in chapters.all_chapters().values():
        print(f"{chapter.name} (or {aliases[chapter.name]}): {chapter.title['en']} (book/{chapter.notebook})")
        for parameter in chapter.all_parameters:
            defaults = parameter.default if isinstance(parameter.default, dict) else {"all": parameter.default}
            shown = ", ".join(f"{profile}={value}" for profile, value in defaults.items())
            print(f"    {parameter.name} ({parameter.kind}; {shown}): {parameter.help}")
    return 0


def _assets(args) -> int:
    from hw5lib.publish import assets

    for name, path in assets.ensure_all().items():
        print(f"{name}: {path}")
    return 0


def _data(args) -> int:
    from hw5lib.data import fetch

    datasets = {"fsdd": fetch.FSDD, "audiomnist": fetch.AUDIOMNIST}
    unknown = sorted(set(args.datasets) - set(datasets))
    if unknown:
        raise profiles.ParameterError(f"Unknown data set {unknown[0]!r}; choose fsdd or audiomnist.")
    for name in args.datasets or ["fsdd"]:
        dataset = datasets[name]
        if args.action == "fetch":
            fetch.fetch(dataset, progress=not args.quiet)
        record = dataset.record()
        if record:
            speakers = i18n.counted(record["speakers"], "speaker")
            print(f"{dataset.title}: {record['clips']:,} clips of {speakers} at {dataset.home()}, "
                  f"checked ({record['checked']}) from {record.get('url', '?')}; digest {record['digest'][:12]}")
        else:
            print(f"{dataset.title}: not in the cache ({dataset.home()}); `python -m hw5lib data fetch {name}` "
                  f"downloads it from {dataset.url()}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m hw5lib", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute one chapter with papermill into runs/<chapter>-<time>/")
    run.add_argument("chapter", help=f"one of: {', '.join(chapters.NAMES)} "
                     f"(or the short {', '.join(chapters.ALIASES)})")
    run.add_argument("--profile", help=f"{' | '.join(profiles.PROFILES)} (default: ${profiles.PROFILE_ENV}, else "
                     f"{profiles.DEFAULT_PROFILE})")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="override a parameter (repeatable); see `python -m hw5lib chapters`")
    run.add_argument("--output", type=Path, default=Path("runs"), help="folder for run folders (default: runs)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)

    book = commands.add_parser("book", help="build both languages as HTML, and a PDF of each")
    book.add_argument("--no-pdf", action="store_true", help="HTML only")
    book.add_argument("--profile", help=f"execute every chapter on this profile ({' | '.join(profiles.PROFILES)}; "
                      f"default: ${profiles.PROFILE_ENV}, else {profiles.DEFAULT_PROFILE})")
    book.add_argument("--jobs", type=int, metavar="N", help="execute at most N chapters at a time, the cores "
                      "shared between them (default: one per core)")
    book.add_argument("--strict", action="store_true", help="treat Sphinx warnings as errors (CI)")
    book.add_argument("--root", type=Path, help="the folder with _config.yml, _toc.yml and book/ (default: this "
                      "checkout); the build goes into its _build/")
    book.add_argument("--from-run", type=Path, action="append", metavar="RUN_DIR",
                      help="show this run's executed chapter instead of executing it (repeatable)")
    book.set_defaults(handler=_book)

    listing = commands.add_parser("chapters", help="list chapters and their parameters")
    listing.set_defaults(handler=_chapters)

    data = commands.add_parser("data", help="fetch FSDD / AudioMNIST into the cache (verified), or say what is there")
    data.add_argument("action", choices=["fetch", "status"])
    data.add_argument("datasets", nargs="*", metavar="DATASET", help="fsdd and/or audiomnist (default: fsdd)")
    data.add_argument("--quiet", action="store_true", help="no progress bar")
    data.set_defaults(handler=_data)

    fetch = commands.add_parser("assets", help="fetch the book's offline web assets (MathJax, Vazirmatn)")
    fetch.set_defaults(handler=_assets)
    return top


def main(argv: list[str] | None = None) -> int:
    from hw5lib.data.audio import AudioError
    from hw5lib.publish.assets import AssetError
    from hw5lib.publish.book import BookBuildError
    from hw5lib.publish.runner import ChapterRunError

    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except (profiles.ParameterError, ChapterRunError, BookBuildError, AssetError, AudioError, OSError) as exc:
        print(f"hw5lib: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hw5lib: interrupted; finished run folders and caches are intact.", file=sys.stderr)
        return 130
