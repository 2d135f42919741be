r"""Gradient clipping from scratch (Pascanu, Mikolov & Bengio 2013).

Clipping by norm rescales the whole gradient :math:`g` (all parameters viewed as one vector)
when its norm passes a threshold, which keeps its direction:

.. math::
    \text{if } \lVert g \rVert \ge \text{threshold}: \quad
    g \leftarrow \frac{\text{threshold}}{\lVert g \rVert}\, g

Clipping by value clamps every coordinate to ``[-clip_value, clip_value]``, which changes the
direction whenever some coordinates are clamped and others are not.

Both functions here give the same numbers as ``torch.nn.utils.clip_grad_norm_`` and
``torch.nn.utils.clip_grad_value_``, including their edge cases (tested in
``tests/lib/test_clipping.py``): torch multiplies by ``min(max_norm / (norm + 1e-6), 1)``, so a
zero gradient stays zero, and a gradient with an ``inf`` entry has an infinite norm, a
coefficient of 0 and comes out as ``nan`` where it was ``inf`` and 0 elsewhere.

Not here: where clipping happens during training (``clip_norm=`` of :func:`rnnlib.train.fit`),
measuring gradients through time (:mod:`rnnlib.gradients`), and the exercise that asks the
reader to write clipping (:mod:`rnnlib.exercises`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["clip_grad_norm", "clip_grad_value", "global_grad_norm"]

Parameters = torch.Tensor | Iterable[torch.Tensor]


def _grads(parameters: Parameters) -> list[torch.Tensor]:
    """The ``.grad`` of every parameter that has one (parameters without a gradient are skipped)."""
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def global_grad_norm(parameters: Parameters, norm_type: float = 2.0) -> torch.Tensor:
    r"""The norm of all gradients viewed as one vector, :math:`\lVert g \rVert_p`.

    ``norm_type`` is ``p`` (``float("inf")`` for the largest absolute entry). Returns a 0-d
    tensor; ``tensor(0.)`` when no parameter has a gradient.

    >>> w = torch.zeros(2, requires_grad=True)
    >>> w.grad = torch.tensor([3.0, -4.0])
    >>> global_grad_norm(w).item(), global_grad_norm(w, float("inf")).item()
    (5.0, 4.0)
    """
    return _norm_of(_grads(parameters), float(norm_type))


def _norm_of(grads: list[torch.Tensor], norm_type: float) -> torch.Tensor:
    if not grads:
        return torch.tensor(0.0)
    first_device = grads[0].device
    # ||g|| = || (||g_1||, ..., ||g_k||) ||: the norm of the per-tensor norms (any p, and inf).
    per_tensor = [torch.linalg.vector_norm(g, norm_type).to(first_device) for g in grads]
    return torch.linalg.vector_norm(torch.stack(per_tensor), norm_type)  # k norms (k,) -> ()


@torch.no_grad()
def clip_grad_norm(
    parameters: Parameters,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> torch.Tensor:
    r"""Rescale the gradients in place so that their global norm is at most ``max_norm``.

    .. math:: g \leftarrow g \cdot \min\!\left(\frac{\text{max\_norm}}{\lVert g \rVert + 10^{-6}},
              1\right)

    which is Pascanu et al.'s rule (``if ||g|| >= threshold: g <- threshold / ||g|| g``) written
    without a branch, with torch's small constant in the denominator. Returns the norm *before*
    clipping, as ``torch.nn.utils.clip_grad_norm_`` does. ``error_if_nonfinite=True`` raises a
    ``RuntimeError`` when that norm is ``nan`` or ``inf`` instead of scaling.

    A gradient of norm 5 shrinks to norm 1 and keeps its direction:

    >>> w = torch.zeros(2, requires_grad=True)
    >>> w.grad = torch.tensor([3.0, -4.0])
    >>> clip_grad_norm(w, max_norm=1.0).item()  # the norm before clipping
    5.0
    >>> [round(g, 4) for g in w.grad.tolist()], round(w.grad.norm().item(), 4)
    ([0.6, -0.8], 1.0)
    """
    grads = _grads(parameters)
    total_norm = _norm_of(grads, float(norm_type))
    if not grads:
        return total_norm
    if error_if_nonfinite and not torch.isfinite(total_norm):
        raise RuntimeError(
            f"the total norm of order {float(norm_type)} of the gradients is non-finite "
            f"({total_norm.item()}), so it cannot be clipped; set error_if_nonfinite=False to "
            "scale anyway (entries become nan), or find where the gradient overflows"
        )
    clip_coefficient = torch.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(clip_coefficient.to(g.device, g.dtype))
    return total_norm


@torch.no_grad()
def clip_grad_value(parameters: Parameters, clip_value: float) -> None:
    r"""Clamp every gradient entry to ``[-clip_value, clip_value]`` in place.

    .. math:: g_i \leftarrow \max(-\text{clip\_value}, \min(g_i, \text{clip\_value}))

    ``nan`` entries stay ``nan``; ``inf`` becomes ``clip_value``. Returns ``None`` like
    ``torch.nn.utils.clip_grad_value_``.

    Unlike :func:`clip_grad_norm`, it turns the gradient's direction:

    >>> w = torch.zeros(2, requires_grad=True)
    >>> w.grad = torch.tensor([3.0, -0.5])
    >>> clip_grad_value(w, 1.0)
    >>> w.grad.tolist()
    [1.0, -0.5]
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g.clamp_(min=-clip_value, max=clip_value)
