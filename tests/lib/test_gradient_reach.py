"""How far back a gradient reaches: rnnlib.gradients.gradient_reach and its exercise checker.

The checker must accept the reference and a loop written as a reader would, and name each usual
mistake (written here independently, as a reader would write it)."""

from __future__ import annotations

import pytest
import torch

from rnnlib import RecurrentLayer, RNNCell
from rnnlib.exercises import check_gradient_reach
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


# --- the exercise checker -------------------------------------------------------------------
def reach_loop(norms, threshold):
    """Right, written as a loop."""
    k = 0
    while k + 1 < len(norms) and norms[k + 1] / norms[0] >= threshold:
        k += 1
    return k


def test_checker_accepts_the_reference_and_a_loop(capsys):
    check_gradient_reach(gradient_reach)
    check_gradient_reach(reach_loop)
    check_gradient_reach(lambda norms, threshold: torch.tensor(reach_loop(norms, threshold)))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(
        line.startswith("check_gradient_reach: correct") for line in lines
    )


def first_below(norms, threshold):
    for k in range(len(norms)):
        if norms[k] / norms[0] < threshold:
            return k
    return len(norms)


def unnormalised(norms, threshold):
    k = 0
    while k + 1 < len(norms) and norms[k + 1] >= threshold:
        k += 1
    return k


def last_above(norms, threshold):
    return max(k for k in range(len(norms)) if norms[k] / norms[0] >= threshold)


def counts_all(norms, threshold):
    return sum(1 for value in norms if value / norms[0] >= threshold) - 1


def strict(norms, threshold):
    k = 0
    while k + 1 < len(norms) and norms[k + 1] / norms[0] > threshold:
        k += 1
    return k


@pytest.mark.parametrize(
    "wrong, message",
    [
        (first_below, "first distance whose ratio is below"),
        (unnormalised, "compares the raw norms"),
        (last_above, "last distance above the threshold anywhere"),
        (counts_all, "counts every distance above"),
        (strict, "uses > where the definition says >="),
        (lambda norms, threshold: 3, "wrong reach on case 1"),
    ],
)
def test_checker_names_the_mistake(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_gradient_reach(wrong)


def test_checker_rejects_wrong_types_stubs_and_changed_inputs():
    with pytest.raises(AssertionError, match="must return an int"):
        check_gradient_reach(lambda norms, threshold: float(reach_loop(norms, threshold)))
    with pytest.raises(AssertionError, match="returned None"):
        check_gradient_reach(lambda norms, threshold: None)

    def stub(norms, threshold):
        raise NotImplementedError

    with pytest.raises(AssertionError, match="not implemented yet"):
        check_gradient_reach(stub)

    def normalises_in_place(norms, threshold):
        norms /= norms[0].clone()
        return reach_loop(norms, threshold)

    with pytest.raises(AssertionError, match="modifies its input norms in place"):
        check_gradient_reach(normalises_in_place)
    with pytest.raises(AssertionError, match="expected a function"):
        check_gradient_reach(3)
