"""The training loop every chapter uses: ``fit``, its ``History``, ``evaluate``, ``fit_seeds``.

One step of :func:`fit` is the textbook loop, with the measurements this book is about::

    inputs, targets = next(batches)            # task.batches(batch_size, seed)
    loss = task.loss(model(inputs), targets)
    loss.backward()
    grad_norm = ||g||                           # recorded before clipping
    clip (by norm and/or by value)              # rnnlib.clipping, from scratch
    grad_norm_clipped = ||g||                   # recorded after clipping
    optimizer.step()

A non-finite loss or gradient stops training with :class:`NonFiniteLossError` (a
``FloatingPointError``) that names the step and the last finite gradient norm and suggests a
clipping threshold, unless ``on_nonfinite="continue"`` (keep going, as a plain loop would:
the chapter on exploding gradients shows what happens) or ``"skip"`` (drop that update).

The other remedy for a run that blew up is to go back to an earlier, healthy state and continue
more carefully: ``fit(..., checkpoint_every=k)`` keeps a :class:`rnnlib.train.Checkpoint`
(the model's and the optimizer's state) every ``k`` steps whose loss and gradient were finite,
in ``History.checkpoints`` (also on ``NonFiniteLossError.history``), and
:func:`rnnlib.train.restore` loads one back, optionally with a new learning rate.

:func:`fit_seeds` trains several models of one architecture (one per seed) at once, as one
batched model, for chapters that state a claim over many seeds within their time budget.

Not here: checkpoints on disk, early stopping, learning-rate schedules.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from torch import nn

from .clipping import clip_grad_norm, clip_grad_value, global_grad_norm
from .device import get_device, seed_everything
from .plots import PALETTE, label

__all__ = [
    "Checkpoint",
    "History",
    "NonFiniteLossError",
    "fit",
    "fit_seeds",
    "evaluate",
    "restore",
]

ON_NONFINITE = ("raise", "continue", "skip")


class NonFiniteLossError(FloatingPointError):
    """Training produced a ``nan`` or ``inf`` loss or gradient norm.

    Attributes: ``step`` (0-based), ``loss``, ``grad_norm`` (the non-finite step's values),
    ``last_finite_grad_norm`` (``None`` if there was none) and ``history`` (everything recorded
    up to and including the failing step).
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


@dataclass
class Checkpoint:
    """A copy of the training state taken by :func:`fit` at the start of step ``step``.

    ``model_state`` and ``optimizer_state`` are deep copies of ``model.state_dict()`` and
    ``optimizer.state_dict()`` before that step's update; ``loss`` is the (finite) training loss
    those parameters scored on that step's batch. Load it back with :func:`rnnlib.train.restore`.
    """

    step: int
    loss: float
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any]


