"""Fine-tuning throughput of the tiny Whisper: training samples per second through Seq2SeqTrainer,
and the share of the time spent outside the model (data, collation, the trainer's bookkeeping).

    .venv/bin/python bench/whisper_train.py --clips 256 --epochs 2

The same batches are timed twice: through ``hw5lib.whisper.model.fine_tune`` (no evaluation, no
checkpoint inside the timed epochs), and as a bare loop of forward, backward and AdamW step on
pre-collated tensors. The share outside the model is 1 - bare / trainer. Features are random
(the speed does not depend on what they hold); the corpus is not needed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hw5lib.whisper import model as W  # noqa: E402
from hw5lib.data.speech import Utterance, persian_sentences  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    spec = W.TinySpec()
    texts = persian_sentences(args.clips)
    model, processor = W.build_tiny(texts, spec)
    rng = np.random.default_rng(0)
    mel = rng.normal(0, 1, (args.clips, spec.mel_bins, spec.frames)).astype(np.float16)
    utterances = [Utterance(Path(f"{i}.wav"), text) for i, text in enumerate(texts)]
    dataset = W.SpeechDataset(mel, utterances, processor.tokenizer, spec.max_target_tokens)
    plan = W.TrainingPlan(epochs=args.epochs, learning_rate=1e-3, batch_size=args.batch_size, eval_every=10**6,
                          warmup_steps=10)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        W.fine_tune(model, processor, dataset, dataset, folder, plan, progress=False, evaluate=False, resume=False)
        trainer_seconds = time.perf_counter() - started
    samples = args.clips * args.epochs

    collate = W.Collator()
    batches = [collate([dataset[i] for i in range(start, min(start + args.batch_size, args.clips))])
               for start in range(0, args.clips, args.batch_size)]
    bare, _ = W.build_tiny(texts, spec)
    bare.train()
    optimiser = torch.optim.AdamW(bare.parameters(), lr=1e-3)
    per_epoch = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        for batch in batches:
            bare(**batch).loss.backward()
            torch.nn.utils.clip_grad_norm_(bare.parameters(), 1.0)
            optimiser.step()
            optimiser.zero_grad()
        per_epoch.append(time.perf_counter() - started)
    bare_seconds = statistics.median(per_epoch) * args.epochs
    print(f"tiny Whisper ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters), {args.clips} clips, "
          f"batch {args.batch_size}, {args.epochs} epochs, {torch.get_num_threads()} threads")
    print(f"Seq2SeqTrainer: {samples / trainer_seconds:.1f} samples/s; "
          f"bare loop: {samples / bare_seconds:.1f} samples/s; "
          f"share of the trainer's time outside the model: {max(0.0, 1 - bare_seconds / trainer_seconds):.1%}")


if __name__ == "__main__":
    main()
