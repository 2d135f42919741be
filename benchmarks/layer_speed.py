"""How fast is rnnlib's from-scratch layer next to torch.nn's fused one, and how does it grow in T?

Times one forward + backward pass (``outputs.sum().backward()``) of a one-layer, batch_first
RNN, LSTM and GRU, rnnlib against ``torch.nn`` with the same weights, on the detected device
(one CPU thread, as the chapters use). Timings on a shared machine are noisy, so both are
measured in the same run, interleaved, and the table reports medians and their ratio.

Three tables:

1. ``ratio``: rnnlib / torch.nn for each (batch, hidden, T) shape;
2. ``growth``: time at T = 400 over time at T = 100 (linear cost in T gives 4);
3. ``instruments``: ``rnnlib.gradients.state_gradients`` (dJ/dh_t for every t from one pass)
   over one plain forward + backward of the same loss, and its own growth from T = 100 to 400.

    python benchmarks/layer_speed.py [--repeats 15] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch

import rnnlib
from rnnlib.gradients import state_gradients

LAYERS = {"RNN": rnnlib.RNN, "LSTM": rnnlib.LSTM, "GRU": rnnlib.GRU}
#: (batch, hidden, T): three shapes of the book's size and two more (one tiny, one large).
SHAPES = [(64, 64, 30), (64, 64, 100), (32, 128, 200), (16, 32, 50), (128, 256, 50)]
GROWTH_T = (50, 100, 200, 400)
INPUT_SIZE = 8


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def forward_backward_seconds(module: torch.nn.Module, x: torch.Tensor) -> float:
    """One forward + backward pass of ``outputs.sum()``, in seconds."""
    _sync(x.device)
    start = time.perf_counter()
    outputs, _ = module(x)
    outputs.sum().backward()
    _sync(x.device)
    return time.perf_counter() - start


def instrument_seconds(layer: rnnlib.RecurrentLayer, x: torch.Tensor) -> float:
    """``state_gradients`` of J = sum(h_T): every dJ/dh_t from one backward pass."""
    _sync(x.device)
    start = time.perf_counter()
    state_gradients(layer, x, lambda h: h.sum(-1))
    _sync(x.device)
    return time.perf_counter() - start


def plain_seconds(layer: rnnlib.RecurrentLayer, x: torch.Tensor) -> float:
    """The same loss as :func:`instrument_seconds`, J = sum(h_T), with a plain backward."""
    _sync(x.device)
    start = time.perf_counter()
    outputs, _ = layer(x)
    outputs[:, -1].sum().backward()
    _sync(x.device)
    return time.perf_counter() - start


def interleaved_medians(functions: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each zero-argument function, called in turn (after one warm-up each)."""
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(repeats):  # interleaved, so load changes hit all alike
        for name, function in functions.items():
            times[name].append(function())
    return {name: statistics.median(values) for name, values in times.items()}


def layer_pair(name: str, hidden: int, device: torch.device):
    ours = LAYERS[name](INPUT_SIZE, hidden).to(device)
    return ours, ours.to_torch()


def ratio_table(device, repeats: int, shapes) -> None:
    print("rnnlib / torch.nn, forward + backward (median ms)")
    header = f"{'layer':<5} {'B':>4} {'H':>4} {'T':>4} {'rnnlib':>9} {'torch.nn':>9} {'ratio':>6}"
    print(header + "\n" + "-" * len(header))
    for name in LAYERS:
        for batch, hidden, steps in shapes:
            ours, theirs = layer_pair(name, hidden, device)
            x = torch.randn(batch, steps, INPUT_SIZE, device=device)
            medians = interleaved_medians(
                {
                    "ours": partial(forward_backward_seconds, ours, x),
                    "theirs": partial(forward_backward_seconds, theirs, x),
                },
                repeats,
            )
            ms = {k: 1e3 * v for k, v in medians.items()}
            print(
                f"{name:<5} {batch:>4} {hidden:>4} {steps:>4} {ms['ours']:>9.2f} "
                f"{ms['theirs']:>9.2f} {ms['ours'] / ms['theirs']:>6.2f}"
            )
    print()


def growth_table(device, repeats: int, batch: int = 64, hidden: int = 64) -> None:
    print(f"cost against T (B {batch}, H {hidden}; median ms of forward + backward)")
    columns = " ".join(f"{'T=' + str(t):>8}" for t in GROWTH_T)
    header = f"{'what':<16} {columns} {'T400/T100':>10}"
    print(header + "\n" + "-" * len(header))
    for name in LAYERS:
        ours, theirs = layer_pair(name, hidden, device)
        layer = ours.stack.layers[0]
        rows = {f"rnnlib {name}": {}, f"torch.nn {name}": {}, f"state_grads {name}": {}}
        for steps in GROWTH_T:
            x = torch.randn(batch, steps, INPUT_SIZE, device=device)
            medians = interleaved_medians(
                {
                    f"rnnlib {name}": partial(forward_backward_seconds, ours, x),
                    f"torch.nn {name}": partial(forward_backward_seconds, theirs, x),
                    f"state_grads {name}": partial(instrument_seconds, layer, x),
                },
                max(3, repeats // 2),
            )
            for row, value in medians.items():
                rows[row][steps] = 1e3 * value
        for row, times in rows.items():
            cells = " ".join(f"{times[t]:>8.2f}" for t in GROWTH_T)
            print(f"{row:<16} {cells} {times[400] / times[100]:>10.2f}")
    print()


def instrument_table(device, repeats: int, batch: int = 64, hidden: int = 64) -> None:
    print("state_gradients (dJ/dh_t for every t) over one plain backward of the same loss")
    header = f"{'layer':<5} {'T':>4} {'plain (ms)':>11} {'state_grads':>12} {'ratio':>6}"
    print(header + "\n" + "-" * len(header))
    for name in LAYERS:
        for steps in (100, 200):
            layer = LAYERS[name](INPUT_SIZE, hidden).to(device).stack.layers[0]
            x = torch.randn(batch, steps, INPUT_SIZE, device=device)
            medians = interleaved_medians(
                {
                    "plain": partial(plain_seconds, layer, x),
                    "instrument": partial(instrument_seconds, layer, x),
                },
                repeats,
            )
            plain, instrument = (1e3 * medians[k] for k in ("plain", "instrument"))
            print(
                f"{name:<5} {steps:>4} {plain:>11.2f} {instrument:>12.2f} "
                f"{instrument / plain:>6.2f}"
            )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="only the three goal shapes")
    args = parser.parse_args()
    device = rnnlib.setup(seed=0)
    shapes = SHAPES[:3] if args.quick else SHAPES
    ratio_table(device, args.repeats, shapes)
    growth_table(device, args.repeats)
    instrument_table(device, args.repeats)


if __name__ == "__main__":
    main()
