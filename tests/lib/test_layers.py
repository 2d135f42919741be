"""rnnlib's sequence layers equal torch.nn's, and ``unroll`` gives true per-step gradients.

* ``RecurrentLayer`` over each cell against a single-layer ``torch.nn.RNN`` / ``LSTM`` / ``GRU``
  (weights copied by hand here, so the layer is tested apart from ``from_torch``); the reversed
  layer against torch run on the time-flipped sequence.
* ``rnnlib.RNN`` / ``LSTM`` / ``GRU`` against torch.nn over every combination of num_layers 1-3,
  bidirectional, batch_first, bias and given initial state, copying weights both ways.
* The unroll contract: ``dJ/dh_t`` from one ``autograd.grad`` call equals separate calls, and
  the closed form ``(W_h^T)^(T-j) v`` for a linear RNN.
* GRU's update gate: ``u = 0`` keeps the state.
"""

from __future__ import annotations

import itertools
import random

import pytest
import torch
from layer_sweeps import layer_case_id, layer_cases
from torch import nn

from rnnlib import GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, RecurrentLayer, RNNCell

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}

#: rnnlib parameter name -> torch.nn parameter name (without the layer suffix)
TORCH_NAMES = {"W_x": "weight_ih", "W_h": "weight_hh", "b_x": "bias_ih", "b_h": "bias_hh"}

#: kind -> (rnnlib cell, torch.nn layer, keyword arguments of both)
LAYER_KINDS = {
    "rnn_tanh": (RNNCell, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, nn.LSTM, {}),
    "gru": (GRUCell, nn.GRU, {}),
}

#: kind -> (rnnlib network, torch.nn network)
NETWORK_KINDS = {"rnn": (RNN, nn.RNN), "lstm": (LSTM, nn.LSTM), "gru": (GRU, nn.GRU)}


# --- helpers ---------------------------------------------------------------------------------
def torch_layout(kind: str, tensor: torch.Tensor) -> torch.Tensor:
    """rnnlib layout <-> torch layout (its own inverse): GRU's update rows change sign,
    because the lecture's update gate is u = 1 - z = sigmoid(-a_z)."""
    if kind != "gru":
        return tensor
    hidden = tensor.shape[0] // 3
    signs = torch.ones(tensor.shape[0], dtype=tensor.dtype, device=tensor.device)
    signs[hidden : 2 * hidden] = -1.0
    return tensor * (signs[:, None] if tensor.dim() == 2 else signs)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    tolerance = TOLERANCE[expected.dtype]
    difference = (actual - expected).abs().max().item()
    assert difference <= tolerance, f"{what}: max |rnnlib - torch| = {difference:.3g} > {tolerance}"


def as_list(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple | list) else [state]


