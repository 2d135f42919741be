r"""What every recurrent cell shares: parameters laid out like ``torch.nn``'s, initialisation,
ensembles, states, input checks and copying weights to and from ``torch.nn``.

:class:`RecurrentCell` is the base of :class:`~rnnlib.cells.RNNCell`,
:class:`~rnnlib.cells.LSTMCell` and :class:`~rnnlib.cells.GRUCell`. Its parameters:

* ``W_x``: the input weights of every gate, stacked row-wise, shape ``(gates * hidden, input)``
  (torch's ``weight_ih``; the lecture's :math:`W_x` or :math:`U_\ast`);
* ``W_h``: the recurrent weights, stacked the same way, shape ``(gates * hidden, hidden)``
  (torch's ``weight_hh``; the lecture's :math:`W_h` or :math:`W_\ast`);
* ``b_x`` and ``b_h``: the two bias vectors torch keeps (their sum is the lecture's :math:`b`).

Splitting a step into ``input_projection`` (no recurrence, so a layer can apply it to all time
steps in one matmul) and ``step`` (the recurrence) is what makes the sequence layer fast.

**Ensembles.** ``ensemble=k`` makes a cell of ``k`` independent members, each with its own
weights, stacked along a new first axis (``W_x`` of shape ``(k, gates * hidden, input)``, and so
on) and run together with batched matrix products (``bmm``). Member ``j`` has exactly the
weights of the cell built alone right after ``torch.manual_seed(seeds[j])`` (``seeds`` defaults
to ``0, 1, ..., k - 1``); building an ensemble leaves the global random state as it was. States
and step inputs get the member axis first, ``(k, batch, ...)``; a step input without it,
``(batch, input)``, is shared by every member. :meth:`RecurrentCell.member` returns member ``j``
as a cell of its own.

**What a layer may ask a cell.** ``state_tensors`` names the tensors of its state (``("h",)``,
or ``("h", "c")`` for the LSTM), ``GATE_ORDER`` the row blocks of its weights, and
:meth:`RecurrentCell.sequence_kernel` returns the fused recurrence of :mod:`rnnlib.fused` that
computes the same as unrolling :meth:`~RecurrentCell.step`, or ``None`` (a subclass that
changes the step's maths), so that layers never test which cell they hold.

Shapes: B batch, I input features, H hidden units, G gates, k ensemble members, N rows of a
flattened input.

Not here: the cells' equations (:mod:`rnnlib.cells`), unrolling over time (:mod:`rnnlib.layers`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_input, check_int, check_state

__all__ = ["RecurrentCell"]

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

#: A fused recurrence bound to a cell: ``(x_projected, state, reverse, batch_first) ->
#: (outputs, final state)``, see :meth:`RecurrentCell.sequence_kernel`.
SequenceKernel = Callable[[torch.Tensor, State, bool, bool], tuple[torch.Tensor, State]]

#: How an error message names each state tensor.
STATE_NAMES = {"h": "hidden state h", "c": "cell state c"}


def _affine(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``x W^T + b`` over the last axis of ``x`` (any leading axes): one ``addmm`` on the
    flattened leading axes. ``W^T`` is first copied to a row-major matrix: with the transposed
    view (``x @ W.T``, or ``F.linear``), autograd computes ``dW`` as ``grad^T x`` in W's own
    layout, a product that MKL runs several times slower on CPU than ``x^T grad``.

    For an ensemble (``W`` of shape ``(k, rows, input)``, ``b`` of shape ``(k, rows)``) ``x`` has
    the member axis first, of size ``k``, or of size 1 for an input shared by every member; the
    result is ``(k, ..., rows)``, one ``baddbmm``."""
    if W.dim() == 2:
        flat = x.reshape(-1, x.shape[-1])  # (N, input), N the product of the leading axes
        W_T = W.T.contiguous()  # (input, rows)
        projected = flat @ W_T if b is None else torch.addmm(b, flat, W_T)
        return projected.view(*x.shape[:-1], W.shape[0])  # (..., rows)
    members = W.shape[0]
    flat = x.reshape(x.shape[0], -1, x.shape[-1]).expand(members, -1, -1)  # (k, N, input)
    W_T = W.mT.contiguous()  # (k, input, rows)
    projected = flat @ W_T if b is None else torch.baddbmm(b.unsqueeze(-2), flat, W_T)
    return projected.view(members, *x.shape[1:-1], W.shape[-2])  # (k, ..., rows)


