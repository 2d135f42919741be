"""The Jacobian-product exercise (chapter 2): its cases and its known mistakes.

The reference is the library's :func:`rnnlib.gradients.jacobian_product`. Shapes: B batch,
T time steps, H hidden units.

Not here: the runner that calls the reader's function (``_runner``); step Jacobians of a real
RNN and their norms (:mod:`rnnlib.gradients`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..gradients import jacobian_product
from ._runner import Case, Mistake, normal, run, span

__all__ = ["check_jacobian_product", "reference"]

#: The reference: :func:`rnnlib.gradients.jacobian_product`.
reference = jacobian_product


def _product_over(jacobians, steps, earliest_left=False):
    """The product of ``jacobians[:, t - 1]`` over ``steps``, each new factor on the left
    (or on the right with ``earliest_left``): (B, H, H)."""
    batch, _, hidden, _ = jacobians.shape
    product = torch.eye(hidden, dtype=jacobians.dtype).expand(batch, hidden, hidden)
    for t in steps:
        J_t = jacobians[:, t - 1]
        product = product @ J_t if earliest_left else J_t @ product
    return product


_MISTAKES = [
    Mistake(
        "your function multiplies in the wrong order, earliest Jacobian on the left (J_{j+1} ... "
        "J_i); the later step multiplies from the left: J_i J_{i-1} ... J_{j+1}.",
        (lambda J, i, j: _product_over(J, range(j + 1, i + 1), earliest_left=True),),
    ),
    Mistake(
        "off by one: the product includes J_j, one factor too many; it runs over the steps t = "
        "j+1 .. i, and the Jacobian of step t is jacobians[:, t - 1].",
        (lambda J, i, j: _product_over(J, range(j, i + 1)),),
    ),
    Mistake(
        "off by one: the product misses its last factor J_i; it runs over the steps t = j+1 .. i,"
        " both ends included.",
        (lambda J, i, j: _product_over(J, range(j + 1, i)),),
    ),
    Mistake(
        "off by one: the product misses its first factor J_{j+1}; it runs over the steps t = j+1 "
        ".. i, both ends included.",
        (lambda J, i, j: _product_over(J, range(j + 2, i + 1)),),
    ),
    Mistake(
        "your function returns the transpose, J_{j+1}^T ... J_i^T, the matrix that carries a "
        "gradient backwards; the Jacobian dh_i/dh_j has a row per component of h_i: J_i ... "
        "J_{j+1}.",
        (lambda J, i, j: _product_over(J, range(j + 1, i + 1)).mT,),
    ),
    Mistake(
        "your function is wrong only where i == j: the product then has no factors and is the "
        "identity, one (hidden, hidden) identity per example, shape (batch, hidden, hidden).",
        only_where=lambda case: case.args["i"] == case.args["j"],
    ),
]

#: (batch, T, hidden, i, j): i == j twice (once at 0), j = 0, i = T, T = 1 and hidden 1.
CASES = [
    (1, 1, 1, 1, 0),
    (2, 4, 3, 3, 1),
    (1, 5, 2, 5, 0),
    (3, 3, 4, 2, 2),
    (2, 6, 5, 6, 3),
    (4, 2, 3, 0, 0),
    (2, 5, 3, 4, 2),
]


def _cases(seed: int = 3) -> list[Case]:
    randn = normal(seed)
    return [
        Case(
            {"jacobians": randn(batch, steps, hidden, hidden) / hidden**0.5, "i": i, "j": j},
            f"batch {batch}, T {steps}, hidden {hidden}, i={i}, j={j}",
            {"the product": "= (batch, hidden, hidden)"},
            "a tensor of shape (batch, hidden, hidden)",
        )
        for batch, steps, hidden, i, j in CASES
    ]


def check_jacobian_product(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(jacobians, i, j) -> (batch, hidden, hidden)``, the product of step Jacobians

    .. math:: \frac{\partial h^{(i)}}{\partial h^{(j)}} = J_i J_{i-1} \cdots J_{j+1}
        \quad (\text{the identity when } i = j),

    with ``jacobians`` of shape ``(batch, T, hidden, hidden)``, ``jacobians[:, t - 1]`` the
    Jacobian :math:`J_t` of step ``t``, and ``0 <= j <= i <= T`` (see
    :func:`rnnlib.gradients.jacobian_product`, the reference).

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.jacobian_product import reference
    >>> check_jacobian_product(reference)
    check_jacobian_product: correct on 7 random cases (batch 1..4, T 1..6, hidden 1..5, i == j included).
    >>> check_jacobian_product(lambda jacobians, i, j: reference(jacobians, i, j).mT)
    Traceback (most recent call last):
    ...
    AssertionError: check_jacobian_product: your function returns the transpose, J_{j+1}^T ... J_i^T, the matrix that carries a gradient backwards; the Jacobian dh_i/dh_j has a row per component of h_i: J_i ... J_{j+1}.
    """  # noqa: E501
    batches, steps, hiddens, _, _ = zip(*CASES, strict=True)
    summary = (
        f"random cases (batch {span(batches)}, T {span(steps)}, hidden {span(hiddens)}, "
        "i == j included)"
    )
    hint = (
        "jacobians is (batch, T, hidden, hidden) and jacobians[:, t - 1] is the Jacobian of "
        "step t, t = 1..T."
    )
    run("check_jacobian_product", fn, _cases(), reference, _MISTAKES, summary=summary, hint=hint)
