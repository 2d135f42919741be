"""The fused LSTM and GRU (``rnnlib.fused``) equal the per-step autograd path they replace.

* ``RecurrentLayer(LSTMCell)`` and ``RecurrentLayer(GRUCell)`` (fused) against ``unroll`` +
  ``stack`` (one autograd node per operation of every step): outputs, final state and every
  gradient (W_x, W_h, b_x, b_h, x, h_0, c_0) to 1e-10 in float64, over a sweep with batch 1,
  hidden 1, T 1, reverse, batch_first False, no bias and given initial states; also on CUDA
  (marked ``cuda``).
* ``torch.autograd.gradcheck`` of the hand-written backward on tiny cases; the fused GRU
  against ``torch.nn.GRU`` (forward and weight gradients, float64).
* Routing: which layers run the fused path, and which keep the per-step graph.
* Cost linear in T, without timing: the elements written by all operations of a forward and
  backward pass (RNN, LSTM, GRU layers, and ``state_gradients``) grow at most ~4x when T does.
"""

from __future__ import annotations

import pytest
import torch
from autograd_graph import autograd_node_names
from layer_sweeps import layer_case_id, layer_cases
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import rnnlib
from rnnlib import GRUCell, LSTMCell, RecurrentLayer, RNNCell
from rnnlib.fused import gru_sequence, lstm_sequence
from rnnlib.gradients import state_gradients

TOLERANCE = 1e-10  # float64


# --- fused layer against the per-step path ---------------------------------------------------
CASES = layer_cases(count=24, seed=2024, max_steps=9)


#: the autograd node of each fused kernel
FUSED_NODES = {LSTMCell: "LSTMSequenceBackward", GRUCell: "GRUSequenceBackward"}


def state_tensors(state) -> list[torch.Tensor]:
    """``[h]`` of a GRU state, ``[h, c]`` of an LSTM state."""
    return list(state) if isinstance(state, tuple) else [state]


def per_step_forward(layer: RecurrentLayer, x, state):
    """The reference: ``unroll`` (the per-step autograd graph) stacked like ``forward``."""
    states = layer.unroll(x, state)
    hidden = [layer.cell.hidden(s) for s in states]
    outputs = torch.stack(hidden, dim=1 if layer.batch_first else 0)
    return outputs, states[0] if layer.reverse else states[-1]


def assert_close(actual, expected, what: str, tolerance: float = TOLERANCE) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    difference = (actual - expected).abs().max().item()
    assert difference <= tolerance, f"{what}: fused and per-step differ by {difference:.3g}"


def check_fused_equals_per_step(
    case: dict, device, dtype=torch.float64, tolerance=TOLERANCE, cell_class=LSTMCell
):
    torch.manual_seed(case["seed"])
    options = {"dtype": dtype, "device": device}
    cell = cell_class(case["input_size"], case["hidden_size"], bias=case["bias"]).to(**options)
    layer = RecurrentLayer(cell, batch_first=case["batch_first"], reverse=case["reverse"])
    batch, steps, hidden = case["batch"], case["steps"], case["hidden_size"]
    shape = (batch, steps) if case["batch_first"] else (steps, batch)
    x = torch.randn(*shape, case["input_size"], **options, requires_grad=True)
    state, initial = None, []
    state_names = "hc" if cell_class is LSTMCell else "h"
    if case["given_state"]:
        initial = [torch.randn(batch, hidden, **options, requires_grad=True) for _ in state_names]
        state = tuple(initial) if cell_class is LSTMCell else initial[0]

    fused_out, fused_final = layer(x, state)
    node = FUSED_NODES[cell_class]
    assert fused_out.grad_fn.name() == node, "forward is not the fused path"
    reference_out, reference_final = per_step_forward(layer, x, state)
    assert_close(fused_out, reference_out, "outputs", tolerance)
    fused_final, reference_final = state_tensors(fused_final), state_tensors(reference_final)
    for name, a, b in zip(state_names, fused_final, reference_final, strict=True):
        assert_close(a, b, f"final {name}", tolerance)

    # J = <w, outputs> + <w_h, h_final> (+ <w_c, c_final>): the gradients of outputs and of the
    # final state both enter, as in a model that reads h_T and carries the state on.
    weights = [torch.randn_like(t) for t in [fused_out, *fused_final]]
    inputs = [x, *initial, *cell.parameters()]
    names = ["x", *[f"{n}_0" for n in state_names][: len(initial)]]
    names += [n for n, _ in cell.named_parameters()]
    gradients = {}
    for path, tensors in (
        ("fused", [fused_out, *fused_final]),
        ("per-step", [reference_out, *reference_final]),
    ):
        J = sum((w * t).sum() for w, t in zip(weights, tensors, strict=True))
        gradients[path] = torch.autograd.grad(J, inputs)
    for name, a, b in zip(names, gradients["fused"], gradients["per-step"], strict=True):
        assert_close(a, b, f"dJ/d{name}", tolerance)