def random_linear_functional(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Random weights, one per tensor: J = sum_k <weights_k, tensors_k>."""
    return [torch.randn_like(t) for t in tensors]


def functional(weights: list[torch.Tensor], tensors: list[torch.Tensor]) -> torch.Tensor:
    return sum((w * t).sum() for w, t in zip(weights, tensors, strict=True))


# --- RecurrentLayer against single-layer torch.nn ------------------------------------------
LAYER_CASES = layer_cases(count=20, seed=1997, max_steps=7)


def run_layer_parity(kind: str, case: dict, dtype: torch.dtype, device: torch.device) -> None:
    cell_class, torch_class, kwargs = LAYER_KINDS[kind]
    torch.manual_seed(case["seed"])
    sizes = (case["input_size"], case["hidden_size"])
    reference = torch_class(
        *sizes, num_layers=1, bias=case["bias"], batch_first=case["batch_first"], **kwargs
    ).to(device, dtype)
    cell = cell_class(*sizes, bias=case["bias"], **kwargs).to(device, dtype)
    with torch.no_grad():  # copy by hand: the layer is tested apart from from_torch
        for name, parameter in cell.named_parameters():
            parameter.copy_(torch_layout(kind, getattr(reference, TORCH_NAMES[name] + "_l0")))
    layer = RecurrentLayer(cell, batch_first=case["batch_first"], reverse=case["reverse"])

    options = {"dtype": dtype, "device": device}
    batch, steps, hidden = case["batch"], case["steps"], case["hidden_size"]
    shape = (batch, steps, sizes[0]) if case["batch_first"] else (steps, batch, sizes[0])
    time_dim = 1 if case["batch_first"] else 0
    x = torch.randn(*shape, **options, requires_grad=True)
    states = []
    if case["given_state"]:
        count = 2 if kind == "lstm" else 1
        states = [torch.randn(batch, hidden, **options, requires_grad=True) for _ in range(count)]

    ours_state = None if not states else (tuple(states) if kind == "lstm" else states[0])
    ours_out, ours_final = layer(x, ours_state)

    reference_state = None
    if states:
        unsqueezed = [s.unsqueeze(0) for s in states]
        reference_state = tuple(unsqueezed) if kind == "lstm" else unsqueezed[0]
    # The reversed layer reads t = T..1: torch on the time-flipped sequence, flipped back.
    reference_x = x.flip(time_dim) if case["reverse"] else x
    reference_out, reference_final = reference(reference_x, reference_state)
    if case["reverse"]:
        reference_out = reference_out.flip(time_dim)
    reference_final = [s.squeeze(0) for s in as_list(reference_final)]

    assert_close(ours_out, reference_out, f"{kind} layer outputs")
    assert len(as_list(ours_final)) == len(reference_final), "final states differ in number"
    for name, a, b in zip("hc", as_list(ours_final), reference_final, strict=False):
        assert_close(a, b, f"{kind} layer final {name}")

    weights = random_linear_functional([ours_out, *reference_final])
    names = [n for n, _ in cell.named_parameters()]
    ours_grads = torch.autograd.grad(
        functional(weights, [ours_out, *as_list(ours_final)]),
        [x, *states, *(getattr(cell, n) for n in names)],
    )
    reference_grads = torch.autograd.grad(
        functional(weights, [reference_out, *reference_final]),
        [x, *states, *(getattr(reference, TORCH_NAMES[n] + "_l0") for n in names)],
    )
    labels = ["x", *("hc"[: len(states)]), *names]
    for label, a, b in zip(labels, ours_grads, reference_grads, strict=True):
        if label in TORCH_NAMES:
            a = torch_layout(kind, a)
        assert_close(a, b, f"{kind} layer dJ/d{label}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=layer_case_id)
@pytest.mark.parametrize("kind", list(LAYER_KINDS))
def test_recurrent_layer_equals_single_layer_torch_rnn(kind, case, dtype, device):
    run_layer_parity(kind, case, dtype, device)


# --- rnnlib.RNN / LSTM / GRU against torch.nn ----------------------------------------------
def network_cases(seed: int = 2013) -> list[dict]:
    """Every combination of num_layers 1-3, bidirectional, batch_first, bias and given initial
    state in float64 (48 cases), then 12 more in float32; sizes and the copy direction are
    seeded draws, with batch 1, hidden 1, input 1 and T = 1 forced in some cases."""
    rng = random.Random(seed)
    combos = list(itertools.product([1, 2, 3], [False, True], [True, False], [True, False],
                                    [False, True]))  # fmt: skip
    cases = []
    for index in range(len(combos) + 12):
        layers, bidirectional, batch_first, bias, given_state = combos[index % len(combos)]
        cases.append(
            {
                "num_layers": layers,
                "bidirectional": bidirectional,
                "batch_first": batch_first,
                "bias": bias,
                "given_state": given_state,
                "batch": 1 if index % 5 == 0 else rng.randint(2, 4),
                "steps": 1 if index % 7 == 3 else rng.randint(2, 5),
                "input_size": 1 if index % 6 == 1 else rng.randint(2, 5),
                "hidden_size": 1 if index % 8 == 2 else rng.randint(2, 6),
                "direction": ("from_torch", "to_torch")[(index // 2 + index // 48) % 2],
                "nonlinearity": rng.choice(["tanh", "relu"]),
                "dtype": torch.float64 if index < len(combos) else torch.float32,
                "seed": rng.randrange(2**31),
            }
        )
    return cases


def network_case_id(case: dict) -> str:
    return (
        f"L{case['num_layers']}-bi{int(case['bidirectional'])}-bf{int(case['batch_first'])}"
        f"-bias{int(case['bias'])}-state{int(case['given_state'])}"
        f"-B{case['batch']}-T{case['steps']}-I{case['input_size']}-H{case['hidden_size']}"
        f"-{case['direction']}-{str(case['dtype']).removeprefix('torch.')}"
    )


NETWORK_CASES = network_cases()


def cells_with_torch_suffix(network) -> list[tuple[nn.Module, str]]:
    """Each cell of an rnnlib network with torch's name suffix: l{k} and l{k}_reverse."""
    found = []
    for k, layer in enumerate(network.stack.layers):
        if isinstance(layer, Bidirectional):
            found.append((layer.forward_layer.cell, f"_l{k}"))
            found.append((layer.backward_layer.cell, f"_l{k}_reverse"))
        else:
            found.append((layer.cell, f"_l{k}"))
    return found


def parameter_pairs(network, reference) -> list[tuple[str, nn.Parameter, nn.Parameter]]:
    pairs = []
    for cell, suffix in cells_with_torch_suffix(network):
        for name, parameter in cell.named_parameters():
            torch_name = TORCH_NAMES[name] + suffix
            pairs.append((torch_name, parameter, getattr(reference, torch_name)))
    return pairs


def make_network_pair(kind: str, case: dict, device: torch.device):
    ours_class, torch_class = NETWORK_KINDS[kind]
    dtype = case["dtype"]
    torch.manual_seed(case["seed"])
    kwargs = {
        "num_layers": case["num_layers"],
        "bias": case["bias"],
        "batch_first": case["batch_first"],
        "bidirectional": case["bidirectional"],
    }
    if kind == "rnn":
        kwargs["nonlinearity"] = case["nonlinearity"]
    sizes = (case["input_size"], case["hidden_size"])
    if case["direction"] == "from_torch":
        reference = torch_class(*sizes, **kwargs).to(device, dtype)
        ours = ours_class.from_torch(reference)
    else:
        ours = ours_class(*sizes, **kwargs).to(device, dtype)
        reference = ours.to_torch()
    return ours, reference


def run_network_parity(kind: str, case: dict, device: torch.device) -> None:
    ours, reference = make_network_pair(kind, case, device)
    pairs = parameter_pairs(ours, reference)
    assert len(pairs) == sum(1 for _ in reference.parameters()), "parameter counts differ"
    for torch_name, parameter, copied in pairs:
        assert copied.dtype == parameter.dtype and copied.device == parameter.device
        assert torch.equal(torch_layout(kind, parameter.detach()), copied.detach()), (
            f"{torch_name} differs after {case['direction']}"
        )
    assert reference.batch_first == ours.batch_first == case["batch_first"]

    options = {"dtype": case["dtype"], "device": device}
    batch, steps, hidden = case["batch"], case["steps"], case["hidden_size"]
    shape = (batch, steps) if case["batch_first"] else (steps, batch)
    x = torch.randn(*shape, case["input_size"], **options, requires_grad=True)
    states = []
    if case["given_state"]:
        packed_shape = (case["num_layers"] * (2 if case["bidirectional"] else 1), batch, hidden)
        count = 2 if kind == "lstm" else 1
        states = [torch.randn(packed_shape, **options, requires_grad=True) for _ in range(count)]
    state = None if not states else (tuple(states) if kind == "lstm" else states[0])

    ours_out, ours_final = ours(x, state)
    reference_out, reference_final = reference(x, state)
    assert_close(ours_out, reference_out, f"{kind} network outputs")
    assert len(as_list(ours_final)) == len(as_list(reference_final)), "final states differ"
    for name, a, b in zip("hc", as_list(ours_final), as_list(reference_final), strict=False):
        assert_close(a, b, f"{kind} network final {name}_n")

    weights = random_linear_functional([reference_out, *as_list(reference_final)])
    ours_grads = torch.autograd.grad(
        functional(weights, [ours_out, *as_list(ours_final)]),
        [x, *states, *(p for _, p, _ in pairs)],
    )
    reference_grads = torch.autograd.grad(
        functional(weights, [reference_out, *as_list(reference_final)]),
        [x, *states, *(q for _, _, q in pairs)],
    )
    labels = ["x", *("h_0", "c_0")[: len(states)], *(n for n, _, _ in pairs)]
    for index, (label, a, b) in enumerate(zip(labels, ours_grads, reference_grads, strict=True)):
        if index > len(states):
            a = torch_layout(kind, a)
        assert_close(a, b, f"{kind} network dJ/d{label}")


@pytest.mark.parametrize("case", NETWORK_CASES, ids=network_case_id)
def test_rnnlib_rnn_equals_torch_rnn(case, device):
    run_network_parity("rnn", case, device)


@pytest.mark.parametrize("case", NETWORK_CASES, ids=network_case_id)
def test_rnnlib_lstm_equals_torch_lstm(case, device):
    run_network_parity("lstm", case, device)


@pytest.mark.parametrize("case", NETWORK_CASES, ids=network_case_id)
def test_rnnlib_gru_equals_torch_gru(case, device):
    run_network_parity("gru", case, device)


def test_sweeps_cover_edge_cases_and_both_copy_directions():
    for cases in (LAYER_CASES, NETWORK_CASES):
        assert len(cases) >= 20
        for size in ("batch", "steps", "input_size", "hidden_size"):
            assert any(c[size] == 1 for c in cases), f"no case with {size} = 1"
    float64 = [c for c in NETWORK_CASES if c["dtype"] == torch.float64]
    combos = {
        (c["num_layers"], c["bidirectional"], c["batch_first"], c["bias"], c["given_state"])
        for c in float64
    }
    assert len(combos) == 3 * 2 * 2 * 2 * 2, "not every flag combination is swept in float64"
    for dtype in (torch.float64, torch.float32):
        directions = {c["direction"] for c in NETWORK_CASES if c["dtype"] == dtype}
        assert directions == {"from_torch", "to_torch"}, f"{dtype}: {directions}"
    assert {c["reverse"] for c in LAYER_CASES} == {True, False}


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(NETWORK_KINDS))
def test_network_round_trip_through_torch_reproduces_parameters_exactly(kind, bidirectional):
    ours_class, torch_class = NETWORK_KINDS[kind]
    torch.manual_seed(3)
    kwargs = {"num_layers": 2, "bidirectional": bidirectional, "batch_first": False}
    ours = ours_class(3, 4, **kwargs).double()
    back = ours_class.from_torch(ours.to_torch())
    assert back.batch_first is False and back.bidirectional is bidirectional
    for (name, a), (_, b) in zip(ours.named_parameters(), back.named_parameters(), strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b), f"{name} changed: rnnlib->torch->rnnlib"

    reference = torch_class(3, 4, **kwargs).double()
    again = ours_class.from_torch(reference).to_torch()
    assert type(again) is torch_class
    for (name, a), (_, b) in zip(
        reference.named_parameters(), again.named_parameters(), strict=True
    ):
        assert a.dtype == b.dtype and torch.equal(a, b), f"{name} changed: torch->rnnlib->torch"


