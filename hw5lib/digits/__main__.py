"""``python -m hw5lib.digits``: train and test one digit model from the command line; what
``torchrun`` and ``accelerate launch`` run on several processes."""

from __future__ import annotations

import argparse
import json
from typing import Sequence

from hw5lib.data import audio
from hw5lib.digits.models import MODELS, model_spec
from hw5lib.digits.sets import SequenceSet, random_split
from hw5lib.digits.training import Recipe, _distributed, train_and_test
from hw5lib.io import atomic_write_text


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> dict:
    """Train and test one model from the command line; rank 0 writes the outcome as JSON."""
    parser = argparse.ArgumentParser(prog="python -m hw5lib.digits", description=main.__doc__)
    parser.add_argument("--data", default="auto", help="auto, synthetic, or a FSDD / AudioMNIST folder")
    parser.add_argument("--model", default="lstm_2x64", choices=sorted(MODELS))
    parser.add_argument("--speakers", type=int, default=None, help="at most this many speakers")
    parser.add_argument("--clips-per-digit", type=int, default=None, help="takes of each digit per speaker")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--schedule", default="constant", choices=["constant", "cosine"])
    parser.add_argument("--noise", type=_non_negative, default=0.0,
                        help="std of the Gaussian noise added to training inputs, in standardised units "
                             "(our recipe: 0.2)")
    parser.add_argument("--normalisation", default="global", choices=["none", "utterance", "global"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--out", default=None, help="write the outcome here as JSON")
    args = parser.parse_args(argv)
    rank, world = _distributed()
    spec = model_spec(args.model)
    digits = audio.load_digits(args.data, max_speakers=args.speakers, per_speaker_digit=args.clips_per_digit,
                               synthetic_speakers=args.speakers or 8, synthetic_takes=args.clips_per_digit or 10,
                               seed=args.seed, progress=rank == 0)
    sequences = audio.extract(digits.audio, digits.sample_rate, spec.feature, progress=rank == 0)
    data = SequenceSet(sequences, digits.digits)
    train_idx, test_idx = random_split(len(data))
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
                    noise=args.noise, seed=args.seed)
    outcome = train_and_test(args.model, data, train_idx, test_idx, recipe, args.normalisation,
                             checkpoint_dir=args.checkpoint_dir, progress=rank == 0)
    result = {**outcome.summary(), "world_size": world, "history": outcome.history}
    if rank == 0:
        text = json.dumps(result, indent=2)
        if args.out:
            atomic_write_text(args.out, text)
        else:
            print(text)
    return result


if __name__ == "__main__":
    main()
