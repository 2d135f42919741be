r"""What every task shares: the :class:`Task` interface, the word tasks' :class:`WordTask`
interface, the :class:`ShuffledTargets` control and the integer draw the tasks use.

Shapes: B batch, T time steps (``seq_len``), I input channels (``input_size``), C classes or
outputs (``output_size``), V words of a vocabulary (``V = I`` for a word task).

Not here: the tasks themselves (:mod:`rnnlib.tasks.numeric`, :mod:`rnnlib.tasks.language`,
:mod:`rnnlib.tasks.sentiment`, :mod:`rnnlib.tasks.agreement`), models that read them out
(:mod:`rnnlib.models`) and the training loop (:mod:`rnnlib.train`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F

from rnnlib.checks import check_int

__all__ = ["Batch", "Task", "WordTask", "ShuffledTargets", "uniform_int"]

#: A batch: ``(inputs, targets)``, inputs ``(B, T, I)`` float32.
Batch = tuple[torch.Tensor, torch.Tensor]


def uniform_int(
    low: torch.Tensor | int,
    high: torch.Tensor | int,
    size: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    r"""``size`` integers uniform in ``[low, high]`` (both included; ``low`` and ``high`` may be
    per-sample tensors), from one ``torch.rand`` draw: :math:`\min(high, low + \lfloor u\,(high
    - low + 1) \rfloor)` with :math:`u \sim U[0, 1)`.

    >>> uniform_int(3, 5, 6, torch.Generator().manual_seed(0)).tolist()
    [4, 5, 3, 3, 3, 4]
    """
    low = torch.as_tensor(low)
    high = torch.as_tensor(high)
    u = torch.rand(size, generator=generator)
    return (low + (u * (high - low + 1)).floor().long()).clamp(max=high)


class Task:
    """The interface of every task: batching, seeding and the loss and metric of its ``kind``.

    A task has ``input_size``, ``output_size``, ``seq_len``, ``kind`` (``"regression"`` or
    ``"classification"``) and the chance baseline of its class docstring: ``baseline_loss``,
    the loss of the best predictor that ignores the inputs, and ``baseline_metric``, that
    predictor's metric. A subclass writes ``sample``; ``batches`` draws from it with a seed.

    >>> from rnnlib.tasks import AddingProblem
    >>> task = AddingProblem(seq_len=10)
    >>> inputs, targets = next(task.batches(batch_size=4, seed=0))
    >>> tuple(inputs.shape), tuple(targets.shape), task.kind
    ((4, 10, 2), (4, 1), 'regression')
    """

    input_size: int
    output_size: int
    seq_len: int
    kind: Literal["regression", "classification"]
    baseline_loss: float
    baseline_metric: float

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A batch of ``batch_size`` sequences, every random draw from ``generator``."""
        raise NotImplementedError

    def batches(self, batch_size: int, seed: int = 0) -> Iterator[Batch]:
        """An endless iterator of batches; the same ``seed`` gives the same batches."""
        self._check_batch_size(batch_size)
        generator = torch.Generator().manual_seed(seed)
        while True:
            yield self.sample(batch_size, generator)

    def _check_batch_size(self, batch_size: int) -> int:
        return check_int(batch_size, "batch_size")

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean squared error for regression, cross-entropy for classification (a scalar)."""
        if self.kind == "regression":
            prediction = prediction.reshape(targets.shape)  # (B, 1) or (B, T, 1), as targets
            return F.mse_loss(prediction, targets)
        logits = prediction.reshape(-1, self.output_size)  # (B, C) or (B * T, C)
        return F.cross_entropy(logits, targets.reshape(-1))  # targets (B,) or (B * T,)

    @torch.no_grad()
    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        """Accuracy for classification, MSE for regression."""
        if self.kind == "regression":
            prediction = prediction.reshape(targets.shape)  # (B, 1) or (B, T, 1), as targets
            return F.mse_loss(prediction, targets).item()
        return (prediction.argmax(-1) == targets).float().mean().item()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seq_len={self.seq_len})"


class WordTask(Task):
    """The interface of a task whose inputs are one-hot words: one vocabulary, one decoder.

    A word task's input channel :math:`k` is the word ``vocabulary()[k]``; ``one_hot`` turns
    token ids into inputs and ``decode`` turns inputs (or token ids) back into sentences,
    leaving out the padding token ``PAD`` (``None``: the task does not pad).
    :class:`~rnnlib.tasks.MovieSentiment` and :class:`~rnnlib.tasks.NumberAgreement` are word
    tasks; a subclass writes
    ``vocabulary``.

    >>> from rnnlib.tasks import NumberAgreement
    >>> task = NumberAgreement(num_phrases=1)
    >>> inputs, _ = task.sample(2, torch.Generator().manual_seed(5))
    >>> task.decode(inputs)
    ['the cabinets of the new authors <verb>', 'the author of the small tables <verb>']
    >>> task.decode(task.one_hot(inputs.argmax(-1))) == task.decode(inputs.argmax(-1))
    True
    """

    #: the token id that ``decode`` leaves out (padding), or ``None``
    PAD: int | None = None

    def vocabulary(self) -> list[str]:
        """The word of each input channel, in channel order (``V = input_size`` words)."""
        raise NotImplementedError

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids -> ``(B, T, V)`` float32 inputs."""
        return F.one_hot(tokens, self.input_size).float()

    def decode(self, inputs: torch.Tensor) -> list[str]:
        """One string per sentence, without the padding, from the task's one-hot ``inputs``
        ``(B, T, V)`` or from token ids ``(B, T)``."""
        tokens = inputs.argmax(-1) if inputs.dim() == 3 else inputs  # (B, T)
        words = self.vocabulary()
        return [" ".join(words[k] for k in row if k != self.PAD) for row in tokens.tolist()]


