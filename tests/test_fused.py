"""The fused LSTM (``rnnlib.fused``) equals the per-step autograd path it replaces for speed.

* ``RecurrentLayer(LSTMCell)`` (fused) against ``unroll`` + ``stack`` (one autograd node per
  operation of every step): outputs, final state and every gradient (W_x, W_h, b_x, b_h, x,
  h_0, c_0) to 1e-10 in float64, over a sweep with batch 1, hidden 1, T 1, reverse,
  batch_first False, no bias and given initial states; also on CUDA (marked ``cuda``).
* ``torch.autograd.gradcheck`` of the hand-written backward on tiny cases.
* Routing: which layers run the fused path, and which keep the per-step graph.
* Cost linear in T, without timing: the elements written by all operations of a forward and
  backward pass (RNN, LSTM, GRU layers, and ``state_gradients``) grow at most ~4x when T does.
"""

from __future__ import annotations

import pytest
import torch
from layer_sweeps import layer_case_id, layer_cases
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import rnnlib
from rnnlib import GRUCell, LSTMCell, RecurrentLayer, RNNCell
from rnnlib.fused import lstm_sequence
from rnnlib.gradients import state_gradients

TOLERANCE = 1e-10  # float64


# --- fused layer against the per-step path ---------------------------------------------------
CASES = layer_cases(count=24, seed=2024, max_steps=9)


def per_step_forward(layer: RecurrentLayer, x, state):
    """The reference: ``unroll`` (the per-step autograd graph) stacked like ``forward``."""
    states = layer.unroll(x, state)
    outputs = torch.stack([h for h, _ in states], dim=1 if layer.batch_first else 0)
    return outputs, states[0] if layer.reverse else states[-1]


def assert_close(actual, expected, what: str, tolerance: float = TOLERANCE) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    difference = (actual - expected).abs().max().item()
    assert difference <= tolerance, f"{what}: fused and per-step differ by {difference:.3g}"


def check_fused_equals_per_step(case: dict, device, dtype=torch.float64, tolerance=TOLERANCE):
    torch.manual_seed(case["seed"])
    options = {"dtype": dtype, "device": device}
    cell = LSTMCell(case["input_size"], case["hidden_size"], bias=case["bias"]).to(**options)
    layer = RecurrentLayer(cell, batch_first=case["batch_first"], reverse=case["reverse"])
    batch, steps, hidden = case["batch"], case["steps"], case["hidden_size"]
    shape = (batch, steps) if case["batch_first"] else (steps, batch)
    x = torch.randn(*shape, case["input_size"], **options, requires_grad=True)
    state, initial = None, []
    if case["given_state"]:
        initial = [torch.randn(batch, hidden, **options, requires_grad=True) for _ in "hc"]
        state = tuple(initial)

    fused_out, fused_final = layer(x, state)
    assert fused_out.grad_fn.name() == "LSTMSequenceBackward", "forward is not the fused path"
    reference_out, reference_final = per_step_forward(layer, x, state)
    assert_close(fused_out, reference_out, "outputs", tolerance)
    for name, a, b in zip("hc", fused_final, reference_final, strict=True):
        assert_close(a, b, f"final {name}", tolerance)

    # J = <w, outputs> + <w_h, h_final> + <w_c, c_final>: the gradients of outputs and of the
    # final state both enter, as in a model that reads h_T and carries the state on.
    weights = [torch.randn_like(t) for t in [fused_out, *fused_final]]
    inputs = [x, *initial, *cell.parameters()]
    names = ["x", *("h_0", "c_0")[: len(initial)], *(n for n, _ in cell.named_parameters())]
    gradients = {}
    for path, tensors in (("fused", [fused_out, *fused_final]), ("per-step", None)):
        if tensors is None:
            tensors = [reference_out, *reference_final]
        J = sum((w * t).sum() for w, t in zip(weights, tensors, strict=True))
        gradients[path] = torch.autograd.grad(J, inputs)
    for name, a, b in zip(names, gradients["fused"], gradients["per-step"], strict=True):
        assert_close(a, b, f"dJ/d{name}", tolerance)


