"""Seeds as a batch dimension: ``ensemble=k`` cells, layers, networks and ``fit``.

* Every member of an ensemble layer equals the layer built alone from its weights (outputs,
  final state and every gradient, float64), for RNN, LSTM and GRU cells, on the fused path and
  the per-step path, with an input per member or one shared input.
* Member ``j`` of ``rnnlib.LSTM(..., ensemble=k, seeds=s)`` has exactly the weights of the
  network built alone after ``torch.manual_seed(s[j])``; building it leaves the global random
  state alone.
* ``fit(..., seed=[s_0, s_1, ...])`` trains each member as ``fit(member, ..., seed=s_j)``
  trains it alone (losses, gradient norms before and after clipping, final weights).
"""

from __future__ import annotations

import pytest
import torch
from autograd_graph import autograd_node_names
from torch import nn

import rnnlib
from rnnlib import GRUCell, LSTMCell, RecurrentLayer, RNNCell
from rnnlib.tasks import MagnitudeSum
from rnnlib.train import fit

TOLERANCE = 1e-12  # float64
CELLS = [RNNCell, LSTMCell, GRUCell]
NETWORKS = [rnnlib.RNN, rnnlib.LSTM, rnnlib.GRU]
FUSED_NODES = {"LSTMSequenceBackward", "GRUSequenceBackward"}


