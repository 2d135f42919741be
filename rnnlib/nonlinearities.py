r"""The nonlinearities :math:`\sigma` of the book, each with its derivative and its bound.

One table for the whole library: the vanilla RNN cell's :math:`\sigma`
(:class:`~rnnlib.cells.RNNCell`), the gradient instruments' :math:`\sigma'` and
:math:`\gamma` (:mod:`rnnlib.gradients`) and the deep blocks' activation :math:`\phi`
(:mod:`rnnlib.deep`) all read it.

.. math::
    \begin{array}{llll}
    \text{name} & \sigma(a) & \sigma'(a) & \gamma = \sup_a |\sigma'(a)| \\
    \text{tanh} & \tanh a & 1 - \tanh^2 a & 1 \\
    \text{sigmoid} & s(a) = 1 / (1 + e^{-a}) & s(a)\,(1 - s(a)) & 1/4 \\
    \text{relu} & \max(a, 0) & [a > 0] \text{ (0 at 0, as autograd)} & 1 \\
    \text{identity} & a & 1 & 1
    \end{array}

:math:`\gamma` bounds :math:`\|\operatorname{diag}(\sigma'(a))\|_2`, the factor of Pascanu et
al.'s sufficient condition :math:`\|W_h\|_2 < 1/\gamma` for vanishing gradients.

Not here: the gates' sigmoid and the LSTM's and GRU's tanh, which are fixed by those cells'
equations (:mod:`rnnlib.cells`), and the gradient instruments that use this table
(:mod:`rnnlib.gradients`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .checks import check_choice

__all__ = ["Nonlinearity", "NONLINEARITIES", "nonlinearity"]

Elementwise = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Nonlinearity:
    r"""An elementwise :math:`\sigma`, its derivative :math:`\sigma'` and :math:`\gamma`.

    Calling it applies :math:`\sigma`:

    >>> tanh = NONLINEARITIES["tanh"]
    >>> tanh(torch.zeros(2)), tanh.derivative(torch.zeros(2)), tanh.gamma
    (tensor([0., 0.]), tensor([1., 1.]), 1.0)
    """

    name: str
    function: Elementwise
    derivative: Elementwise
    gamma: float

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        return self.function(a)


def _identity(a: torch.Tensor) -> torch.Tensor:
    return a


def _tanh_derivative(a: torch.Tensor) -> torch.Tensor:
    # tanh'(a) = 1 - tanh(a)^2
    return 1 - torch.tanh(a) ** 2


def _sigmoid_derivative(a: torch.Tensor) -> torch.Tensor:
    # s'(a) = s(a) (1 - s(a))
    s = torch.sigmoid(a)
    return s * (1 - s)


def _relu_derivative(a: torch.Tensor) -> torch.Tensor:
    # relu'(a) = [a > 0], 0 at a = 0 as autograd has it
    return (a > 0).to(a.dtype)


#: Every nonlinearity by name. ``torch.nn.RNNCell`` offers only tanh and relu; sigmoid and
#: identity (the linear RNN of the vanishing-gradient proof) are for the chapters.
NONLINEARITIES: dict[str, Nonlinearity] = {
    "tanh": Nonlinearity("tanh", torch.tanh, _tanh_derivative, 1.0),
    "relu": Nonlinearity("relu", torch.relu, _relu_derivative, 1.0),
    "sigmoid": Nonlinearity("sigmoid", torch.sigmoid, _sigmoid_derivative, 0.25),
    "identity": Nonlinearity("identity", _identity, torch.ones_like, 1.0),
}


def nonlinearity(name: str, among: tuple[str, ...] | None = None, what: str = "nonlinearity"):
    """The :class:`Nonlinearity` called ``name``; ``among`` narrows the accepted names.

    >>> nonlinearity("sigmoid").gamma
    0.25
    >>> nonlinearity("sigmoid", among=("tanh", "relu"), what="activation")
    Traceback (most recent call last):
    ...
    ValueError: activation must be one of ['tanh', 'relu'], got 'sigmoid'
    """
    return NONLINEARITIES[check_choice(name, what, among or sorted(NONLINEARITIES))]
