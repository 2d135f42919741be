"""check_gru_step (chapter 6): accepts right GRU steps (the lecture's, reset before the
matmul), names the usual wrong ones, written here as a reader would write them.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checker_output import assert_one_success_line

from rnnlib.exercises import check_gru_step
from rnnlib.exercises.gru_step import reference as gru_reference


def gru_gates(x, h_prev, p):
    """A reader's update and reset gates."""
    u = torch.sigmoid(h_prev @ p["W_u"].T + x @ p["U_u"].T + p["b_u"])
    r = torch.sigmoid(h_prev @ p["W_r"].T + x @ p["U_r"].T + p["b_r"])
    return u, r


def gru_step_lerp(x, h_prev, p):
    """Right, written differently: stacked gates, F.linear and h_prev + u (h~ - h_prev)."""
    W = torch.cat([p["W_u"], p["W_r"]])
    U = torch.cat([p["U_u"], p["U_r"]])
    b = torch.cat([p["b_u"], p["b_r"]])
    u, r = torch.sigmoid(F.linear(h_prev, W) + F.linear(x, U, b)).chunk(2, dim=1)
    h_tilde = torch.tanh(F.linear(r * h_prev, p["W_h"]) + F.linear(x, p["U_h"], p["b_h"]))
    return h_prev + u * (h_tilde - h_prev)


def test_check_gru_step_accepts_the_reference(capsys):
    check_gru_step(gru_reference)
    assert_one_success_line(capsys, "check_gru_step")


def test_check_gru_step_accepts_a_stacked_implementation(capsys):
    check_gru_step(gru_step_lerp)
    assert_one_success_line(capsys, "check_gru_step")


def test_check_gru_step_names_swapped_update_convention():
    def gru_step(x, h_prev, p):
        u, r = gru_gates(x, h_prev, p)
        h_tilde = torch.tanh((r * h_prev) @ p["W_h"].T + x @ p["U_h"].T + p["b_h"])
        return u * h_prev + (1 - u) * h_tilde

    with pytest.raises(AssertionError, match="the update convention is swapped"):
        check_gru_step(gru_step)


def test_check_gru_step_names_reset_after_the_matmul():
    def gru_step(x, h_prev, p):
        u, r = gru_gates(x, h_prev, p)
        h_tilde = torch.tanh(r * (h_prev @ p["W_h"].T) + x @ p["U_h"].T + p["b_h"])
        return (1 - u) * h_prev + u * h_tilde

    with pytest.raises(AssertionError, match="reset gate multiplies W_h h_prev after the matmul"):
        check_gru_step(gru_step)


def test_check_gru_step_names_torchs_reset_with_the_bias_inside():
    def gru_step(x, h_prev, p):
        u, r = gru_gates(x, h_prev, p)
        h_tilde = torch.tanh(x @ p["U_h"].T + r * (h_prev @ p["W_h"].T + p["b_h"]))
        return (1 - u) * h_prev + u * h_tilde

    with pytest.raises(AssertionError, match=r"torch\.nn\.GRU's and rnnlib\.GRUCell's form"):
        check_gru_step(gru_step)


def test_check_gru_step_names_missing_reset_gate():
    def gru_step(x, h_prev, p):
        u, _ = gru_gates(x, h_prev, p)
        h_tilde = torch.tanh(h_prev @ p["W_h"].T + x @ p["U_h"].T + p["b_h"])
        return (1 - u) * h_prev + u * h_tilde

    with pytest.raises(AssertionError, match="the reset gate is missing"):
        check_gru_step(gru_step)


def test_check_gru_step_names_missing_tanh_on_new_content():
    def gru_step(x, h_prev, p):
        u, r = gru_gates(x, h_prev, p)
        h_tilde = (r * h_prev) @ p["W_h"].T + x @ p["U_h"].T + p["b_h"]
        return (1 - u) * h_prev + u * h_tilde

    with pytest.raises(AssertionError, match="h~ is missing its tanh"):
        check_gru_step(gru_step)


def test_check_gru_step_names_sigmoid_instead_of_tanh_for_new_content():
    def gru_step(x, h_prev, p):
        u, r = gru_gates(x, h_prev, p)
        h_tilde = torch.sigmoid((r * h_prev) @ p["W_h"].T + x @ p["U_h"].T + p["b_h"])
        return (1 - u) * h_prev + u * h_tilde

    with pytest.raises(AssertionError, match="h~ uses a sigmoid"):
        check_gru_step(gru_step)


def test_check_gru_step_names_swapped_update_and_reset_gates():
    def gru_step(x, h_prev, p):
        r, u = gru_gates(x, h_prev, p)
        h_tilde = torch.tanh((r * h_prev) @ p["W_h"].T + x @ p["U_h"].T + p["b_h"])
        return (1 - u) * h_prev + u * h_tilde

    with pytest.raises(AssertionError, match="update gate u and the reset gate r are swapped"):
        check_gru_step(gru_step)


def test_check_gru_step_says_the_shapes_of_a_wrong_output_shape():
    def gru_step(x, h_prev, p):
        return gru_step_lerp(x, h_prev, p)[0]  # the first example only

    with pytest.raises(
        AssertionError,
        match=r"h has shape \(1,\) but should have shape \(1, 1\) = \(batch, hidden\) on case 1",
    ):
        check_gru_step(gru_step)
