"""Residual and dense connections between the layers of a StackedRNN (chapter 9).

Each test reads like the claim it checks; the references are written out here (a loop over
layers by hand, torch.nn.RNN), never the stack's own earlier output.
"""

import pytest
import torch
from torch import nn

from rnnlib import GRUCell, LSTMCell, RecurrentLayer, RNNCell, StackedRNN
from rnnlib.layers import SKIPS
from rnnlib.models import SequenceModel

CELLS = [RNNCell, LSTMCell, GRUCell]


def plain_layers(cell_class, input_size, hidden, depth):
    return [
        RecurrentLayer(cell_class(input_size if k == 0 else hidden, hidden)) for k in range(depth)
    ]


def dense_layers(cell_class, input_size, hidden, depth):
    return [RecurrentLayer(cell_class(input_size + k * hidden, hidden)) for k in range(depth)]


def count(module):
    return sum(p.numel() for p in module.parameters())


def zero_(layer):
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.zero_()


def test_skip_none_is_the_default_and_equals_torch_rnn_with_num_layers():
    torch.manual_seed(0)
    reference = nn.RNN(3, 5, num_layers=3, batch_first=True).double()
    layers = []
    for k in range(3):
        cell = RNNCell(3 if k == 0 else 5, 5).double()
        cell.load_torch_weights(*(getattr(reference, f"{n}_l{k}") for n in _TORCH_NAMES))
        layers.append(RecurrentLayer(cell))
    stack = StackedRNN(layers)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    assert stack.skip == "none"
    torch.testing.assert_close(stack(x)[0], reference(x)[0])


_TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@pytest.mark.parametrize("cell_class", CELLS)
def test_a_zero_weight_residual_layer_is_the_identity(cell_class):
    torch.manual_seed(1)
    layers = plain_layers(cell_class, 4, 4, 3)
    zero_(layers[1])
    stack = StackedRNN(layers, skip="residual")
    x = torch.randn(2, 5, 4)
    below, _ = layers[0](x)
    below = below + x  # the first layer's residual: its sizes match here
    top, _ = layers[2](below)
    # with layer 2 the identity, the stack is layer 3 applied to layer 1's output
    torch.testing.assert_close(stack(x)[0], top + below)


@pytest.mark.parametrize("cell_class", CELLS)
def test_residual_stack_adds_each_layers_input_to_its_output(cell_class):
    torch.manual_seed(2)
    layers = plain_layers(cell_class, 3, 6, 4)
    stack = StackedRNN(layers, skip="residual")
    x = torch.randn(5, 7, 3)
    # by hand: layer 1 maps 3 features to 6 (no residual), the others add their input
    h, _ = layers[0](x)
    for layer in layers[1:]:
        out, _ = layer(h)
        h = out + h
    torch.testing.assert_close(stack(x)[0], h)
    assert stack.residual_layers == [1, 2, 3]


@pytest.mark.parametrize("cell_class", CELLS)
def test_dense_stack_feeds_each_layer_the_input_and_all_outputs_below(cell_class):
    torch.manual_seed(3)
    layers = dense_layers(cell_class, 3, 4, 3)
    stack = StackedRNN(layers, skip="dense")
    x = torch.randn(2, 5, 3)
    h1, _ = layers[0](x)
    h2, _ = layers[1](torch.cat([x, h1], dim=-1))
    h3, _ = layers[2](torch.cat([x, h1, h2], dim=-1))
    torch.testing.assert_close(stack(x)[0], h3)


def test_dense_input_sizes_grow_by_one_hidden_size_per_layer():
    layers = dense_layers(RNNCell, 3, 4, 4)
    assert [layer.input_size for layer in layers] == [3, 7, 11, 15]
    StackedRNN(layers, skip="dense")
    message = "do not chain densely: layer 2 .* 7 features, but has input_size 4"
    with pytest.raises(ValueError, match=message):
        StackedRNN(plain_layers(RNNCell, 3, 4, 2), skip="dense")
    with pytest.raises(ValueError, match="do not chain"):
        StackedRNN(layers, skip="residual")


