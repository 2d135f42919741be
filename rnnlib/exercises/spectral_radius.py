"""The spectral-radius exercise (chapter 3): its cases and its known mistakes.

The reference is the library's :func:`rnnlib.gradients.scale_to_spectral_radius`.

Not here: the runner that calls the reader's function (``_runner``); the spectral radius itself
and the initialisations built on it (:mod:`rnnlib.gradients`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..gradients import scale_to_spectral_radius
from ._runner import Case, Mistake, normal, run, span

__all__ = ["check_scale_to_spectral_radius", "reference"]

#: The reference: :func:`rnnlib.gradients.scale_to_spectral_radius`.
reference = scale_to_spectral_radius


def _scaled_by(measure, inverse=False):
    """``W * radius / measure(W)`` (or its inverse factor): a scaling with a wrong measure."""

    def scale(W, radius):
        current = measure(W)
        return W * (current / radius if inverse else radius / current)

    return scale


def _eigenvalue_modulus(W):
    return torch.linalg.eigvals(W).abs().max()


_MISTAKES = [
    Mistake(
        "your function scales by the largest singular value ||W||_2 instead of the eigenvalue "
        "modulus: the spectral radius is rho(W) = max |lambda(W)| over the eigenvalues, which is "
        "at most ||W||_2 and smaller for a non-normal W.",
        (_scaled_by(lambda W: torch.linalg.svdvals(W)[0]),),
    ),
    Mistake(
        "your function scales by the Frobenius norm of W instead of its spectral radius rho(W) = "
        "max |lambda(W)| over the eigenvalues.",
        (_scaled_by(torch.linalg.matrix_norm),),
    ),
    Mistake(
        "your function uses the largest real part of the eigenvalues instead of their largest "
        "modulus: eigenvalues of a real matrix can be negative or complex; rho(W) = max "
        "|lambda(W)|.",
        (_scaled_by(lambda W: torch.linalg.eigvals(W).real.max()),),
    ),
    Mistake(
        "the factor is inverted: multiply W by radius / rho(W), not rho(W) / radius.",
        (_scaled_by(_eigenvalue_modulus, inverse=True),),
    ),
    Mistake(
        "your function multiplies W by radius without dividing by its current spectral radius "
        "rho(W).",
        (_scaled_by(lambda W: 1.0),),
    ),
]

#: (size, radius): size 1 included, radii below, at and above 1.
CASES = [(1, 0.5), (2, 0.9), (3, 1.0), (4, 1.5), (5, 0.95), (7, 3.0)]


def _cases(seed: int = 4) -> list[Case]:
    randn = normal(seed)
    return [
        Case(
            {"W": randn(size, size) / size**0.5, "radius": radius},
            f"W of shape ({size}, {size}), radius {radius:g}",
            {"W'": "= (hidden, hidden), that of W"},
            "a tensor W' of the shape of W",
        )
        for size, radius in CASES
    ]


def check_scale_to_spectral_radius(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(W, radius) -> W'``: a copy of the square ``W`` with spectral radius ``radius``
    and the same eigenvectors,

    .. math:: W' = W \cdot \frac{\text{radius}}{\rho(W)}, \qquad
        \rho(W) = \max_m \lvert \lambda_m(W) \rvert

    (see :func:`rnnlib.gradients.scale_to_spectral_radius`, the reference). ``W`` must not be
    modified.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.spectral_radius import reference
    >>> check_scale_to_spectral_radius(reference)
    check_scale_to_spectral_radius: correct on 6 random matrices (size 1..7, radius 0.5..3.0).
    >>> check_scale_to_spectral_radius(lambda W, radius: radius * W / W.norm())
    Traceback (most recent call last):
    ...
    AssertionError: check_scale_to_spectral_radius: your function scales by the Frobenius norm of W instead of its spectral radius rho(W) = max |lambda(W)| over the eigenvalues.
    """  # noqa: E501
    sizes, radii = zip(*CASES, strict=True)
    summary = f"random matrices (size {span(sizes)}, radius {span(radii)})"
    hint = "W is a square (hidden, hidden) float64 tensor, radius a float."
    name = "check_scale_to_spectral_radius"
    run(name, fn, _cases(), reference, _MISTAKES, summary=summary, hint=hint)