def state_tensors(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def run(layer: RecurrentLayer, x, state, per_step: bool):
    """``(outputs, final state)`` from ``forward`` or from the per-step ``unroll``."""
    if not per_step:
        return layer(x, state)
    states = layer.unroll(x, state)
    ensemble = layer.ensemble is not None
    time_axis = (1 if layer.batch_first else 0) + ensemble
    outputs = torch.stack([layer.cell.hidden(s) for s in states], dim=time_axis)
    return outputs, states[0] if layer.reverse else states[-1]


def check_members_equal_solo(cell_class, per_step, shared, batch_first, reverse, device="cpu"):
    torch.manual_seed(1)
    members, batch, steps, inputs, hidden = 3, 2, 6, 3, 4
    options = {"dtype": torch.float64, "device": device}
    cell = cell_class(inputs, hidden, ensemble=members, seeds=[7, 8, 9]).to(**options)
    layer = RecurrentLayer(cell, batch_first=batch_first, reverse=reverse)
    shape = (batch, steps, inputs) if batch_first else (steps, batch, inputs)
    x = torch.randn(*shape if shared else (members, *shape), **options, requires_grad=True)
    initial = [
        torch.randn(members, batch, hidden, **options, requires_grad=True)
        for _ in state_tensors(cell.initial_state(batch))
    ]
    state = tuple(initial) if cell_class is LSTMCell else initial[0]
    outputs, final = run(layer, x, state, per_step)
    fused = bool(FUSED_NODES & autograd_node_names(outputs))
    assert fused == (cell_class is not RNNCell and not per_step), "unexpected path"
    weights = [torch.randn_like(t) for t in [outputs, *state_tensors(final)]]
    J = sum((w * t).sum() for w, t in zip(weights, [outputs, *state_tensors(final)], strict=True))
    gradients = torch.autograd.grad(J, [x, *initial, *cell.parameters()])

    shared_total = torch.zeros_like(x)
    for j in range(members):
        alone = RecurrentLayer(cell.member(j), batch_first=batch_first, reverse=reverse)
        x_j = (x if shared else x[j]).detach().clone().requires_grad_(True)
        initial_j = [s[j].detach().clone().requires_grad_(True) for s in initial]
        state_j = tuple(initial_j) if cell_class is LSTMCell else initial_j[0]
        outputs_j, final_j = run(alone, x_j, state_j, per_step)
        tensors_j = [outputs_j, *state_tensors(final_j)]
        expected = [outputs, *state_tensors(final)]
        for name, a, b in zip(["outputs", "h", "c"], tensors_j, expected, strict=False):
            assert (a - b[j]).abs().max().item() <= TOLERANCE, f"member {j}: {name}"
        J_j = sum((w[j] * t).sum() for w, t in zip(weights, tensors_j, strict=True))
        gradients_j = torch.autograd.grad(J_j, [x_j, *initial_j, *alone.cell.parameters()])
        names = ["x", "h_0", "c_0"][: 1 + len(initial)] + [n for n, _ in cell.named_parameters()]
        shared_total += gradients_j[0]
        for name, a, b in zip(names, gradients_j, gradients, strict=True):
            if name == "x" and shared:
                continue  # checked after the loop
            assert (a - b[j]).abs().max().item() <= TOLERANCE, f"member {j}: dJ/d{name}"
    if shared:  # a shared input's gradient sums every member's
        assert (shared_total - gradients[0]).abs().max().item() <= TOLERANCE, "dJ/dx (shared)"


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("shared", [False, True], ids=["per-member input", "shared input"])
@pytest.mark.parametrize("per_step", [False, True], ids=["forward", "unroll"])
@pytest.mark.parametrize("cell_class", CELLS, ids=lambda c: c.__name__)
def test_every_member_equals_its_layer_alone(cell_class, per_step, shared, batch_first, reverse):
    check_members_equal_solo(cell_class, per_step, shared, batch_first, reverse)


@pytest.mark.cuda
@pytest.mark.parametrize("cell_class", CELLS, ids=lambda c: c.__name__)
def test_every_member_equals_its_layer_alone_on_cuda(cell_class):
    check_members_equal_solo(cell_class, False, False, True, False, "cuda")


@pytest.mark.parametrize("network_class", NETWORKS, ids=lambda c: c.__name__)
def test_member_j_is_the_network_built_alone_after_seeding_with_seeds_j(network_class):
    seeds = [11, 3, 11]
    before = torch.random.get_rng_state()
    ensemble = network_class(3, 4, num_layers=2, bidirectional=True, ensemble=3, seeds=seeds)
    assert torch.equal(before, torch.random.get_rng_state()), "the global RNG state changed"
    ensemble.double()
    x = torch.randn(3, 2, 5, 3, dtype=torch.float64)
    outputs, final = ensemble(x)
    assert outputs.shape == (3, 2, 5, 8)
    for j, seed in enumerate(seeds):
        torch.manual_seed(seed)
        alone = network_class(3, 4, num_layers=2, bidirectional=True).double()
        for a, b in zip(alone.parameters(), ensemble.member(j).parameters(), strict=True):
            assert torch.equal(a, b), f"member {j}'s weights differ from seed {seed}'s network"
        outputs_j, final_j = alone(x[j])
        assert (outputs_j - outputs[j]).abs().max().item() <= TOLERANCE
        for a, b in zip(state_tensors(final_j), state_tensors(final), strict=True):
            assert (a - b[:, j]).abs().max().item() <= TOLERANCE  # (layers * 2, k, B, H)


@pytest.mark.parametrize("network_class", NETWORKS, ids=lambda c: c.__name__)
def test_ensemble_network_with_given_states_time_first_equals_its_members(network_class):
    """States packed ``(layers * directions, k, batch, hidden)``; input ``(k, T, batch, .)``."""
    ensemble = network_class(3, 4, num_layers=2, bidirectional=True, batch_first=False,
                             ensemble=2, seeds=[5, 6]).double()  # fmt: skip
    x = torch.randn(2, 7, 3, 3, dtype=torch.float64)
    h_0 = torch.randn(4, 2, 3, 4, dtype=torch.float64)
    c_0 = torch.randn_like(h_0)
    lstm = network_class is rnnlib.LSTM
    outputs, final = ensemble(x, (h_0, c_0) if lstm else h_0)
    for j in range(2):
        outputs_j, final_j = ensemble.member(j)(x[j], (h_0[:, j], c_0[:, j]) if lstm else h_0[:, j])
        assert (outputs_j - outputs[j]).abs().max().item() <= TOLERANCE
        for a, b in zip(state_tensors(final_j), state_tensors(final), strict=True):
            assert (a - b[:, j]).abs().max().item() <= TOLERANCE


def test_default_seeds_are_0_to_k_minus_1():
    ensemble = rnnlib.GRU(2, 3, ensemble=2)
    for j in range(2):
        torch.manual_seed(j)
        alone = rnnlib.GRU(2, 3)
        for a, b in zip(alone.parameters(), ensemble.member(j).parameters(), strict=True):
            assert torch.equal(a, b)


def test_ensemble_misuse_is_refused():
    with pytest.raises(ValueError, match="needs 3 seeds"):
        rnnlib.LSTM(2, 3, ensemble=3, seeds=[1, 2])
    with pytest.raises(ValueError, match="positive integer"):
        LSTMCell(2, 3, ensemble=0)
    with pytest.raises(ValueError, match="give ensemble"):
        GRUCell(2, 3, seeds=[1])
    layer = RecurrentLayer(GRUCell(2, 3, ensemble=3))
    with pytest.raises(ValueError, match="3 members"):
        layer(torch.randn(2, 4, 5, 2))
    with pytest.raises(ValueError, match="no torch.nn counterpart"):
        rnnlib.GRU(2, 3, ensemble=2).to_torch()
    with pytest.raises(ValueError, match="for ensembles"):
        rnnlib.GRU(2, 3).member(0)


# --- fit on an ensemble ------------------------------------------------------------------------
class Regressor(nn.Module):
    """A GRU and a linear readout at every step; ``ensemble=k`` gives every parameter the
    member axis first."""

    def __init__(self, ensemble: int | None = None):
        super().__init__()
        members = () if ensemble is None else (ensemble, 1)  # (k, 1): broadcast over batch
        self.rnn = rnnlib.GRU(1, 5, ensemble=ensemble)
        self.weight = nn.Parameter(0.3 * torch.randn(*members, 5, 1))
        self.bias = nn.Parameter(torch.zeros(*members, 1, 1))

    def forward(self, x):
        h, _ = self.rnn(x)  # ([k,] B, T, 5)
        return h @ self.weight + self.bias


def member(ensemble: Regressor, j: int) -> Regressor:
    alone = Regressor()
    alone.rnn = ensemble.rnn.member(j)
    with torch.no_grad():
        alone.weight.copy_(ensemble.weight[j, 0])
        alone.bias.copy_(ensemble.bias[j, 0])
    return alone


@pytest.mark.parametrize("clip", [{"clip_norm": 0.05}, {"clip_value": 0.01}, {}])
def test_fit_trains_every_member_as_it_would_train_alone(clip):
    task, steps, seeds = MagnitudeSum(5), 6, [3, 9]
    torch.manual_seed(0)
    ensemble = Regressor(ensemble=2)
    alone = [member(ensemble, j) for j in range(2)]
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=1e-2)
    cpu = torch.device("cpu")
    histories = fit(
        ensemble, task, optimizer, steps, 8, seed=seeds, device=cpu, progress=False, **clip
    )
    assert len(histories) == 2
    for j, (model, seed) in enumerate(zip(alone, seeds, strict=True)):
        optimizer_j = torch.optim.Adam(model.parameters(), lr=1e-2)
        expected = fit(
            model, task, optimizer_j, steps, 8, seed=seed, device=cpu, progress=False, **clip
        )
        history = histories[j]
        assert history.loss == pytest.approx(expected.loss, rel=1e-5, abs=1e-7)
        assert history.grad_norm == pytest.approx(expected.grad_norm, rel=1e-4)
        assert history.grad_norm_clipped == pytest.approx(expected.grad_norm_clipped, rel=1e-4)
        assert history.clipped == expected.clipped
        trained = member(ensemble, j)
        for a, b in zip(trained.parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    if clip:
        assert any(any(h.clipped) for h in histories), "the test should make clipping fire"


def test_fit_refuses_a_model_that_is_not_an_ensemble_of_that_size():
    task = MagnitudeSum(3)
    model = Regressor(ensemble=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="member axis first"):
        fit(model, task, optimizer, 1, 4, seed=[1, 2, 3], progress=False)
