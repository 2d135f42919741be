r"""Tasks on numbers and symbols with one long-range dependency each: the adding problem, temporal
order, distant recall, copy memory, and the magnitude sum of chapter 9.

Shapes: B batch, T time steps (``seq_len``), I input channels (``input_size``), K data symbols
or tokens.

Sequence-to-one tasks (adding, temporal order, distant recall) are read out at the last step:
predictions ``(B, output_size)``. Sequence-to-sequence tasks (copy memory, magnitude sum) have a
target at every step: predictions ``(B, T, output_size)`` from ``readout="every"``.

Not here: the :class:`~rnnlib.tasks.Task` interface and the shuffled-targets control
(``rnnlib.tasks.base``), tasks on words and formal languages (``language``, ``sentiment``,
``agreement``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rnnlib.checks import check_int
from rnnlib.tasks.base import Batch, Task, uniform_int

__all__ = ["AddingProblem", "TemporalOrder", "DistantRecall", "CopyMemory", "MagnitudeSum"]


class AddingProblem(Task):
    r"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; as in Le et al. 2015).

    Each step carries two inputs: a value drawn uniformly from :math:`[0, 1]` and a marker that
    is 1 at exactly two steps, one in the first half of the sequence and one in the second half,
    and 0 elsewhere. The target is the sum of the two marked values.

    *Baseline*: the sum of two independent :math:`U(0,1)` values has mean 1 and variance
    :math:`2 \cdot \tfrac{1}{12} = \tfrac{1}{6}`, so always predicting 1 (the best constant)
    scores an MSE of :math:`1/6 \approx 0.167`. A model beats it only by remembering the values.

    ``seq_len >= 2``; predictions ``(batch, 1)``, targets ``(batch, 1)``.

    >>> task = AddingProblem(seq_len=6)
    >>> inputs, targets = task.sample(3, torch.Generator().manual_seed(0))
    >>> tuple(inputs.shape), tuple(targets.shape), round(task.baseline_loss, 3)
    ((3, 6, 2), (3, 1), 0.167)
    >>> inputs[..., 1].sum(dim=1).tolist()  # two markers in every sequence
    [2.0, 2.0, 2.0]
    """

    kind = "regression"
    input_size = 2
    output_size = 1
    baseline_loss = 1.0 / 6.0
    baseline_metric = 1.0 / 6.0

    def __init__(self, seq_len: int):
        self.seq_len = check_int(seq_len, "seq_len (the adding problem needs two halves)", 2)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Values ``(B, T)`` and markers ``(B, T)`` stacked into inputs ``(B, T, 2)``."""
        self._check_batch_size(batch_size)
        T, half = self.seq_len, self.seq_len // 2
        values = torch.rand(batch_size, T, generator=generator)
        first = uniform_int(0, half - 1, batch_size, generator)
        second = uniform_int(half, T - 1, batch_size, generator)
        markers = torch.zeros(batch_size, T)
        rows = torch.arange(batch_size)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        inputs = torch.stack([values, markers], dim=-1)  # (B, T, 2)
        targets = (values * markers).sum(dim=1, keepdim=True)  # (B, 1)
        return inputs, targets


class TemporalOrder(Task):
    r"""The temporal-order problem (Hochreiter & Schmidhuber 1997, experiment 6a), as used by
    Pascanu et al. (2013) to test gradient clipping.

    A sequence of ``seq_len`` one-hot symbols: distractors drawn from ``num_distractors``
    symbols, except at two random steps, one in :math:`[0.1T, 0.2T]` and one in
    :math:`[0.5T, 0.6T]`, which carry a relevant symbol ``A`` or ``B``. The class is the ordered
    pair of relevant symbols: AA, AB, BA or BB (4 classes). Channels: 0 = A, 1 = B, then the
    distractors.

    *Baseline*: the four classes are equally likely, so chance accuracy is 1/4 and the best
    input-independent cross-entropy is :math:`\log 4 \approx 1.386`.
    Pascanu et al. count a run as solved when the error is below 1%.

    ``seq_len >= 2``; predictions ``(batch, 4)``, targets ``(batch,)`` class indices.

    >>> task = TemporalOrder(seq_len=20)
    >>> inputs, targets = task.sample(3, torch.Generator().manual_seed(0))
    >>> tuple(inputs.shape), tuple(targets.shape), task.baseline_metric
    ((3, 20, 6), (3,), 0.25)
    >>> task.first_window, task.second_window  # where A or B may appear
    ((2, 4), (10, 12))
    """

    kind = "classification"
    output_size = 4
    baseline_loss = math.log(4)
    baseline_metric = 0.25

    def __init__(self, seq_len: int, num_distractors: int = 4):
        self.seq_len = check_int(seq_len, "seq_len (the temporal-order problem needs two steps)", 2)
        self.num_distractors = check_int(num_distractors, "num_distractors")
        self.input_size = 2 + num_distractors
        T = self.seq_len
        self.first_window = (int(0.1 * T), max(int(0.2 * T), int(0.1 * T)))
        self.second_window = (
            max(int(0.5 * T), self.first_window[1] + 1),
            max(int(0.6 * T), int(0.5 * T), self.first_window[1] + 1),
        )

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """One-hot symbols ``(B, T, 2 + num_distractors)``, classes ``(B,)``."""
        self._check_batch_size(batch_size)
        T, rows = self.seq_len, torch.arange(batch_size)
        symbols = 2 + torch.randint(0, self.num_distractors, (batch_size, T), generator=generator)
        first = uniform_int(*self.first_window, batch_size, generator)
        second = uniform_int(*self.second_window, batch_size, generator)
        relevant = torch.randint(0, 2, (batch_size, 2), generator=generator)  # 0 = A, 1 = B
        symbols[rows, first] = relevant[:, 0]
        symbols[rows, second] = relevant[:, 1]
        inputs = F.one_hot(symbols, self.input_size).float()
        targets = 2 * relevant[:, 0] + relevant[:, 1]  # AA=0, AB=1, BA=2, BB=3
        return inputs, targets

    def __repr__(self) -> str:
        return f"TemporalOrder(seq_len={self.seq_len}, num_distractors={self.num_distractors})"


class DistantRecall(Task):
    r"""The lecture's long-distance example ("... she printed her *tickets*"): recall a token
    shown at the first step when asked at the last one.

    Step 1 shows a token drawn uniformly from ``num_tokens`` (one-hot in channels
    ``0..num_tokens-1``); steps 2 to ``seq_len - 1`` show distractor tokens drawn from the same
    vocabulary; the last step shows only the query marker (channel ``num_tokens``). The model must
    output the first token at the last step, ``seq_len - 1`` steps after seeing it. With
    ``seq_len = 1`` the token and the query share the one step.

    *Baseline*: the token is uniform, so chance accuracy is ``1 / num_tokens`` and the best
    input-independent cross-entropy is :math:`\log(\text{num\_tokens})`.

    Predictions ``(batch, num_tokens)``, targets ``(batch,)`` token indices.

    >>> task = DistantRecall(seq_len=5, num_tokens=8)
    >>> inputs, targets = task.sample(2, torch.Generator().manual_seed(0))
    >>> tuple(inputs.shape), task.baseline_metric
    ((2, 5, 9), 0.125)
    >>> inputs[:, 0, :8].argmax(-1).tolist() == targets.tolist()  # the first step's token
    True
    """

    kind = "classification"

    def __init__(self, seq_len: int, num_tokens: int = 8):
        self.seq_len = check_int(seq_len, "seq_len")
        self.num_tokens = check_int(num_tokens, "num_tokens", 2)
        self.input_size = num_tokens + 1
        self.output_size = num_tokens
        self.baseline_loss = math.log(num_tokens)
        self.baseline_metric = 1.0 / num_tokens

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Tokens and the query ``(B, T, K + 1)``, the first token ``(B,)``."""
        self._check_batch_size(batch_size)
        T, K = self.seq_len, self.num_tokens
        tokens = torch.randint(0, K, (batch_size, T), generator=generator)
        inputs = torch.zeros(batch_size, T, K + 1)
        inputs[..., :K] = F.one_hot(tokens, K).float()
        if T > 1:
            inputs[:, -1, :K] = 0.0  # the last step carries only the query
        inputs[:, -1, K] = 1.0
        return inputs, tokens[:, 0].clone()

    def __repr__(self) -> str:
        return f"DistantRecall(seq_len={self.seq_len}, num_tokens={self.num_tokens})"


