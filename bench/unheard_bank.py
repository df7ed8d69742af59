"""Ensembles for voices never heard, chosen on nested validation without retraining: a bank of
every member's predicted probabilities on each fold's held-out *training* speaker.

    OMP_NUM_THREADS=1 .venv/bin/python bench/unheard_bank.py --members unheard-cnn,unheard-lstm,unheard-resnet:5 \\
        --jobs 2 --out bench/unheard_bank.jsonl
    OMP_NUM_THREADS=1 .venv/bin/python bench/unheard_bank.py --members unheard-cnn,unheard-lstm,unheard-resnet:5 \\
        --outer --balanced   # + every family balanced over the digits, validation and test

Each member (a recipe of ``hw5lib.digits.unheard.RECIPES`` without partners; ``name:N`` for seeds
0 to N-1, each its own network) is trained once per leave-one-speaker-out fold on 3 of the fold's 4
training speakers and tested on the 4th (``hw5lib.digits.unheard.inner_speaker``: the fold's test
speaker is never seen), exactly as ``loso(..., nested=True)`` trains a recipe's members (the same
seeds: a recipe of these members gets these numbers, as the trio's row in bench/unheard.md shows).
The probabilities are kept in ``--bank`` (one .npz per member, seed and fold, keyed by the recipe's
settings, so an interrupted or extended bank resumes). Every batch-norm member is also scored with
its statistics re-estimated on the held-out speaker's clips (``training.adapt_batch_norm``, AdaBN).

Then each *family* of ensembles is scored, one vote per network: k ResNet seeds (1..N), with and
without the CNN and the LSTM, plain, adapted (AdaBN) or both averaged. A family is chosen, never a
hand-picked set of seeds: picking the best seeds on the validation would overfit it. Prints the
markdown table and appends one JSON line per family to ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import MISSING, asdict, fields
from pathlib import Path

import numpy as np

DATA = "/work/shared/data/fsdd/recordings"


def _key(recipe) -> str:
    """A short hash of what a member's numbers depend on: its fields that differ from their defaults (so
    that a field added later, at its default, keeps the bank), the layout of its convolutions and, when
    it trains with the synthetic crowd, the crowd's voices (its catalogue key): a member trained in
    another layout or with another crowd is another member."""
    from hw5lib.digits.models import model_spec

    defaults = {f.name: f.default for f in fields(recipe) if f.default is not MISSING}
    changed = {k: v for k, v in asdict(recipe).items()
               if k != "description" and not (k in defaults and v == defaults[k])}
    changed["channels_last"] = model_spec(recipe.model).channels_last
    if recipe.crowd is not None:
        changed["crowd_voices"] = crowd_key()
    return hashlib.sha256(json.dumps(changed, sort_keys=True, default=str).encode()).hexdigest()[:10]


@functools.lru_cache(maxsize=None)
def crowd_key() -> str:
    """The catalogue key of the voices the recipes' crowd has on this machine (seed 0, as they use it)."""
    from hw5lib.data.crowd import describe_crowd
    from hw5lib.digits.unheard import CROWD_CATALOGUE

    return describe_crowd(1, 0, catalogue=CROWD_CATALOGUE)["catalogue_key"]


def bank_path(bank: Path, member: str, seed: int, held: str, train: list[str]) -> Path:
    from hw5lib.digits.unheard import recipe_named

    return bank / f"{member}-{_key(recipe_named(member))}-s{seed}-{held}-from-{'+'.join(sorted(train))}.npz"


