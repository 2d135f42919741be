"""How fast are rnnlib's layers next to torch.nn's, and how does their cost grow in T?

Times one forward + backward pass (``outputs.sum().backward()``) of a one-layer, batch_first
RNN, LSTM and GRU: rnnlib's layer built ``from_torch`` of the torch.nn layer it is compared
with (the same weights), on one CPU thread. The machine may be shared, so every pair is
measured in the same run, interleaved, and the tables report medians and ratios. On the CPU the
clock is the process's CPU time (``time.process_time``), which does not count the time the
process waits for a core; on CUDA it is wall time after synchronising.

Tables (markdown, also written to ``--output``):

1. ``ratio``: rnnlib / torch.nn time for each layer and (batch, hidden, T) shape, and the
   GRU / LSTM time of each library;
2. ``growth``: time at 4 T over time at T (linear cost gives 4);
3. ``ensemble``: one rnnlib layer with ``ensemble=8`` (eight members, each on its own input)
   over one member alone.

``--check`` measures a grid that was not used to tune the kernels (``CHECK_SHAPES``) and exits
1 unless every target of ``TARGETS`` holds; the table says which failed.

    python benchmarks/layer_speed.py [--repeats 9] [--check] [--output benchmarks/results.md]
        [--readme] [--device cuda]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch

import rnnlib

LAYERS = ("RNN", "LSTM", "GRU")
INPUT_SIZE = 8
#: (batch, hidden, T) of the default table: the shapes the kernels were tuned on.
SHAPES = [(8, 24, 50), (16, 32, 100), (32, 64, 100), (64, 128, 50), (64, 64, 200)]
#: Shapes never used for tuning, for ``--check``: "main" ones (batch 16-64, hidden 32-128,
#: T 30-200) and "small" ones (batch 8-16, hidden 24-32).
CHECK_SHAPES = [
    (24, 48, 40, "main"),
    (48, 96, 150, "main"),
    (40, 112, 80, "main"),
    (20, 40, 180, "main"),
    (12, 28, 60, "small"),
    (10, 30, 120, "small"),
]
#: (batch, hidden, T) whose cost is compared with that at 4 T.
GROWTH_SHAPE = (16, 32, 40)
#: (batch, hidden, T, members) of the ensemble table.
ENSEMBLE_SHAPE = (16, 32, 100, 8)
#: The targets of ``--check``: rnnlib / torch.nn at most 1.3 (main shapes) or 2 (small);
#: 4x the steps cost at most 4.6x (linear, with room for noise); rnnlib's GRU faster than its
#: LSTM at every shape; eight members cost at most 2.5x one.
TARGETS = {"main": 1.3, "small": 2.0, "growth": 4.6, "ensemble": 2.5}
OUTPUT = Path(__file__).with_name("results.md")
README = Path(__file__).parents[1] / "README.md"
#: ``--readme`` replaces the text between these two lines of the README with the results.
MARKERS = ("<!-- layer_speed results: start -->", "<!-- layer_speed results: end -->")


def _clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def forward_backward_seconds(module: torch.nn.Module, x: torch.Tensor) -> float:
    """One forward + backward pass of ``outputs.sum()``, in seconds."""
    start = _clock(x.device)
    outputs, _ = module(x)
    outputs.sum().backward()
    return _clock(x.device) - start


def interleaved_medians(functions: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each zero-argument function, called in turn (after two warm-ups
    each), so that a change of load hits all of them alike."""
    for _ in range(2):
        for function in functions.values():
            function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            times[name].append(function())
    return {name: statistics.median(values) for name, values in times.items()}


def layer_pair(name: str, hidden: int, device: torch.device):
    """torch.nn's layer and rnnlib's, built from it (the same weights)."""
    theirs = getattr(torch.nn, name)(INPUT_SIZE, hidden, batch_first=True).to(device)
    return getattr(rnnlib, name).from_torch(theirs), theirs


def time_shape(batch: int, hidden: int, steps: int, device, repeats: int) -> dict[str, float]:
    """Median ms of every layer of both libraries at one shape: keys like ``"rnnlib LSTM"``."""
    functions = {}
    x = torch.randn(batch, steps, INPUT_SIZE, device=device)
    for name in LAYERS:
        ours, theirs = layer_pair(name, hidden, device)
        functions[f"rnnlib {name}"] = partial(forward_backward_seconds, ours, x)
        functions[f"torch.nn {name}"] = partial(forward_backward_seconds, theirs, x)
    return {k: 1e3 * v for k, v in interleaved_medians(functions, repeats).items()}


def ratio_rows(shapes, device, repeats: int) -> list[dict]:
    rows = []
    for batch, hidden, steps, *kind in shapes:
        ms = time_shape(batch, hidden, steps, device, repeats)
        row = {"B": batch, "H": hidden, "T": steps, "kind": kind[0] if kind else ""}
        for name in LAYERS:
            row[name] = ms[f"rnnlib {name}"] / ms[f"torch.nn {name}"]
            row[f"{name} ms"] = ms[f"rnnlib {name}"]
        for library in ("rnnlib", "torch.nn"):
            row[f"GRU/LSTM {library}"] = ms[f"{library} GRU"] / ms[f"{library} LSTM"]
        rows.append(row)
        print(".", end="", file=sys.stderr, flush=True)
    return rows


def growth_rows(device, repeats: int) -> list[dict]:
    batch, hidden, steps = GROWTH_SHAPE
    short = time_shape(batch, hidden, steps, device, repeats)
    long = time_shape(batch, hidden, 4 * steps, device, repeats)
    return [
        {"what": what, "short": short[what], "long": long[what], "growth": long[what] / short[what]}
        for what in short
    ]