@pytest.mark.parametrize("case", CASES, ids=layer_case_id)
def test_fused_lstm_layer_equals_per_step_unroll(case):
    check_fused_equals_per_step(case, torch.device("cpu"))


@pytest.mark.parametrize("case", CASES, ids=layer_case_id)
def test_fused_gru_layer_equals_per_step_unroll(case):
    check_fused_equals_per_step(case, torch.device("cpu"), cell_class=GRUCell)


def test_fused_sweep_covers_edge_cases():
    assert {c["batch"] for c in CASES} >= {1} and len({c["batch"] for c in CASES}) > 2
    assert 1 in {c["steps"] for c in CASES} and 1 in {c["hidden_size"] for c in CASES}
    assert 1 in {c["input_size"] for c in CASES}
    flags = {(c["bias"], c["batch_first"], c["given_state"], c["reverse"]) for c in CASES}
    assert len(flags) == 16, "every combination of bias, batch_first, state and reverse"


def test_fused_lstm_spans_several_cache_blocks_of_the_backward_pass(monkeypatch):
    """With a tiny block size the backward pass prepares its factors in many blocks, some of
    them partial; the gradients must not change."""
    for cell_class in (LSTMCell, GRUCell):
        monkeypatch.setattr(rnnlib.fused, "BLOCK_BYTES", 1)  # one step per block
        for reverse in (False, True):
            case = dict(CASES[5], steps=7, reverse=reverse, given_state=True)
            check_fused_equals_per_step(case, torch.device("cpu"), cell_class=cell_class)
        # 3 steps of B4 H4 per block: 11 (LSTM) or 14 (GRU) float64 tensors of 4 x 4 per step
        per_step = {LSTMCell: 11, GRUCell: 14}[cell_class] * 8 * 4 * 4
        monkeypatch.setattr(rnnlib.fused, "BLOCK_BYTES", 3 * per_step)
        case = {**CASES[6], "batch": 4, "hidden_size": 4, "steps": 8, "given_state": True}
        check_fused_equals_per_step(case, torch.device("cpu"), cell_class=cell_class)


@pytest.mark.cuda
@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell])
@pytest.mark.parametrize("case", CASES[:8], ids=layer_case_id)
def test_fused_layer_equals_per_step_unroll_on_cuda(case, cell_class):
    cuda = torch.device("cuda")
    check_fused_equals_per_step(case, cuda, cell_class=cell_class)
    check_fused_equals_per_step(case, cuda, torch.float32, tolerance=1e-5, cell_class=cell_class)


@pytest.mark.parametrize(
    ("dtype", "cell_class"),
    [(torch.float32, LSTMCell), (torch.float32, GRUCell), (torch.bfloat16, LSTMCell)],
)
def test_fused_layer_runs_in_lower_precision(dtype, cell_class):
    tolerance = {torch.float32: 1e-5, torch.bfloat16: 5e-2}[dtype]
    check_fused_equals_per_step(CASES[7], torch.device("cpu"), dtype, tolerance, cell_class)


