"""The runner every checker shares: run the reader's function, compare, name the mistake.

:func:`run` calls the reader's function and the checker's reference on the same seeded float64
inputs (:class:`Case`), and returns quietly when they agree on every case. Otherwise it raises
``AssertionError`` with, in this order of precedence:

1. "not implemented yet" for the exercise's stub (``raise NotImplementedError``), or the error
   the function raised together with the case's shapes and a hint on the arguments' layout;
2. the input the function changed in place (``grads[1]``, ``p['W_f']``);
3. a wrong return type (``None``, a tuple of the wrong length, a float32 tensor), through the
   checker's ``as_outputs`` hook (:func:`tensor_outputs` unless a checker returns something
   other than float64 tensors);
4. a known mistake (:class:`Mistake`) when the reader's outputs equal, on every case, a usual
   wrong variant computed on the same inputs;
5. otherwise where the outputs first differ: a wrong shape first, then the first wrong value.

The reference's values are never printed.

Not here: the references, cases and mistakes of each exercise (one module per checker in
:mod:`rnnlib.exercises`) and the pieces the LSTM and GRU steps share (``_steps``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

#: (rtol, atol) between the reader's float64 outputs and the reference (or a wrong variant).
TIGHT = (1e-8, 1e-10)
#: Clipping: torch's ``max_norm / (norm + 1e-6)`` is also right, about 1e-6 relative off.
LOOSE = (1e-5, 1e-9)


@dataclass
class Case:
    """One set of inputs, in the order of the reader's arguments, and what should come back."""

    args: dict[str, Any]
    #: the inputs' sizes, for messages: "batch 2, input 3, hidden 5"
    shapes: str
    #: output name -> its layout, e.g. {"h": "= (batch, hidden)"}
    outputs: dict[str, str]
    #: what the function must return, in words
    returns: str
    #: a list of tensors even when there is one
    sequence: bool = False


@dataclass
class Mistake:
    """A usual mistake: named when the reader's outputs equal one of ``variants`` on every
    case, or (``only_where``) when every failing case satisfies a condition."""

    message: str
    variants: tuple[Callable[..., Any], ...] = ()
    only_where: Callable[[Case], bool] | None = None


#: ``as_outputs(name, result, case, where)``: the reader's result as a tuple of tensors.
AsOutputs = Callable[[str, Any, Case, str], tuple[torch.Tensor, ...]]


def normal(seed: int) -> Callable[..., torch.Tensor]:
    """``randn(*size)``: float64 N(0, 1) draws from a generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)

    def randn(*size: int) -> torch.Tensor:
        return torch.randn(*size, generator=generator, dtype=torch.float64)

    return randn


def span(values) -> str:
    """``"1..5"``: the range of ``values`` for a checker's success line."""
    return f"{min(values)}..{max(values)}"


def identity(z: torch.Tensor) -> torch.Tensor:
    """The mistake of a missing nonlinearity."""
    return z


# --- the run ----------------------------------------------------------------------------------
def run(
    name: str,
    fn: Any,
    cases: list[Case],
    reference: Callable[..., Any],
    mistakes: list[Mistake],
    *,
    summary: str,
    tolerance: tuple[float, float] = TIGHT,
    hint: str = "",
    as_outputs: AsOutputs | None = None,
) -> None:
    """Print ``"{name}: correct on {len(cases)} {summary}."`` if ``fn`` is right on every case;
    otherwise raise ``AssertionError`` naming the mistake or the first difference."""
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}")
    as_outputs = as_outputs or tensor_outputs
    where = [f"case {k + 1} of {len(cases)} ({case.shapes})" for k, case in enumerate(cases)]
    passed = [clone(case.args) for case in cases]
    results = [_call(name, fn, args, at, hint) for args, at in zip(passed, where, strict=True)]
    for case, args, at in zip(cases, passed, where, strict=True):
        _check_unchanged(name, case.args, args, at)
    outputs = [as_outputs(name, *row) for row in zip(results, cases, where, strict=True)]
    expected = [_as_tuple(reference(*clone(case.args).values())) for case in cases]
    failing = [k for k in range(len(cases)) if not _all_close(outputs[k], expected[k], tolerance)]
    if not failing:
        print(f"{name}: correct on {len(cases)} {summary}.")
        return
    for mistake in mistakes:
        if _is_mistake(mistake, outputs, cases, failing, tolerance):
            raise AssertionError(f"{name}: {mistake.message}")
    raise AssertionError(f"{name}: {_first_difference(outputs, expected, cases, tolerance)}")


