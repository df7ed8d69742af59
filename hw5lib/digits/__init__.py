"""Spoken-digit classifiers: the report's LSTM, its bonus models, a CNN, and how they are trained.

Vocabulary: a *sequence* is one clip's features as (frames, features) (MFCCs or log-mel); a
:class:`SequenceSet` holds sequences of different lengths and their labels. Every model takes a
padded batch ``(batch, frames, features)`` and the true ``lengths``, and ignores the padding:
the recurrent models read each direction where the sequence really ends, the CNN and the
mean-MFCC model pool over valid frames only. Nothing is truncated unless asked for
(:func:`fixed_length`, which reproduces what the report most likely did).

Training (:func:`fit`) checkpoints every epoch to a safetensors file (weights, Adam's state, the
random state, the history), and a run that finds its checkpoint resumes from it and ends where an
uninterrupted run ends. The same loop runs under ``torchrun`` or ``accelerate launch`` with several
processes: it reads the ``RANK`` / ``WORLD_SIZE`` they set, shards each epoch with
``DistributedSampler`` and averages gradients with ``DistributedDataParallel`` (gloo on CPU, NCCL
on GPUs). ``python -m hw5lib.digits --help`` trains one model from the command line that way.

Rooms: :mod:`.sets` (data sets, splits, normalisation), :mod:`.models`, :mod:`.training` (the loop,
checkpoints), :mod:`.ablation` (why the report reached 40%), :mod:`.__main__` (the command line).
"""

from hw5lib.digits.ablation import ABLATION, AblationStep, ablation, report_subset
from hw5lib.digits.models import (MODELS, ConvClassifier, MeanClassifier, MeanPooling, ModelSpec, RecurrentClassifier,
                                  build_model, channels_last, count_parameters, masked_mean, model_spec,
                                  parameter_count)
from hw5lib.digits.sets import (N_CLASSES, DigitsError, SequenceSet, Standardiser, cmvn, collate, feature_sets,
                                fixed_length, normalise, random_split, speaker_split, stratified_split)
from hw5lib.digits.training import Outcome, Recipe, bucketed_batches, checkpoint_name, fit, predict, train_and_test

__all__ = [
    "DigitsError", "SequenceSet", "random_split", "stratified_split", "speaker_split", "fixed_length",
    "Standardiser", "cmvn", "collate", "normalise", "RecurrentClassifier", "ConvClassifier", "MeanClassifier",
    "MeanPooling", "ModelSpec", "MODELS", "model_spec", "build_model", "channels_last", "count_parameters",
    "parameter_count", "feature_sets",
    "masked_mean", "N_CLASSES",
    "Recipe", "bucketed_batches", "checkpoint_name", "fit", "predict", "Outcome", "train_and_test",
    "AblationStep", "ABLATION", "ablation", "report_subset",
]
