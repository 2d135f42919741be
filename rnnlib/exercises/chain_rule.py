"""The chain-rule exercise (chapter 1): backpropagation through time by hand for a tanh RNN; its
reference, its cases and its known mistakes.

Shapes: B batch, H hidden units, T time steps.

Not here: the runner that calls the reader's function (``_runner``); gradients of a real layer
from autograd (:func:`rnnlib.gradients.state_gradients`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._runner import Case, Mistake, normal, run, span

__all__ = ["check_chain_rule_gradients", "reference"]


def reference(W_h, states, grad_last) -> list[torch.Tensor]:
    """``[dJ/dh^(1), ..., dJ/dh^(T)]`` from ``grad_last = dJ/dh^(T)``, by the rule of
    :func:`check_chain_rule_gradients`; each (B, H).

    One hidden unit, ``W_h = 2`` and ``h^(2) = 0.5``: one step back multiplies by
    ``(1 - 0.5**2) * 2 = 1.5``.

    >>> states = [torch.tensor([[0.5]]), torch.tensor([[0.5]])]
    >>> reference(torch.tensor([[2.0]]), states, grad_last=torch.tensor([[1.0]]))
    [tensor([[1.5000]]), tensor([[1.]])]
    """
    return _bptt(W_h, states, grad_last)


def _bptt(W_h, states, grad_last, sigma_prime=lambda h: 1 - h**2, transpose=False, shift=0):
    """The reference (with the defaults) or a wrong variant: each step back multiplies the row
    gradient by diag(sigma') W_h, with tanh'(z^(t)) = 1 - (h^(t))^2."""
    W = W_h.T if transpose else W_h
    grads = [grad_last]
    # states[t] is h^(t + 1)
    for t in range(len(states) - 1, 0, -1):
        # dJ/dh^(t-1) = (dJ/dh^(t) * tanh'(z^(t))) @ W_h
        grads.append((grads[-1] * sigma_prime(states[max(t - shift, 0)])) @ W)
    return grads[::-1]


_MISTAKES = [
    Mistake(
        "your gradients are those of a linear RNN: each step back must also multiply by "
        "tanh'(z^(t)) = 1 - (h^(t))^2, elementwise, before the product with W_h.",
        (lambda W, s, g: _bptt(W, s, g, sigma_prime=lambda h: torch.ones_like(h)),),
    ),
    Mistake(
        "your function multiplies by W_h^T where the row-vector chain rule has W_h: "
        "dJ/dh^(t-1) = (dJ/dh^(t) * tanh'(z^(t))) @ W_h.",
        (lambda W, s, g: _bptt(W, s, g, transpose=True),),
    ),
    Mistake(
        "your function takes tanh' from the wrong step: going from h^(t) back to h^(t-1) uses "
        "the derivative at step t, 1 - (h^(t))^2, not at step t - 1.",
        (lambda W, s, g: _bptt(W, s, g, shift=1),),
    ),
    Mistake(
        "tanh' is 1 - h^2, not 1 - h: square the state.",
        (lambda W, s, g: _bptt(W, s, g, sigma_prime=lambda h: 1 - h),),
    ),
    Mistake(
        "your list runs backwards in time: return [dJ/dh^(1), ..., dJ/dh^(T)], the last "
        "entry being grad_last itself.",
        (lambda W, s, g: _bptt(W, s, g)[::-1],),
    ),
]

#: (batch, hidden, T): T = 1 and hidden 1 included.
CASES = [(1, 1, 1), (1, 3, 4), (2, 5, 3), (3, 2, 6), (4, 6, 5)]


def _case(randn, batch: int, hidden: int, steps: int) -> Case:
    """A real tanh trajectory ``h^(t) = tanh(W_h h^(t-1) + drive^(t))`` and a last gradient."""
    W_h = 0.9 * randn(hidden, hidden) / hidden**0.5
    h, states = torch.zeros(batch, hidden, dtype=torch.float64), []
    for _ in range(steps):
        h = torch.tanh(h @ W_h.T + randn(batch, hidden))
        states.append(h)
    return Case(
        {"W_h": W_h, "states": states, "grad_last": randn(batch, hidden)},
        f"batch {batch}, hidden {hidden}, T {steps}",
        {f"dJ/dh^({t + 1})": "(batch, hidden)" for t in range(steps)},
        f"a list of {steps} tensors of shape (batch, hidden), one per step",
        sequence=True,
    )


def check_chain_rule_gradients(fn: Callable[..., list[torch.Tensor]]) -> None:
    r"""Check ``fn(W_h, states, grad_last) -> [dJ/dh^(1), ..., dJ/dh^(T)]`` for a tanh RNN,
    backpropagation through time written as the lecture's chain rule:

    .. math:: \frac{\partial J}{\partial h^{(t-1)}}
        = \frac{\partial J}{\partial h^{(t)}}\,
          \operatorname{diag}\big(1 - (h^{(t)})^2\big)\, W_h ,

    with row-vector gradients of shape ``(batch, hidden)``, ``states`` the list
    :math:`[h^{(1)}, \dots, h^{(T)}]` of a trajectory of
    :math:`h^{(t)} = \tanh(W_h h^{(t-1)} + W_x x^{(t)} + b)`, and ``grad_last``
    :math:`= \partial J / \partial h^{(T)}`.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.chain_rule import reference
    >>> check_chain_rule_gradients(reference)
    check_chain_rule_gradients: correct on 5 random tanh trajectories (batch 1..4, hidden 1..6, T 1..6).
    >>> check_chain_rule_gradients(lambda W_h, states, grad_last: reference(W_h, states, grad_last)[::-1])
    Traceback (most recent call last):
    ...
    AssertionError: check_chain_rule_gradients: your list runs backwards in time: return [dJ/dh^(1), ..., dJ/dh^(T)], the last entry being grad_last itself.
    """  # noqa: E501
    randn = normal(5)
    cases = [_case(randn, *shape) for shape in CASES]
    batches, hiddens, steps = zip(*CASES, strict=True)
    summary = (
        f"random tanh trajectories (batch {span(batches)}, hidden {span(hiddens)}, T {span(steps)})"
    )
    hint = "states is a list of T tensors (batch, hidden); W_h is (hidden, hidden)."
    run("check_chain_rule_gradients", fn, cases, reference, _MISTAKES, summary=summary, hint=hint)