class CopyMemory(Task):
    r"""The copy-memory problem (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

    Input symbols: ``num_symbols`` data symbols (0..7 by default), a blank (``num_symbols``) and
    a delimiter (``num_symbols + 1``), one-hot. The sequence has ``T + 2 * copy_length`` steps,
    where ``T = delay``: ``copy_length`` random data symbols, ``T - 1`` blanks, the delimiter,
    then ``copy_length`` blanks during which the model must output the data symbols in order.
    The target is blank (class ``num_symbols``) at every step except the last
    ``copy_length``.

    *Baseline* (Arjovsky et al.): a memoryless predictor outputs blank for the first
    ``T + copy_length`` steps (loss 0) and the uniform distribution over the data symbols for the
    last ``copy_length`` (loss :math:`\log(\text{num\_symbols})` each), so the cross-entropy
    averaged over all steps is

    .. math:: \frac{\text{copy\_length} \cdot \log(\text{num\_symbols})}{T + 2\,\text{copy\_length}}
              = \frac{10 \log 8}{T + 20} \text{ with the defaults.}

    ``loss`` is that per-step cross-entropy over every step; ``metric`` is the accuracy on the
    ``copy_length`` steps that must be recalled (chance: ``1 / num_symbols``).
    Predictions ``(batch, time, num_symbols + 1)``, targets ``(batch, time)``.

    >>> task = CopyMemory(delay=3, num_symbols=4, copy_length=2)
    >>> inputs, targets = task.sample(1, torch.Generator().manual_seed(0))
    >>> tuple(inputs.shape), inputs.argmax(-1).tolist(), targets.tolist()
    ((1, 7, 6), [[0, 3, 4, 4, 5, 4, 4]], [[4, 4, 4, 4, 4, 0, 3]])
    """

    kind = "classification"

    def __init__(self, delay: int, num_symbols: int = 8, copy_length: int = 10):
        self.delay = check_int(delay, "delay")
        self.num_symbols = check_int(num_symbols, "num_symbols", 2)
        self.copy_length = check_int(copy_length, "copy_length")
        self.seq_len = delay + 2 * copy_length
        self.blank, self.delimiter = num_symbols, num_symbols + 1
        self.input_size = num_symbols + 2
        self.output_size = num_symbols + 1
        self.baseline_loss = copy_length * math.log(num_symbols) / self.seq_len
        self.baseline_metric = 1.0 / num_symbols

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """One-hot symbols ``(B, T, num_symbols + 2)``, the symbol to output ``(B, T)``."""
        self._check_batch_size(batch_size)
        L, T = self.copy_length, self.delay
        data = torch.randint(0, self.num_symbols, (batch_size, L), generator=generator)
        symbols = torch.full((batch_size, self.seq_len), self.blank, dtype=torch.long)
        symbols[:, :L] = data
        symbols[:, L + T - 1] = self.delimiter
        targets = torch.full((batch_size, self.seq_len), self.blank, dtype=torch.long)
        targets[:, -L:] = data
        return F.one_hot(symbols, self.input_size).float(), targets

    @torch.no_grad()
    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        """Accuracy on the last ``copy_length`` steps (the symbols to recall)."""
        L = self.copy_length
        return (prediction[:, -L:].argmax(-1) == targets[:, -L:]).float().mean().item()

    def __repr__(self) -> str:
        return (
            f"CopyMemory(delay={self.delay}, num_symbols={self.num_symbols}, "
            f"copy_length={self.copy_length})"
        )


