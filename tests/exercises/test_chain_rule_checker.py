"""check_chain_rule_gradients (chapter 1): accepts backpropagation through time by rows or by
explicit Jacobians, names the usual wrong ones (written here as a reader would write them).
"""

from __future__ import annotations

import pytest
import torch
from checker_output import assert_one_success_line

from rnnlib.exercises import check_chain_rule_gradients


def chain_rule_by_rows(W_h, states, grad_last):
    """A reader's loop: one row-vector step back per state, tanh' = 1 - h^2."""
    grads = [grad_last]
    for h_t in reversed(states[1:]):
        grads.append((grads[-1] * (1 - h_t**2)) @ W_h)
    return list(reversed(grads))


def chain_rule_by_jacobians(W_h, states, grad_last):
    """Explicit step Jacobians diag(1 - h^2) W_h, applied with einsum."""
    grads = [grad_last]
    for h_t in reversed(states[1:]):
        jacobian = (1 - h_t**2)[:, :, None] * W_h  # (batch, hidden, hidden)
        grads.insert(0, torch.einsum("bi,bij->bj", grads[0], jacobian))
    return grads


def chain_rule_with(W_h, states, grad_last, derivative):
    """The row-vector loop with a reader's own (possibly wrong) tanh'."""
    grads = [grad_last]
    for h_t in reversed(states[1:]):
        grads.append((grads[-1] * derivative(h_t)) @ W_h)
    return list(reversed(grads))


def chain_rule_one_step_late(W_h, states, grad_last):
    """tanh' taken at h^(t-1) instead of h^(t)."""
    grads = [grad_last]
    for t in range(len(states) - 1, 0, -1):
        grads.append((grads[-1] * (1 - states[t - 1] ** 2)) @ W_h)
    return grads[::-1]


@pytest.mark.parametrize("fn", [chain_rule_by_rows, chain_rule_by_jacobians])
def test_check_chain_rule_gradients_accepts_right_implementations(fn, capsys):
    check_chain_rule_gradients(fn)
    assert_one_success_line(capsys, "check_chain_rule_gradients")


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda W, s, g: chain_rule_with(W, s, g, torch.ones_like), "linear RNN"),
        (lambda W, s, g: chain_rule_by_rows(W.T, s, g), r"W_h\^T where"),
        (chain_rule_one_step_late, "from the wrong step"),
        (lambda W, s, g: chain_rule_with(W, s, g, lambda h: 1 - h), "not 1 - h: square"),
        (lambda W, s, g: chain_rule_by_rows(W, s, g)[::-1], "runs backwards in time"),
        (lambda W, s, g: chain_rule_by_rows(W, s, g)[:-1], "returned a list of"),
    ],
    ids=["no tanh'", "transposed W_h", "tanh' of the wrong step", "1 - h", "reversed", "short"],
)
def test_check_chain_rule_gradients_names_the_usual_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_chain_rule_gradients(wrong)
