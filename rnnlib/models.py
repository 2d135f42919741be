r"""A recurrent network with a linear readout: the model every task of the book trains.

.. math::
    h^{(t)} = \text{cell}(x^{(t)}, h^{(t-1)}), \qquad \hat y = W_y h^{(T)} + b_y
    \quad(\text{``readout="last"``}) \quad\text{or}\quad
    \hat y^{(t)} = W_y h^{(t)} + b_y \quad(\text{``readout="every"``})

Shapes: B batch, T time steps.

Not here: the training loop (:mod:`rnnlib.train`), the tasks' inputs and losses
(:mod:`rnnlib.tasks`), embeddings and readouts other than one linear layer.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .checks import check_choice, check_int
from .layers import RecurrentLayer
from .recurrent_cell import RecurrentCell

__all__ = ["SequenceModel"]


class SequenceModel(nn.Module):
    """``RecurrentLayer(cell)`` followed by ``nn.Linear(hidden, output_size)``.

    ``recurrent`` is a cell (``RNNCell``, ``LSTMCell``, ``GRUCell``), which is unrolled by a
    :class:`~rnnlib.layers.RecurrentLayer`, or any sequence module that maps
    ``(batch, time, features)`` to ``(outputs (batch, time, output_size), state)`` and has an
    ``output_size`` (a ``RecurrentLayer``, ``Bidirectional``, ``StackedRNN``, ``rnnlib.RNN``,
    ``LSTM`` or ``GRU``).

    ``readout="last"`` predicts from :math:`h^{(T)}`, shape ``(batch, output_size)``
    (sequence-to-one tasks); ``readout="every"`` predicts at every step, shape
    ``(batch, time, output_size)`` (sequence-to-sequence tasks).

    >>> from rnnlib.cells import GRUCell
    >>> model = SequenceModel(GRUCell(3, 5), output_size=2)
    >>> model(torch.zeros(4, 7, 3)).shape
    torch.Size([4, 2])
    >>> SequenceModel(GRUCell(3, 5), output_size=2, readout="every")(torch.zeros(4, 7, 3)).shape
    torch.Size([4, 7, 2])
    """

    def __init__(
        self, recurrent: nn.Module, output_size: int, readout: Literal["last", "every"] = "last"
    ):
        super().__init__()
        check_choice(readout, "readout", ("last", "every"))
        check_int(output_size, "output_size")
        if isinstance(recurrent, RecurrentCell):
            recurrent = RecurrentLayer(recurrent, batch_first=True)
        if getattr(recurrent, "batch_first", True) is False:
            raise ValueError("SequenceModel expects a batch_first=True sequence module")
        self.recurrent = recurrent
        self.readout_mode = readout
        self.readout = nn.Linear(self._hidden_size(recurrent), output_size)
        self.output_size = output_size

    @staticmethod
    def _hidden_size(recurrent: nn.Module) -> int:
        """The features the readout reads: the sequence module's ``output_size``."""
        if not hasattr(recurrent, "output_size"):
            raise ValueError(
                "SequenceModel needs a cell or a sequence module with an output_size attribute, "
                f"got {type(recurrent).__name__}"
            )
        return recurrent.output_size

    @property
    def cell(self) -> RecurrentCell | None:
        """The cell when the model was built from one (``None`` otherwise)."""
        return getattr(self.recurrent, "cell", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, time, input_size)`` -> predictions (see the class docstring)."""
        outputs, _ = self.recurrent(x)
        if self.readout_mode == "last":
            return self.readout(outputs[:, -1])  # (B, output_size)
        return self.readout(outputs)  # (B, T, output_size)

    def extra_repr(self) -> str:
        return f"readout={self.readout_mode!r}"
