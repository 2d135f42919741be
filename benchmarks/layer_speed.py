"""How fast is rnnlib's from-scratch layer next to torch.nn's fused one?

Times one forward + backward pass over a sequence for the RNN, LSTM and GRU, rnnlib against
``torch.nn`` with the same weights, on the detected device, and prints a table. Timings on a
shared machine are noisy, so read the ratio column (both measured in the same run, interleaved).

    python benchmarks/layer_speed.py [--batch 64] [--time 50] [--hidden 64] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rnnlib


def forward_backward_seconds(module: torch.nn.Module, x: torch.Tensor, device) -> float:
    start = time.perf_counter()
    outputs, _ = module(x)
    outputs.sum().backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--time", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--input", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    device = rnnlib.setup(seed=0)
    x = torch.randn(args.batch, args.time, args.input, device=device)
    print(
        f"batch {args.batch}, time {args.time}, hidden {args.hidden}, input {args.input}, "
        f"median of {args.repeats} forward+backward passes\n"
    )
    print(f"{'cell':<6} {'rnnlib (ms)':>12} {'torch.nn (ms)':>14} {'rnnlib / torch':>15}")
    for name, network_class in [("RNN", rnnlib.RNN), ("LSTM", rnnlib.LSTM), ("GRU", rnnlib.GRU)]:
        ours = network_class(args.input, args.hidden).to(device)
        theirs = ours.to_torch()
        for module in (ours, theirs):  # warm-up
            forward_backward_seconds(module, x, device)
        timings = {"ours": [], "theirs": []}
        for _ in range(args.repeats):  # interleaved, so load changes hit both alike
            timings["ours"].append(forward_backward_seconds(ours, x, device))
            timings["theirs"].append(forward_backward_seconds(theirs, x, device))
        ours_ms = 1000 * statistics.median(timings["ours"])
        theirs_ms = 1000 * statistics.median(timings["theirs"])
        print(f"{name:<6} {ours_ms:>12.2f} {theirs_ms:>14.2f} {ours_ms / theirs_ms:>15.2f}")


if __name__ == "__main__":
    main()
