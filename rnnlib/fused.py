r"""Fused LSTM and GRU layers: the whole recurrence is one autograd node, with backpropagation
through time (BPTT) written by hand, as cuDNN and oneDNN do. The LSTM is described here; the GRU
(:class:`GRUSequence`) follows the same plan, with its equations in its own docstring.

**Why it exists: speed.** Unrolled under autograd (:meth:`~rnnlib.layers.RecurrentLayer.unroll`
calling :meth:`~rnnlib.cells.LSTMCell.step`), every time step records about a dozen graph nodes,
and the backward of ``chunk`` concatenates the four gate gradients with ``torch.cat`` at every
step; that made rnnlib's LSTM 1.3-5x slower than ``torch.nn.LSTM``. Here the forward pass runs
without autograd into preallocated buffers, and the backward pass writes each gate's gradient
straight into its slice of one ``(T, batch, 4 hidden)`` buffer. **The per-step path is the
reference**: the chapters read it, the gradient instruments use it, and the tests check this
module against it (the same forward arithmetic, so the same outputs; gradients to 1e-10 in
float64).

Forward, for the steps in the order they are read (``t = 1..T``, or ``T..1`` when reversed)::

    a_t   = W_h h_{t-1} + (W_x x_t + b)        pre-activation of the 4 gates, rows i, f, c~, o
    i_t   = sigma(a_i),  f_t = sigma(a_f),  o_t = sigma(a_o),  c~_t = tanh(a_c)
    c_t   = f_t * c_{t-1} + i_t * c~_t
    h_t   = o_t * tanh(c_t)

Backward. ``dh_t`` and ``dc_t`` are the *total* gradients reaching ``h_t`` and ``c_t``
(``dJ/dh_t`` and ``dJ/dc_t``), ``da_t`` that of the pre-activation. From the last step read to
the first::

    dh_t  = dJ/dh_t (direct, from the outputs) + W_h^T da_{t+1}
    dc_t  = f_{t+1} * dc_{t+1} + dh_t * o_t * (1 - tanh(c_t)^2)
    da_o  = dh_t * tanh(c_t) * o_t * (1 - o_t)
    da_i  = dc_t * c~_t * i_t * (1 - i_t)
    da_f  = dc_t * c_{t-1} * f_t * (1 - f_t)
    da_c  = dc_t * i_t * (1 - c~_t^2)

For the last step read, ``W_h^T da_{t+1}`` is replaced by the gradient of the returned final
``h``, and ``f_{t+1} * dc_{t+1}`` by that of the final ``c``. After the loop::

    dW_h            = sum_t da_t h_{t-1}^T      one GEMM over all steps
    d(W_x x_t + b)  = da_t                      autograd carries it on to W_x, b_x, b_h and x
    dh_0 = W_h^T da_1,   dc_0 = f_1 * dc_1

The factors of ``da`` and ``dc`` that depend on neither ``dh_t`` nor ``dc_t`` (``c~_t i_t
(1 - i_t)``, ``o_t (1 - tanh(c_t)^2)``, ...) are computed for a block of steps at a time, just
before the loop reaches them, so each step does one matmul and four elementwise operations, on
data that is still in the CPU's cache.

Gate rows in the order of ``LSTMCell.GATE_ORDER`` (i, f, c~, o) and ``GRUCell.GATE_ORDER``
(r, u, n). Shapes: T steps, B batch, H hidden, ``[k,]`` an optional ensemble axis; time first.

Not here: the input projection ``W_x x_t + b`` (the cells' ``input_projection``, before the
kernel), the choice of the kernel (``RecurrentCell.sequence_kernel``, :mod:`rnnlib.cells`), the
vanilla RNN (its per-step path is as fast), second derivatives, and ``vmap`` rules.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["LSTMSequence", "lstm_sequence", "GRUSequence", "gru_sequence"]

#: The backward pass prepares its per-step factors for as many steps as fit in about this many
#: bytes (of gates, gradients and states), so they are still cached when the loop uses them.
BLOCK_BYTES = 4 * 2**20


def _gate_factors(gates, c_previous, tanh_c, da, dh_to_dc) -> None:
    """For a block of steps, fill ``da`` (``(steps, batch, 4 hidden)``) with the factors that
    the loop multiplies by ``[dc_t, dc_t, dc_t, dh_t]``, and ``dh_to_dc`` with that of ``dh_t``
    in ``dc_t``. ``addcmul(x, y, y, value=-1)`` is ``x - y^2`` in one pass."""
    i, f, g, o = gates.chunk(4, dim=-1)  # 4 x (steps, B, H), rows in LSTMCell.GATE_ORDER
    da_i, da_f, da_g, da_o = da.chunk(4, dim=-1)  # 4 x (steps, B, H)
    one = gates.new_ones(())
    torch.addcmul(gates, gates, gates, value=-1, out=da)  # s (1 - s), right for i, f, o
    torch.addcmul(one, g, g, value=-1, out=da_g).mul_(i)  # i_t (1 - c~_t^2)
    da_i.mul_(g)  # c~_t i_t (1 - i_t)
    da_f.mul_(c_previous)  # c_{t-1} f_t (1 - f_t)
    da_o.mul_(tanh_c)  # tanh(c_t) o_t (1 - o_t)
    torch.addcmul(one, tanh_c, tanh_c, value=-1, out=dh_to_dc).mul_(o)  # o_t (1 - tanh(c_t)^2)


class LSTMSequence(torch.autograd.Function):
    """``(x_projected, h_0, c_0, W_h) -> (outputs, h_last, c_last)`` for a whole sequence.

    ``x_projected``: ``(T, batch, 4 hidden)``, the cell's ``input_projection`` of every step
    (``W_x x_t + b``, time first). ``outputs`` holds ``h_t`` in time order, laid out
    ``(batch, T, hidden)`` when ``batch_first`` else ``(T, batch, hidden)``; ``h_last`` and
    ``c_last`` are the state after the last step read (``t = 1`` when ``reverse``). ``save``:
    keep what the backward pass needs (False when no gradient will be asked for);
    ``overwrite_input``: see :func:`lstm_sequence`.

    Ensembles (:mod:`rnnlib.cells`): with ``W_h`` of shape ``(k, 4 hidden, hidden)``, every
    tensor has the member axis first (``x_projected`` ``(k, T, batch, 4 hidden)``, states
    ``(k, batch, hidden)``, outputs ``(k, batch, T, hidden)`` or ``(k, T, batch, hidden)``), time
    is the second axis of every buffer, and the products are ``baddbmm``/``bmm``.

    >>> x_projected, h_0, c_0 = torch.randn(7, 2, 20), torch.zeros(2, 5), torch.zeros(2, 5)
    >>> options = (False, False, False, False)  # reverse, batch_first, save, overwrite_input
    >>> LSTMSequence.apply(x_projected, h_0, c_0, torch.randn(20, 5), *options)[0].shape
    torch.Size([7, 2, 5])
    """

    @staticmethod
    def forward(ctx, x_projected, h_0, c_0, W_h, reverse, batch_first, save, overwrite_input):
        time = _time_axis(x_projected)
        steps = x_projected.shape[time]
        order = range(steps - 1, -1, -1) if reverse else range(steps)

        # Buffers in time order. ``gates`` holds W_x x_t + b, receives a_t in place, then
        # i, f, c~, o in place. With ``overwrite_input`` it is x_projected's own storage (a
        # temporary of the layer's forward), which saves copying it.
        if overwrite_input:
            gates = x_projected.contiguous()
        else:
            gates = x_projected.clone(memory_format=torch.contiguous_format)
        # ``h_states`` and ``c_states`` hold h_0 and c_0 too (first, or last when reversed), so
        # that h_{t-1} and c_{t-1} of every step are views.
        h_states, h = _states(gates, h_0, reverse)
        c_states, c = _states(gates, c_0, reverse)
        tanh_c = torch.empty_like(c)

        # One view per step and gate, made once (indexing inside the loop costs more).
        a_steps = gates.unbind(time)  # T x ([k,] B, 4 H)
        # rows in LSTMCell.GATE_ORDER: i, f, c~ (g), o
        blocks = gates.chunk(4, dim=-1)  # 4 x ([k,] T, B, H)
        i, f, g, o = (part.unbind(time) for part in blocks)  # 4 x T x ([k,] B, H)
        states = (h, c, tanh_c)
        h_steps, c_steps, tanh_c_steps = (x.unbind(time) for x in states)  # 3 x T x ([k,] B, H)
        W_h_T, matmul_ = _recurrent_weight(W_h)

        # The arithmetic of LSTMCell.step, operation for operation, so the outputs are the same.
        h_prev, c_prev = h_0, c_0
        for t in order:
            # a_t = W_h h_{t-1} + (W_x x_t + b): one addmm, the projected input as its bias
            matmul_(a_steps[t], h_prev, W_h_T)
            i[t].sigmoid_()  # i_t = sigma(a_i)
            f[t].sigmoid_()  # f_t = sigma(a_f)
            g[t].tanh_()  # c~_t = tanh(a_c)
            o[t].sigmoid_()  # o_t = sigma(a_o)
            # c_t = f_t * c_{t-1} + i_t * c~_t
            torch.mul(f[t], c_prev, out=c_steps[t])
            c_steps[t].add_(i[t] * g[t])
            # h_t = o_t * tanh(c_t)
            torch.tanh(c_steps[t], out=tanh_c_steps[t])
            torch.mul(o[t], tanh_c_steps[t], out=h_steps[t])
            h_prev, c_prev = h_steps[t], c_steps[t]

        if save:
            ctx.save_for_backward(gates, h_states, c_states, tanh_c, W_h)
            ctx.reverse, ctx.batch_first = reverse, batch_first
        # copies, so the caller may modify them in place
        # ([k,] B, T, H) when batch_first, else ([k,] T, B, H)
        outputs = h.transpose(time, time + 1).contiguous() if batch_first else h.clone()  # (idem)
        return outputs, h_prev.clone(), c_prev.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_h_last, grad_c_last):
        gates, h_states, c_states, tanh_c, W_h = ctx.saved_tensors
        reverse, time = ctx.reverse, _time_axis(gates)
        steps, hidden = gates.shape[time], gates.shape[-1] // 4
        addmm = torch.addmm if W_h.dim() == 2 else torch.baddbmm
        # h_{t-1} and c_{t-1} of every step, in time order
        h_previous, c_previous = (x.narrow(time, int(reverse), steps) for x in (h_states, c_states))
        # the steps from the last read to the first, cut into blocks that fit in the cache
        backward_order = range(steps) if reverse else range(steps - 1, -1, -1)
        per_step = 11 * grad_h_last.numel() * gates.element_size()
        block = max(1, min(steps, BLOCK_BYTES // per_step))

        da = torch.empty_like(gates)  # dJ/da_t, written slice by slice (no torch.cat)
        # o_t (1 - tanh(c_t)^2), per block
        dh_to_dc = torch.empty_like(tanh_c.narrow(time, 0, block))
        transposed = ctx.batch_first
        grad_h = grad_outputs.transpose(time, time + 1) if transposed else grad_outputs  # (T, B, H)
        # Views per step, made once. The i, f, c~ slices are viewed (batch, 3, hidden) so that
        # one broadcast product with dc_t (batch, 1, hidden) fills all three.
        da_steps, grad_h_steps = da.unbind(time), grad_h.unbind(time)  # T x (B, 4 H), T x (B, H)
        da_ifg = da[..., : 3 * hidden].unflatten(-1, (3, hidden)).unbind(time)  # T x (B, 3, H)
        da_o = da[..., 3 * hidden :].unbind(time)  # T x (B, H)
        f = gates[..., hidden : 2 * hidden].unbind(time)  # T x (B, H)

        dh = torch.empty_like(grad_h_last)
        dc_broadcast = grad_c_last.new_empty(*grad_c_last.shape[:-1], 1, hidden)
        dc = dc_broadcast[..., 0, :]
        dc_next = grad_c_last.clone()  # f_{t+1} * dc_{t+1}; for the last step read, dJ/dc_T
        later = None  # the step read after t (none for the last step read)
        for start in range(0, steps, block):
            ts = backward_order[start : start + block]
            first, size = min(ts), len(ts)  # the block's steps, as a slice of time
            part = [x.narrow(time, first, size) for x in (gates, c_previous, tanh_c, da)]
            _gate_factors(*part, dh_to_dc.narrow(time, 0, size))
            dh_to_dc_steps = dh_to_dc.unbind(time)  # block x (B, H)
            for t in ts:
                if later is None:
                    # dh_T = dJ/dh_T (from the outputs) + dJ/dh_T (from the final state)
                    torch.add(grad_h_steps[t], grad_h_last, out=dh)
                else:
                    # dh_t = dJ/dh_t (from the outputs) + W_h^T da_{t+1}
                    addmm(grad_h_steps[t], da_steps[later], W_h, out=dh)
                # dc_t = f_{t+1} * dc_{t+1} + dh_t * o_t * (1 - tanh(c_t)^2)
                torch.addcmul(dc_next, dh, dh_to_dc_steps[t - first], out=dc)
                # [da_i, da_f, da_c] = dc_t * [c~_t i_t(1-i_t), c_{t-1} f_t(1-f_t), i_t(1-c~_t^2)]
                da_ifg[t].mul_(dc_broadcast)
                # da_o = dh_t * tanh(c_t) * o_t * (1 - o_t)
                da_o[t].mul_(dh)
                # f_t * dc_t: the part of dc_{t-1} that flows through c_t
                torch.mul(dc, f[t], out=dc_next)
                later = t
        first_read = later

        grad_x_projected = grad_h_0 = grad_c_0 = grad_W_h = None
        if ctx.needs_input_grad[0]:
            grad_x_projected = da  # d(W_x x_t + b) = da_t
        if ctx.needs_input_grad[1]:
            grad_h_0 = da_steps[first_read] @ W_h  # dh_0 = W_h^T da_1
        if ctx.needs_input_grad[2]:
            grad_c_0 = dc_next  # dc_0 = f_1 * dc_1
        if ctx.needs_input_grad[3]:
            # dW_h = sum_t da_t h_{t-1}^T, one GEMM over all steps
            grad_W_h = _sum_over_steps(da, h_previous)
        return grad_x_projected, grad_h_0, grad_c_0, grad_W_h, None, None, None, None


def lstm_sequence(
    x_projected: torch.Tensor,
    h_0: torch.Tensor,
    c_0: torch.Tensor,
    W_h: torch.Tensor,
    reverse: bool = False,
    batch_first: bool = False,
    overwrite_input: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run :class:`LSTMSequence`: ``(outputs, h_last, c_last)`` (see its docstring).

    ``overwrite_input=True`` lets the forward pass compute the gates in ``x_projected``'s
    storage, for a caller whose ``x_projected`` is a temporary that nothing else reads
    (``RecurrentLayer.forward``); its version counter records the change, so a backward pass
    that had saved it would fail loudly rather than silently.

    Under ``torch.autocast``, where the input projection comes out in the autocast dtype, the
    recurrence runs in the weights' dtype, so states and outputs have the dtype the per-step
    path gives them (its ``c_t = f_t * c_{t-1} + ...`` promotes back to the state's dtype).

    It computes what unrolling ``LSTMCell.step`` computes, to the bit:

    >>> from rnnlib.cells import LSTMCell
    >>> from rnnlib.layers import RecurrentLayer
    >>> cell = LSTMCell(3, 5)
    >>> x = torch.randn(2, 7, 3)
    >>> x_projected = cell.input_projection(x.transpose(0, 1))  # (T, B, 4 H)
    >>> state = cell.initial_state(2)
    >>> outputs, h_T, c_T = lstm_sequence(x_projected, *state, cell.W_h, batch_first=True)
    >>> steps = RecurrentLayer(cell).unroll(x)
    >>> torch.equal(outputs, torch.stack([h for h, c in steps], dim=1))
    True
    """
    inputs = (x_projected, h_0, c_0, W_h)
    return _apply(LSTMSequence, inputs, W_h.dtype, reverse, batch_first, overwrite_input)


