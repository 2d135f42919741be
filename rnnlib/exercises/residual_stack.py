"""The residual-stack exercise (chapter 9): its reference, its cases and its known mistakes.

Shapes: B batch, T time steps, I input features, H hidden units (every layer's), L layers.

Not here: the runner that calls the reader's function (``_runner``); the library's stacks with
residual, highway and dense skips (:class:`rnnlib.layers.StackedRNN`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..checks import check_choice
from ._runner import Case, Mistake, normal, run, span

__all__ = ["check_residual_stack", "reference"]


def _stack(residual=True, inside=False, before_tanh=False, returns="top"):
    """A stack of tanh RNN layers with residual connections from the second layer up, or one
    with a mistake: no residual connections, the residual fed back into the recurrence, added
    before the tanh, or the bottom layer's output returned (``returns="bottom"``)."""
    check_choice(returns, "returns", ("top", "bottom"))

    def stack(x, layers):
        outputs = []
        for k, p in enumerate(layers):
            skip = residual and k > 0
            h = x.new_zeros(x.shape[0], p["W_h"].shape[0])  # (B, H)
            steps = []
            for x_t in x.unbind(1):  # T tensors (B, I) at the bottom, (B, H) above
                # h_t = tanh(W_x x_t + W_h h_{t-1} + b)
                pre = x_t @ p["W_x"].T + h @ p["W_h"].T + p["b"]
                h = torch.tanh(pre + x_t if skip and before_tanh else pre)
                if skip and inside:
                    # the mistake: the sum becomes the recurrent state
                    h = h + x_t
                steps.append(h)
            h_all = torch.stack(steps, dim=1)  # (B, T, H)
            # x_{l+1} = h_l + x_l above the first layer
            x = h_all + x if skip and not (inside or before_tanh) else h_all
            outputs.append(x)
        return outputs[0] if returns == "bottom" else x

    return stack


_reference_stack = _stack()


def reference(x, layers) -> torch.Tensor:
    """The top of a residual stack (the equations of :func:`check_residual_stack`): (B, T, H).

    One layer has no residual connection: it is a plain tanh RNN.

    >>> layer = {"W_x": torch.ones(1, 1), "W_h": torch.zeros(1, 1), "b": torch.zeros(1)}
    >>> reference(torch.zeros(1, 3, 1), [layer]).shape
    torch.Size([1, 3, 1])
    """
    return _reference_stack(x, layers)


_MISTAKES = [
    Mistake(
        "no residual connections: this is the plain stack, x_(l+1) = h_l. Above the first "
        "layer, add each layer's input to its output: x_(l+1) = h_l + x_l.",
        (_stack(residual=False),),
    ),
    Mistake(
        "the residual is fed back into the recurrence: the sum h_l + x_l is what the next "
        "layer reads, but the layer's own recurrent state h^(t-1) is its tanh output alone.",
        (_stack(inside=True),),
    ),
    Mistake(
        "the input is added before the tanh, tanh(W_x x + W_h h + b + x); the residual adds "
        "it after: x_(l+1) = tanh(...) + x_l.",
        (_stack(before_tanh=True),),
    ),
    Mistake(
        "returns the first layer's outputs; return the top of the stack, x_(L+1).",
        (_stack(returns="bottom"), _stack(residual=False, returns="bottom")),
    ),
]

#: (batch, time, input, hidden, layers): batch 1, time 1 and one layer included.
SHAPES = [(1, 1, 2, 3, 2), (2, 4, 3, 5, 3), (3, 5, 1, 4, 1), (1, 6, 4, 2, 4), (4, 3, 5, 6, 2)]


def _layer(randn, features: int, hidden: int) -> dict[str, torch.Tensor]:
    scale = 1 / math.sqrt(features + hidden)
    return {
        "W_x": scale * randn(hidden, features),
        "W_h": scale * randn(hidden, hidden),
        "b": 0.5 * randn(hidden),
    }


def _case(randn, batch: int, time: int, input_size: int, hidden: int, depth: int) -> Case:
    layers = [_layer(randn, input_size if k == 0 else hidden, hidden) for k in range(depth)]
    return Case(
        {"x": randn(batch, time, input_size), "layers": layers},
        f"batch {batch}, time {time}, input {input_size}, hidden {hidden}, "
        f"{depth} layer{'s' if depth > 1 else ''}",
        {"outputs": "= (batch, time, hidden)"},
        "a tensor of shape (batch, time, hidden)",
    )


def check_residual_stack(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, layers) -> outputs``, a stack of tanh RNN layers with residual
    connections between them (:class:`rnnlib.layers.StackedRNN` with ``skip="residual"``):

    .. math::
        h_l^{(t)} = \tanh\big(W_{x,l}\, x_l^{(t)} + W_{h,l}\, h_l^{(t-1)} + b_l\big),
        \quad h_l^{(0)} = 0, \qquad
        x_{l+1}^{(t)} = \begin{cases} h_1^{(t)} & l = 1 \\
            h_l^{(t)} + x_l^{(t)} & l > 1 \end{cases}

    ``x`` (:math:`x_1`) is ``(batch, time, input)``; ``layers`` is a list of dicts, one per
    layer from the bottom, with ``W_x`` ``(hidden, input)`` for the first layer and
    ``(hidden, hidden)`` above it, ``W_h`` ``(hidden, hidden)`` and ``b`` ``(hidden,)``. The
    first layer changes the size, so it has no residual connection. Return the top of the
    stack, :math:`x_{L+1}`, shape ``(batch, time, hidden)``.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.residual_stack import reference
    >>> check_residual_stack(reference)
    check_residual_stack: correct on 5 random stacks (batch 1..4, time 1..6, hidden 2..6, 1..4 layers).
    >>> check_residual_stack(lambda x, layers: reference(x, layers[:1]))
    Traceback (most recent call last):
    ...
    AssertionError: check_residual_stack: returns the first layer's outputs; return the top of the stack, x_(L+1).
    """  # noqa: E501
    randn = normal(9)
    cases = [_case(randn, *shape) for shape in SHAPES]
    batches, times, _, hiddens, depths = zip(*SHAPES, strict=True)
    summary = (
        f"random stacks (batch {span(batches)}, time {span(times)}, hidden {span(hiddens)}, "
        f"{span(depths)} layers)"
    )
    hint = (
        "Shapes: x (batch, time, input); per layer W_x (hidden, input or hidden), W_h "
        "(hidden, hidden), b (hidden,)."
    )
    run("check_residual_stack", fn, cases, reference, _MISTAKES, summary=summary, hint=hint)
