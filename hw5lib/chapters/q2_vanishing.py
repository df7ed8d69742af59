"""Q2: "Let's not vanish", backpropagation through a two-block residual network.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q2_vanishing.md`` is prose and short calls into this module."""

from __future__ import annotations

from hw5lib.publish.chapter import Chapter
from hw5lib.publish.profiles import Parameter

CHAPTER = Chapter(
    "q2_vanishing",
    {"fa": "سوال ۲: محو نشویم", "en": "Q2: Let's not vanish"},
    (
        Parameter("symbolic_width", "int", {"smoke": 2, "quick": 3, "full": 3},
                  "units per layer in the SymPy derivation (the formulas do not depend on it)",
                  minimum=1, maximum=4),
        Parameter("check_widths", "int_list", {"smoke": [2, 3], "quick": [2, 3, 5, 8, 16],
                                               "full": [2, 3, 5, 8, 16, 64, 256]},
                  "layer widths at which the derived gradients are compared with autograd",
                  minimum=1, maximum=4096),
        Parameter("check_trials", "int", {"smoke": 2, "quick": 10, "full": 50},
                  "random networks per width in the autograd comparison", minimum=1, maximum=10_000),
        Parameter("depth", "int", {"smoke": 8, "quick": 40, "full": 100},
                  "blocks in the deep network of the vanishing-gradient experiment", minimum=2, maximum=1000),
        Parameter("width", "int", {"smoke": 16, "quick": 64, "full": 256},
                  "units per block in the deep network", minimum=2, maximum=8192),
        Parameter("batch", "int", {"smoke": 32, "quick": 256, "full": 1024},
                  "samples in the batch whose gradient is measured", minimum=1, maximum=1_000_000),
        Parameter("train_steps", "int", {"smoke": 20, "quick": 300, "full": 2000},
                  "optimisation steps when training the plain and the residual network", minimum=1,
                  maximum=1_000_000),
    ),
)
setup = CHAPTER.setup
