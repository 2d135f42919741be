"""How often a statistical claim fails: failure rates estimated from calibration draws.

A claim about random draws (trained models, random matrices, sampled data) is a statistic over
the ``k`` draws of one chapter run (the median over 5 seeds, 4 of 5 seeds, a mean) compared
with a bound. ``scripts/calibrate.py`` reruns the chapter at many seed offsets and keeps every
per-draw value; from those ``n`` values this module estimates how often a *new* run's
statistic would cross the bound.

Per-draw exceedance, with the rule of succession (conservative for few exceedances)::

    p = (e + 1) / (n + 2)          e = calibration draws on the wrong side of the bound

A statistic that fails only when at least ``m`` of the ``k`` draws are on the wrong side fails
with probability at most the binomial tail::

    P(fail) = sum_{j >= m} C(k, j) p^j (1 - p)^(k - j)

with ``m = ceil(k / 2)`` for the median, ``m = 1`` for "every draw", and ``m = k - j + 1`` for
"at least j of k". For the mean of ``k`` draws, the predictive Student t distribution of a new
mean given the calibration mean and standard deviation::

    (mean_k - mean_n) / (s_n sqrt(1/k + 1/n)) ~ t(n - 1)

A bound just outside the calibration's extreme is not enough: the estimate depends on how many
draws back it (a median of 5 needs about 50 draws with no exceedance to reach 1e-4).

Calibration files (``calibration/chNN.json``, one per chapter) are written by
``scripts/calibrate.py`` and read here: :func:`load`, :func:`summarize`.

Not here: stating a claim and its messages (:mod:`rnnlib.claims`); running chapters at
many seed offsets and writing the calibration files (``scripts/calibrate.py``); the test
that a chapter's code has not changed since its calibration (``tests/test_calibration.py``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from .checks import check_choice

__all__ = [
    "BUDGET",
    "STATISTICS",
    "binomial_tail",
    "calibration_dir",
    "code_hash",
    "draw_passes",
    "exceedance_probability",
    "failure_probability",
    "failures_needed",
    "failure_probability_of",
    "load",
    "summarize",
]

#: The largest estimated failure probability per chapter run that a claim may have.
BUDGET = 1e-4
Statistic = Literal["median", "mean", "every", "at_least"]
#: The statistics a statistical claim can use (``exact`` claims need no calibration).
STATISTICS: tuple[str, ...] = get_args(Statistic)
#: The statistics whose failure is a binomial tail (the mean's is a t tail).
BINOMIAL_STATISTICS = ("median", "every", "at_least")
#: Environment variable naming the folder of calibration files.
CALIBRATION_DIR_VARIABLE = "RNNLIB_CALIBRATION_DIR"


def draw_passes(values, below: float | None = None, above: float | None = None) -> np.ndarray:
    """Whether each draw is on the claimed side of the bounds: ``above < v < below``.

    A non-finite value never passes.

    >>> draw_passes([0.1, 0.5, float("nan")], below=0.3).tolist()
    [True, False, False]
    """
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if below is not None:
        ok &= v < below
    if above is not None:
        ok &= v > above
    return ok


def exceedance_probability(n: int, exceedances: int) -> float:
    """Per-draw probability of landing on the wrong side: ``(e + 1) / (n + 2)``.

    >>> round(exceedance_probability(50, 0), 4)
    0.0192
    """
    return (exceedances + 1) / (n + 2)


def failures_needed(statistic: Statistic, k: int, at_least: int | None = None) -> int:
    """How many of ``k`` draws must be on the wrong side before the statistic can fail.

    Only the statistics of ``BINOMIAL_STATISTICS`` have such a count (the mean has none).

    >>> failures_needed("median", 5), failures_needed("every", 5), failures_needed("at_least", 5, 4)
    (3, 1, 2)
    """
    check_choice(statistic, "statistic", BINOMIAL_STATISTICS)
    if statistic == "median":
        return math.ceil(k / 2)
    if statistic == "every":
        return 1
    if at_least is None:
        raise ValueError("statistic 'at_least' needs at_least=j (of the k draws)")
    return k - at_least + 1


def binomial_tail(k: int, p: float, m: int) -> float:
    """``P(X >= m)`` for ``X ~ Binomial(k, p)``.

    >>> round(binomial_tail(5, 0.5, 3), 4)
    0.5
    """
    return float(sum(math.comb(k, j) * p**j * (1 - p) ** (k - j) for j in range(m, k + 1)))


def failure_probability(
    statistic: Statistic,
    k: int,
    calibration_values: Sequence[float],
    below: float | None = None,
    above: float | None = None,
    at_least: int | None = None,
) -> float:
    """Estimated probability that a new run's statistic over ``k`` draws breaks the claim.

    ``calibration_values`` are the per-draw values of the calibration runs.

    >>> values = [0.02 * i for i in range(1, 51)]  # 50 draws, all below 1.5
    >>> failure_probability("median", 5, values, below=1.5) < 1e-4
    True
    """
    values = np.asarray(calibration_values, dtype=float)
    n = values.size
    if n == 0:
        return 1.0
    if statistic == "mean":
        return _mean_failure_probability(k, values, below, above)
    exceedances = int(np.sum(~draw_passes(values, below, above)))
    p = exceedance_probability(n, exceedances)
    return binomial_tail(k, p, failures_needed(statistic, k, at_least))


def failure_probability_of(claim: dict, calibration_values: Sequence[float]) -> float:
    """:func:`failure_probability` of a statistical claim's record (a
    :class:`rnnlib.claims.Claim`: its ``statistic``, ``k``, bounds and ``at_least``).

    >>> record = {"statistic": "every", "k": 5, "below": 1.0, "above": None}
    >>> round(failure_probability_of(record, [0.5] * 98), 4)  # 1 - (1 - 1/100)^5
    0.049
    """
    return failure_probability(
        claim["statistic"],
        claim["k"],
        calibration_values,
        claim["below"],
        claim["above"],
        claim.get("at_least"),
    )


def _mean_failure_probability(k: int, values: np.ndarray, below, above) -> float:
    """Predictive t tail of the mean of ``k`` new draws (see the module's docstring)."""
    if values.size < 3 or not np.all(np.isfinite(values)):
        return 1.0
    from scipy.stats import t as student_t

    mean, sd = float(values.mean()), float(values.std(ddof=1))
    scale = max(sd, 1e-300) * math.sqrt(1 / k + 1 / values.size)
    dof = values.size - 1
    probability = 0.0
    if below is not None:
        probability += float(student_t.sf((below - mean) / scale, dof))
    if above is not None:
        probability += float(student_t.cdf((above - mean) / scale, dof))
    return probability


def summarize(values: Sequence[float]) -> dict[str, float]:
    """``n``, min, 2nd percentile, median, 98th percentile and max of per-draw values.

    >>> summarize([1.0, 2.0, 3.0])["median"]
    2.0
    """
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return {"n": int(v.size), "min": None, "p2": None, "median": None, "p98": None, "max": None}
    p2, median, p98 = np.percentile(finite, [2, 50, 98])
    return {
        "n": int(v.size),
        "min": float(finite.min()),
        "p2": float(p2),
        "median": float(median),
        "p98": float(p98),
        "max": float(finite.max()),
    }


# --- calibration files -------------------------------------------------------------------------
def calibration_dir() -> Path | None:
    """The folder of calibration files: ``RNNLIB_CALIBRATION_DIR``, else the first
    ``calibration/`` found in the working directory, its parent, or beside the rnnlib package
    (a clone of the book's repository). ``None`` where there is none (e.g. in Colab).

    In a clone of the book's repository, with ``RNNLIB_CALIBRATION_DIR`` unset:

    >>> calibration_dir().name
    'calibration'
    """
    chosen = os.environ.get(CALIBRATION_DIR_VARIABLE, "").strip()
    if chosen:
        return Path(chosen)
    candidates = [Path.cwd(), Path.cwd().parent, Path(__file__).resolve().parent.parent]
    for folder in candidates:
        if (folder / "calibration").is_dir():
            return folder / "calibration"
    return None


def load(chapter: str, folder: Path | None = None) -> dict | None:
    """The calibration record of ``chapter`` (e.g. ``"ch05"``), or ``None`` if there is none.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "ch00.json").write_text('{"claims": {}}')
    ...     load("ch00", Path(folder)), load("ch99", Path(folder))
    ({'claims': {}}, None)
    """
    folder = folder if folder is not None else calibration_dir()
    if folder is None:
        return None
    path = Path(folder) / f"{chapter}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def code_hash(notebook: dict | str | Path) -> str:
    """A hash of a chapter's code: every code cell's syntax tree, in order.

    Comments, blank lines and formatting do not change it (the tree ignores them); any change
    to what the code does does. Cells that are not plain Python are hashed as text.

    >>> def notebook(*sources):
    ...     return {"cells": [{"cell_type": "code", "source": s} for s in sources]}
    >>> code_hash(notebook("x = 1")) == code_hash(notebook("x = 1  # one"))
    True
    >>> code_hash(notebook("x = 1")) == code_hash(notebook("x = 2")), len(code_hash(notebook("")))
    (False, 16)
    """
    if not isinstance(notebook, dict):
        notebook = json.loads(Path(notebook).read_text())
    digest = hashlib.sha256()
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        try:
            text = ast.dump(ast.parse(source))
        except SyntaxError:
            text = source
        digest.update(text.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:16]