@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell])
def test_fused_layer_in_bfloat16_is_as_accurate_as_per_step(cell_class):
    """In bfloat16 the two paths round differently (the GRU's gradients, of size ~20, differ
    by a few units in the last place), so both are compared with the float64 result: the fused
    layer's error must not exceed the per-step path's by more than one bfloat16 rounding."""
    torch.manual_seed(12)
    reference = RecurrentLayer(cell_class(3, 6).double())
    x = torch.randn(4, 12, 3, dtype=torch.float64)
    layer = RecurrentLayer(cell_class(3, 6).to(torch.bfloat16))
    layer.load_state_dict(reference.state_dict())
    expected = torch.autograd.grad(reference(x)[0].sum(), reference.cell.W_h)[0]
    errors = {}
    for path, run in (("fused", layer), ("per-step", lambda x: per_step_forward(layer, x, None))):
        outputs = run(x.to(torch.bfloat16))[0]
        assert (outputs.grad_fn.name() in FUSED_NODES.values()) == (path == "fused")
        gradient = torch.autograd.grad(outputs.float().sum(), layer.cell.W_h)[0]
        errors[path] = (gradient.double() - expected).abs().max().item()
    ulp = expected.abs().max().item() * 2**-8
    assert errors["fused"] <= errors["per-step"] + ulp, errors


@pytest.mark.parametrize("network_class", [rnnlib.LSTM, rnnlib.GRU])
def test_fused_layer_runs_under_autocast(network_class):
    """Under autocast the fused layer keeps the state in the weights' dtype (float32), as the
    LSTM's per-step path does, so layers stack; its outputs are close to those without
    autocast (the input projection passes through bfloat16)."""
    torch.manual_seed(8)
    network = network_class(3, 4, num_layers=2)
    layer = network.stack.layers[0]
    x = torch.randn(2, 6, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs, final = network(x)
        fused, fused_final = layer(x)
    dtypes = {t.dtype for t in [outputs, fused, *state_tensors(fused_final)]}
    assert dtypes == {torch.float32}
    assert (fused - per_step_forward(layer, x, None)[0]).abs().max().item() < 5e-2
    (outputs.sum() + state_tensors(final)[-1].sum()).backward()
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


@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_outputs_equal_the_per_step_outputs_to_the_bit(cell_class, dtype):
    """Shapes whose rows are not a whole number of the CPU's vector lengths: ATen's vectorised
    sigmoid, tanh and lerp round their tail elements differently, so the kernels must lay out
    every transcendental operation as the cells do."""
    torch.manual_seed(13)
    for batch, hidden, reverse in [(4, 16, False), (3, 5, True), (4, 4, False), (1, 24, True)]:
        layer = RecurrentLayer(cell_class(3, hidden).to(dtype), reverse=reverse)
        x = torch.randn(batch, 11, 3, dtype=dtype)
        outputs, final = layer(x)
        reference, reference_final = per_step_forward(layer, x, None)
        assert torch.equal(outputs, reference), (batch, hidden, reverse)
        for a, b in zip(state_tensors(final), state_tensors(reference_final), strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_fused_gru_backward_passes_gradcheck(reverse, batch_first, bias):
    torch.manual_seed(3)
    steps, batch, hidden = 4, 2, 3
    options = {"dtype": torch.float64, "requires_grad": True}
    inputs = (
        torch.randn(steps, batch, 3 * hidden, **options),  # x_projected
        torch.randn(batch, hidden, **options),  # h_0
        torch.randn(3 * hidden, hidden, **options) / hidden**0.5,  # W_h
        torch.randn(3 * hidden, **options) if bias else None,  # b_h
    )
    assert torch.autograd.gradcheck(
        lambda *a: gru_sequence(*a, reverse=reverse, batch_first=batch_first), inputs
    )


@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_gru_equals_torch_nn_gru_forward_and_gradients(bidirectional):
    """rnnlib.GRU built from a torch.nn.GRU (whose z is our 1 - u) runs the fused kernel and
    gives torch's outputs, final state and weight gradients, in float64."""
    torch.manual_seed(11)
    theirs = torch.nn.GRU(3, 5, num_layers=2, batch_first=True, bidirectional=bidirectional)
    theirs = theirs.double()
    ours = rnnlib.GRU.from_torch(theirs)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    h_0 = torch.randn(2 * (1 + bidirectional), 4, 5, dtype=torch.float64)
    (out, h_n), (expected_out, expected_h_n) = ours(x, h_0), theirs(x, h_0)
    assert "GRUSequenceBackward" in autograd_node_names(out)
    assert_close(out, expected_out, "outputs")
    assert_close(h_n, expected_h_n, "h_n")
    w, w_h = torch.randn_like(out), torch.randn_like(h_n)
    ((w * out).sum() + (w_h * h_n).sum()).backward()
    ((w * expected_out).sum() + (w_h * expected_h_n).sum()).backward()
    # torch's gradients with the rows of z (r, z, n: the middle block) negated, as our
    # u = sigmoid(-a_z) has them
    signs = torch.ones(15, dtype=torch.float64)
    signs[5:10] = -1.0
    for cell, weights in zip(ours.cells(), theirs.all_weights, strict=True):
        names = ("W_x", "W_h", "b_x", "b_h")
        for name, ours_parameter, theirs_parameter in zip(
            names, cell.parameters(), weights, strict=True
        ):
            expected = theirs_parameter.grad
            expected = expected * (signs[:, None] if expected.dim() == 2 else signs)
            assert_close(ours_parameter.grad, expected, f"dJ/d{name}")


@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell])
def test_fused_backward_can_run_twice_with_retain_graph(cell_class):
    """The backward pass must not overwrite what the forward pass saved."""
    torch.manual_seed(4)
    layer = RecurrentLayer(cell_class(3, 4).double())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    outputs, final = layer(x)
    J = outputs.square().sum() + state_tensors(final)[-1].sum()
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


