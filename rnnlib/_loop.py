"""Plumbing shared by the training loops of :mod:`rnnlib.train` and :mod:`rnnlib.ensembles`:
argument checks, the progress bar and moving batches to the device.

Not here: the loops themselves, and what they record (:mod:`rnnlib.history`).
"""

from __future__ import annotations

import os

import torch

from .checks import check_choice, check_int
from .device import get_device

#: What :func:`rnnlib.train.fit` may do at a non-finite loss or gradient norm.
ON_NONFINITE = ("raise", "continue", "skip")


def check_fit_arguments(
    steps, clip_norm=None, clip_value=None, on_nonfinite="raise", checkpoint_every=None
) -> None:
    """Raise ``ValueError`` for a bad argument of a training loop, naming it."""
    check_int(steps, "steps", minimum=0)
    check_choice(on_nonfinite, "on_nonfinite", ON_NONFINITE)
    for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if value is not None and not (value > 0):
            raise ValueError(f"{name} must be positive (or None for no clipping), got {value!r}")
    check_int(checkpoint_every, "checkpoint_every", none_ok=True)


def training_device(device: torch.device | str | None) -> torch.device:
    """``device``, or :func:`rnnlib.get_device`'s choice when it is None."""
    return get_device() if device is None else torch.device(device)


def to_device(value, device: torch.device):
    """A batch (a tensor, or tuples, lists and dicts of them) moved to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, tuple | list):
        return type(value)(to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return value


def progress_bar(steps: int, progress: bool, desc: str = "fit"):
    """A ``tqdm.auto`` bar over the steps, silent when ``progress`` is False, under CI (``CI``
    set) or when ``TQDM_DISABLE`` is set (the book build sets it: a web page has no kernel to
    animate a bar)."""
    from tqdm.auto import tqdm

    silenced = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")
    quiet = (not progress) or bool(os.environ.get("CI")) or silenced
    return tqdm(range(steps), disable=quiet, leave=False, desc=desc, mininterval=0.5)
