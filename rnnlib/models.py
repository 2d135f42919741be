r"""A recurrent network with a linear readout: the model every task of the book trains.

.. math::
    h^{(t)} = \text{cell}(x^{(t)}, h^{(t-1)}), \qquad \hat y = W_y h^{(T)} + b_y
    \quad(\text{``readout="last"``}) \quad\text{or}\quad
    \hat y^{(t)} = W_y h^{(t)} + b_y \quad(\text{``readout="every"``})
"""

from __future__ import annotations

import torch
from torch import nn

from .cells import RecurrentCell
from .layers import RecurrentLayer

__all__ = ["SequenceModel"]


class SequenceModel(nn.Module):
    """``RecurrentLayer(cell)`` followed by ``nn.Linear(hidden, output_size)``.

    ``recurrent`` is a cell (``RNNCell``, ``LSTMCell``, ``GRUCell``), which is unrolled by a
    :class:`~rnnlib.layers.RecurrentLayer`, or any sequence module that maps
    ``(batch, time, features)`` to ``(outputs (batch, time, hidden), state)`` and has a
    ``hidden_size`` (a ``RecurrentLayer``, ``Bidirectional``, ``StackedRNN`` or
    ``rnnlib.LSTM``; for ``Bidirectional`` the hidden size is already doubled).

    ``readout="last"`` predicts from :math:`h^{(T)}`, shape ``(batch, output_size)``
    (sequence-to-one tasks); ``readout="every"`` predicts at every step, shape
    ``(batch, time, output_size)`` (sequence-to-sequence tasks).
    """

    def __init__(self, recurrent: nn.Module, output_size: int, readout: str = "last"):
        super().__init__()
        if readout not in ("last", "every"):
            raise ValueError(f"readout must be 'last' or 'every', got {readout!r}")
        if output_size < 1:
            raise ValueError(f"output_size must be positive, got {output_size}")
        if isinstance(recurrent, RecurrentCell):
            recurrent = RecurrentLayer(recurrent, batch_first=True)
        if getattr(recurrent, "batch_first", True) is False:
            raise ValueError("SequenceModel expects a batch_first=True sequence module")
        self.recurrent = recurrent
        self.readout_mode = readout
        self.readout = nn.Linear(self._hidden_size(recurrent), output_size)

    @staticmethod
    def _hidden_size(recurrent: nn.Module) -> int:
        if not hasattr(recurrent, "hidden_size") and hasattr(recurrent, "layers"):
            return recurrent.layers[-1].hidden_size  # a StackedRNN: its top layer's size
        if not hasattr(recurrent, "hidden_size"):
            raise ValueError(
                "SequenceModel needs a cell or a sequence module with a hidden_size attribute, "
                f"got {type(recurrent).__name__}"
            )
        directions = 2 if getattr(recurrent, "bidirectional", False) else 1
        return recurrent.hidden_size * directions

    @property
    def cell(self) -> RecurrentCell | None:
        """The cell when the model was built from one (``None`` otherwise)."""
        return getattr(self.recurrent, "cell", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, time, input_size)`` -> predictions (see the class docstring)."""
        outputs, _ = self.recurrent(x)
        if self.readout_mode == "last":
            return self.readout(outputs[:, -1])
        return self.readout(outputs)

    def extra_repr(self) -> str:
        return f"readout={self.readout_mode!r}"
