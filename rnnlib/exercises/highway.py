"""The highway-layer exercise (chapter 7): its reference, its cases and its known mistakes.

Shapes: B batch, D width (the layer's input and output features).

Not here: the runner that calls the reader's function (``_runner``); the library's highway,
residual and dense blocks (:mod:`rnnlib.deep`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._runner import Case, Mistake, identity, normal, run, span

__all__ = ["check_highway_block", "reference"]


def _highway(squash=torch.tanh, gate=torch.sigmoid, swapped=False):
    """A highway layer, or one with a mistake: H's nonlinearity, T's squashing, carry and
    transform swapped."""

    def block(x, W_H, b_H, W_T, b_T):
        # H = tanh(W_H x + b_H), T = sigmoid(W_T x + b_T): each (B, D)
        H = squash(x @ W_H.T + b_H)
        T = gate(x @ W_T.T + b_T)
        # y = T * H + (1 - T) * x
        return (1 - T) * H + T * x if swapped else T * H + (1 - T) * x

    return block


_reference_block = _highway()


def reference(x, W_H, b_H, W_T, b_T) -> torch.Tensor:
    """One highway layer (the equations of :func:`check_highway_block`): ``y`` (B, D).

    A closed transform gate (``b_T`` very negative, so ``T = 0``) carries ``x`` through:

    >>> x = torch.tensor([[1.0, -2.0]])
    >>> reference(x, torch.eye(2), torch.zeros(2), torch.zeros(2, 2), torch.full((2,), -1e3))
    tensor([[ 1., -2.]])
    """
    return _reference_block(x, W_H, b_H, W_T, b_T)


_MISTAKES = [
    Mistake(
        "carry and transform are swapped: T multiplies the new content H and the carry gate "
        "1 - T the input x, y = T * H + (1 - T) * x.",
        (_highway(swapped=True),),
    ),
    Mistake(
        "the transform gate has no sigmoid: T = sigmoid(W_T x + b_T), a number between 0 and 1.",
        (_highway(gate=identity), _highway(gate=identity, squash=identity)),
    ),
    Mistake(
        "H has no nonlinearity: H = tanh(W_H x + b_H), not W_H x + b_H.",
        (_highway(squash=identity),),
    ),
    Mistake(
        "H uses relu; in this exercise H = tanh(W_H x + b_H).",
        (_highway(squash=torch.relu),),
    ),
]

#: (batch, width): batch 1 and width 1 included.
SHAPES = [(1, 1), (1, 4), (2, 3), (3, 5), (5, 2), (4, 7)]


def _case(randn, batch: int, width: int) -> Case:
    scale = 1 / math.sqrt(width)
    args = {
        "x": randn(batch, width),
        "W_H": scale * randn(width, width),
        "b_H": randn(width),
        "W_T": scale * randn(width, width),
        "b_T": randn(width) - 1,
    }
    returns = "a tensor y of shape (batch, width)"
    return Case(args, f"batch {batch}, width {width}", {"y": "= (batch, width)"}, returns)


def check_highway_block(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, W_H, b_H, W_T, b_T) -> y``, one highway layer (Srivastava et al. 2015)
    with a tanh transform, the equations of :class:`rnnlib.deep.HighwayBlock`:

    .. math::
        H = \tanh(W_H x + b_H), \quad T = \sigma(W_T x + b_T), \quad
        y = T \circ H + (1 - T) \circ x

    ``x`` is ``(batch, width)``, ``W_H`` and ``W_T`` are ``(width, width)``, ``b_H`` and ``b_T``
    are ``(width,)``; each row of ``x`` is one example.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.highway import reference
    >>> check_highway_block(reference)
    check_highway_block: correct on 6 random layers (batch 1..5, width 1..7).
    >>> check_highway_block(lambda x, W_H, b_H, W_T, b_T: reference(x, W_H, b_H, W_T, b_T) + 0.1)
    Traceback (most recent call last):
    ...
    AssertionError: check_highway_block: y differs from the expected value on case 1 of 6 (batch 1, width 1): max abs difference 0.1; first at y[0, 0]: got 0.534056, expected 0.434056.
    """  # noqa: E501
    randn = normal(7)
    cases = [_case(randn, batch, width) for batch, width in SHAPES]
    batches, widths = zip(*SHAPES, strict=True)
    summary = f"random layers (batch {span(batches)}, width {span(widths)})"
    hint = "Shapes: x (batch, width), W_H and W_T (width, width), b_H and b_T (width,)."
    run("check_highway_block", fn, cases, reference, _MISTAKES, summary=summary, hint=hint)
