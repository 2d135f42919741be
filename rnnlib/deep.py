r"""Blocks for deep feed-forward networks: plain, residual, highway and dense layers.

Shapes: B batch, D input features, W width, G a dense block's growth, C classes,
P_l the number of parameters of layer l.

Each block maps the previous layer's output :math:`h_{l-1}` to :math:`h_l`, in the papers'
equations (the activation :math:`\phi` is ``tanh`` or ``relu``, :math:`\sigma` the logistic
sigmoid, :math:`\circ` the elementwise product):

.. math::
    \text{plain:}\quad & h_l = \phi(W h_{l-1} + b) \\
    \text{residual (He et al. 2016):}\quad & h_l = h_{l-1} + \mathcal F(h_{l-1}),
        \quad \mathcal F(h) = \phi(W h + b) \\
    \text{highway (Srivastava et al. 2015):}\quad & h_l = T \circ H + (1 - T) \circ h_{l-1},
        \quad H = \phi(W_H h_{l-1} + b_H), \quad T = \sigma(W_T h_{l-1} + b_T) \\
    \text{dense (Huang et al. 2017):}\quad & h_l = [h_{l-1}; \phi(W h_{l-1} + b)],
        \quad h_{l-1} = [h_0; h_1'; \dots; h_{l-1}']

A dense block's input is the concatenation of every earlier layer's new features, and it
returns that concatenation with its own ``growth`` features appended.

:func:`deep_network` stacks a first plain layer (input to width), ``depth - 1`` blocks of one
kind and a linear readout, as in Srivastava et al.'s networks (depth 10 = a first plain layer
plus 9 blocks); :func:`layer_gradient_norms` measures how much gradient reaches each layer's
weights from one backward pass; :func:`layer_weight_change` how far training moved each layer's
weights.

Not here: convolutions, batch normalisation, dropout, the two-layer residual branch of He et
al. (our :math:`\mathcal F` has one layer, the same parameters as a plain layer) and
pre-activation orderings.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

from .checks import check_choice, check_int
from .nonlinearities import NONLINEARITIES, Nonlinearity, nonlinearity

__all__ = [
    "ACTIVATIONS",
    "PlainBlock",
    "ResidualBlock",
    "HighwayBlock",
    "DenseBlock",
    "KINDS",
    "deep_network",
    "layer_gradient_norms",
    "layer_weight_change",
]

Activation = Literal["tanh", "relu"]

#: The activations :math:`\phi` a block accepts, by name (from the one table of
#: :mod:`rnnlib.nonlinearities`).
ACTIVATIONS: dict[str, Nonlinearity] = {name: NONLINEARITIES[name] for name in get_args(Activation)}


def _activation(name: str) -> Nonlinearity:
    return nonlinearity(name, among=tuple(ACTIVATIONS), what="activation")


class PlainBlock(nn.Module):
    r"""A plain layer, :math:`h_l = \phi(W h_{l-1} + b)`.

    >>> PlainBlock(5, 3)(torch.zeros(2, 5)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self, in_features: int, out_features: int, activation: Activation = "tanh"
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.activation = activation
        self._phi = _activation(activation)

    def forward(self, h_prev: torch.Tensor) -> torch.Tensor:
        """:math:`h_l` of shape (B, out) from :math:`h_{l-1}` of shape (B, in)."""
        # h = phi(W h_prev + b)
        return self._phi(self.linear(h_prev))


class ResidualBlock(nn.Module):
    r"""A residual layer (He et al. 2016), :math:`h_l = h_{l-1} + \phi(W h_{l-1} + b)`.

    With :math:`W = 0, b = 0` it is the identity, since :math:`\phi(0) = 0`.

    >>> ResidualBlock(4)(torch.zeros(2, 4)).shape
    torch.Size([2, 4])
    """

    def __init__(self, width: int, activation: Activation = "tanh") -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.activation = activation
        self._phi = _activation(activation)

    def forward(self, h_prev: torch.Tensor) -> torch.Tensor:
        """:math:`h_l` from :math:`h_{l-1}`, both (B, W)."""
        # h = h_prev + F(h_prev), F(h) = phi(W h + b)
        return h_prev + self._phi(self.linear(h_prev))


class HighwayBlock(nn.Module):
    r"""A highway layer (Srivastava et al. 2015):

    .. math::
        H = \phi(W_H h_{l-1} + b_H), \quad T = \sigma(W_T h_{l-1} + b_T), \quad
        h_l = T \circ H + (1 - T) \circ h_{l-1}

    :math:`T` is the transform gate and :math:`1 - T` the carry gate. Its bias :math:`b_T`
    starts at ``gate_bias`` (negative, so that the layer starts close to carrying its input;
    the paper searched -1 to -10). With :math:`b_T = -\infty` the gate is closed and the
    layer is exactly the identity.

    >>> HighwayBlock(4)(torch.zeros(2, 4)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self, width: int, activation: Activation = "tanh", gate_bias: float = -2.0
    ) -> None:
        super().__init__()
        self.H = nn.Linear(width, width)
        self.T = nn.Linear(width, width)
        self.activation = activation
        self._phi = _activation(activation)
        with torch.no_grad():
            self.T.bias.fill_(gate_bias)

    def transform_gate(self, h_prev: torch.Tensor) -> torch.Tensor:
        r""":math:`T = \sigma(W_T h_{l-1} + b_T)`, shape (B, W)."""
        return torch.sigmoid(self.T(h_prev))

    def forward(self, h_prev: torch.Tensor) -> torch.Tensor:
        """:math:`h_l` from :math:`h_{l-1}`, both (B, W)."""
        H = self._phi(self.H(h_prev))
        T = self.transform_gate(h_prev)
        # h = T * H + (1 - T) * h_prev
        return T * H + (1 - T) * h_prev


class DenseBlock(nn.Module):
    r"""A dense layer (Huang et al. 2017): it reads the concatenation of all earlier layers'
    outputs and appends ``growth`` new features, :math:`h_l = [h_{l-1}; \phi(W h_{l-1} + b)]`.

    >>> DenseBlock(5, 3)(torch.zeros(2, 5)).shape
    torch.Size([2, 8])
    """

    def __init__(self, in_features: int, growth: int, activation: Activation = "tanh") -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, growth)
        self.activation = activation
        self._phi = _activation(activation)

    def forward(self, h_prev: torch.Tensor) -> torch.Tensor:
        """(B, in + G) from the concatenation (B, in) of the earlier layers."""
        # h = [h_prev; phi(W h_prev + b)]
        return torch.cat([h_prev, self._phi(self.linear(h_prev))], dim=-1)  # (B, in + G)


Kind = Literal["plain", "residual", "highway", "dense"]
#: The kinds of block :func:`deep_network` builds.
KINDS: tuple[str, ...] = get_args(Kind)


def deep_network(
    kind: Kind,
    depth: int,
    width: int,
    in_features: int,
    out_features: int,
    activation: Activation = "tanh",
    gate_bias: float = -2.0,
    growth: int | None = None,
) -> nn.Sequential:
    """A first plain layer (``in_features`` to ``width``), ``depth - 1`` blocks of ``kind``
    and a linear readout to ``out_features``: ``depth`` layers with an activation in all.

    ``gate_bias`` is the highway blocks' initial :math:`b_T`; ``growth`` is the dense blocks'
    number of new features per layer (default ``width // 4``).

    >>> deep_network("highway", 10, 8, 64, 10)(torch.zeros(3, 64)).shape
    torch.Size([3, 10])
    """
    check_choice(kind, "kind", KINDS)
    check_int(depth, "depth")
    check_int(width, "width")
    check_int(growth, "growth", none_ok=True)
    growth = width // 4 if growth is None else growth
    layers: list[nn.Module] = [PlainBlock(in_features, width, activation)]
    features = width
    for _ in range(depth - 1):
        if kind == "plain":
            layers.append(PlainBlock(width, width, activation))
        elif kind == "residual":
            layers.append(ResidualBlock(width, activation))
        elif kind == "highway":
            layers.append(HighwayBlock(width, activation, gate_bias))
        else:
            layers.append(DenseBlock(features, growth, activation))
            features += growth
    layers.append(nn.Linear(features, out_features))
    return nn.Sequential(*layers)


def layer_gradient_norms(network: nn.Sequential, loss: torch.Tensor) -> torch.Tensor:
    r"""The L2 norm of :math:`\partial \text{loss} / \partial \theta_l` for each of the
    ``depth`` layers of a :func:`deep_network` (readout excluded), from one backward pass.

    :math:`\theta_l` is all of layer :math:`l`'s parameters (weights and biases) viewed as one
    vector. Returns a tensor of shape (depth,); the network's ``.grad`` fields are not touched.

    >>> _ = torch.manual_seed(0)
    >>> net = deep_network("plain", 4, 8, 5, 2)
    >>> norms = layer_gradient_norms(net, net(torch.randn(3, 5)).sum())
    >>> norms.shape, bool((norms > 0).all()), net[0].linear.weight.grad is None
    (torch.Size([4]), True, True)
    """
    layers = list(network)[:-1]
    parameters = [list(layer.parameters()) for layer in layers]
    flat = [p for group in parameters for p in group]
    grads = iter(torch.autograd.grad(loss, flat))
    norms = [torch.sqrt(sum((next(grads) ** 2).sum() for _ in group)) for group in parameters]
    return torch.stack(norms).detach()  # (depth,)


def layer_weight_change(before: nn.Sequential, after: nn.Sequential) -> torch.Tensor:
    r"""How far training moved each layer of a :func:`deep_network`, relative to where it
    started: :math:`\lVert \theta_l' - \theta_l \rVert / \lVert \theta_l \rVert` for each of
    the ``depth`` layers (readout excluded), where :math:`\theta_l` (``before``) and
    :math:`\theta_l'` (``after``) are all of layer :math:`l`'s parameters viewed as one vector.

    ``before`` and ``after`` must have the same architecture (e.g. a ``copy.deepcopy`` taken
    before training, and the trained network). Returns a tensor of shape (depth,).

    >>> net = deep_network("plain", 3, 4, 5, 2)
    >>> layer_weight_change(net, net).tolist()
    [0.0, 0.0, 0.0]
    """
    layers_before, layers_after = list(before)[:-1], list(after)[:-1]
    if len(layers_before) != len(layers_after):
        raise ValueError(
            f"before and after must have the same depth, got {len(layers_before)} and "
            f"{len(layers_after)} layers"
        )
    changes = []
    with torch.no_grad():
        for layer_before, layer_after in zip(layers_before, layers_after, strict=True):
            theta = torch.cat([p.flatten() for p in layer_before.parameters()])  # (P_l,)
            theta_after = torch.cat([p.flatten() for p in layer_after.parameters()])  # (P_l,)
            if theta.shape != theta_after.shape:
                raise ValueError("before and after must have the same architecture")
            changes.append((theta_after - theta).norm() / theta.norm())
    return torch.stack(changes)  # (depth,)
