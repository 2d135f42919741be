"""Chapter 9's tasks: MagnitudeSum (what depth buys) and DelayedXor (what depth costs)."""

import math

import pytest
import torch

from rnnlib.tasks import DelayedXor, MagnitudeSum


def test_magnitude_sum_target_is_the_running_sum_of_centred_magnitudes():
    x, y = MagnitudeSum(6).sample(4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 6, 1)
    assert x.abs().max() <= 1
    by_hand = torch.zeros(4, 1)
    for t in range(6):
        by_hand = by_hand + x[:, t].abs() - 0.5
        torch.testing.assert_close(y[:, t], by_hand)


def test_magnitude_sum_baseline_is_the_mse_of_predicting_zero():
    task = MagnitudeSum(9)
    x, y = task.sample(200_000, torch.Generator().manual_seed(1))
    zero_mse = task.loss(torch.zeros_like(y), y).item()
    assert task.baseline_loss == pytest.approx(10 / 24)
    assert zero_mse == pytest.approx(task.baseline_loss, rel=0.02)


def test_delayed_xor_targets_are_the_xor_of_the_two_past_bits():
    task = DelayedXor(8, first=1, second=3)
    x, y = task.sample(5, torch.Generator().manual_seed(2))
    bits = ((x[..., 0] + 1) / 2).long()
    assert set(x.unique().tolist()) <= {-1.0, 1.0}
    assert (y[:, :3] == DelayedXor.PAD).all()
    for t in range(3, 8):
        assert torch.equal(y[:, t], bits[:, t - 1] ^ bits[:, t - 3])


def test_delayed_xor_chance_and_padding():
    task = DelayedXor(10, first=0, second=2)
    x, y = task.sample(20_000, torch.Generator().manual_seed(3))
    assert task.baseline_loss == pytest.approx(math.log(2))
    # the targets are fair coins: a constant prediction scores about one half
    constant = torch.zeros(*y.shape, 2)
    constant[..., 0] = 1.0
    assert task.metric(constant, y) == pytest.approx(0.5, abs=0.01)
    assert task.loss(torch.zeros(*y.shape, 2), y).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    "kwargs",
    [dict(seq_len=3, first=1, second=3), dict(seq_len=8, first=2, second=2)],
)
def test_delayed_xor_refuses_impossible_settings(kwargs):
    with pytest.raises(ValueError):
        DelayedXor(**kwargs)