@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell])
def test_fused_forward_without_gradients_equals_forward_with(cell_class):
    torch.manual_seed(6)
    layer = RecurrentLayer(cell_class(3, 4), reverse=True)
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        outputs, final = layer(x)
    assert not outputs.requires_grad
    expected, expected_final = layer(x)
    assert torch.equal(outputs, expected)
    for a, b in zip(state_tensors(final), state_tensors(expected_final), strict=True):
        assert torch.equal(a, b)


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
@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell])
def test_every_wrapper_runs_the_fused_layer(cell_class):
    x = torch.randn(2, 5, 3)
    network = {LSTMCell: rnnlib.LSTM, GRUCell: rnnlib.GRU}[cell_class]
    modules = {
        "RecurrentLayer": RecurrentLayer(cell_class(3, 4)),
        "reversed, time first": RecurrentLayer(cell_class(3, 4), batch_first=False, reverse=True),
        network.__name__: network(3, 4, num_layers=2, bidirectional=True),
        "SequenceModel": rnnlib.models.SequenceModel(cell_class(3, 4), 2),
    }
    for name, module in modules.items():
        outputs = module(x)
        outputs = outputs[0] if isinstance(outputs, tuple) else outputs
        nodes = autograd_node_names(outputs)
        assert FUSED_NODES[cell_class] in nodes, f"{name} does not use the fused kernel"
        assert "SigmoidBackward0" not in nodes, f"{name} still records per-step nodes"


class PeepholeLSTM(LSTMCell):  # a subclass with other step equations
    def step(self, x_projected, state):
        h, c = super().step(x_projected, state)
        return h, 0.5 * c


class HalfResetGRU(GRUCell):  # a subclass with other gate equations
    def gates(self, x_projected, h_prev):
        gate = super().gates(x_projected, h_prev)
        return {**gate, "reset_gate": 0.5 * gate["reset_gate"]}


def test_unroll_and_other_cells_keep_the_per_step_graph():
    x = torch.randn(2, 5, 3)
    fused = set(FUSED_NODES.values())
    for cell in (LSTMCell(3, 4), GRUCell(3, 4)):
        state = RecurrentLayer(cell).unroll(x)[-1]
        assert not fused & autograd_node_names(cell.hidden(state))
    for cell in (RNNCell(3, 4), PeepholeLSTM(3, 4), HalfResetGRU(3, 4)):
        outputs, _ = RecurrentLayer(cell)(x)
        assert not fused & autograd_node_names(outputs), type(cell).__name__


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
