"""rnnlib.exercises: every checker passes right answers and names the usual wrong ones.

Each checker must accept its reference and a second correct implementation written
differently (stacked matrices, torch's own clipping, a loop in the other direction, numpy's
eigenvalues), and must reject a catalogue of wrong answers, written here as a reader would
write them (not taken from rnnlib.exercises), each with the message meant for that mistake.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlib import exercises
from rnnlib.clipping import clip_grad_norm
from rnnlib.exercises import (
    check_chain_rule_gradients,
    check_clip_grad_norm,
    check_gru_step,
    check_highway_block,
    check_jacobian_product,
    check_lstm_step,
    check_scale_to_spectral_radius,
)
from rnnlib.gradients import jacobian_product, scale_to_spectral_radius


def assert_one_success_line(capsys, name: str) -> None:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: correct on "), lines


# --- LSTM step ------------------------------------------------------------------------------
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
    check_lstm_step(exercises._lstm_step)
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


# --- GRU step (the lecture's: reset before the matmul) --------------------------------------
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
    check_gru_step(exercises._gru_step)
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


# --- clipping by norm -----------------------------------------------------------------------
def clip_with_torch(grads, threshold):
    """Right, written differently: torch.nn.utils.clip_grad_norm_ on clones (it scales by
    max_norm / (norm + 1e-6), which the checker must accept)."""
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for parameter, g in zip(parameters, grads, strict=True):
        parameter.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(parameters, threshold)
    return [parameter.grad for parameter in parameters]


def clip_with_rnnlib(grads, threshold):
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for parameter, g in zip(parameters, grads, strict=True):
        parameter.grad = g.clone()
    clip_grad_norm(parameters, threshold)
    return [parameter.grad for parameter in parameters]


def norm_of(tensors):
    return torch.cat([t.flatten() for t in tensors]).norm()


@pytest.mark.parametrize(
    "clip",
    [exercises._clip_reference, clip_with_torch, clip_with_rnnlib],
    ids=["reference", "torch_clip_grad_norm_", "rnnlib_clip_grad_norm"],
)
def test_check_clip_grad_norm_accepts_right_implementations(clip, capsys):
    check_clip_grad_norm(clip)
    assert_one_success_line(capsys, "check_clip_grad_norm")


def test_check_clip_grad_norm_names_per_tensor_norms():
    def clip(grads, threshold):
        return [g * min(1.0, threshold / g.norm().item()) for g in grads]

    with pytest.raises(AssertionError, match="clips each tensor by its own norm"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_clipping_below_the_threshold():
    def clip(grads, threshold):
        return [g * (threshold / norm_of(grads)) for g in grads]

    with pytest.raises(AssertionError, match="even when their norm is below the threshold"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_scaling_to_norm_one():
    def clip(grads, threshold):
        norm = norm_of(grads)
        return [g / norm if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="scales the gradients to norm 1"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_modified_inputs():
    def clip(grads, threshold):
        norm = norm_of(grads)
        if norm > threshold:
            for g in grads:
                g.mul_(threshold / norm)
        return grads

    with pytest.raises(
        AssertionError, match=r"modifies its input grads\[0\] in place, on case 2 of 7"
    ):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_modified_inputs_without_a_return():
    def clip(grads, threshold):  # torch's style, in place, returning nothing
        norm = norm_of(grads)
        for g in grads:
            g *= min(1.0, threshold / norm.item())

    with pytest.raises(AssertionError, match=r"modifies its input grads\[0\] in place"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_the_inverse_factor():
    def clip(grads, threshold):
        norm = norm_of(grads)
        return [g * (norm / threshold) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="the factor is inverted"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_the_l1_norm():
    def clip(grads, threshold):
        norm = sum(g.abs().sum() for g in grads)
        return [g * (threshold / norm) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="uses the L1 norm"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_summed_per_tensor_norms():
    def clip(grads, threshold):
        norm = sum(torch.linalg.vector_norm(g) for g in grads)
        return [g * (threshold / norm) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="adds the per-tensor norms"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_names_the_missing_square_root():
    def clip(grads, threshold):
        norm = sum((g * g).sum() for g in grads)
        return [g * (threshold / norm) if norm > threshold else g for g in grads]

    with pytest.raises(AssertionError, match="squared norm"):
        check_clip_grad_norm(clip)


def test_check_clip_grad_norm_asks_for_one_tensor_per_input():
    def clip(grads, threshold):
        flat = torch.cat([g.flatten() for g in grads])
        return flat * min(1.0, threshold / flat.norm().item())

    with pytest.raises(AssertionError, match=r"must return a list of 3 tensor\(s\)"):
        check_clip_grad_norm(clip)


# --- Jacobian products ----------------------------------------------------------------------
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


# --- scaling to a spectral radius -----------------------------------------------------------
def scale_with_numpy(W, radius):
    """Right, written differently: numpy's eigenvalues."""
    rho = np.abs(np.linalg.eigvals(W.numpy())).max()
    return W * (radius / rho)


@pytest.mark.parametrize(
    "fn", [scale_to_spectral_radius, scale_with_numpy], ids=["reference", "numpy"]
)
def test_check_scale_to_spectral_radius_accepts_right_implementations(fn, capsys):
    check_scale_to_spectral_radius(fn)
    assert_one_success_line(capsys, "check_scale_to_spectral_radius")


