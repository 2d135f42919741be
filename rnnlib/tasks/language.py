r"""A formal language: next-symbol prediction on :math:`a^n b^n`, where a model must count.

Shapes: B batch, T time steps (``seq_len``, or ``2 max(n) + 1`` for :meth:`AnBn.sample_at`).

Not here: the tasks on words, :class:`~rnnlib.tasks.MovieSentiment` (``sentiment``) and
:class:`~rnnlib.tasks.NumberAgreement` (``agreement``), and their shared interface
(``base.WordTask``); the numeric tasks (``numeric``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rnnlib.checks import check_int
from rnnlib.tasks.base import Batch, Task, uniform_int

__all__ = ["AnBn"]


class AnBn(Task):
    r"""Next-symbol prediction on the language :math:`a^n b^n` (Weiss, Goldberg & Yahav 2018).

    Symbols (one-hot, 4 channels): ``S`` = 0 (start), ``a`` = 1, ``b`` = 2, ``E`` = 3 (end).
    A sample with :math:`n` drawn uniformly from ``[min_n, max_n]`` is the input
    :math:`S\,a^n b^n` (length :math:`2n+1`) with targets :math:`a^n b^n E` (the next symbol at
    every step). Shorter sequences of a batch are padded with all-zero inputs and target
    ``PAD`` = -100, which ``loss`` and ``metric`` ignore, so a batch has ``seq_len = 2 max_n + 1``
    steps (or ``2 max(n) + 1`` with :meth:`sample_at`).

    Which predictions are *deterministic*: after ``S`` (next is ``a``) and after every ``b``
    (next is ``b`` until n of them, then ``E``). After an ``a`` the next symbol may be ``a`` or
    ``b``, as the model cannot know n. ``metric`` is Weiss et al.'s criterion: the fraction of
    sequences whose deterministic predictions (argmax) are *all* correct. Counting the ``b``'s
    is the whole difficulty.

    *Baseline*: ``baseline_loss`` is the exact cross-entropy (per counted token, as ``loss``
    averages it) of the best input-independent predictor, which knows only the position t: it
    predicts the distribution of the target at t over n. ``baseline_metric`` is that
    predictor's sequence accuracy over n uniform in ``[min_n, max_n]`` (exact; ties between
    equally likely symbols go to the smaller symbol index, as ``argmax`` does).

    Use :meth:`sample_at` with n beyond ``max_n`` to test generalisation.

    >>> task = AnBn(max_n=3)
    >>> inputs, targets = task.sample_at([2])
    >>> inputs.argmax(-1).tolist(), targets.tolist()  # S a a b b -> a a b b E
    ([[0, 1, 1, 2, 2]], [[1, 1, 2, 2, 3]])
    >>> task.seq_len, round(task.baseline_metric, 3)
    (7, 0.333)
    """

    kind = "classification"
    input_size = 4
    output_size = 4
    START, A, B, END, PAD = 0, 1, 2, 3, -100

    def __init__(self, max_n: int, min_n: int = 1):
        self.max_n = check_int(max_n, "max_n")
        self.min_n = check_int(min_n, "min_n")
        if min_n > max_n:
            raise ValueError(f"min_n must be <= max_n, got min_n={min_n}, max_n={max_n}")
        self.seq_len = 2 * max_n + 1
        self.baseline_loss, self.baseline_metric = self._position_only_baseline()

    def _targets_for(self, n: int) -> list[int]:
        return [self.A] * n + [self.B] * n + [self.END]

    def _position_only_baseline(self) -> tuple[float, float]:
        """The cross-entropy and sequence accuracy of predicting from the position alone."""
        ns = range(self.min_n, self.max_n + 1)
        counts = [dict() for _ in range(self.seq_len)]  # counts[t][symbol]
        for n in ns:
            for t, y in enumerate(self._targets_for(n)):
                counts[t][y] = counts[t].get(y, 0) + 1
        total_tokens = sum(2 * n + 1 for n in ns)
        cross_entropy = 0.0
        for per_symbol in counts:
            here = sum(per_symbol.values())
            for c in per_symbol.values():
                cross_entropy -= c * math.log(c / here)
        argmax = [max(sorted(c), key=c.get) for c in counts]  # ties: the smallest symbol
        solved = sum(
            all(argmax[t] == self._targets_for(n)[t] for t in self._deterministic(n)) for n in ns
        )
        return cross_entropy / total_tokens, solved / len(ns)

    def _deterministic(self, n: int) -> list[int]:
        """Steps whose next symbol is determined by the prefix: after S and after every b."""
        return [0] + list(range(n + 1, 2 * n + 1))

    def sample_at(self, ns: Sequence[int] | torch.Tensor) -> Batch:
        """One sequence per value of ``ns`` (any n >= 1, also beyond ``max_n``), padded to
        ``2 max(ns) + 1`` steps: inputs ``(B, T, 4)``, targets ``(B, T)``."""
        ns = [int(n) for n in torch.as_tensor(ns).reshape(-1).tolist()]  # (B,) as a list
        if not ns or min(ns) < 1:
            raise ValueError(f"every n must be >= 1, got {ns}")
        T = 2 * max(ns) + 1
        symbols = torch.full((len(ns), T), -1, dtype=torch.long)
        targets = torch.full((len(ns), T), self.PAD, dtype=torch.long)
        for row, n in enumerate(ns):
            symbols[row, : 2 * n + 1] = torch.tensor([self.START] + [self.A] * n + [self.B] * n)
            targets[row, : 2 * n + 1] = torch.tensor(self._targets_for(n))
        real = (symbols >= 0).unsqueeze(-1)  # (B, T, 1): not padding
        inputs = F.one_hot(symbols.clamp(min=0), 4).float() * real
        return inputs, targets

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """``n`` uniform in ``[min_n, max_n]``: inputs ``(B, 2 max_n + 1, 4)``, targets
        ``(B, 2 max_n + 1)``."""
        self._check_batch_size(batch_size)
        ns = uniform_int(self.min_n, self.max_n, batch_size, generator)
        inputs, targets = self.sample_at(ns)
        pad = self.seq_len - inputs.shape[1]  # pad every batch to 2 max_n + 1 steps
        return F.pad(inputs, (0, 0, 0, pad)), F.pad(targets, (0, pad), value=self.PAD)

    def deterministic_mask(self, targets: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` bool: steps whose target is determined (t = 0, or the input is b).

        The input at step t is b exactly when the target at step t - 1 is b.
        """
        mask = torch.zeros_like(targets, dtype=torch.bool)
        mask[:, 0] = targets[:, 0] != self.PAD
        mask[:, 1:] = targets[:, :-1] == self.B
        return mask

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy averaged over the real (non-padding) steps."""
        logits = prediction.reshape(-1, self.output_size)  # (B * T, 4)
        return F.cross_entropy(logits, targets.reshape(-1), ignore_index=self.PAD)  # (B * T,)

    @torch.no_grad()
    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        """Fraction of sequences whose deterministic predictions are all correct."""
        mask = self.deterministic_mask(targets)
        wrong = (prediction.argmax(-1) != targets) & mask
        return (~wrong.any(dim=1)).float().mean().item()

    def __repr__(self) -> str:
        return f"AnBn(max_n={self.max_n}, min_n={self.min_n})"
