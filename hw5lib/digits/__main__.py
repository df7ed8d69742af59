"""``python -m hw5lib.digits``: train and test one digit model from the command line; what
``torchrun`` and ``accelerate launch`` run on several processes.

With ``--test-data`` it trains on all of ``--data`` and tests on all of ``--test-data`` (e.g. the
synthetic crowd against real recordings), and reports the accuracy per test speaker too.
``--data synthetic`` (or ``crowd``) is the synthetic crowd of :mod:`hw5lib.data.crowd`
(``--speakers`` speakers, ``--clips-per-digit`` takes of each digit).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import torch

from hw5lib.data import audio
from hw5lib.data.audio import AudioError
from hw5lib.device import pick_device
from hw5lib.digits.models import MODELS, model_spec
from hw5lib.digits.sets import DigitsError, SequenceSet, random_split
from hw5lib.digits.training import Recipe, _distributed, train_and_test
from hw5lib.digits.transfer import cross_domain
from hw5lib.digits.unheard import BEST, RECIPES, train_and_test_speakers
from hw5lib.io import atomic_write_text

CROWD_SPEAKERS, CROWD_TAKES = 20, 10  # --data synthetic without --speakers / --clips-per-digit


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def load(data: str, speakers: int | None, takes: int | None, seed: int, progress: bool) -> audio.DigitSet:
    """``data`` as :func:`hw5lib.data.audio.load_digits` reads it; ``synthetic`` (or ``crowd``) is
    the synthetic crowd, ``speakers`` x ``takes`` (20 x 10 when not given), made once and cached."""
    return audio.load_digits(data, max_speakers=speakers, per_speaker_digit=takes,
                             synthetic_speakers=speakers or CROWD_SPEAKERS, synthetic_takes=takes or CROWD_TAKES,
                             seed=seed, progress=progress)


def main(argv: Sequence[str] | None = None) -> dict:
    """Train and test one model from the command line; rank 0 writes the outcome as JSON."""
    parser = argparse.ArgumentParser(prog="python -m hw5lib.digits", description=main.__doc__)
    parser.add_argument("--data", default="auto",
                        help="auto, fsdd, audiomnist, synthetic (the synthetic crowd), or a FSDD / AudioMNIST folder")
    parser.add_argument("--test-data", default=None,
                        help="train on all of --data and test on all of this (a folder, synthetic, crowd or "
                             "auto); the outcome gives the accuracy per test speaker")
    parser.add_argument("--test-speakers", default=None, metavar="NAME[,NAME...]",
                        help="train on every other speaker of --data (plus what the recipe adds) and test on these")
    parser.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                        help=f"a named recipe of hw5lib.digits.unheard (with --test-speakers: default unheard, i.e. "
                             f"{BEST}, chosen on held-out training speakers); "
                             "with --test-data it trains on --data alone (e.g. synthetic speakers) and tests on all "
                             "of --test-data")
    parser.add_argument("--model", default=None, choices=sorted(MODELS),
                        help="default: lstm_2x64, or the recipe's model")
    parser.add_argument("--speakers", type=int, default=None, help="at most this many speakers")
    parser.add_argument("--clips-per-digit", type=int, default=None, help="takes of each digit per speaker")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--schedule", default="constant", choices=["constant", "cosine"])
    parser.add_argument("--noise", type=_non_negative, default=0.0,
                        help="std of the Gaussian noise added to training inputs, in standardised units "
                             "(our recipe: 0.2)")
    parser.add_argument("--normalisation", default=None, choices=["none", "utterance", "global"],
                        help="default: global, or utterance (CMVN) with --test-data")
    parser.add_argument("--spec-augment", action="store_true",
                        help="mask random feature bands and time spans of each training clip (with --test-data)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1,
                        help="with a named recipe: train this many of its networks at once, each in its own process "
                             "with one thread (the same numbers as one at a time)")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--out", default=None, help="write the outcome here as JSON")
    args = parser.parse_args(argv)
    rank, world = _distributed()
    device = pick_device(args.device)
    if world > 1 and device.startswith("cuda"):
        device = f"cuda:{rank % torch.cuda.device_count()}"
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
                    noise=args.noise, seed=args.seed)
    if args.test_speakers is not None and args.test_data is not None:
        parser.error("give --test-speakers (speakers of --data) or --test-data (another data set), not both")
    if args.jobs != 1 and args.test_speakers is None and (args.test_data is None or args.recipe is None):
        parser.error("--jobs trains a named recipe's networks at once: give it with --test-speakers, or with "
                     "--test-data and --recipe")
    try:
        result = _outcome(args, recipe, device, rank == 0)
    except (DigitsError, AudioError) as error:
        print(f"python -m hw5lib.digits: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    result = {**result, "world_size": world, "device": device}
    if rank == 0:
        text = json.dumps(result, indent=2)
        if args.out:
            atomic_write_text(args.out, text)
        else:
            print(text)
    return result


def _outcome(args, recipe: Recipe, device: str, talk: bool) -> dict:
    digits = load(args.data, args.speakers, args.clips_per_digit, args.seed, talk)
    if args.test_speakers is not None:  # unheard speakers of the same data
        names = [name.strip() for name in args.test_speakers.split(",") if name.strip()]
        return train_and_test_speakers(digits, names, args.recipe or BEST, model=args.model, device=device,
                                       seed=args.seed, progress=talk, checkpoint_dir=args.checkpoint_dir,
                                       jobs=args.jobs)
    if args.test_data is not None:
        test = load(args.test_data, None, None, args.seed, talk)
        if args.recipe is not None:  # a named recipe, trained on --data alone
            return train_and_test_speakers(test, test.speaker_names, args.recipe, model=args.model, device=device,
                                           seed=args.seed, progress=talk, train_speakers=[], extra=digits,
                                           checkpoint_dir=args.checkpoint_dir, jobs=args.jobs)
        outcome = cross_domain(args.model or "lstm_2x64", digits, test, recipe, args.normalisation or "utterance",
                               spec_augment=args.spec_augment, device=device, checkpoint_dir=args.checkpoint_dir,
                               progress=talk)
        return {**outcome, "recipe": "command line"}
    model = args.model or "lstm_2x64"
    spec = model_spec(model)
    sequences = audio.extract(digits.audio, digits.sample_rate, spec.feature, progress=talk)
    data = SequenceSet(sequences, digits.digits)
    train_idx, test_idx = random_split(len(data))
    outcome = train_and_test(model, data, train_idx, test_idx, recipe, args.normalisation or "global",
                             checkpoint_dir=args.checkpoint_dir, device=device, progress=talk)
    return {**outcome.summary(), "history": outcome.history}


if __name__ == "__main__":
    main()
