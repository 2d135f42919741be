"""Every claim a chapter makes, stated once: checked, printed with its margin, and logged.

Two kinds of claim:

* :func:`exact`: an identity or a structural fact (parity with ``torch.nn``, a formula, "holds
  for any weights"). It holds by mathematics, up to a float tolerance, whatever the seed.
* :func:`claim`: a statement about random draws (trained models, random matrices, sampled
  data): a statistic over the run's draws (usually one per seed) compared with a bound::

      claim("ch05.adding.lstm_solves", "an LSTM solves the adding problem",
            lstm_mse / baseline, statistic="median", below=0.1)

  ``statistic`` is ``"median"``, ``"mean"``, ``"every"`` or ``"at_least"`` (with
  ``at_least=j``: at least j of the k draws). A comparison on the same seeds passes both
  arrays: ``claim(name, says, lstm, versus=rnn, by="ratio", statistic="median", below=0.5)``
  states the claim about the per-seed ratio ``lstm / rnn``.

  Its bound is backed by a calibration (``scripts/calibrate.py``: the same chapter at many
  seed offsets, ``calibration/chNN.json``) from which :mod:`rnnlib.calibration` estimates the
  probability that a new run breaks it; the book keeps that below 1e-4 per claim.

When a claim holds it prints one line with its margin::

    holds: ch05.adding.lstm_solves: median 0.031 < 0.1 over 5 seeds; calibrated 0.012-0.074
    (60 draws), failure rate 7e-05

When it does not, it raises ``AssertionError`` with one line: the sentence, the statistic, its
value, the bound, the per-draw values and the calibrated range.

Each claim also leaves a record (chapter, name, statistic, bound, value, per-draw values):

* in the notebook's output, as MyST-NB glue under ``claim:<name>``, so the website's Claims
  page is built from it even when jupyter-book reuses a cached execution;
* appended as one JSON line to the file named by ``RNNLIB_CLAIMS_LOG``, if set (the
  calibration reads it).

``RNNLIB_CLAIMS_MODE=record`` makes failing claims print and log instead of raising, so a
calibration run sees every claim of a chapter, not only those before the first failure.

Not here: the failure-rate arithmetic and calibration files (:mod:`rnnlib.calibration`);
running chapters at many seeds (``scripts/calibrate.py``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from . import calibration
from .checks import check_choice, check_int

__all__ = ["claim", "exact", "Claim", "LOG_VARIABLE", "MODE_VARIABLE", "NAME_PATTERN"]

#: The environment variable naming a file to which every claim appends its record (a JSON line).
LOG_VARIABLE = "RNNLIB_CLAIMS_LOG"
#: The environment variable that, set to ``record``, makes a broken claim print and log its line
#: instead of raising (``scripts/calibrate.py`` sets it, to see every claim of every run).
MODE_VARIABLE = "RNNLIB_CLAIMS_MODE"
#: A claim's name: its chapter, then dotted lowercase words, e.g. ``ch05.adding.lstm_solves``.
NAME_PATTERN = re.compile(r"^ch\d\d(\.[a-z0-9_]+)+$")

Statistic = calibration.Statistic
#: How a claim with ``versus=`` compares its two values per draw.
Comparison = Literal["difference", "ratio"]


class Claim(dict):
    """The record of one checked claim (a ``dict``, JSON-ready), with ``holds`` and ``line``.

    :func:`claim` and :func:`exact` return one:

    >>> record = exact("ch00.record", "one is one", 1, equals=1)
    holds: ch00.record: 1 == 1; exact (holds whatever the seed)
    >>> record.holds, record["kind"], record.line.startswith("holds")
    (True, 'exact', True)
    """

    @property
    def holds(self) -> bool:
        return bool(self["holds"])

    @property
    def line(self) -> str:
        return self["line"]


def claim(
    name: str,
    says: str,
    values: Any,
    *,
    statistic: Statistic,
    below: float | None = None,
    above: float | None = None,
    at_least: int | None = None,
    versus: Any = None,
    by: Comparison = "difference",
    draws: str = "seed",
) -> Claim:
    """Check a statistical claim about ``values`` (one per draw) and print its margin.

    ``below``/``above`` bound each draw (``every``, ``at_least``) or the statistic (``median``,
    ``mean``); give one or both (a band). With ``versus``, the claim is about the per-draw
    ``values - versus`` (``by="difference"``) or ``values / versus`` (``by="ratio"``), for
    comparisons on the same seeds. ``draws`` names what one value is (``"seed"``,
    ``"matrix"``), for the messages.

    Returns the :class:`Claim` record; raises ``AssertionError`` if the claim does not hold
    (unless ``RNNLIB_CLAIMS_MODE=record``) and ``ValueError`` on malformed arguments. An
    identity, which holds whatever the seed, is not a statistic: state it with :func:`exact`.

    >>> c = claim("ch00.demo", "small", [0.1, 0.2, 0.3], statistic="median", below=0.5)
    ... # doctest: +ELLIPSIS
    holds: ch00.demo: median 0.2 < 0.5 over 3 seeds; ...
    >>> c.holds, c["value"]
    (True, 0.2)
    """
    _check_name(name)
    check_choice(statistic, "statistic", calibration.STATISTICS)
    _check_bounds(below, above)
    if below is None and above is None:
        raise ValueError("a statistical claim needs a bound: below=, above= or both")
    a = _as_values(values, "values")
    record: dict[str, Any] = {}
    if versus is not None:
        a, record["versus"] = _compared(a, _as_values(versus, "versus"), by)
    k = a.size
    _check_at_least(at_least, statistic, k)
    value, holds = _statistic(statistic, a, below, above, at_least)
    record.update(
        kind="statistical",
        statistic=statistic,
        at_least=at_least,
        draws=draws,
        k=int(k),
        values=a.tolist(),
    )
    return _finish(name, says, value, holds, below, above, record)


def _compared(a: np.ndarray, b: np.ndarray, by: Comparison) -> tuple[np.ndarray, dict]:
    """The per-draw ``a - b`` or ``a / b``, and the record of both arrays."""
    if a.shape != b.shape:
        raise ValueError(
            f"values and versus must have one value per draw each, got {a.size} and {b.size}"
        )
    check_choice(by, "by", get_args(Comparison))
    versus = {"by": by, "values": a.tolist(), "versus": b.tolist()}
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b if by == "difference" else a / b), versus


def _check_at_least(at_least: int | None, statistic: Statistic, k: int) -> None:
    """``at_least=j`` goes with ``statistic="at_least"`` only, and ``1 <= j <= k``."""
    if statistic != "at_least":
        if at_least is not None:
            raise ValueError(f"at_least= goes with statistic='at_least', not {statistic!r}")
        return
    check_int(at_least, "at_least")
    if at_least > k:
        raise ValueError(f"at_least must be at most the number of draws k={k}, got {at_least}")


def _statistic(statistic: Statistic, a: np.ndarray, below, above, at_least) -> tuple[Any, bool]:
    """The statistic's value over the draws ``a`` and whether it is on the claimed side."""
    passes = calibration.draw_passes(a, below, above)
    if statistic == "median":
        value = float(np.median(a))
        return value, bool(calibration.draw_passes([value], below, above)[0])
    if statistic == "mean":
        value = float(np.mean(a))
        return value, bool(calibration.draw_passes([value], below, above)[0])
    if statistic == "every":
        return _worst(a, below, above), bool(passes.all())
    value = int(passes.sum())
    return value, value >= at_least


