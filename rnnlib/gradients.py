r"""Gradient-flow instruments: how much of the loss at step t reaches the state at step j.

Shapes: B batch, T time steps, I input features, H hidden units.

Notation of the lecture (Pascanu et al. 2013): a vanilla RNN computes

.. math:: a^{(t)} = W_h h^{(t-1)} + W_x x^{(t)} + b, \qquad h^{(t)} = \sigma(a^{(t)}),

with :math:`h^{(0)}` the initial state and :math:`t = 1, \dots, T`.

**Jacobian convention** (the math convention, "numerator layout"): row :math:`r` of
:math:`\partial h^{(t)} / \partial h^{(t-1)}` is the derivative of :math:`h^{(t)}_r`, so

.. math::
   \frac{\partial h^{(t)}}{\partial h^{(t-1)}}
   = \operatorname{diag}\big(\sigma'(a^{(t)})\big)\, W_h,
   \qquad
   \frac{\partial h^{(i)}}{\partial h^{(j)}}
   = \prod_{t=i}^{j+1} \frac{\partial h^{(t)}}{\partial h^{(t-1)}}
   \quad(\text{latest factor on the left}).

A gradient :math:`\partial J / \partial h^{(j)}` is a *row* vector in the math and a tensor of
``h``'s shape ``(batch, hidden)`` in torch; the two are related by

.. math:: \frac{\partial J^{(i)}}{\partial h^{(j)}} = \frac{\partial J^{(i)}}{\partial h^{(i)}}
   \frac{\partial h^{(i)}}{\partial h^{(j)}}
   \quad\Longleftrightarrow\quad
   g^{(j)} = \Big(\frac{\partial h^{(i)}}{\partial h^{(j)}}\Big)^{\!\top} g^{(i)}
   = \prod_{t=j+1}^{i} W_h^\top \operatorname{diag}\big(\sigma'(a^{(t)})\big)\, g^{(i)}.

Functions here, grouped by job:

* gradients through the states, from **one** backward pass: :func:`state_gradients`,
  :func:`gradient_norms_by_distance`, :func:`gradient_norm_matrix`, and how far back they
  reach, :func:`gradient_reach`;
* Jacobians along a trajectory: :func:`trajectory`, :func:`step_jacobians`,
  :func:`jacobian_product`, :func:`jacobian_product_norms`, :func:`jacobian_bound`;
* spectral tools and initialisations of a square ``W_h``: :func:`spectral_radius`,
  :func:`largest_singular_value`, :func:`scale_to_spectral_radius`, :func:`gaussian_`,
  :func:`orthogonal_`, :func:`identity_`.

Not here: the nonlinearities and their derivatives (:mod:`rnnlib.nonlinearities`), clipping
(:mod:`rnnlib.clipping`), gradients per layer of a deep feed-forward network
(:func:`rnnlib.deep.layer_gradient_norms`) and the exercise that asks the reader to write
:func:`gradient_reach` (:mod:`rnnlib.exercises`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch

from .cells import RNNCell
from .checks import check_choice, check_int
from .layers import RecurrentLayer
from .nonlinearities import NONLINEARITIES, nonlinearity
from .recurrent_cell import RecurrentCell, State

__all__ = [
    "GAMMA",
    "sigma_prime",
    "state_gradients",
    "gradient_norms_by_distance",
    "gradient_norm_matrix",
    "gradient_reach",
    "trajectory",
    "step_jacobians",
    "jacobian_product",
    "jacobian_product_norms",
    "jacobian_bound",
    "spectral_radius",
    "largest_singular_value",
    "scale_to_spectral_radius",
    "gaussian_",
    "orthogonal_",
    "identity_",
]

#: :math:`\gamma = \sup_a |\sigma'(a)|` for every nonlinearity, the bound on
#: :math:`\|\operatorname{diag}(\sigma'(a))\|_2` used in Pascanu et al.'s sufficient condition
#: :math:`\|W_h\|_2 < 1/\gamma` (from the one table, :data:`rnnlib.nonlinearities.NONLINEARITIES`).
GAMMA: dict[str, float] = {name: sigma.gamma for name, sigma in NONLINEARITIES.items()}

Loss = Callable[[torch.Tensor], torch.Tensor]
NonlinearityName = Literal["tanh", "relu", "sigmoid", "identity"]


def sigma_prime(name: NonlinearityName, a: torch.Tensor) -> torch.Tensor:
    r""":math:`\sigma'(a)` elementwise for the nonlinearity called ``name``.

    tanh: :math:`1 - \tanh^2 a`; sigmoid: :math:`s(1 - s)`; relu: :math:`[a > 0]` (0 at 0, as
    autograd does); identity: 1 (:mod:`rnnlib.nonlinearities`).

    >>> sigma_prime("sigmoid", torch.zeros(3))
    tensor([0.2500, 0.2500, 0.2500])
    """
    return nonlinearity(name).derivative(a)


# --- gradients through the states -----------------------------------------------------------
def _initial_leaf(cell: RecurrentCell, batch: int, state: State | None) -> State:
    """A copy of the initial state that autograd can differentiate with respect to."""
    if state is None:
        state = cell.initial_state(batch)
    if isinstance(state, tuple | list):
        return tuple(s.detach().clone().requires_grad_(True) for s in state)
    return state.detach().clone().requires_grad_(True)


def _states_with_initial(
    layer: RecurrentLayer, x: torch.Tensor, state: State | None
) -> list[torch.Tensor]:
    """``[h^(0), h^(1), ..., h^(T)]`` as autograd nodes of one unrolled graph."""
    if layer.reverse:
        raise ValueError("gradient instruments expect a forward layer (reverse=False)")
    batch = x.shape[0] if layer.batch_first else x.shape[1]
    initial = _initial_leaf(layer.cell, batch, state)
    states = layer.unroll(x, initial)
    return [layer.cell.hidden(s) for s in [initial, *states]]


def _check_step(t: int | None, steps: int) -> int:
    t = check_int(steps if t is None else t, "t")
    if t > steps:
        raise ValueError(f"t must be a time step between 1 and T={steps}, got {t}")
    return t


def state_gradients(
    layer: RecurrentLayer,
    x: torch.Tensor,
    loss: Loss,
    t: int | None = None,
    state: State | None = None,
) -> torch.Tensor:
    r""":math:`\partial J^{(t)} / \partial h^{(j)}` for every :math:`j = 0, \dots, t` from ONE
    backward pass.

    ``loss`` maps :math:`h^{(t)}` of shape ``(batch, hidden)`` to per-example losses ``(batch,)``
    (or a scalar); :math:`J^{(t)}` is their sum, so row ``b`` of each gradient is example
    ``b``'s own gradient. ``t`` defaults to the last step ``T``; ``state`` is :math:`h^{(0)}`
    (zeros by default). Returns shape ``(batch, t + 1, hidden)``, indexed by ``j``.

    >>> _ = torch.manual_seed(0)
    >>> layer = RecurrentLayer(RNNCell(2, 3))
    >>> state_gradients(layer, torch.randn(4, 5, 2), lambda h: h.sum(-1)).shape  # (B, T + 1, H)
    torch.Size([4, 6, 3])
    """
    hidden = _states_with_initial(layer, x, state)
    t = _check_step(t, len(hidden) - 1)
    J = loss(hidden[t]).sum()
    gradients = torch.autograd.grad(J, hidden[: t + 1], allow_unused=True)
    gradients = [
        torch.zeros_like(h) if g is None else g
        for g, h in zip(gradients, hidden[: t + 1], strict=True)
    ]
    return torch.stack(gradients, dim=1)  # (B, t + 1, H)


def gradient_norms_by_distance(
    layer: RecurrentLayer,
    x: torch.Tensor,
    loss: Loss,
    t: int | None = None,
    state: State | None = None,
) -> torch.Tensor:
    r""":math:`\|\partial J^{(t)} / \partial h^{(t-k)}\|_2` for distances :math:`k = 0, \dots, t`.

    Same arguments as :func:`state_gradients` (one backward pass); returns ``(batch, t + 1)``,
    column ``k`` being the norm of example ``b``'s gradient ``k`` steps before the loss.

    A linear RNN with :math:`W_h = 0.5 I` halves the gradient at every step back:

    >>> cell = RNNCell(1, 2, nonlinearity="identity")
    >>> _ = identity_(cell.W_h, 0.5)
    >>> norms = gradient_norms_by_distance(RecurrentLayer(cell), torch.ones(1, 3, 1),
    ...                                    lambda h: h.sum(-1))
    >>> norms.shape, (norms / norms[:, :1]).tolist()  # (B, t + 1): distances k = 0..3
    (torch.Size([1, 4]), [[1.0, 0.5, 0.25, 0.125]])
    """
    gradients = state_gradients(layer, x, loss, t, state)
    return torch.linalg.vector_norm(gradients, dim=-1).flip(-1)


def gradient_norm_matrix(
    layer: RecurrentLayer, x: torch.Tensor, loss: Loss, state: State | None = None
) -> torch.Tensor:
    r"""The matrix :math:`M_{t,j} = \|\partial J^{(t)} / \partial h^{(j)}\|_2` of a sequence
    loss :math:`J = \sum_t J^{(t)}`, for heatmaps.

    :math:`J^{(t)}` is ``loss(h^(t)).sum()`` at every step. All ``T`` gradients come from one
    vectorised backward pass (``torch.autograd.grad(..., is_grads_batched=True)``: the
    vector-Jacobian product with each unit vector :math:`e_t` of the stacked step losses).
    Returns shape ``(batch, T, T + 1)``: row ``t - 1`` for the loss at step ``t``, column ``j``
    for :math:`h^{(j)}`, ``j = 0..T``; entries with ``j > t`` are 0.

    >>> _ = torch.manual_seed(0)
    >>> layer = RecurrentLayer(RNNCell(2, 3))
    >>> M = gradient_norm_matrix(layer, torch.randn(1, 3, 2), lambda h: h.sum(-1))
    >>> M.shape, M[0, 0, 2:].tolist()  # (B, T, T + 1); the loss at t = 1 sees no later state
    (torch.Size([1, 3, 4]), [0.0, 0.0])
    """
    hidden = _states_with_initial(layer, x, state)
    steps = len(hidden) - 1
    step_losses = torch.stack([loss(h).sum() for h in hidden[1:]])  # (T,)
    unit_vectors = torch.eye(steps, dtype=step_losses.dtype, device=step_losses.device)
    gradients = torch.autograd.grad(
        step_losses, hidden, grad_outputs=unit_vectors, is_grads_batched=True, allow_unused=True
    )
    gradients = [  # each (T, batch, hidden): the loss of step t against h^(j)
        g if g is not None else hidden[0].new_zeros(steps, *hidden[0].shape) for g in gradients
    ]
    norms = torch.linalg.vector_norm(torch.stack(gradients, dim=-2), dim=-1)  # (T, batch, T+1)
    return norms.permute(1, 0, 2)


def gradient_reach(norms: torch.Tensor, threshold: float = 1e-3) -> int | torch.Tensor:
    r"""How far back the gradient reaches: the largest distance :math:`K` such that

    .. math:: \frac{\|\partial J^{(t)} / \partial h^{(t-k)}\|}
        {\|\partial J^{(t)} / \partial h^{(t)}\|} \ge \text{threshold}
        \quad \text{for every } k = 0, \dots, K.

    ``norms[..., k]`` is :math:`\|\partial J^{(t)} / \partial h^{(t-k)}\|` (the layout of
    :func:`gradient_norms_by_distance`); the ratio is taken to entry 0, so the reach is at least
    0, and it is the last index when the ratio never falls below ``threshold``. The curve must
    stay above the threshold all the way: a later rise does not count (the signal was already
    lost on the way). Returns an ``int`` for a 1-D ``norms``, else a long tensor of the leading
    shape (one reach per example).

    >>> gradient_reach(torch.tensor([1.0, 0.1, 0.01, 0.0001]), threshold=1e-3)
    2
    >>> gradient_reach(torch.tensor([[1.0, 0.5], [1.0, 1e-4]]), threshold=1e-3).tolist()
    [1, 0]
    """
    norms = torch.as_tensor(norms).detach()
    if norms.dim() == 0 or norms.shape[-1] == 0:
        raise ValueError(f"norms must have at least one distance, got shape {tuple(norms.shape)}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if (norms[..., 0] <= 0).any() or not torch.isfinite(norms).all():
        raise ValueError("norms must be finite, with a positive gradient at distance 0")
    above = norms / norms[..., :1] >= threshold
    # the number of leading distances above the threshold, minus one (distance 0 always is)
    reach = above.long().cumprod(dim=-1).sum(dim=-1) - 1
    return int(reach) if reach.dim() == 0 else reach


# --- Jacobians along a trajectory -----------------------------------------------------------
def _check_rnn_cell(cell: RecurrentCell) -> RNNCell:
    if not isinstance(cell, RNNCell):
        raise ValueError(
            "explicit Jacobians are written for the vanilla RNNCell (h = sigma(W_h h + W_x x + b)),"
            f" got {type(cell).__name__}; use state_gradients for other cells"
        )
    return cell


@torch.no_grad()
def trajectory(
    cell: RNNCell, x: torch.Tensor, h0: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Run a vanilla RNN and keep what the Jacobians need.

    ``x`` is ``(batch, time, input)``. Returns ``(h, a)``: the states :math:`h^{(0..T)}`,
    shape ``(batch, T + 1, hidden)`` with ``h[:, 0]`` = :math:`h^{(0)}`, and the
    pre-activations :math:`a^{(t)} = W_h h^{(t-1)} + W_x x^{(t)} + b`, shape
    ``(batch, T, hidden)`` with ``a[:, t - 1]`` = :math:`a^{(t)}`.

    >>> h, a = trajectory(RNNCell(2, 3), torch.zeros(4, 5, 2))
    >>> h.shape, a.shape  # (B, T + 1, H), (B, T, H)
    (torch.Size([4, 6, 3]), torch.Size([4, 5, 3]))
    """
    cell = _check_rnn_cell(cell)
    h = cell.initial_state(x.shape[0]) if h0 is None else h0
    x_projected = cell.input_projection(x)
    states, preactivations = [h], []
    for x_t in x_projected.unbind(1):  # each (B, H)
        a = cell.pre_activation(x_t, h)  # a_t = W_h h_{t-1} + W_x x_t + b
        h = cell.sigma(a)
        states.append(h)
        preactivations.append(a)
    return (
        torch.stack(states, dim=1),  # h: (B, T + 1, H)
        torch.stack(preactivations, dim=1),  # a: (B, T, H)
    )


