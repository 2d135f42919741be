"""Sequence layers: a cell unrolled over time, and RNN, LSTM, GRU with torch.nn's interface.

The split follows PyTorch's ``custom_lstms.py``: a *cell* does one step (:mod:`rnnlib.cells`),
a *layer* loops over time (here), and stacking and bidirectionality are wrappers, not flags
threaded through the cell (:mod:`rnnlib.wrappers`).

Conventions: sequences are ``(batch, time, features)`` when ``batch_first=True`` (the default
here) and ``(time, batch, features)`` otherwise, as in ``torch.nn``. Every sequence module
has an ``input_size`` and an ``output_size`` (the features of its outputs: ``hidden_size``
for one direction, twice that for a bidirectional layer, the top layer's for a stack), and
``cells()``, its cells in torch's order.

Shapes: B batch, T time steps, I input features, H hidden units (per direction), G gates,
k ensemble members.

Not here: the cells' equations (:mod:`rnnlib.cells`), the fused recurrences that
:meth:`RecurrentLayer.forward` runs when the cell offers one (:mod:`rnnlib.fused`), a readout
(:mod:`rnnlib.models`), dropout between layers, packed sequences and projections (``proj_size``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .cells import GRUCell, LSTMCell, RNNCell
from .checks import check_input, check_int, check_state
from .recurrent_cell import RecurrentCell, State, _check_ensemble, _check_members
from .wrappers import SKIPS as SKIPS  # rnnlib.layers.SKIPS, as chapters name it
from .wrappers import Bidirectional as Bidirectional  # rnnlib.layers.Bidirectional
from .wrappers import StackedRNN as StackedRNN  # rnnlib.layers.StackedRNN

__all__ = ["RecurrentLayer", "RNN", "LSTM", "GRU"]


def _layout(batch_first: bool) -> str:
    return "(batch, time, features)" if batch_first else "(time, batch, features)"


class RecurrentLayer(nn.Module):
    """Unroll ``cell`` over a sequence: ``state_t = cell(x_t, state_{t-1})`` for t = 1..T.

    The input projection ``W_x x_t + b_x`` of every step is one matmul before the loop; inside
    the loop each step does one matmul, ``W_h h_{t-1}``, for all gates at once.
    ``reverse=True`` reads the sequence from t = T down to 1 (the backward half of a
    bidirectional RNN) and returns outputs in the original time order.

    With an ensemble cell (``ensemble=k``, see :mod:`rnnlib.recurrent_cell`) the input is
    ``(k, batch, time, features)`` (``(k, time, batch, features)`` when not ``batch_first``), or
    the usual shape without the member axis for an input that every member reads; outputs and
    states get the member axis first.

    ``fused=False`` makes :meth:`forward` unroll the cell step by step even where the cell
    offers a fused recurrence (for ``torch.func`` transforms such as ``vmap``, which the fused
    kernels' hand-written backward does not support, and for second derivatives).

    >>> from rnnlib.cells import LSTMCell
    >>> layer = RecurrentLayer(LSTMCell(3, 5))
    >>> outputs, (h_T, c_T) = layer(torch.zeros(2, 7, 3))
    >>> outputs.shape, h_T.shape
    (torch.Size([2, 7, 5]), torch.Size([2, 5]))
    """

    def __init__(
        self,
        cell: RecurrentCell,
        batch_first: bool = True,
        reverse: bool = False,
        fused: bool = True,
    ):
        super().__init__()
        self.cell = cell
        self.batch_first = batch_first
        self.reverse = reverse
        self.fused = fused

    @property
    def input_size(self) -> int:
        return self.cell.input_size

    @property
    def hidden_size(self) -> int:
        return self.cell.hidden_size

    @property
    def output_size(self) -> int:
        """Features of each output ``h_t``: the cell's ``hidden_size``."""
        return self.cell.hidden_size

    @property
    def ensemble(self) -> int | None:
        return self.cell.ensemble

    def cells(self) -> list[RecurrentCell]:
        return [self.cell]

    def _time_first(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` checked and laid out ``(time, batch, features)``; for an ensemble
        ``(members, time, batch, features)``, with one member (shared by all) or ``k``."""
        members = self.ensemble is not None and isinstance(x, torch.Tensor) and x.dim() == 4
        layout = ("(members, " if members else "(") + _layout(self.batch_first)[1:]
        check_input(x, self.cell.input_size, 4 if members else 3, layout, self.cell.W_x)
        if members:
            _check_members(x, self.ensemble)
        if x.shape[-3] == 0 or x.shape[-2] == 0:
            raise ValueError(
                f"input must have at least one time step and one sequence, "
                f"got shape {tuple(x.shape)}"
            )
        x = x.transpose(-3, -2) if self.batch_first else x  # ([k,] T, B, I)
        return x.unsqueeze(0) if self.ensemble is not None and not members else x  # ([k,] T, B, I)

    def _start(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """Check ``x`` and ``state``; return the projected input ``(time, batch, gates *
        hidden)`` of every step (``(members, time, batch, gates * hidden)`` for an ensemble)
        and the initial state (zeros when ``state`` is None)."""
        x = self._time_first(x)
        batch = x.shape[-2]
        if state is None:
            state = self.cell.initial_state(batch)
        else:
            self.cell.check_state(state, batch)
        return self.cell.input_projection(x), state

    def unroll(self, x: torch.Tensor, state: State | None = None) -> list[State]:
        """Every state of the trajectory, ``[state_1, ..., state_T]``, in time order.

        Each element is the tensor the recurrence actually used (a node of the autograd
        graph), so ``torch.autograd.grad(J, [cell.hidden(s) for s in states])`` gives
        ``dJ/dh_t`` for every t from one backward pass. For the LSTM a state is ``(h_t, c_t)``.
        This is the reference path: :meth:`forward` computes the same for an ``LSTMCell`` or a
        ``GRUCell`` with a fused backward (:mod:`rnnlib.fused`), for speed.
        """
        x_projected, state = self._start(x, state)
        # unbind once: indexing x_projected[t] inside the loop would make the backward pass of
        # every step allocate a zero gradient of the whole (time, ...) tensor, quadratic in T.
        time_axis = 0 if self.ensemble is None else 1
        inputs = x_projected.unbind(time_axis)  # T x ([k,] B, G H)
        states: list[State] = []
        for x_t in reversed(inputs) if self.reverse else inputs:
            state = self.cell.step(x_t, state)
            states.append(state)
        return states[::-1] if self.reverse else states

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Return ``(outputs, final_state)``: ``outputs`` holds h_1..h_T in ``x``'s layout,
        shape ``(batch, time, hidden)`` (batch_first) or ``(time, batch, hidden)``;
        ``final_state`` is the state after the last step read (t = 1 when ``reverse``).

        When the cell offers a fused recurrence
        (:meth:`~rnnlib.cells.RecurrentCell.sequence_kernel`: ``LSTMCell`` and ``GRUCell``) and
        ``fused`` is True, the whole recurrence runs as one
        autograd node with a hand-written backward (:func:`rnnlib.fused.lstm_sequence`,
        :func:`~rnnlib.fused.gru_sequence`), for speed: the same outputs as :meth:`unroll`, the
        same gradients to rounding, but no second derivatives (use :meth:`unroll` for those)."""
        kernel = self.cell.sequence_kernel() if self.fused else None
        if kernel is not None:
            x_projected, state = self._start(x, state)
            return kernel(x_projected, state, self.reverse, self.batch_first)
        states = self.unroll(x, state)
        time_axis = (1 if self.batch_first else 0) + (self.ensemble is not None)
        # ([k,] B, T, H) when batch_first, else ([k,] T, B, H)
        outputs = torch.stack([self.cell.hidden(s) for s in states], dim=time_axis)  # (idem)
        final = states[0] if self.reverse else states[-1]
        return outputs, final


#: The arguments that shape a torch-like network besides its sizes, named as torch names them.
STRUCTURE = ("num_layers", "bias", "batch_first", "bidirectional")


class _TorchLikeRNN(nn.Module):
    """A stack of (optionally bidirectional) layers with ``torch.nn.RNN``'s interface.

    ``forward(x, h_0)`` takes and returns states packed as in torch: ``h`` of shape
    ``(num_layers * num_directions, batch, hidden)`` (and ``(h, c)`` for the LSTM: one packed
    tensor per name of the cell's ``state_tensors``), layer-major with the forward direction
    first. Built from rnnlib cells, so the equations are the cells'.

    ``ensemble=k`` builds ``k`` independent networks run as one, with batched matrix products:
    member ``j`` has exactly the weights of the network built alone (same arguments, no
    ``ensemble``) right after ``torch.manual_seed(seeds[j])``; ``seeds`` defaults to ``0, ...,
    k - 1``, and building the ensemble leaves the global random state as it was. The input is
    ``(k, batch, time, features)`` (``(k, time, batch, features)`` when not ``batch_first``) or,
    shared by every member, the usual shape; outputs get the member axis first, and states are
    ``(num_layers * num_directions, k, batch, hidden)``. :meth:`member` returns member ``j``
    as a network of its own.
    """

    cell_class: type[RecurrentCell] = RNNCell
    torch_class: type[nn.Module] = nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        bidirectional: bool = False,
        ensemble: int | None = None,
        seeds: Sequence[int] | None = None,
    ):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers = check_int(num_layers, "num_layers")
        self.bias = bias
        self.batch_first, self.bidirectional = batch_first, bidirectional
        self.ensemble, self.seeds = _check_ensemble(ensemble, seeds)
        layers = []
        for index in range(num_layers):
            layer_input = input_size if index == 0 else hidden_size * self.num_directions

            def make(reverse: bool, layer_input=layer_input) -> RecurrentLayer:
                cell = self.cell_class(
                    layer_input, hidden_size, bias=bias,
                    **self._ensemble_kwargs(), **self._cell_options(),
                )  # fmt: skip
                return RecurrentLayer(cell, batch_first=batch_first, reverse=reverse)

            layers.append(Bidirectional(make(False), make(True)) if bidirectional else make(False))
        self.stack = StackedRNN(layers)
        if self.ensemble is not None:
            self._seed_members()

    def _cell_options(self) -> dict:
        """The arguments of ``cell_class`` beyond its sizes and bias (none by default)."""
        return {}

    def _ensemble_kwargs(self) -> dict:
        return {} if self.ensemble is None else {"ensemble": self.ensemble, "seeds": self.seeds}

    def _single_kwargs(self) -> dict:
        """The arguments that build one member alone."""
        return {**{name: getattr(self, name) for name in STRUCTURE}, **self._cell_options()}

    @torch.no_grad()
    def _seed_members(self) -> None:
        """Member j's weights: those of the network built alone after manual_seed(seeds[j])."""
        for j, seed in enumerate(self.seeds):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                alone = type(self)(self.input_size, self.hidden_size, **self._single_kwargs())
            for cell, single in zip(self.cells(), alone.cells(), strict=True):
                for target, source in zip(cell.parameters(), single.parameters(), strict=True):
                    target[j].copy_(source)

    def member(self, j: int) -> _TorchLikeRNN:
        """Member ``j`` of an ensemble as a network of its own, with copies of its weights."""
        if self.ensemble is None:
            raise ValueError("member() is for ensembles (networks built with ensemble=k)")
        alone = type(self)(self.input_size, self.hidden_size, **self._single_kwargs())
        first = self.cells()[0].W_h
        alone.to(device=first.device, dtype=first.dtype)
        with torch.no_grad():
            for cell, single in zip(self.cells(), alone.cells(), strict=True):
                for source, target in zip(cell.parameters(), single.parameters(), strict=True):
                    target.copy_(source[j])
        return alone

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features of each output: ``hidden_size`` times the number of directions."""
        return self.hidden_size * self.num_directions

    def cells(self) -> list[RecurrentCell]:
        """The cells in torch's order: layer by layer, forward direction first."""
        return self.stack.cells()

    # --- torch-layout states ---------------------------------------------------------------
    def _split_states(self, packed, batch: int) -> list | None:
        """Per-layer initial states from torch's packed ones: one tensor ``(L D, [k,] B, H)``
        per name of the cell's ``state_tensors`` (a bare tensor for one, a tuple for two)."""
        if packed is None:
            return None
        names = [f"{name}_0" for name in self.cell_class.state_tensors]
        members = () if self.ensemble is None else (self.ensemble,)
        expected = (self.num_layers * self.num_directions, *members, batch, self.hidden_size)
        if len(names) == 1:
            packed = (packed,)
        elif not (isinstance(packed, tuple | list) and len(packed) == len(names)):
            raise ValueError(
                f"the {type(self).__name__} state must be a pair ({', '.join(names)}) of shape "
                f"{expected}, got {type(packed).__name__}"
            )
        weight = self.cells()[0].W_h
        for tensor, name in zip(packed, names, strict=True):
            check_state(tensor, expected, name, weight)
        # one state per cell: a tensor ([k,] B, H), or a tuple of them
        per_cell = list(packed[0]) if len(names) == 1 else list(zip(*packed, strict=True))
        if not self.bidirectional:
            return per_cell
        return [(per_cell[2 * i], per_cell[2 * i + 1]) for i in range(self.num_layers)]

    def _pack_states(self, finals: list):
        """Torch's packed final states from the per-layer ones (inverse of _split_states)."""
        per_cell = []
        for final in finals:
            per_cell += list(final) if self.bidirectional else [final]
        if len(self.cell_class.state_tensors) == 1:
            return torch.stack(per_cell)  # (L D, [k,] B, H)
        # one (L D, [k,] B, H) tensor per state tensor
        return tuple(torch.stack(tensors) for tensors in zip(*per_cell, strict=True))  # (L D, ..)

    def forward(self, x: torch.Tensor, state=None):
        """Return ``(outputs, h_n)`` (``(outputs, (h_n, c_n))`` for the LSTM), as torch does."""
        first = self.cells()[0]
        if self.ensemble is None or not isinstance(x, torch.Tensor) or x.dim() != 4:
            check_input(x, self.input_size, 3, _layout(self.batch_first), first.W_x)
        batch = x.shape[-3] if self.batch_first else x.shape[-2]
        outputs, finals = self.stack(x, self._split_states(state, batch))  # (..., output_size)
        return outputs, self._pack_states(finals)

    # --- copying weights ---------------------------------------------------------------------
    @classmethod
    def _options_from_torch(cls, module: nn.Module) -> dict:
        """The cell options of :meth:`_cell_options` read from a torch module (none)."""
        return {}

    @classmethod
    def from_torch(cls, module: nn.Module):
        """The rnnlib network with the weights of a ``torch.nn.RNN``/``LSTM``/``GRU``."""
        if not isinstance(module, cls.torch_class):
            raise ValueError(
                f"{cls.__name__}.from_torch expects a {cls.torch_class.__name__}, "
                f"got {type(module).__name__}"
            )
        if getattr(module, "proj_size", 0):
            raise ValueError("LSTMs with proj_size > 0 are not supported")
        if module.dropout:
            raise ValueError("torch modules with dropout between layers are not supported")
        structure = {name: getattr(module, name) for name in STRUCTURE}
        options = cls._options_from_torch(module)
        network = cls(module.input_size, module.hidden_size, **structure, **options)
        network.to(device=module.weight_ih_l0.device, dtype=module.weight_ih_l0.dtype)
        # all_weights: per cell, [weight_ih, weight_hh(, bias_ih, bias_hh)] in torch's order
        for cell, weights in zip(network.cells(), module.all_weights, strict=True):
            cell.load_torch_weights(*weights)
        return network

    def to_torch(self) -> nn.Module:
        """The equivalent ``torch.nn`` module, with copies of these weights."""
        if self.ensemble is not None:
            raise ValueError(
                "an ensemble has no torch.nn counterpart; take one member with .member(j)"
            )
        first = self.cells()[0]
        structure = {name: getattr(self, name) for name in STRUCTURE}
        options = first._torch_kwargs()
        module = self.torch_class(self.input_size, self.hidden_size, **structure, **options)
        module.to(device=first.W_h.device, dtype=first.W_h.dtype)
        with torch.no_grad():
            for cell, targets in zip(self.cells(), module.all_weights, strict=True):
                for target, value in zip(targets, cell.torch_weights(), strict=True):
                    target.copy_(value)
        return module

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
            f"batch_first={self.batch_first}"
            + ("" if self.ensemble is None else f", ensemble={self.ensemble}")
        )


class RNN(_TorchLikeRNN):
    """Multi-layer, optionally bidirectional vanilla RNN; same interface as ``torch.nn.RNN``
    except that ``batch_first`` defaults to True. ``nonlinearity`` as in :class:`RNNCell`
    (tanh and relu also in torch; sigmoid and identity only here).

    >>> rnn = RNN(3, 5, num_layers=2, nonlinearity="relu")
    >>> outputs, h_n = rnn(torch.zeros(2, 7, 3))
    >>> outputs.shape, h_n.shape
    (torch.Size([2, 7, 5]), torch.Size([2, 2, 5]))
    """

    cell_class = RNNCell
    torch_class = nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        bidirectional: bool = False,
        nonlinearity: Literal["tanh", "relu", "sigmoid", "identity"] = "tanh",
        ensemble: int | None = None,
        seeds: Sequence[int] | None = None,
    ):
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, bidirectional, ensemble, seeds
        )

    def _cell_options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    @classmethod
    def _options_from_torch(cls, module: nn.Module) -> dict:
        return {"nonlinearity": module.nonlinearity}


class LSTM(_TorchLikeRNN):
    """Multi-layer, optionally bidirectional LSTM; same interface as ``torch.nn.LSTM``
    except that ``batch_first`` defaults to True.

    >>> lstm = LSTM(3, 5, bidirectional=True)
    >>> outputs, (h_n, c_n) = lstm(torch.zeros(2, 7, 3))
    >>> outputs.shape, h_n.shape, lstm.output_size
    (torch.Size([2, 7, 10]), torch.Size([2, 2, 5]), 10)
    """

    cell_class = LSTMCell
    torch_class = nn.LSTM


class GRU(_TorchLikeRNN):
    """Multi-layer, optionally bidirectional GRU; same interface as ``torch.nn.GRU``
    except that ``batch_first`` defaults to True.

    >>> gru = GRU(3, 5, ensemble=4)
    >>> outputs, h_n = gru(torch.zeros(2, 7, 3))
    >>> outputs.shape, h_n.shape
    (torch.Size([4, 2, 7, 5]), torch.Size([1, 4, 2, 5]))
    """

    cell_class = GRUCell
    torch_class = nn.GRU
