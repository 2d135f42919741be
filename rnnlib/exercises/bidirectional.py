"""The bidirectional exercise (chapter 8): its reference, its cases and its known mistakes.

Shapes: B batch, T time steps, I input features, H hidden units (per direction).

Not here: the runner that calls the reader's function (``_runner``); the library's
bidirectional wrapper (:class:`rnnlib.layers.Bidirectional`) and its cells
(:class:`rnnlib.cells.RNNCell`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..cells import RNNCell
from ..checks import check_choice
from ._runner import Case, Mistake, normal, run, span

__all__ = ["check_bidirectional_states", "reference"]


def _one_direction(cell, x, reverse=False, back_in_order=True):
    """The hidden states of ``cell`` run over ``x`` (B, T, I), read forwards or (``reverse``)
    from t = T down to 1; returned (B, T, H) in time order unless ``back_in_order`` is False
    (then in reading order)."""
    inputs = x.unbind(1)  # T tensors (B, I)
    h, states = None, []
    for x_t in reversed(inputs) if reverse else inputs:
        h = cell(x_t, h)
        states.append(h)
    if reverse and back_in_order:
        states = states[::-1]
    return torch.stack(states, dim=1)  # (B, T, H)


def _bidirectional(reverse_back=True, same="", swapped=False, backward_reversed=True):
    """The bidirectional pass, or one with a mistake: the backward states left in reading order,
    one cell for both directions (``same`` = "forward" or "backward"), the halves swapped, or
    the backward cell reading forwards."""
    check_choice(same, "same", ("", "forward", "backward"))

    def states(x, forward_cell, backward_cell):
        if same == "forward":
            backward_cell = forward_cell
        elif same == "backward":
            forward_cell = backward_cell
        # h_fwd^(t) = cell_fwd(x^(t), h_fwd^(t-1)), t = 1..T
        h_forward = _one_direction(forward_cell, x)
        # h_bwd^(t) = cell_bwd(x^(t), h_bwd^(t+1)), t = T..1
        h_backward = _one_direction(backward_cell, x, backward_reversed, reverse_back)
        # h^(t) = [h_fwd^(t); h_bwd^(t)]
        halves = [h_backward, h_forward] if swapped else [h_forward, h_backward]
        return torch.cat(halves, dim=-1)  # (B, T, 2H)

    return states


_reference_states = _bidirectional()


def reference(x, forward_cell, backward_cell) -> torch.Tensor:
    """The states of a bidirectional RNN (those of :func:`check_bidirectional_states`):
    ``h`` (B, T, 2H), the forward half first.

    >>> from rnnlib.cells import RNNCell
    >>> reference(torch.zeros(3, 5, 2), RNNCell(2, 4), RNNCell(2, 4)).shape
    torch.Size([3, 5, 8])
    """
    return _reference_states(x, forward_cell, backward_cell)


_MISTAKES = [
    Mistake(
        "the backward states are in reading order (h_bwd^(T) first): after the backward pass, "
        "reverse its states back so that position t holds h_bwd^(t), the state that has read "
        "x^(T), ..., x^(t).",
        (_bidirectional(reverse_back=False), _bidirectional(reverse_back=False, swapped=True)),
    ),
    Mistake(
        "both directions use the same cell: the backward direction has its own weights, "
        "backward_cell, separate from forward_cell's.",
        (
            _bidirectional(same="forward"),
            _bidirectional(same="backward"),
            _bidirectional(same="forward", reverse_back=False),
        ),
    ),
    Mistake(
        "the halves are concatenated in the wrong order: h^(t) = [h_fwd^(t); h_bwd^(t)], the "
        "forward state first (as torch.nn does).",
        (_bidirectional(swapped=True),),
    ),
    Mistake(
        "the backward cell reads the sequence forwards: it must start at the last step, x^(T), "
        "and end at the first.",
        (
            _bidirectional(backward_reversed=False),
            _bidirectional(backward_reversed=False, swapped=True),
        ),
    ),
]

#: (batch, time, input, hidden): batch 1, time 1 and hidden 1 included.
SHAPES = [(1, 1, 2, 3), (1, 4, 1, 1), (2, 3, 3, 2), (3, 5, 2, 4), (4, 6, 3, 3)]


def _random_cell(randn, input_size: int, hidden: int) -> RNNCell:
    """A float64 tanh cell with N(0, 1) weights, frozen."""
    cell = RNNCell(input_size, hidden).double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.copy_(randn(*parameter.shape))
    return cell.requires_grad_(False)


def _case(randn, batch: int, time: int, input_size: int, hidden: int) -> Case:
    cells = [_random_cell(randn, input_size, hidden) for _ in range(2)]
    return Case(
        {"x": randn(batch, time, input_size), "forward_cell": cells[0], "backward_cell": cells[1]},
        f"batch {batch}, time {time}, input {input_size}, hidden {hidden}",
        {"h": "= (batch, time, 2 * hidden)"},
        "a tensor h of shape (batch, time, 2 * hidden)",
    )


def check_bidirectional_states(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, forward_cell, backward_cell) -> h``, the hidden states of a bidirectional
    RNN built from two cells (:class:`rnnlib.layers.Bidirectional`), starting from zero states:

    .. math::
        \overrightarrow{h}^{(t)} = \text{cell}_{\rightarrow}(x^{(t)}, \overrightarrow{h}^{(t-1)}),
        \quad
        \overleftarrow{h}^{(t)} = \text{cell}_{\leftarrow}(x^{(t)}, \overleftarrow{h}^{(t+1)}),
        \quad
        h^{(t)} = [\overrightarrow{h}^{(t)}; \overleftarrow{h}^{(t)}]

    ``x`` is ``(batch, time, input)``; the cells are float64 :class:`rnnlib.cells.RNNCell`\ s
    (call ``cell(x_t, h)`` with ``x_t`` of shape ``(batch, input)``; ``h=None`` is the zero
    state); ``h`` is ``(batch, time, 2 * hidden)``, the forward half first.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.bidirectional import reference
    >>> check_bidirectional_states(reference)
    check_bidirectional_states: correct on 5 random bidirectional RNNs (time 1..6, hidden 1..4).
    >>> def one_cell(x, forward_cell, backward_cell):
    ...     return reference(x, forward_cell, forward_cell)
    >>> check_bidirectional_states(one_cell)
    Traceback (most recent call last):
    ...
    AssertionError: check_bidirectional_states: both directions use the same cell: the backward direction has its own weights, backward_cell, separate from forward_cell's.
    """  # noqa: E501
    randn = normal(8)
    cases = [_case(randn, *shape) for shape in SHAPES]
    _, times, _, hiddens = zip(*SHAPES, strict=True)
    summary = f"random bidirectional RNNs (time {span(times)}, hidden {span(hiddens)})"
    hint = (
        "Shapes: x (batch, time, input); forward_cell(x_t, h) and backward_cell(x_t, h) take "
        "x_t (batch, input) and h (batch, hidden) or None, and return the next h."
    )
    name = "check_bidirectional_states"
    run(name, fn, cases, reference, _MISTAKES, summary=summary, hint=hint)
