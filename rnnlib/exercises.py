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

* :func:`check_lstm_step`: ``fn(x, h_prev, c_prev, p) -> (h, c)``, one step of
  :class:`rnnlib.LSTMCell`'s equations, with ``p`` holding ``W_f, W_i, W_o, W_c``,
  ``U_f, U_i, U_o, U_c`` and ``b_f, b_i, b_o, b_c``:

  .. math::
      f, i, o = \sigma(W h_{prev} + U x + b), \quad
      \tilde c = \tanh(W_c h_{prev} + U_c x + b_c), \quad
      c = f \circ c_{prev} + i \circ \tilde c, \quad h = o \circ \tanh c

* :func:`check_gru_step`: ``fn(x, h_prev, p) -> h``, one step of the *lecture's* GRU, which
  resets before the matmul (unlike :class:`rnnlib.GRUCell`, which follows torch):

  .. math::
      u, r = \sigma(W h_{prev} + U x + b), \quad
      \tilde h = \tanh(W_h (r \circ h_{prev}) + U_h x + b_h), \quad
      h = (1 - u) \circ h_{prev} + u \circ \tilde h

* :func:`check_clip_grad_norm`: ``fn(grads, threshold) -> list of tensors``, clipping by the
  global L2 norm (:mod:`rnnlib.clipping`); the inputs must come back unmodified;
* :func:`check_jacobian_product`: ``fn(jacobians, i, j) -> (batch, hidden, hidden)``, the
  product :math:`J_i J_{i-1} \cdots J_{j+1}` (:func:`rnnlib.gradients.jacobian_product`);
* :func:`check_chain_rule_gradients`: ``fn(W_h, states, grad_last) -> [dJ/dh^(1), ...,
  dJ/dh^(T)]``, backpropagation through time for a tanh RNN written as the chain rule
  (chapter 1);
* :func:`check_scale_to_spectral_radius`: ``fn(W, radius) -> W'``, a copy of ``W`` with
  spectral radius ``radius`` (:func:`rnnlib.gradients.scale_to_spectral_radius`);
* :func:`check_highway_block`: ``fn(x, W_H, b_H, W_T, b_T) -> y``, one highway layer
  (:class:`rnnlib.deep.HighwayBlock`):

  .. math::
      H = \tanh(W_H x + b_H), \quad T = \sigma(W_T x + b_T), \quad
      y = T \circ H + (1 - T) \circ x

* :func:`check_bidirectional_states`: ``fn(x, forward_cell, backward_cell) -> h``, the states
  of a bidirectional RNN from two cells (:class:`rnnlib.layers.Bidirectional`),
  :math:`h^{(t)} = [\overrightarrow{h}^{(t)}; \overleftarrow{h}^{(t)}]`.
* :func:`check_residual_stack`: ``fn(x, layers) -> outputs``, a stack of tanh RNN layers with
  residual connections above the first (:class:`rnnlib.layers.StackedRNN`,
  ``skip="residual"``):

  .. math::
      h_l^{(t)} = \tanh(W_{x,l} x_l^{(t)} + W_{h,l} h_l^{(t-1)} + b_l), \quad
      x_{l+1}^{(t)} = h_l^{(t)} + x_l^{(t)} \ (l > 1)

* :func:`check_gradient_reach`: ``fn(norms, threshold) -> K``, how far back a gradient
  reaches: the largest :math:`K` with ``norms[k] / norms[0] >= threshold`` for every
  :math:`k \le K` (:func:`rnnlib.gradients.gradient_reach`).

Shapes: B batch, I input, H hidden, T time steps.

Not here: checks of backward passes, whole layers or training loops; float32 or GPU inputs;
grading of style or speed. Two mistakes at once are reported as a difference, not by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .gradients import gradient_reach, jacobian_product, scale_to_spectral_radius

__all__ = [
    "check_lstm_step",
    "check_gru_step",
    "check_clip_grad_norm",
    "check_jacobian_product",
    "check_scale_to_spectral_radius",
    "check_chain_rule_gradients",
    "check_highway_block",
    "check_bidirectional_states",
    "check_gradient_reach",
    "check_residual_stack",
]

#: (rtol, atol) between the reader's float64 outputs and the reference (or a wrong variant).
TIGHT = (1e-8, 1e-10)
#: Clipping: torch's ``max_norm / (norm + 1e-6)`` is also right, about 1e-6 relative off.
LOOSE = (1e-5, 1e-9)


# --- cases, mistakes and the runner ---------------------------------------------------------
@dataclass
class _Case:
    """One set of inputs, in the order of the reader's arguments, and what should come back."""

    args: dict[str, Any]
    shapes: str  # the inputs' sizes, for messages: "batch 2, input 3, hidden 5"
    outputs: dict[str, str]  # output name -> its layout, e.g. {"h": "(batch, hidden)"}
    returns: str  # what the function must return, in words
    sequence: bool = False  # a list of tensors even when there is one


@dataclass
class _Mistake:
    """A usual mistake: named when the reader's outputs equal one of ``variants`` on every
    case, or (``only_where``) when every failing case satisfies a condition."""

    message: str
    variants: tuple[Callable[..., Any], ...] = ()
    only_where: Callable[[_Case], bool] | None = None


def _run(name, fn, cases, reference, mistakes, tolerance=TIGHT, hint="") -> None:
    """Raise ``AssertionError`` naming the mistake or the first difference; return if right."""
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    where = [f"case {k + 1} of {len(cases)} ({case.shapes})" for k, case in enumerate(cases)]
    passed = [_clone(case.args) for case in cases]
    results = [_call(name, fn, args, at, hint) for args, at in zip(passed, where, strict=True)]
    for case, args, at in zip(cases, passed, where, strict=True):
        _check_unchanged(name, case.args, args, at)
    outputs = [_as_outputs(name, *row) for row in zip(results, cases, where, strict=True)]
    expected = [_as_tuple(reference(*_clone(case.args).values())) for case in cases]
    failing = [k for k in range(len(cases)) if not _all_close(outputs[k], expected[k], tolerance)]
    if not failing:
        return
    for mistake in mistakes:
        if _is_mistake(mistake, outputs, cases, failing, tolerance):
            raise AssertionError(f"{name}: {mistake.message}")
    raise AssertionError(f"{name}: {_first_difference(outputs, expected, cases, tolerance)}")


def _call(name, fn, args: dict[str, Any], where: str, hint: str):
    """What the reader's function returns on one case's arguments (a copy, so that changes to
    them can be seen); an error inside it becomes an ``AssertionError`` that says the case."""
    try:
        return fn(*args.values())
    except NotImplementedError:
        raise AssertionError(
            f"{name}: not implemented yet: your function raises NotImplementedError. Replace "
            "the `raise NotImplementedError` line with your code and run the check again."
        ) from None
    except Exception as error:
        raise AssertionError(
            f"{name}: your function raised {type(error).__name__} on {where}: "
            f"{str(error).rstrip('.')}. {hint}"
        ) from error


def _check_unchanged(name, original: dict[str, Any], passed: dict[str, Any], where: str) -> None:
    changed = _changed_input(original, passed)
    if changed is not None:
        raise AssertionError(
            f"{name}: your function modifies its input {changed} in place, on {where}. The "
            "caller still needs the original values: build new tensors (a * b, not a.mul_(b) "
            "or a *= b)."
        )