def _call(name: str, fn, args: dict[str, Any], where: str, hint: str):
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


def _check_unchanged(name: str, original: dict[str, Any], passed: dict[str, Any], where: str):
    changed = _changed_input(original, passed)
    if changed is not None:
        raise AssertionError(
            f"{name}: your function modifies its input {changed} in place, on {where}. The "
            "caller still needs the original values: build new tensors (a * b, not a.mul_(b) "
            "or a *= b)."
        )


# --- what the reader returned -----------------------------------------------------------------
def tensor_outputs(name: str, result, case: Case, where: str) -> tuple[torch.Tensor, ...]:
    """The default ``as_outputs``: one float64 tensor per entry of ``case.outputs`` (a tuple or
    list of them when there are several, or when ``case.sequence``)."""
    labels = list(case.outputs)
    if case.sequence or len(labels) > 1:
        ok = isinstance(result, list | tuple) and len(result) == len(labels)
        values = tuple(result) if ok else ()
    else:
        ok, values = isinstance(result, torch.Tensor), (result,)
    if not ok:
        raise wrong_return(name, result, case, where)
    for label, value in zip(labels, values, strict=True):
        if not isinstance(value, torch.Tensor) or value.dtype != torch.float64:
            raise AssertionError(
                f"{name}: {label} is {kind(value)} on {where}; it must be a float64 tensor "
                "like the inputs."
            )
    return values


def wrong_return(name: str, result, case: Case, where: str) -> AssertionError:
    """The error for a result of the wrong kind: what came back and what must."""
    missing = " (a missing `return`?)" if result is None else ""
    return AssertionError(
        f"{name}: your function returned {kind(result)}{missing} on {where}; "
        f"it must return {case.returns}."
    )


def kind(value) -> str:
    """A value's kind, for messages: ``a torch.float32 tensor of shape (2, 3)``."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"a {type(value).__name__}"


def _as_tuple(result) -> tuple[torch.Tensor, ...]:
    """A reference's or a variant's result as a tuple of tensors (a number as a 0-d tensor)."""
    if isinstance(result, torch.Tensor):
        return (result,)
    if isinstance(result, int | float):
        return (torch.tensor(float(result), dtype=torch.float64),)
    return tuple(result)


# --- known mistakes and the first difference --------------------------------------------------
def _is_mistake(mistake: Mistake, outputs, cases, failing, tolerance) -> bool:
    if mistake.only_where is not None:
        return all(mistake.only_where(cases[k]) for k in failing)
    return any(_reproduces(variant, outputs, cases, tolerance) for variant in mistake.variants)


def _reproduces(variant, outputs, cases, tolerance) -> bool:
    """Whether ``variant`` gives the reader's outputs on every case."""
    for got, case in zip(outputs, cases, strict=True):
        try:
            wrong = _as_tuple(variant(*clone(case.args).values()))
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


def _shape_message(label: str, got, want, case: Case, which: str) -> str:
    message = (
        f"{label} has shape {tuple(got.shape)} but should have shape {tuple(want.shape)} "
        f"{case.outputs[label]} on {which} ({case.shapes})."
    )
    if got.dim() == 2 and tuple(got.shape) == tuple(want.shape)[::-1]:
        message += " It looks transposed: each row is one example of the batch."
    return message


def _value_message(label: str, got, want, case: Case, which: str, tolerance) -> str:
    if got.dim() == 0:
        return (
            f"wrong {label} on {which} ({case.shapes}): got {got.item():g}, "
            f"expected {want.item():g}."
        )
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


# --- copies of the inputs, and what changed in place ------------------------------------------
def clone(value):
    """A deep copy of the tensors inside dicts, lists and tuples."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clone(item) for item in value)
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
