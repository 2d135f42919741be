"""check_bidirectional_states passes right bidirectional passes and names the usual wrong ones.

The wrong answers are written here as a reader would write them (a loop over time with the two
cells), not taken from rnnlib.exercises.
"""

from __future__ import annotations

import pytest
import torch
from checker_output import assert_one_success_line

from rnnlib import Bidirectional, RecurrentLayer
from rnnlib.exercises import check_bidirectional_states


def run(cell, steps):
    """The states of ``cell`` over ``steps`` (a list of (batch, input) tensors), in that order."""
    h, states = None, []
    for x_t in steps:
        h = cell(x_t, h)
        states.append(h)
    return states


def reader(reverse_back=True, same_cell=False, backward_first=False, backward_reads_forwards=False):
    def states(x, forward_cell, backward_cell):
        steps = list(x.unbind(1))
        backward = forward_cell if same_cell else backward_cell
        h_forward = run(forward_cell, steps)
        h_backward = run(backward, steps if backward_reads_forwards else steps[::-1])
        if reverse_back and not backward_reads_forwards:
            h_backward = h_backward[::-1]
        halves = [h_backward, h_forward] if backward_first else [h_forward, h_backward]
        return torch.cat([torch.stack(half, dim=1) for half in halves], dim=-1)

    return states


def with_rnnlib_layers(x, forward_cell, backward_cell):
    """Right, written differently: rnnlib's own Bidirectional wrapper around the two cells."""
    layer = Bidirectional(RecurrentLayer(forward_cell), RecurrentLayer(backward_cell, reverse=True))
    return layer(x)[0]


def with_flip(x, forward_cell, backward_cell):
    """Right, written differently: run the backward cell forwards over x flipped in time."""
    h_forward = torch.stack(run(forward_cell, list(x.unbind(1))), dim=1)
    h_backward = torch.stack(run(backward_cell, list(x.flip(1).unbind(1))), dim=1).flip(1)
    return torch.cat([h_forward, h_backward], dim=-1)


@pytest.mark.parametrize("fn", [reader(), with_rnnlib_layers, with_flip])
def test_check_bidirectional_states_accepts_right_implementations(fn, capsys):
    check_bidirectional_states(fn)
    assert_one_success_line(capsys, "check_bidirectional_states")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (reader(reverse_back=False), "reverse its states back"),
        (reader(same_cell=True), "both directions use the same cell"),
        (reader(same_cell=True, reverse_back=False), "both directions use the same cell"),
        (reader(backward_first=True), "concatenated in the wrong order"),
        (reader(backward_reads_forwards=True), "reads the sequence forwards"),
    ],
    ids=["not_reversed_back", "same_weights", "same_weights_not_reversed", "order", "forwards"],
)
def test_check_bidirectional_states_names_the_usual_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_bidirectional_states(wrong)


def test_check_bidirectional_states_reports_other_differences():
    def scaled(x, forward_cell, backward_cell):
        return 1.01 * reader()(x, forward_cell, backward_cell)

    with pytest.raises(AssertionError, match="h differs from the expected value on case"):
        check_bidirectional_states(scaled)


def test_check_bidirectional_states_reports_a_wrong_shape():
    def forward_only(x, forward_cell, backward_cell):
        return torch.stack(run(forward_cell, list(x.unbind(1))), dim=1)

    with pytest.raises(AssertionError, match=r"h has shape .* should have shape"):
        check_bidirectional_states(forward_only)
