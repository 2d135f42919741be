"""benchmarks/layer_speed.py: its target check and its README block, on made-up timings (the
timings themselves are the benchmark's job, not a test's)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).parents[2] / "benchmarks" / "layer_speed.py"
spec = importlib.util.spec_from_file_location("layer_speed", PATH)
layer_speed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(layer_speed)


def row(kind: str, rnn: float, lstm: float, gru: float, gru_lstm: float) -> dict:
    return {
        "B": 16, "H": 32, "T": 50, "kind": kind, "RNN": rnn, "LSTM": lstm, "GRU": gru,
        "GRU/LSTM rnnlib": gru_lstm, "GRU/LSTM torch.nn": 2.0,
    }  # fmt: skip


GROWTH_OK = [{"what": "rnnlib RNN", "short": 1.0, "long": 4.2, "growth": 4.2}]
ENSEMBLE_OK = [{"layer": "GRU", "one": 1.0, "ensemble": 2.4}]


def test_failures_names_every_missed_target_and_nothing_else():
    rows = [row("main", 1.29, 1.31, 0.9, 0.95), row("small", 2.1, 1.9, 0.5, 1.0)]
    growth = [*GROWTH_OK, {"what": "rnnlib GRU", "short": 1.0, "long": 5.0, "growth": 5.0}]
    ensemble = [*ENSEMBLE_OK, {"layer": "LSTM", "one": 1.0, "ensemble": 3.0}]
    missed = layer_speed.failures(rows, growth, ensemble)
    assert len(missed) == 5, missed
    assert "LSTM at B 16, H 32, T 50: 1.31x torch.nn" in missed  # main shapes: 1.3
    assert "RNN at B 16, H 32, T 50: 2.10x torch.nn" in missed  # small shapes: 2
    assert any("GRU not faster" in m for m in missed)  # GRU/LSTM = 1.0 is not faster
    assert any("rnnlib GRU: 4x the steps cost 5.00x" in m for m in missed)
    assert any(m.startswith("LSTM: 8 members cost 3.00x") for m in missed)
    assert layer_speed.failures([row("main", 1.3, 1.0, 0.9, 0.99)], GROWTH_OK, ENSEMBLE_OK) == []


def test_report_marks_the_rows_over_their_target():
    growth = [{"what": w, "short": 1.0, "long": 4.0, "growth": 4.0} for w in ("rnnlib RNN",)]
    device = torch.device("cpu")
    lines = layer_speed.report(device, [row("main", 1.0, 1.5, 0.8, 0.9)], growth, [], True, 3)
    table = "\n".join(lines)
    assert "| 1.50 (over) |" in table and "| 1.00 |" in table
    assert "Targets missed:" in table and "torch " + torch.__version__ in table


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    start, end = layer_speed.MARKERS
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{start}\nold table\n{end}\nafter\n")
    layer_speed.update_readme("new table\n", readme)
    assert readme.read_text() == f"before\n{start}\nnew table\n{end}\nafter\n"
    layer_speed.update_readme("newer\n", readme)
    assert readme.read_text() == f"before\n{start}\nnewer\n{end}\nafter\n"


def test_the_check_grid_is_not_the_tuning_grid():
    tuned = {tuple(shape[:3]) for shape in layer_speed.SHAPES}
    checked = {tuple(shape[:3]) for shape in layer_speed.CHECK_SHAPES}
    assert not tuned & checked
    for batch, hidden, steps, kind in layer_speed.CHECK_SHAPES:
        if kind == "main":
            assert 16 <= batch <= 64 and 32 <= hidden <= 128 and 30 <= steps <= 200
        else:
            assert 8 <= batch <= 16 and 24 <= hidden <= 32


@pytest.mark.parametrize("name", layer_speed.LAYERS)
def test_the_benchmark_compares_layers_with_the_same_weights(name):
    ours, theirs = layer_speed.layer_pair(name, 6, torch.device("cpu"))
    x = torch.randn(2, 5, layer_speed.INPUT_SIZE)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-6, rtol=1e-5)
