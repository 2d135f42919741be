r"""Recurrent cells written from the lecture's equations: the vanilla RNN, the LSTM, the GRU.

Each cell computes one time step. Its parameters are laid out like ``torch.nn``'s cells so that
weights copy both ways (``from_torch`` / ``to_torch``) and the parity tests can compare the two
to float precision; the layout, the ensembles (``ensemble=k``) and what a layer may ask a cell
are described in :mod:`rnnlib.recurrent_cell`, whose :class:`RecurrentCell` they share.

Shapes: B batch, H hidden units.

Not here: the shared plumbing (:mod:`rnnlib.recurrent_cell`), unrolling over time, stacking
and bidirectionality (:mod:`rnnlib.layers`), the fused recurrences (:mod:`rnnlib.fused`), the
nonlinearities' table (:mod:`rnnlib.nonlinearities`), peepholes, layer normalisation, dropout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .fused import gru_sequence, lstm_sequence
from .nonlinearities import NONLINEARITIES as NONLINEARITIES  # rnnlib.cells.NONLINEARITIES
from .nonlinearities import Nonlinearity
from .nonlinearities import nonlinearity as _nonlinearity
from .recurrent_cell import RecurrentCell as RecurrentCell  # rnnlib.cells.RecurrentCell
from .recurrent_cell import SequenceKernel, _affine, _linear

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]


class RNNCell(RecurrentCell):
    r"""The vanilla RNN of the lecture.

    .. math:: h^{(t)} = \sigma\left(W_h h^{(t-1)} + W_x x^{(t)} + b\right)

    ``nonlinearity`` picks :math:`\sigma`: ``"tanh"`` (default) or ``"relu"``, as in
    ``torch.nn.RNNCell``, plus ``"sigmoid"`` and ``"identity"`` (the linear RNN of the
    vanishing-gradient proof), which have no ``torch.nn`` counterpart.

    >>> cell = RNNCell(3, 5)
    >>> h = cell(torch.zeros(2, 3))
    >>> h.shape, cell.W_h.shape
    (torch.Size([2, 5]), torch.Size([5, 5]))
    """

    num_gates = 1
    torch_class = nn.RNNCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: Literal["tanh", "relu", "sigmoid", "identity"] = "tanh",
        ensemble: int | None = None,
        seeds: Sequence[int] | None = None,
    ):
        self.nonlinearity = _nonlinearity(nonlinearity).name
        super().__init__(input_size, hidden_size, bias, ensemble, seeds)

    @property
    def sigma(self) -> Nonlinearity:
        r""":math:`\sigma`, from the table of :mod:`rnnlib.nonlinearities`."""
        return NONLINEARITIES[self.nonlinearity]

    def step(self, x_projected: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """One step, ``h_t`` from ``x_projected = W_x x_t + b`` and ``h_{t-1}``."""
        # h_t = sigma(W_h h_{t-1} + W_x x_t + b)
        return self.sigma(self.pre_activation(x_projected, h_prev))

    @classmethod
    def from_torch(cls, module: nn.RNNCell) -> RNNCell:
        # getattr: a module of the wrong type must reach the type check, not fail here
        return super().from_torch(module, nonlinearity=getattr(module, "nonlinearity", "tanh"))

    def _torch_kwargs(self) -> dict:
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"torch.nn.RNNCell supports only tanh and relu, not {self.nonlinearity!r}"
            )
        return {"nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTMCell(RecurrentCell):
    r"""Long short-term memory (Hochreiter & Schmidhuber 1997), with a forget gate.

    .. math::
        f^{(t)} &= \sigma(W_f h^{(t-1)} + U_f x^{(t)} + b_f) && \text{forget gate} \\
        i^{(t)} &= \sigma(W_i h^{(t-1)} + U_i x^{(t)} + b_i) && \text{input gate} \\
        o^{(t)} &= \sigma(W_o h^{(t-1)} + U_o x^{(t)} + b_o) && \text{output gate} \\
        \tilde c^{(t)} &= \tanh(W_c h^{(t-1)} + U_c x^{(t)} + b_c) && \text{new cell content} \\
        c^{(t)} &= f^{(t)} \circ c^{(t-1)} + i^{(t)} \circ \tilde c^{(t)} \\
        h^{(t)} &= o^{(t)} \circ \tanh c^{(t)}

    The rows of ``W_h`` stack :math:`W_i, W_f, W_c, W_o` (torch's order i, f, g, o, written
    once, as ``GATE_ORDER``) and the rows of ``W_x`` stack :math:`U_i, U_f, U_c, U_o`. The
    state is the pair ``(h, c)``.

    >>> cell = LSTMCell(3, 5)
    >>> h, c = cell(torch.zeros(2, 3))
    >>> h.shape, c.shape, cell.W_h.shape
    (torch.Size([2, 5]), torch.Size([2, 5]), torch.Size([20, 5]))
    """

    num_gates = 4
    GATE_ORDER = ("input_gate", "forget_gate", "new_content", "output_gate")
    state_tensors = ("h", "c")
    torch_class = nn.LSTMCell

    @staticmethod
    def hidden(state: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return state[0]

    def gates(self, x_projected: torch.Tensor, h_prev: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three gates and the new cell content at one step, by name, each ``(B, H)``."""
        # a = W_h h_{t-1} + W_x x_t + b, one block of H columns per name of GATE_ORDER
        blocks = self.pre_activation(x_projected, h_prev).chunk(4, dim=-1)  # 4 x (B, H)
        a = dict(zip(self.GATE_ORDER, blocks, strict=True))
        return {
            "input_gate": torch.sigmoid(a["input_gate"]),
            "forget_gate": torch.sigmoid(a["forget_gate"]),
            "output_gate": torch.sigmoid(a["output_gate"]),
            "new_content": torch.tanh(a["new_content"]),
        }

    def step(
        self, x_projected: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step, ``(h_t, c_t)`` from ``x_projected = W_x x_t + b`` and ``(h_{t-1}, c_{t-1})``:
        the last two equations of the class docstring, on the gates of :meth:`gates`."""
        h_prev, c_prev = state
        gate = self.gates(x_projected, h_prev)
        # c_t = f_t * c_{t-1} + i_t * c~_t
        c_t = gate["forget_gate"] * c_prev + gate["input_gate"] * gate["new_content"]
        # h_t = o_t * tanh(c_t)
        h_t = gate["output_gate"] * torch.tanh(c_t)
        return h_t, c_t

    def sequence_kernel(self) -> SequenceKernel | None:
        """:func:`rnnlib.fused.lstm_sequence` on this cell's ``W_h``, or ``None`` when a
        subclass changes ``step``, ``gates`` or ``pre_activation`` (the kernel would then
        compute something else than the cell)."""
        if not self._keeps_maths_of(LSTMCell, ("step", "gates", "pre_activation")):
            return None
        # the cell's own projection does not save its output for its backward, so the kernel
        # may compute the gates in that temporary's storage
        overwrite = self._keeps_maths_of(LSTMCell, ("input_projection",))

        def run(x_projected, state, reverse, batch_first):
            outputs, h_last, c_last = lstm_sequence(
                x_projected, *state, self.W_h,
                reverse=reverse, batch_first=batch_first, overwrite_input=overwrite,
            )  # fmt: skip
            return outputs, (h_last, c_last)

        return run


class GRUCell(RecurrentCell):
    r"""Gated recurrent unit (Cho et al. 2014), in the lecture's notation.

    .. math::
        u^{(t)} &= \sigma(W_u h^{(t-1)} + U_u x^{(t)} + b_u) && \text{update gate} \\
        r^{(t)} &= \sigma(W_r h^{(t-1)} + U_r x^{(t)} + b_r) && \text{reset gate} \\
        \tilde h^{(t)} &= \tanh\left(U_h x^{(t)} + b_{xh}
            + r^{(t)} \circ (W_h h^{(t-1)} + b_{hh})\right) && \text{new content} \\
        h^{(t)} &= (1 - u^{(t)}) \circ h^{(t-1)} + u^{(t)} \circ \tilde h^{(t)}

    Two conventions differ from the lecture's slide and are those of ``torch.nn.GRUCell`` (and
    cuDNN), so that the parity test can hold: the reset gate multiplies ``W_h h^{(t-1)} + b_hh``
    after the matmul (Cho et al. apply it before), and torch's gate ``z`` keeps the old state
    (``h = (1 - z) h~ + z h``). Our update gate is ``u = 1 - z = sigmoid(-a_z)``, so ``u = 0``
    keeps the state as in the lecture; ``from_torch``/``to_torch`` negate those rows.
    The rows of ``W_h`` stack :math:`W_r, W_u, W_h` (torch's order r, z, n: ``GATE_ORDER``).

    >>> cell = GRUCell(3, 5)
    >>> cell(torch.zeros(2, 3)).shape, cell.W_h.shape
    (torch.Size([2, 5]), torch.Size([15, 5]))
    """

    num_gates = 3
    GATE_ORDER = ("reset_gate", "update_gate", "new_content")
    torch_class = nn.GRUCell

    def _torch_row_signs(self) -> torch.Tensor:
        signs = torch.ones(3 * self.hidden_size)
        signs[self.hidden_size : 2 * self.hidden_size] = -1.0  # u = sigmoid(-a_z)
        return signs

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """``W_x x + b_x`` for every gate: ``b_h`` stays in the step, since its new-content
        rows ``b_hh`` sit inside the reset gate's product."""
        return _affine(x, self.W_x, self.b_x)

    def gates(self, x_projected: torch.Tensor, h_prev: torch.Tensor) -> dict[str, torch.Tensor]:
        """The reset and update gates and the new content at one step, by name, each ``(B, H)``
        (blocks in ``GATE_ORDER``: r, u, n)."""
        x_r, x_u, x_n = x_projected.chunk(3, dim=-1)  # 3 x (B, H)
        # W_h h_{t-1} + b_h for every gate, one matmul per step
        h_r, h_u, h_n = _linear(h_prev, self.W_h, self.b_h).chunk(3, dim=-1)  # 3 x (B, H)
        reset_gate = torch.sigmoid(x_r + h_r)
        return {
            "reset_gate": reset_gate,
            "update_gate": torch.sigmoid(x_u + h_u),
            "new_content": torch.tanh(x_n + reset_gate * h_n),
        }

    def step(self, x_projected: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """One step, ``h_t`` from ``x_projected = W_x x_t + b_x`` and ``h_{t-1}``: the last
        equation of the class docstring, on the gates of :meth:`gates`."""
        gate = self.gates(x_projected, h_prev)
        # h_t = (1 - u_t) * h_{t-1} + u_t * h~_t, which is torch.lerp(h_{t-1}, h~_t, u_t)
        return torch.lerp(h_prev, gate["new_content"], gate["update_gate"])

    def sequence_kernel(self) -> SequenceKernel | None:
        """:func:`rnnlib.fused.gru_sequence` on this cell's ``W_h`` and ``b_h``, or ``None``
        when a subclass changes ``step``, ``gates`` or ``pre_activation``."""
        if not self._keeps_maths_of(GRUCell, ("step", "gates", "pre_activation")):
            return None
        overwrite = self._keeps_maths_of(GRUCell, ("input_projection",))

        def run(x_projected, h_0, reverse, batch_first):
            return gru_sequence(
                x_projected, h_0, self.W_h, self.b_h,
                reverse=reverse, batch_first=batch_first, overwrite_input=overwrite,
            )  # fmt: skip

        return run