def test_rnn_network_copies_keep_the_nonlinearity():
    network = RNN.from_torch(nn.RNN(2, 3, nonlinearity="relu"))
    assert all(cell.nonlinearity == "relu" for cell, _ in cells_with_torch_suffix(network))
    assert network.to_torch().nonlinearity == "relu"


# --- the unroll contract ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(LAYER_KINDS))
def test_unroll_gradients_in_one_call_equal_separate_calls_per_step(kind):
    cell_class, _, kwargs = LAYER_KINDS[kind]
    torch.manual_seed(11)
    layer = RecurrentLayer(cell_class(3, 4, **kwargs).double())
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    states = layer.unroll(x)
    hiddens = [layer.cell.hidden(s) for s in states]
    assert len(hiddens) == 6
    outputs, _ = layer(x)
    assert torch.equal(torch.stack(hiddens, dim=1), outputs), "unroll's h_t differ from forward"

    weights = [torch.randn(2, 4, dtype=torch.float64) for _ in hiddens]
    J = sum((w * h).sum() for w, h in zip(weights, hiddens, strict=True))
    if kind == "lstm":
        J = J + states[-1][1].square().sum()  # the cell state enters J too
    all_at_once = torch.autograd.grad(J, hiddens, retain_graph=True)
    for t, h_t in enumerate(hiddens):
        (one_step,) = torch.autograd.grad(J, h_t, retain_graph=True)
        difference = (all_at_once[t] - one_step).abs().max().item()
        assert difference <= 1e-12, f"dJ/dh_{t + 1}: one call vs separate call differ {difference}"
    # dJ/dh_t is the total derivative: through later steps it differs from the direct term w_t.
    assert (all_at_once[0] - weights[0]).abs().max().item() > 1e-6, "dJ/dh_1 misses later steps"
    assert torch.equal(all_at_once[-1], weights[-1]), "dJ/dh_T should be the direct term w_T"