def train_member(task: tuple) -> str:
    """Train one member (recipe, seed) on one fold's three training speakers; keep its probabilities."""
    member, seed, held, train, data_dir, bank = task
    import torch

    from hw5lib.data import audio
    from hw5lib.digits.models import model_spec
    from hw5lib.digits.unheard import adapted_ensemble, train_and_test_speakers

    torch.set_num_threads(1)
    out = bank_path(Path(bank), member, seed, held, train)
    if out.exists():
        return f"{out.name}: in the bank"
    began = time.perf_counter()
    data = audio.load_digits(data_dir, progress=False, report=lambda message: None)
    result = train_and_test_speakers(data, [held], member, seed=seed, train_speakers=train, keep_probabilities=True,
                                     keep_networks=True)
    test = result["test_set"]  # AdaBN's scores too (for a model without batch norm, the plain ones again)
    adapted = adapted_ensemble(result["networks"], test, np.full(len(test), held), "adapted",
                               model_spec(result["model"]).pad_multiple, "cpu")
    np.savez(out.with_suffix(".tmp.npz"), plain=result["probabilities"], labels=result["labels"], adapted=adapted)
    os.replace(out.with_suffix(".tmp.npz"), out)
    return f"{out.name}: {100 * result['accuracy']:.1f}% in {time.perf_counter() - began:.0f} s"


def folds(speakers: list[str], outer: bool = False) -> dict[str, list[str]]:
    """held-out validation speaker -> the three speakers its fold trains on, one per outer fold; with
    ``outer``, each test speaker -> the four speakers its leave-one-speaker-out fold trains on."""
    from hw5lib.digits.unheard import loso_runs

    return {tested: training for _, tested, training in loso_runs(speakers, outer=outer, nested=not outer)}


def families(resnets: int, variants: bool) -> list[tuple[str, list[tuple[str, int, str, float]]]]:
    """(name, [(member, seed, 'plain' or 'adapted', weight)]) of every family scored."""
    out = []
    for k in range(1, resnets + 1):
        for cnn, lstm in ((True, True), (False, True), (False, False)):
            normed = [("unheard-resnet", s) for s in range(k)] + ([("unheard-cnn", 0)] if cnn else [])
            for mode in (("plain", "adapted", "both") if variants else ("plain",)):
                rows = [("unheard-lstm", 0, "plain", 1.0)] if lstm else []
                if mode == "both":  # a network's plain and adapted probabilities average to its one vote
                    rows += [(m, s, kind, 0.5) for m, s in normed for kind in ("plain", "adapted")]
                else:
                    rows += [(m, s, mode, 1.0) for m, s in normed]
                name = f"{k} ResNet{'s' * (k > 1)}" + (" + CNN" if cnn else "") + (" + LSTM" if lstm else "")
                out.append((name + ("" if mode == "plain" else f", {mode}"), rows))
    return out


def score(bank: Path, plan: dict, family, balance: bool = False) -> dict:
    """Accuracy per held-out speaker of ``family``'s averaged probabilities; with ``balance`` each speaker's
    clips assigned as if every digit was said equally often (``hw5lib.digits.unheard.balanced``)."""
    from hw5lib.digits.unheard import balanced

    per = {}
    for held, train in plan.items():
        total, labels = 0.0, None
        for member, seed, kind, weight in family:
            z = np.load(bank_path(bank, member, seed, held, train))
            total = total + weight * z[kind]
            labels = z["labels"]
        total = balanced(total) if balance else total
        per[held] = float((np.argmax(total, 1) == labels).mean())
    worst = min(per, key=per.get)
    return {"mean": float(np.mean(list(per.values()))), "worst": per[worst], "worst_speaker": worst,
            "per_speaker": per}


def skew_check(bank: Path, plan: dict, family, ratios=(1, 1.5, 2, 3, 5, 10), draws: int = 20) -> list[dict]:
    """How wrong the balanced decoding's prior (every digit said equally often) may be before it costs
    accuracy: each held-out speaker's clips thinned so that the digits' counts fall evenly from all of
    them to 1/ratio of them (digits in a random order, ``draws`` times), then scored per clip and
    balanced. Returns one row per ratio: mean and worst speaker (over the draws' mean), both ways."""
    from hw5lib.digits.unheard import balanced

    rng = np.random.default_rng(0)
    rows = []
    for ratio in ratios:
        per = {"plain": {}, "balanced": {}}
        for held, train in plan.items():
            total, labels = 0.0, None
            for member, seed, kind, weight in family:
                z = np.load(bank_path(bank, member, seed, held, train))
                total, labels = total + weight * z[kind], z["labels"]
            scores = {"plain": [], "balanced": []}
            for _ in range(draws):
                shares = np.linspace(1, 1 / ratio, 10)[rng.permutation(10)]
                keep = np.concatenate([rng.permutation(np.flatnonzero(labels == d))[:max(1, round(
                    shares[d] * np.sum(labels == d)))] for d in range(10)])
                scores["plain"].append(np.mean(total[keep].argmax(1) == labels[keep]))
                scores["balanced"].append(np.mean(balanced(total[keep]).argmax(1) == labels[keep]))
            for way in per:
                per[way][held] = float(np.mean(scores[way]))
        rows.append({"ratio": ratio, **{f"{way}_{k}": float(f(list(per[way].values()))) for way in per
                                        for k, f in (("mean", np.mean), ("worst", min))}})
    return rows