def ensemble_rows(device, repeats: int) -> list[dict]:
    batch, hidden, steps, members = ENSEMBLE_SHAPE
    functions = {}
    for name in LAYERS:
        for k in (None, members):
            layer = getattr(rnnlib, name)(INPUT_SIZE, hidden, ensemble=k).to(device)
            shape = (batch, steps, INPUT_SIZE) if k is None else (k, batch, steps, INPUT_SIZE)
            x = torch.randn(shape, device=device)
            functions[name, k] = partial(forward_backward_seconds, layer, x)
    ms = {key: 1e3 * value for key, value in interleaved_medians(functions, repeats).items()}
    return [
        {"layer": name, "one": ms[name, None], "ensemble": ms[name, members]} for name in LAYERS
    ]


def ensemble_table(rows: list[dict]) -> list[str]:
    batch, hidden, steps, members = ENSEMBLE_SHAPE
    lines = [
        f"| layer (B {batch}, H {hidden}, T {steps}) | one member (ms) | ensemble={members} (ms) "
        "| ratio |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        ratio = row["ensemble"] / row["one"]
        lines.append(f"| {row['layer']} | {row['one']:.2f} | {row['ensemble']:.2f} | {ratio:.2f} |")
    return lines


def ratio_table(rows: list[dict], check: bool) -> list[str]:
    kind = " kind |" if check else ""
    lines = [
        "| B | H | T |" + kind + " RNN | LSTM | GRU | GRU/LSTM rnnlib | GRU/LSTM torch.nn |",
        "|" + "---:|" * (8 + check),
    ]
    for row in rows:
        cells = [str(row[k]) for k in ("B", "H", "T")] + ([row["kind"]] if check else [])
        for name in LAYERS:
            bound = TARGETS.get(row["kind"])
            flag = " (over)" if check and row[name] > bound else ""
            cells.append(f"{row[name]:.2f}{flag}")
        gru_lstm = row["GRU/LSTM rnnlib"]
        flag = " (over)" if check and gru_lstm >= 1 else ""
        cells += [f"{gru_lstm:.2f}{flag}", f"{row['GRU/LSTM torch.nn']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def growth_table(rows: list[dict]) -> list[str]:
    batch, hidden, steps = GROWTH_SHAPE
    lines = [
        f"| layer (B {batch}, H {hidden}) | T = {steps} (ms) | T = {4 * steps} (ms) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['what']} | {row['short']:.2f} | {row['long']:.2f} | {row['growth']:.2f} |"
        )
    return lines


def failures(rows: list[dict], growth: list[dict], ensemble: list[dict]) -> list[str]:
    """The targets of :data:`TARGETS` that the measured rows miss."""
    missed = []
    for row in rows:
        shape = f"B {row['B']}, H {row['H']}, T {row['T']}"
        for name in LAYERS:
            if row[name] > TARGETS[row["kind"]]:
                missed.append(f"{name} at {shape}: {row[name]:.2f}x torch.nn")
        if row["GRU/LSTM rnnlib"] >= 1:
            missed.append(f"rnnlib's GRU not faster than its LSTM at {shape}")
    for row in growth:
        if row["what"].startswith("rnnlib") and row["growth"] > TARGETS["growth"]:
            missed.append(f"{row['what']}: 4x the steps cost {row['growth']:.2f}x")
    for row in ensemble:
        ratio = row["ensemble"] / row["one"]
        if ratio > TARGETS["ensemble"]:
            missed.append(f"{row['layer']}: {ENSEMBLE_SHAPE[3]} members cost {ratio:.2f}x one")
    return missed


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}"
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {torch.get_num_threads()} thread(s)"


def report(device, rows, growth, ensemble, check: bool, repeats: int) -> list[str]:
    grid = "a grid not used for tuning (`--check`)" if check else "the tuning grid"
    lines = [
        f"Measured on {machine(device)}; torch {torch.__version__}; {grid}; "
        f"median of {repeats} interleaved repeats of forward + backward "
        f"({'CPU time of the process' if device.type == 'cpu' else 'wall time'}).",
        "",
        "rnnlib / torch.nn time (below 1: rnnlib is faster), and the GRU / LSTM time of each "
        "library:",
        "",
        *ratio_table(rows, check),
        "",
        "Growth in T (4 is linear):",
        "",
        *growth_table(growth),
        "",
        "An ensemble of eight members (each its own weights and input) against one member:",
        "",
        *ensemble_table(ensemble),
    ]
    if check:
        missed = failures(rows, growth, ensemble)
        lines += ["", "Targets missed:" if missed else "Every target holds.", ""]
        lines += [f"- {m}" for m in missed]
    return lines


def update_readme(text: str, readme: Path = README) -> None:
    """Put ``text`` between the two :data:`MARKERS` lines of the README."""
    content = readme.read_text()
    start, end = (content.index(marker) for marker in MARKERS)
    block = f"{MARKERS[0]}\n{text}{MARKERS[1]}"
    readme.write_text(content[:start] + block + content[end + len(MARKERS[1]) :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--check", action="store_true", help="the targets, on CHECK_SHAPES")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="markdown results file")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--readme", action="store_true", help="also update README.md's table")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device(args.device)
    rows = ratio_rows(CHECK_SHAPES if args.check else SHAPES, device, args.repeats)
    growth = growth_rows(device, args.repeats)
    ensemble = ensemble_rows(device, args.repeats)
    print(file=sys.stderr)
    lines = report(device, rows, growth, ensemble, args.check, args.repeats)
    text = "\n".join(lines).rstrip() + "\n"
    print(text)
    args.output.write_text(text)
    if args.readme:
        update_readme(text)
    return 1 if args.check and failures(rows, growth, ensemble) else 0


if __name__ == "__main__":
    sys.exit(main())