def exact(
    name: str,
    says: str,
    value: Any,
    *,
    equals: Any = None,
    below: float | None = None,
    above: float | None = None,
    atol: float = 0.0,
    rtol: float = 0.0,
) -> Claim:
    """Check an exact or structural claim: it holds whatever the seed, up to ``atol``/``rtol``.

    ``value`` (a number, an array, a tensor, a shape, a bool) must equal ``equals`` (within the
    tolerances for numbers), or every element must lie ``above < value < below``; with none of
    them, ``value`` must be true.

    >>> c = exact("ch00.identity", "two plus two", 2 + 2, equals=4)
    holds: ch00.identity: 4 == 4; exact (holds whatever the seed)
    """
    _check_name(name)
    _check_bounds(below, above)
    if equals is not None and (below is not None or above is not None):
        raise ValueError("give equals= or below=/above=, not both")
    if equals is not None:
        holds, shown = _equal(value, equals, atol, rtol)
    elif below is not None or above is not None:
        v = _as_values(value, "value")
        holds = bool(calibration.draw_passes(v, below, above).all())
        shown = _worst(v, below, above)
    else:
        holds, shown = bool(value), bool(value)
    record = {"kind": "exact", "statistic": "exact", "equals": _summary(equals)}
    record.update(atol=atol, rtol=rtol)
    return _finish(name, says, shown, holds, below, above, record)