@pytest.mark.parametrize("steps", [1, 2, 7])
def test_unroll_gradient_of_linear_rnn_is_transposed_power_of_W_h(steps):
    """Linear RNN (sigma = identity, W_x = 0, no bias): h_t = W_h h_{t-1}, so for
    J = v . h_T the gradient is dJ/dh_j = (W_h^T)^(T - j) v."""
    torch.manual_seed(5)
    hidden = 5
    cell = RNNCell(3, hidden, bias=False, nonlinearity="identity").double()
    with torch.no_grad():
        cell.W_x.zero_()
        cell.W_h.copy_(torch.randn(hidden, hidden, dtype=torch.float64) / hidden**0.5)
    layer = RecurrentLayer(cell)
    batch = 3
    x = torch.randn(batch, steps, 3, dtype=torch.float64)
    h_0 = torch.randn(batch, hidden, dtype=torch.float64)
    states = layer.unroll(x, h_0)
    v = torch.randn(batch, hidden, dtype=torch.float64)
    J = (v * states[-1]).sum()
    gradients = torch.autograd.grad(J, states)
    W_h = cell.W_h.detach()
    for j, gradient in enumerate(gradients, start=1):
        # row-vector form of (W_h^T)^(T-j) v for each sequence in the batch
        expected = v @ torch.linalg.matrix_power(W_h, steps - j)
        difference = (gradient - expected).abs().max().item()
        assert difference <= 1e-12, f"dJ/dh_{j} differs from (W_h^T)^{steps - j} v by {difference}"


