"""rnnlib.clipping against torch.nn.utils on random gradients, including the edge cases."""

import math

import pytest
import torch

from rnnlib.clipping import clip_grad_norm, clip_grad_value, global_grad_norm

NORM_TYPES = [2.0, 1.0, float("inf")]


def make_parameter_pair(shapes, seed, scale=1.0, without_grad=(), special=None):
    """Two identical lists of parameters with identical random gradients."""
    generator = torch.Generator().manual_seed(seed)
    ours, theirs = [], []
    for index, shape in enumerate(shapes):
        value = torch.randn(shape, generator=generator)
        grad = scale * torch.randn(shape, generator=generator)
        if special is not None and index == 0:
            grad.view(-1)[0] = special
        for group in (ours, theirs):
            p = torch.nn.Parameter(value.clone())
            if index not in without_grad:
                p.grad = grad.clone()
            group.append(p)
    return ours, theirs


def assert_same_grads(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        if b.grad is None:
            assert a.grad is None
        else:
            torch.testing.assert_close(a.grad, b.grad, equal_nan=True, rtol=1e-6, atol=1e-7)


SHAPES = [(3, 4), (5,), (2, 2, 3), (1,)]


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
@pytest.mark.parametrize("seed", range(5))
def test_clip_grad_norm_equals_torch_clip_grad_norm(norm_type, max_norm, seed):
    ours, theirs = make_parameter_pair(SHAPES, seed, scale=10 ** (seed - 2))
    total_ours = clip_grad_norm(ours, max_norm, norm_type=norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    torch.testing.assert_close(total_ours, total_theirs, rtol=1e-6, atol=0)
    assert_same_grads(ours, theirs)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_global_grad_norm_is_the_norm_of_all_gradients_concatenated(norm_type):
    ours, _ = make_parameter_pair(SHAPES, seed=3)
    flat = torch.cat([p.grad.reshape(-1) for p in ours])
    expected = torch.linalg.vector_norm(flat, norm_type)
    torch.testing.assert_close(global_grad_norm(ours, norm_type), expected)


def test_clip_grad_norm_keeps_the_direction_and_reaches_the_threshold():
    ours, _ = make_parameter_pair(SHAPES, seed=0, scale=100.0)
    before = torch.cat([p.grad.reshape(-1) for p in ours]).clone()
    clip_grad_norm(ours, 1.0)
    after = torch.cat([p.grad.reshape(-1) for p in ours])
    cosine = torch.nn.functional.cosine_similarity(before, after, dim=0)
    assert cosine.item() == pytest.approx(1.0, abs=1e-6)
    assert after.norm().item() == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_unchanged():
    ours, _ = make_parameter_pair(SHAPES, seed=1, scale=1e-3)
    before = [p.grad.clone() for p in ours]
    clip_grad_norm(ours, 1.0)
    for p, g in zip(ours, before, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_zero_gradients_stay_zero_like_torch(norm_type):
    ours, theirs = make_parameter_pair(SHAPES, seed=0, scale=0.0)
    total_ours = clip_grad_norm(ours, 1.0, norm_type=norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    assert total_ours.item() == total_theirs.item() == 0.0
    assert_same_grads(ours, theirs)
    assert all((p.grad == 0).all() for p in ours)


@pytest.mark.parametrize("special", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_nonfinite_gradients_are_handled_like_torch(special, norm_type):
    ours, theirs = make_parameter_pair(SHAPES, seed=2, special=special)
    total_ours = clip_grad_norm(ours, 1.0, norm_type=norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(
        theirs, 1.0, norm_type=norm_type, error_if_nonfinite=False
    )
    torch.testing.assert_close(total_ours, total_theirs, equal_nan=True)
    assert not torch.isfinite(total_ours)
    assert_same_grads(ours, theirs)


def test_error_if_nonfinite_raises_like_torch():
    ours, theirs = make_parameter_pair(SHAPES, seed=2, special=math.inf)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)


def test_parameters_without_gradients_are_skipped_like_torch():
    ours, theirs = make_parameter_pair(SHAPES, seed=4, scale=5.0, without_grad=(1, 3))
    total_ours = clip_grad_norm(ours, 1.0)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    torch.testing.assert_close(total_ours, total_theirs)
    assert_same_grads(ours, theirs)


def test_no_gradients_at_all_gives_norm_zero_like_torch():
    ours, theirs = make_parameter_pair(SHAPES, seed=0, without_grad=(0, 1, 2, 3))
    assert clip_grad_norm(ours, 1.0).item() == torch.nn.utils.clip_grad_norm_(theirs, 1.0).item()
    assert clip_grad_value(ours, 1.0) is None


def test_a_single_tensor_and_a_generator_are_accepted_like_torch():
    ours, theirs = make_parameter_pair([(4, 4)], seed=5, scale=3.0)
    torch.testing.assert_close(
        clip_grad_norm(ours[0], 1.0), torch.nn.utils.clip_grad_norm_(theirs[0], 1.0)
    )
    assert_same_grads(ours, theirs)
    ours, theirs = make_parameter_pair(SHAPES, seed=5, scale=3.0)
    clip_grad_value((p for p in ours), 0.5)
    torch.nn.utils.clip_grad_value_((p for p in theirs), 0.5)
    assert_same_grads(ours, theirs)


@pytest.mark.parametrize("clip_value", [1e-3, 0.5, 2.0, 1e6])
@pytest.mark.parametrize("seed", range(4))
def test_clip_grad_value_equals_torch_clip_grad_value(clip_value, seed):
    ours, theirs = make_parameter_pair(SHAPES, seed, scale=2.0, without_grad=(2,))
    assert clip_grad_value(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_same_grads(ours, theirs)
    assert all(p.grad.abs().max() <= clip_value for p in ours if p.grad is not None)


@pytest.mark.parametrize("special", [math.inf, -math.inf, math.nan])
def test_clip_grad_value_on_nonfinite_entries_like_torch(special):
    ours, theirs = make_parameter_pair(SHAPES, seed=6, special=special)
    clip_grad_value(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    assert_same_grads(ours, theirs)


def test_clip_by_value_can_change_the_direction_clip_by_norm_cannot():
    g = torch.tensor([10.0, 1.0])
    by_value, by_norm = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    by_value.grad, by_norm.grad = g.clone(), g.clone()
    clip_grad_value([by_value], 1.0)
    clip_grad_norm([by_norm], 1.0)
    cos = torch.nn.functional.cosine_similarity
    assert cos(by_norm.grad, g, dim=0).item() == pytest.approx(1.0, abs=1e-6)
    # [10, 1] becomes [1, 1]: cosine 11 / (sqrt(101) sqrt(2)), about 0.77
    expected = 11 / (math.sqrt(101) * math.sqrt(2))
    assert cos(by_value.grad, g, dim=0).item() == pytest.approx(expected, rel=1e-5)