@torch.no_grad()
def step_jacobians(cell: RNNCell, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`\partial h^{(t)} / \partial h^{(t-1)} = \operatorname{diag}(\sigma'(a^{(t)})) W_h`
    for ``t = 1..T``.

    Returns ``(batch, T, hidden, hidden)``; ``[:, t - 1]`` is the Jacobian of step ``t``
    (rows: components of :math:`h^{(t)}`, columns: of :math:`h^{(t-1)}`).

    With the identity as :math:`\sigma`, every step's Jacobian is :math:`W_h` itself:

    >>> cell = RNNCell(2, 3, nonlinearity="identity")
    >>> J = step_jacobians(cell, torch.zeros(4, 5, 2))
    >>> J.shape, torch.equal(J[0, 0], cell.W_h.detach())  # (B, T, H, H)
    (torch.Size([4, 5, 3, 3]), True)
    """
    _, a = trajectory(cell, x, h0)
    return sigma_prime(cell.nonlinearity, a)[..., :, None] * cell.W_h  # diag(s) W_h scales rows


def jacobian_product(jacobians: torch.Tensor, i: int, j: int) -> torch.Tensor:
    r""":math:`\partial h^{(i)} / \partial h^{(j)} = J_i J_{i-1} \cdots J_{j+1}` (identity when
    ``i == j``), from ``jacobians`` as returned by :func:`step_jacobians`.

    Returns ``(batch, hidden, hidden)``.

    >>> J = torch.diag(torch.tensor([0.5, 2.0])).expand(1, 3, 2, 2)  # (B, T, H, H)
    >>> jacobian_product(J, 3, 0)[0].tolist()  # diag(0.5, 2) cubed
    [[0.125, 0.0], [0.0, 8.0]]
    """
    check_int(i, "i", minimum=0)
    check_int(j, "j", minimum=0)
    steps = jacobians.shape[1]
    if not 0 <= j <= i <= steps:
        raise ValueError(f"need 0 <= j <= i <= T={steps}, got i={i}, j={j}")
    hidden = jacobians.shape[-1]
    product = torch.eye(hidden, dtype=jacobians.dtype, device=jacobians.device)
    product = product.expand(jacobians.shape[0], hidden, hidden)
    for t in range(j + 1, i + 1):
        product = jacobians[:, t - 1] @ product  # the later step multiplies from the left
    return product


def jacobian_product_norms(jacobians: torch.Tensor, i: int | None = None) -> torch.Tensor:
    r"""Spectral norms :math:`\|\partial h^{(i)} / \partial h^{(i-k)}\|_2` for ``k = 0..i``.

    ``i`` defaults to ``T``. Builds the products from the right end in one sweep. Returns
    ``(batch, i + 1)``.

    >>> J = torch.diag(torch.tensor([0.5, 0.25])).expand(1, 3, 2, 2)  # (B, T, H, H)
    >>> jacobian_product_norms(J).tolist()  # 0.5^k for k = 0..3
    [[1.0, 0.5, 0.25, 0.125]]
    """
    steps = jacobians.shape[1]
    i = _check_step(i, steps)
    hidden = jacobians.shape[-1]
    product = torch.eye(hidden, dtype=jacobians.dtype, device=jacobians.device)
    product = product.expand(jacobians.shape[0], hidden, hidden)
    products = [product]
    for k in range(1, i + 1):
        product = product @ jacobians[:, i - k]  # dh_i/dh_{i-k} = (dh_i/dh_{i-k+1}) J_{i-k+1}
        products.append(product)
    # The largest singular value; one batched svdvals is much faster than matrix_norm(ord=2).
    stacked = torch.stack(products, dim=1)  # (B, i + 1, H, H)
    return torch.linalg.svdvals(stacked)[..., 0]


def jacobian_bound(
    W_h: torch.Tensor, nonlinearity: NonlinearityName, distances: torch.Tensor
) -> torch.Tensor:
    r"""Pascanu et al.'s bound :math:`(\gamma\,\|W_h\|_2)^{k}` on
    :math:`\|\partial h^{(t)} / \partial h^{(t-k)}\|_2`, for each distance ``k`` in
    ``distances``.

    >>> jacobian_bound(2 * torch.eye(3), "sigmoid", torch.arange(4)).tolist()  # (2 / 4)^k
    [1.0, 0.5, 0.25, 0.125]
    """
    eta = GAMMA[check_choice(nonlinearity, "nonlinearity", GAMMA)] * largest_singular_value(W_h)
    return eta ** torch.as_tensor(distances, dtype=torch.float64)


# --- spectral tools and initialisations -----------------------------------------------------
def _square(W: torch.Tensor) -> torch.Tensor:
    if W.dim() != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"expected a square matrix (hidden, hidden), got shape {tuple(W.shape)}")
    return W.detach()


def spectral_radius(W: torch.Tensor) -> float:
    r""":math:`\rho(W) = \max_m |\lambda_m(W)|`, the largest eigenvalue modulus of a square
    matrix.

    >>> spectral_radius(torch.diag(torch.tensor([0.5, -2.0, 1.0])))
    2.0
    """
    return torch.linalg.eigvals(_square(W)).abs().max().item()


def largest_singular_value(W: torch.Tensor) -> float:
    r""":math:`\|W\|_2 = \sigma_{\max}(W)`, the spectral norm (Pascanu et al.'s
    :math:`\lambda_1`).

    It bounds the spectral radius from above, and can be far larger:

    >>> W = torch.tensor([[0.0, 10.0], [0.0, 0.0]])
    >>> largest_singular_value(W), spectral_radius(W)
    (10.0, 0.0)
    """
    return torch.linalg.svdvals(W.detach())[0].item()


def scale_to_spectral_radius(W: torch.Tensor, radius: float) -> torch.Tensor:
    r""":math:`W \cdot \rho^\ast / \rho(W)`: a copy of ``W`` with spectral radius ``radius``
    (same eigenvectors, every eigenvalue scaled by the same factor).

    >>> W = scale_to_spectral_radius(torch.diag(torch.tensor([0.5, -2.0])), 0.9)
    >>> [round(v, 4) for v in W.diagonal().tolist()], round(spectral_radius(W), 4)
    ([0.225, -0.9], 0.9)
    """
    current = spectral_radius(W)
    if current == 0:
        raise ValueError("W has spectral radius 0 (nilpotent); it cannot be rescaled to another")
    return W.detach() * (radius / current)


@torch.no_grad()
def gaussian_(
    W: torch.Tensor, std: float | None = None, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``W`` (hidden, hidden) in place with :math:`\mathcal N(0, \text{std}^2)` entries.

    The default ``std`` is :math:`1/\sqrt{\text{hidden}}`: by the circular law the spectral
    radius is then close to 1, while :math:`\|W\|_2 \approx 2`.

    >>> W = gaussian_(torch.empty(200, 200), generator=torch.Generator().manual_seed(0))
    >>> round(spectral_radius(W), 1), round(largest_singular_value(W), 1)
    (1.0, 2.0)
    """
    n = _square(W).shape[0]
    std = 1 / math.sqrt(n) if std is None else std
    W.copy_(torch.randn(W.shape, generator=generator, dtype=torch.float64).to(W) * std)
    return W


@torch.no_grad()
def orthogonal_(
    W: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``W`` (hidden, hidden) in place with ``gain`` times a random orthogonal matrix
    (Saxe et al. 2014): QR of a Gaussian matrix, signs fixed so the draw is uniform (Haar).

    Every singular value of the result is ``gain``, so :math:`\|W^k\|_2 = \text{gain}^k`.

    >>> W = orthogonal_(torch.empty(4, 4), gain=0.9, generator=torch.Generator().manual_seed(0))
    >>> [round(s, 4) for s in torch.linalg.svdvals(W).tolist()]
    [0.9, 0.9, 0.9, 0.9]
    """
    n = _square(W).shape[0]
    Q, R = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(R))  # column m times sign(R_mm)
    W.copy_((gain * Q).to(W))
    return W


@torch.no_grad()
def identity_(W: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    r"""Set ``W`` (hidden, hidden) to ``scale`` times the identity, in place: the IRNN
    initialisation of Le et al. (2015), used with relu and zero biases.

    >>> identity_(torch.empty(2, 2), scale=0.5).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    n = _square(W).shape[0]
    W.copy_(scale * torch.eye(n, dtype=W.dtype, device=W.device))
    return W
