"""The contract every checker of rnnlib.exercises keeps, through the shared runner.

Run over all of ``rnnlib.exercises.__all__`` (a checker added there is covered without editing
this file): the exercise's stub is answered "not implemented yet", a function that changes its
inputs in place is refused by name, something that is not a function is refused, and the
checker accepts the reference of its own module (``rnnlib.exercises.<module>.reference``).
"""

from __future__ import annotations

import importlib

import pytest
import torch
from checker_output import assert_one_success_line

import rnnlib.exercises

CHECKERS = [getattr(rnnlib.exercises, name) for name in rnnlib.exercises.__all__]


def test_all_lists_the_ten_checkers():
    assert len(CHECKERS) == 10
    assert all(name.startswith("check_") for name in rnnlib.exercises.__all__)


@pytest.mark.parametrize("check", CHECKERS, ids=lambda check: check.__name__)
def test_every_checker_says_not_implemented_yet_for_a_stub(check):
    def stub(*args):
        raise NotImplementedError

    with pytest.raises(AssertionError, match=f"{check.__name__}: not implemented yet"):
        check(stub)


def first_tensor(value):
    """The first tensor inside the arguments (tensors, lists, dicts), depth first."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list | tuple):
        return next((t for t in map(first_tensor, items) if t is not None), None)
    return None


@pytest.mark.parametrize("check", CHECKERS, ids=lambda check: check.__name__)
def test_every_checker_refuses_a_function_that_changes_its_inputs_in_place(check):
    def in_place(*args):
        first_tensor(list(args)).add_(1.0)

    with pytest.raises(
        AssertionError, match=rf"{check.__name__}: your function modifies its input \S+ in place"
    ):
        check(in_place)


@pytest.mark.parametrize("check", CHECKERS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("not_a_function", [3, None, "fn"])
def test_every_checker_refuses_what_is_not_a_function(check, not_a_function):
    with pytest.raises(AssertionError, match=f"{check.__name__}: expected a function, got"):
        check(not_a_function)


@pytest.mark.parametrize("check", CHECKERS, ids=lambda check: check.__name__)
def test_every_checker_accepts_the_reference_of_its_module(check, capsys):
    module = importlib.import_module(check.__module__)
    check(module.reference)
    assert_one_success_line(capsys, check.__name__)
