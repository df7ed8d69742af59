"""A training step of the convolutional digit models (``cnn``, ``resnet``) with their weights in
PyTorch's default layout (NCHW) against channels-last (NHWC, what ``build_model`` gives them: see
``ModelSpec.channels_last``), on one thread, as the unheard-speakers study trains each network.

    OMP_NUM_THREADS=1 .venv/bin/python bench/conv_layout.py [--rounds 30] [--frames 48] [--batch 32]

A step is forward, backward and an Adam update of a batch of log-mel clips (40 bands, ``--frames``
frames). The two layouts take turns, round by round, from the same initial weights; the figure is
the median of the per-round ratios (default / channels-last: above 1, channels-last is faster),
after three warm-up rounds. It also prints the largest difference between the two layouts' logits
for the same weights and input (rounding only: the model is the same).
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
    args = parser.parse_args()

    import torch

    from hw5lib.digits.models import MODELS, build_model

    torch.set_num_threads(1)
    x = torch.randn(args.batch, args.frames, 40, generator=torch.Generator().manual_seed(0))
    lengths = torch.full((args.batch,), args.frames)
    for name in (n for n, spec in MODELS.items() if spec.channels_last):
        nets = {"channels-last": build_model(name, 40)}
        nets["default"] = copy.deepcopy(nets["channels-last"]).to(memory_format=torch.contiguous_format)
        with torch.no_grad():
            gap = (nets["default"].eval()(x, lengths) - nets["channels-last"].eval()(x, lengths)).abs().max().item()
        optimisers = {k: torch.optim.Adam(net.parameters()) for k, net in nets.items()}
        seconds: dict[str, list[float]] = {k: [] for k in nets}
        for _ in range(args.rounds + 3):
            for layout, net in nets.items():
                net.train()
                began = time.perf_counter()
                loss = net(x, lengths).logsumexp(1).mean()
                optimisers[layout].zero_grad()
                loss.backward()
                optimisers[layout].step()
                seconds[layout].append(time.perf_counter() - began)
        ratio = statistics.median(d / c for d, c in zip(seconds["default"][3:], seconds["channels-last"][3:]))
        print(f"{name}: default {1000 * statistics.median(seconds['default'][3:]):.1f} ms, channels-last "
              f"{1000 * statistics.median(seconds['channels-last'][3:]):.1f} ms per step: {ratio:.2f}x "
              f"(largest logit difference {gap:.1e})")


if __name__ == "__main__":
    main()
