"""Many seeds of one experiment trained at once, as one batched model.

Two ways, both equal to training each member alone (its own batches, its own loss and
gradient norm, its own clipping, an elementwise optimizer):

* :func:`fit_ensemble` (what ``rnnlib.train.fit(model, ..., seed=[s_0, ..., s_{k-1}])`` runs):
  ``model`` is an ensemble whose every parameter has the member axis first, such as
  ``rnnlib.LSTM(..., ensemble=k)``, run with batched matrix products; the fused kernels apply.
* :func:`fit_seeds`: ``S`` separate models of one architecture, stacked with
  ``torch.func.stack_module_state`` and run under ``vmap`` (per-step path: the fused kernels'
  hand-written backward has no ``vmap`` rule).

Shapes: k (or S) members, B batch per member.

Not here: one model's loop (:mod:`rnnlib.train`), what a run records (:mod:`rnnlib.history`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from ._loop import check_fit_arguments, progress_bar, to_device, training_device
from .device import seed_everything
from .history import History, NonFiniteLossError

__all__ = ["fit_ensemble", "fit_seeds"]


def fit_ensemble(
    model: nn.Module,
    task,
    optimizer: torch.optim.Optimizer,
    steps: int,
    batch_size: int,
    seeds: Sequence[int],
    clip_norm: float | None = None,
    clip_value: float | None = None,
    device: torch.device | str | None = None,
    on_nonfinite: str = "raise",
    progress: bool = True,
) -> list[History]:
    """Train an ensemble of ``k = len(seeds)`` members: member ``j`` trains on
    ``task.batches(batch_size, seeds[j])`` with its own loss and gradient norm, as
    :func:`rnnlib.train.fit` would train it alone with ``seed=seeds[j]`` (see there for the
    arguments). Returns one :class:`~rnnlib.history.History` per member.

    >>> from rnnlib.layers import GRU
    >>> from rnnlib.tasks import MagnitudeSum
    >>> class Outputs(nn.Module):  # predict with the GRU's outputs, (k, B, T, 1)
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.gru = GRU(1, 1, ensemble=3)
    ...     def forward(self, x):
    ...         return self.gru(x)[0]
    >>> model = Outputs()
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> histories = fit_ensemble(
    ...     model, MagnitudeSum(5), optimizer, steps=2, batch_size=8, seeds=[0, 1, 2],
    ...     progress=False,
    ... )
    >>> len(histories), len(histories[0].loss)
    (3, 2)
    """
    if not seeds:
        raise ValueError("seed is an empty sequence: give one seed per member")
    if on_nonfinite not in ("raise", "continue"):
        raise ValueError("an ensemble trains with on_nonfinite='raise' or 'continue'")
    check_fit_arguments(steps, clip_norm, clip_value, on_nonfinite)
    device = training_device(device)
    seed_everything(seeds[0])
    model.to(device).train()
    k = len(seeds)
    parameters = _member_parameters(model, k)
    baseline = getattr(task, "baseline_loss", None)
    histories = [
        History(clip_norm=clip_norm, clip_value=clip_value, baseline_loss=baseline) for _ in seeds
    ]
    streams = [task.batches(batch_size, s) for s in seeds]
    bar = progress_bar(steps, progress)
    for step in bar:
        # --- forward and backward: the sum of the members' losses, so each gets its own
        batches = [next(stream) for stream in streams]
        stacked = (torch.stack([b[i] for b in batches]) for i in (0, 1))  # (k, B, ...) each
        inputs, targets = (to_device(tensor, device) for tensor in stacked)
        optimizer.zero_grad(set_to_none=True)
        prediction = model(inputs)  # (k, B, ...)
        losses = torch.stack([task.loss(prediction[j], targets[j]) for j in range(k)])  # (k,)
        losses.sum().backward()
        # --- clipping, member by member
        grads = [p.grad for p in parameters if p.grad is not None]
        norms, norms_clipped, beyond = _clip_members(grads, clip_norm, clip_value)
        # --- record, and stop at a non-finite member
        rows = zip(*(v.tolist() for v in (losses, norms, norms_clipped, beyond)), strict=True)
        for j, (history, row) in enumerate(zip(histories, rows, strict=True)):
            history.record(*row, task.metric(prediction[j].detach(), targets[j]))
            if on_nonfinite == "raise" and not all(math.isfinite(v) for v in row[:2]):
                bar.close()
                raise NonFiniteLossError.at_step(step, history)
        optimizer.step()
    bar.close()
    return histories


def _member_parameters(model: nn.Module, k: int) -> list[nn.Parameter]:
    """The trainable parameters, each checked to have the member axis (size k) first."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if any(p.dim() == 0 or p.shape[0] != k for p in parameters):
        raise ValueError(
            f"{k} seeds train an ensemble of {k} members: every trainable parameter needs "
            f"the member axis first, of size {k} (e.g. rnnlib.LSTM(..., ensemble={k}))"
        )
    return parameters


