"""Q1.4: Kolmogorov-Arnold Networks against MLPs.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q1_kan.md`` is prose and short calls into this module."""

from __future__ import annotations

from hw5lib.chapters.common import spoken_digits
from hw5lib.publish.chapter import Chapter
from hw5lib.publish.profiles import Parameter

CHAPTER = Chapter(
    "q1_kan",
    {"fa": "سوال ۱.۴: شبکه‌های کولموگروف–آرنولد در برابر MLP",
     "en": "Q1.4: Kolmogorov–Arnold Networks against MLPs"},
    (
        Parameter("fit_steps", "int", {"smoke": 4, "quick": 20, "full": 100},
                  "L-BFGS steps per grid size (KAN) or per model (MLP, twice as many in all) on the toy "
                  "functions", minimum=1, maximum=100_000),
        Parameter("kan_grids", "increasing_int_list", {"smoke": [3, 5], "quick": [3, 5, 10, 20],
                                            "full": [3, 5, 10, 20, 50, 100]},
                  "grid sizes of the KAN's grid extension on the toy functions", minimum=1, maximum=1000),
        Parameter("mlp_widths", "int_list", {"smoke": [4, 16], "quick": [4, 16, 64],
                                             "full": [4, 8, 16, 32, 64, 128, 256]},
                  "hidden widths of the MLPs compared on the toy functions", minimum=1, maximum=4096),
        Parameter("mlp_depths", "int_list", {"smoke": [2], "quick": [2, 3], "full": [2, 3, 4]},
                  "hidden layers of the MLPs compared on the toy functions", minimum=1, maximum=16),
        Parameter("interpret_steps", "int", {"smoke": 6, "quick": 50, "full": 100},
                  "L-BFGS steps of each stage of the interpretability experiment", minimum=2, maximum=100_000),
        Parameter("phase_steps", "int", {"smoke": 30, "quick": 200, "full": 1000},
                  "Adam steps on each peak of the forgetting experiment", minimum=1, maximum=1_000_000),
        *spoken_digits({"smoke": 3, "quick": 6, "full": 60}, {"smoke": 4, "quick": 15, "full": 50}),
        Parameter("digit_epochs", "int", {"smoke": 10, "quick": 100, "full": 300},
                  "Adam epochs of the mean-MFCC digit classifiers", minimum=1, maximum=100_000),
        Parameter("kan_hidden", "int", 8, "hidden width of the digit KAN (the MLPs are matched to it)",
                  minimum=1, maximum=1024),
    ),
)
setup = CHAPTER.setup
