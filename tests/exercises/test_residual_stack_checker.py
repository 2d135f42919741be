"""check_residual_stack (chapter 9): accepts right answers, names the usual wrong ones.

The right answers and the mistakes are written here as a reader would write them, not taken
from rnnlib.exercises: a loop over layers with a loop over time inside, the two loops the
other way round (time outer, layers inner), and rnnlib's own StackedRNN with copied weights.
"""

from __future__ import annotations

import pytest
import torch
from checker_output import assert_one_success_line

from rnnlib import RecurrentLayer, RNNCell, StackedRNN
from rnnlib.exercises import check_residual_stack


def layer_by_layer(x, layers, add=True, feed_back=False, first_too=False, bottom=False):
    """For each layer, run it over all time steps; options make the usual mistakes."""
    below = x
    outputs = []
    for k, p in enumerate(layers):
        residual = add and (k > 0 or first_too)
        h = torch.zeros(x.shape[0], p["W_h"].shape[0], dtype=x.dtype)
        hs = []
        for t in range(x.shape[1]):
            x_t = below[:, t]
            h = torch.tanh(x_t @ p["W_x"].T + h @ p["W_h"].T + p["b"])
            if residual and feed_back:
                h = h + x_t
            hs.append(h)
        out = torch.stack(hs, dim=1)
        below = out + below if residual and not feed_back else out
        outputs.append(below)
    return outputs[0] if bottom else below


def time_outer(x, layers):
    """Right, the other way round: at each time step, go up the stack."""
    h = [torch.zeros(x.shape[0], p["W_h"].shape[0], dtype=x.dtype) for p in layers]
    tops = []
    for x_t in x.unbind(1):
        inp = x_t
        for k, p in enumerate(layers):
            h[k] = torch.tanh(inp @ p["W_x"].T + h[k] @ p["W_h"].T + p["b"])
            inp = h[k] + inp if k > 0 else h[k]
        tops.append(inp)
    return torch.stack(tops, dim=1)


def with_stacked_rnn(x, layers):
    """Right, with rnnlib's StackedRNN(skip="residual") and the weights copied in."""
    modules = []
    for p in layers:
        hidden, features = p["W_x"].shape
        cell = RNNCell(features, hidden).double()
        with torch.no_grad():
            cell.W_x.copy_(p["W_x"])
            cell.W_h.copy_(p["W_h"])
            cell.b_x.copy_(p["b"])
            cell.b_h.zero_()
        modules.append(RecurrentLayer(cell))
    stack = StackedRNN(modules, skip="residual")
    # the checker's first layer always changes the size, so StackedRNN skips it too
    with torch.no_grad():
        return stack(x)[0]


def test_accepts_a_layer_by_layer_loop(capsys):
    check_residual_stack(layer_by_layer)
    assert_one_success_line(capsys, "check_residual_stack")


def test_accepts_the_loops_the_other_way_round(capsys):
    check_residual_stack(time_outer)
    assert_one_success_line(capsys, "check_residual_stack")


def test_accepts_rnnlibs_stacked_rnn_with_residual_skips(capsys):
    check_residual_stack(with_stacked_rnn)
    assert_one_success_line(capsys, "check_residual_stack")


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(add=False), "no residual connections: this is the plain stack"),
        (dict(feed_back=True), "the residual is fed back into the recurrence"),
        (dict(bottom=True), "returns the first layer's outputs"),
        (dict(add=False, bottom=True), "returns the first layer's outputs"),
    ],
)
def test_names_the_usual_mistakes(options, message):
    def wrong(x, layers):
        return layer_by_layer(x, layers, **options)

    with pytest.raises(AssertionError, match=f"check_residual_stack: {message}"):
        check_residual_stack(wrong)


def test_names_the_input_added_before_the_tanh():
    def wrong(x, layers):
        below = x
        for k, p in enumerate(layers):
            h = torch.zeros(x.shape[0], p["W_h"].shape[0], dtype=x.dtype)
            hs = []
            for x_t in below.unbind(1):
                pre = x_t @ p["W_x"].T + h @ p["W_h"].T + p["b"]
                h = torch.tanh(pre + x_t) if k > 0 else torch.tanh(pre)
                hs.append(h)
            below = torch.stack(hs, dim=1)
        return below

    with pytest.raises(AssertionError, match="check_residual_stack: the input is added before"):
        check_residual_stack(wrong)


def test_a_residual_on_the_first_layer_fails_with_the_case_that_raised():
    # the first layer changes the size, so adding its input raises inside the reader's code
    def wrong(x, layers):
        return layer_by_layer(x, layers, first_too=True)

    with pytest.raises(AssertionError, match="your function raised RuntimeError on case 1"):
        check_residual_stack(wrong)


def test_other_differences_say_where_the_values_first_differ():
    def wrong(x, layers):
        return layer_by_layer(x, layers) * 1.01

    with pytest.raises(AssertionError, match="outputs differs from the expected value on case"):
        check_residual_stack(wrong)


def test_changing_the_inputs_in_place_is_refused():
    def in_place(x, layers):
        out = layer_by_layer(x, layers)
        layers[0]["b"].mul_(2)
        return out

    with pytest.raises(AssertionError, match=r"modifies its input layers\[0\]\['b'\] in place"):
        check_residual_stack(in_place)
