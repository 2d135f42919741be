r"""Synthetic sequence tasks with long-range dependencies, each with a documented chance baseline.

Every task has the same small interface (:class:`Task`):

* attributes ``input_size``, ``output_size``, ``seq_len``, ``kind`` (``"regression"`` or
  ``"classification"``), ``baseline_loss`` (the loss of the best predictor that ignores the
  inputs, documented in the class) and ``baseline_metric`` (that predictor's metric: chance
  accuracy, or the MSE of predicting the mean);
* ``sample(batch_size, generator=None) -> (inputs, targets)``, inputs of shape
  ``(batch, time, input_size)`` (float32);
* ``loss(prediction, targets)`` (a scalar tensor, what training minimises) and
  ``metric(prediction, targets)`` (a float: accuracy for classification, MSE for regression);
* ``batches(batch_size, seed)``: an endless iterator of batches, the same for the same seed.

The two tasks on words, :class:`MovieSentiment` and :class:`NumberAgreement`, are also a
:class:`WordTask`: ``vocabulary()`` lists the word of each input channel, ``one_hot(tokens)``
makes inputs from token ids and ``decode(inputs)`` turns inputs back into sentences.

Sequence-to-one tasks (adding, temporal order, distant recall, sentiment, agreement) are read
out at the last step: predictions have shape ``(batch, output_size)``. Sequence-to-sequence
tasks (copy memory, :math:`a^n b^n`, magnitude sum) have a target at every step: predictions
``(batch, time, output_size)`` from ``SequenceModel(cell, output_size, readout="every")``; which
steps count is decided inside the task's ``loss`` and ``metric``.

All randomness comes from the ``torch.Generator`` passed to ``sample`` (CPU), so a task is
deterministic given a seed whatever the device.

The package's modules: ``base`` (``Task``, ``WordTask``, ``ShuffledTargets``), ``numeric``
(adding, temporal order, distant recall, copy memory, magnitude sum), ``language``
(:math:`a^n b^n`), ``sentiment`` (movie sentiment) and ``agreement`` (number agreement).

Not here: the models that read a task out (``rnnlib.models``), the training loop that draws
its batches (``rnnlib.train``), real data sets.

>>> from rnnlib.tasks import TemporalOrder
>>> task = TemporalOrder(seq_len=50)
>>> inputs, targets = next(task.batches(batch_size=8, seed=0))
>>> tuple(inputs.shape), tuple(targets.shape), task.baseline_metric
((8, 50, 6), (8,), 0.25)
"""

from rnnlib.tasks.agreement import NumberAgreement
from rnnlib.tasks.base import ShuffledTargets, Task, WordTask
from rnnlib.tasks.language import AnBn
from rnnlib.tasks.numeric import (
    AddingProblem,
    CopyMemory,
    DistantRecall,
    MagnitudeSum,
    TemporalOrder,
)
from rnnlib.tasks.sentiment import MovieSentiment

__all__ = [
    "Task",
    "WordTask",
    "AddingProblem",
    "TemporalOrder",
    "DistantRecall",
    "CopyMemory",
    "AnBn",
    "MovieSentiment",
    "NumberAgreement",
    "ShuffledTargets",
    "MagnitudeSum",
]
