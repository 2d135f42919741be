"""check_lstm_step (chapter 5): accepts right LSTM steps, names the usual wrong ones.

The right answers and the mistakes are written here as a reader would write them (not taken
from rnnlib.exercises); the reference is the checker module's public ``reference``. The
runner's messages for a wrong shape, an unknown difference, an error inside the function and a
missing return are checked here too, through this checker.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checker_output import assert_one_success_line

from rnnlib.exercises import check_lstm_step
from rnnlib.exercises.lstm_step import reference as lstm_reference


def lstm_gates(x, h_prev, p):
    """A reader's f, i, o and the pre-activation of c~, one F.linear per term."""

    def pre(gate):
        return F.linear(h_prev, p[f"W_{gate}"]) + F.linear(x, p[f"U_{gate}"], p[f"b_{gate}"])

    return torch.sigmoid(pre("f")), torch.sigmoid(pre("i")), torch.sigmoid(pre("o")), pre("c")


def lstm_step_stacked(x, h_prev, c_prev, p):
    """Right, written differently: one stacked matrix for all gates, then chunk."""
    W = torch.cat([torch.cat([p[f"W_{g}"], p[f"U_{g}"]], dim=1) for g in "ifco"])
    b = torch.cat([p[f"b_{g}"] for g in "ifco"])
    i, f, g, o = (torch.cat([h_prev, x], dim=1) @ W.T + b).chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def test_check_lstm_step_accepts_the_reference(capsys):
    check_lstm_step(lstm_reference)
    assert_one_success_line(capsys, "check_lstm_step")


def test_check_lstm_step_accepts_a_stacked_implementation(capsys):
    check_lstm_step(lstm_step_stacked)
    assert_one_success_line(capsys, "check_lstm_step")


def test_check_lstm_step_names_swapped_forget_and_input_gates():
    def lstm_step(x, h_prev, c_prev, p):
        f, i, o, a_c = lstm_gates(x, h_prev, p)
        c = i * c_prev + f * torch.tanh(a_c)
        return o * torch.tanh(c), c

    with pytest.raises(AssertionError, match="forget gate f and the input gate i are swapped"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_names_swapped_output_and_input_gates():
    def lstm_step(x, h_prev, c_prev, p):
        f, i, o, a_c = lstm_gates(x, h_prev, p)
        c = f * c_prev + o * torch.tanh(a_c)
        return i * torch.tanh(c), c

    with pytest.raises(AssertionError, match="output gate o and the input gate i are swapped"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_names_swapped_forget_and_output_gates():
    def lstm_step(x, h_prev, c_prev, p):
        f, i, o, a_c = lstm_gates(x, h_prev, p)
        c = o * c_prev + i * torch.tanh(a_c)
        return f * torch.tanh(c), c

    with pytest.raises(AssertionError, match="forget gate f and the output gate o are swapped"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_names_missing_tanh_on_the_cell_state():
    def lstm_step(x, h_prev, c_prev, p):
        f, i, o, a_c = lstm_gates(x, h_prev, p)
        c = f * c_prev + i * torch.tanh(a_c)
        return o * c, c

    with pytest.raises(AssertionError, match=r"missing the tanh on the cell state"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_names_sigmoid_instead_of_tanh_for_new_content():
    def lstm_step(x, h_prev, c_prev, p):
        f, i, o, a_c = lstm_gates(x, h_prev, p)
        c = f * c_prev + i * torch.sigmoid(a_c)
        return o * torch.tanh(c), c

    with pytest.raises(AssertionError, match="new content c~ uses a sigmoid"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_names_forgotten_forget_gate():
    def lstm_step(x, h_prev, c_prev, p):
        f, i, o, a_c = lstm_gates(x, h_prev, p)
        c = c_prev + i * torch.tanh(a_c)
        return o * torch.tanh(c), c

    with pytest.raises(AssertionError, match="the forget gate is missing"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_names_h_prev_used_where_c_prev_belongs():
    def lstm_step(x, h_prev, c_prev, p):
        f, i, o, a_c = lstm_gates(x, h_prev, p)
        c = f * h_prev + i * torch.tanh(a_c)
        return o * torch.tanh(c), c

    with pytest.raises(AssertionError, match="uses h_prev where c_prev belongs"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_names_outputs_returned_as_c_h():
    def lstm_step(x, h_prev, c_prev, p):
        h, c = lstm_step_stacked(x, h_prev, c_prev, p)
        return c, h

    with pytest.raises(AssertionError, match=r"returns \(c, h\); return the pair in the order"):
        check_lstm_step(lstm_step)


def test_check_lstm_step_says_the_shapes_of_a_transposed_output():
    def lstm_step(x, h_prev, c_prev, p):
        h, c = lstm_step_stacked(x, h_prev, c_prev, p)
        return h.T, c

    with pytest.raises(
        AssertionError,
        match=r"h has shape \(4, 1\) but should have shape \(1, 4\) = \(batch, hidden\) on case 2"
        r" of 6 \(batch 1, input 3, hidden 4\)\. It looks transposed",
    ):
        check_lstm_step(lstm_step)


def test_check_lstm_step_says_where_an_unknown_mistake_first_differs():
    def lstm_step(x, h_prev, c_prev, p):
        h, c = lstm_step_stacked(x, h_prev, c_prev, p)
        return h + 1e-3, c

    with pytest.raises(
        AssertionError,
        match=r"h differs from the expected value on case 1 of 6 \(batch 1, input 1, hidden 1\):"
        r" max abs difference 0\.001; first at h\[0, 0\]",
    ):
        check_lstm_step(lstm_step)


def test_check_lstm_step_reports_an_error_inside_the_function_with_the_shapes():
    def lstm_step(x, h_prev, c_prev, p):  # x @ U_f instead of x @ U_f.T: fails once input > 1
        f = torch.sigmoid(h_prev @ p["W_f"].T + x @ p["U_f"] + p["b_f"])
        return f, f

    with pytest.raises(
        AssertionError, match=r"raised RuntimeError on case 2 of 6 \(batch 1, input 3, hidden 4\)"
    ):
        check_lstm_step(lstm_step)


def test_check_lstm_step_asks_for_a_missing_return():
    def lstm_step(x, h_prev, c_prev, p):
        lstm_step_stacked(x, h_prev, c_prev, p)

    with pytest.raises(AssertionError, match=r"returned None \(a missing `return`\?\)"):
        check_lstm_step(lstm_step)


def test_checker_messages_are_reproducible():
    def lstm_step(x, h_prev, c_prev, p):
        h, c = lstm_step_stacked(x, h_prev, c_prev, p)
        return h * 1.01, c

    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as raised:
            check_lstm_step(lstm_step)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