# --- the shared ending: message, log, glue --------------------------------------------------------
def _finish(name, says, value, holds, below, above, record) -> Claim:
    from .device import seed_offset

    chapter = name.split(".", 1)[0]
    record = Claim(
        chapter=chapter,
        name=name,
        says=says,
        below=below,
        above=above,
        value=_jsonable(value),
        holds=bool(holds),
        seed_offset=seed_offset(),
        **record,
    )
    if record["kind"] == "statistical":
        record["calibration"] = _calibration_of(record)
    record["line"] = _line(record)
    _log(record)
    _glue(record)
    if not holds and os.environ.get(MODE_VARIABLE, "assert").strip() != "record":
        raise AssertionError(record["line"])
    print(record["line"])
    return record


def _calibration_of(record: dict) -> dict | None:
    """The calibrated range and failure estimate of this claim, if the chapter has one."""
    stored = calibration.load(record["chapter"])
    if not stored or record["name"] not in stored.get("claims", {}):
        return None
    entry = stored["claims"][record["name"]]
    estimate = calibration.failure_probability_of(record, entry["values"])
    summary = calibration.summarize(entry["values"])
    return {**summary, "estimate": estimate}


def _line(record: dict) -> str:
    """One line: what was claimed, the value, the bound, and the calibrated range."""
    holds = record["holds"]
    bound = _bound_text(record["below"], record["above"], record.get("equals"))
    # "median 0.031 < 0.1" when the claim holds, "median 0.2, claimed < 0.1" when it does not
    relation = f" {bound}" if holds else f", claimed {bound}"
    if record["kind"] == "exact":
        value = record["value"]
        if isinstance(value, str) and value.startswith("max |difference|"):
            body = value + ("" if holds else ", claimed 0")
        elif record.get("equals") is None and record["below"] is None and record["above"] is None:
            body = "true" if holds else f"{_fmt(value)}, claimed true"
        else:
            body = f"{_fmt(value)}{relation}"
        if record.get("atol") or record.get("rtol"):
            body += f" (tolerance atol {record['atol']:g}, rtol {record['rtol']:g})"
        body += "; exact (holds whatever the seed)" if holds else "; an exact claim"
    else:
        k, draws = record["k"], _plural(record["draws"], record["k"])
        statistic = record["statistic"]
        if statistic == "at_least":
            claimed = record["at_least"]
            body = f"{record['value']} of {k} {draws} {bound}, claimed at least {claimed}"
        elif statistic == "every":
            body = f"worst of {k} {draws} {_fmt(record['value'])}{relation}"
        else:
            body = f"{statistic} {_fmt(record['value'])}{relation} over {k} {draws}"
        body += "; " + _calibration_text(record.get("calibration"))
    if holds:
        return f"holds: {record['name']}: {body}"
    per_draw = ""
    if record["kind"] == "statistical":
        per_draw = f" (per {record['draws']}: {', '.join(_fmt(v) for v in record['values'])})"
    return f"claim {record['name']} failed: {record['says']!r}: {body}{per_draw}"


def _plural(word: str, k: int) -> str:
    if k == 1:
        return word
    return word[:-2] + "ices" if word.endswith("ix") else word + "s"


