"""What training records: a :class:`History` per run, its :class:`Checkpoint` copies, and the
:class:`NonFiniteLossError` that stops a run whose loss or gradient is not finite.

:func:`rnnlib.train.fit` and :func:`rnnlib.ensembles.fit_seeds` fill these; the chapters read
them (``history.loss``, ``history.grad_norm``, ``history.final_loss()``) and draw them
(``history.plot()``, which :func:`rnnlib.plots.plot_history` draws).

Not here: the training loops (:mod:`rnnlib.train`, :mod:`rnnlib.ensembles`), plotting
(:mod:`rnnlib.plots`), checkpoints on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["History", "Checkpoint", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a ``nan`` or ``inf`` loss or gradient norm.

    Attributes: ``step`` (0-based), ``loss``, ``grad_norm`` (the non-finite step's values),
    ``last_finite_grad_norm`` (``None`` if there was none) and ``history`` (everything recorded
    up to and including the failing step).

    >>> error = NonFiniteLossError(7, float("nan"), float("inf"), 3.2, 2.5, History())
    >>> isinstance(error, FloatingPointError), error.step
    (True, 7)
    >>> print(str(error)[:62])
    non-finite training at step 7: loss = nan, gradient norm = inf
    """

    def __init__(
        self,
        step: int,
        loss: float,
        grad_norm: float,
        last_finite_grad_norm: float | None,
        median_grad_norm: float | None,
        history: History,
    ):
        self.step, self.loss, self.grad_norm = step, loss, grad_norm
        self.last_finite_grad_norm = last_finite_grad_norm
        self.median_grad_norm = median_grad_norm
        self.history = history
        last = (
            "no finite gradient norm was recorded before it"
            if last_finite_grad_norm is None
            else f"the last finite gradient norm was {last_finite_grad_norm:.4g}"
        )
        median = (
            ""
            if median_grad_norm is None
            else f" (the median finite gradient norm so far was {median_grad_norm:.3g}; "
            "error.history.grad_norm has them all)"
        )
        super().__init__(
            f"non-finite training at step {step}: loss = {loss}, gradient norm = {grad_norm}; "
            f"{last}. The gradient probably exploded: clip it, e.g. fit(..., clip_norm=1.0), "
            f"with a threshold around the typical gradient norm{median}, or lower the learning "
            "rate. Pass on_nonfinite='continue' to keep training anyway."
        )

    @classmethod
    def at_step(cls, step: int, history: History) -> NonFiniteLossError:
        """The error for the last step recorded in ``history``, which is ``step``: its loss and
        gradient norm, the last finite gradient norm before it and the median of them all.

        >>> history = History(loss=[0.5, float("nan")], grad_norm=[2.0, float("inf")])
        >>> NonFiniteLossError.at_step(1, history).last_finite_grad_norm
        2.0
        """
        finite = [n for n in history.grad_norm if math.isfinite(n)]
        median = sorted(finite)[len(finite) // 2] if finite else None
        before = [n for n in history.grad_norm[:-1] if math.isfinite(n)]
        last = before[-1] if before else None
        return cls(step, history.loss[-1], history.grad_norm[-1], last, median, history)


@dataclass
class Checkpoint:
    """A copy of the training state taken by :func:`rnnlib.train.fit` at the start of step ``step``.

    ``model_state`` and ``optimizer_state`` are deep copies of ``model.state_dict()`` and
    ``optimizer.state_dict()`` before that step's update; ``loss`` is the (finite) training loss
    those parameters scored on that step's batch. Load it back with :func:`rnnlib.train.restore`.

    >>> from torch import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> optimizer = optim.SGD(model.parameters(), lr=0.1)
    >>> checkpoint = Checkpoint(0, 0.7, model.state_dict(), optimizer.state_dict())
    >>> sorted(checkpoint.model_state)
    ['bias', 'weight']
    """

    step: int
    loss: float
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any]


@dataclass
class History:
    """What :func:`rnnlib.train.fit` records at every step (lists indexed by step).

    ``loss``: the training loss; ``grad_norm``: the global gradient norm before clipping;
    ``grad_norm_clipped``: after clipping (equal to ``grad_norm`` without clipping);
    ``clipped``: whether clipping changed the gradient (``grad_norm > clip_norm``, or an entry
    beyond ``clip_value``); ``metric``: the task's metric on the training batch;
    ``checkpoints``: the :class:`Checkpoint` objects of
    ``fit(..., checkpoint_every=k)``, oldest first (only steps whose loss and gradient norm were
    finite; empty without ``checkpoint_every``).

    >>> history = History(loss=[1.0, 0.5, 0.25], clipped=[True, False, False, False])
    >>> history.steps, history.final_loss(window=2), history.fraction_clipped()
    (3, 0.375, 0.25)
    """

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    grad_norm_clipped: list[float] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    clip_norm: float | None = None
    clip_value: float | None = None
    baseline_loss: float | None = None

    def __len__(self) -> int:
        return len(self.loss)

    @property
    def steps(self) -> int:
        return len(self.loss)

    def final_loss(self, window: int = 50) -> float:
        """Mean training loss over the last ``window`` steps (``nan``/``inf`` if any is)."""
        if not self.loss:
            raise ValueError("the history is empty: no step was recorded")
        last = self.loss[-window:]
        return sum(last) / len(last)

    def final_metric(self, window: int = 50) -> float:
        """Mean training-batch metric over the last ``window`` steps."""
        if not self.metric:
            raise ValueError("the history is empty: no step was recorded")
        last = self.metric[-window:]
        return sum(last) / len(last)

    def fraction_clipped(self) -> float:
        """The fraction of steps at which clipping fired."""
        return sum(self.clipped) / len(self.clipped) if self.clipped else 0.0

    def record(
        self,
        loss: float,
        grad_norm: float,
        grad_norm_clipped: float,
        clipped: bool,
        metric: float | None = None,
    ) -> None:
        """Append one step's values (``metric`` only when the task has one)."""
        self.loss.append(loss)
        self.grad_norm.append(grad_norm)
        self.grad_norm_clipped.append(grad_norm_clipped)
        self.clipped.append(clipped)
        if metric is not None:
            self.metric.append(metric)

    def first_nonfinite_step(self) -> int | None:
        """The first step whose loss or gradient norm is ``nan``/``inf`` (``None`` if none)."""
        for step, (loss, norm) in enumerate(zip(self.loss, self.grad_norm, strict=True)):
            if not (math.isfinite(loss) and math.isfinite(norm)):
                return step
        return None

    def plot(self, ax=None, label_text: str | None = None, color: str | None = None):
        """Plot the loss (log scale) and the gradient norms with the clipping threshold:
        :func:`rnnlib.plots.plot_history` (see there for ``ax``)."""
        from .plots import plot_history

        return plot_history(self, ax, label_text, color)
