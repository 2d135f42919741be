"""What the LSTM-step and GRU-step exercises share: the gates' pre-activation, the cases, the hint.

Shapes: B batch, I input features, H hidden units. The weights of a gate ``g`` are the
lecture's ``W_g`` (H, H) on ``h_prev``, ``U_g`` (H, I) on ``x`` and ``b_g`` (H,), in one dict
``p``.

Not here: the steps themselves and their mistakes (:mod:`rnnlib.exercises.lstm_step`,
:mod:`rnnlib.exercises.gru_step`); the runner (``_runner``).
"""

from __future__ import annotations

import math

import torch

from ._runner import Case, normal, span

#: (batch, input, hidden) of the step exercises' cases: batch 1 and hidden 1 included.
STEP_SHAPES = [(1, 1, 1), (1, 3, 4), (2, 5, 3), (3, 2, 7), (5, 4, 2), (4, 6, 6)]


def gate_pre_activation(p: dict[str, torch.Tensor], gate: str, x, h_prev) -> torch.Tensor:
    """``W_gate h_prev + U_gate x + b_gate`` for each row (example) of the batch: (B, H)."""
    return h_prev @ p[f"W_{gate}"].T + x @ p[f"U_{gate}"].T + p[f"b_{gate}"]


def step_cases(seed: int, gates: str, with_c: bool) -> list[Case]:
    """Random steps of the sizes in :data:`STEP_SHAPES`; pre-activations are about N(0, 1)."""
    randn = normal(seed)
    cases = []
    for batch, input_size, hidden in STEP_SHAPES:
        scale = 1 / math.sqrt(input_size + hidden + 1)
        p = {f"W_{g}": scale * randn(hidden, hidden) for g in gates}
        p |= {f"U_{g}": scale * randn(hidden, input_size) for g in gates}
        p |= {f"b_{g}": scale * randn(hidden) for g in gates}
        args = {"x": randn(batch, input_size), "h_prev": randn(batch, hidden)}
        if with_c:
            args["c_prev"] = 1.5 * randn(batch, hidden)
        outputs = ("h", "c") if with_c else ("h",)
        returns = "the pair (h, c)" if with_c else "a tensor h of shape (batch, hidden)"
        shapes = f"batch {batch}, input {input_size}, hidden {hidden}"
        layouts = {name: "= (batch, hidden)" for name in outputs}
        cases.append(Case(args | {"p": p}, shapes, layouts, returns))
    return cases


def step_hint(gates: str, state: str) -> str:
    """The arguments' layout, for an error raised inside the reader's step."""
    keys = ", ".join(f"{kind}_{g}" for kind in "WUb" for g in gates)
    return (
        f"Shapes: x (batch, input), {state} (batch, hidden), W_* (hidden, hidden), "
        f"U_* (hidden, input), b_* (hidden,); each row of x is one example. p's keys: {keys}."
    )


def step_summary() -> str:
    """The end of a step checker's success line: the cases' batch and hidden sizes."""
    batches, _, hiddens = zip(*STEP_SHAPES, strict=True)
    return f"random cases (batch {span(batches)}, hidden {span(hiddens)})"
