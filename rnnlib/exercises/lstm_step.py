"""The LSTM-step exercise (chapter 5): its reference, its cases and its known mistakes.

Shapes: B batch, I input features, H hidden units.

Not here: the runner that calls the reader's function (``_runner``), the cases and the gates'
pre-activation shared with the GRU step (``_steps``), the library's LSTM
(:class:`rnnlib.cells.LSTMCell`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._runner import Mistake, identity, run
from ._steps import gate_pre_activation, step_cases, step_hint, step_summary

__all__ = ["check_lstm_step", "reference"]


def reference(x, h_prev, c_prev, p) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the lecture's LSTM (the equations of :func:`check_lstm_step`): ``(h, c)``,
    each (B, H).

    With zero weights every gate is sigmoid(0) = 0.5 and the new content tanh(0) = 0, so the
    step keeps half of the old memory:

    >>> p = {f"{kind}_{g}": torch.zeros(1, 1) for kind in "WU" for g in "fioc"}
    >>> p |= {f"b_{g}": torch.zeros(1) for g in "fioc"}
    >>> h, c = reference(torch.ones(1, 1), torch.zeros(1, 1), torch.full((1, 1), 2.0), p)
    >>> c
    tensor([[1.]])
    """
    # f = sigmoid(W_f h_prev + U_f x + b_f), and i, o likewise
    f, i, o = (torch.sigmoid(gate_pre_activation(p, gate, x, h_prev)) for gate in "fio")
    # c~ = tanh(W_c h_prev + U_c x + b_c)
    c_tilde = torch.tanh(gate_pre_activation(p, "c", x, h_prev))
    # c = f * c_prev + i * c~
    c = f * c_prev + i * c_tilde
    # h = o * tanh(c)
    h = o * torch.tanh(c)
    return h, c


def _wrong_lstm(roles="fio", content=torch.tanh, squash=torch.tanh, memory="c", forget=True):
    """An LSTM step with one mistake: ``roles`` are the gates used as (f, i, o), ``content``
    and ``squash`` the functions of c~ and of c in h, ``memory`` the old state kept in c."""

    def step(x, h_prev, c_prev, p):
        gate = {g: torch.sigmoid(gate_pre_activation(p, g, x, h_prev)) for g in "fio"}
        f, i, o = (gate[g] for g in roles)
        old = c_prev if memory == "c" else h_prev
        c = (f * old if forget else old) + i * content(gate_pre_activation(p, "c", x, h_prev))
        return o * squash(c), c

    return step


def _c_then_h(x, h_prev, c_prev, p):
    return reference(x, h_prev, c_prev, p)[::-1]


_MISTAKES = [
    Mistake(
        "the forget gate f and the input gate i are swapped: c = f * c_prev + i * c~ (f decides "
        "what stays of the old memory, i how much new content enters).",
        (_wrong_lstm(roles="ifo"),),
    ),
    Mistake(
        "the output gate o and the input gate i are swapped: i multiplies the new content (c = f "
        "* c_prev + i * c~), o the output (h = o * tanh(c)).",
        (_wrong_lstm(roles="foi"),),
    ),
    Mistake(
        "the forget gate f and the output gate o are swapped: f multiplies c_prev (c = f * c_prev"
        " + i * c~), o the output (h = o * tanh(c)).",
        (_wrong_lstm(roles="oif"),),
    ),
    Mistake(
        "h = o * c is missing the tanh on the cell state: h = o * tanh(c).",
        (_wrong_lstm(squash=identity),),
    ),
    Mistake(
        "the new content c~ uses a sigmoid; it needs a tanh, c~ = tanh(W_c h_prev + U_c x + b_c),"
        " so that it can be negative.",
        (_wrong_lstm(content=torch.sigmoid),),
    ),
    Mistake(
        "the forget gate is missing: c = c_prev + i * c~ keeps all of the old memory; the "
        "lecture's cell is c = f * c_prev + i * c~.",
        (_wrong_lstm(forget=False),),
    ),
    Mistake(
        "your function uses h_prev where c_prev belongs: the old memory in c = f * c_prev + i * "
        "c~ is the cell state c_prev, not the hidden state h_prev.",
        (_wrong_lstm(memory="h"),),
    ),
    Mistake(
        "your function returns (c, h); return the pair in the order (h, c).",
        (_c_then_h,),
    ),
]


def check_lstm_step(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    r"""Check ``fn(x, h_prev, c_prev, p) -> (h, c)``, one step of the lecture's LSTM
    (:class:`rnnlib.cells.LSTMCell`'s equations).

    ``x`` is ``(batch, input)``, ``h_prev`` and ``c_prev`` are ``(batch, hidden)``, ``p`` is a
    dict with ``W_f, W_i, W_o, W_c`` ``(hidden, hidden)``, ``U_f, U_i, U_o, U_c``
    ``(hidden, input)`` and ``b_f, b_i, b_o, b_c`` ``(hidden,)``:

    .. math::
        f &= \sigma(W_f h_{prev} + U_f x + b_f), \quad i, o \text{ likewise} \\
        \tilde c &= \tanh(W_c h_{prev} + U_c x + b_c) \\
        c &= f \circ c_{prev} + i \circ \tilde c, \qquad h = o \circ \tanh c

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.lstm_step import reference
    >>> check_lstm_step(reference)
    check_lstm_step: correct on 6 random cases (batch 1..5, hidden 1..7).
    >>> check_lstm_step(lambda x, h_prev, c_prev, p: reference(x, h_prev, c_prev, p)[::-1])
    Traceback (most recent call last):
    ...
    AssertionError: check_lstm_step: your function returns (c, h); return the pair in the order (h, c).
    """  # noqa: E501
    cases = step_cases(0, "fioc", with_c=True)
    hint = step_hint("fioc", "h_prev, c_prev")
    run("check_lstm_step", fn, cases, reference, _MISTAKES, summary=step_summary(), hint=hint)