def _clip_members(grads: list[torch.Tensor], clip_norm, clip_value):
    """Clip each member's gradient as :func:`rnnlib.train.fit` clips one model's; return the
    members' norms before and after, and whether clipping changed each one, all ``(k,)``."""
    norms = _member_norms(grads)
    norms_clipped, beyond = norms, torch.zeros(len(norms), dtype=torch.bool, device=norms.device)
    with torch.no_grad():
        if clip_norm is not None:
            scale = torch.clamp(float(clip_norm) / (norms + 1e-6), max=1.0)  # (k,)
            for g in grads:
                g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))  # (k, 1, ..., 1)
            beyond = norms > clip_norm
        if clip_value is not None:
            for g in grads:
                beyond = beyond | (g.abs() > clip_value).flatten(1).any(1)  # (k,)
                g.clamp_(min=-clip_value, max=clip_value)
        if clip_norm is not None or clip_value is not None:
            norms_clipped = _member_norms(grads)
    return norms, norms_clipped, beyond


def _member_norms(grads: list[torch.Tensor]) -> torch.Tensor:
    """``||g_j||`` of each member (the first axis): the norm of its per-tensor norms, as
    :func:`rnnlib.clipping.clip_grad_norm` computes one model's."""
    per_tensor = [torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads]
    return torch.linalg.vector_norm(torch.stack(per_tensor), dim=0)  # (k,)


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
    with Adam, as one batched model; return one :class:`~rnnlib.history.History` per model.

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

    >>> from rnnlib.cells import GRUCell
    >>> from rnnlib.models import SequenceModel
    >>> from rnnlib.tasks import AddingProblem
    >>> models = [SequenceModel(GRUCell(2, 4), 1) for _ in range(3)]
    >>> histories = fit_seeds(models, AddingProblem(10), steps=2, batch_size=8, device="cpu")
    >>> len(histories), len(histories[0].loss)
    (3, 2)
    """
    models = list(models)
    if not models:
        raise ValueError("models is empty: give at least one model to train")
    check_fit_arguments(steps, clip_norm)
    device = training_device(device)
    models = [model.to(device).train() for model in models]
    params, buffers = torch.func.stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    for module in base.modules():
        if hasattr(module, "fused"):
            # the fused backward passes are autograd.Functions without vmap support: this
            # private copy runs step by step (the same equations and gradients)
            module.fused = False

    def forward(p, b, inputs):
        return torch.func.functional_call(base, (p, b), (inputs,))

    batched_forward, batched_loss = torch.vmap(forward), torch.vmap(task.loss)
    metric = getattr(task, "metric", None)
    # foreach: one update over all stacked parameters per step (on the CPU torch otherwise
    # loops in Python, tensor by tensor); the same arithmetic, the same parameters to the bit
    optimizer = torch.optim.Adam(list(params.values()), lr=lr, foreach=True)
    generator = torch.Generator().manual_seed(seed)
    S = len(models)
    baseline = getattr(task, "baseline_loss", None)
    histories = [History(clip_norm=clip_norm, baseline_loss=baseline) for _ in models]
    for _ in range(steps):
        inputs, targets = task.sample(S * batch_size, generator)
        inputs = inputs.reshape(S, batch_size, *inputs.shape[1:]).to(device)  # (S, B, ...)
        targets = targets.reshape(S, batch_size, *targets.shape[1:]).to(device)  # (S, B, ...)
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
                p.grad.mul_(scale.view(-1, *[1] * (p.dim() - 1)))  # (S, 1, ..., 1)
        optimizer.step()
        rows = zip(loss.tolist(), norms.tolist(), (norms * scale).tolist(), strict=True)
        for i, (history, (value, norm, norm_clipped)) in enumerate(
            zip(histories, rows, strict=True)
        ):
            clipped = clip_norm is not None and norm > clip_norm
            score = None if metric is None else metric(prediction[i].detach(), targets[i])
            history.record(value, norm, norm_clipped, clipped, score)
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, parameter in model.named_parameters():
                parameter.copy_(params[name][i])
    return histories