class MagnitudeSum(Task):
    r"""A composition of two sequence transforms: a nonlinear map of each step, then a running
    sum (chapter 9: what depth buys and what it costs).

    Inputs :math:`x^{(t)}` are drawn uniformly from :math:`[-1, 1]` (one channel); the target at
    every step is the running sum of their magnitudes, centred:

    .. math:: y^{(t)} = \sum_{s=1}^{t} \left(\lvert x^{(s)} \rvert - \tfrac{1}{2}\right)

    The first transform, :math:`x \mapsto \lvert x \rvert`, is not monotone, so no single
    :math:`\tanh` of a linear function of :math:`x^{(t)}` computes it; the second, the sum, is
    linear. A stacked RNN can give each transform a layer; a one-layer vanilla RNN must compute
    :math:`\lvert x^{(t)} \rvert` in some units and add it to the sum one step later.

    *Baseline*: :math:`\lvert x \rvert - \tfrac12` has mean 0 and variance :math:`\tfrac{1}{12}`,
    so the best input-independent prediction is 0, whose MSE averaged over the steps is
    :math:`\tfrac{1}{12} \cdot \tfrac{1}{T} \sum_{t=1}^{T} t = \tfrac{T + 1}{24}`.

    ``loss`` and ``metric`` are the MSE over every step. Predictions ``(batch, time, 1)`` (from
    ``readout="every"``), targets ``(batch, time, 1)``.

    >>> task = MagnitudeSum(seq_len=11)
    >>> inputs, targets = task.sample(4, torch.Generator().manual_seed(0))
    >>> tuple(inputs.shape), tuple(targets.shape), task.baseline_loss
    ((4, 11, 1), (4, 11, 1), 0.5)
    """

    kind = "regression"
    input_size = 1
    output_size = 1

    def __init__(self, seq_len: int):
        self.seq_len = check_int(seq_len, "seq_len")
        self.baseline_loss = (seq_len + 1) / 24
        self.baseline_metric = self.baseline_loss

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Inputs ``(B, T, 1)`` uniform in [-1, 1] and their centred running sums ``(B, T, 1)``."""
        self._check_batch_size(batch_size)
        x = 2 * torch.rand(batch_size, self.seq_len, 1, generator=generator) - 1
        return x, (x.abs() - 0.5).cumsum(dim=1)