class ShuffledTargets(Task):
    r"""A control for any sequence-to-one task: the same inputs, with the dependency removed.

    ``sample`` draws a batch from ``task`` and pairs sequence :math:`b` with the target of
    sequence :math:`b + 1` (the targets rolled by one position, the last taking the first's):

    .. math:: (x_b, y_b) \;\to\; (x_b, y_{(b + 1) \bmod B}).

    The inputs are exactly the wrapped task's, batch for batch and seed for seed, and so is the
    distribution of the targets; but the sequences of a batch are drawn independently, so no
    input carries any information about its new target. Nothing can be learned beyond the
    wrapped task's baseline, which is therefore also the best achievable loss here.
    ``batch_size`` must be at least 2.

    Every other attribute (sizes, ``kind``, baselines, ``loss``, ``metric``) is the wrapped
    task's.

    >>> from rnnlib.tasks import DistantRecall
    >>> task = DistantRecall(seq_len=5)
    >>> _, targets = task.sample(4, torch.Generator().manual_seed(0))
    >>> _, rolled = ShuffledTargets(task).sample(4, torch.Generator().manual_seed(0))
    >>> targets.tolist(), rolled.tolist()
    ([4, 3, 5, 0], [3, 5, 0, 4])
    """

    def __init__(self, task: Task):
        if not isinstance(task, Task):
            raise ValueError(f"task must be an rnnlib Task, got {type(task).__name__}")
        self.task = task
        self.input_size, self.output_size = task.input_size, task.output_size
        self.seq_len, self.kind = task.seq_len, task.kind
        self.baseline_loss, self.baseline_metric = task.baseline_loss, task.baseline_metric

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A batch of the wrapped task with its targets rolled by one position."""
        check_int(batch_size, "batch_size (a shuffle needs two sequences)", 2)
        inputs, targets = self.task.sample(batch_size, generator)
        return inputs, targets.roll(-1, dims=0)

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The wrapped task's loss."""
        return self.task.loss(prediction, targets)

    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        """The wrapped task's metric."""
        return self.task.metric(prediction, targets)

    def __repr__(self) -> str:
        return f"ShuffledTargets({self.task!r})"