def _apply(function, inputs, dtype, reverse, batch_first, overwrite_input):
    """``function.apply`` on ``inputs`` (``x_projected`` first; some may be None), with the
    recurrence in the weights' ``dtype`` under autocast, saving for the backward pass only
    when a gradient may be asked for."""
    x_projected = inputs[0]
    if torch.is_autocast_enabled(x_projected.device.type):
        inputs = (x_projected.to(dtype), *inputs[1:])
    save = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)
    with torch.autocast(x_projected.device.type, enabled=False):
        return function.apply(*inputs, reverse, batch_first, save, overwrite_input)


# --- the GRU -----------------------------------------------------------------------------------
class GRUSequence(torch.autograd.Function):
    r"""``(x_projected, h_0, W_h, b_h) -> (outputs, h_last)`` for a whole GRU sequence.

    ``x_projected``: ``(T, batch, 3 hidden)``, :meth:`~rnnlib.cells.GRUCell.input_projection`
    of every step (``W_x x_t + b_x``, rows r, u, n); ``b_h`` may be None (no bias). Outputs
    and ``save`` as in :class:`LSTMSequence`; ``overwrite_input`` has no effect (the gates go to
    a buffer of their own, ``x_projected`` is only read). Forward, the arithmetic of
    :meth:`GRUCell.step <rnnlib.cells.GRUCell.step>` operation for operation, so the outputs are
    the same to the bit (u is the lecture's update gate, ``u = 1 - z`` of torch)::

        m_t   = W_h h_{t-1} + b_h                  rows m_r, m_u, m_n: one addmm
        r_t   = sigma(x_r + m_r),  u_t = sigma(x_u + m_u)
        n_t   = tanh(x_n + r_t * m_n)
        h_t   = h_{t-1} + u_t * (n_t - h_{t-1})    torch.lerp, as GRUCell.step

    Backward, from the last step read to the first (``dh_t`` the total gradient of ``h_t``)::

        dh_t  = dJ/dh_t + dh_{t+1} * (1 - u_{t+1}) + dm_{t+1} W_h
        da_n  = dh_t * u_t (1 - n_t^2)             (a_n = x_n + r_t m_n)
        da_u  = dh_t * (n_t - h_{t-1}) u_t (1 - u_t)
        dm_n  = da_n * r_t,   da_r = da_n * m_n r_t (1 - r_t)
        dm_t  = [da_r, da_u, dm_n],   d(W_x x_t + b_x) = [da_r, da_u, da_n]
        dW_h  = sum_t dm_t^T h_{t-1},  db_h = sum_t dm_t,  dh_0 = dh_1 (1 - u_1) + dm_1 W_h

    The factors of the four products are prepared per block of steps (as for the LSTM) in one
    ``(T, batch, 4 hidden)`` buffer laid out ``[dm_n, da_r, da_u, da_n]``: then ``dm_t`` is its
    first three quarters (for ``W_h`` with its rows rolled to n, r, u) and the gradient of the
    projected input its last three, both views, and each step does one ``addcmul``, one
    ``addmm`` and two broadcast products.

    >>> x_projected, W_h, b_h = torch.randn(7, 2, 15), torch.randn(15, 5), torch.zeros(15)
    >>> options = (False, False, False, False)  # reverse, batch_first, save, overwrite_input
    >>> GRUSequence.apply(x_projected, torch.zeros(2, 5), W_h, b_h, *options)[0].shape
    torch.Size([7, 2, 5])
    """

    @staticmethod
    def forward(ctx, x_projected, h_0, W_h, b_h, reverse, batch_first, save, overwrite_input):
        time = _time_axis(x_projected)
        steps, hidden = x_projected.shape[time], x_projected.shape[-1] // 3
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        # x_projected is only read; the gates r, u, n of every step go to ``gates``, laid out
        # (T, 3, batch, hidden) so that each step's gate is a contiguous (batch, hidden) block
        # like GRUCell's: ATen's vectorised sigmoid, tanh and lerp round their last elements
        # differently from their first, so the same layout is what makes the same bits.
        x_projected = x_projected.contiguous()
        m = torch.empty_like(x_projected)  # W_h h_{t-1} + b_h of every step
        gates = _gate_buffer(x_projected, 3, hidden)
        h_states, h = _states(x_projected, h_0, reverse)

        x_ru = x_projected[..., : 2 * hidden].unflatten(-1, (2, hidden)).unbind(time)  # T (B,2,H)
        x_n = x_projected[..., 2 * hidden :].unbind(time)  # T x (B, H)
        m_steps, m_n = m.unbind(time), m[..., 2 * hidden :].unbind(time)  # T x (B, 3 H), T x (B, H)
        m_ru = m[..., : 2 * hidden].unflatten(-1, (2, hidden)).unbind(time)  # T x (B, 2, H)
        # rows in GRUCell.GATE_ORDER: r, u, n
        r, u, n = (gates.select(time + 1, gate).unbind(time) for gate in range(3))  # T x (B, H)
        ru = gates.narrow(time + 1, 0, 2).movedim(time + 1, -2).unbind(time)  # (batch, 2, H)
        h_steps = h.unbind(time)  # T x ([k,] B, H)
        W_h_T, _ = _recurrent_weight(W_h)
        single = W_h.dim() == 2
        addmm, mm = (torch.addmm, torch.mm) if single else (torch.baddbmm, torch.bmm)
        b_h_rows = b_h if single or b_h is None else b_h.unsqueeze(-2)  # (members, 1, 3 H)
        h_prev = h_0
        for t in order:
            # m_t = W_h h_{t-1} + b_h
            if b_h is None:
                mm(h_prev, W_h_T, out=m_steps[t])
            else:
                addmm(b_h_rows, h_prev, W_h_T, out=m_steps[t])
            # r_t = sigma(x_r + m_r),  u_t = sigma(x_u + m_u): one add over both (a sum is
            # rounded alike in any layout; sigmoid is not, so it stays one call per gate)
            torch.add(x_ru[t], m_ru[t], out=ru[t])
            r[t].sigmoid_()
            u[t].sigmoid_()
            # n_t = tanh(x_n + r_t * m_n)
            torch.mul(r[t], m_n[t], out=n[t]).add_(x_n[t]).tanh_()
            # h_t = h_{t-1} + u_t * (n_t - h_{t-1})
            torch.lerp(h_prev, n[t], u[t], out=h_steps[t])
            h_prev = h_steps[t]

        if save:
            ctx.save_for_backward(gates, m, h_states, W_h)
            ctx.reverse, ctx.batch_first = reverse, batch_first
            ctx.has_bias = b_h is not None
        # ([k,] B, T, H) when batch_first, else ([k,] T, B, H)
        outputs = h.transpose(time, time + 1).contiguous() if batch_first else h.clone()  # (idem)
        return outputs, h_prev.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_h_last):
        gates, m, h_states, W_h = ctx.saved_tensors
        reverse, time = ctx.reverse, _time_axis(m)
        steps, hidden = m.shape[time], m.shape[-1] // 3
        addmm = torch.addmm if W_h.dim() == 2 else torch.baddbmm
        h_previous = h_states.narrow(time, int(reverse), steps)
        backward_order = range(steps) if reverse else range(steps - 1, -1, -1)
        per_step = 14 * grad_h_last.numel() * m.element_size()
        block = max(1, min(steps, BLOCK_BYTES // per_step))

        # [dm_n, da_r, da_u, da_n] of every step; dm = first three quarters, da = last three
        grads = m.new_empty(*m.shape[:-1], 4 * hidden)
        dm, da = grads[..., : 3 * hidden], grads[..., hidden:]
        keep = torch.empty_like(h_previous)  # 1 - u_t (read one step later)
        W_h_nru = W_h.roll(hidden, -2)  # W_h's rows in dm's order n, r, u
        transposed = ctx.batch_first
        grad_h = grad_outputs.transpose(time, time + 1) if transposed else grad_outputs  # (T, B, H)
        per_step = (grad_h, dm, keep)
        grad_h_steps, dm_steps, keep_steps = (x.unbind(time) for x in per_step)  # T x (B, .)
        # (batch, 2, hidden) views: [dm_n, da_r] = da_n * [.,.], [da_u, da_n] = dh_t * [.,.]
        by_da_n = grads[..., : 2 * hidden].unflatten(-1, (2, hidden)).unbind(time)  # T x (B, 2, H)
        by_dh = grads[..., 2 * hidden :].unflatten(-1, (2, hidden)).unbind(time)  # T x (B, 2, H)
        da_n = grads[..., 3 * hidden :, None].transpose(-1, -2).unbind(time)  # T x (B, 1, H)

        dh, carried = torch.empty_like(grad_h_last), torch.empty_like(grad_h_last)
        dh_broadcast = dh.unsqueeze(-2)
        later, keep_later = None, None
        for start in range(0, steps, block):
            ts = backward_order[start : start + block]
            first, size = min(ts), len(ts)
            r_u_n = gates.unbind(time + 1)  # 3 x (T, B, H)
            block_of = (*r_u_n, m[..., 2 * hidden :], h_previous, grads, keep)
            _gru_factors(*(x.narrow(time, first, size) for x in block_of))
            for t in ts:
                if later is None:
                    # dh_T = dJ/dh_T (outputs) + dJ/dh_T (final state)
                    torch.add(grad_h_steps[t], grad_h_last, out=dh)
                else:
                    # dh_t = dJ/dh_t + dh_{t+1} (1 - u_{t+1}) + dm_{t+1} W_h
                    torch.addcmul(grad_h_steps[t], dh, keep_later, out=carried)
                    addmm(carried, dm_steps[later], W_h_nru, out=dh)
                # [da_u, da_n] = dh_t * [(n_t - h_{t-1}) u_t (1 - u_t), u_t (1 - n_t^2)]
                by_dh[t].mul_(dh_broadcast)
                # [dm_n, da_r] = da_n * [r_t, m_n r_t (1 - r_t)]
                by_da_n[t].mul_(da_n[t])
                later, keep_later = t, keep_steps[t]

        grad_x_projected = grad_h_0 = grad_W_h = grad_b_h = None
        if ctx.needs_input_grad[0]:
            grad_x_projected = da
        if ctx.needs_input_grad[1]:
            # dh_0 = dh_1 (1 - u_1) + dm_1 W_h
            grad_h_0 = addmm(dh * keep_later, dm_steps[later], W_h_nru)
        if ctx.needs_input_grad[2]:
            # dW_h = sum_t dm_t^T h_{t-1}, rows rolled back to r, u, n
            grad_W_h = _sum_over_steps(dm, h_previous).roll(-hidden, -2)
        if ctx.has_bias and ctx.needs_input_grad[3]:
            grad_b_h = dm.sum((time, time + 1)).roll(-hidden, -1)  # db_h = sum_t dm_t
        return grad_x_projected, grad_h_0, grad_W_h, grad_b_h, None, None, None, None


def _recurrent_weight(W_h: torch.Tensor):
    """``(W_h^T, in-place matmul)`` for the forward loop: the transposed view and ``addmm_``,
    as ``F.linear`` passes them (the same GEMM, so the same rounding as the per-step path), or
    for an ensemble a contiguous copy and ``baddbmm_`` (a third faster than on the view)."""
    if W_h.dim() == 2:
        return W_h.T, torch.Tensor.addmm_
    return W_h.mT.contiguous(), torch.Tensor.baddbmm_


def _gate_buffer(x_projected: torch.Tensor, gates: int, hidden: int) -> torch.Tensor:
    """An empty ``(T, gates, batch, hidden)`` buffer (``(members, T, gates, batch, hidden)``
    for an ensemble): one contiguous ``(batch, hidden)`` block per step and gate."""
    time = _time_axis(x_projected)
    shape = x_projected.shape
    return x_projected.new_empty(*shape[: time + 1], gates, *shape[time + 1 : -1], hidden)


def _time_axis(x: torch.Tensor) -> int:
    """0 for a sequence ``(T, batch, .)``; 1 for an ensemble's ``(members, T, batch, .)``."""
    return x.dim() - 3


def _states(gates: torch.Tensor, initial: torch.Tensor, reverse: bool):
    """``(states, per_step)``: a buffer of T + 1 states along ``gates``' time axis that holds
    ``initial`` first (last when ``reverse``), so that every step's previous state is a view,
    and its T states in time order."""
    time = _time_axis(gates)
    steps = gates.shape[time]
    states = gates.new_empty(*gates.shape[:time], steps + 1, *initial.shape[time:])
    states.select(time, steps if reverse else 0).copy_(initial)
    return states, states.narrow(time, 0 if reverse else 1, steps)


def _sum_over_steps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum_t a_t^T b_t`` over steps and batch, one GEMM: ``(T, batch, m)`` and ``(T, batch,
    n)`` give ``(m, n)``; an ensemble's ``(members, T, batch, .)`` one ``(m, n)`` per member."""
    time = _time_axis(a)
    a, b = (x.flatten(time, time + 1) for x in (a, b))
    return a.mT @ b


def _gru_factors(r, u, n, m_n, h_previous, grads, keep) -> None:
    """For a block of steps, fill ``grads`` (``[., ., ., .]`` in the order dm_n, da_r, da_u,
    da_n) with ``[r, m_n r (1 - r), (n - h_{t-1}) u (1 - u), u (1 - n^2)]`` and ``keep`` with
    ``1 - u``: the factors of :class:`GRUSequence`'s backward loop."""
    f_n, f_r, f_u, f_a = grads.chunk(4, dim=-1)  # 4 x (steps, B, H)
    one = r.new_ones(())
    f_n.copy_(r)
    torch.addcmul(r, r, r, value=-1, out=f_r).mul_(m_n)
    torch.addcmul(u, u, u, value=-1, out=f_u).mul_(n - h_previous)
    torch.addcmul(one, n, n, value=-1, out=f_a).mul_(u)
    torch.sub(one, u, out=keep)


def gru_sequence(
    x_projected: torch.Tensor,
    h_0: torch.Tensor,
    W_h: torch.Tensor,
    b_h: torch.Tensor | None = None,
    reverse: bool = False,
    batch_first: bool = False,
    overwrite_input: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run :class:`GRUSequence`: ``(outputs, h_last)``; the options as in :func:`lstm_sequence`.

    >>> from rnnlib.cells import GRUCell
    >>> from rnnlib.layers import RecurrentLayer
    >>> cell = GRUCell(3, 5)
    >>> x = torch.randn(2, 7, 3)
    >>> x_projected = cell.input_projection(x.transpose(0, 1))  # (T, B, 3 H)
    >>> outputs, h_T = gru_sequence(x_projected, cell.initial_state(2), cell.W_h, cell.b_h)
    >>> steps = RecurrentLayer(cell, batch_first=False).unroll(x.transpose(0, 1))
    >>> torch.equal(outputs, torch.stack(steps))  # (T, B, H) either way
    True
    """
    inputs = (x_projected, h_0, W_h, b_h)
    return _apply(GRUSequence, inputs, W_h.dtype, reverse, batch_first, overwrite_input)
