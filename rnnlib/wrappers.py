r"""Wrappers of sequence layers: both directions at once (:class:`Bidirectional`) and layers
applied in turn, with or without skip connections between them (:class:`StackedRNN`).

They wrap any sequence modules with ``input_size``, ``output_size`` and ``cells()``
(:class:`~rnnlib.layers.RecurrentLayer`, or another wrapper), so that bidirectionality and
stacking are wrappers, not flags threaded through the cell.

Shapes: ``...`` the leading axes of a sequence, ``(B, T)`` or ``(T, B)``; I the stack's input
features, H_l the output features of layer l.

Not here: the layers themselves (:mod:`rnnlib.layers`), dropout between layers, projections on
mismatched residual connections, and skips that reach the readout.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .checks import check_choice
from .recurrent_cell import RecurrentCell, State

__all__ = ["Bidirectional", "SKIPS", "StackedRNN"]


class Bidirectional(nn.Module):
    """Run a forward and a backward layer over the same sequence and concatenate their outputs.

    ``h_t = [h_t(forward); h_t(backward)]``, shape ``(..., 2 * hidden)``. The final state is the
    pair ``(forward final state, backward final state)``.

    >>> from rnnlib.cells import GRUCell
    >>> from rnnlib.layers import RecurrentLayer
    >>> both = Bidirectional(
    ...     RecurrentLayer(GRUCell(3, 5)), RecurrentLayer(GRUCell(3, 5), reverse=True)
    ... )
    >>> both(torch.zeros(2, 7, 3))[0].shape, both.output_size
    (torch.Size([2, 7, 10]), 10)
    """

    def __init__(self, forward_layer: nn.Module, backward_layer: nn.Module):
        super().__init__()
        if forward_layer.reverse or not backward_layer.reverse:
            raise ValueError(
                "Bidirectional needs a forward layer (reverse=False) and a "
                "backward layer (reverse=True)"
            )
        if forward_layer.batch_first != backward_layer.batch_first:
            raise ValueError("both directions must use the same batch_first convention")
        self.forward_layer = forward_layer
        self.backward_layer = backward_layer
        self.batch_first = forward_layer.batch_first

    @property
    def input_size(self) -> int:
        return self.forward_layer.input_size

    @property
    def hidden_size(self) -> int:
        """Hidden units per direction."""
        return self.forward_layer.hidden_size

    @property
    def output_size(self) -> int:
        """Features of each output: both directions', ``2 * hidden_size``."""
        return self.forward_layer.output_size + self.backward_layer.output_size

    def cells(self) -> list[RecurrentCell]:
        """The forward direction's cell, then the backward one's."""
        return self.forward_layer.cells() + self.backward_layer.cells()

    def forward(self, x: torch.Tensor, state: tuple[State, State] | None = None):
        """Return ``(outputs (..., 2 H), (forward final state, backward final state))``."""
        forward_state, backward_state = state if state is not None else (None, None)
        forward_out, forward_final = self.forward_layer(x, forward_state)
        backward_out, backward_final = self.backward_layer(x, backward_state)
        outputs = torch.cat([forward_out, backward_out], dim=-1)  # (..., 2 H)
        return outputs, (forward_final, backward_final)


#: The connections :class:`StackedRNN` can put between its layers.
SKIPS = ("none", "residual", "dense")


