"""Q4: spoken-digit recognition with LSTM, BiLSTM and CNN.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q4_digits.md`` is prose and short calls into this module."""

from __future__ import annotations

from hw5lib.chapters.common import spoken_digits
from hw5lib.publish.chapter import Chapter
from hw5lib.publish.profiles import Parameter

CHAPTER = Chapter(
    "q4_digits",
    {"fa": "سوال ۴: بازشناسی ارقام گفته‌شده با LSTM، BiLSTM و CNN",
     "en": "Q4: Spoken-digit recognition with LSTM, BiLSTM and CNN"},
    (
        *spoken_digits({"smoke": 3, "quick": 8, "full": 60}, {"smoke": 4, "quick": 10, "full": 500}),
        Parameter("report_epochs", "int", {"smoke": 2, "quick": 15, "full": 30},
                  "epochs of the report's recipe (Adam 1e-4, batch 32, raw MFCCs)", minimum=1, maximum=10_000),
        Parameter("epochs", "int", {"smoke": 2, "quick": 20, "full": 60},
                  "epochs of our recipe", minimum=1, maximum=10_000),
        Parameter("learning_rate", "float", 2e-3,
                  "our recipe's peak learning rate (cosine schedule)", minimum=1e-6, maximum=1.0),
        Parameter("input_noise", "float", 0.2,
                  "our recipe's Gaussian input noise, in standardised units", minimum=0.0, maximum=5.0),
        Parameter("batch_size", "int", 32, "clips per batch, in both recipes", minimum=1, maximum=4096),
        Parameter("report_clips", "int", {"smoke": 40, "quick": 300, "full": 1000},
                  "clips in the reconstruction of the report's data (its test set held about 200)",
                  minimum=20, maximum=1_000_000),
        Parameter("held_out_speakers", "int", {"smoke": 2, "quick": 2, "full": 60},
                  "speaker-disjoint folds: each holds out one speaker (at most the number of speakers)",
                  minimum=1, maximum=1000),
    ),
)
setup = CHAPTER.setup
