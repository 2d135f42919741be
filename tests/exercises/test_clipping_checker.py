"""check_clip_grad_norm (chapter 4): accepts torch's and rnnlib's clipping, names the usual
wrong ones (written here as a reader would write them) and refuses changed inputs.
"""

from __future__ import annotations

import pytest
import torch
from checker_output import assert_one_success_line

from rnnlib.clipping import clip_grad_norm
from rnnlib.exercises import check_clip_grad_norm
from rnnlib.exercises.clipping_by_norm import reference as clip_reference


def clip_with_torch(grads, threshold):
    """Right, written differently: torch.nn.utils.clip_grad_norm_ on clones (it scales by
    max_norm / (norm + 1e-6), which the checker must accept)."""
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for parameter, g in zip(parameters, grads, strict=True):
        parameter.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(parameters, threshold)
    return [parameter.grad for parameter in parameters]


def clip_with_rnnlib(grads, threshold):
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for parameter, g in zip(parameters, grads, strict=True):
        parameter.grad = g.clone()
    clip_grad_norm(parameters, threshold)
    return [parameter.grad for parameter in parameters]


def norm_of(tensors):
    return torch.cat([t.flatten() for t in tensors]).norm()


@pytest.mark.parametrize(
    "clip",
    [clip_reference, clip_with_torch, clip_with_rnnlib],
    ids=["reference", "torch_clip_grad_norm_", "rnnlib_clip_grad_norm"],
)
def test_check_clip_grad_norm_accepts_right_implementations(clip, capsys):
    check_clip_grad_norm(clip)
    assert_one_success_line(capsys, "check_clip_grad_norm")


def test_check_clip_grad_norm_names_per_tensor_norms():
    def clip(grads, threshold):
        return [g * min(1.0, threshold / g.norm().item()) for g in grads]

    with pytest.raises(AssertionError, match="clips each tensor by its own norm"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_clipping_below_the_threshold():
    def clip(grads, threshold):
        return [g * (threshold / norm_of(grads)) for g in grads]

    with pytest.raises(AssertionError, match="even when their norm is below the threshold"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_scaling_to_norm_one():
    def clip(grads, threshold):
        norm = norm_of(grads)
        return [g / norm if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="scales the gradients to norm 1"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_modified_inputs():
    def clip(grads, threshold):
        norm = norm_of(grads)
        if norm > threshold:
            for g in grads:
                g.mul_(threshold / norm)
        return grads

    with pytest.raises(
        AssertionError, match=r"modifies its input grads\[0\] in place, on case 2 of 7"
    ):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_modified_inputs_without_a_return():
    def clip(grads, threshold):  # torch's style, in place, returning nothing
        norm = norm_of(grads)
        for g in grads:
            g *= min(1.0, threshold / norm.item())

    with pytest.raises(AssertionError, match=r"modifies its input grads\[0\] in place"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_the_inverse_factor():
    def clip(grads, threshold):
        norm = norm_of(grads)
        return [g * (norm / threshold) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="the factor is inverted"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_the_l1_norm():
    def clip(grads, threshold):
        norm = sum(g.abs().sum() for g in grads)
        return [g * (threshold / norm) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="uses the L1 norm"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_summed_per_tensor_norms():
    def clip(grads, threshold):
        norm = sum(torch.linalg.vector_norm(g) for g in grads)
        return [g * (threshold / norm) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="adds the per-tensor norms"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_the_missing_square_root():
    def clip(grads, threshold):
        norm = sum((g * g).sum() for g in grads)
        return [g * (threshold / norm) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="squared norm"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_asks_for_one_tensor_per_input():
    def clip(grads, threshold):
        flat = torch.cat([g.flatten() for g in grads])
        return flat * min(1.0, threshold / flat.norm().item())

    with pytest.raises(AssertionError, match=r"must return a list of 3 tensor\(s\)"):
        check_clip_grad_norm(clip)
