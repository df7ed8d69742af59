"""Test-time vocal-tract-length normalisation (VTLN) on the validation networks of
``unheard-resnets``: does the warp factor the networks are surest of agree with the one that
scores best? One table per validation run, and the picks at two grid steps.

    OMP_NUM_THREADS=1 .venv/bin/python bench/unheard_vtln.py --jobs 2 --keep /tmp/vtln-networks

Trains (or reads back from ``--keep``) the 5 validation runs of ``loso(..., nested=True,
outer=False)`` for ``unheard-resnets`` (three ResNets per run, each fold's test speaker never seen),
then warps the held-out speaker's clips by every factor from 0.85 to 1.15 and prints, per factor,
the ensemble's accuracy (plain and AdaBN-adapted scores averaged, as the recipe scores) and its
mean top probability (what ``hw5lib.digits.unheard.speaker_warps`` maximises; no label read). Then
the accuracy with each network's own pick (the recipe's way: each network is scored in its own
process) at steps of 0.05 and 0.025, against no warp. About 25 min to train on 2 cores, then 2.
"""

from __future__ import annotations

import argparse
import pickle
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

DATA = "/work/shared/data/fsdd/recordings"


def validation_networks(keep: Path | None, jobs: int, data_dir: str) -> dict:
    """{(fold, held-out speaker): (networks, normalised test set)} of unheard-resnets' validation runs."""
    from hw5lib.data import audio
    from hw5lib.digits import unheard
    from hw5lib.digits.models import model_spec

    recipe = unheard.RECIPES["unheard-resnets"]
    data = audio.load_digits(data_dir, progress=False)
    known = sorted(set(np.asarray(data.speakers).tolist()))
    runs = unheard.loso_runs(known, outer=False, nested=True)
    paths = {(fold, held): keep / f"{fold}-{held}.pkl" if keep else None for fold, held, _ in runs}
    if all(path and path.exists() for path in paths.values()):
        return {run: pickle.loads(path.read_bytes()) for run, path in paths.items()}
    kind = model_spec(recipe.model).feature
    features = unheard._features(data, kind, False)
    extra = unheard.crowd_clips(*recipe.crowd)
    extra_features = unheard._features(extra, kind, False)
    with unheard.networks_at_once(jobs) as trainings:
        def one(run):
            fold, held, training = run
            result = unheard.train_and_test_speakers(
                data, [held], recipe, train_speakers=training, features=features, extra=extra,
                extra_features=extra_features, keep_networks=True, trainings=trainings)
            print(f"trained {fold}'s validation run (held out: {held}): {100 * result['accuracy']:.1f}%", flush=True)
            kept = (result["networks"], result["test_set"])
            if keep:
                keep.mkdir(parents=True, exist_ok=True)
                paths[(fold, held)].write_bytes(pickle.dumps(kept))
            return (fold, held), kept

        with ThreadPoolExecutor(len(runs)) as runs_at_once:
            return dict(runs_at_once.map(one, runs))


def main(argv=None) -> None:
    from hw5lib.digits import unheard
    from hw5lib.digits.models import model_spec

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="keep the trained networks here (and read them back)")
    parser.add_argument("--data", default=DATA)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    runs = validation_networks(args.keep, args.jobs, args.data)
    multiple = model_spec("resnet").pad_multiple
    factors = [round(0.85 + 0.025 * k, 3) for k in range(13)]
    summary = []
    for (fold, held), (networks, test) in runs.items():
        who = np.array([held] * len(test))
        warped = {f: unheard.warp_clips(test, f, "log_mel") for f in factors}
        plain = {f: [unheard.adapted_ensemble([n], warped[f], who, "none", multiple, "cpu") for n in networks]
                 for f in factors}
        scored = {f: unheard.adapted_ensemble(networks, warped[f], who, "both", multiple, "cpu") for f in factors}
        accuracy = {f: float((p.argmax(1) == test.labels).mean()) for f, p in scored.items()}
        sure = {f: float((sum(plain[f]) / len(networks)).max(1).mean()) for f in factors}
        print(f"\n{fold}'s validation run, {held} held out: accuracy (%) and mean top probability per warp factor\n")
        print("| factor | " + " | ".join(f"{f:.3f}" for f in factors) + " |")
        print("|---" * (len(factors) + 1) + "|")
        print("| accuracy | " + " | ".join(f"{100 * accuracy[f]:.1f}" for f in factors) + " |")
        print("| top probability | " + " | ".join(f"{sure[f]:.3f}" for f in factors) + " |")
        row = {"held": held, "none": accuracy[1.0]}
        for step in (0.05, 0.025):
            grid = [f for f in factors if round((f - 1) / step, 6) == round((f - 1) / step)]
            picks = [max(grid, key=lambda f, i=i: plain[f][i].max(1).mean()) for i in range(len(networks))]
            total = sum(unheard.adapted_ensemble([n], warped[f], who, "both", multiple, "cpu")
                        for n, f in zip(networks, picks))
            row[step] = (float((total.argmax(1) == test.labels).mean()), picks)
        summary.append(row)
    print("\n| held out | no warp | each network's pick, step 0.05 | picks | step 0.025 | picks |")
    print("|---|---|---|---|---|---|")
    for row in summary:
        print(f"| {row['held']} | {100 * row['none']:.1f} | {100 * row[0.05][0]:.1f} | {row[0.05][1]} | "
              f"{100 * row[0.025][0]:.1f} | {row[0.025][1]} |")
    for column, name in (("none", "no warp"), (0.05, "step 0.05"), (0.025, "step 0.025")):
        values = [row[column] if column == "none" else row[column][0] for row in summary]
        print(f"{name}: mean {100 * np.mean(values):.1f}, worst {100 * min(values):.1f}")
    print(f"\n{(time.perf_counter() - began) / 60:.1f} min")


if __name__ == "__main__":
    main()
