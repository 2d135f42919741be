"""check_highway_block (chapter 7): accepts right highway layers, names the usual wrong ones
(written here as a reader would write them).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checker_output import assert_one_success_line

from rnnlib.exercises import check_highway_block
from rnnlib.exercises.highway import reference as highway_reference


def highway_parts(x, W_H, b_H, W_T, b_T):
    """A reader's pre-activations of H and T, with F.linear."""
    return F.linear(x, W_H, b_H), F.linear(x, W_T, b_T)


def highway_lerp(x, W_H, b_H, W_T, b_T):
    """Right, written differently: x + T * (H - x), with torch.lerp."""
    a_H, a_T = highway_parts(x, W_H, b_H, W_T, b_T)
    return torch.lerp(x, torch.tanh(a_H), torch.sigmoid(a_T))


def test_check_highway_block_accepts_the_reference(capsys):
    check_highway_block(highway_reference)
    assert_one_success_line(capsys, "check_highway_block")


def test_check_highway_block_accepts_a_lerp_implementation(capsys):
    check_highway_block(highway_lerp)
    assert_one_success_line(capsys, "check_highway_block")


def test_check_highway_block_names_carry_and_transform_swapped():
    def block(x, W_H, b_H, W_T, b_T):
        a_H, a_T = highway_parts(x, W_H, b_H, W_T, b_T)
        T = torch.sigmoid(a_T)
        return T * x + (1 - T) * torch.tanh(a_H)

    with pytest.raises(AssertionError, match="carry and transform are swapped"):
        check_highway_block(block)


def test_check_highway_block_names_missing_sigmoid_on_the_gate():
    def block(x, W_H, b_H, W_T, b_T):
        a_H, T = highway_parts(x, W_H, b_H, W_T, b_T)
        return T * torch.tanh(a_H) + (1 - T) * x

    with pytest.raises(AssertionError, match="the transform gate has no sigmoid"):
        check_highway_block(block)


def test_check_highway_block_names_h_without_its_nonlinearity():
    def block(x, W_H, b_H, W_T, b_T):
        H, a_T = highway_parts(x, W_H, b_H, W_T, b_T)
        T = torch.sigmoid(a_T)
        return T * H + (1 - T) * x

    with pytest.raises(AssertionError, match="H has no nonlinearity"):
        check_highway_block(block)


def test_check_highway_block_names_relu_instead_of_tanh():
    def block(x, W_H, b_H, W_T, b_T):
        a_H, a_T = highway_parts(x, W_H, b_H, W_T, b_T)
        T = torch.sigmoid(a_T)
        return T * torch.relu(a_H) + (1 - T) * x

    with pytest.raises(AssertionError, match="H uses relu"):
        check_highway_block(block)


def test_check_highway_block_reports_other_differences():
    def block(x, W_H, b_H, W_T, b_T):
        return highway_lerp(x, W_H, b_H, W_T, b_T) + 0.1

    with pytest.raises(AssertionError, match="check_highway_block: "):
        check_highway_block(block)
