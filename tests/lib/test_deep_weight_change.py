"""rnnlib.deep.layer_weight_change: the relative distance each layer's weights moved."""

from __future__ import annotations

import copy

import pytest
import torch

from rnnlib.deep import KINDS, deep_network, layer_weight_change


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [1, 2, 5])
def test_an_untouched_network_moved_nowhere(kind, depth):
    network = deep_network(kind, depth, 4, 3, 2)
    change = layer_weight_change(network, copy.deepcopy(network))
    assert change.shape == (depth,)
    assert torch.equal(change, torch.zeros(depth))


@pytest.mark.parametrize("kind", KINDS)
def test_change_is_the_relative_norm_of_one_layers_step(kind):
    torch.manual_seed(0)
    before = deep_network(kind, 4, 4, 2, 2).double()
    after = copy.deepcopy(before)
    layer = list(after)[2]
    steps = [torch.randn_like(p) for p in layer.parameters()]
    with torch.no_grad():
        for p, step in zip(layer.parameters(), steps, strict=True):
            p.add_(step)
    theta = torch.cat([p.flatten() for p in list(before)[2].parameters()])
    expected = torch.cat([s.flatten() for s in steps]).norm() / theta.norm()
    change = layer_weight_change(before, after)
    assert change[2].item() == pytest.approx(expected.item(), rel=1e-12)
    assert change[[0, 1, 3]].abs().max().item() == 0.0


def test_scaling_every_weight_by_one_plus_a_moves_each_layer_by_a():
    before = deep_network("plain", 3, 5, 4, 2).double()
    after = copy.deepcopy(before)
    with torch.no_grad():
        for p in after.parameters():
            p.mul_(1.25)
    assert torch.allclose(layer_weight_change(before, after), torch.full((3,), 0.25).double())


def test_networks_of_different_depth_are_refused():
    with pytest.raises(ValueError, match="same depth"):
        layer_weight_change(deep_network("plain", 3, 4, 3, 2), deep_network("plain", 4, 4, 3, 2))


def test_networks_of_different_width_are_refused():
    with pytest.raises(ValueError, match="same architecture"):
        layer_weight_change(deep_network("plain", 2, 4, 3, 2), deep_network("plain", 2, 5, 3, 2))