@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("batch, time", [(1, 1), (2, 5), (3, 1)])
def test_shapes_of_outputs_and_final_states(skip, batch_first, batch, time):
    make = dense_layers if skip == "dense" else plain_layers
    layers = make(LSTMCell, 2, 3, 3)
    for layer in layers:
        layer.batch_first = batch_first
    stack = StackedRNN(layers, skip=skip)
    shape = (batch, time, 2) if batch_first else (time, batch, 2)
    outputs, finals = stack(torch.randn(*shape))
    assert outputs.shape == shape[:2] + (3,)
    assert len(finals) == 3
    assert all(h.shape == (batch, 3) and c.shape == (batch, 3) for h, c in finals)


def test_residual_connections_add_no_parameters_and_dense_ones_add_input_weights():
    hidden, features, depth = 8, 3, 4
    plain = StackedRNN(plain_layers(RNNCell, features, hidden, depth))
    residual = StackedRNN(plain_layers(RNNCell, features, hidden, depth), skip="residual")
    dense = StackedRNN(dense_layers(RNNCell, features, hidden, depth), skip="dense")
    assert count(residual) == count(plain)
    # layer k >= 1 (0-based) of the dense stack reads features + k * hidden inputs where the
    # plain one reads hidden: W_x has (features + (k - 1) * hidden) * hidden more entries
    extra = sum((features + (k - 1) * hidden) * hidden for k in range(1, depth))
    assert count(dense) == count(plain) + extra


def test_a_residual_layer_whose_sizes_differ_gets_no_connection():
    layers = [RecurrentLayer(RNNCell(3, 5)), RecurrentLayer(RNNCell(5, 5))]
    layers += [RecurrentLayer(RNNCell(5, 2))]
    assert StackedRNN(layers, skip="residual").residual_layers == [1]
    assert StackedRNN(layers).residual_layers == []


@pytest.mark.parametrize("skip", SKIPS)
def test_gradient_reaches_every_layer(skip):
    torch.manual_seed(4)
    make = dense_layers if skip == "dense" else plain_layers
    stack = StackedRNN(make(GRUCell, 2, 4, 5), skip=skip)
    model = SequenceModel(stack, 1)
    model(torch.randn(3, 6, 2)).sum().backward()
    for k, layer in enumerate(stack.layers):
        norm = sum(p.grad.norm() ** 2 for p in layer.parameters()) ** 0.5
        assert torch.isfinite(norm) and norm > 0, f"layer {k + 1}: gradient norm {norm}"


def test_skips_open_a_direct_path_from_the_top_to_the_first_layer():
    # with the middle layers zeroed, the plain stack passes no gradient down to the first
    # layer (their zero weights multiply the signal); residual and dense stacks do.
    torch.manual_seed(5)
    for skip, expected_zero in [("none", True), ("residual", False), ("dense", False)]:
        make = dense_layers if skip == "dense" else plain_layers
        layers = make(RNNCell, 2, 4, 4)
        for layer in layers[1:-1]:
            zero_(layer)
        stack = StackedRNN(layers, skip=skip)
        stack(torch.randn(2, 3, 2))[0].sum().backward()
        first = layers[0].cell.W_x.grad.abs().max()
        assert (first == 0) == expected_zero, f"{skip}: {first}"


def test_unknown_skip_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="skip must be one of"):
        StackedRNN(plain_layers(RNNCell, 2, 3, 2), skip="highway")


def test_sequence_model_reads_the_stack_output_size():
    stack = StackedRNN(dense_layers(RNNCell, 2, 3, 3), skip="dense")
    assert stack.input_size == 2 and stack.output_size == 3
    assert SequenceModel(stack, 4, readout="every")(torch.zeros(1, 5, 2)).shape == (1, 5, 4)
