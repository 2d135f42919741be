"""The gradient-reach exercise (chapter 10): its cases, its known mistakes and the check of an
integer answer (the runner's ``as_outputs`` hook).

The reference is the library's :func:`rnnlib.gradients.gradient_reach`.

Not here: the runner that calls the reader's function (``_runner``); the gradient norms by
distance that the reach is read from (:func:`rnnlib.gradients.gradient_norms_by_distance`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..gradients import gradient_reach
from ._runner import Case, Mistake, run, span, wrong_return

__all__ = ["check_gradient_reach", "reference"]

#: The reference: :func:`rnnlib.gradients.gradient_reach`.
reference = gradient_reach


def _first_below(norms, threshold):
    """Off by one: the first distance whose ratio is below the threshold."""
    below = (norms / norms[0] < threshold).nonzero()
    return int(below[0]) if len(below) else len(norms)


def _last_above(norms, threshold):
    """The last distance above the threshold anywhere, even after the curve fell below it."""
    return int((norms / norms[0] >= threshold).nonzero()[-1])


def _unnormalised(norms, threshold):
    """The raw norms compared with the threshold, not their ratio to distance 0."""
    above = (norms[1:] >= threshold).long().cumprod(0)
    return int(above.sum())


def _strict(norms, threshold):
    """``>`` where the definition says ``>=``."""
    above = (norms / norms[0] > threshold).long().cumprod(0)
    return int(above.sum()) - 1


def _count(norms, threshold):
    """How many distances are above the threshold, wherever they are."""
    return int((norms / norms[0] >= threshold).sum()) - 1


_MISTAKES = [
    Mistake(
        "your function returns the first distance whose ratio is below the threshold; the reach "
        "is the last distance before it (one less).",
        (_first_below,),
    ),
    Mistake(
        "your function compares the raw norms with the threshold; compare the ratio "
        "norms[k] / norms[0] (the gradient relative to where the loss is).",
        (_unnormalised,),
    ),
    Mistake(
        "your function returns the last distance above the threshold anywhere; the curve must "
        "stay above it at every distance up to the reach (a later rise does not count).",
        (_last_above,),
    ),
    Mistake(
        "your function counts every distance above the threshold, even after the curve fell "
        "below it; stop at the first one below.",
        (_count,),
    ),
    Mistake(
        "your function uses > where the definition says >=: a ratio exactly at the threshold "
        "still counts.",
        (_strict,),
    ),
]


_FALLS_AND_RISES = "a curve that falls below the threshold and rises again"


def _cases() -> list[Case]:
    """Decays, a rise after a fall, exact ties, no decay, one distance."""

    def curve(*norms: float) -> torch.Tensor:
        return torch.tensor(norms, dtype=torch.float64)

    halving = 3.0 * 0.5 ** torch.arange(12, dtype=torch.float64)
    steps = torch.arange(30, dtype=torch.float64)
    generator = torch.Generator().manual_seed(11)
    noise = torch.randn(30, generator=generator, dtype=torch.float64)
    curves = [
        (halving, 0.01, "a gradient that halves at every step, from 3.0"),
        (halving, 0.125, "the same, with a ratio exactly at the threshold at k = 3"),
        (curve(2.0, 1.5, 0.01, 0.002, 1.0, 1.8), 0.1, _FALLS_AND_RISES),
        (1e-2 * torch.exp(-0.3 * steps + 0.5 * noise), 1e-3, "a noisy exponential decay from 0.01"),
        (torch.full((5,), 0.5, dtype=torch.float64), 0.9, "no decay at all"),
        (curve(4.0), 0.5, "one distance only"),
        (curve(1.0, 1e-9, 1.0), 1e-6, "a fall at the first step"),
    ]
    layout = ({"reach": "K"}, "an int, the largest distance K")
    return [
        Case({"norms": norms, "threshold": threshold}, f"{text}, threshold {threshold:g}", *layout)
        for norms, threshold, text in curves
    ]


def _reach_as_output(name: str, result, case: Case, where: str) -> tuple[torch.Tensor, ...]:
    """The runner's ``as_outputs`` for an integer answer: a Python ``int`` or a 0-d integer
    tensor, compared as a 0-d float64 tensor."""
    if isinstance(result, torch.Tensor) and result.dim() == 0 and not result.is_floating_point():
        result = int(result)
    if isinstance(result, bool) or not isinstance(result, int):
        raise wrong_return(name, result, case, where)
    return (torch.tensor(float(result), dtype=torch.float64),)


def check_gradient_reach(fn: Callable[[torch.Tensor, float], int]) -> None:
    r"""Check ``fn(norms, threshold) -> int``, how far back a gradient reaches: the largest
    :math:`K` with

    .. math:: \frac{\text{norms}[k]}{\text{norms}[0]} \ge \text{threshold}
        \quad\text{for every } k = 0, \dots, K,

    where ``norms[k]`` is :math:`\|\partial J^{(t)} / \partial h^{(t-k)}\|` (a 1-D float64
    tensor; see :func:`rnnlib.gradients.gradient_reach`, the reference). ``norms`` must not be
    modified; a Python ``int`` or a 0-dimensional integer tensor may be returned.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.gradient_reach import reference
    >>> check_gradient_reach(reference)
    check_gradient_reach: correct on 7 gradient curves (lengths 1..30, a rise after a fall and exact ties included).
    >>> check_gradient_reach(lambda norms, threshold: 3)
    Traceback (most recent call last):
    ...
    AssertionError: check_gradient_reach: wrong reach on case 1 of 7 (a gradient that halves at every step, from 3.0, threshold 0.01): got 3, expected 6.
    """  # noqa: E501
    cases = _cases()
    lengths = [len(case.args["norms"]) for case in cases]
    summary = (
        f"gradient curves (lengths {span(lengths)}, a rise after a fall and exact ties included)"
    )
    hint = "norms is a 1-D float64 tensor."
    name = "check_gradient_reach"
    run(
        name,
        fn,
        cases,
        reference,
        _MISTAKES,
        summary=summary,
        hint=hint,
        as_outputs=_reach_as_output,
    )