def _probabilities(bank: Path, held: str, train: list[str], family) -> tuple[np.ndarray, np.ndarray]:
    total, labels = 0.0, None
    for member, seed, kind, weight in family:
        z = np.load(bank_path(bank, member, seed, held, train))
        total, labels = total + weight * z[kind], z["labels"]
    return total / sum(weight for *_, weight in family), labels


def class_bias(probabilities: np.ndarray, labels: np.ndarray, ridge: float = 0.01) -> np.ndarray:
    """The per-digit log-probability offsets that best fit ``labels`` (maximum likelihood of
    softmax(log p + b), a small ridge on b): how much more or less a family says each digit to a voice
    it has not heard than it should."""
    from scipy.optimize import minimize

    logs = np.log(np.clip(probabilities, 1e-12, None))

    def loss(b):
        z = logs + b
        z = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
        return -z[np.arange(len(labels)), labels].mean() + ridge * np.sum(b ** 2)

    return minimize(loss, np.zeros(logs.shape[1])).x


def calibration_check(bank: Path, plan: dict, test: dict, family) -> dict:
    """Per clip, no prior on the test speaker's digits: the family's probabilities shifted by
    :func:`class_bias` fitted on held-out *training* speakers. On the validation folds the bias of each
    comes from the four other validation folds pooled; on each test fold from its own nested validation
    speaker (the training speaker it holds out). {split: {speaker: (before, after)}}."""
    def accuracy(p, y, b):
        return float(((np.log(np.clip(p, 1e-12, None)) + b).argmax(1) == y).mean())

    out = {"validation": {}, "test": {}}
    scored = {held: _probabilities(bank, held, train, family) for held, train in plan.items()}
    for held, (p, y) in scored.items():
        others = [scored[h] for h in scored if h != held]
        b = class_bias(np.concatenate([o[0] for o in others]), np.concatenate([o[1] for o in others]))
        out["validation"][held] = (accuracy(p, y, 0), accuracy(p, y, b))
    for tested, train in test.items():
        inner = next(h for h, t in plan.items() if h != tested and tested not in t)
        p, y = _probabilities(bank, tested, train, family)
        out["test"][tested] = (accuracy(p, y, 0), accuracy(p, y, class_bias(*scored[inner])))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", default="unheard-cnn,unheard-lstm,unheard-resnet:5",
                        help="recipes without partners, name or name:seeds (the family table needs unheard, "
                             "unheard-lstm and unheard-resnet)")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--bank", default=None, help="where the probabilities are kept (default: the hw5lib cache)")
    parser.add_argument("--jobs", type=int, default=1, help="trainings at once, one thread each")
    parser.add_argument("--no-adapted", action="store_true", help="score only the plain families")
    parser.add_argument("--balanced", action="store_true",
                        help="also score every family with each speaker's clips balanced over the digits "
                             "(the recipes' balance=True: for sessions that ask for each digit in turn)")
    parser.add_argument("--outer", action="store_true",
                        help="also train and score the leave-one-speaker-out folds themselves (4 speakers train, "
                             "the 5th is tested): the test column, never used to choose")
    parser.add_argument("--out", default=None, help="append one JSON line per family here")
    parser.add_argument("--calibrate", default=None, metavar="FAMILY",
                        help="also score this family with per-digit offsets fitted on held-out training speakers "
                             "(per clip, no prior on the test speaker's digits), e.g. '3 ResNets'")
    parser.add_argument("--skew", default=None, metavar="FAMILY",
                        help="also score this family on clips whose digits are not said equally often (how far "
                             "the balanced decoding's prior may be off), e.g. '3 ResNets'")
    args = parser.parse_args(argv)
    from hw5lib.data import audio

    bank = Path(args.bank) if args.bank else audio.cache_root() / "unheard-bank"
    bank.mkdir(parents=True, exist_ok=True)
    speakers = audio.load_digits(args.data, progress=False, report=lambda message: None).speaker_names
    plan, test = folds(speakers), folds(speakers, outer=True) if args.outer else {}
    members = [(m.split(":")[0], int(m.split(":")[1]) if ":" in m else 1) for m in args.members.split(",")]
    # the validation folds first, so that a bank cut short still chooses
    tasks = [(name, seed, held, train, args.data, str(bank)) for fold in (plan, test)
             for name, seeds in members for seed in range(seeds) for held, train in fold.items()]
    print(f"{len(tasks)} trainings ({len(plan)} folds{', validation and test' * bool(test)}), {args.jobs} at once; "
          f"bank {bank}", flush=True)
    with ProcessPoolExecutor(args.jobs) as pool:
        for line in pool.map(train_member, tasks):
            print(line, flush=True)
    resnets = dict(members).get("unheard-resnet", 0)
    from hw5lib.digits.models import model_spec
    from hw5lib.digits.unheard import recipe_named

    layouts = {name: model_spec(recipe_named(name).model).channels_last for name, _ in members}
    rows = []
    print("| ensemble (one vote per network) | validation mean / worst (%) | "
          + " | ".join(f"held out: {h}" for h in plan) + (" | LOSO mean / worst (%) | " + " | ".join(test) if test
                                                           else "")
          + " |\n|---|---|" + "---|" * (len(plan) + (1 + len(test) if test else 0)))
    scored = [(name + ", balanced" * balance, family, balance) for balance in (False, True)[:1 + args.balanced]
              for name, family in families(resnets, not args.no_adapted)]
    for name, family, balance in scored:
        row = {"family": name, "members": family, **score(bank, plan, family, balance), "balanced": balance,
               "command": "bench/unheard_bank.py" + " --balanced" * balance, "crowd_key": crowd_key(),
               "channels_last": layouts}
        line = (f"| {name} | {100 * row['mean']:.1f} / {100 * row['worst']:.1f} | "
                + " | ".join(f"{100 * row['per_speaker'][h]:.1f}" for h in plan) + " |")
        if test:
            row["test"] = score(bank, test, family, balance)
            line += (f" {100 * row['test']['mean']:.1f} / {100 * row['test']['worst']:.1f} | "
                     + " | ".join(f"{100 * row['test']['per_speaker'][t]:.1f}" for t in test) + " |")
        rows.append(row)
        print(line, flush=True)
    if args.calibrate:
        checked = calibration_check(bank, plan, test, dict(families(resnets, not args.no_adapted))[args.calibrate])
        for split, per in checked.items():
            if per:
                print(f"\n{args.calibrate}, {split}, offsets fitted on held-out training speakers: "
                      + ", ".join(f"{s} {100 * a:.1f} -> {100 * b:.1f}" for s, (a, b) in per.items())
                      + f"; mean {100 * np.mean([a for a, _ in per.values()]):.1f} -> "
                        f"{100 * np.mean([b for _, b in per.values()]):.1f}", flush=True)
    if args.skew:
        family = dict(families(resnets, not args.no_adapted))[args.skew]
        print("\n| most said / least said digit | per clip: mean / worst (%) | balanced: mean / worst (%) |"
              "\n|---|---|---|")
        for fold, name in ((plan, "validation"), (test, "test")):
            for row in skew_check(bank, fold, family) if fold else []:
                print(f"| {name}, {row['ratio']:g} | {100 * row['plain_mean']:.1f} / {100 * row['plain_worst']:.1f} | "
                      f"{100 * row['balanced_mean']:.1f} / {100 * row['balanced_worst']:.1f} |", flush=True)
    if args.out:
        with open(args.out, "a") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    return rows


if __name__ == "__main__":
    main()