def test_check_scale_to_spectral_radius_names_the_largest_singular_value():
    def fn(W, radius):
        return W * radius / torch.linalg.matrix_norm(W, ord=2)

    with pytest.raises(AssertionError, match="scales by the largest singular value"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_the_frobenius_norm():
    def fn(W, radius):
        return W * radius / W.norm()

    with pytest.raises(AssertionError, match="scales by the Frobenius norm"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_the_largest_real_part():
    def fn(W, radius):
        return W * radius / torch.linalg.eigvals(W).real.max()

    with pytest.raises(AssertionError, match="largest real part of the eigenvalues"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_the_inverse_factor():
    def fn(W, radius):
        return W * torch.linalg.eigvals(W).abs().max() / radius

    with pytest.raises(AssertionError, match="the factor is inverted"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_a_missing_division():
    def fn(W, radius):
        return radius * W

    with pytest.raises(AssertionError, match="without dividing by its current spectral radius"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_a_modified_input():
    def fn(W, radius):
        return W.mul_(radius / torch.linalg.eigvals(W).abs().max())

    with pytest.raises(AssertionError, match="modifies its input W in place"):
        check_scale_to_spectral_radius(fn)


# --- backpropagation through time by hand (chapter 1) ---------------------------------------
def chain_rule_by_rows(W_h, states, grad_last):
    """A reader's loop: one row-vector step back per state, tanh' = 1 - h^2."""
    grads = [grad_last]
    for h_t in reversed(states[1:]):
        grads.append((grads[-1] * (1 - h_t**2)) @ W_h)
    return list(reversed(grads))


def chain_rule_by_jacobians(W_h, states, grad_last):
    """Explicit step Jacobians diag(1 - h^2) W_h, applied with einsum."""
    grads = [grad_last]
    for h_t in reversed(states[1:]):
        jacobian = (1 - h_t**2)[:, :, None] * W_h  # (batch, hidden, hidden)
        grads.insert(0, torch.einsum("bi,bij->bj", grads[0], jacobian))
    return grads


def chain_rule_with(W_h, states, grad_last, derivative):
    """The row-vector loop with a reader's own (possibly wrong) tanh'."""
    grads = [grad_last]
    for h_t in reversed(states[1:]):
        grads.append((grads[-1] * derivative(h_t)) @ W_h)
    return list(reversed(grads))


def chain_rule_one_step_late(W_h, states, grad_last):
    """tanh' taken at h^(t-1) instead of h^(t)."""
    grads = [grad_last]
    for t in range(len(states) - 1, 0, -1):
        grads.append((grads[-1] * (1 - states[t - 1] ** 2)) @ W_h)
    return grads[::-1]


@pytest.mark.parametrize("fn", [chain_rule_by_rows, chain_rule_by_jacobians])
def test_check_chain_rule_gradients_accepts_right_implementations(fn, capsys):
    check_chain_rule_gradients(fn)
    assert_one_success_line(capsys, "check_chain_rule_gradients")


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda W, s, g: chain_rule_with(W, s, g, torch.ones_like), "linear RNN"),
        (lambda W, s, g: chain_rule_by_rows(W.T, s, g), r"W_h\^T where"),
        (chain_rule_one_step_late, "from the wrong step"),
        (lambda W, s, g: chain_rule_with(W, s, g, lambda h: 1 - h), "not 1 - h: square"),
        (lambda W, s, g: chain_rule_by_rows(W, s, g)[::-1], "runs backwards in time"),
        (lambda W, s, g: chain_rule_by_rows(W, s, g)[:-1], "returned a list of"),
    ],
    ids=["no tanh'", "transposed W_h", "tanh' of the wrong step", "1 - h", "reversed", "short"],
)
def test_check_chain_rule_gradients_names_the_usual_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_chain_rule_gradients(wrong)


# --- every checker --------------------------------------------------------------------------
CHECKERS = [
    check_chain_rule_gradients,
    check_lstm_step,
    check_gru_step,
    check_clip_grad_norm,
    check_jacobian_product,
    check_scale_to_spectral_radius,
    check_highway_block,
]


@pytest.mark.parametrize("check", CHECKERS, ids=lambda check: check.__name__)
def test_every_checker_says_not_implemented_yet_for_a_stub(check):
    def stub(*args):
        raise NotImplementedError

    with pytest.raises(AssertionError, match=f"{check.__name__}: not implemented yet"):
        check(stub)


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


# --- highway layer --------------------------------------------------------------------------
def highway_parts(x, W_H, b_H, W_T, b_T):
    """A reader's pre-activations of H and T, with F.linear."""
    return F.linear(x, W_H, b_H), F.linear(x, W_T, b_T)


def highway_lerp(x, W_H, b_H, W_T, b_T):
    """Right, written differently: x + T * (H - x), with torch.lerp."""
    a_H, a_T = highway_parts(x, W_H, b_H, W_T, b_T)
    return torch.lerp(x, torch.tanh(a_H), torch.sigmoid(a_T))


def test_check_highway_block_accepts_the_reference(capsys):
    check_highway_block(exercises._highway())
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
