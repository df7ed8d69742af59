"""The book's chapters: where each notebook lives and which parameters it takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from hw5lib.publish.profiles import COMMON_PARAMETERS, Parameter, Parameters, ParameterError, resolve

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"


@dataclass(frozen=True)
class Chapter:
    name: str
    notebook: str  # relative to book/
    title: dict
    parameters: tuple[Parameter, ...] = ()

    @property
    def path(self) -> Path:
        return BOOK / self.notebook

    @property
    def all_parameters(self) -> tuple[Parameter, ...]:
        return self.parameters + COMMON_PARAMETERS

    def resolve(self, profile: str, given: Mapping[str, Any]) -> Parameters:
        return resolve(self.all_parameters, profile, given)


# the data parameter of every chapter that works on spoken digits (hw5lib.data.audio.load_digits)
SPOKEN_DIGITS = Parameter("data", "data_source", "auto",
                          "spoken digits: auto (this workplace's FSDD when present, else synthetic), synthetic, "
                          "or a folder of FSDD or AudioMNIST recordings")

def spoken_digits(speakers: dict, clips_per_digit: dict) -> tuple[Parameter, ...]:
    """The data parameters of a chapter on spoken digits, with its profiles' sizes."""
    return (
        SPOKEN_DIGITS,
        Parameter("speakers", "int", speakers,
                  "at most this many speakers (and this many voices, up to 12, when synthetic)", minimum=2, maximum=1000),
        Parameter("clips_per_digit", "int", clips_per_digit, "at most this many takes of each digit per speaker",
                  minimum=2, maximum=10_000),
    )


CHAPTERS: dict[str, Chapter] = {
    chapter.name: chapter
    for chapter in (
        Chapter(
            "q1", "q1_distances.md",
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
        ),
        Chapter(
            "automl", "q1_automl.md",
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
        ),
        Chapter(
            "kan", "q1_kan.md",
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
        ),
        Chapter(
            "q2", "q2_vanishing.md",
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
        ),
        Chapter(
            "whisper", "q3_whisper.md",
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
        ),
        Chapter(
            "q4", "q4_digits.md",
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
        ),
    )
}


def get(name: str) -> Chapter:
    try:
        return CHAPTERS[name]
    except KeyError:
        raise ParameterError(f"Unknown chapter {name!r}; the chapters are: {', '.join(CHAPTERS)}.") from None


def chapter_parameters(name: str, namespace: Mapping[str, Any]) -> Parameters:
    """Validate a notebook's parameters: takes ``profile`` and the chapter's parameter names
    from ``namespace`` (the notebook passes ``globals()`` right after its parameters cell)."""
    chapter = get(name)
    given = {parameter.name: namespace.get(parameter.name) for parameter in chapter.all_parameters}
    return chapter.resolve(namespace.get("profile"), given)
