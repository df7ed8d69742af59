"""Spoken digits from voices never heard: the leave-one-speaker-out (LOSO) ablation of
:mod:`hw5lib.digits.unheard` on the workplace's FSDD recordings (5 speakers, 500 clips each).

    OMP_NUM_THREADS=1 .venv/bin/python bench/unheard.py --out bench/unheard.jsonl \\
        --levers base,utterance,speaker,specaug,speed,vtlp,stretch,mixup,speaker+specaug,unheard
    OMP_NUM_THREADS=1 .venv/bin/python bench/unheard.py --out bench/unheard.jsonl --nested \\
        --levers speaker+specaug,unheard,unheard-resnet
    OMP_NUM_THREADS=1 .venv/bin/python bench/unheard.py --out bench/unheard.jsonl --nested --study  # Q4's full table
    .venv/bin/python bench/unheard.py --out bench/unheard.jsonl --table   # the markdown table of every row
    .venv/bin/python bench/unheard.py --out bench/unheard.jsonl --refresh README.md bench/unheard.md

Each lever is a :class:`~hw5lib.digits.unheard.SpeakerRecipe`: ``base`` is the chapter's CNN
recipe (``ours``: training-set standardisation, Adam 2e-3 with a cosine schedule, input noise 0.2)
at ``--epochs`` epochs, and every other lever changes one thing from it, or several (``+``).
Per fold the model trains on 4 speakers and is tested on the 5th; with ``--nested`` each fold also
trains on 3 of its 4 training speakers and is tested on the 4th (never on the fold's test speaker):
the *validation* score that recipes are chosen on. ``per-speaker CMVN`` normalises the test speaker
by statistics of its own unlabelled clips: adaptation, not training on the test speaker.

Prints one line per lever (LOSO mean, worst speaker, per speaker, minutes) and appends its JSON to
``--out`` (a lever already there with the same settings is not run again, so an interrupted study
resumes). Timings are training plus testing, one thread (``OMP_NUM_THREADS=1``).

The documents quote measured rows only as tables this script writes: ``--refresh`` rewrites, in the
files named, every block between ``<!-- bench/unheard.py --results LEVER[,LEVER...] -->`` and
``<!-- /results -->`` from ``--out``'s rows (:func:`results`), and a test checks that README.md and
bench/unheard.md hold what bench/unheard.jsonl says.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from dataclasses import MISSING, asdict, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path

import torch

from hw5lib.data import audio
from hw5lib.device import pick_device
from hw5lib.io import atomic_write_text
from hw5lib.digits.models import model_spec
from hw5lib.digits.unheard import (CROWD_CATALOGUE, MEASURED_VOICES, RECIPES, SpeakerRecipe, lever_rows, loso,
                                   with_levers)

SPEC_AUGMENT = {"freq_masks": 2, "freq_width": 6, "time_masks": 2, "time_width": 8}
# the augmented recipe the study starts from: per-speaker CMVN, speed, VTLP, tempo, SpecAugment
AUGMENTED = ({"normalisation": "speaker"},
             {"epochs": 20, "noise": 0.1, "speed": 0.15, "warp": 0.1, "stretch": 0.1, **SPEC_AUGMENT})
SILENCE = {"trim_db": 35.0, "floor_db": 50.0}
CROWD = {"crowd": (40, 5)}
SELF = {"adapt_rounds": 2}
# each lever: (what it is in words, SpeakerRecipe fields that change RECIPES["ours"], Recipe fields that change its
# training); "unheard", "report", "lstm+unheard" and the ensembles start from RECIPES instead (the lever "unheard" is
# the recipe "unheard-cnn", which was called "unheard" when its rows were measured)
LEVERS = {
    "ours-20": ("the chapter's CNN recipe (global standardisation, noise 0.2), 20 epochs", {}, {"epochs": 20}),
    "speaker-20": ("... with per-speaker CMVN instead (test speaker: its own unlabelled audio)",
                   {"normalisation": "speaker"}, {"epochs": 20}),
    "augmented": ("per-speaker CMVN + speed 15% + VTLP 10% + tempo 10% + SpecAugment, noise 0.1", *AUGMENTED),
    "+floor": ("augmented + silence floored 50 dB under each clip's peak", {**AUGMENTED[0], "floor_db": 50.0},
               AUGMENTED[1]),
    "+silence": ("augmented + silences trimmed (35 dB) and floored (50 dB)", {**AUGMENTED[0], **SILENCE},
                 AUGMENTED[1]),
    "+silence+self": ("... + self-training on the test speaker's unlabelled clips (2 rounds of 5 epochs, p >= 0.9)",
                      {**AUGMENTED[0], **SILENCE, **SELF}, AUGMENTED[1]),
    "+silence+crowd": ("augmented + silences + synthetic crowd (40 speakers x 5 takes) in training",
                       {**AUGMENTED[0], **SILENCE, **CROWD}, AUGMENTED[1]),
    "+silence+crowd100x2": ("... with a crowd of 100 speakers x 2 takes instead",
                            {**AUGMENTED[0], **SILENCE, "crowd": (100, 2)}, AUGMENTED[1]),
    "+silence+crowd+lifter": ("... + log-mel smoothed to 16 cepstra (pitch ripple removed)",
                              {**AUGMENTED[0], **SILENCE, **CROWD, "lifter": 16}, AUGMENTED[1]),
    "+silence+crowd+self": ("augmented + silences + crowd + self-training",
                            {**AUGMENTED[0], **SILENCE, **CROWD, **SELF}, AUGMENTED[1]),
    "+silence+crowd+equalise": ("augmented + silences + crowd + microphone colour (EQ 1.0)",
                                {**AUGMENTED[0], **SILENCE, **CROWD}, {**AUGMENTED[1], "equalise": 1.0}),
    "+silence+crowd+mixup": ("augmented + silences + crowd + mixup (Beta 0.3)", {**AUGMENTED[0], **SILENCE, **CROWD},
                             {**AUGMENTED[1], "mixup": 0.3}),
    "resnet": ("augmented + silences + crowd, ResNet with statistics pooling",
               {**AUGMENTED[0], **SILENCE, **CROWD, "model": "resnet"}, AUGMENTED[1]),
    "unheard": ("the unheard CNN recipe (hw5lib.digits.unheard.RECIPES['unheard-cnn'])", "unheard-cnn", {}),
    "unheard-x3": ("the unheard CNN recipe, 3 seeds averaged", "unheard-cnn", {"seeds": 3}),
    "unheard-duo": ("the unheard CNN and the unheard LSTM 2x64, probabilities averaged", "unheard-duo", {}),
    "unheard-trio": ("the unheard CNN, LSTM 2x64 and ResNet, probabilities averaged", "unheard-trio", {}),
    "unheard-trio+equalise": ("the trio, every member trained with microphone colour (EQ 1.0)", "unheard-trio",
                              {"equalise": 1.0}),
    "unheard-trio+equalise0.2": ("the trio, every member trained with a faint microphone colour (EQ 0.2)",
                                 "unheard-trio", {"equalise": 0.2}),
    "unheard+hp120": ("the unheard CNN, every clip high-pass filtered at 120 Hz first", "unheard-cnn",
                      {"high_pass": 120.0}),
    "unheard+hp200": ("the unheard CNN, every clip high-pass filtered at 200 Hz first", "unheard-cnn",
                      {"high_pass": 200.0}),
    "unheard-resnets": ("three unheard ResNets, plain and batch-norm-adapted to the test speaker, averaged",
                        "unheard-resnets", {}),
    "unheard-resnets+self": ("unheard-resnets + one round of self-training: the test clips the ensemble gives at "
                             "least 0.9 join the training set with their predicted digit, 4 more epochs",
                             "unheard-resnets-self", {}),
    "unheard-resnets+self+vtln": ("unheard-resnets+self, each test speaker's clips warped in frequency by the factor "
                                  "in 0.85-1.15 (steps of 0.05) the networks are surest of (test-time VTLN)",
                                  "unheard-resnets-self-vtln", {}),
    "unheard-resnets+self+vtln-last": ("unheard-resnets+self+vtln with the warp in the final scores only (the "
                                       "pseudo-labels from unwarped scores: half the warps' cost)",
                                       "unheard-resnets-self-vtln-last", {}),
    "unheard-resnets+self+vtln-last+share": ("unheard-resnets+self+vtln-last whose self-training also takes, for each "
                                             "digit heard in the test speaker's clips, the surer half of its clips "
                                             "(class-balanced self-training)",
                                             "unheard-resnets-self-vtln-last-share", {}),
    "unheard-resnets+self+vtln-last+share+rounds2": ("unheard-resnets+self+vtln-last+share with a second round of "
                                                     "self-training, its pseudo-labels from the once-retrained "
                                                     "networks", "unheard-resnets-self2-vtln-last-share", {}),
    "unheard-resnets+self+vtln-last+share+rounds2x2": ("unheard-resnets+self+vtln-last+share with two rounds of "
                                                       "self-training of 2 epochs each instead of one of 4 (the "
                                                       "same epochs; the pseudo-labels picked again half-way)",
                                                       "unheard-resnets-self-vtln-last-share",
                                                       {"adapt_rounds": 2, "adapt_epochs": 2}),
    "unheard-resnets+self+vtln-last+share+x4e15": ("unheard-resnets+self+vtln-last+share with four ResNets of 15 "
                                                   "epochs instead of three of 20 (the same training epochs in all)",
                                                   "unheard-resnets-self-vtln-last-share", {"seeds": 4, "epochs": 15}),
    "unheard-resnets-balanced": ("three unheard ResNets, each speaker's clips balanced over the digits (a session "
                                 "that asks for each digit in turn)", "unheard-resnets-balanced", {}),
    "report": ("the report's LSTM 2x64 and recipe, untouched", "report", {}),
    "lstm+unheard": ("the report's LSTM 2x64 (MFCCs: no trimming/floor) with the unheard recipe, one seed",
                     "unheard-cnn",
                     {"model": "lstm_2x64", "trim_db": None, "floor_db": None, "lifter": None, "seeds": 1}),
}
OUTER_FIELDS = ("model", "seeds", "normalisation", "trim_db", "floor_db", "lifter", "crowd", "adapt_rounds",
                "adapt_epochs", "adapt_threshold", "adapt_share", "adapt_lr", "norm_adaptation", "balance", "vtln",
                "vtln_pseudo")
MEMBER_FIELDS = ("high_pass",)  # recipe fields that change every member of an ensemble, as training fields do


def study_name(levers) -> str:
    """The bench's name of one row of the Q4 chapter's lever study: ``levers:none``, ``levers:speaker+crowd``."""
    return "levers:" + ("+".join(levers) or "none")


def lever(name: str, epochs: int | None) -> tuple[str, SpeakerRecipe]:
    """(its description, the SpeakerRecipe) of lever ``name``, trained ``epochs`` epochs (None: the recipe's own).
    ``levers:<a>+<b>`` is a row of the chapter's lever study (hw5lib.digits.unheard.with_levers)."""
    if name.startswith("levers:"):
        chosen = [] if name == "levers:none" else name[len("levers:"):].split("+")
        words = "the chapter's recipe, " + ("levers: " + ", ".join(chosen) if chosen else "no lever")
        try:
            return words, with_levers(chosen, epochs=epochs)
        except ValueError as error:
            raise SystemExit(str(error)) from None
    if name not in LEVERS:
        raise SystemExit(f"Unknown lever {name!r}; choose from {', '.join(LEVERS)}.")
    words, start, changes = LEVERS[name]
    if isinstance(start, str):  # a named recipe, changed by recipe fields (model, seeds) or training fields
        recipe = RECIPES[start]
        outer = {k: v for k, v in changes.items() if k in OUTER_FIELDS}
        members = {k: v for k, v in changes.items() if k in MEMBER_FIELDS}
        # a training lever changes every member of an ensemble (SpeakerRecipe.with_training), as a member field does
        recipe = replace(recipe, **outer).with_members(**members).with_training(
            **{k: v for k, v in changes.items() if k not in outer and k not in members})
        if start == "report":
            return words, recipe  # untouched, whatever --epochs says
    else:
        outer = {k: v for k, v in start.items() if k in OUTER_FIELDS + MEMBER_FIELDS}
        recipe = replace(RECIPES["ours"], **outer).with_training(**changes)
    if epochs is not None:
        recipe = recipe.with_training(epochs=epochs)
    return words, recipe


def settings(recipe: SpeakerRecipe, nested: bool) -> dict:
    """What a row's numbers depend on, as JSON gives it back (the words of a description do not count),
    with whether the recipe's model lays its convolutions out channels-last (a rerun in the other
    layout rounds differently, and trains at another speed)."""
    fields = {k: v for k, v in asdict(recipe).items() if k != "description"}
    return json.loads(json.dumps({"recipe": fields, "nested": nested,
                                  "channels_last": model_spec(recipe.model).channels_last}))


def same_settings(stored: dict, key: dict) -> bool:
    """Whether a row measured with ``stored`` settings holds the numbers of ``key``: a recipe field added after
    the row was measured (missing from it) counts as its default, which is what that row ran; so does a
    row without ``channels_last`` (measured before the layout was recorded: the default layout)."""
    defaults = {f.name: f.default for f in dataclass_fields(SpeakerRecipe) if f.default is not MISSING}
    recipe = stored.get("recipe", {})
    filled = {"channels_last": False, **stored, "recipe": {**json.loads(json.dumps({k: v for k, v in defaults.items()
                                                             if k in key.get("recipe", {}) and k not in recipe})),
                                   **recipe}}
    return filled == key


def crowd_voices(recipe: SpeakerRecipe) -> dict | None:
    """The voices per engine that ``recipe``'s synthetic crowd is dealt from on this machine (None
    without a crowd): a row measured on other voices is another crowd's number, not this machine's."""
    if recipe.crowd is None:
        return None
    from collections import Counter

    from hw5lib.data.crowd import available_voices

    return dict(Counter(voice.engine for voice in available_voices(catalogue=CROWD_CATALOGUE)[0]))


def crowd_words(row: dict) -> str:
    """A row's crowd in a table: its voices per engine, "not recorded" before rows recorded it."""
    if "crowd" not in row:
        return "not recorded"
    return "none" if row["crowd"] is None else ", ".join(f"{k} {v}" for k, v in row["crowd"]["engines"].items())


def crowd_short(row: dict) -> str:
    """A row's crowd in a few words: "setup's" for the voices of :data:`MEASURED_VOICES`."""
    engines = (row.get("crowd") or {}).get("engines")
    return "setup's" if engines == MEASURED_VOICES else crowd_words(row)


def percent(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def table(rows: list[dict]) -> str:
    speakers = sorted({s for row in rows for s in row["per_speaker"]})  # a validation-only row tests none
    lines = ["| lever | what changes | epochs | validation mean / worst (nested) | LOSO mean | worst speaker | "
             + " | ".join(speakers) + " | minutes | crowd |",
             "|---" * (8 + len(speakers)) + "|"]
    for row in rows:
        inner = (f"{percent(row['inner_mean'])} / {percent(row['inner_worst'])}" if "inner_mean" in row else "")
        lines.append(f"| {row['lever']} | {row['words']} | {row['epochs']} | {inner} | {percent(row['mean'])} | "
                     f"{percent(row['worst'])} ({row['worst_speaker']}) | "
                     + " | ".join(percent(row["per_speaker"].get(s)) for s in speakers)
                     + f" | {row['minutes']:.1f} | {crowd_words(row)} |")
    return "\n".join(lines)


RESULTS = re.compile(r"(?P<open><!-- bench/unheard\.py --results (?P<levers>[^ ]+) -->\n)(?P<table>.*?)"
                     r"(?P<close><!-- /results -->)", re.S)


def network_seeds(row: dict) -> str:
    """The seeds of a row's networks: "0-2" for three from seed 0."""
    n = row["settings"]["recipe"].get("seeds", 1)
    return str(row["seed"]) if n == 1 else f"{row['seed']}-{row['seed'] + n - 1}"


def results(rows: list[dict], levers: list[str]) -> str:
    """The markdown table of every study of ``levers`` in ``rows``, lever by lever in the order given and
    each lever's in the order measured: its test score (leave-one-speaker-out) and its nested
    validation score (held-out training speakers), each where measured, with the convolutions'
    layout, the networks' seeds, the crowd's voices (those of
    :data:`~hw5lib.digits.unheard.MEASURED_VOICES`: "setup's") and the study's wall minutes."""
    lines = ["| lever | convolutions | network seeds | crowd | score | mean (%) | worst speaker (%) "
             "| study, wall minutes |",
             "|---|---|---|---|---|---|---|---|"]
    for row in (r for lever in levers for r in rows if r["lever"] == lever):
        head = (f"| `{row['lever']}` | {'channels-last' if row['settings'].get('channels_last') else 'default'} | "
                f"{network_seeds(row)} | {crowd_short(row)} |")
        minutes = f"{row['wall_minutes']:.1f}"
        if not row["settings"].get("validation_only"):
            lines.append(f"{head} test | {percent(row['mean'])} | {percent(row['worst'])} ({row['worst_speaker']}) | "
                         f"{minutes} |")
            minutes = "(with the test)"
        if "inner_mean" in row:
            held_out = min(row["inner_per_fold"].values(), key=lambda pair: pair[1])[0]  # fold: [speaker, accuracy]
            lines.append(f"{head} validation | {percent(row['inner_mean'])} | {percent(row['inner_worst'])} "
                         f"({held_out} held out) | {minutes} |")
    if len(lines) == 2:
        raise SystemExit(f"No row of {', '.join(levers)} is measured.")
    return "\n".join(lines)


def refresh(text: str, rows: list[dict]) -> str:
    """``text`` with every results block (see the module's docstring) rewritten from ``rows``."""
    return RESULTS.sub(lambda m: m["open"] + results(rows, m["levers"].split(",")) + "\n" + m["close"], text)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levers", default="base,speaker,unheard", help=f"comma-separated, from {', '.join(LEVERS)}")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs of every lever but report-lstm "
                                                                  "(default: the recipe's own)")
    parser.add_argument("--nested", action="store_true", help="also validate on a held-out training speaker per fold")
    parser.add_argument("--validation-only", action="store_true",
                        help="only the nested validation (no test speaker at all): run beside the same lever "
                             "without it, on another core, to halve the wall time")
    parser.add_argument("--study", action="store_true",
                        help="every row of the Q4 chapter's full lever study (none, each alone, all, all but one)")
    parser.add_argument("--folds", default=None,
                        help="comma-separated test speakers whose folds run (default: every speaker's); with "
                             "--validation-only a quick look at the validation of those folds alone")
    parser.add_argument("--jobs", type=int, default=1,
                        help="networks trained at once, each in its own process and thread "
                             "(the numbers do not change; minutes are then CPU time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", default="/work/shared/data/fsdd/recordings")
    parser.add_argument("--out", default=None, help="append each lever's JSON line here (and skip levers there)")
    parser.add_argument("--table", action="store_true", help="print the markdown table of --out and stop")
    parser.add_argument("--results", default=None, metavar="LEVER[,LEVER...]",
                        help="print the table of those levers' studies in --out (test and validation) and stop")
    parser.add_argument("--refresh", nargs="+", default=None, metavar="FILE",
                        help="rewrite the results blocks of these files from --out's rows and stop")
    args = parser.parse_args(argv)
    done = [json.loads(line) for line in Path(args.out).read_text().splitlines()] if args.out and Path(
        args.out).exists() else []
    if args.table:
        print(table(done))
        return done
    if args.results:
        print(results(done, args.results.split(",")))
        return done
    if args.refresh:
        docs = list(map(Path, args.refresh))
        for doc in docs:
            if not doc.is_file():
                raise SystemExit(f"{doc} is not a file: name the documents whose results blocks to rewrite.")
        for doc in docs:
            text = doc.read_text()
            if not RESULTS.search(text):
                print(f"{doc}: no results block, left as it is", flush=True)
            atomic_write_text(doc, refresh(text, done))  # a document is never left half-written
        return done
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    data = audio.load_digits(args.data, progress=False)
    device = pick_device(args.device)
    rows = []
    study = [study_name(row) for row in lever_rows(all_but=True)]
    names = study if args.study else args.levers.split(",")
    folds = args.folds.split(",") if args.folds else None
    for name in names:
        words, recipe = lever(name, args.epochs)
        nested = args.nested or args.validation_only
        key = {**settings(recipe, nested), **({"validation_only": True} if args.validation_only else {}),
               **({"folds": folds} if folds else {})}
        here = crowd_voices(recipe)
        previous = [row for row in done if row["lever"] == name and same_settings(row["settings"], key)
                    and row["seed"] == args.seed and (row.get("crowd") or {}).get("engines") == here]
        if previous:
            rows.append(previous[-1])
            print(f"{name}: already measured", flush=True)
            continue
        began = time.perf_counter()
        study = loso(data, recipe, speakers=folds, device=device, seed=args.seed, nested=nested,
                     outer=not args.validation_only, jobs=args.jobs)
        row = {"lever": name, "words": words, "epochs": recipe.training.epochs, "seed": args.seed, **study,
               "wall_minutes": (time.perf_counter() - began) / 60, "settings": key,
               "command": shlex.join([sys.executable, *sys.argv])}
        rows.append(row)
        inner = f" validation {percent(row['inner_mean'])} (worst {percent(row['inner_worst'])})" if nested else ""
        print(f"{name}: LOSO {percent(row['mean'])}, worst {percent(row['worst'])} ({row['worst_speaker']}); "
              + ", ".join(f"{s} {percent(a)}" for s, a in row["per_speaker"].items())
              + f";{inner} {row['minutes']:.1f} min", flush=True)
        if args.out:
            with open(args.out, "a") as handle:
                handle.write(json.dumps(row) + "\n")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
