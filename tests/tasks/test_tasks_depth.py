"""Chapter 9's task: MagnitudeSum, a nonlinear map of each step followed by a running sum."""

import pytest
import torch

from rnnlib.tasks import MagnitudeSum


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
