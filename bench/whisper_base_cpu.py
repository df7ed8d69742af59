"""What whisper-base costs on a CPU, measured on the structural checkpoint (whisper-base's exact
shape and tokenizer, random weights; the speed does not depend on the weights' values):

    .venv/bin/python bench/whisper_base_cpu.py --batch-size 8 --steps 3 --clips 8 --tokens 30

Prints the median seconds per fine-tuning step (forward, backward and AdamW on ``--batch-size``
clips of 30 s windows, every weight trainable, and with the encoder frozen), and per clip of
evaluation (the encoder on one 30 s window, and greedy decoding of ``--tokens`` tokens, about a
Persian sentence's worth in Whisper's byte-level BPE). The Q3 budget of the Pages workflow is sized
from these numbers (see bench/README.md).
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
from transformers.modeling_outputs import BaseModelOutput

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hw5lib.whisper import model as W, structural as S  # noqa: E402


def step_seconds(model, batch: dict, steps: int) -> float:
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    times = []
    for _ in range(steps + 1):  # the first step warms up the allocator and is not counted
        started = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--clips", type=int, default=8, help="clips to evaluate")
    parser.add_argument("--tokens", type=int, default=30, help="tokens decoded per clip")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    with tempfile.TemporaryDirectory() as folder:
        model, processor = W.load_whisper(S.build(Path(folder) / "base"))
    rng = np.random.default_rng(0)
    mel = torch.from_numpy(rng.normal(0, 1, (args.batch_size, 80, 3000)).astype(np.float32))
    labels = torch.randint(0, 50000, (args.batch_size, args.tokens))
    batch = {"input_features": mel, "labels": labels}
    full = step_seconds(W.freeze(model, "full"), batch, args.steps)
    frozen = step_seconds(W.freeze(model, "frozen_encoder"), batch, args.steps)
    model.eval()
    clips = torch.from_numpy(rng.normal(0, 1, (args.clips, 80, 3000)).astype(np.float32))
    with torch.no_grad():
        started = time.perf_counter()
        encoded = model.model.encoder(clips).last_hidden_state
        encoder = (time.perf_counter() - started) / args.clips
        started = time.perf_counter()
        model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=encoded), min_new_tokens=args.tokens,
                       max_new_tokens=args.tokens, language="fa", task="transcribe")
        decode = (time.perf_counter() - started) / args.clips
    print(f"whisper-base on {torch.get_num_threads()} CPU threads, batch {args.batch_size} of 30 s windows:")
    print(f"  training step, every weight trainable: {full:.1f} s ({full / args.batch_size:.2f} s per clip)")
    print(f"  training step, encoder frozen:         {frozen:.1f} s ({frozen / args.batch_size:.2f} s per clip)")
    print(f"  evaluation per clip: encoder {encoder:.2f} s + {args.tokens} tokens of greedy decoding {decode:.2f} s "
          f"= {encoder + decode:.2f} s")


if __name__ == "__main__":
    main()
