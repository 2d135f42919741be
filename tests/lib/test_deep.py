"""rnnlib.deep: each block is its paper's equation, checked against exact answers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlib.deep import (
    KINDS,
    DenseBlock,
    HighwayBlock,
    PlainBlock,
    ResidualBlock,
    deep_network,
    layer_gradient_norms,
)

SIZES = [(1, 1), (3, 1), (1, 5), (4, 7)]


@pytest.mark.parametrize("batch, width", SIZES)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_residual_block_with_zero_weights_is_the_identity(batch, width, activation):
    block = ResidualBlock(width, activation)
    with torch.no_grad():
        block.linear.weight.zero_()
        block.linear.bias.zero_()
    x = torch.randn(batch, width)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("batch, width", SIZES)
def test_highway_block_with_closed_gate_is_exactly_the_identity(batch, width):
    block = HighwayBlock(width, gate_bias=-float("inf")).double()
    x = torch.randn(batch, width, dtype=torch.float64)
    assert torch.equal(block(x), x)
    jacobian = torch.autograd.functional.jacobian(block, x[:1])  # (1, W, 1, W)
    assert torch.equal(jacobian[0, :, 0, :], torch.eye(width, dtype=torch.float64))


def test_highway_block_equals_its_equation():
    torch.manual_seed(0)
    block = HighwayBlock(6, "relu", gate_bias=-1.5).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    H = torch.relu(x @ block.H.weight.T + block.H.bias)
    T = torch.sigmoid(x @ block.T.weight.T + block.T.bias)
    assert torch.allclose(block(x), T * H + (1 - T) * x, rtol=1e-12, atol=1e-12)
    assert torch.all(block.T.bias == -1.5)


def test_plain_block_equals_its_equation():
    block = PlainBlock(5, 3).double()
    x = torch.randn(2, 5, dtype=torch.float64)
    expected = torch.tanh(x @ block.linear.weight.T + block.linear.bias)
    assert torch.allclose(block(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("in_features, growth", [(1, 1), (5, 3), (8, 2)])
def test_dense_block_appends_growth_features_and_keeps_its_input(in_features, growth):
    block = DenseBlock(in_features, growth)
    x = torch.randn(3, in_features)
    y = block(x)
    assert y.shape == (3, in_features + growth)
    assert torch.equal(y[:, :in_features], x)


def test_dense_network_layer_widths_grow_by_growth():
    network = deep_network("dense", 5, 8, 64, 10, growth=3)
    widths = [layer.linear.in_features for layer in list(network)[1:-1]]
    assert widths == [8, 11, 14, 17]
    assert network[-1].in_features == 8 + 4 * 3


@pytest.mark.parametrize("depth, width", [(1, 4), (3, 4), (10, 8)])
def test_parameter_counts(depth, width):
    D, C = 64, 10

    def count(kind):
        return sum(p.numel() for p in deep_network(kind, depth, width, D, C).parameters())

    first, readout = D * width + width, width * C + C
    blocks = depth - 1
    assert count("plain") == first + blocks * (width * width + width) + readout
    assert count("residual") == count("plain")
    assert count("highway") == first + blocks * 2 * (width * width + width) + readout
    g = width // 4
    dense = sum((width + k * g) * g + g for k in range(blocks))
    assert count("dense") == first + dense + (width + blocks * g) * C + C


@pytest.mark.parametrize("kind", KINDS)
def test_deep_network_output_shape_and_depth(kind):
    network = deep_network(kind, 4, 8, 64, 10)
    assert network(torch.zeros(2, 64)).shape == (2, 10)
    assert len(network) == 4 + 1


def test_layer_gradient_norms_match_autograd_per_layer():
    torch.manual_seed(1)
    network = deep_network("highway", 4, 6, 5, 3).double()
    x, y = torch.randn(7, 5, dtype=torch.float64), torch.randint(0, 3, (7,))
    norms = layer_gradient_norms(network, F.cross_entropy(network(x), y))
    F.cross_entropy(network(x), y).backward()
    expected = [
        torch.sqrt(sum((p.grad**2).sum() for p in layer.parameters()))
        for layer in list(network)[:-1]
    ]
    assert norms.shape == (4,)
    assert torch.allclose(norms, torch.stack(expected), rtol=1e-12)


def test_unknown_kind_and_activation_are_refused():
    with pytest.raises(ValueError, match="kind"):
        deep_network("wide", 3, 4, 5, 2)
    with pytest.raises(ValueError, match="activation"):
        PlainBlock(3, 3, "gelu")
