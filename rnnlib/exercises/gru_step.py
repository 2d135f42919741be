"""The GRU-step exercise (chapter 6): its reference, its cases and its known mistakes.

The lecture's GRU resets *before* the recurrent matmul (Cho et al.); :class:`rnnlib.cells.GRUCell`
follows torch and resets after it. Shapes: B batch, I input features, H hidden units.

Not here: the runner that calls the reader's function (``_runner``), the cases and the gates'
pre-activation shared with the LSTM step (``_steps``), the library's GRU
(:class:`rnnlib.cells.GRUCell`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..checks import check_choice
from ._runner import Mistake, identity, run
from ._steps import gate_pre_activation, step_cases, step_hint, step_summary

__all__ = ["check_gru_step", "reference"]

#: Where a wrong step puts the reset gate r in h~: the reference's place and three mistakes.
RESETS = ("before", "after", "after, bias inside", "missing")


def reference(x, h_prev, p) -> torch.Tensor:
    """One step of the lecture's GRU (the equations of :func:`check_gru_step`): ``h`` (B, H).

    With zero weights both gates are sigmoid(0) = 0.5 and the new content tanh(0) = 0, so the
    step keeps half of the old state:

    >>> p = {f"{kind}_{g}": torch.zeros(1, 1) for kind in "WU" for g in "urh"}
    >>> p |= {f"b_{g}": torch.zeros(1) for g in "urh"}
    >>> reference(torch.ones(1, 1), torch.full((1, 1), 2.0), p)
    tensor([[1.]])
    """
    # u = sigmoid(W_u h_prev + U_u x + b_u), r likewise
    u, r = (torch.sigmoid(gate_pre_activation(p, gate, x, h_prev)) for gate in "ur")
    # h~ = tanh(W_h (r * h_prev) + U_h x + b_h)
    h_tilde = torch.tanh((r * h_prev) @ p["W_h"].T + x @ p["U_h"].T + p["b_h"])
    # h = (1 - u) * h_prev + u * h~
    return (1 - u) * h_prev + u * h_tilde


def _wrong_gru(roles="ur", reset="before", squash=torch.tanh, keep_when_u_is=0):
    """A GRU step with one mistake: ``roles`` are the gates used as (u, r), ``reset`` where r
    enters h~ (one of :data:`RESETS`), ``squash`` the function of h~, ``keep_when_u_is`` the u
    that keeps h_prev."""
    check_choice(reset, "reset", RESETS)

    def step(x, h_prev, p):
        gate = {g: torch.sigmoid(gate_pre_activation(p, g, x, h_prev)) for g in "ur"}
        u, r = (gate[g] for g in roles)
        W_h, U_h, b_h = p["W_h"], p["U_h"], p["b_h"]
        recurrent = {
            "before": (r * h_prev) @ W_h.T + b_h,
            "after": r * (h_prev @ W_h.T) + b_h,
            "after, bias inside": r * (h_prev @ W_h.T + b_h),
            "missing": h_prev @ W_h.T + b_h,
        }[reset]
        h_tilde = squash(recurrent + x @ U_h.T)
        if keep_when_u_is == 1:
            return u * h_prev + (1 - u) * h_tilde
        return (1 - u) * h_prev + u * h_tilde

    return step


_MISTAKES = [
    Mistake(
        "the update convention is swapped: h = u * h_prev + (1 - u) * h~ keeps the old state when"
        " u = 1; the lecture's GRU is h = (1 - u) * h_prev + u * h~ (u = 0 keeps it).",
        (_wrong_gru(keep_when_u_is=1),),
    ),
    Mistake(
        "the reset gate multiplies W_h h_prev after the matmul (torch.nn.GRU's and "
        "rnnlib.GRUCell's form); the lecture's GRU resets before it: h~ = tanh(W_h (r * h_prev) +"
        " U_h x + b_h).",
        (_wrong_gru(reset="after"), _wrong_gru(reset="after, bias inside")),
    ),
    Mistake(
        "the reset gate is missing: h~ uses W_h h_prev; the lecture's GRU uses h~ = tanh(W_h (r *"
        " h_prev) + U_h x + b_h).",
        (_wrong_gru(reset="missing"),),
    ),
    Mistake(
        "the update gate u and the reset gate r are swapped: r = sigmoid(W_r h_prev + U_r x + "
        "b_r) multiplies h_prev inside h~, u blends h_prev and h~.",
        (_wrong_gru(roles="ru"),),
    ),
    Mistake(
        "h~ is missing its tanh: h~ = tanh(W_h (r * h_prev) + U_h x + b_h).",
        (_wrong_gru(squash=identity),),
    ),
    Mistake(
        "h~ uses a sigmoid; it needs a tanh, h~ = tanh(W_h (r * h_prev) + U_h x + b_h), so that "
        "it can be negative.",
        (_wrong_gru(squash=torch.sigmoid),),
    ),
]


def check_gru_step(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, h_prev, p) -> h``, one step of the lecture's GRU.

    ``x`` is ``(batch, input)``, ``h_prev`` is ``(batch, hidden)``, ``p`` is a dict with
    ``W_u, W_r, W_h`` ``(hidden, hidden)``, ``U_u, U_r, U_h`` ``(hidden, input)`` and
    ``b_u, b_r, b_h`` ``(hidden,)``. The reset gate acts *before* the matmul (Cho et al.),
    unlike :class:`rnnlib.GRUCell` (torch's form, after it):

    .. math::
        u &= \sigma(W_u h_{prev} + U_u x + b_u), \quad
        r = \sigma(W_r h_{prev} + U_r x + b_r) \\
        \tilde h &= \tanh(W_h (r \circ h_{prev}) + U_h x + b_h), \qquad
        h = (1 - u) \circ h_{prev} + u \circ \tilde h

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.gru_step import reference
    >>> check_gru_step(reference)
    check_gru_step: correct on 6 random cases (batch 1..5, hidden 1..7).
    >>> check_gru_step(lambda x, h_prev, p: reference(x, h_prev, p) + 1e-3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: check_gru_step: h differs from the expected value on case 1 of 6 (batch 1, input 1, hidden 1): max abs difference 0.001; ...
    """  # noqa: E501
    cases = step_cases(1, "urh", with_c=False)
    hint = step_hint("urh", "h_prev")
    run("check_gru_step", fn, cases, reference, _MISTAKES, summary=step_summary(), hint=hint)