class StackedRNN(nn.Module):
    r"""Layers applied in turn: the outputs of layer l are the inputs of layer l + 1.

    Write :math:`x_l^{(t)}` for the input of layer :math:`l` at step :math:`t`
    (:math:`x_1^{(t)}` is the stack's input) and :math:`h_l^{(t)}` for its output, computed by
    the layer's own recurrence :math:`h_l^{(t)} = \text{cell}_l(x_l^{(t)}, h_l^{(t-1)})`.
    ``skip`` chooses what the next layer reads:

    .. math::
        \text{none:}\quad & x_{l+1}^{(t)} = h_l^{(t)} \\
        \text{residual:}\quad & x_{l+1}^{(t)} = h_l^{(t)} + x_l^{(t)}
            \quad\text{(where layer } l \text{ has input size = hidden size)} \\
        \text{dense:}\quad & x_{l+1}^{(t)} = \big[x_1^{(t)}; h_1^{(t)}; \dots; h_l^{(t)}\big]

    and the stack returns :math:`x_{L+1}^{(t)}` for ``"none"`` and ``"residual"`` (the top
    layer's output, plus its input for ``"residual"``) and :math:`h_L^{(t)}` for ``"dense"``.

    * ``"residual"`` (He et al. 2016; between recurrent layers as in Wu et al. 2016 and
      Britz et al. 2017's "Res") adds a layer's input to its output wherever the two have the
      same size; a layer whose sizes differ (usually the first, from the input features to
      the hidden size) gets no residual connection and **no projection**, so a residual stack
      has exactly the parameters of the plain one (``residual_layers`` lists which layers
      have one). With all its weights zero a residual layer is the identity, since
      :math:`\tanh(0) = 0`.
    * ``"dense"`` (DenseNet-style, after Huang et al. 2017) feeds layer :math:`l + 1` the
      concatenation, along features, of the stack's input and the outputs of every layer
      below it, so its ``input_size`` must be :math:`I + H_1 + \dots + H_l`, and the stack has
      more parameters than the plain one. It is not Britz et al. 2017's "ResD", whose stacks
      have the parameter count of their "Res" ones (Enc-8-Res and Enc-8-ResD alike).

    ``skip="none"`` (the default) is the plain stack of ``torch.nn.RNN(num_layers=...)``.
    Shapes: ``(batch, time, features)`` or ``(time, batch, features)``, as the layers use;
    the concatenation and the sum are over features, so either layout works.

    >>> from rnnlib.cells import RNNCell
    >>> from rnnlib.layers import RecurrentLayer
    >>> stack = StackedRNN(
    ...     [RecurrentLayer(RNNCell(3, 5)), RecurrentLayer(RNNCell(8, 5))], skip="dense"
    ... )
    >>> stack(torch.zeros(2, 7, 3))[0].shape
    torch.Size([2, 7, 5])
    """

    def __init__(
        self, layers: list[nn.Module], skip: Literal["none", "residual", "dense"] = "none"
    ):
        super().__init__()
        if not layers:
            raise ValueError("StackedRNN needs at least one layer")
        self.skip = check_choice(skip, "skip", SKIPS)
        features = layers[0].input_size
        for index, (lower, upper) in enumerate(zip(layers, layers[1:], strict=False)):
            if skip == "dense":
                features += lower.output_size
                if upper.input_size != features:
                    raise ValueError(
                        f"layer sizes do not chain densely: layer {index + 2} reads the "
                        f"stack's input and the outputs of layers 1..{index + 1}, "
                        f"{features} features, but has input_size {upper.input_size}"
                    )
            elif upper.input_size != lower.output_size:
                raise ValueError(
                    f"layer sizes do not chain: a layer with {lower.output_size} "
                    f"outputs feeds one with input_size {upper.input_size}"
                )
        self.layers = nn.ModuleList(layers)

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def output_size(self) -> int:
        """Features of the stack's output: the top layer's ``output_size``."""
        return self.layers[-1].output_size

    def cells(self) -> list[RecurrentCell]:
        """Every layer's cells, bottom layer first (torch's order)."""
        return [cell for layer in self.layers for cell in layer.cells()]

    @property
    def residual_layers(self) -> list[int]:
        """The (0-based) layers that add their input to their output (``skip="residual"``)."""
        if self.skip != "residual":
            return []
        return [
            index
            for index, layer in enumerate(self.layers)
            if layer.input_size == layer.output_size
        ]

    def forward(self, x: torch.Tensor, states: list | None = None):
        """Return ``(outputs of the stack, [final state of each layer])``."""
        if states is None:
            states = [None] * len(self.layers)
        if len(states) != len(self.layers):
            raise ValueError(
                f"expected {len(self.layers)} initial states (one per layer), got {len(states)}"
            )
        residual = set(self.residual_layers)
        finals, features = [], [x]
        for index, (layer, state) in enumerate(zip(self.layers, states, strict=True)):
            h, final = layer(x, state)  # (..., output_size of this layer)
            finals.append(final)
            features.append(h)
            if self.skip == "dense":
                # x_{l+1} = [x_1; h_1; ...; h_l]
                x = torch.cat(features, dim=-1)  # (..., I + H_1 + ... + H_l)
            elif index in residual:
                # x_{l+1} = h_l + x_l
                x = h + x
            else:
                # x_{l+1} = h_l
                x = h
        return (features[-1] if self.skip == "dense" else x), finals