def _as_outputs(name, result, case: _Case, where: str) -> tuple[torch.Tensor, ...]:
    labels = list(case.outputs)
    if case.sequence or len(labels) > 1:
        ok = isinstance(result, list | tuple) and len(result) == len(labels)
        values = tuple(result) if ok else ()
    else:
        ok, values = isinstance(result, torch.Tensor), (result,)
    if not ok:
        missing = " (a missing `return`?)" if result is None else ""
        raise AssertionError(
            f"{name}: your function returned {_kind(result)}{missing} on {where}; "
            f"it must return {case.returns}."
        )
    for label, value in zip(labels, values, strict=True):
        if not isinstance(value, torch.Tensor) or value.dtype != torch.float64:
            raise AssertionError(
                f"{name}: {label} is {_kind(value)} on {where}; it must be a float64 tensor "
                "like the inputs."
            )
    return values


def _kind(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"a {type(value).__name__}"


def _is_mistake(mistake: _Mistake, outputs, cases, failing, tolerance) -> bool:
    if mistake.only_where is not None:
        return all(mistake.only_where(cases[k]) for k in failing)
    return any(_reproduces(variant, outputs, cases, tolerance) for variant in mistake.variants)


def _reproduces(variant, outputs, cases, tolerance) -> bool:
    """Whether ``variant`` gives the reader's outputs on every case."""
    for got, case in zip(outputs, cases, strict=True):
        try:
            wrong = _as_tuple(variant(*_clone(case.args).values()))
        except (RuntimeError, IndexError, ValueError):
            return False
        if not _all_close(got, wrong, tolerance):
            return False
    return True


def _first_difference(outputs, expected, cases, tolerance) -> str:
    """Where the reader's outputs first differ: a wrong shape first, then wrong values."""
    pairs = [
        (k, label, got, want)
        for k, case in enumerate(cases)
        for label, got, want in zip(case.outputs, outputs[k], expected[k], strict=True)
    ]
    for k, label, got, want in pairs:
        if got.shape != want.shape:
            return _shape_message(label, got, want, cases[k], f"case {k + 1} of {len(cases)}")
    for k, label, got, want in pairs:
        if not _close(got, want, tolerance):
            which = f"case {k + 1} of {len(cases)}"
            return _value_message(label, got, want, cases[k], which, tolerance)
    raise RuntimeError("no difference found")  # unreachable: some case failed


def _shape_message(label, got, want, case: _Case, which: str) -> str:
    message = (
        f"{label} has shape {tuple(got.shape)} but should have shape {tuple(want.shape)} "
        f"{case.outputs[label]} on {which} ({case.shapes})."
    )
    if got.dim() == 2 and tuple(got.shape) == tuple(want.shape)[::-1]:
        message += " It looks transposed: each row is one example of the batch."
    return message


def _value_message(label, got, want, case: _Case, which: str, tolerance) -> str:
    rtol, atol = tolerance
    difference = (got - want).abs().nan_to_num(nan=math.inf)
    first = tuple(int(m) for m in (~torch.isclose(got, want, rtol, atol)).nonzero()[0])
    return (
        f"{label} differs from the expected value on {which} ({case.shapes}): max abs "
        f"difference {difference.max().item():.3g}; first at {label}[{', '.join(map(str, first))}]:"
        f" got {got[first].item():.6g}, expected {want[first].item():.6g}."
    )


def _close(got: torch.Tensor, want: torch.Tensor, tolerance) -> bool:
    rtol, atol = tolerance
    return got.shape == want.shape and torch.allclose(got, want, rtol=rtol, atol=atol)


def _all_close(got, want, tolerance) -> bool:
    if len(got) != len(want):
        return False
    return all(_close(a, b, tolerance) for a, b in zip(got, want, strict=True))


def _as_tuple(result) -> tuple[torch.Tensor, ...]:
    return (result,) if isinstance(result, torch.Tensor) else tuple(result)


def _clone(value):
    """A deep copy of the tensors inside dicts, lists and tuples."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clone(item) for item in value)
    return value


def _leaves(value, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for m, item in enumerate(value):
            yield from _leaves(item, f"{path}[{m}]")
    else:
        yield path, value


def _changed_input(original: dict[str, Any], passed: dict[str, Any]) -> str | None:
    """The first input (``p['W_f']``, ``grads[1]``) that differs after the call, if any."""
    after = {path: value for name in passed for path, value in _leaves(passed[name], name)}
    for path, value in (leaf for name in original for leaf in _leaves(original[name], name)):
        now = after.get(path)
        if isinstance(value, torch.Tensor):
            same = isinstance(now, torch.Tensor) and now.shape == value.shape
            same = same and torch.equal(now, value)
        else:
            same = type(now) is type(value) and now == value
        if not same:
            return path
    return None


def _span(values) -> str:
    return f"{min(values)}..{max(values)}"


# --- shared pieces of the step exercises ----------------------------------------------------
def _affine(p: dict[str, torch.Tensor], gate: str, x, h_prev) -> torch.Tensor:
    """``W_gate h_prev + U_gate x + b_gate`` for each row (example) of the batch: (B, H)."""
    return h_prev @ p[f"W_{gate}"].T + x @ p[f"U_{gate}"].T + p[f"b_{gate}"]


def _step_cases(seed: int, shapes, gates: str, with_c: bool) -> list[_Case]:
    """Random steps of sizes ``(batch, input, hidden)``; pre-activations are about N(0, 1)."""
    generator = torch.Generator().manual_seed(seed)

    def randn(*size):
        return torch.randn(*size, generator=generator, dtype=torch.float64)

    cases = []
    for batch, input_size, hidden in shapes:
        scale = 1 / math.sqrt(input_size + hidden + 1)
        p = {f"W_{g}": scale * randn(hidden, hidden) for g in gates}
        p |= {f"U_{g}": scale * randn(hidden, input_size) for g in gates}
        p |= {f"b_{g}": scale * randn(hidden) for g in gates}
        args = {"x": randn(batch, input_size), "h_prev": randn(batch, hidden)}
        if with_c:
            args["c_prev"] = 1.5 * randn(batch, hidden)
        cases.append(
            _Case(
                args | {"p": p},
                f"batch {batch}, input {input_size}, hidden {hidden}",
                {name: "= (batch, hidden)" for name in (("h", "c") if with_c else ("h",))},
                "the pair (h, c)" if with_c else "a tensor h of shape (batch, hidden)",
            )
        )
    return cases


def _step_hint(gates: str, state: str) -> str:
    keys = ", ".join(f"{kind}_{g}" for kind in "WUb" for g in gates)
    return (
        f"Shapes: x (batch, input), {state} (batch, hidden), W_* (hidden, hidden), "
        f"U_* (hidden, input), b_* (hidden,); each row of x is one example. p's keys: {keys}."
    )


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z


#: (batch, input, hidden) of the step exercises' cases: batch 1 and hidden 1 included.
_STEP_SHAPES = [(1, 1, 1), (1, 3, 4), (2, 5, 3), (3, 2, 7), (5, 4, 2), (4, 6, 6)]


# --- LSTM step ------------------------------------------------------------------------------
def _lstm_step(x, h_prev, c_prev, p):
    """The reference: one step of the lecture's LSTM."""
    # f = sigmoid(W_f h_prev + U_f x + b_f), and i, o likewise
    f, i, o = (torch.sigmoid(_affine(p, gate, x, h_prev)) for gate in "fio")
    # c~ = tanh(W_c h_prev + U_c x + b_c)
    c_tilde = torch.tanh(_affine(p, "c", x, h_prev))
    # c = f * c_prev + i * c~
    c = f * c_prev + i * c_tilde
    # h = o * tanh(c)
    h = o * torch.tanh(c)
    return h, c


def _wrong_lstm(roles="fio", content=torch.tanh, squash=torch.tanh, memory="c", forget=True):
    """An LSTM step with one mistake: ``roles`` are the gates used as (f, i, o), ``content``
    and ``squash`` the functions of c~ and of c in h, ``memory`` the old state kept in c."""

    def step(x, h_prev, c_prev, p):
        gate = {g: torch.sigmoid(_affine(p, g, x, h_prev)) for g in "fio"}
        f, i, o = (gate[g] for g in roles)
        old = c_prev if memory == "c" else h_prev
        c = (f * old if forget else old) + i * content(_affine(p, "c", x, h_prev))
        return o * squash(c), c

    return step


def _swapped_outputs(step):
    return lambda *args: step(*args)[::-1]


_LSTM_MISTAKES = [
    _Mistake(
        "the forget gate f and the input gate i are swapped: c = f * c_prev + i * c~ (f decides "
        "what stays of the old memory, i how much new content enters).",
        (_wrong_lstm(roles="ifo"),),
    ),
    _Mistake(
        "the output gate o and the input gate i are swapped: i multiplies the new content (c = f "
        "* c_prev + i * c~), o the output (h = o * tanh(c)).",
        (_wrong_lstm(roles="foi"),),
    ),
    _Mistake(
        "the forget gate f and the output gate o are swapped: f multiplies c_prev (c = f * c_prev"
        " + i * c~), o the output (h = o * tanh(c)).",
        (_wrong_lstm(roles="oif"),),
    ),
    _Mistake(
        "h = o * c is missing the tanh on the cell state: h = o * tanh(c).",
        (_wrong_lstm(squash=_identity),),
    ),
    _Mistake(
        "the new content c~ uses a sigmoid; it needs a tanh, c~ = tanh(W_c h_prev + U_c x + b_c),"
        " so that it can be negative.",
        (_wrong_lstm(content=torch.sigmoid),),
    ),
    _Mistake(
        "the forget gate is missing: c = c_prev + i * c~ keeps all of the old memory; the "
        "lecture's cell is c = f * c_prev + i * c~.",
        (_wrong_lstm(forget=False),),
    ),
    _Mistake(
        "your function uses h_prev where c_prev belongs: the old memory in c = f * c_prev + i * "
        "c~ is the cell state c_prev, not the hidden state h_prev.",
        (_wrong_lstm(memory="h"),),
    ),
    _Mistake(
        "your function returns (c, h); return the pair in the order (h, c).",
        (_swapped_outputs(_lstm_step),),
    ),
]


def check_lstm_step(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    r"""Check ``fn(x, h_prev, c_prev, p) -> (h, c)``, one step of the lecture's LSTM.

    ``x`` is ``(batch, input)``, ``h_prev`` and ``c_prev`` are ``(batch, hidden)``, ``p`` is a
    dict with ``W_f, W_i, W_o, W_c`` ``(hidden, hidden)``, ``U_f, U_i, U_o, U_c``
    ``(hidden, input)`` and ``b_f, b_i, b_o, b_c`` ``(hidden,)``:

    .. math::
        f &= \sigma(W_f h_{prev} + U_f x + b_f), \quad i, o \text{ likewise} \\
        \tilde c &= \tanh(W_c h_{prev} + U_c x + b_c) \\
        c &= f \circ c_{prev} + i \circ \tilde c, \qquad h = o \circ \tanh c

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _step_cases(0, _STEP_SHAPES, "fioc", with_c=True)
    _run(
        "check_lstm_step",
        fn,
        cases,
        _lstm_step,
        _LSTM_MISTAKES,
        hint=_step_hint("fioc", "h_prev, c_prev"),
    )
    print(_step_summary("check_lstm_step", cases))


def _step_summary(name: str, cases: list[_Case]) -> str:
    batches = [case.args["x"].shape[0] for case in cases]
    hiddens = [case.args["h_prev"].shape[1] for case in cases]
    return (
        f"{name}: correct on {len(cases)} random cases "
        f"(batch {_span(batches)}, hidden {_span(hiddens)})."
    )


# --- GRU step (the lecture's: reset before the matmul) --------------------------------------
def _gru_step(x, h_prev, p):
    """The reference: one step of the lecture's GRU."""
    # u = sigmoid(W_u h_prev + U_u x + b_u), r likewise
    u, r = (torch.sigmoid(_affine(p, gate, x, h_prev)) for gate in "ur")
    # h~ = tanh(W_h (r * h_prev) + U_h x + b_h)
    h_tilde = torch.tanh((r * h_prev) @ p["W_h"].T + x @ p["U_h"].T + p["b_h"])
    # h = (1 - u) * h_prev + u * h~
    return (1 - u) * h_prev + u * h_tilde


def _wrong_gru(roles="ur", reset="before", squash=torch.tanh, keep_when_u_is=0):
    """A GRU step with one mistake: ``roles`` are the gates used as (u, r), ``reset`` where r
    enters h~, ``squash`` the function of h~, ``keep_when_u_is`` the u that keeps h_prev."""

    def step(x, h_prev, p):
        gate = {g: torch.sigmoid(_affine(p, g, x, h_prev)) for g in "ur"}
        u, r = (gate[g] for g in roles)
        W_h, U_h, b_h = p["W_h"], p["U_h"], p["b_h"]
        recurrent = {
            "before": (r * h_prev) @ W_h.T + b_h,
            "after": r * (h_prev @ W_h.T) + b_h,
            "after, bias inside": r * (h_prev @ W_h.T + b_h),
            "missing": h_prev @ W_h.T + b_h,
        }[reset]
        h_tilde = squash(recurrent + x @ U_h.T)
        if keep_when_u_is == 1:
            return u * h_prev + (1 - u) * h_tilde
        return (1 - u) * h_prev + u * h_tilde

    return step


_GRU_MISTAKES = [
    _Mistake(
        "the update convention is swapped: h = u * h_prev + (1 - u) * h~ keeps the old state when"
        " u = 1; the lecture's GRU is h = (1 - u) * h_prev + u * h~ (u = 0 keeps it).",
        (_wrong_gru(keep_when_u_is=1),),
    ),
    _Mistake(
        "the reset gate multiplies W_h h_prev after the matmul (torch.nn.GRU's and "
        "rnnlib.GRUCell's form); the lecture's GRU resets before it: h~ = tanh(W_h (r * h_prev) +"
        " U_h x + b_h).",
        (_wrong_gru(reset="after"), _wrong_gru(reset="after, bias inside")),
    ),
    _Mistake(
        "the reset gate is missing: h~ uses W_h h_prev; the lecture's GRU uses h~ = tanh(W_h (r *"
        " h_prev) + U_h x + b_h).",
        (_wrong_gru(reset="missing"),),
    ),
    _Mistake(
        "the update gate u and the reset gate r are swapped: r = sigmoid(W_r h_prev + U_r x + "
        "b_r) multiplies h_prev inside h~, u blends h_prev and h~.",
        (_wrong_gru(roles="ru"),),
    ),
    _Mistake(
        "h~ is missing its tanh: h~ = tanh(W_h (r * h_prev) + U_h x + b_h).",
        (_wrong_gru(squash=_identity),),
    ),
    _Mistake(
        "h~ uses a sigmoid; it needs a tanh, h~ = tanh(W_h (r * h_prev) + U_h x + b_h), so that "
        "it can be negative.",
        (_wrong_gru(squash=torch.sigmoid),),
    ),
]


def check_gru_step(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, h_prev, p) -> h``, one step of the lecture's GRU.

    ``x`` is ``(batch, input)``, ``h_prev`` is ``(batch, hidden)``, ``p`` is a dict with
    ``W_u, W_r, W_h`` ``(hidden, hidden)``, ``U_u, U_r, U_h`` ``(hidden, input)`` and
    ``b_u, b_r, b_h`` ``(hidden,)``. The reset gate acts *before* the matmul (Cho et al.),
    unlike :class:`rnnlib.GRUCell` (torch's form, after it):

    .. math::
        u &= \sigma(W_u h_{prev} + U_u x + b_u), \quad
        r = \sigma(W_r h_{prev} + U_r x + b_r) \\
        \tilde h &= \tanh(W_h (r \circ h_{prev}) + U_h x + b_h), \qquad
        h = (1 - u) \circ h_{prev} + u \circ \tilde h

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _step_cases(1, _STEP_SHAPES, "urh", with_c=False)
    _run("check_gru_step", fn, cases, _gru_step, _GRU_MISTAKES, hint=_step_hint("urh", "h_prev"))
    print(_step_summary("check_gru_step", cases))


# --- clipping by norm -----------------------------------------------------------------------
def _clip_reference(grads, threshold):
    """The reference: clip the list ``grads`` by its global L2 norm."""
    # ||g|| = sqrt(sum_k ||g_k||^2): all tensors viewed as one vector
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    if norm <= threshold:
        return [g.clone() for g in grads]
    # g <- threshold / ||g|| * g
    return [g * (threshold / norm) for g in grads]


def _l2(grads):
    return torch.sqrt(sum((g**2).sum() for g in grads))


def _l1(grads):
    return sum(g.abs().sum() for g in grads)


def _sum_of_norms(grads):
    return sum(torch.sqrt((g**2).sum()) for g in grads)


def _squared(grads):
    return sum((g**2).sum() for g in grads)


def _wrong_clip(norm_of=_l2, per_tensor=False, always=False, to_one=False, inverse=False):
    """Clipping with one mistake: the norm used, its scope, when and by what it scales."""

    def clip(grads, threshold):
        clipped = []
        for group in [[g] for g in grads] if per_tensor else [list(grads)]:
            norm = norm_of(group)
            factor = norm / threshold if inverse else (1 / norm if to_one else threshold / norm)
            scale = always or norm > threshold
            clipped += [g * factor if scale else g.clone() for g in group]
        return clipped

    return clip


_CLIP_MISTAKES = [
    _Mistake(
        "your function clips each tensor by its own norm; clipping by norm uses the global norm "
        "of all tensors together, ||g|| = sqrt(sum over tensors of ||g_k||^2), and scales every "
        "tensor by the same factor.",
        (_wrong_clip(per_tensor=True),),
    ),
    _Mistake(
        "your function scales the gradients even when their norm is below the threshold; below it"
        " they must come back unchanged.",
        (_wrong_clip(always=True),),
    ),
    _Mistake(
        "your function scales the gradients to norm 1 (g / ||g||); they should end with norm "
        "threshold: g * threshold / ||g||.",
        (_wrong_clip(to_one=True),),
    ),
    _Mistake(
        "the factor is inverted: multiply by threshold / ||g||, not ||g|| / threshold (which "
        "makes large gradients larger).",
        (_wrong_clip(inverse=True),),
    ),
    _Mistake(
        "your function uses the L1 norm (the sum of |g|); clipping by norm uses the L2 norm, sqrt"
        " of the sum of g^2 over all entries of all tensors.",
        (_wrong_clip(norm_of=_l1),),
    ),
    _Mistake(
        "your function adds the per-tensor norms; the global norm is sqrt(||g_1||^2 + ||g_2||^2 +"
        " ...), the norm of all tensors viewed as one vector.",
        (_wrong_clip(norm_of=_sum_of_norms),),
    ),
    _Mistake(
        "your function uses the squared norm (the sum of g^2) without its square root.",
        (_wrong_clip(norm_of=_squared),),
    ),
]

#: (shapes of the tensors, their global L2 norm, threshold): below, above and far above,
#: one to four tensors; the last is below the threshold while its L1 norm is above.
_CLIP_CASES = [
    ([(3, 4), (5,), (2, 2, 3)], 0.5, 1.0),
    ([(3, 4), (5,), (2, 2, 3)], 3.0, 1.0),
    ([(4,), (2, 3)], 500.0, 5.0),
    ([(6,)], 2.5, 1.0),
    ([(2, 3)], 0.2, 1.0),
    ([(1,), (3, 3), (2,), (4, 1)], 1000.0, 0.5),
    ([(7,), (2, 5)], 1.6, 2.0),
]


def _clip_cases(seed: int = 2) -> list[_Case]:
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for shapes, norm, threshold in _CLIP_CASES:
        grads = [torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]
        grads = [g * (norm / _l2(grads)) for g in grads]
        relation = "<" if norm < threshold else ">"
        listed = ", ".join(str(s) for s in shapes)
        cases.append(
            _Case(
                {"grads": grads, "threshold": threshold},
                f"{len(shapes)} tensor(s) of shapes {listed}; norm {norm:g} {relation} "
                f"threshold {threshold:g}",
                {f"grads[{m}]": f"(that of the input grads[{m}])" for m in range(len(shapes))},
                f"a list of {len(shapes)} tensor(s), one per input tensor",
                sequence=True,
            )
        )
    return cases


def check_clip_grad_norm(fn: Callable[..., list[torch.Tensor]]) -> None:
    r"""Check ``fn(grads, threshold) -> list of tensors``, clipping by the global L2 norm.

    ``grads`` is a list of tensors of any shapes, ``threshold`` a float. With
    :math:`\lVert g \rVert = \sqrt{\sum_k \lVert g_k \rVert^2}`:

    .. math::
        \text{if } \lVert g \rVert > \text{threshold}: \quad
        g_k \leftarrow \frac{\text{threshold}}{\lVert g \rVert}\, g_k \text{ for every } k

    and otherwise every tensor comes back unchanged. The inputs must not be modified. torch's
    ``max_norm / (norm + 1e-6)`` passes too.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _clip_cases()
    hint = "grads is a list of tensors of different shapes, threshold a float."
    _run("check_clip_grad_norm", fn, cases, _clip_reference, _CLIP_MISTAKES, LOOSE, hint)
    counts = [len(case.args["grads"]) for case in cases]
    print(
        f"check_clip_grad_norm: correct on {len(cases)} random cases ({_span(counts)} tensors; "
        "norms below, above and far above the threshold; inputs left unchanged)."
    )


# --- Jacobian products (chapter 2) ----------------------------------------------------------
def _product_over(jacobians, steps, earliest_left=False):
    """The product of ``jacobians[:, t - 1]`` over ``steps``, each new factor on the left
    (or on the right with ``earliest_left``): (B, H, H)."""
    batch, _, hidden, _ = jacobians.shape
    product = torch.eye(hidden, dtype=jacobians.dtype).expand(batch, hidden, hidden)
    for t in steps:
        J_t = jacobians[:, t - 1]
        product = product @ J_t if earliest_left else J_t @ product
    return product


_JACOBIAN_MISTAKES = [
    _Mistake(
        "your function multiplies in the wrong order, earliest Jacobian on the left (J_{j+1} ... "
        "J_i); the later step multiplies from the left: J_i J_{i-1} ... J_{j+1}.",
        (lambda J, i, j: _product_over(J, range(j + 1, i + 1), earliest_left=True),),
    ),
    _Mistake(
        "off by one: the product includes J_j, one factor too many; it runs over the steps t = "
        "j+1 .. i, and the Jacobian of step t is jacobians[:, t - 1].",
        (lambda J, i, j: _product_over(J, range(j, i + 1)),),
    ),
    _Mistake(
        "off by one: the product misses its last factor J_i; it runs over the steps t = j+1 .. i,"
        " both ends included.",
        (lambda J, i, j: _product_over(J, range(j + 1, i)),),
    ),
    _Mistake(
        "off by one: the product misses its first factor J_{j+1}; it runs over the steps t = j+1 "
        ".. i, both ends included.",
        (lambda J, i, j: _product_over(J, range(j + 2, i + 1)),),
    ),
    _Mistake(
        "your function returns the transpose, J_{j+1}^T ... J_i^T, the matrix that carries a "
        "gradient backwards; the Jacobian dh_i/dh_j has a row per component of h_i: J_i ... "
        "J_{j+1}.",
        (lambda J, i, j: _product_over(J, range(j + 1, i + 1)).mT,),
    ),
    _Mistake(
        "your function is wrong only where i == j: the product then has no factors and is the "
        "identity, one (hidden, hidden) identity per example, shape (batch, hidden, hidden).",
        only_where=lambda case: case.args["i"] == case.args["j"],
    ),
]

#: (batch, T, hidden, i, j): i == j twice (once at 0), j = 0, i = T, T = 1 and hidden 1.
_JACOBIAN_CASES = [
    (1, 1, 1, 1, 0),
    (2, 4, 3, 3, 1),
    (1, 5, 2, 5, 0),
    (3, 3, 4, 2, 2),
    (2, 6, 5, 6, 3),
    (4, 2, 3, 0, 0),
    (2, 5, 3, 4, 2),
]


def _jacobian_cases(seed: int = 3) -> list[_Case]:
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for batch, steps, hidden, i, j in _JACOBIAN_CASES:
        size = (batch, steps, hidden, hidden)
        jacobians = torch.randn(size, generator=generator, dtype=torch.float64) / hidden**0.5
        cases.append(
            _Case(
                {"jacobians": jacobians, "i": i, "j": j},
                f"batch {batch}, T {steps}, hidden {hidden}, i={i}, j={j}",
                {"the product": "= (batch, hidden, hidden)"},
                "a tensor of shape (batch, hidden, hidden)",
            )
        )
    return cases


def check_jacobian_product(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(jacobians, i, j) -> (batch, hidden, hidden)``, the product of step Jacobians

    .. math:: \frac{\partial h^{(i)}}{\partial h^{(j)}} = J_i J_{i-1} \cdots J_{j+1}
        \quad (\text{the identity when } i = j),

    with ``jacobians`` of shape ``(batch, T, hidden, hidden)``, ``jacobians[:, t - 1]`` the
    Jacobian :math:`J_t` of step ``t``, and ``0 <= j <= i <= T`` (see
    :func:`rnnlib.gradients.jacobian_product`, the reference).

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _jacobian_cases()
    hint = (
        "jacobians is (batch, T, hidden, hidden) and jacobians[:, t - 1] is the Jacobian of "
        "step t, t = 1..T."
    )
    _run("check_jacobian_product", fn, cases, jacobian_product, _JACOBIAN_MISTAKES, hint=hint)
    sizes = list(zip(*_JACOBIAN_CASES, strict=True))
    print(
        f"check_jacobian_product: correct on {len(cases)} random cases (batch {_span(sizes[0])},"
        f" T {_span(sizes[1])}, hidden {_span(sizes[2])}, i == j included)."
    )


# --- backpropagation through time by hand (chapter 1) ---------------------------------------
def _bptt(W_h, states, grad_last, sigma_prime=lambda h: 1 - h**2, transpose=False, shift=0):
    """``[dJ/dh^(1), ..., dJ/dh^(T)]`` from ``dJ/dh^(T)``: each step back multiplies the row
    gradient by diag(sigma') W_h, with tanh'(z^(t)) = 1 - (h^(t))^2 (or a wrong variant)."""
    W = W_h.T if transpose else W_h
    grads = [grad_last]
    for t in range(len(states) - 1, 0, -1):  # states[t] is h^(t + 1)
        grads.append((grads[-1] * sigma_prime(states[max(t - shift, 0)])) @ W)
    return grads[::-1]


_BPTT_MISTAKES = [
    _Mistake(
        "your gradients are those of a linear RNN: each step back must also multiply by "
        "tanh'(z^(t)) = 1 - (h^(t))^2, elementwise, before the product with W_h.",
        (lambda W, s, g: _bptt(W, s, g, sigma_prime=lambda h: torch.ones_like(h)),),
    ),
    _Mistake(
        "your function multiplies by W_h^T where the row-vector chain rule has W_h: "
        "dJ/dh^(t-1) = (dJ/dh^(t) * tanh'(z^(t))) @ W_h.",
        (lambda W, s, g: _bptt(W, s, g, transpose=True),),
    ),
    _Mistake(
        "your function takes tanh' from the wrong step: going from h^(t) back to h^(t-1) uses "
        "the derivative at step t, 1 - (h^(t))^2, not at step t - 1.",
        (lambda W, s, g: _bptt(W, s, g, shift=1),),
    ),
    _Mistake(
        "tanh' is 1 - h^2, not 1 - h: square the state.",
        (lambda W, s, g: _bptt(W, s, g, sigma_prime=lambda h: 1 - h),),
    ),
    _Mistake(
        "your list runs backwards in time: return [dJ/dh^(1), ..., dJ/dh^(T)], the last "
        "entry being grad_last itself.",
        (lambda W, s, g: _bptt(W, s, g)[::-1],),
    ),
]

#: (batch, hidden, T): T = 1 and hidden 1 included.
_BPTT_CASES = [(1, 1, 1), (1, 3, 4), (2, 5, 3), (3, 2, 6), (4, 6, 5)]


def _bptt_cases(seed: int = 5) -> list[_Case]:
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for batch, hidden, steps in _BPTT_CASES:
        W_h = 0.9 * torch.randn(hidden, hidden, generator=generator, dtype=torch.float64)
        W_h /= hidden**0.5
        h, states = torch.zeros(batch, hidden, dtype=torch.float64), []
        for _ in range(steps):  # a real tanh trajectory: h^(t) = tanh(W_h h^(t-1) + input)
            drive = torch.randn(batch, hidden, generator=generator, dtype=torch.float64)
            h = torch.tanh(h @ W_h.T + drive)
            states.append(h)
        grad_last = torch.randn(batch, hidden, generator=generator, dtype=torch.float64)
        cases.append(
            _Case(
                {"W_h": W_h, "states": states, "grad_last": grad_last},
                f"batch {batch}, hidden {hidden}, T {steps}",
                {f"dJ/dh^({t + 1})": "(batch, hidden)" for t in range(steps)},
                f"a list of {steps} tensors of shape (batch, hidden), one per step",
                sequence=True,
            )
        )
    return cases


def check_chain_rule_gradients(fn: Callable[..., list[torch.Tensor]]) -> None:
    r"""Check ``fn(W_h, states, grad_last) -> [dJ/dh^(1), ..., dJ/dh^(T)]`` for a tanh RNN,
    backpropagation through time written as the lecture's chain rule:

    .. math:: \frac{\partial J}{\partial h^{(t-1)}}
        = \frac{\partial J}{\partial h^{(t)}}\,
          \operatorname{diag}\big(1 - (h^{(t)})^2\big)\, W_h ,

    with row-vector gradients of shape ``(batch, hidden)``, ``states`` the list
    :math:`[h^{(1)}, \dots, h^{(T)}]` of a trajectory of
    :math:`h^{(t)} = \tanh(W_h h^{(t-1)} + W_x x^{(t)} + b)`, and ``grad_last``
    :math:`= \partial J / \partial h^{(T)}`.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _bptt_cases()
    hint = "states is a list of T tensors (batch, hidden); W_h is (hidden, hidden)."
    _run("check_chain_rule_gradients", fn, cases, _bptt, _BPTT_MISTAKES, hint=hint)
    sizes = list(zip(*_BPTT_CASES, strict=True))
    print(
        f"check_chain_rule_gradients: correct on {len(cases)} random tanh trajectories "
        f"(batch {_span(sizes[0])}, hidden {_span(sizes[1])}, T {_span(sizes[2])})."
    )


# --- scaling to a spectral radius (chapter 3) -----------------------------------------------
def _scaled_by(measure, inverse=False):
    """``W * radius / measure(W)`` (or its inverse factor): a scaling with a wrong measure."""

    def scale(W, radius):
        current = measure(W)
        return W * (current / radius if inverse else radius / current)

    return scale


def _eigenvalue_modulus(W):
    return torch.linalg.eigvals(W).abs().max()


_SPECTRAL_MISTAKES = [
    _Mistake(
        "your function scales by the largest singular value ||W||_2 instead of the eigenvalue "
        "modulus: the spectral radius is rho(W) = max |lambda(W)| over the eigenvalues, which is "
        "at most ||W||_2 and smaller for a non-normal W.",
        (_scaled_by(lambda W: torch.linalg.svdvals(W)[0]),),
    ),
    _Mistake(
        "your function scales by the Frobenius norm of W instead of its spectral radius rho(W) = "
        "max |lambda(W)| over the eigenvalues.",
        (_scaled_by(torch.linalg.matrix_norm),),
    ),
    _Mistake(
        "your function uses the largest real part of the eigenvalues instead of their largest "
        "modulus: eigenvalues of a real matrix can be negative or complex; rho(W) = max "
        "|lambda(W)|.",
        (_scaled_by(lambda W: torch.linalg.eigvals(W).real.max()),),
    ),
    _Mistake(
        "the factor is inverted: multiply W by radius / rho(W), not rho(W) / radius.",
        (_scaled_by(_eigenvalue_modulus, inverse=True),),
    ),
    _Mistake(
        "your function multiplies W by radius without dividing by its current spectral radius "
        "rho(W).",
        (_scaled_by(lambda W: 1.0),),
    ),
]

#: (size, radius): size 1 included, radii below, at and above 1.
_SPECTRAL_CASES = [(1, 0.5), (2, 0.9), (3, 1.0), (4, 1.5), (5, 0.95), (7, 3.0)]


def _spectral_cases(seed: int = 4) -> list[_Case]:
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for size, radius in _SPECTRAL_CASES:
        W = torch.randn(size, size, generator=generator, dtype=torch.float64) / size**0.5
        cases.append(
            _Case(
                {"W": W, "radius": radius},
                f"W of shape ({size}, {size}), radius {radius:g}",
                {"W'": "= (hidden, hidden), that of W"},
                "a tensor W' of the shape of W",
            )
        )
    return cases


def check_scale_to_spectral_radius(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(W, radius) -> W'``: a copy of the square ``W`` with spectral radius ``radius``
    and the same eigenvectors,

    .. math:: W' = W \cdot \frac{\text{radius}}{\rho(W)}, \qquad
        \rho(W) = \max_m \lvert \lambda_m(W) \rvert

    (see :func:`rnnlib.gradients.scale_to_spectral_radius`, the reference). ``W`` must not be
    modified.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _spectral_cases()
    hint = "W is a square (hidden, hidden) float64 tensor, radius a float."
    reference = scale_to_spectral_radius
    _run("check_scale_to_spectral_radius", fn, cases, reference, _SPECTRAL_MISTAKES, hint=hint)
    sizes, radii = zip(*_SPECTRAL_CASES, strict=True)
    print(
        f"check_scale_to_spectral_radius: correct on {len(cases)} random matrices "
        f"(size {_span(sizes)}, radius {_span(radii)})."
    )


# --- a highway layer (chapter 7) ------------------------------------------------------------
def _highway(squash=torch.tanh, gate=torch.sigmoid, swapped=False):
    """A highway layer, or one with a mistake: H's nonlinearity, T's squashing, carry and
    transform swapped."""

    def block(x, W_H, b_H, W_T, b_T):
        # H = tanh(W_H x + b_H), T = sigmoid(W_T x + b_T)
        H = squash(x @ W_H.T + b_H)
        T = gate(x @ W_T.T + b_T)
        # y = T * H + (1 - T) * x
        return (1 - T) * H + T * x if swapped else T * H + (1 - T) * x

    return block


_HIGHWAY_MISTAKES = [
    _Mistake(
        "carry and transform are swapped: T multiplies the new content H and the carry gate "
        "1 - T the input x, y = T * H + (1 - T) * x.",
        (_highway(swapped=True),),
    ),
    _Mistake(
        "the transform gate has no sigmoid: T = sigmoid(W_T x + b_T), a number between 0 and 1.",
        (_highway(gate=_identity), _highway(gate=_identity, squash=_identity)),
    ),
    _Mistake(
        "H has no nonlinearity: H = tanh(W_H x + b_H), not W_H x + b_H.",
        (_highway(squash=_identity),),
    ),
    _Mistake(
        "H uses relu; in this exercise H = tanh(W_H x + b_H).",
        (_highway(squash=torch.relu),),
    ),
]

#: (batch, width): batch 1 and width 1 included.
_HIGHWAY_SHAPES = [(1, 1), (1, 4), (2, 3), (3, 5), (5, 2), (4, 7)]


def _highway_cases(seed: int = 7) -> list[_Case]:
    generator = torch.Generator().manual_seed(seed)

    def randn(*size):
        return torch.randn(*size, generator=generator, dtype=torch.float64)

    cases = []
    for batch, width in _HIGHWAY_SHAPES:
        scale = 1 / math.sqrt(width)
        args = {
            "x": randn(batch, width),
            "W_H": scale * randn(width, width),
            "b_H": randn(width),
            "W_T": scale * randn(width, width),
            "b_T": randn(width) - 1,
        }
        cases.append(
            _Case(
                args,
                f"batch {batch}, width {width}",
                {"y": "= (batch, width)"},
                "a tensor y of shape (batch, width)",
            )
        )
    return cases


def check_highway_block(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, W_H, b_H, W_T, b_T) -> y``, one highway layer (Srivastava et al. 2015)
    with a tanh transform, the equations of :class:`rnnlib.deep.HighwayBlock`:

    .. math::
        H = \tanh(W_H x + b_H), \quad T = \sigma(W_T x + b_T), \quad
        y = T \circ H + (1 - T) \circ x

    ``x`` is ``(batch, width)``, ``W_H`` and ``W_T`` are ``(width, width)``, ``b_H`` and ``b_T``
    are ``(width,)``; each row of ``x`` is one example.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _highway_cases()
    hint = "Shapes: x (batch, width), W_H and W_T (width, width), b_H and b_T (width,)."
    _run("check_highway_block", fn, cases, _highway(), _HIGHWAY_MISTAKES, hint=hint)
    batches, widths = zip(*_HIGHWAY_SHAPES, strict=True)
    print(
        f"check_highway_block: correct on {len(cases)} random layers "
        f"(batch {_span(batches)}, width {_span(widths)})."
    )


# --- a bidirectional pass (chapter 8) -------------------------------------------------------
def _one_direction(cell, x, reverse=False, back_in_order=True):
    """The hidden states of ``cell`` run over ``x`` ``(B, T, I)``, read forwards or (``reverse``)
    from t = T down to 1; returned ``(B, T, H)`` in time order unless ``back_in_order`` is
    False (then in reading order)."""
    inputs = x.unbind(1)  # T tensors (B, I)
    h, states = None, []
    for x_t in reversed(inputs) if reverse else inputs:
        h = cell(x_t, h)
        states.append(h)
    if reverse and back_in_order:
        states = states[::-1]
    return torch.stack(states, dim=1)  # (B, T, H)


def _bidirectional(reverse_back=True, same="", swapped=False, backward_reversed=True):
    """The bidirectional pass, or one with a mistake: the backward states left in reading order,
    one cell for both directions (``same`` = "forward" or "backward"), the halves swapped, or
    the backward cell reading forwards."""

    def states(x, forward_cell, backward_cell):
        if same == "forward":
            backward_cell = forward_cell
        elif same == "backward":
            forward_cell = backward_cell
        # h_fwd^(t) = cell_fwd(x^(t), h_fwd^(t-1)), t = 1..T
        h_forward = _one_direction(forward_cell, x)
        # h_bwd^(t) = cell_bwd(x^(t), h_bwd^(t+1)), t = T..1
        h_backward = _one_direction(backward_cell, x, backward_reversed, reverse_back)
        # h^(t) = [h_fwd^(t); h_bwd^(t)]
        halves = [h_backward, h_forward] if swapped else [h_forward, h_backward]
        return torch.cat(halves, dim=-1)

    return states


_BIDIRECTIONAL_MISTAKES = [
    _Mistake(
        "the backward states are in reading order (h_bwd^(T) first): after the backward pass, "
        "reverse its states back so that position t holds h_bwd^(t), the state that has read "
        "x^(T), ..., x^(t).",
        (_bidirectional(reverse_back=False), _bidirectional(reverse_back=False, swapped=True)),
    ),
    _Mistake(
        "both directions use the same cell: the backward direction has its own weights, "
        "backward_cell, separate from forward_cell's.",
        (
            _bidirectional(same="forward"),
            _bidirectional(same="backward"),
            _bidirectional(same="forward", reverse_back=False),
        ),
    ),
    _Mistake(
        "the halves are concatenated in the wrong order: h^(t) = [h_fwd^(t); h_bwd^(t)], the "
        "forward state first (as torch.nn does).",
        (_bidirectional(swapped=True),),
    ),
    _Mistake(
        "the backward cell reads the sequence forwards: it must start at the last step, x^(T), "
        "and end at the first.",
        (
            _bidirectional(backward_reversed=False),
            _bidirectional(backward_reversed=False, swapped=True),
        ),
    ),
]

#: (batch, time, input, hidden): batch 1, time 1 and hidden 1 included.
_BIDIRECTIONAL_SHAPES = [(1, 1, 2, 3), (1, 4, 1, 1), (2, 3, 3, 2), (3, 5, 2, 4), (4, 6, 3, 3)]


def _bidirectional_cases(seed: int = 8) -> list[_Case]:
    from .cells import RNNCell

    generator = torch.Generator().manual_seed(seed)
    cases = []
    for batch, time, input_size, hidden in _BIDIRECTIONAL_SHAPES:
        cells = []
        for _ in range(2):
            cell = RNNCell(input_size, hidden).double()
            with torch.no_grad():
                for parameter in cell.parameters():
                    parameter.copy_(
                        torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
                    )
            cells.append(cell.requires_grad_(False))
        args = {
            "x": torch.randn(batch, time, input_size, generator=generator, dtype=torch.float64),
            "forward_cell": cells[0],
            "backward_cell": cells[1],
        }
        cases.append(
            _Case(
                args,
                f"batch {batch}, time {time}, input {input_size}, hidden {hidden}",
                {"h": "= (batch, time, 2 * hidden)"},
                "a tensor h of shape (batch, time, 2 * hidden)",
            )
        )
    return cases


def check_bidirectional_states(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, forward_cell, backward_cell) -> h``, the hidden states of a bidirectional
    RNN built from two cells (:class:`rnnlib.layers.Bidirectional`), starting from zero states:

    .. math::
        \overrightarrow{h}^{(t)} = \text{cell}_{\rightarrow}(x^{(t)}, \overrightarrow{h}^{(t-1)}),
        \quad
        \overleftarrow{h}^{(t)} = \text{cell}_{\leftarrow}(x^{(t)}, \overleftarrow{h}^{(t+1)}),
        \quad
        h^{(t)} = [\overrightarrow{h}^{(t)}; \overleftarrow{h}^{(t)}]

    ``x`` is ``(batch, time, input)``; the cells are float64 :class:`rnnlib.cells.RNNCell`\ s
    (call ``cell(x_t, h)`` with ``x_t`` of shape ``(batch, input)``; ``h=None`` is the zero
    state); ``h`` is ``(batch, time, 2 * hidden)``, the forward half first.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _bidirectional_cases()
    hint = (
        "Shapes: x (batch, time, input); forward_cell(x_t, h) and backward_cell(x_t, h) take "
        "x_t (batch, input) and h (batch, hidden) or None, and return the next h."
    )
    _run(
        "check_bidirectional_states",
        fn,
        cases,
        _bidirectional(),
        _BIDIRECTIONAL_MISTAKES,
        hint=hint,
    )
    times = [shape[1] for shape in _BIDIRECTIONAL_SHAPES]
    hiddens = [shape[3] for shape in _BIDIRECTIONAL_SHAPES]
    print(
        f"check_bidirectional_states: correct on {len(cases)} random bidirectional RNNs "
        f"(time {_span(times)}, hidden {_span(hiddens)})."
    )


# --- how far back the gradient reaches (chapter 10) -----------------------------------------
def _reach_first_below(norms, threshold):
    """Off by one: the first distance whose ratio is below the threshold."""
    below = (norms / norms[0] < threshold).nonzero()
    return int(below[0]) if len(below) else len(norms)


def _reach_last_above(norms, threshold):
    """The last distance above the threshold anywhere, even after the curve fell below it."""
    return int((norms / norms[0] >= threshold).nonzero()[-1])


def _reach_unnormalised(norms, threshold):
    """The raw norms compared with the threshold, not their ratio to distance 0."""
    above = (norms[1:] >= threshold).long().cumprod(0)
    return int(above.sum())


def _reach_strict(norms, threshold):
    """``>`` where the definition says ``>=``."""
    above = (norms / norms[0] > threshold).long().cumprod(0)
    return int(above.sum()) - 1


def _reach_count(norms, threshold):
    """How many distances are above the threshold, wherever they are."""
    return int((norms / norms[0] >= threshold).sum()) - 1


_REACH_MISTAKES = [
    (
        "your function returns the first distance whose ratio is below the threshold; the reach "
        "is the last distance before it (one less).",
        _reach_first_below,
    ),
    (
        "your function compares the raw norms with the threshold; compare the ratio "
        "norms[k] / norms[0] (the gradient relative to where the loss is).",
        _reach_unnormalised,
    ),
    (
        "your function returns the last distance above the threshold anywhere; the curve must "
        "stay above it at every distance up to the reach (a later rise does not count).",
        _reach_last_above,
    ),
    (
        "your function counts every distance above the threshold, even after the curve fell "
        "below it; stop at the first one below.",
        _reach_count,
    ),
    (
        "your function uses > where the definition says >=: a ratio exactly at the threshold "
        "still counts.",
        _reach_strict,
    ),
]


def _reach_cases() -> list[tuple[torch.Tensor, float, str]]:
    """(norms, threshold, description): decays, rises after falling, exact ties, no decay."""
    halving = 3.0 * 0.5 ** torch.arange(12, dtype=torch.float64)
    generator = torch.Generator().manual_seed(11)
    noisy = 1e-2 * torch.exp(
        -0.3 * torch.arange(30, dtype=torch.float64)
        + 0.5 * torch.randn(30, generator=generator, dtype=torch.float64)
    )
    return [
        (halving, 0.01, "a gradient that halves at every step, from 3.0"),
        (halving, 0.125, "the same, with a ratio exactly at the threshold at k = 3"),
        (
            torch.tensor([2.0, 1.5, 0.01, 0.002, 1.0, 1.8], dtype=torch.float64),
            0.1,
            "a curve that falls below the threshold and rises again",
        ),
        (noisy, 1e-3, "a noisy exponential decay from 0.01"),
        (torch.full((5,), 0.5, dtype=torch.float64), 0.9, "no decay at all"),
        (torch.tensor([4.0], dtype=torch.float64), 0.5, "one distance only"),
        (torch.tensor([1.0, 1e-9, 1.0], dtype=torch.float64), 1e-6, "a fall at the first step"),
    ]


def check_gradient_reach(fn: Callable[[torch.Tensor, float], int]) -> None:
    r"""Check ``fn(norms, threshold) -> int``, how far back a gradient reaches: the largest
    :math:`K` with

    .. math:: \frac{\text{norms}[k]}{\text{norms}[0]} \ge \text{threshold}
        \quad\text{for every } k = 0, \dots, K,

    where ``norms[k]`` is :math:`\|\partial J^{(t)} / \partial h^{(t-k)}\|` (a 1-D float64
    tensor; see :func:`rnnlib.gradients.gradient_reach`, the reference). ``norms`` must not be
    modified; a Python ``int`` or a 0-dimensional integer tensor may be returned.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    name = "check_gradient_reach"
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    cases = _reach_cases()
    answers = []
    for k, (norms, threshold, description) in enumerate(cases):
        where = f"case {k + 1} of {len(cases)} ({description}, threshold {threshold:g})"
        passed = {"norms": norms.clone(), "threshold": threshold}
        result = _call(name, fn, passed, where, "norms is a 1-D float64 tensor.")
        _check_unchanged(name, {"norms": norms}, {"norms": passed["norms"]}, where)
        if (
            isinstance(result, torch.Tensor)
            and result.dim() == 0
            and not result.is_floating_point()
        ):
            result = int(result)
        if isinstance(result, bool) or not isinstance(result, int):
            missing = " (a missing `return`?)" if result is None else ""
            raise AssertionError(
                f"{name}: your function returned {_kind(result)}{missing} on {where}; it must "
                "return an int, the largest distance K."
            )
        answers.append(result)
    expected = [gradient_reach(norms, threshold) for norms, threshold, _ in cases]
    if answers == expected:
        print(
            f"{name}: correct on {len(cases)} gradient curves (lengths "
            f"{_span([len(norms) for norms, _, _ in cases])}, a rise after a fall and exact ties "
            "included)."
        )
        return
    for message, variant in _REACH_MISTAKES:
        if answers == [variant(norms.clone(), threshold) for norms, threshold, _ in cases]:
            raise AssertionError(f"{name}: {message}")
    k = next(k for k, (a, b) in enumerate(zip(answers, expected, strict=True)) if a != b)
    norms, threshold, description = cases[k]
    raise AssertionError(
        f"{name}: wrong reach on case {k + 1} of {len(cases)} ({description}, threshold "
        f"{threshold:g}): got {answers[k]}, expected {expected[k]}."
    )


# --- a residual stack of RNN layers (chapter 9) ---------------------------------------------
def _stack(residual=True, inside=False, before_tanh=False, returns="top"):
    """A stack of tanh RNN layers with residual connections from the second layer up, or one
    with a mistake: no residual connections, the residual fed back into the recurrence, added
    before the tanh, or the bottom layer's output returned."""

    def stack(x, layers):
        outputs = []
        for k, p in enumerate(layers):
            skip = residual and k > 0
            h = x.new_zeros(x.shape[0], p["W_h"].shape[0])  # (B, H)
            steps = []
            for x_t in x.unbind(1):  # T tensors (B, features)
                # h_t = tanh(W_x x_t + W_h h_{t-1} + b)
                pre = x_t @ p["W_x"].T + h @ p["W_h"].T + p["b"]
                h = torch.tanh(pre + x_t if skip and before_tanh else pre)
                if skip and inside:
                    h = h + x_t  # the mistake: the sum becomes the recurrent state
                steps.append(h)
            h_all = torch.stack(steps, dim=1)  # (B, T, H)
            # x_{l+1} = h_l + x_l above the first layer
            x = h_all + x if skip and not (inside or before_tanh) else h_all
            outputs.append(x)
        return outputs[0] if returns == "bottom" else x

    return stack


_STACK_MISTAKES = [
    _Mistake(
        "no residual connections: this is the plain stack, x_(l+1) = h_l. Above the first "
        "layer, add each layer's input to its output: x_(l+1) = h_l + x_l.",
        (_stack(residual=False),),
    ),
    _Mistake(
        "the residual is fed back into the recurrence: the sum h_l + x_l is what the next "
        "layer reads, but the layer's own recurrent state h^(t-1) is its tanh output alone.",
        (_stack(inside=True),),
    ),
    _Mistake(
        "the input is added before the tanh, tanh(W_x x + W_h h + b + x); the residual adds "
        "it after: x_(l+1) = tanh(...) + x_l.",
        (_stack(before_tanh=True),),
    ),
    _Mistake(
        "returns the first layer's outputs; return the top of the stack, x_(L+1).",
        (_stack(returns="bottom"), _stack(residual=False, returns="bottom")),
    ),
]

#: (batch, time, input, hidden, layers): batch 1, time 1 and one layer included.
_STACK_SHAPES = [
    (1, 1, 2, 3, 2),
    (2, 4, 3, 5, 3),
    (3, 5, 1, 4, 1),
    (1, 6, 4, 2, 4),
    (4, 3, 5, 6, 2),
]


def _stack_cases(seed: int = 9) -> list[_Case]:
    generator = torch.Generator().manual_seed(seed)

    def randn(*size):
        return torch.randn(*size, generator=generator, dtype=torch.float64)

    cases = []
    for batch, time, input_size, hidden, depth in _STACK_SHAPES:
        layers = []
        for k in range(depth):
            features = input_size if k == 0 else hidden
            scale = 1 / math.sqrt(features + hidden)
            layers.append(
                {
                    "W_x": scale * randn(hidden, features),
                    "W_h": scale * randn(hidden, hidden),
                    "b": 0.5 * randn(hidden),
                }
            )
        cases.append(
            _Case(
                {"x": randn(batch, time, input_size), "layers": layers},
                f"batch {batch}, time {time}, input {input_size}, hidden {hidden}, "
                f"{depth} layer{'s' if depth > 1 else ''}",
                {"outputs": "= (batch, time, hidden)"},
                "a tensor of shape (batch, time, hidden)",
            )
        )
    return cases


def check_residual_stack(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check ``fn(x, layers) -> outputs``, a stack of tanh RNN layers with residual
    connections between them (:class:`rnnlib.layers.StackedRNN` with ``skip="residual"``):

    .. math::
        h_l^{(t)} = \tanh\big(W_{x,l}\, x_l^{(t)} + W_{h,l}\, h_l^{(t-1)} + b_l\big),
        \quad h_l^{(0)} = 0, \qquad
        x_{l+1}^{(t)} = \begin{cases} h_1^{(t)} & l = 1 \\
            h_l^{(t)} + x_l^{(t)} & l > 1 \end{cases}

    ``x`` (:math:`x_1`) is ``(batch, time, input)``; ``layers`` is a list of dicts, one per
    layer from the bottom, with ``W_x`` ``(hidden, input)`` for the first layer and
    ``(hidden, hidden)`` above it, ``W_h`` ``(hidden, hidden)`` and ``b`` ``(hidden,)``. The
    first layer changes the size, so it has no residual connection. Return the top of the
    stack, :math:`x_{L+1}`, shape ``(batch, time, hidden)``.

    Prints one line when ``fn`` is right on every case; raises ``AssertionError`` otherwise.
    """
    cases = _stack_cases()
    hint = (
        "Shapes: x (batch, time, input); per layer W_x (hidden, input or hidden), W_h "
        "(hidden, hidden), b (hidden,)."
    )
    _run("check_residual_stack", fn, cases, _stack(), _STACK_MISTAKES, hint=hint)
    batches, times, _, hiddens, depths = zip(*_STACK_SHAPES, strict=True)
    print(
        f"check_residual_stack: correct on {len(cases)} random stacks "
        f"(batch {_span(batches)}, time {_span(times)}, hidden {_span(hiddens)}, "
        f"{_span(depths)} layers)."
    )
