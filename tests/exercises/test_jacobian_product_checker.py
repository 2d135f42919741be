"""check_jacobian_product (chapter 2): accepts products in either loop direction, names the
usual wrong ones (written here as a reader would write them).
"""

from __future__ import annotations

import pytest
import torch
from checker_output import assert_one_success_line

from rnnlib.exercises import check_jacobian_product
from rnnlib.gradients import jacobian_product


def product_from_the_latest_step(jacobians, i, j):
    """Right, written differently: start at J_i and multiply each earlier step on the right."""
    batch, _, hidden, _ = jacobians.shape
    product = torch.eye(hidden, dtype=jacobians.dtype).repeat(batch, 1, 1)
    for t in range(i, j, -1):
        product = product @ jacobians[:, t - 1]
    return product


def product_of(jacobians, steps, earliest_left=False):
    """A reader's loop over ``steps``: each factor on the left, or on the right."""
    batch, _, hidden, _ = jacobians.shape
    product = torch.eye(hidden, dtype=jacobians.dtype).repeat(batch, 1, 1)
    for t in steps:
        J = jacobians[:, t - 1]
        product = product @ J if earliest_left else J @ product
    return product


@pytest.mark.parametrize(
    "fn", [jacobian_product, product_from_the_latest_step], ids=["reference", "other_direction"]
)
def test_check_jacobian_product_accepts_right_implementations(fn, capsys):
    check_jacobian_product(fn)
    assert_one_success_line(capsys, "check_jacobian_product")


def test_check_jacobian_product_names_the_wrong_multiplication_order():
    def fn(jacobians, i, j):
        return product_of(jacobians, range(j + 1, i + 1), earliest_left=True)

    with pytest.raises(AssertionError, match="wrong order, earliest Jacobian on the left"):
        check_jacobian_product(fn)


def test_check_jacobian_product_names_one_factor_too_many():
    def fn(jacobians, i, j):
        return product_of(jacobians, range(j, i + 1))

    with pytest.raises(AssertionError, match="off by one: the product includes J_j"):
        check_jacobian_product(fn)


def test_check_jacobian_product_names_a_missing_last_factor():
    def fn(jacobians, i, j):
        return product_of(jacobians, range(j + 1, i))

    with pytest.raises(AssertionError, match="off by one: the product misses its last factor"):
        check_jacobian_product(fn)


def test_check_jacobian_product_names_a_missing_first_factor():
    def fn(jacobians, i, j):
        return product_of(jacobians, range(j + 2, i + 1))

    with pytest.raises(AssertionError, match="off by one: the product misses its first factor"):
        check_jacobian_product(fn)


def test_check_jacobian_product_names_the_transposed_product():
    def fn(jacobians, i, j):
        return product_of(jacobians, range(j + 1, i + 1)).transpose(1, 2)

    with pytest.raises(AssertionError, match="returns the transpose"):
        check_jacobian_product(fn)


def test_check_jacobian_product_names_a_non_identity_when_i_equals_j():
    def fn(jacobians, i, j):
        if i == j:
            return torch.zeros_like(jacobians[:, 0])
        return product_of(jacobians, range(j + 1, i + 1))

    with pytest.raises(AssertionError, match="wrong only where i == j"):
        check_jacobian_product(fn)


def test_check_jacobian_product_names_an_identity_without_batch_when_i_equals_j():
    def fn(jacobians, i, j):
        if i == j:
            return torch.eye(jacobians.shape[-1], dtype=jacobians.dtype)
        return product_of(jacobians, range(j + 1, i + 1))

    with pytest.raises(AssertionError, match=r"identity per example, shape \(batch, hidden, hid"):
        check_jacobian_product(fn)


def test_check_jacobian_product_reports_an_index_error_with_the_layout():
    def fn(jacobians, i, j):  # jacobians[:, t] instead of jacobians[:, t - 1]
        return product_of(jacobians, range(j + 2, i + 2))

    with pytest.raises(
        AssertionError,
        match=r"raised IndexError on case 1 of 7 \(batch 1, T 1, hidden 1, i=1, j=0\): .*"
        r"jacobians\[:, t - 1\] is the Jacobian of step t",
    ):
        check_jacobian_product(fn)