# --- GRU's update gate -----------------------------------------------------------------------
def forced_update_gate_gru(value: float) -> GRUCell:
    """A GRU whose update gate is sigmoid(+-100): weights of the update rows 0, bias +-100."""
    torch.manual_seed(13)
    cell = GRUCell(3, 4).double()
    update_rows = slice(4, 8)  # rows stack W_r, W_u, W_h
    with torch.no_grad():
        cell.W_x[update_rows] = 0.0
        cell.W_h[update_rows] = 0.0
        cell.b_x[update_rows] = value
        cell.b_h[update_rows] = 0.0
    return cell


def test_gru_update_gate_zero_keeps_state():
    cell = forced_update_gate_gru(-100.0)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h_0 = torch.randn(2, 4, dtype=torch.float64)
    states = RecurrentLayer(cell).unroll(x, h_0)
    gates = cell.gates(cell.input_projection(x[:, 0]), h_0)
    assert gates["update_gate"].max().item() < 1e-40, "the update gate is not forced to 0"
    previous = h_0
    for t, h_t in enumerate(states, start=1):
        assert torch.equal(h_t, previous), f"u = 0 should keep the state, but h_{t} != h_{t - 1}"
        previous = h_t


def test_gru_update_gate_one_replaces_state_with_new_content():
    cell = forced_update_gate_gru(100.0)
    x = torch.randn(2, 3, dtype=torch.float64)
    h_0 = torch.randn(2, 4, dtype=torch.float64)
    gates = cell.gates(cell.input_projection(x), h_0)
    difference = (cell(x, h_0) - gates["new_content"]).abs().max().item()
    assert difference <= 1e-15, f"u = 1 should give h_t = h~_t, off by {difference}"
