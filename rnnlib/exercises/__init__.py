r"""Checkers for the book's "implement it" exercises.

A chapter asks the reader to write one step of a model, or one tool, from the lecture's
equations. A checker runs the reader's function and a reference on the same seeded random
float64 inputs (several shapes, batch 1 included) and either prints one line saying that the
function is correct, or raises ``AssertionError``. The message names the mistake when the
reader's outputs equal, on every case, a usual wrong variant computed on the same inputs (to
about 1e-8, or 1e-5 relative for clipping, whose check accepts torch's ``norm + 1e-6``);
otherwise it says where the values first differ: which output, which case, its shapes and the
largest absolute difference. Every checker also fails a function that changes its inputs in
place, reports an error raised inside the reader's function together with the case's shapes, and
answers the exercise's stub (``raise NotImplementedError``) with "not implemented yet". The
reference is never printed.

One module per exercise holds its checker, its ``reference`` and its known mistakes; the
checker's docstring states the maths:

* :func:`check_chain_rule_gradients` (``chain_rule``, chapter 1): ``fn(W_h, states, grad_last)
  -> [dJ/dh^(1), ..., dJ/dh^(T)]``, backpropagation through time for a tanh RNN;
* :func:`check_jacobian_product` (``jacobian_product``, chapter 2): ``fn(jacobians, i, j)``,
  the product :math:`J_i J_{i-1} \cdots J_{j+1}`;
* :func:`check_scale_to_spectral_radius` (``spectral_radius``, chapter 3): ``fn(W, radius)``;
* :func:`check_clip_grad_norm` (``clipping_by_norm``, chapter 4): ``fn(grads, threshold)``;
* :func:`check_lstm_step` (``lstm_step``, chapter 5): ``fn(x, h_prev, c_prev, p) -> (h, c)``;
* :func:`check_gru_step` (``gru_step``, chapter 6): ``fn(x, h_prev, p) -> h``, the lecture's GRU;
* :func:`check_highway_block` (``highway``, chapter 7): ``fn(x, W_H, b_H, W_T, b_T) -> y``;
* :func:`check_bidirectional_states` (``bidirectional``, chapter 8):
  ``fn(x, forward_cell, backward_cell) -> h``;
* :func:`check_residual_stack` (``residual_stack``, chapter 9): ``fn(x, layers) -> outputs``;
* :func:`check_gradient_reach` (``gradient_reach``, chapter 10): ``fn(norms, threshold) -> K``.

>>> from rnnlib.exercises import check_gru_step
>>> def gru_step(x, h_prev, p):
...     raise NotImplementedError
>>> check_gru_step(gru_step)
Traceback (most recent call last):
...
AssertionError: check_gru_step: not implemented yet: your function raises NotImplementedError. Replace the `raise NotImplementedError` line with your code and run the check again.

Not here: the runner every checker shares (``_runner``: stubs, changed inputs, wrong types,
known mistakes, the first difference); checks of backward passes, whole layers or training
loops; float32 or GPU inputs; grading of style or speed. Two mistakes at once are reported as a
difference, not by name.
"""  # noqa: E501

from __future__ import annotations

from .bidirectional import check_bidirectional_states
from .chain_rule import check_chain_rule_gradients
from .clipping_by_norm import check_clip_grad_norm
from .gradient_reach import check_gradient_reach
from .gru_step import check_gru_step
from .highway import check_highway_block
from .jacobian_product import check_jacobian_product
from .lstm_step import check_lstm_step
from .residual_stack import check_residual_stack
from .spectral_radius import check_scale_to_spectral_radius

__all__ = [
    "check_chain_rule_gradients",
    "check_jacobian_product",
    "check_scale_to_spectral_radius",
    "check_clip_grad_norm",
    "check_lstm_step",
    "check_gru_step",
    "check_highway_block",
    "check_bidirectional_states",
    "check_residual_stack",
    "check_gradient_reach",
]
