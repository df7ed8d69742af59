"""What synthetic speakers are worth: train a digit model on synthetic speakers only and test it on
real recordings, overall and per real speaker.

    .venv/bin/python bench/synthetic_to_real.py --recipe crowd --speakers 100 --takes 20 --model cnn \\
        --epochs 20 --spec-augment --real /work/shared/data/fsdd/recordings

``--recipe crowd`` trains on the synthetic crowd (:mod:`hw5lib.data.crowd`: espeak-ng, festival,
flite voices, warps, rooms, microphones, noise); ``--recipe espeak`` on the old espeak-only set
(:func:`hw5lib.data.audio.synthesize_digits`, at most 12 voices), for comparison. The crowd is
made once into the hw5lib cache. Prints one JSON line per run (and ``--out FILE`` appends it there),
with the per-speaker accuracy, the time taken and the command line.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from hw5lib.data import audio
from hw5lib.device import pick_device
from hw5lib.digits.transfer import cross_domain
from hw5lib.digits.models import MODELS
from hw5lib.digits.training import Recipe


def training_set(recipe: str, speakers: int, takes: int, seed: int, progress: bool) -> audio.DigitSet:
    if recipe == "espeak":
        folder = audio.synthesize_digits(min(speakers, len(audio.SYNTHETIC_VOICES)), takes, seed=seed,
                                         progress=progress)
        source = "synthetic (espeak-ng, 12 voices)"
    else:
        from hw5lib.data.crowd import synthesize_crowd

        folder = synthesize_crowd(speakers, takes, seed=seed, progress=progress)
        source = "synthetic crowd"
    digits = audio.load_digits(folder, progress=progress)
    digits.source, digits.synthetic = source, True
    return digits


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="crowd", choices=["crowd", "espeak"])
    parser.add_argument("--speakers", type=int, default=20)
    parser.add_argument("--takes", type=int, default=10)
    parser.add_argument("--model", default="cnn", choices=sorted(MODELS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--normalisation", default="utterance", choices=["none", "utterance", "global"])
    parser.add_argument("--spec-augment", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--real", default=None, help="a folder of real FSDD recordings (default: this workplace's)")
    parser.add_argument("--out", default=None, help="append the result as one JSON line to this file")
    args = parser.parse_args(argv)
    real = Path(args.real) if args.real else audio.shared_fsdd()
    if real is None:
        parser.error("no real FSDD recordings found; give --real FOLDER")
    began = time.perf_counter()
    train = training_set(args.recipe, args.speakers, args.takes, args.seed, progress=True)
    made = time.perf_counter() - began
    test = audio.load_digits(real, progress=False)
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule="cosine", noise=args.noise,
                    seed=args.seed)
    result = cross_domain(args.model, train, test, recipe, args.normalisation, spec_augment=args.spec_augment,
                          device=pick_device(args.device))
    if args.recipe == "crowd":
        from hw5lib.data.crowd import describe_crowd

        described = describe_crowd(args.speakers, args.seed)
        voices = {"engines": {k: len(v) for k, v in described["engines"].items()},
                  "voices_used": len(described["voices_used"]), "catalogue_key": described["catalogue_key"]}
    else:
        voices = {"engines": {"espeak-ng": len(train.speaker_names)}}
    summary = {"recipe": args.recipe, **voices, "model": args.model, "speakers": len(train.speaker_names),
               "takes": args.takes, "clips": len(train), "epochs": args.epochs, "spec_augment": args.spec_augment,
               "normalisation": args.normalisation, "accuracy": round(result["accuracy"], 4),
               "per_speaker": {k: round(v, 4) for k, v in result["per_speaker"].items()},
               "data_seconds": round(made, 1), "train_seconds": round(result["train_seconds"], 1),
               "total_seconds": round(time.perf_counter() - began, 1),
               "command": shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None else shlex.join(argv)}
    line = json.dumps(summary)
    print(line)
    if args.out:
        with open(args.out, "a") as stream:
            stream.write(line + "\n")
    return summary


if __name__ == "__main__":
    main()