@pytest.mark.parametrize("case", CASES, ids=layer_case_id)
def test_fused_lstm_layer_equals_per_step_unroll(case):
    check_fused_equals_per_step(case, torch.device("cpu"))


def test_fused_sweep_covers_edge_cases():
    assert {c["batch"] for c in CASES} >= {1} and len({c["batch"] for c in CASES}) > 2
    assert 1 in {c["steps"] for c in CASES} and 1 in {c["hidden_size"] for c in CASES}
    assert 1 in {c["input_size"] for c in CASES}
    flags = {(c["bias"], c["batch_first"], c["given_state"], c["reverse"]) for c in CASES}
    assert len(flags) == 16, "every combination of bias, batch_first, state and reverse"


def test_fused_lstm_spans_several_cache_blocks_of_the_backward_pass(monkeypatch):
    """With a tiny block size the backward pass prepares its factors in many blocks, some of
    them partial; the gradients must not change."""
    monkeypatch.setattr(rnnlib.fused, "BLOCK_BYTES", 1)  # one step per block
    for reverse in (False, True):
        case = dict(CASES[5], steps=7, reverse=reverse, given_state=True)
        check_fused_equals_per_step(case, torch.device("cpu"))
    monkeypatch.setattr(rnnlib.fused, "BLOCK_BYTES", 3 * 11 * 8 * 4 * 4)  # 3 steps of B4 H4
    case = {**CASES[6], "batch": 4, "hidden_size": 4, "steps": 8, "given_state": True}
    check_fused_equals_per_step(case, torch.device("cpu"))


