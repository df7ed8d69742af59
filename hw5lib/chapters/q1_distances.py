"""Q1.1-1.2: distances between distributions and the methods that bring two of them closer.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q1_distances.md`` is prose and short calls into this module."""

from __future__ import annotations

from hw5lib.chapters.common import spoken_digits
from hw5lib.publish.chapter import Chapter
from hw5lib.publish.profiles import Parameter

CHAPTER = Chapter(
    "q1_distances",
    {"fa": "سوال ۱: فاصلهٔ میان توزیع‌ها و نزدیک کردن آن‌ها",
     "en": "Q1: Distances between distributions, and bringing them closer"},
    (
        *spoken_digits({"smoke": 3, "quick": 6, "full": 12}, {"smoke": 4, "quick": 15, "full": 50}),
        Parameter("max_frames", "int", {"smoke": 100, "quick": 400, "full": 1000},
                  "MFCC frames per sample in each optimal-transport and MMD distance", minimum=20,
                  maximum=5000),
        Parameter("mmd_steps", "int", {"smoke": 20, "quick": 300, "full": 1000},
                  "Adam steps of the MMD-minimising affine map", minimum=1, maximum=100_000),
        Parameter("estimator_sizes", "int_list", {"smoke": [50, 200],
                                                  "quick": [30, 100, 300, 1000, 3000, 10000],
                                                  "full": [30, 100, 300, 1000, 3000, 10000, 30000]},
                  "sample sizes at which the KL estimators are compared with the closed form",
                  minimum=10, maximum=1_000_000),
        Parameter("estimator_repeats", "int", {"smoke": 3, "quick": 20, "full": 100},
                  "independent samples per size in the estimator comparison", minimum=2, maximum=10_000),
        Parameter("stream_length", "int", {"smoke": 2000, "quick": 6000, "full": 20000},
                  "transactions in the monitored stream (the change comes halfway)", minimum=1000,
                  maximum=10_000_000),
        Parameter("false_alarm_rate", "float", 0.01,
                  "share of normal windows allowed over the detection threshold", minimum=1e-4, maximum=0.5),
    ),
)
setup = CHAPTER.setup