def _linear(h: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``h W^T + b`` for one step: ``F.linear`` (one ``addmm``), or for an ensemble (``h`` of
    shape ``(k, batch, in)``, ``W`` ``(k, out, in)``, ``b`` ``(k, out)`` or ``(k, batch, out)``)
    one ``baddbmm``."""
    if W.dim() == 2:
        return F.linear(h, W, b)
    if b is None:
        return torch.bmm(h, W.mT)
    return torch.baddbmm(b if b.dim() == 3 else b.unsqueeze(-2), h, W.mT)


class RecurrentCell(nn.Module):
    """Shared plumbing: parameters, initialisation, checks and weight copying.

    Subclasses set ``num_gates``, ``GATE_ORDER``, ``state_tensors`` and ``torch_class`` and
    implement ``step``. ``ensemble=k`` and ``seeds``: see the module docstring.

    >>> from rnnlib.cells import LSTMCell
    >>> cell = LSTMCell(3, 5, ensemble=4)
    >>> cell.W_h.shape, cell.state_tensors
    (torch.Size([4, 20, 5]), ('h', 'c'))
    >>> _ = torch.manual_seed(2)
    >>> torch.equal(cell.member(2).W_h, LSTMCell(3, 5).W_h)
    True
    """

    num_gates: int = 1
    #: The row blocks of ``W_x`` and ``W_h``, top to bottom (one block per gate).
    GATE_ORDER: tuple[str, ...] = ("pre_activation",)
    #: The tensors a state holds, in order: ``("h",)``, or ``("h", "c")`` for the LSTM.
    state_tensors: tuple[str, ...] = ("h",)
    torch_class: type[nn.Module] = nn.RNNCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        ensemble: int | None = None,
        seeds: Sequence[int] | None = None,
    ):
        super().__init__()
        self.input_size = check_int(input_size, "input_size")
        self.hidden_size = check_int(hidden_size, "hidden_size")
        self.bias = bias
        self.ensemble, self.seeds = _check_ensemble(ensemble, seeds)
        members = () if ensemble is None else (ensemble,)
        rows = self.num_gates * hidden_size
        self.W_x = nn.Parameter(torch.empty(*members, rows, input_size))
        self.W_h = nn.Parameter(torch.empty(*members, rows, hidden_size))
        self.b_x = nn.Parameter(torch.empty(*members, rows)) if bias else None
        self.b_h = nn.Parameter(torch.empty(*members, rows)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn's default: every weight uniform in [-1/sqrt(hidden), 1/sqrt(hidden)]; an
        ensemble's member ``j`` draws its weights after ``torch.manual_seed(seeds[j])``, in the
        order a cell alone draws them."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        if self.ensemble is None:
            for parameter in self.parameters():
                nn.init.uniform_(parameter, -bound, bound)
            return
        for j, seed in enumerate(self.seeds):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                for parameter in self.parameters():
                    nn.init.uniform_(parameter[j], -bound, bound)

    def member(self, j: int) -> RecurrentCell:
        """Member ``j`` of an ensemble as a cell of its own, with copies of its weights."""
        if self.ensemble is None:
            raise ValueError("member() is for ensembles (cells built with ensemble=k)")
        cell = copy.deepcopy(self)
        cell.ensemble, cell.seeds = None, None
        for name, parameter in self.named_parameters():
            setattr(cell, name, nn.Parameter(parameter.detach()[j].clone()))
        return cell

    # --- the two halves of a step -------------------------------------------------------
    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """``W_x x + b`` for every gate, with the lecture's ``b = b_x + b_h``: every part of the
        pre-activation that does not depend on ``h_{t-1}``. Works on ``(..., input)``, so a
        layer passes all time steps at once."""
        return _affine(x, self.W_x, self.b_x + self.b_h if self.bias else None)

    def pre_activation(self, x_projected: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """``W_h h_{t-1} + (W_x x_t + b)`` for every gate: one matmul per step, with the
        projected input as its bias (a single ``addmm``; ``baddbmm`` for an ensemble)."""
        return _linear(h_prev, self.W_h, x_projected)

    def step(self, x_projected: torch.Tensor, state: State) -> State:
        """One step of the recurrence given the already projected input."""
        raise NotImplementedError

    # --- states ---------------------------------------------------------------------------
    def state_shape(self, batch_size: int) -> tuple[int, ...]:
        """``(batch, hidden)``, or ``(k, batch, hidden)`` for an ensemble."""
        members = () if self.ensemble is None else (self.ensemble,)
        return (*members, batch_size, self.hidden_size)

    def initial_state(self, batch_size: int) -> State:
        """The zero state, on the weights' device and dtype: one tensor ``h``, or a tuple of
        one tensor per name of ``state_tensors``."""
        zeros = [self.W_h.new_zeros(self.state_shape(batch_size)) for _ in self.state_tensors]
        return zeros[0] if len(zeros) == 1 else tuple(zeros)

    @staticmethod
    def hidden(state: State) -> torch.Tensor:
        """The hidden state ``h_t`` inside a state (for the LSTM the state is ``(h_t, c_t)``)."""
        return state

    def check_state(self, state: State, batch_size: int) -> None:
        """Raise ``ValueError`` unless ``state`` has one tensor of shape :meth:`state_shape` per
        name of ``state_tensors`` (a bare tensor for one, a tuple for several)."""
        shape = self.state_shape(batch_size)
        names = self.state_tensors
        if len(names) == 1:
            check_state(state, shape, STATE_NAMES[names[0]], self.W_h)
            return
        if not (isinstance(state, tuple | list) and len(state) == len(names)):
            kind = "pair" if len(names) == 2 else "tuple"
            raise ValueError(
                f"the {type(self).__name__} state must be a {kind} ({', '.join(names)}) of "
                f"tensors of shape {shape}, got {type(state).__name__}"
            )
        for tensor, name in zip(state, names, strict=True):
            check_state(tensor, shape, STATE_NAMES[name], self.W_h)

    # --- the fused recurrence ----------------------------------------------------------------
    def sequence_kernel(self) -> SequenceKernel | None:
        """The fused recurrence of this cell (:mod:`rnnlib.fused`), or ``None``: a layer then
        unrolls :meth:`step` (the vanilla RNN, and any subclass that changes the maths)."""
        return None

    def _keeps_maths_of(self, cls: type[RecurrentCell], methods: tuple[str, ...]) -> bool:
        """Whether this cell's class still uses ``cls``'s own ``methods`` (not overridden)."""
        return all(getattr(type(self), name) is getattr(cls, name) for name in methods)

    def forward(self, x_t: torch.Tensor, state: State | None = None) -> State:
        """One time step on ``x_t`` of shape ``(batch, input)`` (for an ensemble also
        ``(k, batch, input)``); ``state`` defaults to zeros."""
        if self.ensemble is not None and isinstance(x_t, torch.Tensor) and x_t.dim() == 3:
            check_input(x_t, self.input_size, 3, "(members, batch, features)", self.W_x)
            _check_members(x_t, self.ensemble)
        else:
            check_input(x_t, self.input_size, 2, "(batch, features)", self.W_x)
            x_t = x_t if self.ensemble is None else x_t.unsqueeze(0)
        if state is None:
            state = self.initial_state(x_t.shape[-2])
        else:
            self.check_state(state, x_t.shape[-2])
        return self.step(self.input_projection(x_t), state)

    # --- copying weights to and from torch.nn ---------------------------------------------
    def _torch_row_signs(self) -> torch.Tensor | None:
        """Per-row signs between this cell's and torch's weights (``None``: all equal)."""
        return None

    def _copy_rows(self, source: torch.Tensor) -> torch.Tensor:
        signs = self._torch_row_signs()
        copied = source.detach().clone()
        if signs is not None:
            signs = signs.to(copied)
            copied = copied * (signs[:, None] if copied.dim() == 2 else signs)
        return copied

    def _torch_kwargs(self) -> dict:
        return {}

    @classmethod
    def from_torch(cls, module: nn.Module, **kwargs):
        """A cell with the weights of ``module`` (a ``torch.nn`` cell of the matching kind)."""
        if not isinstance(module, cls.torch_class):
            raise ValueError(
                f"{cls.__name__}.from_torch expects a {cls.torch_class.__name__}, "
                f"got {type(module).__name__}"
            )
        if "ensemble" in kwargs:
            raise ValueError("from_torch builds a single cell, not an ensemble")
        cell = cls(module.input_size, module.hidden_size, bias=module.bias, **kwargs)
        cell.to(device=module.weight_ih.device, dtype=module.weight_ih.dtype)
        cell.load_torch_weights(
            module.weight_ih,
            module.weight_hh,
            getattr(module, "bias_ih", None),
            getattr(module, "bias_hh", None),
        )
        return cell

    @torch.no_grad()
    def load_torch_weights(self, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> None:
        """Copy torch-layout tensors into ``W_x``, ``W_h``, ``b_x``, ``b_h``."""
        _check_single(self)
        self.W_x.copy_(self._copy_rows(weight_ih))
        self.W_h.copy_(self._copy_rows(weight_hh))
        if self.bias:
            self.b_x.copy_(self._copy_rows(bias_ih))
            self.b_h.copy_(self._copy_rows(bias_hh))

    def torch_weights(self) -> list[torch.Tensor]:
        """This cell's parameters in torch's layout and order (weight_ih, weight_hh, biases)."""
        _check_single(self)
        tensors = [self.W_x, self.W_h] + ([self.b_x, self.b_h] if self.bias else [])
        return [self._copy_rows(t) for t in tensors]

    def to_torch(self) -> nn.Module:
        """The equivalent ``torch.nn`` cell, with copies of these weights."""
        module = self.torch_class(
            self.input_size, self.hidden_size, bias=self.bias, **self._torch_kwargs()
        )
        module.to(device=self.W_h.device, dtype=self.W_h.dtype)
        with torch.no_grad():
            for target, value in zip(module.parameters(), self.torch_weights(), strict=True):
                target.copy_(value)
        return module

    def extra_repr(self) -> str:
        members = "" if self.ensemble is None else f", ensemble={self.ensemble}"
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, bias={self.bias}"
            + members
        )


def _check_ensemble(ensemble, seeds) -> tuple[int | None, tuple[int, ...] | None]:
    """``(ensemble, seeds)`` checked, ``seeds`` defaulting to ``0, ..., k - 1``."""
    if ensemble is None:
        if seeds is not None:
            raise ValueError("seeds are for ensembles: give ensemble=len(seeds) as well")
        return None, None
    check_int(ensemble, "ensemble", none_ok=True)
    seeds = tuple(range(ensemble)) if seeds is None else tuple(int(s) for s in seeds)
    if len(seeds) != ensemble:
        raise ValueError(f"ensemble={ensemble} needs {ensemble} seeds, got {len(seeds)}")
    return ensemble, seeds


def _check_members(x: torch.Tensor, ensemble: int) -> None:
    if x.shape[0] != ensemble:
        raise ValueError(
            f"input's first axis must hold the ensemble's {ensemble} members, got shape "
            f"{tuple(x.shape)} (an input without that axis is shared by every member)"
        )


def _check_single(cell: RecurrentCell) -> None:
    if cell.ensemble is not None:
        raise ValueError("an ensemble has no torch.nn counterpart; take one member with .member(j)")