@pytest.mark.cuda
@pytest.mark.parametrize("case", CASES[:8], ids=layer_case_id)
def test_fused_lstm_layer_equals_per_step_unroll_on_cuda(case):
    check_fused_equals_per_step(case, torch.device("cuda"))
    check_fused_equals_per_step(case, torch.device("cuda"), torch.float32, tolerance=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_lstm_runs_in_lower_precision(dtype):
    tolerance = {torch.float32: 1e-5, torch.bfloat16: 5e-2}[dtype]
    check_fused_equals_per_step(CASES[7], torch.device("cpu"), dtype, tolerance)


def test_fused_lstm_runs_under_autocast():
    """Under autocast the per-step path keeps h and c in the weights' dtype (float32), so
    layers stack; the fused layer gives the same dtypes and values close to the per-step ones
    (whose gates pass through bfloat16)."""
    torch.manual_seed(8)
    network = rnnlib.LSTM(3, 4, num_layers=2)
    layer = network.stack.layers[0]
    x = torch.randn(2, 6, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs, (h, c) = network(x)
        fused, (_, fused_c) = layer(x)
        per_step, (_, per_step_c) = per_step_forward(layer, x, None)
    assert outputs.dtype == fused.dtype == fused_c.dtype == per_step_c.dtype == torch.float32
    assert (fused - per_step).abs().max().item() < 5e-2
    (outputs.sum() + c.sum()).backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in network.parameters())


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_fused_lstm_backward_passes_gradcheck(reverse, batch_first):
    torch.manual_seed(3)
    steps, batch, hidden = 4, 2, 3
    options = {"dtype": torch.float64, "requires_grad": True}
    inputs = (
        torch.randn(steps, batch, 4 * hidden, **options),  # x_projected
        torch.randn(batch, hidden, **options),  # h_0
        torch.randn(batch, hidden, **options),  # c_0
        torch.randn(4 * hidden, hidden, **options) / hidden**0.5,  # W_h
    )
    assert torch.autograd.gradcheck(
        lambda *a: lstm_sequence(*a, reverse=reverse, batch_first=batch_first), inputs
    )


def test_fused_lstm_backward_can_run_twice_with_retain_graph():
    """The backward pass must not overwrite what the forward pass saved."""
    torch.manual_seed(4)
    layer = RecurrentLayer(LSTMCell(3, 4).double())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    outputs, (h, c) = layer(x)
    J = outputs.square().sum() + c.sum()
    first = torch.autograd.grad(J, list(layer.parameters()), retain_graph=True)
    second = torch.autograd.grad(J, list(layer.parameters()))
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_fused_lstm_outputs_may_be_modified_in_place():
    """The outputs are fresh tensors, as from the per-step path's stack: modifying them in place
    (an in-place activation after the layer) leaves the backward pass intact."""
    torch.manual_seed(5)
    layer = RecurrentLayer(LSTMCell(3, 4).double())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    outputs, (h, c) = layer(x)
    reference_out, _ = per_step_forward(layer, x, None)
    outputs.relu_(), h.mul_(2), c.zero_()
    reference_out.relu_()
    fused = torch.autograd.grad(outputs.sum(), layer.cell.W_h)
    reference = torch.autograd.grad(reference_out.sum(), layer.cell.W_h)
    assert_close(fused[0], reference[0], "dJ/dW_h after in-place relu")


def test_fused_lstm_forward_without_gradients_equals_forward_with():
    torch.manual_seed(6)
    layer = RecurrentLayer(LSTMCell(3, 4), reverse=True)
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        outputs, (h, c) = layer(x)
    assert not outputs.requires_grad
    expected, (expected_h, expected_c) = layer(x)
    assert torch.equal(outputs, expected) and torch.equal(h, expected_h)
    assert torch.equal(c, expected_c)


def test_lstm_sequence_leaves_its_input_alone_unless_allowed():
    torch.manual_seed(7)
    x_projected = torch.randn(5, 2, 12, dtype=torch.float64)
    h_0, c_0 = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64)
    W_h = torch.randn(12, 3, dtype=torch.float64)
    copy = x_projected.clone()
    expected = lstm_sequence(x_projected, h_0, c_0, W_h)
    assert torch.equal(x_projected, copy), "lstm_sequence modified its input"
    overwritten = lstm_sequence(x_projected, h_0, c_0, W_h, overwrite_input=True)
    for a, b in zip(expected, overwritten, strict=True):
        assert torch.equal(a, b)


def test_fused_lstm_with_a_projection_that_saves_its_output():
    """A subclass whose input projection saves its result for the backward pass (here tanh)
    must not have that result overwritten by the fused layer."""

    class SquashedInputLSTM(LSTMCell):
        def input_projection(self, x):
            return torch.tanh(super().input_projection(x))

    torch.manual_seed(9)
    layer = RecurrentLayer(SquashedInputLSTM(3, 4).double())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    fused, _ = layer(x)
    reference, _ = per_step_forward(layer, x, None)
    assert_close(fused, reference, "outputs")
    gradients = [torch.autograd.grad(out.sum(), layer.cell.W_x)[0] for out in (fused, reference)]
    assert_close(*gradients, "dJ/dW_x")