def _calibration_text(entry: dict | None) -> str:
    if not entry:
        return "not calibrated here"
    return (
        f"calibrated {_fmt(entry['min'])}-{_fmt(entry['max'])} ({entry['n']} draws), "
        f"failure rate {entry['estimate']:.0e}"
    )


def _bound_text(below, above, equals=None) -> str:
    if equals is not None:
        return f"== {_fmt(equals)}"
    if below is not None and above is not None:
        return f"in ({_fmt(above)}, {_fmt(below)})"
    return f"< {_fmt(below)}" if below is not None else f"> {_fmt(above)}"


def _log(record: dict) -> None:
    path = os.environ.get(LOG_VARIABLE, "").strip()
    if not path:
        return
    with open(path, "a") as log:
        log.write(json.dumps(record) + "\n")


def _glue(record: dict) -> None:
    """Store the record in the cell's output (MyST-NB glue), for the site's Claims page."""
    from .book import glue

    glue(f"claim:{record['name']}", json.dumps(record))


# --- small helpers ------------------------------------------------------------------------------
def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"a claim's name is its chapter then dotted lowercase words, e.g. "
            f"'ch05.adding.lstm_solves'; got {name!r}"
        )


def _check_bounds(below, above) -> None:
    for label, bound in (("below", below), ("above", above)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise ValueError(f"{label} must be a number, got {bound!r}")
    if below is not None and above is not None and not above < below:
        raise ValueError(f"above must be less than below, got above={above}, below={below}")


def _as_values(values: Any, what: str) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=float).reshape(-1)  # (k,): one value per draw
    except (TypeError, ValueError):
        kind = type(values).__name__
        raise ValueError(f"{what} must be numbers, one per draw; got {kind}") from None
    if array.size == 0:
        raise ValueError(f"{what} is empty: a claim needs at least one draw")
    return array


def _worst(values: np.ndarray, below, above) -> float:
    """The value closest to (or beyond) the bound: a failing non-finite one first."""
    if not np.all(np.isfinite(values)):
        return float(values[~np.isfinite(values)][0])
    if below is not None and above is not None:
        margin = np.minimum(below - values, values - above)
        return float(values[int(np.argmin(margin))])
    return float(values.max() if below is not None else values.min())


def _equal(value, equals, atol: float, rtol: float) -> tuple[bool, Any]:
    """Whether ``value`` equals ``equals``, and what to show: the value itself, or for arrays
    the largest absolute difference."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if hasattr(equals, "detach"):
        equals = equals.detach().cpu().numpy()
    try:
        a, b = np.asarray(value, dtype=float), np.asarray(equals, dtype=float)
    except (TypeError, ValueError):
        return bool(value == equals), value
    if a.shape != b.shape:
        return False, f"shape {a.shape}"
    holds = bool(np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=False))
    if a.size == 1 and not isinstance(value, tuple | list):
        return holds, a.item()
    if a.size == 0:
        return holds, value
    if isinstance(value, tuple | list) and np.array_equal(a, np.round(a)):
        return holds, value
    return holds, f"max |difference| {float(np.max(np.abs(a - b))):.3g}"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray | np.generic):
        return _jsonable(value.tolist())
    if isinstance(value, Sequence):
        return [_jsonable(v) for v in value]
    return str(value)


def _summary(value: Any, most: int = 8) -> Any:
    """``value`` for the record: as it is when small, else its shape (an array of thousands of
    entries would swell the glue, the log and the Claims page)."""
    if value is None or isinstance(value, bool | int | float | str):
        return _jsonable(value)
    shape = tuple(np.shape(value.detach().cpu() if hasattr(value, "detach") else value))
    if math.prod(shape) <= most:
        return _jsonable(value)
    return f"array of shape {shape}"


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list) and len(value) > 6:
        return f"[{', '.join(_fmt(v) for v in value[:6])}, ...]"
    if isinstance(value, list):
        return f"[{', '.join(_fmt(v) for v in value)}]"
    return str(value)
