"""Forward + backward time of one KAN layer: hw5lib's ``KANLinear`` against pykan's ``KANLayer``
(``pip install -e .[bench]``) and against an MLP block with the same number of parameters
(Linear -> SiLU -> Linear), same batch, same input (which requires a gradient, as inside a
network), CPU, float32.

    .venv/bin/python bench/kan_layer.py [--threads 2] [--rounds 30] [--batch 1024]

Shapes: 128 -> 128 (the reference), 64 -> 64 and 2 -> 5, grid 5, order 3. Each round times every
contender once, in turn, so that a noisy neighbour slows all of them alike; the figures are medians
over the rounds, and the ratios are medians of the per-round ratios. hw5lib is timed twice: on its
default uniform grid (local polynomial pieces) and forced through the Cox-de Boor recursion (the
path an adaptive grid takes).
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--shapes", default="128x128,64x64,2x5")
    args = parser.parse_args()

    import torch
    from torch import nn

    from hw5lib.kan.layer import KANLinear, count_parameters, mlp_width_for

    try:
        from kan.KANLayer import KANLayer
    except ImportError:
        KANLayer = None
        print("pykan is not installed (pip install -e .[bench]); timing hw5lib and the MLP only")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"batch {args.batch}, grid 5, order 3, {args.threads} threads, {args.rounds} rounds; forward + backward")
    for shape in args.shapes.split(","):
        n_in, n_out = (int(part) for part in shape.split("x"))
        x = (torch.rand(args.batch, n_in) * 2 - 1).requires_grad_()
        ours = KANLinear(n_in, n_out, grid_size=5, spline_order=3)
        recursion = KANLinear(n_in, n_out, grid_size=5, spline_order=3)
        recursion.uniform = False
        width = mlp_width_for(count_parameters(ours), n_in, n_out)
        mlp = nn.Sequential(nn.Linear(n_in, width), nn.SiLU(), nn.Linear(width, n_out))
        contenders = {"hw5lib": ours, "hw5lib (Cox-de Boor)": recursion, "MLP": mlp}
        if KANLayer is not None:
            contenders["pykan"] = KANLayer(in_dim=n_in, out_dim=n_out, num=5, k=3)

        def step(module):
            x.grad = None
            output = module(x)
            output = output[0] if isinstance(output, tuple) else output
            output.sum().backward()

        times = {name: [] for name in contenders}
        for round_index in range(args.rounds + 3):
            for name, module in contenders.items():
                started = time.perf_counter()
                step(module)
                if round_index >= 3:  # warm-up rounds
                    times[name].append(time.perf_counter() - started)
        median = {name: statistics.median(values) for name, values in times.items()}
        ratio = {name: statistics.median(a / b for a, b in zip(times[name], times["hw5lib"])) for name in times}
        sizes = {name: count_parameters(module) for name, module in contenders.items()}
        print(f"\n{n_in} -> {n_out}  (parameters: " + ", ".join(f"{n} {s:,}" for n, s in sizes.items()) + ")")
        for name in contenders:
            print(f"  {name:22s} {1e3 * median[name]:8.2f} ms   {ratio[name]:6.2f}x hw5lib's time")


if __name__ == "__main__":
    main()