# --- which paths are fused ------------------------------------------------------------------
def autograd_node_names(tensor: torch.Tensor) -> set[str]:
    names, stack, seen = set(), [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(node.name())
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def test_every_lstm_wrapper_runs_the_fused_layer():
    x = torch.randn(2, 5, 3)
    modules = {
        "RecurrentLayer": RecurrentLayer(LSTMCell(3, 4)),
        "reversed, time first": RecurrentLayer(LSTMCell(3, 4), batch_first=False, reverse=True),
        "LSTM": rnnlib.LSTM(3, 4, num_layers=2, bidirectional=True),
        "SequenceModel": rnnlib.models.SequenceModel(LSTMCell(3, 4), 2),
    }
    for name, module in modules.items():
        outputs = module(x)
        outputs = outputs[0] if isinstance(outputs, tuple) else outputs
        nodes = autograd_node_names(outputs)
        assert "LSTMSequenceBackward" in nodes, f"{name} does not use the fused LSTM"
        assert "SigmoidBackward0" not in nodes, f"{name} still records per-step nodes"


def test_unroll_and_other_cells_keep_the_per_step_graph():
    x = torch.randn(2, 5, 3)
    states = RecurrentLayer(LSTMCell(3, 4)).unroll(x)
    assert "LSTMSequenceBackward" not in autograd_node_names(states[-1][0])
    for cell in (RNNCell(3, 4), GRUCell(3, 4)):
        assert "LSTMSequenceBackward" not in autograd_node_names(RecurrentLayer(cell)(x)[0])

    class PeepholeLSTM(LSTMCell):  # a subclass with other step equations
        def step(self, x_projected, state):
            h, c = super().step(x_projected, state)
            return h, 0.5 * c

    outputs, _ = RecurrentLayer(PeepholeLSTM(3, 4))(x)
    assert "LSTMSequenceBackward" not in autograd_node_names(outputs)


# --- cost linear in T, counted, not timed ----------------------------------------------------
class ElementsWritten(TorchDispatchMode):
    """Counts the elements of every tensor that an ATen operation produces (views excluded):
    the memory traffic of a computation, independent of the machine and its load."""

    def __init__(self):
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if not func.is_view:
            for leaf in pytree.tree_leaves(result):
                if isinstance(leaf, torch.Tensor):
                    self.elements += leaf.numel()
        return result


def elements_written(run, steps: int) -> int:
    torch.manual_seed(0)
    with ElementsWritten() as counter:
        run(steps)
    return counter.elements


def layer_forward_backward(cell_class):
    def run(steps: int) -> None:
        layer = RecurrentLayer(cell_class(3, 4).double())
        x = torch.randn(2, steps, 3, dtype=torch.float64, requires_grad=True)
        outputs, _ = layer(x)
        outputs.sum().backward()

    return run


def lstm_unroll_backward(steps: int) -> None:
    """The LSTM's per-step path (what the instruments and chapters use), to every gradient."""
    layer = RecurrentLayer(LSTMCell(3, 4).double())
    x = torch.randn(2, steps, 3, dtype=torch.float64, requires_grad=True)
    sum(h.sum() for h, _ in layer.unroll(x)).backward()


def state_gradients_of(cell_class):
    def run(steps: int) -> None:
        layer = RecurrentLayer(cell_class(3, 4).double())
        x = torch.randn(2, steps, 3, dtype=torch.float64)
        state_gradients(layer, x, lambda h: h.sum(-1))

    return run


GROWTH_RUNS = {}
for _cell in (RNNCell, LSTMCell, GRUCell):
    GROWTH_RUNS[f"{_cell.__name__} layer"] = layer_forward_backward(_cell)
    GROWTH_RUNS[f"state_gradients {_cell.__name__}"] = state_gradients_of(_cell)
GROWTH_RUNS["LSTMCell unroll"] = lstm_unroll_backward


@pytest.mark.parametrize("what", list(GROWTH_RUNS))
def test_cost_of_forward_and_backward_grows_linearly_in_T(what):
    """T -> 4T multiplies the elements written by at most 4.5 (linear cost; the constant part
    keeps it under 4). A backward pass that allocates a (T, ...) gradient per step, as indexing
    ``x_projected[t]`` inside ``unroll``'s loop did, is quadratic: about 12 for the RNN and GRU
    layers and the LSTM's ``unroll``. (``state_gradients`` asks autograd only for dJ/dh_t, so
    it never reaches that branch; its test guards its own cost.)"""
    short, long = (elements_written(GROWTH_RUNS[what], steps) for steps in (16, 64))
    assert long / short <= 4.5, f"{what}: T 16 -> 64 multiplies the work by {long / short:.1f}"
