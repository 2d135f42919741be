"""Tests of rnnlib.gradients against exact answers: closed forms, autograd per step, numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnlib
from rnnlib.gradients import (
    GAMMA,
    gaussian_,
    gradient_norm_matrix,
    gradient_norms_by_distance,
    identity_,
    jacobian_bound,
    jacobian_product,
    jacobian_product_norms,
    largest_singular_value,
    orthogonal_,
    scale_to_spectral_radius,
    sigma_prime,
    spectral_radius,
    state_gradients,
    step_jacobians,
    trajectory,
)

NONLINEARITIES = ["tanh", "sigmoid", "relu", "identity"]
SHAPES = [(1, 1, 1), (1, 1, 3), (2, 5, 1), (3, 7, 4)]  # (batch, time, hidden): T 1, hidden 1


def rnn(input_size: int, hidden: int, nonlinearity: str = "tanh", seed: int = 0):
    torch.manual_seed(seed)
    cell = rnnlib.RNNCell(input_size, hidden, nonlinearity=nonlinearity).double()
    with torch.no_grad():
        cell.W_h.mul_(2.0)  # larger weights: relu units switch off, tanh saturates somewhat
    return cell, rnnlib.RecurrentLayer(cell)


def diagonal_linear_rnn(eigenvalues: list[float]):
    hidden = len(eigenvalues)
    cell = rnnlib.RNNCell(2, hidden, nonlinearity="identity").double()
    with torch.no_grad():
        cell.W_h.copy_(torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)))
    return cell, rnnlib.RecurrentLayer(cell)


@pytest.mark.parametrize("eigenvalues", [[0.9], [0.5, -0.8, 1.1], [1.3, 0.2, -0.95, 0.7]])
def test_linear_rnn_gradient_decays_like_eigenvalue_power(eigenvalues):
    cell, layer = diagonal_linear_rnn(eigenvalues)
    T = 12
    x = torch.randn(3, T, 2, dtype=torch.float64)
    lambdas = torch.tensor(eigenvalues, dtype=torch.float64)
    distances = torch.arange(T + 1, dtype=torch.float64)
    for m in range(len(eigenvalues)):
        # J = h^(T)_m: dJ/dh^(T-k) = lambda_m^k e_m, so its norm is |lambda_m|^k.
        norms = gradient_norms_by_distance(layer, x, lambda h, m=m: h[:, m])
        expected = (lambdas[m].abs() ** distances).expand(3, -1)
        torch.testing.assert_close(norms, expected, rtol=1e-13, atol=0)
    # J = sum_m h^(T)_m: every component of dJ/dh^(j) is lambda_m^(T-j), signs included.
    gradients = state_gradients(layer, x, lambda h: h.sum(-1))
    expected = lambdas ** (T - distances[:, None])  # (T+1, hidden), indexed by j
    torch.testing.assert_close(gradients, expected.expand(3, -1, -1), rtol=1e-13, atol=0)


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("batch,steps,hidden", SHAPES)
def test_one_pass_state_gradients_equal_autograd_per_step(nonlinearity, batch, steps, hidden):
    cell, layer = rnn(2, hidden, nonlinearity)
    x = torch.randn(batch, steps, 2, dtype=torch.float64)
    readout = torch.randn(hidden, dtype=torch.float64)

    def loss(h):
        return h @ readout

    for t in range(1, steps + 1):
        one_pass = state_gradients(layer, x, loss, t=t)
        assert one_pass.shape == (batch, t + 1, hidden)
        # Reference: a fresh forward pass and one torch.autograd.grad call per state h^(j).
        h0 = torch.zeros(batch, hidden, dtype=torch.float64, requires_grad=True)
        hidden_states = [h0] + layer.unroll(x, h0)
        J = loss(hidden_states[t]).sum()
        for j in range(t + 1):
            (reference,) = torch.autograd.grad(J, hidden_states[j], retain_graph=True)
            torch.testing.assert_close(one_pass[:, j], reference, rtol=1e-12, atol=1e-15)
        norms = gradient_norms_by_distance(layer, x, loss, t=t)
        torch.testing.assert_close(norms, one_pass.norm(dim=-1).flip(-1))


@pytest.mark.parametrize("batch,steps,hidden", SHAPES)
def test_gradient_norm_matrix_rows_equal_single_step_gradients(batch, steps, hidden):
    cell, layer = rnn(2, hidden, "tanh")
    x = torch.randn(batch, steps, 2, dtype=torch.float64)

    def loss(h):
        return (h**2).sum(-1)

    matrix = gradient_norm_matrix(layer, x, loss)
    assert matrix.shape == (batch, steps, steps + 1)
    for t in range(1, steps + 1):
        row = state_gradients(layer, x, loss, t=t).norm(dim=-1)  # (batch, t+1)
        torch.testing.assert_close(matrix[:, t - 1, : t + 1], row, rtol=1e-12, atol=1e-15)
        assert torch.all(matrix[:, t - 1, t + 1 :] == 0)


def test_gradient_instruments_work_for_lstm_states():
    torch.manual_seed(0)
    layer = rnnlib.RecurrentLayer(rnnlib.LSTMCell(2, 3).double())
    x = torch.randn(2, 4, 2, dtype=torch.float64)
    gradients = state_gradients(layer, x, lambda h: h.sum(-1))
    assert gradients.shape == (2, 5, 3)
    torch.testing.assert_close(gradients[:, -1], torch.ones(2, 3, dtype=torch.float64))


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("batch,steps,hidden", SHAPES)
def test_step_jacobians_equal_autograd_jacobian(nonlinearity, batch, steps, hidden):
    cell, _ = rnn(2, hidden, nonlinearity)
    x = torch.randn(batch, steps, 2, dtype=torch.float64)
    h, a = trajectory(cell, x)
    jacobians = step_jacobians(cell, x)
    assert jacobians.shape == (batch, steps, hidden, hidden)
    x_projected = cell.input_projection(x)
    for b in range(batch):
        for t in range(1, steps + 1):
            reference = torch.autograd.functional.jacobian(
                lambda h_prev, b=b, t=t: cell.step(x_projected[b, t - 1], h_prev), h[b, t - 1]
            )  # reference[r, c] = d h^(t)_r / d h^(t-1)_c: the math convention
            torch.testing.assert_close(jacobians[b, t - 1], reference, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(h[:, 1:], rnnlib.RecurrentLayer(cell)(x)[0].detach())


@pytest.mark.parametrize("nonlinearity", ["tanh", "identity"])
def test_jacobian_product_transposed_maps_gradients_back(nonlinearity):
    cell, layer = rnn(2, 4, nonlinearity)
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    readout = torch.randn(4, dtype=torch.float64)
    gradients = state_gradients(layer, x, lambda h: h @ readout)  # (batch, T+1, hidden)
    jacobians = step_jacobians(cell, x)
    for j in range(7):
        product = jacobian_product(jacobians, 6, j)  # dh^(6)/dh^(j)
        # row-vector chain rule dJ/dh^(j) = dJ/dh^(6) dh^(6)/dh^(j), i.e. g_j = P^T g_6
        torch.testing.assert_close(gradients[:, j], readout @ product, rtol=1e-12, atol=1e-15)
    if nonlinearity == "identity":
        power = torch.linalg.matrix_power(cell.W_h.detach(), 4)
        torch.testing.assert_close(jacobian_product(jacobians, 5, 1), power.expand(3, -1, -1))
    torch.testing.assert_close(
        jacobian_product(jacobians, 3, 3), torch.eye(4).double().expand(3, -1, -1)
    )


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("batch,steps,hidden", SHAPES)
def test_jacobian_product_norms_obey_pascanu_bound(nonlinearity, batch, steps, hidden):
    cell, _ = rnn(2, hidden, nonlinearity, seed=1)
    x = torch.randn(batch, steps, 2, dtype=torch.float64)
    jacobians = step_jacobians(cell, x)
    norms = jacobian_product_norms(jacobians)
    assert norms.shape == (batch, steps + 1)
    for k in range(steps + 1):
        reference = np.linalg.norm(
            jacobian_product(jacobians, steps, steps - k).numpy(), 2, axis=(1, 2)
        )
        np.testing.assert_allclose(norms[:, k].numpy(), reference, rtol=1e-12)
    bound = jacobian_bound(cell.W_h, nonlinearity, torch.arange(steps + 1))
    assert torch.all(norms <= bound * (1 + 1e-12))


def test_sigma_prime_matches_autograd_and_gamma_is_its_maximum():
    a = torch.linspace(-6, 6, 2001, dtype=torch.float64, requires_grad=True)
    for name in NONLINEARITIES:
        (reference,) = torch.autograd.grad(rnnlib.NONLINEARITIES[name](a).sum(), a)
        derivative = sigma_prime(name, a.detach())
        torch.testing.assert_close(derivative, reference)
        assert derivative.max().item() == pytest.approx(GAMMA[name], rel=1e-12)


@pytest.mark.parametrize("hidden", [1, 2, 5, 16])
def test_spectral_tools_equal_numpy(hidden):
    generator = torch.Generator().manual_seed(hidden)
    W = torch.randn(hidden, hidden, generator=generator, dtype=torch.float64)
    assert spectral_radius(W) == pytest.approx(
        np.abs(np.linalg.eigvals(W.numpy())).max(), rel=1e-12
    )
    assert largest_singular_value(W) == pytest.approx(np.linalg.svd(W.numpy())[1][0], rel=1e-12)
    scaled = scale_to_spectral_radius(W, 0.7)
    assert spectral_radius(scaled) == pytest.approx(0.7, rel=1e-12)
    np.testing.assert_allclose(scaled.numpy() / W.numpy(), 0.7 / spectral_radius(W), rtol=1e-12)


def test_spectral_radius_and_norm_differ_for_non_normal_matrix():
    W = torch.tensor([[0.0, 10.0], [0.0, 0.0]], dtype=torch.float64)  # nilpotent
    assert spectral_radius(W) == 0.0
    assert largest_singular_value(W) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="spectral radius 0"):
        scale_to_spectral_radius(W, 1.0)
    with pytest.raises(ValueError, match="square"):
        spectral_radius(torch.zeros(2, 3))


@pytest.mark.parametrize("hidden", [1, 3, 32])
def test_initialisations(hidden):
    generator = torch.Generator().manual_seed(0)
    W = orthogonal_(torch.empty(hidden, hidden, dtype=torch.float64), gain=1.5, generator=generator)
    torch.testing.assert_close(W.T @ W, 2.25 * torch.eye(hidden, dtype=torch.float64))
    np.testing.assert_allclose(np.linalg.svd(W.numpy())[1], 1.5, rtol=1e-12)
    assert spectral_radius(W) == pytest.approx(1.5, rel=1e-12)
    I = identity_(torch.empty(hidden, hidden), scale=0.9)
    torch.testing.assert_close(I, 0.9 * torch.eye(hidden))
    G = gaussian_(torch.empty(hidden, hidden, dtype=torch.float64), generator=generator)
    if hidden == 32:  # circular law: spectral radius near 1 and spectral norm near 2
        assert 0.7 < spectral_radius(G) < 1.3
        assert 1.6 < largest_singular_value(G) < 2.4
    cell = rnnlib.RNNCell(2, hidden)
    orthogonal_(cell.W_h)
    assert cell.W_h.requires_grad
    torch.testing.assert_close(cell.W_h.T @ cell.W_h, torch.eye(hidden), atol=1e-5, rtol=0)


def test_readable_errors():
    cell, layer = rnn(2, 3)
    x = torch.randn(1, 4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="between 1 and T=4"):
        state_gradients(layer, x, lambda h: h.sum(), t=5)
    with pytest.raises(ValueError, match="RNNCell"):
        step_jacobians(rnnlib.LSTMCell(2, 3).double(), x)
    with pytest.raises(ValueError, match="j <= i"):
        jacobian_product(step_jacobians(cell, x), 2, 3)
    with pytest.raises(ValueError, match="nonlinearity"):
        sigma_prime("softplus", x)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_instruments_give_the_same_answer_on_every_device(device):
    cell, layer = rnn(2, 5, "tanh")
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    gradients = state_gradients(layer, x, lambda h: h.sum(-1))
    jacobians = step_jacobians(cell, x)
    layer.to(device)
    on_device = state_gradients(layer, x.to(device), lambda h: h.sum(-1))
    assert on_device.device.type == device
    torch.testing.assert_close(on_device.cpu(), gradients)
    torch.testing.assert_close(step_jacobians(cell, x.to(device)).cpu(), jacobians)
    norms = jacobian_product_norms(step_jacobians(cell, x.to(device)))
    torch.testing.assert_close(norms.cpu(), jacobian_product_norms(jacobians))
    assert spectral_radius(cell.W_h) == pytest.approx(spectral_radius(cell.W_h.cpu()))
