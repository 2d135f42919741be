"""The clipping-by-norm exercise (chapter 4): its reference, its cases and its known mistakes.

Not here: the runner that calls the reader's function (``_runner``); the library's clipping of a
model's gradients in place (:func:`rnnlib.clipping.clip_grad_norm`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._runner import LOOSE, Case, Mistake, normal, run, span

__all__ = ["check_clip_grad_norm", "reference"]


def reference(grads: list[torch.Tensor], threshold: float) -> list[torch.Tensor]:
    """Clip the list ``grads`` by its global L2 norm (the rule of :func:`check_clip_grad_norm`);
    new tensors, the inputs unchanged.

    >>> reference([torch.tensor([3.0]), torch.tensor([4.0])], threshold=1.0)
    [tensor([0.6000]), tensor([0.8000])]
    """
    norm = _l2(grads)
    if norm <= threshold:
        return [g.clone() for g in grads]
    # g <- threshold / ||g|| * g
    return [g * (threshold / norm) for g in grads]


def _l2(grads):
    """``||g|| = sqrt(sum_k ||g_k||^2)``: all tensors viewed as one vector."""
    return torch.sqrt(sum((g**2).sum() for g in grads))


def _l1(grads):
    return sum(g.abs().sum() for g in grads)


def _sum_of_norms(grads):
    return sum(torch.sqrt((g**2).sum()) for g in grads)


def _squared(grads):
    return sum((g**2).sum() for g in grads)


def _wrong_clip(norm_of=_l2, per_tensor=False, always=False, to_one=False, inverse=False):
    """Clipping with one mistake: the norm used, its scope, when and by what it scales."""

    def clip(grads, threshold):
        clipped = []
        for group in [[g] for g in grads] if per_tensor else [list(grads)]:
            norm = norm_of(group)
            factor = norm / threshold if inverse else (1 / norm if to_one else threshold / norm)
            scale = always or norm > threshold
            clipped += [g * factor if scale else g.clone() for g in group]
        return clipped

    return clip


_MISTAKES = [
    Mistake(
        "your function clips each tensor by its own norm; clipping by norm uses the global norm "
        "of all tensors together, ||g|| = sqrt(sum over tensors of ||g_k||^2), and scales every "
        "tensor by the same factor.",
        (_wrong_clip(per_tensor=True),),
    ),
    Mistake(
        "your function scales the gradients even when their norm is below the threshold; below it"
        " they must come back unchanged.",
        (_wrong_clip(always=True),),
    ),
    Mistake(
        "your function scales the gradients to norm 1 (g / ||g||); they should end with norm "
        "threshold: g * threshold / ||g||.",
        (_wrong_clip(to_one=True),),
    ),
    Mistake(
        "the factor is inverted: multiply by threshold / ||g||, not ||g|| / threshold (which "
        "makes large gradients larger).",
        (_wrong_clip(inverse=True),),
    ),
    Mistake(
        "your function uses the L1 norm (the sum of |g|); clipping by norm uses the L2 norm, sqrt"
        " of the sum of g^2 over all entries of all tensors.",
        (_wrong_clip(norm_of=_l1),),
    ),
    Mistake(
        "your function adds the per-tensor norms; the global norm is sqrt(||g_1||^2 + ||g_2||^2 +"
        " ...), the norm of all tensors viewed as one vector.",
        (_wrong_clip(norm_of=_sum_of_norms),),
    ),
    Mistake(
        "your function uses the squared norm (the sum of g^2) without its square root.",
        (_wrong_clip(norm_of=_squared),),
    ),
]

#: (shapes of the tensors, their global L2 norm, threshold): below, above and far above,
#: one to four tensors; the last is below the threshold while its L1 norm is above.
CASES = [
    ([(3, 4), (5,), (2, 2, 3)], 0.5, 1.0),
    ([(3, 4), (5,), (2, 2, 3)], 3.0, 1.0),
    ([(4,), (2, 3)], 500.0, 5.0),
    ([(6,)], 2.5, 1.0),
    ([(2, 3)], 0.2, 1.0),
    ([(1,), (3, 3), (2,), (4, 1)], 1000.0, 0.5),
    ([(7,), (2, 5)], 1.6, 2.0),
]


def _cases(seed: int = 2) -> list[Case]:
    randn = normal(seed)
    cases = []
    for shapes, norm, threshold in CASES:
        grads = [randn(*shape) for shape in shapes]
        grads = [g * (norm / _l2(grads)) for g in grads]
        relation = "<" if norm < threshold else ">"
        listed = ", ".join(str(shape) for shape in shapes)
        described = f"{len(shapes)} tensor(s) of shapes {listed}; norm {norm:g} {relation} "
        layouts = {f"grads[{m}]": f"(that of the input grads[{m}])" for m in range(len(shapes))}
        returns = f"a list of {len(shapes)} tensor(s), one per input tensor"
        args = {"grads": grads, "threshold": threshold}
        cases.append(Case(args, f"{described}threshold {threshold:g}", layouts, returns, True))
    return cases


def check_clip_grad_norm(fn: Callable[..., list[torch.Tensor]]) -> None:
    r"""Check ``fn(grads, threshold) -> list of tensors``, clipping by the global L2 norm.

    ``grads`` is a list of tensors of any shapes, ``threshold`` a float. With
    :math:`\lVert g \rVert = \sqrt{\sum_k \lVert g_k \rVert^2}`:

    .. math::
        \text{if } \lVert g \rVert > \text{threshold}: \quad
        g_k \leftarrow \frac{\text{threshold}}{\lVert g \rVert}\, g_k \text{ for every } k

    and otherwise every tensor comes back unchanged. The inputs must not be modified. torch's
    ``max_norm / (norm + 1e-6)`` passes too.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.

    >>> from rnnlib.exercises.clipping_by_norm import reference
    >>> check_clip_grad_norm(reference)
    check_clip_grad_norm: correct on 7 random cases (1..4 tensors; norms below, above and far above the threshold; inputs left unchanged).
    >>> def clip(grads, threshold):
    ...     norm = sum((g**2).sum() for g in grads) ** 0.5
    ...     return [g * (threshold / norm) for g in grads]
    >>> check_clip_grad_norm(clip)
    Traceback (most recent call last):
    ...
    AssertionError: check_clip_grad_norm: your function scales the gradients even when their norm is below the threshold; below it they must come back unchanged.
    """  # noqa: E501
    cases = _cases()
    counts = [len(case.args["grads"]) for case in cases]
    summary = (
        f"random cases ({span(counts)} tensors; norms below, above and far above the threshold;"
        " inputs left unchanged)"
    )
    hint = "grads is a list of tensors of different shapes, threshold a float."
    name = "check_clip_grad_norm"
    run(name, fn, cases, reference, _MISTAKES, summary=summary, tolerance=LOOSE, hint=hint)
