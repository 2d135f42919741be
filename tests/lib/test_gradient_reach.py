"""How far back a gradient reaches: rnnlib.gradients.gradient_reach.

Its exercise checker, check_gradient_reach, is tested in
tests/exercises/test_gradient_reach_checker.py."""

from __future__ import annotations

import pytest
import torch

from rnnlib import RecurrentLayer, RNNCell
from rnnlib.gradients import gradient_norms_by_distance, gradient_reach


def test_reach_is_the_last_distance_before_the_ratio_first_falls_below_the_threshold():
    norms = torch.tensor([2.0, 1.0, 0.5, 0.1, 1.9])
    # ratios 1, 0.5, 0.25, 0.05, 0.95: the fall at k = 3 ends the reach; the rise does not count
    assert gradient_reach(norms, threshold=0.2) == 2
    assert gradient_reach(norms, threshold=0.5) == 1
    assert gradient_reach(norms, threshold=0.01) == 4


def test_a_ratio_exactly_at_the_threshold_counts():
    assert gradient_reach(torch.tensor([4.0, 2.0, 1.0]), threshold=0.25) == 2


def test_reach_is_per_example_for_a_batch():
    norms = torch.tensor([[1.0, 0.5, 0.1], [3.0, 3.0, 3.0], [1.0, 1e-9, 1.0]])
    assert gradient_reach(norms, threshold=0.2).tolist() == [1, 2, 0]


def test_reach_of_a_vanilla_rnn_grows_with_its_spectral_radius():
    x = torch.randn(8, 60, 3, generator=torch.Generator().manual_seed(0))
    reaches = []
    for radius in [0.5, 0.9]:
        torch.manual_seed(0)
        cell = RNNCell(3, 16)
        with torch.no_grad():
            cell.W_h.copy_(radius * torch.linalg.qr(torch.randn(16, 16))[0])
        norms = gradient_norms_by_distance(RecurrentLayer(cell), x, lambda h: h.sum(-1))
        reaches.append(gradient_reach(norms.norm(dim=0), threshold=1e-3))
    assert reaches[0] < reaches[1] < 59, reaches


@pytest.mark.parametrize(
    "norms, threshold, message",
    [
        (torch.tensor([]), 0.1, "at least one distance"),
        (torch.tensor([0.0, 1.0]), 0.1, "positive gradient at distance 0"),
        (torch.tensor([1.0, float("nan")]), 0.1, "finite"),
        (torch.tensor([1.0, 0.5]), 0.0, "threshold must be in"),
        (torch.tensor([1.0, 0.5]), 1.5, "threshold must be in"),
    ],
)
def test_bad_input_gets_a_readable_error(norms, threshold, message):
    with pytest.raises(ValueError, match=message):
        gradient_reach(norms, threshold)