@dataclass
class History:
    """What :func:`fit` records at every step (lists indexed by step).

    ``loss``: the training loss; ``grad_norm``: the global gradient norm before clipping;
    ``grad_norm_clipped``: after clipping (equal to ``grad_norm`` without clipping);
    ``clipped``: whether clipping changed the gradient (``grad_norm > clip_norm``, or an entry
    beyond ``clip_value``); ``metric``: the task's metric on the training batch;
    ``checkpoints``: the :class:`rnnlib.train.Checkpoint` objects of
    ``fit(..., checkpoint_every=k)``, oldest first (only steps whose loss and gradient norm were
    finite; empty without ``checkpoint_every``).
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

    def first_nonfinite_step(self) -> int | None:
        """The first step whose loss or gradient norm is ``nan``/``inf`` (``None`` if none)."""
        for step, (loss, norm) in enumerate(zip(self.loss, self.grad_norm, strict=True)):
            if not (math.isfinite(loss) and math.isfinite(norm)):
                return step
        return None

    def plot(
        self,
        ax: Axes | Sequence[Axes] | None = None,
        label_text: str | None = None,
        color: str | None = None,
    ):
        """Plot the loss (log scale) and the gradient norms with the clipping threshold.

        ``ax=None`` makes a new figure with two panels and returns it; a pair of axes draws the
        two panels there; a single ``Axes`` draws only the loss (to overlay several runs,
        with ``label_text`` in the legend). Non-finite values are marked with a cross at the top
        of the panel where training broke.
        """
        figure = None
        if ax is None:
            figure, ax = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
        if isinstance(ax, Axes):
            loss_ax, norm_ax = ax, None
        else:
            loss_ax, norm_ax = ax
        steps = range(len(self.loss))
        color = color or PALETTE[0]
        loss_ax.plot(steps, self.loss, color=color, lw=1, label=label_text or "training loss")
        if self.baseline_loss is not None and norm_ax is not None:
            loss_ax.axhline(
                self.baseline_loss, color=PALETTE[7], ls=":", lw=1, label="chance baseline"
            )
        loss_ax.set_yscale("log")
        broken = self.first_nonfinite_step()
        if broken is not None:
            loss_ax.axvline(
                broken, color=PALETTE[1], ls="--", lw=1, label=f"non-finite from step {broken}"
            )
        label(loss_ax, "training step", "loss (log scale)")
        loss_ax.legend()
        if norm_ax is not None:
            norm_ax.plot(
                steps, self.grad_norm, color=PALETTE[1], lw=1, label=r"$\|g\|$ before clipping"
            )
            if self.clip_norm is not None or self.clip_value is not None:
                norm_ax.plot(
                    steps,
                    self.grad_norm_clipped,
                    color=PALETTE[2],
                    lw=1,
                    label=r"$\|g\|$ after clipping",
                )
            if self.clip_norm is not None:
                norm_ax.axhline(
                    self.clip_norm,
                    color=PALETTE[7],
                    ls="--",
                    lw=1,
                    label=f"clip_norm = {self.clip_norm:g}",
                )
            norm_ax.set_yscale("log")
            label(norm_ax, "training step", "gradient norm (log scale)")
            norm_ax.legend()
        return figure if figure is not None else ax


def _to_device(value, device: torch.device):
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, tuple | list):
        return type(value)(_to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _progress_bar(steps: int, progress: bool):
    """A ``tqdm.auto`` bar over the steps, silent when ``progress`` is False, under CI (``CI``
    set) or when ``TQDM_DISABLE`` is set (the book build sets it: a web page has no kernel to
    animate a bar)."""
    from tqdm.auto import tqdm

    silenced = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")
    quiet = (not progress) or bool(os.environ.get("CI")) or silenced
    return tqdm(range(steps), disable=quiet, leave=False, desc="fit", mininterval=0.5)


def fit(
    model: nn.Module,
    task,
    optimizer: torch.optim.Optimizer,
    steps: int,
    batch_size: int = 64,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    device: torch.device | str | None = None,
    seed: int | Sequence[int] = 0,
    on_nonfinite: str = "raise",
    progress: bool = True,
    checkpoint_every: int | None = None,
) -> History | list[History]:
    """Train ``model`` on ``task`` for ``steps`` optimizer steps; return the :class:`History`.

    * Batches come from ``task.batches(batch_size, seed)``, and ``seed`` also seeds Python,
      NumPy and torch (dropout etc.), so a run is reproducible. Build the model (its initial
      weights) before calling, under your own seed.
    * ``device`` defaults to :func:`rnnlib.get_device`; the model and every batch are moved
      there (moving the model keeps the optimizer's references to its parameters).
    * ``clip_norm``: rescale the gradient when its global 2-norm exceeds it
      (:func:`rnnlib.clipping.clip_grad_norm`); ``clip_value``: clamp each entry
      (:func:`rnnlib.clipping.clip_grad_value`). Both may be given (norm first).
    * ``on_nonfinite``: ``"raise"`` (default) raises :class:`NonFiniteLossError`;
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
      :class:`History` per member. The global random state is seeded with ``s_0``; neither
      ``on_nonfinite="skip"`` nor checkpoints are offered for ensembles.
    """
    if isinstance(seed, Sequence):
        return _fit_ensemble(
            model, task, optimizer, steps, batch_size, clip_norm, clip_value, device,
            list(seed), on_nonfinite, progress, checkpoint_every,
        )  # fmt: skip
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
    for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if value is not None and not (value > 0):
            raise ValueError(f"{name} must be positive (or None for no clipping), got {value!r}")
    if checkpoint_every is not None and (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, int)
        or checkpoint_every < 1
    ):
        raise ValueError(
            f"checkpoint_every must be a positive integer (or None), got {checkpoint_every!r}"
        )
    device = get_device() if device is None else torch.device(device)
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
    last_finite_norm: float | None = None
    bar = _progress_bar(steps, progress)
    for step in bar:
        snapshot = None
        if checkpoint_every is not None and step % checkpoint_every == 0:
            snapshot = (
                copy.deepcopy(model.state_dict()),
                copy.deepcopy(optimizer.state_dict()),
            )
        inputs, targets = _to_device(next(batches), device)
        optimizer.zero_grad(set_to_none=True)
        prediction = model(inputs)
        loss = task.loss(prediction, targets)
        loss.backward()

        clipped = False
        if clip_norm is not None:  # returns the norm before clipping
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
        grad_norm_clipped = (
            global_grad_norm(parameters).item()
            if clip_norm is not None or clip_value is not None
            else grad_norm
        )

        loss_value = loss.item()
        history.loss.append(loss_value)
        history.grad_norm.append(grad_norm)
        history.grad_norm_clipped.append(grad_norm_clipped)
        history.clipped.append(clipped)
        history.metric.append(task.metric(prediction.detach(), targets))

        finite = math.isfinite(loss_value) and math.isfinite(grad_norm)
        if not finite and on_nonfinite == "raise":
            bar.close()
            finite_norms = sorted(n for n in history.grad_norm if math.isfinite(n))
            median = finite_norms[len(finite_norms) // 2] if finite_norms else None
            raise NonFiniteLossError(step, loss_value, grad_norm, last_finite_norm, median, history)
        if finite:
            last_finite_norm = grad_norm
            if snapshot is not None:
                history.checkpoints.append(Checkpoint(step, loss_value, *snapshot))
        if finite or on_nonfinite == "continue":
            optimizer.step()
        if step % 25 == 0:
            bar.set_postfix(loss=f"{loss_value:.4g}", grad_norm=f"{grad_norm:.3g}")
    bar.close()
    return history


def _fit_ensemble(
    model, task, optimizer, steps, batch_size, clip_norm, clip_value, device, seeds,
    on_nonfinite, progress, checkpoint_every,
) -> list[History]:  # fmt: skip
    """:func:`fit` for an ensemble: member ``j`` trains on ``task.batches(batch_size,
    seeds[j])`` with its own loss and gradient norm (see :func:`fit`)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not seeds:
        raise ValueError("seed is an empty sequence: give one seed per member")
    if on_nonfinite not in ("raise", "continue") or checkpoint_every is not None:
        raise ValueError(
            "an ensemble trains with on_nonfinite='raise' or 'continue' and no checkpoints"
        )
    for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if value is not None and not (value > 0):
            raise ValueError(f"{name} must be positive (or None for no clipping), got {value!r}")
    device = get_device() if device is None else torch.device(device)
    seed_everything(seeds[0])
    model.to(device).train()
    k = len(seeds)
    parameters = [p for p in model.parameters() if p.requires_grad]
    if any(p.dim() == 0 or p.shape[0] != k for p in parameters):
        raise ValueError(
            f"{k} seeds train an ensemble of {k} members: every trainable parameter needs "
            f"the member axis first, of size {k} (e.g. rnnlib.LSTM(..., ensemble={k}))"
        )
    baseline = getattr(task, "baseline_loss", None)
    histories = [
        History(clip_norm=clip_norm, clip_value=clip_value, baseline_loss=baseline) for _ in seeds
    ]
    streams = [task.batches(batch_size, s) for s in seeds]
    bar = _progress_bar(steps, progress)
    for step in bar:
        batches = [next(stream) for stream in streams]
        inputs, targets = (
            _to_device(torch.stack([b[i] for b in batches]), device) for i in range(2)
        )
        optimizer.zero_grad(set_to_none=True)
        prediction = model(inputs)
        losses = torch.stack([task.loss(prediction[j], targets[j]) for j in range(k)])
        losses.sum().backward()
        grads = [p.grad for p in parameters if p.grad is not None]
        norms = _member_norms(grads)
        norms_clipped, beyond = norms, torch.zeros(k, dtype=torch.bool, device=norms.device)
        with torch.no_grad():
            if clip_norm is not None:
                scale = torch.clamp(float(clip_norm) / (norms + 1e-6), max=1.0)
                for g in grads:
                    g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))
                beyond = norms > clip_norm
            if clip_value is not None:
                for g in grads:
                    beyond = beyond | (g.abs() > clip_value).flatten(1).any(1)
                    g.clamp_(min=-clip_value, max=clip_value)
            if clip_norm is not None or clip_value is not None:
                norms_clipped = _member_norms(grads)
        values = (losses, norms, norms_clipped, beyond)
        rows = zip(*(v.tolist() for v in values), strict=True)
        for j, (history, (loss, norm, norm_clipped, clipped)) in enumerate(
            zip(histories, rows, strict=True)
        ):
            history.loss.append(loss)
            history.grad_norm.append(norm)
            history.grad_norm_clipped.append(norm_clipped)
            history.clipped.append(clipped)
            history.metric.append(task.metric(prediction[j].detach(), targets[j]))
            if on_nonfinite == "raise" and not (math.isfinite(loss) and math.isfinite(norm)):
                bar.close()
                finite = [n for n in history.grad_norm if math.isfinite(n)]
                median = sorted(finite)[len(finite) // 2] if finite else None
                last = finite[-1] if finite else None
                raise NonFiniteLossError(step, loss, norm, last, median, history)
        optimizer.step()
    bar.close()
    return histories


def _member_norms(grads: list[torch.Tensor]) -> torch.Tensor:
    """``||g_j||`` of each member (the first axis): the norm of its per-tensor norms, as
    :func:`rnnlib.clipping.clip_grad_norm` computes one model's."""
    per_tensor = [torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads]
    return torch.linalg.vector_norm(torch.stack(per_tensor), dim=0)


def fit_seeds(
    models: Sequence[nn.Module],
    task,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    clip_norm: float | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> list[History]:
    """Train ``models`` (one architecture, one model per seed, built by the caller) together
    with Adam, as one batched model; return one :class:`History` per model.

    The models' parameters are stacked (``torch.func.stack_module_state``) and the forward pass
    is vmapped over them, so ``S`` small models cost about as much as two or three. Each model
    still trains as it would alone: it gets its own batches (``task.sample(S * batch_size)``
    per step from one generator seeded with ``seed``, split in ``S`` blocks: the batches of
    ``task.batches(S * batch_size, seed)``), Adam's update is elementwise, and ``clip_norm``
    clips each model's gradient by its own norm, as :func:`rnnlib.clipping.clip_grad_norm`
    does for one model. At the end each model's parameters are its trained ones (buffers are
    not trained). ``task`` needs ``sample(batch_size, generator)`` and
    ``loss(prediction, targets)``; a ``metric(prediction, targets)`` is recorded when it has
    one. Each history has ``loss``, ``grad_norm`` (before clipping), ``grad_norm_clipped``,
    ``clipped`` and ``metric`` per step; no checkpoints, no dropout.
    """
    from .layers import RecurrentLayer

    models = list(models)
    if not models:
        raise ValueError("models is empty: give at least one model to train")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if clip_norm is not None and not (clip_norm > 0):
        raise ValueError(f"clip_norm must be positive (or None), got {clip_norm!r}")
    device = get_device() if device is None else torch.device(device)
    models = [model.to(device).train() for model in models]
    params, buffers = torch.func.stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    for module in base.modules():
        if isinstance(module, RecurrentLayer):
            # the fused backward passes are autograd.Functions without vmap support: this
            # private copy runs step by step (the same equations and gradients)
            module.fused = False

    def forward(p, b, inputs):
        return torch.func.functional_call(base, (p, b), (inputs,))

    batched_forward, batched_loss = torch.vmap(forward), torch.vmap(task.loss)
    metric = getattr(task, "metric", None)
    optimizer = torch.optim.Adam(list(params.values()), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    S = len(models)
    baseline = getattr(task, "baseline_loss", None)
    histories = [History(clip_norm=clip_norm, baseline_loss=baseline) for _ in models]
    for _ in range(steps):
        inputs, targets = task.sample(S * batch_size, generator)
        inputs = inputs.reshape(S, batch_size, *inputs.shape[1:]).to(device)
        targets = targets.reshape(S, batch_size, *targets.shape[1:]).to(device)
        optimizer.zero_grad(set_to_none=True)
        prediction = batched_forward(params, buffers, inputs)
        loss = batched_loss(prediction, targets)
        loss.sum().backward()
        # ||g|| of each model: the norm over all its parameters' gradients
        norms = torch.sqrt(sum(p.grad.pow(2).flatten(1).sum(1) for p in params.values()))
        scale = torch.ones_like(norms)
        if clip_norm is not None:
            scale = (clip_norm / (norms + 1e-6)).clamp(max=1.0)
            for p in params.values():
                p.grad.mul_(scale.view(-1, *[1] * (p.dim() - 1)))
        optimizer.step()
        rows = zip(loss.tolist(), norms.tolist(), (norms * scale).tolist(), strict=True)
        for i, (history, (value, norm, norm_clipped)) in enumerate(
            zip(histories, rows, strict=True)
        ):
            history.loss.append(value)
            history.grad_norm.append(norm)
            history.grad_norm_clipped.append(norm_clipped)
            history.clipped.append(clip_norm is not None and norm > clip_norm)
            if metric is not None:
                history.metric.append(metric(prediction[i].detach(), targets[i]))
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, parameter in model.named_parameters():
                parameter.copy_(params[name][i])
    return histories


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
    task,
    batch_size: int = 1000,
    seed: int = 12345,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Loss and metric of ``model`` on one fresh batch of ``task`` (``seed`` picks the batch;
    the default differs from ``fit``'s default so the batch is not a training batch)."""
    device = get_device() if device is None else torch.device(device)
    was_training = model.training
    model.to(device)
    model.eval()
    inputs, targets = _to_device(
        task.sample(batch_size, torch.Generator().manual_seed(seed)), device
    )
    prediction = model(inputs)
    result = {
        "loss": task.loss(prediction, targets).item(),
        "metric": task.metric(prediction, targets),
    }
    model.train(was_training)
    return result
