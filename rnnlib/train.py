"""The training loop every chapter uses: ``fit``, its ``History``, ``evaluate``, ``fit_seeds``.

One step of :func:`fit` is the textbook loop, with the measurements this book is about::

    inputs, targets = next(batches)            # task.batches(batch_size, seed)
    loss = task.loss(model(inputs), targets)
    loss.backward()
    grad_norm = ||g||                           # recorded before clipping
    clip (by norm and/or by value)              # rnnlib.clipping, from scratch
    grad_norm_clipped = ||g||                   # recorded after clipping
    optimizer.step()

A non-finite loss or gradient stops training with :class:`~rnnlib.history.NonFiniteLossError` (a
``FloatingPointError``) that names the step and the last finite gradient norm and suggests a
clipping threshold, unless ``on_nonfinite="continue"`` (keep going, as a plain loop would:
the chapter on exploding gradients shows what happens) or ``"skip"`` (drop that update).

The other remedy for a run that blew up is to go back to an earlier, healthy state and continue
more carefully: ``fit(..., checkpoint_every=k)`` keeps a :class:`rnnlib.train.Checkpoint`
(the model's and the optimizer's state) every ``k`` steps whose loss and gradient were finite,
in ``History.checkpoints`` (also on ``NonFiniteLossError.history``), and
:func:`rnnlib.train.restore` loads one back, optionally with a new learning rate.

:func:`rnnlib.ensembles.fit_seeds` (also importable from here) trains several models of one
architecture (one per seed) at once, as one batched model, for chapters that state a claim over
many seeds within their time budget; ``fit(model, ..., seed=[...])`` trains an ensemble
(:func:`rnnlib.ensembles.fit_ensemble`).

Not here: what a run records (:mod:`rnnlib.history`: ``History``, ``Checkpoint``,
``NonFiniteLossError``, importable from here too), its plots (:mod:`rnnlib.plots`), checkpoints on
disk, early stopping, learning-rate schedules.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from ._loop import check_fit_arguments, progress_bar, to_device, training_device
from .clipping import clip_grad_norm, clip_grad_value, global_grad_norm
from .device import seed_everything
from .ensembles import fit_ensemble
from .ensembles import fit_seeds as fit_seeds  # importable from here too, as chapters do
from .history import Checkpoint, History
from .history import NonFiniteLossError as NonFiniteLossError
from .tasks import Task

__all__ = ["fit", "evaluate", "restore"]


def fit(
    model: nn.Module,
    task: Task,
    optimizer: torch.optim.Optimizer,
    steps: int,
    batch_size: int = 64,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    device: torch.device | str | None = None,
    seed: int | Sequence[int] = 0,
    on_nonfinite: Literal["raise", "continue", "skip"] = "raise",
    progress: bool = True,
    checkpoint_every: int | None = None,
) -> History | list[History]:
    """Train ``model`` on ``task`` for ``steps`` optimizer steps; return its
    :class:`~rnnlib.history.History`.

    * Batches come from ``task.batches(batch_size, seed)``, and ``seed`` also seeds Python,
      NumPy and torch (dropout etc.), so a run is reproducible. Build the model (its initial
      weights) before calling, under your own seed.
    * ``device`` defaults to :func:`rnnlib.get_device`; the model and every batch are moved
      there (moving the model keeps the optimizer's references to its parameters).
    * ``clip_norm``: rescale the gradient when its global 2-norm exceeds it
      (:func:`rnnlib.clipping.clip_grad_norm`); ``clip_value``: clamp each entry
      (:func:`rnnlib.clipping.clip_grad_value`). Both may be given (norm first).
    * ``on_nonfinite``: ``"raise"`` (default) raises :class:`~rnnlib.history.NonFiniteLossError`;
      ``"continue"`` records the ``nan``/``inf`` and takes the step anyway; ``"skip"`` records
      it and skips the update.
    * ``progress``: a ``tqdm.auto`` bar (Jupyter, Colab, terminal), silent when the ``CI`` or
      ``TQDM_DISABLE`` environment variable is set.
    * ``checkpoint_every``: at steps ``0, k, 2k, ...`` copy the model's and the optimizer's
      state before the update into ``History.checkpoints`` (a
      :class:`rnnlib.train.Checkpoint`), kept only if that step's loss and gradient norm are
      finite; every kept copy stays in memory.
      :func:`rnnlib.train.restore` loads one back.
    * **Ensembles**: with a sequence of seeds, ``seed=[s_0, ..., s_{k-1}]``, ``model`` is an
      ensemble of ``k`` members (every trainable parameter has the member axis first, as in
      ``rnnlib.LSTM(..., ensemble=k)``; its input and prediction too), and member ``j`` trains
      as ``fit(member_j, task, ..., seed=s_j)`` would train it alone: its own batches
      (``task.batches(batch_size, s_j)``), its own loss (the loss minimised is the sum of the
      members' losses, so each member's gradient is its own), ``clip_norm`` applied to each
      member's gradient norm, and an elementwise optimizer (SGD, Adam). Returns one
      :class:`~rnnlib.history.History` per member. The global random state is seeded with
      ``s_0``; neither ``on_nonfinite="skip"`` nor checkpoints are offered for ensembles.

    >>> from rnnlib.cells import LSTMCell
    >>> from rnnlib.models import SequenceModel
    >>> from rnnlib.tasks import AddingProblem
    >>> task = AddingProblem(seq_len=10)
    >>> model = SequenceModel(LSTMCell(task.input_size, 8), task.output_size)
    >>> optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    >>> history = fit(model, task, optimizer, steps=20, batch_size=16, clip_norm=1.0,
    ...               device="cpu", progress=False)
    >>> len(history.loss), history.clip_norm, max(history.grad_norm_clipped) <= 1.0 + 1e-6
    (20, 1.0, True)
    """
    if isinstance(seed, Sequence):
        if checkpoint_every is not None:
            raise ValueError("an ensemble trains without checkpoints (checkpoint_every=None)")
        return fit_ensemble(
            model, task, optimizer, steps, batch_size, list(seed), clip_norm, clip_value,
            device, on_nonfinite, progress,
        )  # fmt: skip
    check_fit_arguments(steps, clip_norm, clip_value, on_nonfinite, checkpoint_every)
    device = training_device(device)
    seed_everything(seed)
    model.to(device)
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    history = History(
        clip_norm=clip_norm,
        clip_value=clip_value,
        baseline_loss=getattr(task, "baseline_loss", None),
    )
    batches = task.batches(batch_size, seed)
    bar = progress_bar(steps, progress)
    for step in bar:
        # --- a copy of the state before this step's update, when a checkpoint is due
        due = checkpoint_every is not None and step % checkpoint_every == 0
        snapshot = _snapshot(model, optimizer) if due else None
        # --- forward and backward
        inputs, targets = to_device(next(batches), device)
        optimizer.zero_grad(set_to_none=True)
        prediction = model(inputs)
        loss = task.loss(prediction, targets)
        loss.backward()
        # --- clipping, with the gradient norm before and after it
        grad_norm, grad_norm_clipped, clipped = _clip(parameters, clip_norm, clip_value)
        # --- record
        loss_value = loss.item()
        metric = task.metric(prediction.detach(), targets)
        history.record(loss_value, grad_norm, grad_norm_clipped, clipped, metric)
        # --- a non-finite step: raise, or skip its update, or take it
        finite = math.isfinite(loss_value) and math.isfinite(grad_norm)
        if not finite and on_nonfinite == "raise":
            bar.close()
            raise NonFiniteLossError.at_step(step, history)
        if finite and snapshot is not None:
            history.checkpoints.append(Checkpoint(step, loss_value, *snapshot))
        if finite or on_nonfinite == "continue":
            optimizer.step()
        if step % 25 == 0:
            bar.set_postfix(loss=f"{loss_value:.4g}", grad_norm=f"{grad_norm:.3g}")
    bar.close()
    return history


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Deep copies of the model's and the optimizer's state."""
    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())


