"""Q3: Whisper, Persian transcription, translation, transfer learning and fine-tuning.

The chapter's parameters and profiles, the report's numbers, its findings and figures; the
notebook ``book/q3_whisper.md`` is prose and short calls into this module."""

from __future__ import annotations

from hw5lib.publish.chapter import Chapter
from hw5lib.publish.profiles import Parameter

CHAPTER = Chapter(
    "q3_whisper",
    {"fa": "سوال ۳: Whisper؛ رونویسی فارسی، ترجمه، یادگیری انتقالی و تنظیم دقیق",
     "en": "Q3: Whisper: Persian transcription, translation, transfer learning and fine-tuning"},
    (
        Parameter("model_name_or_path", "model", {"smoke": "tiny", "quick": "tiny", "full": "openai/whisper-base"},
                  "tiny (a small Whisper built and pre-trained here, offline), a checkpoint folder, or a hub "
                  "id such as openai/whisper-base (the report's model; needs the hub or its cache)"),
        Parameter("data", "speech_source", "synthetic",
                  "the Persian data set to fine-tune on: synthetic (espeak-ng), or a folder of audio files "
                  "with one CSV/TSV of transcriptions, or a Common Voice language folder"),
        Parameter("sentences", "int", {"smoke": 30, "quick": 300, "full": 600},
                  "different Persian sentences in the synthetic corpus", minimum=12, maximum=20_000),
        Parameter("voices", "int", {"smoke": 1, "quick": 2, "full": 4},
                  "Persian voices of the synthetic target set (two more voices are the source)",
                  minimum=1, maximum=4),
        Parameter("pretrain_epochs", "int", {"smoke": 1, "quick": 12, "full": 40},
                  "epochs of the tiny model's pre-training on the source voices (tiny only)",
                  minimum=1, maximum=10_000),
        Parameter("epochs", "float", {"smoke": 1, "quick": 5, "full": 5},
                  "fine-tuning epochs (the report: 5)", minimum=0.1, maximum=10_000),
        Parameter("learning_rate", "float", {"smoke": 1e-3, "quick": 1e-3, "full": 1e-5},
                  "peak learning rate of fine-tuning (the report: 1e-5 for whisper-base)",
                  minimum=1e-8, maximum=1.0),
        Parameter("batch_size", "int", {"smoke": 8, "quick": 8, "full": 16}, "clips per training step",
                  minimum=1, maximum=4096),
        Parameter("dropout", "float", {"smoke": 0.1, "quick": 0.1, "full": 0.0},
                  "dropout in every layer while fine-tuning (Whisper's checkpoints: 0)", minimum=0.0,
                  maximum=0.9),
        Parameter("eval_every", "int", {"smoke": 2, "quick": 40, "full": 50},
                  "steps between validations during fine-tuning (the report: 50)", minimum=1,
                  maximum=1_000_000),
        Parameter("fa_audio", "audio_file", "",
                  "your own recording of the report's Persian sentence (empty: a synthetic one)"),
        Parameter("zh_audio", "audio_file", "",
                  "your own recording of the report's Chinese sentence (empty: a synthetic one)"),
    ),
)
setup = CHAPTER.setup
