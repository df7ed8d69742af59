"""Train on one set of spoken digits, test on another: what synthetic speakers teach about people.

:func:`cross_domain` trains a model on all of one :class:`~hw5lib.data.audio.DigitSet` (the
synthetic crowd, say) and tests it on all of another (real recordings), with the accuracy per test
speaker; ``python -m hw5lib.digits --test-data`` and the Q4 chapter run it, and
bench/synthetic_to_real.py measures it."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from hw5lib.data import audio
from hw5lib.digits.models import build_model, count_parameters, model_spec
from hw5lib.digits.sets import SequenceSet, normalise, stratified_split
from hw5lib.digits.training import Recipe, fit, predict

__all__ = ["SPEC_AUGMENT", "cross_domain"]


# SpecAugment as the synthetic-to-real measurements used it: 2 bands of up to 8 features and 2
# spans of up to 10 frames masked per training clip (the recipe's own masking, hw5lib.digits.training)
SPEC_AUGMENT = {"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 10}


def cross_domain(model_name: str, train: audio.DigitSet, test: audio.DigitSet, recipe: Recipe,
                 normalisation: str = "utterance", spec_augment: bool = False, device: str = "cpu",
                 val_fraction: float = 0.1, checkpoint_dir=None, progress: bool = True) -> dict:
    """Train ``model_name`` on all of ``train`` (less ``val_fraction`` held out for the curves) and
    test it on all of ``test``: overall accuracy, accuracy per test speaker, confusion, history."""
    from sklearn.metrics import confusion_matrix

    spec = model_spec(model_name)
    kind = spec.feature
    train_set = SequenceSet(audio.extract(train.audio, train.sample_rate, kind, progress=progress), train.digits)
    test_set = SequenceSet(audio.extract(test.audio, test.sample_rate, kind, progress=progress), test.digits)
    keep, held = stratified_split(train_set.labels, val_fraction, seed=recipe.seed) if val_fraction > 0 else (
        np.arange(len(train_set)), np.array([], dtype=int))
    fitted, others = normalise(train_set.subset(keep), [test_set] + ([train_set.subset(held)] if len(held) else []),
                               normalisation)
    model = build_model(model_name, train_set.n_features, seed=recipe.seed)
    recipe = replace(recipe, **SPEC_AUGMENT) if spec_augment else recipe
    began = time.perf_counter()
    history = fit(model, fitted, others[1] if len(held) else None, recipe, model_name=model_name,
                  checkpoint_dir=checkpoint_dir, device=device, pad_multiple=spec.pad_multiple, progress=progress,
                  feature=kind)
    seconds = time.perf_counter() - began
    predicted = predict(model, others[0], multiple=spec.pad_multiple, device=device).argmax(1)
    right = predicted == test_set.labels
    speakers = np.asarray(test.speakers)
    return {"model": model_name, "accuracy": float(right.mean()),
            "per_speaker": {s: float(right[speakers == s].mean()) for s in sorted(set(speakers.tolist()))},
            "parameters": count_parameters(model), "train_seconds": seconds, "n_train": len(fitted),
            "n_test": len(test_set), "epochs": len(history), "normalisation": normalisation,
            "spec_augment": spec_augment, "device": device,
            "train_data": {**train.describe(), "notes": train.notes}, "test_data": test.describe(),
            "confusion": confusion_matrix(test_set.labels, predicted, labels=list(range(10))).tolist(),
            "history": history}
