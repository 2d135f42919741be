"""rnnlib's cells equal torch.nn's cells: outputs, states and every gradient.

The reference is ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell``. Weights are copied both ways
(``from_torch`` and ``to_torch``) and compared after the copy; gradients are those of a random
linear functional of the new state, for every parameter, the input and the given state.
The only layout difference, GRU's update gate ``u = 1 - z`` (torch's ``z`` keeps the state, the
lecture's ``u = 0`` does), is written out here independently of rnnlib: those rows change sign.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from rnnlib import GRUCell, LSTMCell, RNNCell

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
DTYPES = [torch.float64, torch.float32]

#: kind -> (rnnlib cell class, torch.nn cell class, keyword arguments of both)
CELL_KINDS = {
    "rnn_tanh": (RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, nn.LSTMCell, {}),
    "gru": (GRUCell, nn.GRUCell, {}),
}

#: rnnlib parameter name -> torch.nn cell parameter name
TORCH_NAMES = {"W_x": "weight_ih", "W_h": "weight_hh", "b_x": "bias_ih", "b_h": "bias_hh"}


def cell_cases(count: int = 20, seed: int = 224) -> list[dict]:
    """A seeded sweep of shapes; the first cases are the edge cases batch = hidden = input = 1.

    Flags cycle so that every combination of bias, given state and copy direction appears.
    """
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        cases.append(
            {
                "batch": 1 if index % 3 == 0 else rng.randint(2, 6),
                "input_size": 1 if index % 5 == 0 else rng.randint(2, 7),
                "hidden_size": 1 if index % 4 == 0 else rng.randint(2, 8),
                "bias": index % 2 == 0,
                "given_state": (index // 2) % 2 == 0,
                "direction": ("from_torch", "to_torch")[(index // 4) % 2],
                "seed": rng.randrange(2**31),
            }
        )
    return cases


def case_id(case: dict) -> str:
    return (
        f"B{case['batch']}-I{case['input_size']}-H{case['hidden_size']}"
        f"-bias{int(case['bias'])}-state{int(case['given_state'])}-{case['direction']}"
    )


CASES = cell_cases()


def torch_layout(kind: str, name: str, tensor: torch.Tensor) -> torch.Tensor:
    """An rnnlib tensor in torch's layout: GRU's update rows (the middle third) change sign."""
    if kind != "gru":
        return tensor
    hidden = tensor.shape[0] // 3
    signs = torch.ones(tensor.shape[0], dtype=tensor.dtype, device=tensor.device)
    signs[hidden : 2 * hidden] = -1.0
    return tensor * (signs[:, None] if tensor.dim() == 2 else signs)


def max_abs_diff(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape, f"shapes differ: {actual.shape} vs {expected.shape}"
    return (actual - expected).abs().max().item()


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    tolerance = TOLERANCE[expected.dtype]
    difference = max_abs_diff(actual, expected)
    assert difference <= tolerance, f"{what}: max |rnnlib - torch| = {difference:.3g} > {tolerance}"


def make_pair(kind: str, case: dict, dtype: torch.dtype, device: torch.device):
    """(rnnlib cell, torch.nn cell) with equal weights, copied in ``case['direction']``."""
    ours_class, torch_class, kwargs = CELL_KINDS[kind]
    torch.manual_seed(case["seed"])
    sizes = (case["input_size"], case["hidden_size"])
    if case["direction"] == "from_torch":
        reference = torch_class(*sizes, bias=case["bias"], **kwargs).to(device, dtype)
        ours = ours_class.from_torch(reference)
    else:
        ours = ours_class(*sizes, bias=case["bias"], **kwargs).to(device, dtype)
        reference = ours.to_torch()
    return ours, reference


def assert_same_weights(kind: str, ours: nn.Module, reference: nn.Module) -> None:
    for name, parameter in ours.named_parameters():
        copied = getattr(reference, TORCH_NAMES[name])
        assert copied.dtype == parameter.dtype and copied.device == parameter.device, name
        assert torch.equal(torch_layout(kind, name, parameter.detach()), copied.detach()), (
            f"{name} differs from torch's {TORCH_NAMES[name]} after the copy"
        )
    ours_count = sum(1 for _ in ours.parameters())
    reference_count = sum(1 for _ in reference.parameters())
    assert ours_count == reference_count, f"{ours_count} parameters vs torch's {reference_count}"


def run_cell_parity(kind: str, case: dict, dtype: torch.dtype, device: torch.device) -> None:
    ours, reference = make_pair(kind, case, dtype, device)
    assert_same_weights(kind, ours, reference)
    is_lstm = kind == "lstm"
    batch, hidden = case["batch"], case["hidden_size"]
    options = {"dtype": dtype, "device": device}

    x = torch.randn(batch, case["input_size"], **options, requires_grad=True)
    state_inputs = []
    if case["given_state"]:
        state_inputs = [torch.randn(batch, hidden, **options, requires_grad=True)]
        if is_lstm:
            state_inputs.append(torch.randn(batch, hidden, **options, requires_grad=True))
    state = None
    if state_inputs:
        state = tuple(state_inputs) if is_lstm else state_inputs[0]

    ours_out = ours(x, state)
    reference_out = reference(x, state)
    ours_states = list(ours_out) if is_lstm else [ours_out]
    reference_states = list(reference_out) if is_lstm else [reference_out]
    for name, a, b in zip(("h", "c"), ours_states, reference_states, strict=False):
        assert_close(a, b, f"{kind} new state {name}")

    # J = sum of random weights times every new state entry: a random linear functional.
    weights = [torch.randn(batch, hidden, **options) for _ in ours_states]
    inputs = [x, *state_inputs]

    def gradients(states, module, names):
        J = sum((w * s).sum() for w, s in zip(weights, states, strict=True))
        parameters = [getattr(module, n) for n in names]
        return torch.autograd.grad(J, inputs + parameters)

    ours_names = [n for n, _ in ours.named_parameters()]
    ours_grads = gradients(ours_states, ours, ours_names)
    reference_grads = gradients(reference_states, reference, [TORCH_NAMES[n] for n in ours_names])
    labels = ["input x"] + [f"state {n}" for n in ("h", "c")[: len(state_inputs)]] + ours_names
    for label, a, b in zip(labels, ours_grads, reference_grads, strict=True):
        if label in TORCH_NAMES:
            a = torch_layout(kind, label, a)
        assert_close(a, b, f"{kind} dJ/d{label}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rnn_tanh_cell_equals_torch_rnn_cell(case, dtype, device):
    run_cell_parity("rnn_tanh", case, dtype, device)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rnn_relu_cell_equals_torch_rnn_cell(case, dtype, device):
    run_cell_parity("rnn_relu", case, dtype, device)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_lstm_cell_equals_torch_lstm_cell(case, dtype, device):
    run_cell_parity("lstm", case, dtype, device)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gru_cell_equals_torch_gru_cell(case, dtype, device):
    run_cell_parity("gru", case, dtype, device)


def test_cell_sweep_covers_edge_cases_and_both_copy_directions():
    assert any(c["batch"] == 1 for c in CASES)
    assert any(c["hidden_size"] == 1 for c in CASES)
    assert any(c["input_size"] == 1 for c in CASES)
    assert {c["direction"] for c in CASES} == {"from_torch", "to_torch"}
    assert {(c["bias"], c["given_state"]) for c in CASES} == {
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    }
    assert len(CASES) >= 20


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", list(CELL_KINDS))
def test_cell_round_trip_through_torch_reproduces_parameters_exactly(kind, bias, device):
    ours_class, torch_class, kwargs = CELL_KINDS[kind]
    torch.manual_seed(7)
    ours = ours_class(3, 5, bias=bias, **kwargs).to(device, torch.float64)
    back = ours_class.from_torch(ours.to_torch())
    assert type(back) is type(ours)
    for (name, a), (_, b) in zip(ours.named_parameters(), back.named_parameters(), strict=True):
        assert b.dtype == a.dtype and b.device == a.device, name
        assert torch.equal(a, b), f"{kind}: {name} changed in rnnlib -> torch -> rnnlib"

    reference = torch_class(3, 5, bias=bias, **kwargs).to(device, torch.float64)
    again = ours_class.from_torch(reference).to_torch()
    assert type(again) is torch_class
    for (name, a), (_, b) in zip(
        reference.named_parameters(), again.named_parameters(), strict=True
    ):
        assert torch.equal(a, b), f"{kind}: {name} changed in torch -> rnnlib -> torch"


def test_rnn_cell_from_torch_keeps_the_nonlinearity():
    for nonlinearity in ("tanh", "relu"):
        cell = RNNCell.from_torch(nn.RNNCell(2, 3, nonlinearity=nonlinearity))
        assert cell.nonlinearity == nonlinearity
        assert cell.to_torch().nonlinearity == nonlinearity


@pytest.mark.parametrize("kind", list(CELL_KINDS))
def test_cell_default_state_is_zero(kind):
    ours_class, _, kwargs = CELL_KINDS[kind]
    torch.manual_seed(0)
    cell = ours_class(3, 4, **kwargs).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    zeros = torch.zeros(2, 4, dtype=torch.float64)
    given = (zeros, zeros.clone()) if kind == "lstm" else zeros
    default_out, given_out = cell(x), cell(x, given)
    for a, b in zip(
        default_out if kind == "lstm" else [default_out],
        given_out if kind == "lstm" else [given_out],
        strict=True,
    ):
        assert torch.equal(a, b), f"{kind}: state=None differs from an explicit zero state"


def test_lstm_cell_follows_the_lecture_equations():
    """c_t = f_t * c_{t-1} + i_t * c~_t and h_t = o_t * tanh(c_t), gates in torch's i, f, g, o."""
    torch.manual_seed(1)
    cell = LSTMCell(3, 4).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    h, c = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    a = x @ cell.W_x.T + cell.b_x + h @ cell.W_h.T + cell.b_h
    i, f, g, o = a[:, :4].sigmoid(), a[:, 4:8].sigmoid(), a[:, 8:12].tanh(), a[:, 12:].sigmoid()
    c_expected = f * c + i * g
    h_expected = o * c_expected.tanh()
    h_t, c_t = cell(x, (h, c))
    assert max_abs_diff(c_t, c_expected) <= 1e-12
    assert max_abs_diff(h_t, h_expected) <= 1e-12
    gates = cell.gates(cell.input_projection(x), h)
    assert max_abs_diff(gates["forget_gate"], f) <= 1e-12
    assert max_abs_diff(gates["input_gate"], i) <= 1e-12
    assert max_abs_diff(gates["output_gate"], o) <= 1e-12
    assert max_abs_diff(gates["new_content"], g) <= 1e-12


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "identity"])
def test_rnn_cell_without_torch_counterpart_follows_its_equation(nonlinearity):
    """h_t = sigma(W_h h_{t-1} + W_x x_t + b) for the two nonlinearities torch lacks."""
    torch.manual_seed(2)
    cell = RNNCell(3, 4, nonlinearity=nonlinearity).double()
    x, h = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    z = h @ cell.W_h.T + x @ cell.W_x.T + cell.b_x + cell.b_h
    expected = torch.sigmoid(z) if nonlinearity == "sigmoid" else z
    assert max_abs_diff(cell(x, h), expected) <= 1e-12
