"""check_gradient_reach (chapter 10): accepts the reference and a loop written as a reader
would, names each usual mistake (written here independently, as a reader would write it) and
refuses a wrong return type or a changed input.

The library's gradient_reach itself is tested in tests/lib/test_gradient_reach.py.
"""

from __future__ import annotations

import pytest
import torch

from rnnlib.exercises import check_gradient_reach
from rnnlib.gradients import gradient_reach


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
