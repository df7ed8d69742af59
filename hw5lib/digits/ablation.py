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
    """One row of the ablation, named ``key``: the input ``layout`` ('transposed': coefficients as
    time steps, padded to the longest clip; 'fixed': frames as time steps, padded, no masking;
    'packed': frames as time steps, each read at its true length), whether only the report-sized
    subset is used, the normalisation, and whether our recipe replaces the report's."""

    key: str
    layout: str
    subset: bool
    normalisation: str
    our_recipe: bool = False


ABLATION = (
    AblationStep("faithful", "transposed", True, "none"),  # the report, reconstructed
    AblationStep("time_axis", "fixed", True, "none"),  # frames as the time axis
    AblationStep("masking", "packed", True, "none"),  # each clip read at its true length
    AblationStep("all_clips", "packed", False, "none"),  # all clips instead of the subset
    AblationStep("standardise", "packed", False, "global"),  # standardised with training statistics
    AblationStep("recipe", "packed", False, "global", our_recipe=True),  # our training recipe
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
             checkpoint_dir=None, device: str = "cpu", progress: bool = True,
             steps: Sequence[AblationStep] = ABLATION) -> list[dict]:
    """Train the report's LSTM 2x64 on ``device`` once per step (each step changes one thing from
    the one before) on the report's 80/20 split; one row per step: its key ("step"), the clips
    used, the test accuracy (a fraction) and the time steps of a padded layout (None when packed).
    A subset step is skipped when the data hold no more clips than the subset."""
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
                                 checkpoint_dir=checkpoint_dir, device=device, progress=False)
        rows.append({"step": step.key, "clips": len(chosen),
                     "accuracy": outcome.accuracy, "time_steps": chosen.sequences[0].shape[0]
                     if step.layout != "packed" else None})
    return rows
