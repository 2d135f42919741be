r"""A fused LSTM layer: the whole recurrence is one autograd node, with backpropagation through
time (BPTT) written by hand, as cuDNN and oneDNN do.

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
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["LSTMSequence", "lstm_sequence"]

#: The backward pass prepares its per-step factors for as many steps as fit in about this many
#: bytes (of gates, gradients and states), so they are still cached when the loop uses them.
BLOCK_BYTES = 4 * 2**20


def _gate_factors(gates, c_previous, tanh_c, da, dh_to_dc) -> None:
    """For a block of steps, fill ``da`` (``(steps, batch, 4 hidden)``) with the factors that
    the loop multiplies by ``[dc_t, dc_t, dc_t, dh_t]``, and ``dh_to_dc`` with that of ``dh_t``
    in ``dc_t``. ``addcmul(x, y, y, value=-1)`` is ``x - y^2`` in one pass."""
    i, f, g, o = gates.chunk(4, dim=-1)
    da_i, da_f, da_g, da_o = da.chunk(4, dim=-1)
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
    """

    @staticmethod
    def forward(ctx, x_projected, h_0, c_0, W_h, reverse, batch_first, save, overwrite_input):
        steps, batch, four_hidden = x_projected.shape
        hidden = four_hidden // 4
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
        h_states = x_projected.new_empty(steps + 1, batch, hidden)
        c_states = torch.empty_like(h_states)
        h, c = (h_states[:-1], c_states[:-1]) if reverse else (h_states[1:], c_states[1:])
        h_states[-1 if reverse else 0] = h_0
        c_states[-1 if reverse else 0] = c_0
        tanh_c = torch.empty_like(c)

        # One view per step and gate, made once (indexing inside the loop costs more).
        a_steps = gates.unbind(0)
        i, f, g, o = (part.unbind(0) for part in gates.chunk(4, dim=-1))
        h_steps, c_steps, tanh_c_steps = h.unbind(0), c.unbind(0), tanh_c.unbind(0)
        W_h_T = W_h.T  # as F.linear passes it: the same GEMM, so the same rounding

        # The arithmetic of LSTMCell.step, operation for operation, so the outputs are the same.
        h_prev, c_prev = h_0, c_0
        for t in order:
            # a_t = W_h h_{t-1} + (W_x x_t + b): one addmm, the projected input as its bias
            a_steps[t].addmm_(h_prev, W_h_T)
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
        outputs = h.transpose(0, 1).contiguous() if batch_first else h.clone()
        return outputs, h_prev.clone(), c_prev.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_h_last, grad_c_last):
        gates, h_states, c_states, tanh_c, W_h = ctx.saved_tensors
        reverse = ctx.reverse
        steps, batch, four_hidden = gates.shape
        hidden = four_hidden // 4
        # h_{t-1} and c_{t-1} of every step, in time order
        previous = slice(1, None) if reverse else slice(None, -1)
        h_previous, c_previous = h_states[previous], c_states[previous]
        # the steps from the last read to the first, cut into blocks that fit in the cache
        backward_order = range(steps) if reverse else range(steps - 1, -1, -1)
        per_step = 11 * batch * hidden * gates.element_size()
        block = max(1, min(steps, BLOCK_BYTES // per_step))

        da = torch.empty_like(gates)  # dJ/da_t, written slice by slice (no torch.cat)
        dh_to_dc = gates.new_empty(block, batch, hidden)  # o_t (1 - tanh(c_t)^2), per block
        grad_h = grad_outputs.transpose(0, 1) if ctx.batch_first else grad_outputs
        # Views per step, made once. The i, f, c~ slices are viewed (batch, 3, hidden) so that
        # one broadcast product with dc_t (batch, 1, hidden) fills all three.
        da_steps, grad_h_steps = da.unbind(0), grad_h.unbind(0)
        da_ifg = da[..., : 3 * hidden].unflatten(-1, (3, hidden)).unbind(0)
        da_o = da[..., 3 * hidden :].unbind(0)
        f = gates[..., hidden : 2 * hidden].unbind(0)

        dh = grad_h_last.new_empty(batch, hidden)
        dc_broadcast = grad_c_last.new_empty(batch, 1, hidden)
        dc = dc_broadcast[:, 0]
        dc_next = grad_c_last.clone()  # f_{t+1} * dc_{t+1}; for the last step read, dJ/dc_T
        later = None  # the step read after t (none for the last step read)
        for start in range(0, steps, block):
            ts = backward_order[start : start + block]
            first, last = min(ts), max(ts) + 1  # the block's steps, as a slice of time
            _gate_factors(
                gates[first:last],
                c_previous[first:last],
                tanh_c[first:last],
                da[first:last],
                dh_to_dc[: last - first],
            )
            dh_to_dc_steps = dh_to_dc.unbind(0)
            for t in ts:
                if later is None:
                    # dh_T = dJ/dh_T (from the outputs) + dJ/dh_T (from the final state)
                    torch.add(grad_h_steps[t], grad_h_last, out=dh)
                else:
                    # dh_t = dJ/dh_t (from the outputs) + W_h^T da_{t+1}
                    torch.addmm(grad_h_steps[t], da_steps[later], W_h, out=dh)
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
            grad_W_h = da.view(-1, four_hidden).T @ h_previous.view(-1, hidden)
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
    path gives them (its ``c_t = f_t * c_{t-1} + ...`` promotes back to the state's dtype)."""
    if torch.is_autocast_enabled(x_projected.device.type):
        x_projected = x_projected.to(W_h.dtype)
    inputs = (x_projected, h_0, c_0, W_h)
    save = torch.is_grad_enabled() and any(t.requires_grad for t in inputs)
    with torch.autocast(x_projected.device.type, enabled=False):
        return LSTMSequence.apply(*inputs, reverse, batch_first, save, overwrite_input)
