"""Why did the report reach 40%? The ablation that changes one thing at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hw5lib.digits.sets import SequenceSet, fixed_length, random_split, stratified_split
from hw5lib.digits.training import Recipe, train_and_test
from hw5lib.progress import progress as progress_bar


# --- why 40%? -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AblationStep:
    """One row of the ablation: the input ``layout`` ('transposed': coefficients as time steps,
    padded to the longest clip; 'fixed': frames as time steps, padded, no masking; 'packed':
    frames as time steps, each read at its true length), whether only the report-sized subset is used, the
    normalisation, and whether our recipe replaces the report's."""

    key: str
    label: dict
    layout: str
    subset: bool
    normalisation: str
    our_recipe: bool = False


ABLATION = (
    AblationStep("faithful", {"fa": "بازسازی روش گزارش: ضرایب به جای زمان، لایه‌گذاری، بی‌نرمال‌سازی، زیرمجموعه",
                              "en": "the report, reconstructed: coefficients as time, zero padding, raw, subset"},
                 "transposed", True, "none"),
    AblationStep("time_axis", {"fa": "قاب‌ها به‌عنوان محور زمان", "en": "frames as the time axis"},
                 "fixed", True, "none"),
    AblationStep("masking", {"fa": "طول واقعی هر گفته (صفرهای لایه‌گذاری خوانده نمی‌شوند)",
                             "en": "each clip's true length (the padding is never read)"}, "packed", True, "none"),
    AblationStep("all_clips", {"fa": "همهٔ گفته‌ها به جای زیرمجموعه", "en": "all clips instead of the subset"},
                 "packed", False, "none"),
    AblationStep("standardise", {"fa": "استانداردسازی با آمار دادهٔ آموزش",
                                 "en": "standardised with training statistics"}, "packed", False, "global"),
    AblationStep("recipe", {"fa": "دستور آموزش ما (نرخ یادگیری، زمان‌بندی، نویز)",
                            "en": "our training recipe (learning rate, schedule, noise)"}, "packed", False, "global",
                 our_recipe=True),
)


def report_subset(labels, size: int, seed: int = 0) -> np.ndarray:
    """A class-balanced subset of about ``size`` clips (the report's test set was 7 batches of 32,
    about 200 clips, so about 1,000 clips in all), or every clip when there are fewer."""
    labels = np.asarray(labels)
    if size >= len(labels):
        return np.arange(len(labels))
    _, chosen = stratified_split(labels, size / len(labels), seed=seed)
    return chosen


def ablation(data: SequenceSet, report_recipe: Recipe, our_recipe: Recipe, report_clips: int = 1000,
             checkpoint_dir=None, progress: bool = True, steps: Sequence[AblationStep] = ABLATION) -> list[dict]:
    """Train the report's LSTM 2x64 once per step (each step changes one thing from the one before)
    on the report's 80/20 split; rows of (step, clips, accuracy). A subset step is skipped when the
    data hold no more clips than the subset."""
    subset = report_subset(data.labels, report_clips)
    longest = max(len(s) for s in data.sequences)
    rows = []
    for step in progress_bar(steps, progress, "ablation"):
        if not step.subset and len(subset) == len(data) and any(s.subset for s in steps):
            continue  # "all clips" would repeat the row before it
        chosen = data.subset(subset) if step.subset else data
        if step.layout != "packed":
            chosen = fixed_length(chosen, longest, transpose=step.layout == "transposed")
        train_idx, test_idx = random_split(len(chosen))
        outcome = train_and_test("lstm_2x64", chosen, train_idx, test_idx,
                                 our_recipe if step.our_recipe else report_recipe, step.normalisation,
                                 checkpoint_dir=checkpoint_dir, progress=False)
        rows.append({"step": step.key, "fa": step.label["fa"], "en": step.label["en"], "clips": len(chosen),
                     "accuracy": outcome.accuracy, "time_steps": chosen.sequences[0].shape[0]
                     if step.layout != "packed" else None})
    return rows
