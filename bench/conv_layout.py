"""A training step of the convolutional digit models (``cnn``, ``resnet``) with their weights in
PyTorch's default layout (NCHW) against channels-last (NHWC, what ``build_model`` gives them: see
``ModelSpec.channels_last``), on one thread, as the unheard-speakers study trains each network.

    OMP_NUM_THREADS=1 .venv/bin/python bench/conv_layout.py [--rounds 30] [--frames 48] [--batch 32] [--bf16]

A step is forward, backward and an Adam update of a batch of log-mel clips (40 bands, ``--frames``
frames). The two layouts take turns, round by round, from the same initial weights; the figure is
the median of the per-round ratios (default / channels-last: above 1, channels-last is faster),
after three warm-up rounds. It also prints the largest difference between the two layouts' logits
for the same weights and input (rounding only: the model is the same).

``--bf16`` adds a third contender: channels-last with the step under ``torch.autocast("cpu",
torch.bfloat16)`` (what a CPU with AMX or AVX512-BF16 units could gain), its ratio to channels-last
in float32 and its largest logit difference from float32. Much coarser rounding than the layout's:
a recipe trained so would need its own nested validation.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bf16", action="store_true", help="also time channels-last under bfloat16 autocast")
    args = parser.parse_args()

    import torch

    from hw5lib.digits.models import MODELS, build_model

    torch.set_num_threads(1)
    x = torch.randn(args.batch, args.frames, 40, generator=torch.Generator().manual_seed(0))
    lengths = torch.full((args.batch,), args.frames)
    def autocast(variant: str):
        return torch.autocast("cpu", torch.bfloat16, enabled=variant == "bf16")

    for name in (n for n, spec in MODELS.items() if spec.channels_last):
        nets = {"channels-last": build_model(name, 40)}
        nets["default"] = copy.deepcopy(nets["channels-last"]).to(memory_format=torch.contiguous_format)
        if args.bf16:
            nets["bf16"] = copy.deepcopy(nets["channels-last"])
        with torch.no_grad():
            logits = {}
            for variant, net in nets.items():
                with autocast(variant):
                    logits[variant] = net.eval()(x, lengths).float()
        gap = (logits["default"] - logits["channels-last"]).abs().max().item()
        optimisers = {k: torch.optim.Adam(net.parameters()) for k, net in nets.items()}
        seconds: dict[str, list[float]] = {k: [] for k in nets}
        for _ in range(args.rounds + 3):
            for variant, net in nets.items():
                net.train()
                began = time.perf_counter()
                with autocast(variant):
                    loss = net(x, lengths).logsumexp(1).mean()
                optimisers[variant].zero_grad()
                loss.backward()
                optimisers[variant].step()
                seconds[variant].append(time.perf_counter() - began)

        def ratio(slow: str, fast: str) -> float:
            return statistics.median(s / f for s, f in zip(seconds[slow][3:], seconds[fast][3:]))

        def ms(variant: str) -> str:
            return f"{1000 * statistics.median(seconds[variant][3:]):.1f} ms"

        print(f"{name}: default {ms('default')}, channels-last {ms('channels-last')} per step: "
              f"{ratio('default', 'channels-last'):.2f}x (largest logit difference {gap:.1e})")
        if args.bf16:
            bf16_gap = (logits["bf16"] - logits["channels-last"]).abs().max().item()
            print(f"{name}: channels-last under bf16 autocast {ms('bf16')} per step: "
                  f"{ratio('channels-last', 'bf16'):.2f}x channels-last in float32 (largest logit difference "
                  f"{bf16_gap:.1e})")


if __name__ == "__main__":
    main()
