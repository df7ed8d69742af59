"""Q1.3: AutoML and neural architecture search.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q1_automl.md`` is prose and short calls into this module."""

from __future__ import annotations

from hw5lib.chapters.common import spoken_digits
from hw5lib.publish.chapter import Chapter
from hw5lib.publish.profiles import Parameter

CHAPTER = Chapter(
    "q1_automl",
    {"fa": "سوال ۱.۳: AutoML و جست‌وجوی معماری عصبی",
     "en": "Q1.3: AutoML and neural architecture search"},
    (
        *spoken_digits({"smoke": 3, "quick": 8, "full": 60}, {"smoke": 4, "quick": 12, "full": 100}),
        Parameter("trials", "int", {"smoke": 3, "quick": 20, "full": 100},
                  "finished trials of each study (TPE and random search get the same budget)",
                  minimum=1, maximum=100_000),
        Parameter("epochs", "int", {"smoke": 1, "quick": 8, "full": 30},
                  "epochs of a trial that is not pruned, and of the final comparison", minimum=1,
                  maximum=10_000),
        Parameter("timeout", "float", 0.0, "seconds after which each study stops starting trials (0: no limit)",
                  minimum=0.0, maximum=1e7),
        Parameter("pruner", "str", "hyperband", "early stopping of poor trials: hyperband, halving or none",
                  choices=("hyperband", "halving", "none")),
        Parameter("storage", "storage", "auto",
                  "where the studies live: auto (a SQLite file in the run folder, or a temporary one), "
                  "memory, journal:///path, sqlite:///path or a database URL shared by several workers"),
        Parameter("study_name", "str", "digits",
                  "the studies are <study_name>-tpe and <study_name>-random in the storage"),
    ),
)
setup = CHAPTER.setup