def _clip(
    parameters: list[nn.Parameter], clip_norm: float | None, clip_value: float | None
) -> tuple[float, float, bool]:
    """Clip the gradients in place (by norm, then by value); return the global gradient norm
    before and after clipping, and whether clipping changed the gradient."""
    clipped = False
    if clip_norm is not None:
        # clip_grad_norm returns the norm before clipping
        grad_norm = clip_grad_norm(parameters, clip_norm).item()
        clipped = grad_norm > clip_norm
    else:
        grad_norm = global_grad_norm(parameters).item()
    if clip_value is not None:
        beyond = any(
            bool((p.grad.abs() > clip_value).any()) for p in parameters if p.grad is not None
        )
        clip_grad_value(parameters, clip_value)
        clipped = clipped or beyond
    if clip_norm is None and clip_value is None:
        return grad_norm, grad_norm, clipped
    return grad_norm, global_grad_norm(parameters).item(), clipped


def restore(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    checkpoint: Checkpoint,
    lr: float | None = None,
) -> None:
    """Load ``checkpoint`` (from ``History.checkpoints``) into ``model`` and ``optimizer``.

    The parameters and the optimizer's state (momentum, Adam's moments, its learning rate) become
    what they were at the start of step ``checkpoint.step``; ``lr``, if given, then replaces the
    learning rate of every parameter group, the usual second half of "restart from an earlier
    checkpoint with a smaller learning rate". The checkpoint itself is not changed, so it can be
    restored again. Continue with another :func:`fit` call (with a new ``seed`` for new batches).

    >>> from rnnlib.tasks import AddingProblem
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 1))
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> history = fit(model, AddingProblem(10), optimizer, steps=3, checkpoint_every=2,
    ...               device="cpu", progress=False)
    >>> [checkpoint.step for checkpoint in history.checkpoints]
    [0, 2]
    >>> restore(model, optimizer, history.checkpoints[0], lr=0.01)
    >>> optimizer.param_groups[0]["lr"]
    0.01
    """
    if not isinstance(checkpoint, Checkpoint):
        raise ValueError(
            f"checkpoint must be an rnnlib.train.Checkpoint (from History.checkpoints), "
            f"got {type(checkpoint).__name__}"
        )
    if lr is not None and not (lr > 0):
        raise ValueError(f"lr must be positive (or None to keep the checkpoint's), got {lr!r}")
    model.load_state_dict(copy.deepcopy(checkpoint.model_state))
    optimizer.load_state_dict(copy.deepcopy(checkpoint.optimizer_state))
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: Task,
    batch_size: int = 1000,
    seed: int = 12345,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Loss and metric of ``model`` on one fresh batch of ``task`` (``seed`` picks the batch;
    the default differs from ``fit``'s default so the batch is not a training batch).

    >>> from rnnlib.cells import GRUCell
    >>> from rnnlib.models import SequenceModel
    >>> from rnnlib.tasks import AddingProblem
    >>> task = AddingProblem(10)
    >>> model = SequenceModel(GRUCell(task.input_size, 4), task.output_size)
    >>> sorted(evaluate(model, task, batch_size=50, device="cpu"))
    ['loss', 'metric']
    """
    device = training_device(device)
    was_training = model.training
    model.to(device)
    model.eval()
    inputs, targets = to_device(
        task.sample(batch_size, torch.Generator().manual_seed(seed)), device
    )
    prediction = model(inputs)
    result = {
        "loss": task.loss(prediction, targets).item(),
        "metric": task.metric(prediction, targets),
    }
    model.train(was_training)
    return result
